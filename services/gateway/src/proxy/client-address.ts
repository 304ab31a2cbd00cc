import { BlockList, isIP } from 'node:net';

/**
 * Who the client is. The socket's address, unless that socket is one of the configured proxies (TRUSTED_PROXIES:
 * addresses or CIDR ranges, default none): then X-Forwarded-For is read from the right, skipping trusted hops, and
 * the first address not trusted is the client. A client cannot pick its address by sending X-Forwarded-For
 * itself: without a trusted proxy in front the header is never read, and the gateway overwrites it upstream.
 * The result keys the rate limits here and, as X-Forwarded-For, the login throttle in the member service.
 */
export class ClientAddress {
  private readonly trusted: BlockList | null;

  constructor(trustedProxies: readonly string[]) {
    this.trusted = trustedProxies.length === 0 ? null : toBlockList(trustedProxies);
  }

  of(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
    const remote = remoteAddress ?? '';
    // The common case (no proxy configured) costs one comparison on the hot path.
    if (this.trusted === null || forwardedFor === undefined || !this.isTrusted(remote)) return remote;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let client = remote;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = unmap(hops[i]!.trim());
      // A hop that is no address: stop at the last one a trusted proxy vouched for.
      if (isIP(hop) === 0) return client;
      client = hop;
      if (!this.isTrusted(hop)) return hop;
    }
    return client;
  }

  private isTrusted(address: string): boolean {
    const a = unmap(address);
    const family = isIP(a);
    return family !== 0 && this.trusted!.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** "10.0.0.0/8, 127.0.0.1, ::1" → a BlockList; throws on an entry that is neither an address nor a range. */
export function toBlockList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const family = isIP(address);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    const prefix = bits === undefined ? null : Number(bits);
    if (
      family === 0 ||
      (prefix !== null && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= (family === 6 ? 128 : 32)))
    ) {
      throw new Error(`not an address or CIDR range: ${entry}`);
    }
    if (prefix === null) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return list;
}

/** Sockets on a dual-stack listener name IPv4 peers as ::ffff:a.b.c.d. */
const unmap = (a: string): string => (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a);
