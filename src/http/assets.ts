/**
 * Static assets served by the gateway itself (no CDN): GraphiQL and its React,
 * the graphql-ws browser client, and the pages' own scripts under public/.
 * Each file is read once, on first request, and served with a strong ETag.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { projectRoot } from '../util/paths';

const PUBLIC_DIR = path.join(projectRoot(), 'public');

/**
 * A file inside an installed package. Packages with an `exports` map refuse
 * `require.resolve` of their UMD builds, so this finds the package folder from
 * its main entry and joins the path.
 */
function fromPackage(spec: string): string {
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
  let dir = path.dirname(require.resolve(name));
  while (!existsSync(path.join(dir, 'package.json')) || (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name !== name) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`package ${name} not found`);
    dir = up;
  }
  return path.join(dir, spec.slice(name.length + 1));
}

/** URL name -> file on disk. Only these are served. */
const FILES: Record<string, () => string> = {
  'react.js': () => fromPackage('react/umd/react.production.min.js'),
  'react-dom.js': () => fromPackage('react-dom/umd/react-dom.production.min.js'),
  'graphiql.js': () => fromPackage('graphiql/graphiql.min.js'),
  'graphiql.css': () => fromPackage('graphiql/graphiql.min.css'),
  'graphql-ws.js': () => fromPackage('graphql-ws/umd/graphql-ws.min.js'),
  'graphiql-init.js': () => path.join(PUBLIC_DIR, 'graphiql-init.js'),
  // Dashboard panels in files of their own (the page's core assets are registered by the analytics module).
  'dashboard-stopped-experiments.js': () => path.join(PUBLIC_DIR, 'dashboard', 'stopped-experiments.js'),
  'dashboard-flags.js': () => path.join(PUBLIC_DIR, 'dashboard', 'flags.js'),
  // The dashboard's operator console: navigation and one file per panel.
  'dashboard-console.js': () => path.join(PUBLIC_DIR, 'dashboard/console.js'),
  'dashboard-console.css': () => path.join(PUBLIC_DIR, 'dashboard/console.css'),
  'dashboard-ratelimits.js': () => path.join(PUBLIC_DIR, 'dashboard/ratelimits.js'),
  'dashboard-jobs.js': () => path.join(PUBLIC_DIR, 'dashboard/jobs.js'),
  'dashboard-audit.js': () => path.join(PUBLIC_DIR, 'dashboard/audit.js'),
  // Dashboard panels, one file each: the history range and chart, sources, devices and browsers, the funnel builder.
  'dashboard-history.js': () => path.join(PUBLIC_DIR, 'dashboard/history.js'),
  'dashboard-sources.js': () => path.join(PUBLIC_DIR, 'dashboard/sources.js'),
  'dashboard-devices.js': () => path.join(PUBLIC_DIR, 'dashboard/devices.js'),
  'dashboard-funnel.js': () => path.join(PUBLIC_DIR, 'dashboard/funnel.js'),
  // The dashboard's Orders panel (commerce); the page and its other assets come with the analytics module.
  'dashboard-orders.js': () => path.join(PUBLIC_DIR, 'dashboard', 'orders.js'),
};

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  etag: string;
  type: string;
}

const cache = new Map<string, Asset>();

/** Registers more assets (e.g. the dashboard's) by URL name. */
export function registerAsset(name: string, file: string): void {
  FILES[name] = () => file;
}

export function publicFile(name: string): string {
  return path.join(PUBLIC_DIR, name);
}

function load(name: string): Asset | undefined {
  const hit = cache.get(name);
  if (hit) return hit;
  const locate = FILES[name];
  if (!locate) return undefined;
  const body = readFileSync(locate());
  const asset = { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"`, type: TYPES[path.extname(name)] ?? 'application/octet-stream' };
  cache.set(name, asset);
  return asset;
}

/** Serves `/assets/<name>`; false when there is no such asset. */
export function serveAsset(name: string, req: IncomingMessage, res: ServerResponse): boolean {
  const asset = load(name);
  if (!asset) return false;
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, { ETag: asset.etag }).end();
    return true;
  }
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': asset.body.length,
    ETag: asset.etag,
    'Cache-Control': 'public, max-age=3600',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
  return true;
}

/** A content-security policy that allows only the gateway's own scripts and sockets. */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Sends an HTML page with the page CSP. */
export function sendPage(res: ServerResponse, html: string): void {
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': PAGE_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
  });
  res.end(html);
}
