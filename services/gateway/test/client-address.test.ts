import { ClientAddress, toBlockList } from '../src/proxy/client-address';

describe('the client address the gateway decides', () => {
  it('when no proxy is trusted (the default), then X-Forwarded-For is never read', () => {
    const none = new ClientAddress([]);
    expect(none.of('203.0.113.7', '10.9.9.9')).toBe('203.0.113.7');
    expect(none.of('::ffff:127.0.0.1', ['1.2.3.4', '5.6.7.8'])).toBe('::ffff:127.0.0.1');
  });

  it('when the peer is not a trusted proxy, then its X-Forwarded-For is ignored', () => {
    const lb = new ClientAddress(['10.0.0.0/8']);
    expect(lb.of('203.0.113.7', '10.1.1.1')).toBe('203.0.113.7');
  });

  it('when the peer is trusted, then the rightmost untrusted hop is the client, whatever the client prepended', () => {
    const lb = new ClientAddress(['10.0.0.0/8', '127.0.0.1']);
    expect(lb.of('::ffff:127.0.0.1', '198.51.100.4')).toBe('198.51.100.4');
    // The client sent "X-Forwarded-For: 1.1.1.1"; the load balancer appended the real peer, then a second hop.
    expect(lb.of('10.0.0.2', '1.1.1.1, 198.51.100.4, 10.0.0.1')).toBe('198.51.100.4');
    expect(lb.of('10.0.0.2', ['1.1.1.1', '198.51.100.4'])).toBe('198.51.100.4');
  });

  it('when a hop is not an address, or every hop is trusted, then the last address a trusted proxy vouched for', () => {
    const lb = new ClientAddress(['10.0.0.0/8']);
    expect(lb.of('10.0.0.2', 'garbage, 10.0.0.1')).toBe('10.0.0.1');
    expect(lb.of('10.0.0.2', 'not-an-ip')).toBe('10.0.0.2');
    expect(lb.of('10.0.0.2', '10.0.0.5, 10.0.0.1')).toBe('10.0.0.5');
  });

  it('when TRUSTED_PROXIES holds something that is no address or range, then it is refused', () => {
    expect(() => toBlockList(['10.0.0.0/33'])).toThrow(/not an address/);
    expect(() => toBlockList(['example.com'])).toThrow(/not an address/);
    expect(() => toBlockList(['::1', 'fd00::/8', '192.168.0.0/16'])).not.toThrow();
  });
});
