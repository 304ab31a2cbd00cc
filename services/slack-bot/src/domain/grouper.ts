import type { Message, Notifier } from './notifier';

export interface Alert {
  /** Alerts with the same key are one story: repeats within the window become one message with a count. */
  key: string;
  text: string;
  /** Request ids to look up in the logs, if any. */
  requestIds?: string[];
}

interface Open {
  repeats: number;
  lastText: string;
  requestIds: Set<string>;
  timer: NodeJS.Timeout;
}

const MAX_KEYS = 1000;
const MAX_IDS = 5;

/**
 * Sends the first alert of a kind at once, then holds repeats for `windowMs`: at the end of the
 * window one message says how many more there were (with their request ids), and a new window
 * opens; a window without repeats closes quietly. So a flapping instance is a few messages, not a flood.
 */
export class AlertGrouper {
  private readonly open = new Map<string, Open>();
  private stopped = false;

  constructor(
    private readonly notifier: Notifier,
    private readonly windowMs: number,
    private readonly decorate: (text: string, requestIds: string[]) => Message,
  ) {}

  raise(alert: Alert): void {
    if (this.stopped) return;
    const existing = this.open.get(alert.key);
    if (existing) {
      existing.repeats++;
      existing.lastText = alert.text;
      for (const id of alert.requestIds ?? [])
        if (existing.requestIds.size < MAX_IDS) existing.requestIds.add(id);
      return;
    }
    if (this.open.size >= MAX_KEYS) return; // a storm of distinct keys: the ones already open speak for it
    void this.notifier.send(this.decorate(alert.text, (alert.requestIds ?? []).slice(0, MAX_IDS)));
    this.openWindow(alert.key);
  }

  private openWindow(key: string): void {
    const timer = setTimeout(() => this.closeWindow(key), this.windowMs);
    timer.unref();
    this.open.set(key, { repeats: 0, lastText: '', requestIds: new Set(), timer });
  }

  private closeWindow(key: string): void {
    const entry = this.open.get(key);
    this.open.delete(key);
    if (!entry || entry.repeats === 0 || this.stopped) return;
    const seconds = Math.round(this.windowMs / 1000);
    const times = entry.repeats === 1 ? 'once more' : `${entry.repeats} more times`;
    void this.notifier.send(
      this.decorate(`${entry.lastText} (${times} in the last ${seconds} s)`, [...entry.requestIds]),
    );
    this.openWindow(key);
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.open.values()) clearTimeout(entry.timer);
    this.open.clear();
  }
}
