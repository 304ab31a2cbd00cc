// A hand-written proxy on an undici Pool (keep-alive, 128 connections) in front of UPSTREAM, on PORT.
const http = require('node:http');
const { Pool } = require('undici');

const upstream = new URL(process.env.UPSTREAM);
const pool = new Pool(upstream.origin, { connections: 128, pipelining: 1 });
// Hop-by-hop headers are not forwarded (undici refuses some of them).
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']);

http
  .createServer((req, res) => {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
    pool.stream(
      {
        method: req.method,
        path: req.url,
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
        opaque: res,
      },
      ({ statusCode, headers: upHeaders, opaque }) => {
        for (const k of HOP) delete upHeaders[k];
        opaque.writeHead(statusCode, upHeaders);
        return opaque;
      },
      (err) => {
        if (err && !res.headersSent) res.writeHead(502).end();
      },
    );
  })
  .listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
