import pc from 'picocolors';
import { prettyFactory } from 'pino-pretty';
import type { InstanceInfo } from './process';

export type Colors = ReturnType<typeof pc.createColors>;

/**
 * Colour only where a person reads the lines: picocolors alone would also colour whenever `CI` is set,
 * which breaks anything that reads the runner's lines (tests, log collectors).
 */
export function colors(enabled: boolean): Colors {
  return pc.createColors(enabled);
}

const plain = colors(false);

/** True when stdout is a terminal that takes colour (NO_COLOR and TERM=dumb turn it off). */
export function stdoutTakesColor(): boolean {
  return process.stdout.isTTY === true && pc.isColorSupported;
}

/** `purchase#2 |` in one colour per service, padded so that every line's text starts in one column. */
export class Prefixer {
  private readonly colours = new Map<string, (text: string) => string>();
  private readonly palette: Array<(text: string) => string>;

  constructor(
    private width = 0,
    c: Colors = plain,
  ) {
    this.palette = [c.cyan, c.magenta, c.yellow, c.green, c.blue, c.red];
  }

  widen(label: string): void {
    this.width = Math.max(this.width, label.length);
  }

  prefix(service: string, label: string): string {
    let colour = this.colours.get(service);
    if (!colour) {
      colour = this.palette[this.colours.size % this.palette.length]!;
      this.colours.set(service, colour);
    }
    return colour(`${label.padEnd(this.width)} |`);
  }
}

export function readyLine(info: InstanceInfo, restarted: boolean, c: Colors = plain): string {
  // An embedded database server holding several databases names each one's URL.
  const urls = info.ready?.urls as Record<string, string> | undefined;
  const where =
    urls && Object.keys(urls).length > 1
      ? Object.entries(urls)
          .map(([service, url]) => `${service} ${url}`)
          .join('  ')
      : info.url;
  const text = `${c.green('✔')} ${info.label}  ${info.instanceId}  pid ${info.pid}  ${where}`;
  return restarted ? `${text}  ${c.dim(`(restart ${info.restarts})`)}` : text;
}

export function indent(lines: string[], c: Colors = plain): string {
  return lines.map((line) => `    ${c.dim(line)}`).join('\n');
}

/**
 * The kit logs JSON lines (for Elasticsearch); on a terminal they read better as pino-pretty text.
 * Lines that are not JSON pass through unchanged.
 */
export function prettyLogs(colorize = false): (line: string) => string[] {
  const pretty = prettyFactory({
    messageKey: 'message',
    translateTime: 'SYS:HH:MM:ss.l',
    // Already in the prefix.
    ignore: 'service,instance,instanceId,pid,hostname',
    singleLine: true,
    colorize,
  });
  return (line) => {
    if (!line.startsWith('{')) return [line];
    return pretty(line).replace(/\n$/, '').split('\n');
  };
}
