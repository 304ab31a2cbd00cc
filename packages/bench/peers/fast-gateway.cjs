// fast-gateway (restana + fast-proxy-lite, keep-alive agent by default) in front of UPSTREAM, on PORT.
const gateway = require('fast-gateway');

gateway({
  routes: [{ prefix: '/products', prefixRewrite: '/products', target: process.env.UPSTREAM }],
})
  .start(Number(process.env.PORT), '127.0.0.1')
  .then(() => console.log('listening'));
