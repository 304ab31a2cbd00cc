// The light upstream of the hop's verdict: node:http answering every GET with one fixed ~300-byte JSON, so the
// hop in front of it, not the service behind it, is what a run measures. Listens on PORT.
const http = require('node:http');

const body = Buffer.from(
  JSON.stringify({
    id: '0b5f6a52-3c1e-4d7a-9a57-2f1c8e4b9d10',
    name: 'Light upstream fixture',
    description:
      'A fixed answer of about three hundred bytes, the size of a product in the shop catalogue today.',
    priceCents: 1999,
    currency: 'KRW',
    stock: 42,
    tags: ['bench', 'fixture'],
    updatedAt: '2026-12-01T00:00:00.000Z',
  }),
);
const headers = { 'content-type': 'application/json', 'content-length': body.length };

const server = http.createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
// As every service of the shop (service-kit): idle keep-alive sockets outlive a proxy's, so no pooled connection is
// closed under a request (Node's 5 s default made the gateway's reused sockets fail with ECONNRESET between runs).
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () =>
  console.log(`listening, ${body.length}-byte body`),
);
