import type { InstanceRecord } from '@msa/service-kit';

const mb = (bytes: number) => `${Math.round(bytes / 1048576)} MB`;

function uptime(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

function instanceLine(i: InstanceRecord, now: number): string {
  const st = i.stats;
  const beat = Math.max(0, Math.round((now - Date.parse(i.lastHeartbeatAt)) / 1000));
  const figures = st
    ? `cpu ${Math.round(st.cpuPercent)}% · rss ${mb(st.rssBytes)} · lag ${Math.round(st.eventLoopLagMs)} ms · ${st.inFlight} in flight · up ${uptime(st.uptimeSeconds)}`
    : 'no figures yet';
  return `    • \`${i.instanceId}\` ${figures} · heartbeat ${Number.isFinite(beat) ? `${beat} s ago` : 'n/a'}`;
}

/**
 * The live status as the slash command answers it: every service the registry has (and every one
 * seen earlier that has none now, in red), each instance with its figures from its last heartbeat.
 */
export function statusText(
  services: Map<string, InstanceRecord[]>,
  seen: Iterable<string>,
  statusUrl: string,
  now = Date.now(),
): string {
  const names = [...new Set([...services.keys(), ...seen])].sort();
  const instances = [...services.values()].reduce((n, list) => n + list.length, 0);
  const lines = [
    `*msa status*: ${names.length} service${names.length === 1 ? '' : 's'}, ${instances} instance${instances === 1 ? '' : 's'} · <${statusUrl}|status page>`,
  ];
  if (names.length === 0) lines.push('The registry is empty (or the bot cannot reach the distributor).');
  for (const name of names) {
    const list = services.get(name) ?? [];
    if (list.length === 0) {
      lines.push(`:red_circle: *${name}*: no instance`);
      continue;
    }
    lines.push(`:large_green_circle: *${name}*: ${list.length} instance${list.length === 1 ? '' : 's'}`);
    for (const i of list) lines.push(instanceLine(i, now));
  }
  return lines.join('\n');
}
