// Express + http-proxy-middleware in front of UPSTREAM, on PORT, with a keep-alive agent (128 sockets).
const http = require('node:http');
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');

const app = express();
app.use(
  createProxyMiddleware({
    target: process.env.UPSTREAM,
    agent: new http.Agent({ keepAlive: true, maxSockets: 128 }),
  }),
);
app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
