export interface SseEvent {
  event: string;
  data: string;
}

/**
 * A minimal Server-Sent Events parser (the part of the spec the registry uses: `event:`, `data:`,
 * comments and blank-line dispatch). Feed it text chunks as they arrive; it calls back per event.
 */
export class SseParser {
  private buffer = '';
  private event = 'message';
  private data: string[] = [];

  constructor(private readonly onEvent: (ev: SseEvent) => void) {}

  push(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length) this.onEvent({ event: this.event, data: this.data.join('\n') });
      this.event = 'message';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
  }
}
