// engines/ort.js: onnxruntime-web 1.30, its wasm execution provider, one thread, main thread
// (no proxy worker): ort.wasm.min.mjs, which fetches ort-wasm-simd-threaded.{mjs,wasm} from /ort/
// when the first session is created.
let ort = null, session = null;
export default {
  name: 'ort',
  async init() {
    ort = await import('../ort/ort.wasm.min.mjs');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = new URL('../ort/', import.meta.url).href;
    ort.env.logLevel = 'warning';
  },
  async load(bytes) {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  },
  async run(inputs) {
    const feeds = {};
    for (const k in inputs) feeds[k] = new ort.Tensor('float32', inputs[k].data, inputs[k].dims);
    const r = await session.run(feeds);
    const out = {};
    for (const k in r) out[k] = { data: r[k].data, dims: r[k].dims };
    return out;
  },
  info() { return { name: 'ort', version: ort.env.versions.web, threads: ort.env.wasm.numThreads }; },
};
