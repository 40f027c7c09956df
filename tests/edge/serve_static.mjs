// serve_static.mjs: a tiny static HTTP server on 127.0.0.1 for the browser test of the wasm
// package and for bench/web: files from mounted folders, no compression, a log of the bytes
// sent per request. Started and stopped (by PID, SIGTERM) by its caller.
//
//   node tests/edge/serve_static.mjs [--port 0] --mount /prefix/=DIR [--mount ...]
//
// The longest matching prefix wins; paths cannot leave their folder. Everything is also served
// under /coi/... with the cross-origin isolation headers (COOP same-origin, COEP require-corp),
// which give a page Chromium's 5 us clock instead of 100 us (bench/web times single calls). Prints
// "LISTEN http://127.0.0.1:PORT" once ready. GET /__log lists {path, status, bytes} since the
// last /__log?clear=1. Responses may be cached (max-age=600), so a fresh browser profile is a
// first visit and a second tab in the same profile a return visit.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.onnx': 'application/octet-stream',
  '.npy': 'application/octet-stream', '.css': 'text/css',
};

const args = process.argv.slice(2);
let port = 0;
const mounts = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') port = +args[++i];
  else if (args[i] === '--mount') {
    const v = args[++i], eq = v.indexOf('=');
    if (eq < 1) throw new Error(`--mount wants /prefix/=DIR, got ${v}`);
    mounts.push([v.slice(0, eq).replace(/\/?$/, '/'), path.resolve(v.slice(eq + 1))]);
  } else throw new Error(`unknown argument ${args[i]}`);
}
mounts.sort((a, b) => b[0].length - a[0].length);

function resolve(p) {
  for (const [pre, dir] of mounts) {
    if (p.startsWith(pre) || p + '/' === pre) {
      const f = path.resolve(dir, '.' + p.slice(pre.length - 1));
      return f === dir || f.startsWith(dir + path.sep) ? f : null;
    }
  }
  return null;
}

let log = [];
const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  let p = decodeURIComponent(u.pathname);
  const coi = p.startsWith('/coi/');
  if (coi) p = p.slice(4);
  const send = (status, body, type) => {
    const headers = { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': status === 200 ? 'max-age=600' : 'no-store' };
    if (coi) Object.assign(headers, { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' });
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    if (p !== '/__log') log.push({ path: p, query: u.search, status, bytes: req.method === 'HEAD' ? 0 : body.length });
  };
  if (p === '/__log') {
    const body = Buffer.from(JSON.stringify(log));
    if (u.searchParams.get('clear')) log = [];
    return send(200, body, MIME['.json']);
  }
  let f = resolve(p);
  if (f && fs.existsSync(f) && fs.statSync(f).isDirectory()) f = path.join(f, 'index.html');
  if (!f || !fs.existsSync(f) || !fs.statSync(f).isFile()) return send(404, Buffer.from(`not found: ${p}\n`), 'text/plain');
  return send(200, fs.readFileSync(f), MIME[path.extname(f)] || 'application/octet-stream');
});
server.listen(port, '127.0.0.1', () => console.log(`LISTEN http://127.0.0.1:${server.address().port}`));
const stop = () => { server.close(() => process.exit(0)); server.closeAllConnections(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
