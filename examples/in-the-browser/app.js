// app.js: the demo's logic. Loads a model with mlship (web/mlship.mjs), makes one text field per
// feature of the model's first input, and on Predict runs one row and shows every output: a
// classifier's label and its class probabilities, a regressor's values.
import * as mlship from '../../web/mlship.mjs';

const $ = id => document.getElementById(id);
mlship.init(); // compile the runtime while the model downloads
let model = null;

function show(el, text) { el.textContent = text; }

function buildForm(m) {
  const input = m.inputs[0];
  const width = input.shape && typeof input.shape[input.shape.length - 1] === 'number' ? input.shape[input.shape.length - 1] : 0;
  const form = $('features');
  form.replaceChildren();
  if (m.inputs.length !== 1 || input.type !== 'float32' || width < 1) {
    show($('error'), `This demo takes models with one float32 input of [batch, features]; this one has ${m.inputs.map(v => `${v.name}: ${v.type}[${v.shape}]`).join(', ')}`);
    return false;
  }
  for (let i = 0; i < width; i++) {
    const label = document.createElement('label');
    const name = document.createElement('span');
    name.textContent = `${input.name}[${i}]`;
    const field = document.createElement('input');
    Object.assign(field, { type: 'text', name: `f${i}`, id: `f${i}`, inputMode: 'decimal', value: '0' });
    label.append(name, field);
    form.append(label);
  }
  return true;
}

async function open(bytes, what) {
  show($('error'), '');
  $('result').replaceChildren();
  $('predict').disabled = true;
  if (model) { model.free(); model = null; }
  try {
    model = await mlship.load(bytes);
  } catch (e) {
    show($('status'), `Could not load ${what}`);
    show($('error'), e.message);
    return;
  }
  const ok = buildForm(model);
  const input = model.inputs[0];
  show($('status'), `Ready: ${what}, ${input.shape ? input.shape[input.shape.length - 1] : '?'} features in, outputs ${model.outputs.map(o => o.name).join(', ')}.`);
  $('predict').disabled = !ok;
}

// The fields as one row; an entry that is not a number is named in the error.
function readRow() {
  const fields = [...$('features').querySelectorAll('input')];
  const row = new Float32Array(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const s = fields[i].value.trim();
    const v = Number(s);
    if (s === '' || !Number.isFinite(v)) throw new Error(`${model.inputs[0].name}[${i}]: "${fields[i].value}" is not a number`);
    row[i] = v;
  }
  return row;
}

function cell(tag, text) { const c = document.createElement(tag); c.textContent = text; return c; }

function render(outputs) {
  const out = $('result');
  out.replaceChildren();
  for (const info of model.outputs) {
    const { data } = outputs[info.name];
    const h = document.createElement('h2');
    h.textContent = info.name;
    out.append(h);
    if (info.labels) { // class probabilities: one row per class
      const t = document.createElement('table');
      t.className = 'probs';
      const head = document.createElement('tr');
      head.append(cell('th', 'class'), cell('th', 'probability'));
      t.append(head);
      info.labels.forEach((lab, j) => {
        const tr = document.createElement('tr');
        tr.append(cell('td', String(lab)), cell('td', Number(data[j]).toFixed(6)));
        t.append(tr);
      });
      out.append(t);
    } else {
      const p = document.createElement('p');
      p.className = 'values';
      p.id = `out-${info.name}`;
      p.textContent = Array.from(data, v => (typeof v === 'number' ? +v.toPrecision(7) : String(v))).join(', ');
      out.append(p);
    }
  }
}

$('predict').addEventListener('click', async () => {
  show($('error'), '');
  try {
    const row = readRow();
    render(await model.run({ [model.inputs[0].name]: { data: row, shape: [1, row.length] } }));
  } catch (e) {
    $('result').replaceChildren();
    show($('error'), e.message);
  }
});

$('file').addEventListener('change', async ev => {
  const f = ev.target.files[0];
  if (f) await open(new Uint8Array(await f.arrayBuffer()), f.name);
});

const url = new URLSearchParams(location.search).get('model') || 'model.onnx';
fetch(url)
  .then(r => { if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`); return r.arrayBuffer(); })
  .then(b => open(new Uint8Array(b), url))
  .catch(e => { show($('status'), 'Could not load the model'); show($('error'), e.message); });
