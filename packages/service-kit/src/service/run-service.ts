import type { ConfigShape } from '../config/config';
import { ConfigError } from '../config/config';
import { MigrationError } from '../data/migrations';
import type { ServiceDefinition } from './definition';
import { startService, type RunningService } from './start-service';

/**
 * The production entry point: start, then handle the process's life. SIGTERM/SIGINT → graceful
 * stop → exit 0 (with a hard timeout behind it). An error outside any request is fatal: log, stop,
 * exit 1, and let the supervisor (Docker, Kubernetes, the local runner) restart us.
 */
export async function runService<S extends ConfigShape | undefined>(
  def: ServiceDefinition<S>,
): Promise<void> {
  let running: RunningService<S>;
  try {
    running = await startService(def);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof MigrationError) {
      console.error(`${def.name}: ${err.message}`);
    } else {
      console.error(`${def.name}: failed to start: ${(err as Error).stack ?? err}`);
    }
    process.exit(1);
  }
  const { ctx } = running;
  const hardTimeoutMs = ctx.config.SHUTDOWN_TIMEOUT_MS + 5000;

  const shutdown = (reason: string, code: number) => {
    // Stopping before ready is unusual (a supervisor gave up on us, the runner went away): say so at warn,
    // so it is in the output even where the log level hides info lines (tests run at warn).
    if (ctx.ready) ctx.logger.info({ reason }, 'shutting down');
    else ctx.logger.warn({ reason }, 'shutting down before ready');
    setTimeout(() => {
      console.error(`${def.name}: shutdown took longer than ${hardTimeoutMs} ms; exiting`);
      process.exit(code || 1);
    }, hardTimeoutMs).unref();
    running.stop().then(
      () => process.exit(code),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM', 0));
  process.once('SIGINT', () => shutdown('SIGINT', 0));
  // Started by the local runner (an IPC channel): if the runner dies, do not linger as an orphan.
  if (process.send) process.once('disconnect', () => shutdown('runner gone', 0));
  process.on('uncaughtException', (err) => {
    ctx.logger.fatal({ err }, 'uncaught exception');
    shutdown('uncaughtException', 1);
  });
  process.on('unhandledRejection', (err) => {
    ctx.logger.fatal({ err }, 'unhandled rejection');
    shutdown('unhandledRejection', 1);
  });
}
