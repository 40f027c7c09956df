// test_wasm_node.mjs: the WebAssembly package (web/mlship.mjs + web/mlship.wasm) in Node 20,
// against the frameworks' own outputs: the bench MLP and CNN (PyTorch's outputs, bench/models/
// *.REF.npy) and ONNX-ML models from tests/fixtures/ml (scikit-learn's predictions); then the
// failure cases (bad bytes, XGBoost JSON, wrong shapes, free twice, run after free), each of
// which must be a thrown Error with a message, never a crash.
// Usage: node tests/edge/test_wasm_node.mjs   (after make wasm) -> last line "N passed, N failed"
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mlship from '../../web/mlship.mjs';
import { parseNpy } from './npy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TOL = 1e-5;
let pass = 0, fail = 0;
const check = (ok, what) => { if (ok) { pass++; console.log('ok   ' + what); } else { fail++; console.log('FAIL ' + what); } };
const npy = p => parseNpy(fs.readFileSync(path.join(ROOT, p)));
const bytes = p => fs.readFileSync(path.join(ROOT, p));

function maxErr(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) { const e = Math.abs(a[i] - b[i]); if (!(e <= m)) m = e; }
  return m;
}

async function throws(fn, re, what) {
  try { await fn(); check(false, `${what}: no error thrown`); } catch (e) {
    check(e instanceof Error && re.test(e.message), `${what}: ${e instanceof Error ? 'Error' : typeof e} "${e && e.message}"`);
  }
}

// refs: [output index, reference .npy]. The whole input batch and then rows one at a time (batch 1) must give the reference outputs.
async function compare(label, modelPath, xPath, refs) {
  const m = await mlship.load(bytes(modelPath));
  const X = npy(xPath), name = m.inputs[0].name, N = X.shape[0], row = X.data.length / N;
  const all = await m.run({ [name]: { data: X.data, shape: X.shape } });
  for (const [k, refPath] of refs) {
    const out = m.outputs[k].name, ref = npy(refPath), got = all[out];
    check(got && got.data.constructor === ref.data.constructor, `${label}: output '${out}' is a ${ref.data.constructor.name}`);
    if (!got) continue;
    const e = ref.data instanceof BigInt64Array ? (got.data.every((v, i) => v === ref.data[i]) ? 0 : Infinity) : maxErr(got.data, ref.data);
    check(e <= TOL && got.shape[0] === N, `${label}: '${out}' batch ${N} within ${TOL} of the reference (max err ${e.toExponential(2)})`);
  }
  let e1 = 0;
  for (let r = 0; r < Math.min(N, 50); r++) {
    const one = await m.run({ [name]: { data: X.data.slice(r * row, (r + 1) * row), shape: [1, ...X.shape.slice(1)] } });
    for (const [k, refPath] of refs) {
      const out = m.outputs[k].name, ref = npy(refPath), w = ref.data.length / ref.shape[0];
      const want = ref.data.slice(r * w, (r + 1) * w), got = one[out].data;
      e1 = Math.max(e1, want instanceof BigInt64Array ? (got[0] === want[0] ? 0 : Infinity) : maxErr(got, want));
    }
  }
  check(e1 <= TOL, `${label}: batch 1, rows 0-49, within ${TOL} (max err ${e1.toExponential(2)})`);
  m.free();
}

// ---- outputs against the frameworks' ----
await compare('mlp', 'bench/models/mlp.onnx', 'bench/models/mlp.X.npy', [[0, 'bench/models/mlp.REF.npy']]);
await compare('cnn', 'bench/models/cnn.onnx', 'bench/models/cnn.X.npy', [[0, 'bench/models/cnn.REF.npy']]);
const ML = 'tests/fixtures/ml/';
await compare('gradient-boosting classifier', ML + 'sk_gb_clf_binary/model.onnx', ML + 'sk_gb_clf_binary/input_0.npy',
  [[0, ML + 'sk_gb_clf_binary/output_0.npy'], [1, ML + 'sk_gb_clf_binary/output_1.npy']]);
await compare('random-forest regressor', ML + 'sk_rf_reg_average/model.onnx', ML + 'sk_rf_reg_average/input_0.npy',
  [[0, ML + 'sk_rf_reg_average/output_0.npy']]);
await compare('logistic regression', ML + 'logreg_binary/model.onnx', ML + 'logreg_binary/input_0.npy',
  [[0, ML + 'logreg_binary/output_0.npy'], [1, ML + 'logreg_binary/output_1.npy']]);

// ---- what the model declares ----
{
  const m = await mlship.load(bytes('bench/models/mlp.onnx'));
  check(JSON.stringify(m.inputs) === '[{"name":"input","type":"float32","shape":["batch",64]}]', `mlp inputs ${JSON.stringify(m.inputs)}`);
  check(JSON.stringify(m.outputs) === '[{"name":"output","type":"float32","shape":["batch",10]}]', `mlp outputs ${JSON.stringify(m.outputs)}`);
  // shape left out: the batch dimension follows from the data
  const X = npy('bench/models/mlp.X.npy'), ref = npy('bench/models/mlp.REF.npy');
  const r = await m.run({ input: { data: X.data.subarray(0, 128) } });
  check(r.output.shape.join() === '2,10' && maxErr(r.output.data, ref.data.subarray(0, 20)) <= TOL, 'mlp: shape inferred from 128 values as [2,64]');
  await throws(() => m.run({ input: { data: X.data.subarray(0, 63), shape: [1, 63] } }), /input 'input' expects float32\[batch,64\], got float32\[1,63\]/, 'wrong row width: the runtime\'s message');
  await throws(() => m.run({ input: { data: X.data.subarray(0, 64), shape: [2, 64] } }), /64 values but shape \[2,64\] holds 128/, 'data shorter than its shape');
  await throws(() => m.run({}), /missing input 'input'/, 'missing input');
  await throws(() => m.run({ input: { data: X.data.subarray(0, 64) }, extra: { data: [1] } }), /no input 'extra'/, 'unknown input name');
  const after = await m.run({ input: { data: X.data.subarray(0, 64), shape: [1, 64] } });
  check(maxErr(after.output.data, ref.data.subarray(0, 10)) <= TOL, 'the model still runs after refused calls');
  m.free();
  await throws(() => m.free(), /free\(\) after free\(\)/, 'free twice');
  await throws(() => m.run({ input: { data: X.data.subarray(0, 64), shape: [1, 64] } }), /run\(\) after free\(\)/, 'run after free');
}
{
  // string class labels: the label output is a JS array of strings, one per row, and a label
  // stands for exactly one argmax of scikit-learn's probabilities (a bijection)
  const m = await mlship.load(bytes(ML + 'sk_rf_clf_strings/model.onnx'));
  const X = npy(ML + 'sk_rf_clf_strings/input_0.npy'), ref = npy(ML + 'sk_rf_clf_strings/output_1.npy');
  const r = await m.run({ [m.inputs[0].name]: { data: X.data, shape: X.shape } });
  const lab = r[m.outputs[0].name].data, seen = new Map();
  let ok = m.outputs[0].type === 'string' && Array.isArray(lab) && lab.length === X.shape[0];
  for (let i = 0; ok && i < X.shape[0]; i++) {
    let best = 0;
    for (let j = 1; j < 4; j++) if (ref.data[i * 4 + j] > ref.data[i * 4 + best]) best = j;
    if (!seen.has(lab[i])) seen.set(lab[i], best);
    ok = typeof lab[i] === 'string' && seen.get(lab[i]) === best;
  }
  check(ok && new Set(seen.values()).size === seen.size, `string-label classifier: string labels, one per argmax (${[...seen.keys()]})`);
  m.free();
}
{
  // a ZipMap output: its labels are listed in m.outputs
  const m = await mlship.load(bytes(ML + 'logreg_binary/model.onnx'));
  const z = m.outputs.find(o => o.labels);
  check(z && JSON.stringify(z.labels) === '[0,1]', `ZipMap output '${z && z.name}' lists its labels ${JSON.stringify(z && z.labels)}`);
  m.free();
}

// ---- bad models: thrown Errors with the runtime's message ----
await throws(() => mlship.load(bytes(ML + 'xgb_binary_json/model.json')), /reads ONNX models only; XGBoost's model.json/, 'XGBoost model.json refused by name');
await throws(() => mlship.load(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])), /./, 'eight bytes of garbage');
await throws(() => mlship.load(bytes('bench/models/mlp.onnx').subarray(0, 5000)), /./, 'a truncated model');
await throws(() => mlship.load('model.onnx'), /Uint8Array or an ArrayBuffer/, 'a string instead of bytes');
// many loads and frees: memory is given back (the heap does not grow without bound)
{
  const b = bytes('bench/models/mlp.onnx');
  for (let i = 0; i < 3; i++) (await mlship.load(b)).free();
  const rt = await mlship.init(), size0 = rt.e.memory.buffer.byteLength;
  for (let i = 0; i < 40; i++) (await mlship.load(b)).free();
  check(rt.e.memory.buffer.byteLength === size0, `40 more load/free cycles of a ${b.length}-byte model leave the wasm memory at ${size0} bytes`);
}

console.log(`${pass} passed, ${fail} failed`);
process.exitCode = fail ? 1 : 0;
