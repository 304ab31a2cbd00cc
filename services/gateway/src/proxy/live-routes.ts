import type { Logger } from 'pino';
import type { InstanceRecord, RegistryView, RouteSpec } from './registry-view';
import { buildRouteTable, type RouteEntry, type RouteTable } from './route-table';
import type { UpstreamPool } from './upstreams';

/**
 * The routing table, rebuilt from the registry on every change and swapped in one assignment: a request sees the
 * old table or the new one, never half of each. Nothing is dropped when the registry's watch disconnects; the
 * registry client keeps its last snapshot and so does this table.
 */
export class LiveRoutes {
  current: RouteTable;
  private readonly remembered = new Map<string, RouteSpec[]>();
  private readonly reported = new Set<string>();
  private readonly listener = (): void => this.rebuild();

  constructor(
    private readonly registry: RegistryView,
    private readonly pool: UpstreamPool,
    private readonly statsFor: (entry: RouteEntry) => unknown,
    private readonly logger: Logger,
  ) {
    this.current = this.build(registry.services());
    registry.on('change', this.listener);
  }

  rebuild(): void {
    try {
      this.current = this.build(this.registry.services());
    } catch (err) {
      // Keep serving the last good table: a bad registration must not take routing down.
      this.logger.error({ err }, 'routing table rebuild failed; keeping the previous table');
    }
  }

  close(): void {
    this.registry.off?.('change', this.listener);
  }

  private build(services: Map<string, InstanceRecord[]>): RouteTable {
    this.pool.sync(services);
    const { table, conflicts } = buildRouteTable(services, this.pool, this.remembered, this.statsFor);
    for (const c of conflicts) {
      const key = `${c.method} ${c.path} ${c.kept} ${c.ignored}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      this.logger.warn(c, 'route claimed twice; the longer-registered service keeps it');
    }
    return table;
  }
}
