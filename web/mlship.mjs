// mlship.mjs: the mlship runtime as one ES module for browsers and Node 20 (ONNX networks,
// ONNX-ML tree ensembles, linear models, SVMs and preprocessing), over mlship.wasm.
//
//   import * as mlship from './mlship.mjs';
//   const m = await mlship.load(modelBytes);          // Uint8Array | ArrayBuffer of a .onnx
//   m.inputs, m.outputs                                // [{name, type, shape}]
//   const r = await m.run({ x: { data: Float32Array.of(...), shape: [1, 30] } });
//   r.probabilities.data, r.probabilities.shape        // typed arrays, copies (int64: BigInt64Array)
//   m.free();
//
// mlship.wasm is fetched next to this file (new URL('./mlship.wasm', import.meta.url)) and
// compiled while it downloads; under Node it is read from disk. It is not embedded: raw wasm is
// a third smaller than base64 text before compression, compiles while streaming, and lands in
// the browser's wasm code cache on a return visit; both need a separate response. One instance
// serves every model of the page. No worker, no SharedArrayBuffer, no cross-origin isolation.
// Every failure is thrown as an Error carrying the runtime's own message.

const WASM_URL = new URL('./mlship.wasm', import.meta.url);

// ONNX TensorProto element types -> name and typed array (string: a JS array of strings)
const DTYPES = {
  1: ['float32', Float32Array], 2: ['uint8', Uint8Array], 3: ['int8', Int8Array],
  4: ['uint16', Uint16Array], 5: ['int16', Int16Array], 6: ['int32', Int32Array],
  7: ['int64', BigInt64Array], 8: ['string', null], 9: ['bool', Uint8Array],
  10: ['float16', Uint16Array], 11: ['float64', Float64Array], 12: ['uint32', Uint32Array],
  13: ['uint64', BigUint64Array],
};
const typeName = t => (DTYPES[t] ? DTYPES[t][0] : 'undefined');

let runtime = null; // Promise of { e: exports, ... } once init() has been called

// The WASI calls wasi-libc's stdio links in but the runtime never makes (it prints nothing and
// opens no file): each answers EBADF; anything else a future libc asks for answers ENOSYS.
function wasiImports(module) {
  const EBADF = 8, ENOSYS = 52;
  const known = {
    fd_write: () => EBADF, fd_close: () => EBADF, fd_seek: () => EBADF,
    proc_exit: code => { throw new Error(`mlship: the wasm runtime exited (${code})`); },
  };
  const ns = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module === 'wasi_snapshot_preview1' && imp.kind === 'function') ns[imp.name] = known[imp.name] || (() => ENOSYS);
  }
  return { wasi_snapshot_preview1: ns };
}

async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source) return WebAssembly.compile(source);
  if (WASM_URL.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return WebAssembly.compile(await readFile(WASM_URL));
  }
  const res = await fetch(WASM_URL);
  if (!res.ok) throw new Error(`mlship: GET ${WASM_URL}: HTTP ${res.status}`);
  // streaming compilation needs the server to say application/wasm; otherwise compile the bytes
  if ((res.headers.get('Content-Type') || '').startsWith('application/wasm')) return WebAssembly.compileStreaming(res);
  return WebAssembly.compile(await res.arrayBuffer());
}

function wrap(instance) {
  const e = instance.exports;
  if (e._initialize) e._initialize();
  let buf = null, views = new Map();
  const rt = {
    e,
    view(Ctor) { // a typed view of the whole memory, renewed after the memory grows
      if (buf !== e.memory.buffer) { buf = e.memory.buffer; views = new Map(); }
      let v = views.get(Ctor);
      if (!v) { v = new Ctor(buf); views.set(Ctor, v); }
      return v;
    },
    str(ptr) {
      const u8 = rt.view(Uint8Array);
      let end = ptr;
      while (u8[end]) end++;
      return new TextDecoder().decode(u8.subarray(ptr, end));
    },
    error() { return new Error(rt.str(e.mw_error())); },
  };
  return rt;
}

// Compiles and instantiates the runtime once (later calls return the same promise). Call it
// early, e.g. while the model downloads, to overlap the two; load() calls it otherwise.
// source (optional, first call only): the .wasm bytes or a WebAssembly.Module instead of the
// file beside this module.
export function init(source) {
  if (!runtime) {
    runtime = compile(source)
      .then(module => WebAssembly.instantiate(module, wasiImports(module)))
      .then(wrap);
    runtime.catch(() => { runtime = null; }); // a failed start may be retried
  }
  return runtime;
}

export function version() { return '0.1.0'; }

function bytesOf(x) {
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  throw new Error('mlship.load: expected the model file as a Uint8Array or an ArrayBuffer');
}

// Loads a model from its file's bytes (ONNX; XGBoost's model.json needs the native build).
export async function load(modelBytes) {
  const rt = await init();
  const src = bytesOf(modelBytes);
  const { e } = rt;
  const p = e.mw_alloc(src.length);
  if (!p) throw new Error(`mlship.load: out of memory for a ${src.length}-byte model`);
  rt.view(Uint8Array).set(src, p);
  const h = e.mw_load(p, src.length); // owns p from here, also on failure
  if (!h) throw rt.error();
  return new Model(rt, h);
}

function declared(rt, h, out, i) {
  const { e } = rt;
  const ndim = e.mw_io_ndim(h, out, i);
  let shape = null;
  if (ndim >= 0) {
    shape = [];
    for (let d = 0; d < ndim; d++) {
      const n = e.mw_io_dim(h, out, i, d);
      shape.push(n >= 0 ? n : rt.str(e.mw_io_dim_name(h, out, i, d)) || null);
    }
  }
  const v = { name: rt.str(e.mw_io_name(h, out, i)), type: typeName(e.mw_io_dtype(h, out, i)), shape };
  if (out) {
    const tp = e.mw_alloc(16);
    const lp = e.mw_out_labels(h, i, tp, tp + 8);
    if (lp) v.labels = readLabels(rt, lp, rt.view(Int32Array)[tp >> 2], rt.view(Float64Array)[(tp + 8) >> 3]);
    e.mw_dealloc(tp);
  }
  return v;
}

function readLabels(rt, ptr, dtype, n) {
  if (dtype === 7) return Array.from(new BigInt64Array(rt.e.memory.buffer, ptr, n), Number);
  const ptrs = new Uint32Array(rt.e.memory.buffer, ptr, n);
  return Array.from(ptrs, q => rt.str(q));
}

class Model {
  #rt; #h; #slot; #ctors;
  constructor(rt, h) {
    this.#rt = rt; this.#h = h;
    const e = rt.e;
    const list = out => Array.from({ length: e.mw_io_count(h, out) }, (_, i) => declared(rt, h, out, i));
    this.inputs = list(0);
    this.outputs = list(1);
    this.#slot = e.mw_shape(h) >> 3; // index of the shape scratch in a Float64Array view
    // what each input's data is copied as: its declared type (float32 when it declares none)
    this.#ctors = this.inputs.map((_, i) => (DTYPES[e.mw_io_dtype(h, 0, i)] || DTYPES[1])[1]);
  }

  #handle(what) {
    if (!this.#h) throw new Error(`mlship: ${what} after free(): the model was freed`);
    return this.#h;
  }

  // feeds: { NAME: { data: TypedArray | number[], shape?: number[] } } for every input. shape may
  // be left out when only the batch dimension is unknown (it is then data.length / row size).
  async run(feeds) { return this.runSync(feeds); }

  runSync(feeds) {
    const h = this.#handle('run()'), rt = this.#rt, e = rt.e;
    if (!feeds || typeof feeds !== 'object') throw new Error('mlship: run() takes an object {inputName: {data, shape}}');
    for (const k of Object.keys(feeds)) {
      if (!this.inputs.some(v => v.name === k)) throw new Error(`mlship: the model has no input '${k}' (its inputs: ${this.inputs.map(v => v.name).join(', ')})`);
    }
    this.inputs.forEach((v, i) => this.#feed(h, i, v, feeds[v.name]));
    if (e.mw_run(h) !== 0) throw rt.error();
    const out = {};
    this.outputs.forEach((v, i) => { out[v.name] = this.#output(h, i); });
    return out;
  }

  #feed(h, i, v, f) {
    const rt = this.#rt, e = rt.e;
    if (!f || f.data == null) throw new Error(`mlship: missing input '${v.name}' (expects ${v.type}[${(v.shape || ['...']).join(',')}])`);
    const data = f.data, n = data.length;
    const shape = f.shape || f.dims || inferShape(v, n);
    if (!Array.isArray(shape) || shape.length > 8) throw new Error(`mlship: input '${v.name}': shape must be an array of at most 8 sizes`);
    let numel = 1;
    for (const d of shape) numel *= d;
    if (numel !== n) throw new Error(`mlship: input '${v.name}' has ${n} values but shape [${shape}] holds ${numel}`);
    const f64 = rt.view(Float64Array);
    for (let d = 0; d < shape.length; d++) f64[this.#slot + d] = shape[d];
    const p = e.mw_input(h, i, shape.length);
    if (!p) throw rt.error();
    const Ctor = this.#ctors[i];
    const dst = new Ctor(e.memory.buffer, p, n);
    if (data instanceof Ctor || !(dst instanceof BigInt64Array || dst instanceof BigUint64Array)) dst.set(data);
    else for (let k = 0; k < n; k++) dst[k] = BigInt(data[k]);
  }

  #output(h, i) {
    const rt = this.#rt, e = rt.e;
    const nd = e.mw_out_ndim(h, i), shape = [];
    let n = 1;
    for (let d = 0; d < nd; d++) { const s = e.mw_out_dim(h, i, d); shape.push(s); n *= s; }
    const p = e.mw_out_data(h, i), t = e.mw_out_dtype(h, i);
    if (t === 8) return { data: Array.from(new Uint32Array(e.memory.buffer, p, n), q => rt.str(q)), shape };
    const Ctor = DTYPES[t] && DTYPES[t][1];
    if (!Ctor) throw new Error(`mlship: output ${i} has element type ${t}, which this module cannot read`);
    return { data: new Ctor(e.memory.buffer, p, n).slice(), shape };
  }

  free() {
    const h = this.#handle('free()');
    this.#h = 0;
    this.#rt.e.mw_free(h);
  }
}

// [batch, ...rest] when every dimension but the first is known; [n] for a rank-1 input
function inferShape(v, n) {
  const s = v.shape;
  if (!s || s.length === 0) throw new Error(`mlship: input '${v.name}': give its shape (the model declares none)`);
  const rest = s.slice(1);
  if (rest.some(d => typeof d !== 'number')) throw new Error(`mlship: input '${v.name}': give its shape (the model declares ${v.type}[${s}])`);
  const row = rest.reduce((a, b) => a * b, 1);
  if (row === 0 || n % row) throw new Error(`mlship: input '${v.name}' has ${n} values, not a whole number of rows of ${row}`);
  return [n / row, ...rest];
}

export default { init, load, version };
