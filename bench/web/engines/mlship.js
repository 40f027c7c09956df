// engines/mlship.js: the mlship WebAssembly package (web/mlship.mjs + mlship.wasm, served at /web/).
// init compiles the runtime while the model downloads; run copies the input in and the outputs out.
let mlship = null, model = null;
export default {
  name: 'mlship',
  async init() { mlship = await import('../web/mlship.mjs'); await mlship.init(); },
  async load(bytes) { model = await mlship.load(bytes); },
  run(inputs) {
    const feeds = {};
    for (const k in inputs) feeds[k] = { data: inputs[k].data, shape: inputs[k].dims };
    return model.run(feeds);
  },
  info() { return { name: 'mlship', version: mlship.version() }; },
};
