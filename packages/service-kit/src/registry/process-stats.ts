import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { InstanceStats } from './types';

/** The process figures every heartbeat carries, measured since the previous heartbeat. */
export class ProcessStats {
  private readonly loop = monitorEventLoopDelay({ resolution: 20 });
  private lastCpu = process.cpuUsage();
  private lastAt = process.hrtime.bigint();
  inFlight = 0;

  constructor() {
    this.loop.enable();
  }

  sample(): InstanceStats {
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.lastCpu);
    const elapsedUs = Number(now - this.lastAt) / 1000;
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    const mem = process.memoryUsage();
    const lagMs = this.loop.count > 0 ? this.loop.percentile(99) / 1e6 : 0;
    this.loop.reset();
    return {
      cpuPercent: elapsedUs > 0 ? round(((cpu.user + cpu.system) / elapsedUs) * 100) : 0,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      eventLoopLagMs: round(lagMs),
      inFlight: this.inFlight,
      uptimeSeconds: Math.round(process.uptime()),
    };
  }

  stop(): void {
    this.loop.disable();
  }
}

const round = (n: number) => Math.round(n * 10) / 10;
