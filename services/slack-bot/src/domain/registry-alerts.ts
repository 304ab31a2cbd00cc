import type { EventEmitter } from 'node:events';
import type { InstanceRecord, RegistryView } from '@msa/service-kit';
import type { AlertGrouper } from './grouper';

interface Down {
  instanceId: string;
  service: string;
  reason: string;
}

const REASONS: Record<string, string> = {
  'lease-expired': 'it stopped sending heartbeats',
  'not-reconfirmed': 'it was not seen again after the distributor came back',
};

/**
 * Alerts from the registry's push stream (the kit's watcher): an instance lost (its lease ran
 * out — a clean deregistration is not an alert), an instance back for a service that lost one,
 * and a service left with no instance for longer than `graceMs` (a rolling restart is not an
 * outage), then its return.
 */
export class RegistryAlerts {
  /** Every service seen since start, with its instance count then. */
  readonly known = new Map<string, number>();
  private readonly lost = new Map<string, number>();
  private readonly empty = new Map<string, NodeJS.Timeout>();
  private readonly alerted = new Set<string>();
  private baseline = false;

  constructor(
    private readonly registry: RegistryView & EventEmitter,
    private readonly grouper: AlertGrouper,
    private readonly graceMs: number,
  ) {}

  start(): void {
    this.registry.on('down', this.onDown);
    this.registry.on('up', this.onUp);
    this.registry.on('change', this.onChange);
    if (this.registry.services().size) this.onChange(this.registry.services());
  }

  stop(): void {
    this.registry.off('down', this.onDown);
    this.registry.off('up', this.onUp);
    this.registry.off('change', this.onChange);
    for (const t of this.empty.values()) clearTimeout(t);
    this.empty.clear();
  }

  private readonly onDown = ({ instanceId, service, reason }: Down): void => {
    if (reason === 'deregistered') return;
    this.lost.set(service, (this.lost.get(service) ?? 0) + 1);
    // The watcher tells before it updates its lists: the lost one may still be counted there.
    const left = this.registry.instances(service).filter((i) => i.instanceId !== instanceId).length;
    this.grouper.raise({
      key: `lost:${service}`,
      text: `:red_circle: *${service}*: instance \`${instanceId}\` lost — ${REASONS[reason] ?? reason}; ${left} instance${left === 1 ? '' : 's'} left`,
    });
  };

  private readonly onUp = (instance: InstanceRecord): void => {
    const lost = this.lost.get(instance.service) ?? 0;
    if (lost === 0) return;
    if (lost === 1) this.lost.delete(instance.service);
    else this.lost.set(instance.service, lost - 1);
    this.grouper.raise({
      key: `back:${instance.service}`,
      text: `:large_green_circle: *${instance.service}*: instance \`${instance.instanceId}\` is up (replacing a lost one)`,
    });
  };

  private readonly onChange = (services: Map<string, InstanceRecord[]>): void => {
    const first = !this.baseline;
    this.baseline = true;
    for (const [service, list] of services) {
      const timer = this.empty.get(service);
      if (timer) {
        clearTimeout(timer);
        this.empty.delete(service);
      }
      if (this.alerted.delete(service)) {
        this.grouper.raise({
          key: `none:${service}`,
          text: `:white_check_mark: *${service}* has ${list.length} instance${list.length === 1 ? '' : 's'} again`,
        });
      }
      this.known.set(service, list.length);
    }
    if (first) return;
    for (const [service, count] of this.known) {
      if (services.has(service)) continue;
      this.known.set(service, 0);
      if (count === 0 || this.empty.has(service) || this.alerted.has(service)) continue;
      const timer = setTimeout(() => {
        this.empty.delete(service);
        if (this.registry.instances(service).length > 0) return;
        this.alerted.add(service);
        this.grouper.raise({
          key: `none:${service}`,
          text: `:rotating_light: *${service}* has no healthy instance: its routes answer 503`,
        });
      }, this.graceMs);
      timer.unref();
      this.empty.set(service, timer);
    }
  };
}
