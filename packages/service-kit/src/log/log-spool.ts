import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';

interface Segment {
  file: string;
  /** Lines in the file, and how many of them (from the front) are already delivered or dropped. */
  lines: number;
  skip: number;
  bytes: number;
}

/** A file is closed for appends at this size, so a delivered front can be deleted while the tail grows. */
const SEGMENT_BYTES = 1024 * 1024;
const SEGMENT_NAME = /^\d{8}\.ndjson$/;

/**
 * The log shipper's overflow to disk: lines (already stamped with their logId) in NDJSON files of about
 * 1 MB, oldest first. Only the log worker touches it, so plain synchronous file calls keep it simple and
 * never block a request. Files left by an earlier run in the same folder are read at start and sent first.
 */
export class LogSpool {
  private readonly segments: Segment[] = [];
  private next = 0;
  /** Lines waiting (delivered or dropped ones not counted). */
  lines = 0;
  /** Bytes of the files kept. */
  bytes = 0;
  private loaded: { segment: Segment; lines: string[] } | undefined;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)
      .filter((n) => SEGMENT_NAME.test(n))
      .sort()) {
      const file = path.join(dir, name);
      const text = readFileSync(file, 'utf8');
      let lines = 0;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
      const bytes = statSync(file).size;
      this.segments.push({ file, lines, skip: 0, bytes });
      this.lines += lines;
      this.bytes += bytes;
      this.next = Number(name.slice(0, 8)) + 1;
    }
  }

  /**
   * Adds lines behind everything kept. Beyond maxBytes the oldest files go first (their lines dropped), then
   * the oldest of these lines. A write error keeps nothing and says why: the caller holds the lines itself.
   */
  append(lines: string[]): { written: number; dropped: number; error?: string } {
    let dropped = 0;
    let from = 0;
    let data = lines.join('\n') + '\n';
    let size = Buffer.byteLength(data);
    while (this.bytes + size > this.maxBytes && this.segments.length > 0) dropped += this.dropSegment();
    while (size > this.maxBytes && from < lines.length) {
      size -= Buffer.byteLength(lines[from]!) + 1;
      from++;
      dropped++;
    }
    if (from === lines.length) return { written: 0, dropped };
    if (from > 0) data = lines.slice(from).join('\n') + '\n';
    let tail = this.segments.at(-1);
    if (!tail || tail.bytes + size > SEGMENT_BYTES) {
      tail = {
        file: path.join(this.dir, `${String(this.next++).padStart(8, '0')}.ndjson`),
        lines: 0,
        skip: 0,
        bytes: 0,
      };
      this.segments.push(tail);
    }
    try {
      appendFileSync(tail.file, data);
    } catch (err) {
      if (tail.lines === 0) this.segments.pop();
      return { written: 0, dropped, error: (err as Error).message };
    }
    if (this.loaded?.segment === tail) this.loaded = undefined;
    tail.lines += lines.length - from;
    tail.bytes += size;
    this.lines += lines.length - from;
    this.bytes += size;
    return { written: lines.length - from, dropped };
  }

  /**
   * The oldest lines, up to a batch; `done()` once they are delivered (or refused) removes them, unless
   * drops have passed them meanwhile.
   */
  peek(maxLines: number, maxBytes: number): { lines: string[]; done: () => void } {
    const segment = this.segments[0];
    if (!segment) return { lines: [], done: () => undefined };
    if (this.loaded?.segment !== segment) {
      const text = readFileSync(segment.file, 'utf8');
      this.loaded = { segment, lines: text.split('\n').slice(0, segment.lines) };
    }
    const all = this.loaded.lines;
    const start = segment.skip;
    let bytes = 32;
    let end = start;
    for (; end < segment.lines && end - start < maxLines; end++) {
      bytes += all[end]!.length + 1;
      if (bytes > maxBytes && end > start) break;
    }
    return {
      lines: all.slice(start, end),
      done: () => {
        if (this.segments[0] !== segment || segment.skip >= end) return;
        this.lines -= end - segment.skip;
        segment.skip = end;
        if (segment.skip >= segment.lines) this.removeHead();
      },
    };
  }

  /** Drops the n oldest lines. */
  dropOldest(n: number): void {
    while (n > 0 && this.segments.length > 0) {
      const head = this.segments[0]!;
      const take = Math.min(n, head.lines - head.skip);
      head.skip += take;
      this.lines -= take;
      n -= take;
      if (head.skip >= head.lines) this.removeHead();
    }
  }

  private dropSegment(): number {
    const head = this.segments[0]!;
    const left = head.lines - head.skip;
    this.lines -= left;
    this.removeHead();
    return left;
  }

  private removeHead(): void {
    const head = this.segments.shift()!;
    this.bytes -= head.bytes;
    if (this.loaded?.segment === head) this.loaded = undefined;
    try {
      unlinkSync(head.file);
    } catch {
      // already gone: nothing to free
    }
  }

  /**
   * Keeps only what is still undelivered on disk: a file whose front was delivered is rewritten without it,
   * so the next start does not send those lines again.
   */
  compact(): void {
    const head = this.segments[0];
    if (!head || head.skip === 0) return;
    const text = readFileSync(head.file, 'utf8');
    const rest = text.split('\n').slice(head.skip, head.lines);
    rmSync(head.file, { force: true });
    appendFileSync(head.file, rest.join('\n') + '\n');
    this.bytes -= head.bytes;
    head.bytes = Buffer.byteLength(rest.join('\n') + '\n');
    this.bytes += head.bytes;
    head.lines = rest.length;
    head.skip = 0;
    this.loaded = undefined;
  }
}
