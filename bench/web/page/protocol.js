// protocol.js: what bench/web measures once a model has given its first prediction, the same
// for every engine. An engine is { name, init?(), load(bytes, meta), run({name: {data, dims}}) ->
// {name: {data, dims}}, info?() } (engines/*.js). Numbers: batch 1 (WARMUP calls, then CALLS
// calls over the rows, each timed alone; p50), batch N (WINDOWS windows of back-to-back calls
// for >= WINDOW_MS each; median rows/s), and the max abs error against the reference over the
// batch-N call and the first N batch-1 calls.
export const P = { warmup: 200, calls: 2048, windows: 5, windowMs: 250 };

const median = a => { const s = Float64Array.from(a).sort(), n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };

export function feed(meta, data, batch) { return { [meta.input]: { data, dims: [batch, ...meta.shape] } }; }

function err(out, ref, off) {
  let m = 0;
  for (let i = 0; i < out.length; i++) { const e = Math.abs(out[i] - ref[off + i]); if (!(e <= m)) m = e; }
  return m;
}

export async function measure(engine, meta, X, ref, now) {
  const N = X.shape[0], row = X.data.length / N, w = ref.data.length / ref.shape[0];
  const all = feed(meta, X.data, N);
  const outAll = (await engine.run(all))[meta.output];
  if (outAll.data.length !== N * w) throw new Error(`output '${meta.output}' has ${outAll.data.length} values, expected ${N * w}`);
  let maxErr = err(outAll.data, ref.data, 0);
  const rows = Array.from({ length: N }, (_, i) => feed(meta, X.data.slice(i * row, (i + 1) * row), 1));
  for (let i = 0; i < P.warmup; i++) await engine.run(rows[i % N]);
  const lat = new Float64Array(P.calls);
  for (let i = 0; i < P.calls; i++) {
    const t0 = now();
    const out = await engine.run(rows[i % N]);
    lat[i] = (now() - t0) * 1000;
    if (i < N) maxErr = Math.max(maxErr, err(out[meta.output].data, ref.data, i * w));
  }
  const rate = [];
  for (let k = 0; k < P.windows; k++) {
    let calls = 0;
    const t0 = now();
    let t = t0;
    do { await engine.run(all); calls++; t = now(); } while (t - t0 < P.windowMs || calls < 2);
    rate.push(calls * N / ((t - t0) / 1000));
  }
  let sum = 0;
  for (const v of lat) sum += v;
  return { b1_p50_us: median(lat), b1_mean_us: sum / P.calls, b1024_rows_s: median(rate), max_abs_err: maxErr };
}

// The smallest step of the clock, in us (Chromium: 100 on a plain page, 5 cross-origin isolated).
export function clockStepUs(now) {
  let best = Infinity, last = now();
  const stop = last + 50;
  for (let seen = 0; seen < 100;) {
    const t = now();
    if (t !== last) { best = Math.min(best, t - last); last = t; seen++; }
    if (t > stop) break;
  }
  return best * 1000;
}
