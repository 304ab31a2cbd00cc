import { isIPv6 } from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * The address a login is counted against. Behind the gateway it is the one the gateway decided (it trusts
 * forwarded headers only from its TRUSTED_PROXIES and overwrites any X-Forwarded-For a client sends, so a
 * client cannot choose it); a direct internal caller is counted by its own socket address.
 */
export function clientAddress(
  req: Pick<IncomingMessage, 'headers' | 'socket'>,
  callerService: string,
): string {
  const forwarded = req.headers['x-forwarded-for'];
  const raw =
    callerService === 'gateway' && typeof forwarded === 'string' && forwarded !== ''
      ? forwarded.slice(forwarded.lastIndexOf(',') + 1).trim()
      : (req.socket.remoteAddress ?? 'unknown');
  return addressKey(raw);
}

/**
 * IPv4 as it is; IPv6 by its /64, since one subscriber commonly holds a whole /64 and could otherwise rotate
 * through 2^64 addresses to escape a per-client limit.
 */
export function addressKey(address: string): string {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4mapped) return v4mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
