// The status page: signs an admin in, then draws every picture the gateway pushes (Server-Sent Events).
// Plain DOM, no framework: the whole picture is redrawn on each push (once a second), which is cheap at this size.
'use strict';

// The logging service's public query route (through the gateway, admin token); a request id links to it.
const LOGS_PATH = '/logs';

const $ = (id) => document.getElementById(id);
let token = null; // the admin's member token, in memory only (needed for log queries; the stream uses the cookie)
let source = null;

function esc(v) {
  return String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
const dash = '–';
const num = (v, unit = '', digits = 1) =>
  v === null || v === undefined ? dash : `${Number(v).toFixed(digits)}${unit}`;
const ms = (v) =>
  v === null || v === undefined ? dash : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
const pct = (v, count) => (count ? `${(v * 100).toFixed(v >= 0.1 ? 0 : 1)} %` : dash);
const mb = (v) => (v === null || v === undefined ? dash : `${Math.round(v / 1048576)} MB`);
function uptime(s) {
  if (s === null || s === undefined) return dash;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d`;
}
const time = (iso) => new Date(iso).toLocaleTimeString();

function figures(f) {
  return (
    `<td class="n">${f.count ? num(f.rate, '', 1) : dash}</td>` +
    `<td class="n ${f.errorRate > 0 ? 'bad' : ''}">${pct(f.errorRate, f.count)}</td>` +
    `<td class="n">${ms(f.p50)}</td><td class="n">${ms(f.p99)}</td>`
  );
}

function draw(s) {
  const rows = [];
  for (const svc of s.services) {
    rows.push(
      `<tr class="service" data-service="${esc(svc.name)}" data-state="${svc.state}">` +
        `<th>${esc(svc.name)}</th><td><span class="badge ${svc.state}">${svc.state}</span> ` +
        `${svc.live} live</td><td></td><td></td><td></td><td></td><td></td>${figures(svc)}</tr>`,
    );
    for (const i of svc.instances) {
      const gone = i.goneAt ? ` since ${time(i.goneAt)}` : '';
      rows.push(
        `<tr class="instance" data-service="${esc(svc.name)}" data-instance="${esc(i.instanceId)}" data-state="${i.state}">` +
          `<td title="${esc(i.address)} · v${esc(i.version)}"><span class="dot"></span>${esc(i.instanceId)}</td>` +
          `<td><span class="badge ${i.state}">${i.state}</span>${esc(gone)}</td>` +
          `<td class="n">${uptime(i.uptimeSeconds)}</td><td class="n">${num(i.cpuPercent, ' %')}</td>` +
          `<td class="n">${mb(i.rssBytes)}</td><td class="n">${ms(i.eventLoopLagMs)}</td>` +
          `<td class="n">${i.inFlight ?? dash}</td>${figures(i)}</tr>`,
      );
    }
  }
  $('services').tBodies[0].innerHTML = rows.join('');
  $('routes').tBodies[0].innerHTML = s.routes
    .map(
      (r) =>
        `<tr><td><code>${esc(r.method)} ${esc(r.path)}</code></td><td>${esc(r.service)}</td>` +
        `<td>${esc(r.auth)}</td>${figures(r)}</tr>`,
    )
    .join('');
  $('events').innerHTML =
    s.events
      .map(
        (e) =>
          `<li class="${e.level}"><time>${time(e.at)}</time> <b>${esc(e.service)}</b> ${esc(e.text)}</li>`,
      )
      .join('') || '<li class="quiet">nothing yet</li>';
  $('failures').innerHTML =
    (s.failures || [])
      .map(
        (f) =>
          `<li><time>${time(f.at)}</time> ${f.status} <code>${esc(f.method)} ${esc(f.route)}</code> ` +
          `${esc(f.service)} <a href="#request=${encodeURIComponent(f.requestId)}">${esc(f.requestId)}</a></li>`,
      )
      .join('') || '<li class="quiet">none in view</li>';
  $('meta').dataset.registry = s.distributor;
  $('meta').textContent =
    `registry ${s.distributor} · rates over the last ${s.windowS} s · updated ${time(s.at)}`;
}

function show(view) {
  $('login').hidden = view !== 'login';
  $('board').hidden = view !== 'board';
  $('signout').hidden = view !== 'board';
}

function setConn(state, text) {
  $('conn').dataset.state = state;
  $('conn').textContent = text;
}

function connect() {
  if (source) source.close();
  setConn('connecting', 'connecting…');
  source = new EventSource('/status/events');
  source.addEventListener('status', (ev) => {
    show('board');
    setConn('live', 'live');
    draw(JSON.parse(ev.data));
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (401/403: not signed in, or the session ran out): sign in again.
      source = null;
      setConn('signed-out', 'signed out');
      show('login');
    } else {
      setConn('connecting', 'reconnecting…'); // the browser retries by itself
    }
  };
}

$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  $('login-error').textContent = '';
  try {
    const res = await fetch('/members/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: form.get('email'), password: form.get('password') }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.detail || `login answered ${res.status}`);
    const session = await fetch('/status/session', {
      method: 'POST',
      headers: { authorization: `Bearer ${body.token}` },
    });
    if (!session.ok) {
      const err = await session.json().catch(() => ({}));
      throw new Error(err.detail || `the gateway answered ${session.status}`);
    }
    token = body.token;
    ev.target.reset();
    connect();
  } catch (err) {
    $('login-error').textContent = err.message;
  }
});

$('signout').addEventListener('click', async () => {
  await fetch('/status/session', { method: 'DELETE' });
  token = null;
  if (source) source.close();
  source = null;
  setConn('signed-out', 'signed out');
  show('login');
});

async function showLogs(requestId) {
  const out = $('log-lines');
  $('logs').requestId.value = requestId;
  if (!token) {
    out.textContent =
      'Sign out and in again to query the logs (the token is kept only in this page’s memory).';
    return;
  }
  out.textContent = 'loading…';
  try {
    const res = await fetch(`${LOGS_PATH}?requestId=${encodeURIComponent(requestId)}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      out.textContent = `${LOGS_PATH} answered ${res.status}: ${body?.detail ?? 'no logs service here'}`;
      return;
    }
    // The logging service answers {items: [{time, level, service, instance, message, fields}], count}.
    const list = Array.isArray(body?.items) ? body.items : null;
    const line = (l) =>
      [l.time, l.level, l.service, l.instance, l.message, l.fields && JSON.stringify(l.fields)]
        .filter(Boolean)
        .join('  ');
    out.textContent = list
      ? list.map(line).join('\n') || 'no log lines for this request id (yet: lines arrive within seconds)'
      : JSON.stringify(body, null, 2);
  } catch (err) {
    out.textContent = err.message;
  }
}

$('logs').addEventListener('submit', (ev) => {
  ev.preventDefault();
  location.hash = `request=${encodeURIComponent(ev.target.requestId.value.trim())}`;
});
function fromHash() {
  const m = /^#request=(.+)$/.exec(location.hash);
  if (m) void showLogs(decodeURIComponent(m[1]));
}
window.addEventListener('hashchange', fromHash);

connect();
fromHash();
