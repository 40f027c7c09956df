// run.mjs: the browser bench (bench/web/README.md). mlship (web/, `make wasm`) and onnxruntime-web
// 1.30 side by side in Debian's headless Chromium, same page, same models, same rows, same
// protocol (page/protocol.js). One fresh browser profile per run (cold HTTP and wasm code
// caches). Configurations: `plain` (no cross-origin isolation, what a page gets by default: cold
// start, bytes, batch-1024) and `coi` (the same page under /coi/, cross-origin isolated, only for
// its 5 us clock: batch-1 percentiles; Chromium clamps a plain page's clock to 100 us).
//
//   node bench/web/run.mjs [--reps 3] [--models mlp,cnn,gbdt,logreg] [--engines mlship,ort]
//                          [--quiet LOAD]   (before each run, wait up to 30 s for a 1-min load
//                                            average <= LOAD: the machine is shared)
//                          [--mode cold]    (cold start and bytes only: the plain page, no protocol)
//                          [--web DIR]      (the mlship package served at /web/, default web/)
//   node bench/web/run.mjs --report [--run RUN_ID]   (the tables again from results.jsonl's
//                                                     latest run, or the one named)
//
// Installs onnxruntime-web + playwright-core (bench/web/package-lock.json) into build/bench-web/npm
// and makes the models (make_models.py) when missing. Appends one JSON line per run to
// build/bench-web/results.jsonl; prints the median table in markdown. Exit 1 if a run failed or
// an engine's outputs are off the reference by more than 1e-5.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const OUT = path.join(ROOT, 'build/bench-web');
const NPM = path.join(OUT, 'npm');
const MODELS = path.join(OUT, 'models');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const a = process.argv.slice(2);
const opt = (k, d) => { const i = a.indexOf('--' + k); return i >= 0 ? a[i + 1] : d; };
const reps = +opt('reps', 3);
const models = opt('models', 'mlp,cnn,gbdt,logreg').split(',');
const engines = opt('engines', 'mlship,ort').split(',');
const TOL = 1e-5;
const quiet = opt('quiet', null);
const mode = opt('mode', 'full');
const WEB = path.resolve(opt('web', path.join(ROOT, 'web')));

// ---- set-up: npm packages, models, the wasm ----
fs.mkdirSync(NPM, { recursive: true });
const lock = path.join(HERE, 'package-lock.json');
if (!fs.existsSync(path.join(NPM, 'node_modules/onnxruntime-web')) || !fs.readFileSync(lock).equals(fs.existsSync(path.join(NPM, 'package-lock.json')) ? fs.readFileSync(path.join(NPM, 'package-lock.json')) : Buffer.alloc(0))) {
  for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(HERE, f), path.join(NPM, f));
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: NPM, stdio: 'inherit' });
}
if (!fs.existsSync(path.join(MODELS, 'manifest.json'))) execFileSync('/usr/bin/python3', [path.join(HERE, 'make_models.py'), MODELS], { stdio: 'inherit' });
if (!fs.existsSync(path.join(WEB, 'mlship.wasm'))) throw new Error(`${WEB}/mlship.wasm is missing: run make wasm first`);
const { chromium } = createRequire(path.join(NPM, 'package.json'))('playwright-core');
const ORT_DIST = path.join(NPM, 'node_modules/onnxruntime-web/dist');
const version = n => JSON.parse(fs.readFileSync(path.join(NPM, 'node_modules', n, 'package.json'))).version;

function startServer() {
  const mounts = { '/': path.join(HERE, 'page'), '/engines/': path.join(HERE, 'engines'), '/lib/': path.join(ROOT, 'tests/edge'),
    '/web/': WEB, '/ort/': ORT_DIST, '/models/': MODELS };
  const p = spawn(process.execPath, [path.join(ROOT, 'tests/edge/serve_static.mjs'), '--port', '0',
    ...Object.entries(mounts).flatMap(([k, v]) => ['--mount', `${k}=${v}`])], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    p.stdout.on('data', d => { buf += d; const m = /LISTEN (\S+)/.exec(buf); if (m) resolve({ proc: p, base: m[1] }); });
    p.on('exit', c => reject(new Error(`server exited ${c}`)));
  });
}

// bytes the server sent up to the first prediction (the full X and ref files come after it)
function bytesOf(log) {
  const b = { wasm: 0, js_runtime: 0, page: 0, model: 0, files: {} };
  for (const e of log) {
    const p = e.path;
    if (/\.(X|ref)\.npy$/.test(p)) continue;
    const k = p.endsWith('.wasm') ? 'wasm' : /^\/(web|ort|engines)\//.test(p) ? 'js_runtime' : p.endsWith('.onnx') ? 'model' : 'page';
    b[k] += e.bytes;
    if (k === 'wasm' || k === 'js_runtime') b.files[p] = e.bytes;
  }
  return b;
}

async function browserRun(base, engine, model, coi) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mlship-bench-web-'));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    const msgs = [];
    page.on('pageerror', e => msgs.push(e.message));
    await fetch(`${base.base}/__log?clear=1`);
    await page.goto(`${base.base}${coi ? '/coi' : ''}/index.html?engine=${engine}&model=${model}&mode=${mode}`, { timeout: 120000 });
    const r = await page.evaluate(() => window.__benchPromise);
    const log = await (await fetch(`${base.base}/__log?clear=1`)).json();
    return { ...r, bytes: bytesOf(log), page_errors: msgs, browser: ctx.browser()?.version() };
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

// until the 1-min load average is at most `max`, or `limitMs` has passed (then run anyway)
async function waitQuiet(max, limitMs) {
  for (const t0 = Date.now(); os.loadavg()[0] > max && Date.now() - t0 < limitMs;) await new Promise(r => setTimeout(r, 2000));
}

const median = v => { const s = v.filter(x => x != null).sort((x, y) => x - y), n = s.length; return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : null; };

async function main() {
  if (a.includes('--report')) { // the tables again from the JSONL's latest run
    const all = fs.readFileSync(path.join(OUT, 'results.jsonl'), 'utf8').trim().split('\n').map(JSON.parse);
    const last = opt('run', all[all.length - 1].run_id);
    console.log(report(all.filter(r => r.run_id === last)));
    return;
  }
  const server = await startServer();
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { process.kill(server.proc.pid, 'SIGTERM'); process.exit(130); });
  const runId = new Date().toISOString();
  const recs = [];
  const jsonl = path.join(OUT, 'results.jsonl');
  try {
    for (let rep = 1; rep <= reps; rep++) for (const model of models) for (const engine of engines) for (const coi of mode === 'cold' ? [false] : [false, true]) {
      if (quiet != null) await waitQuiet(+quiet, 30000);
      const load0 = os.loadavg()[0];
      const r = await browserRun(server, engine, model, coi).catch(e => ({ ok: false, error: String(e.message || e) }));
      const rec = { run_id: runId, rep, model, engine, config: coi ? 'coi' : 'plain', mode, web: WEB, loadavg1: load0, versions: { ort: version('onnxruntime-web'), playwright: version('playwright-core'), node: process.version }, ...r };
      recs.push(rec);
      fs.appendFileSync(jsonl, JSON.stringify(rec) + '\n');
      const x = r.result || {};
      console.error(`[${rep}/${reps}] ${engine.padEnd(6)} ${rec.config.padEnd(5)} ${model.padEnd(6)} ${r.ok ? 'ok  ' : 'FAIL ' + r.error} cold ${x.cold_start_ms?.toFixed(0)} ms  b1 p50 ${x.b1_p50_us?.toFixed(1)} us  b1024 ${Math.round(x.b1024_rows_s)} rows/s  err ${x.max_abs_err?.toExponential(1)}  load ${load0.toFixed(2)}`);
    }
  } finally {
    process.kill(server.proc.pid, 'SIGTERM');
  }
  console.log(report(recs));
  const bad = recs.filter(r => !r.ok || (mode === 'full' && !(r.result.max_abs_err <= TOL)));
  if (bad.length) { console.error(`${bad.length} run(s) failed or off the reference by more than ${TOL}`); process.exitCode = 1; }
}

function report(recs) {
  const pick = (e, m, c, f) => median(recs.filter(r => r.ok && r.engine === e && r.model === m && r.config === c).map(f));
  const gz = f => zlib.gzipSync(fs.readFileSync(f), { level: 9 }).length;
  const fmt = (v, d = 0) => (v == null ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
  const lines = ['| model | engine | cold start ms (plain) | wasm + js bytes | b1 p50 µs (coi) | b1 mean µs (plain) | b1024 rows/s (plain) | max abs err |', '|---|---|--:|--:|--:|--:|--:|--:|'];
  const ratio = ['| model | cold start mlship/ort (target ≤ 0.25) | bytes (target ≤ 0.10) | b1 p50 (target ≤ 0.5) | b1024 rows/s (target ≥ 1) |', '|---|--:|--:|--:|--:|'];
  for (const m of models) {
    const v = {};
    for (const e of engines) {
      v[e] = {
        cold: pick(e, m, 'plain', r => r.result.cold_start_ms), bytes: pick(e, m, 'plain', r => r.bytes.wasm + r.bytes.js_runtime),
        p50: pick(e, m, 'coi', r => r.result.b1_p50_us), mean: pick(e, m, 'plain', r => r.result.b1_mean_us),
        rate: pick(e, m, 'plain', r => r.result.b1024_rows_s),
        err: Math.max(...recs.filter(r => r.ok && r.engine === e && r.model === m).map(r => r.result.max_abs_err)),
      };
      const p50 = v[e].p50 === 0 ? '< 5 (clock step)' : fmt(v[e].p50, 1);
      lines.push(`| ${m} | ${e} | ${fmt(v[e].cold)} | ${fmt(v[e].bytes)} | ${p50} | ${fmt(v[e].mean, 1)} | ${fmt(v[e].rate)} | ${Number.isFinite(v[e].err) ? v[e].err.toExponential(1) : '–'} |`);
    }
    if (v.mlship && v.ort) {
      const q = (x, y, ok, pre = '') => (x == null || y == null ? '–' : `${pre}${(x / y).toFixed(3)} ${ok(x / y) ? 'met' : '**missed**'}`);
      // a p50 of 0 is below the 5 us clock step: the ratio is at most 5 / ort's
      const p50 = v.mlship.p50 === 0 ? q(5, v.ort.p50, r => r <= 0.5, '< ') : q(v.mlship.p50, v.ort.p50, r => r <= 0.5);
      ratio.push(`| ${m} | ${q(v.mlship.cold, v.ort.cold, r => r <= 0.25)} | ${q(v.mlship.bytes, v.ort.bytes, r => r <= 0.1)} | ${p50} | ${q(v.mlship.rate, v.ort.rate, r => r >= 1)} |`);
    }
  }
  // where the cold start goes: ms since navigation start when each step was done (medians)
  const ph = ['| model | engine | harness.js ran | engine imported | init done | model + runtime ready | load ms | first run ms |', '|---|---|--:|--:|--:|--:|--:|--:|'];
  for (const m of models) for (const e of engines) {
    const f = k => fmt(pick(e, m, 'plain', r => r.result.phases_ms?.[k]), 1);
    ph.push(`| ${m} | ${e} | ${f('harness')} | ${f('engine_import')} | ${f('init_done')} | ${f('before_load')} | ${f('load')} | ${f('first_run')} |`);
  }
  const files = new Map();
  for (const r of recs) if (r.ok) for (const [p] of Object.entries(r.bytes.files)) files.set(p, p.startsWith('/web/') ? path.join(WEB, p.slice(5)) : p.startsWith('/ort/') ? path.join(ORT_DIST, p.slice(5)) : path.join(HERE, p));
  const sizes = ['| file | bytes | gzip -9 |', '|---|--:|--:|', ...[...files].sort().map(([p, f]) => `| ${p} | ${fmt(fs.statSync(f).size)} | ${fmt(gz(f))} |`)];
  return [lines.join('\n'), '', ratio.join('\n'), '', ph.join('\n'), '', sizes.join('\n')].join('\n');
}

main().catch(e => { console.error(e); process.exit(2); });
