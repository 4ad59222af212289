#!/usr/bin/env node
// The storefront example's own tiny static server: the page, its script and style, and the few
// browser builds it imports from node_modules (@urql/core with its two dependencies, and the
// graphql-ws client), named in the page's import map. No bundler (one text replacement, below),
// no CDN: every byte comes from here or from the gateway. The page runs on this server's origin and calls the gateway on
// another: start the gateway with CORS_ORIGINS=<this origin>.
//
//   node examples/storefront/server.mjs [--port 5173] [--host 127.0.0.1] [--gateway http://127.0.0.1:4000] [--gateway-ws ws://...]
//
// --gateway-ws defaults to the gateway's own address: subscriptions may go to another instance.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const port = Number(option('port', process.env.PORT ?? '5173'));
const host = option('host', '127.0.0.1');
const gateway = new URL(option('gateway', process.env.GATEWAY_URL ?? 'http://127.0.0.1:4000'));
const gatewayWs = new URL(option('gateway-ws', process.env.GATEWAY_WS_URL ?? `${gateway.protocol === 'https:' ? 'wss' : 'ws'}://${gateway.host}`));
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, not ${port}`);
if (!/^https?:$/.test(gateway.protocol)) throw new Error('--gateway must be an http(s) URL');
if (!/^wss?:$/.test(gatewayWs.protocol)) throw new Error('--gateway-ws must be a ws(s) URL');

/** The folder of an installed package (found from its main entry: some hide package.json behind their exports map). */
function packageDir(name) {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === name) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`package ${name} not found`);
    dir = up;
  }
}

// URL path -> file. Only these are served; nothing is looked up from the request's path.
const FILES = new Map([
  ['/', path.join(HERE, 'index.html')],
  ['/app.js', path.join(HERE, 'app.js')],
  ['/style.css', path.join(HERE, 'style.css')],
  ['/vendor/urql-core.mjs', path.join(packageDir('@urql/core'), 'dist', 'urql-core.mjs')],
  ['/vendor/urql-core-chunk.mjs', path.join(packageDir('@urql/core'), 'dist', 'urql-core-chunk.mjs')],
  ['/vendor/wonka.mjs', path.join(packageDir('wonka'), 'dist', 'wonka.mjs')],
  ['/vendor/graphql.web.mjs', path.join(packageDir('@0no-co/graphql.web'), 'dist', 'graphql.web.mjs')],
]);
// The graphql-ws client's ES module and the chunks it imports (their names carry a content hash).
const wsDist = path.join(packageDir('graphql-ws'), 'dist');
for (const f of readdirSync(wsDist)) if (/^(client|common-[\w-]+)\.js$/.test(f)) FILES.set(`/vendor/graphql-ws/${f}`, path.join(wsDist, f));

const IMPORT_MAP = JSON.stringify({
  imports: {
    '@urql/core': '/vendor/urql-core.mjs',
    wonka: '/vendor/wonka.mjs',
    '@0no-co/graphql.web': '/vendor/graphql.web.mjs',
    'graphql-ws': '/vendor/graphql-ws/client.js',
  },
});
const CONFIG = JSON.stringify({ gateway: gateway.origin, gatewayWs: `${gatewayWs.origin}` });
const page = readFileSync(FILES.get('/'), 'utf8')
  .replace('<!--importmap-->', `<script type="importmap">${IMPORT_MAP}</script>`)
  .replace('<!--config-->', `<meta name="storefront-config" content="${CONFIG.replace(/"/g, '&quot;')}" />`);
// The import map is the page's one inline script: allowed by its hash, nothing else inline.
const mapHash = createHash('sha256').update(IMPORT_MAP).digest('base64');
const CSP = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${mapHash}'`,
  `connect-src 'self' ${gateway.origin} ${gatewayWs.origin}`,
  "img-src 'self' data:",
  "style-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// The one build step: the packages' ES builds read process.env.NODE_ENV, which a bundler would
// replace; browsers have no `process`. Replaced here, once per file, with "production".
const prepare = (file) => {
  const text = readFileSync(file);
  return file.startsWith(HERE) ? text : Buffer.from(text.toString('utf8').replace(/process\.env\.NODE_ENV/g, '"production"'));
};

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
const cache = new Map();

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const file = FILES.get(url.pathname);
  if ((req.method !== 'GET' && req.method !== 'HEAD') || !file) {
    res.writeHead(file ? 405 : 404, { 'content-type': 'text/plain' }).end(file ? 'Method not allowed' : 'Not found');
    return;
  }
  const body = url.pathname === '/' ? page : (cache.get(file) ?? cache.set(file, prepare(file)).get(file));
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(url.pathname === '/' ? { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
});

server.listen(port, host, () => {
  const { port: actual } = server.address();
  console.log(`storefront on http://${host}:${actual} (gateway ${gateway.origin}, subscriptions ${gatewayWs.origin})`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
