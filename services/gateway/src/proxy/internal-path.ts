/**
 * True when a request path reaches /internal… or /metrics once normalised as an upstream might read it:
 * percent-decoded (repeatedly, so %2569 counts), backslashes as slashes, `//` collapsed, `.`/`..` resolved, any
 * case, a trailing slash. Such paths are never proxied, whatever route table a service registered: they belong to
 * the private network (an instance's own metrics answer on every service's /metrics).
 */
export function isInternalPath(target: string): boolean {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return startsWithInternal(NEEDS_NORMALISING.test(path) ? normalise(path) : path);
}

const NEEDS_NORMALISING = /[%\\]|\/\/|\/\./;

function startsWithInternal(p: string): boolean {
  // Most paths fail on their second character, before any string is built.
  const c = p.charCodeAt(1);
  if (c === 105 || c === 73) /* i I */ return p.length >= 9 && p.slice(0, 9).toLowerCase() === '/internal';
  if (c === 109 || c === 77) /* m M */ return /^\/metrics\/?$/i.test(p);
  return false;
}

function normalise(path: string): string {
  let p = path;
  for (let i = 0; i < 3 && p.includes('%'); i++) {
    try {
      const decoded = decodeURIComponent(p);
      if (decoded === p) break;
      p = decoded;
    } catch {
      break; // a malformed escape: judge the path as it stands
    }
  }
  const out: string[] = [];
  for (const seg of p.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return '/' + out.join('/');
}

/**
 * The origin-form path (with query) of a request target, or null when it has none (`*`, garbage). Absolute-form
 * targets (`GET http://host/x`) are legal HTTP/1.1 and must not slip past the checks on the path.
 */
export function originForm(url: string): string | null {
  if (url.charCodeAt(0) === 47 /* / */) return url;
  const m = /^https?:\/\/[^/?#]*(.*)$/i.exec(url);
  if (m === null) return null;
  const rest = m[1]!;
  return rest === '' || rest[0] === '?' ? '/' + rest : rest;
}
