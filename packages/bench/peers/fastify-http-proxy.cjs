// Fastify + @fastify/http-proxy (undici pool) in front of UPSTREAM, on PORT.
const fastify = require('fastify')({ logger: false });

fastify.register(require('@fastify/http-proxy'), { upstream: process.env.UPSTREAM });
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).then(() => console.log('listening'));
