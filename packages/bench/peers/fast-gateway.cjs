// fast-gateway (restana + fast-proxy-lite, keep-alive agent by default) in front of UPSTREAM, on PORT, for the
// paths under PREFIX (default /products).
const gateway = require('fast-gateway');

const prefix = process.env.PREFIX || '/products';
gateway({
  routes: [{ prefix, prefixRewrite: prefix, target: process.env.UPSTREAM }],
})
  .start(Number(process.env.PORT), '127.0.0.1')
  .then(() => console.log('listening'));
