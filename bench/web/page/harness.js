// harness.js: the bench page. Imports engines/ENGINE.js, then (in parallel) the engine's init,
// the model, row 0 and the manifest; loads the model and runs row 0: the cold start is
// performance.now() at that first prediction (ms since navigation start). mode=full then runs
// protocol.js. The result is left in window.__bench (and shown in the page).
import { parseNpy } from './lib/npy.mjs';
import { measure, feed, clockStepUs } from './protocol.js';

const now = () => performance.now();
const tHarness = now(); // this module evaluated: the page and the module graph are in
const q = new URLSearchParams(location.search);
const cfg = { engine: q.get('engine') || 'mlship', model: q.get('model') || 'mlp', mode: q.get('mode') || 'full' };
const get = async url => { const r = await fetch(url); if (!r.ok) throw new Error(`GET ${url}: ${r.status}`); return r.arrayBuffer(); };

async function main() {
  if (!/^\w+$/.test(cfg.engine) || !/^\w+$/.test(cfg.model)) throw new Error('bad engine or model name');
  const res = { cfg, crossOriginIsolated: self.crossOriginIsolated };
  const engine = (await import(`./engines/${cfg.engine}.js`)).default;
  const tImport = now();
  let tInit = 0;
  const [, modelBuf, row0Buf, manifest] = await Promise.all([
    (engine.init ? engine.init() : Promise.resolve()).then(() => { tInit = now(); }), get(`models/${cfg.model}.onnx`),
    get(`models/${cfg.model}.row0.npy`), get('models/manifest.json').then(b => JSON.parse(new TextDecoder().decode(b))),
  ]);
  const meta = { name: cfg.model, ...manifest[cfg.model] };
  const tLoad = now();
  await engine.load(new Uint8Array(modelBuf), meta);
  const tRun = now();
  await engine.run(feed(meta, parseNpy(row0Buf).data, 1));
  res.cold_start_ms = now();
  res.phases_ms = { harness: tHarness, engine_import: tImport, init_done: tInit, before_load: tLoad, load: tRun - tLoad, first_run: res.cold_start_ms - tRun };
  // when each file arrived (ms since navigation start), to see the waterfall
  const nav = performance.getEntriesByType('navigation')[0];
  res.timeline_ms = { page_response_end: nav ? nav.responseEnd : null };
  for (const e of performance.getEntriesByType('resource'))
    res.timeline_ms[new URL(e.name).pathname] = [Math.round(e.startTime * 10) / 10, Math.round(e.responseEnd * 10) / 10];
  if (cfg.mode === 'full') {
    const [Xb, refb] = await Promise.all([get(`models/${meta.X}`), get(`models/${meta.ref}`)]);
    res.clock_us = clockStepUs(now);
    Object.assign(res, await measure(engine, meta, parseNpy(Xb), parseNpy(refb), now));
  }
  res.engine = engine.info ? engine.info() : { name: engine.name };
  return res;
}
window.__benchPromise = main().then(r => ({ ok: true, result: r }), e => ({ ok: false, error: String(e && e.message || e) }))
  .then(r => { window.__bench = r; document.getElementById('out').textContent = JSON.stringify(r, null, 1); return r; });
