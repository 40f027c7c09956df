// test_wasm_browser.mjs: the wasm package in a real browser, headless Chromium (Debian's) driven
// by playwright-core. A person's path through the demo (examples/in-the-browser/): the page loads the
// model, a field per feature appears, rows of the fixture are typed in field by field, Predict
// is clicked, and the label and class probabilities the page shows are read back and compared
// with scikit-learn's (tests/fixtures/ml/pipeline_scaler_logreg, which the demo's model.onnx is a
// copy of). Then a mistyped field, and mlship.mjs called from the page on the bench MLP.
// Usage: node tests/edge/test_wasm_browser.mjs NODE_MODULES_DIR   (tests/edge/test_wasm.sh)
// Last line "N passed, N failed".
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNpy } from './npy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(path.join(path.resolve(process.argv[2]), 'x.js'))('playwright-core');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOL = 1e-5;
let pass = 0, fail = 0;
const check = (ok, what) => { if (ok) { pass++; console.log('ok   ' + what); } else { fail++; console.log('FAIL ' + what); } };
const FIX = 'tests/fixtures/ml/pipeline_scaler_logreg/';
const npy = p => parseNpy(fs.readFileSync(path.join(ROOT, p)));

function startServer() {
  const p = spawn(process.execPath, [path.join(ROOT, 'tests/edge/serve_static.mjs'), '--port', '0',
    '--mount', `/examples/=${ROOT}/examples`, '--mount', `/web/=${ROOT}/web`, '--mount', `/bench/models/=${ROOT}/bench/models`],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    p.stdout.on('data', d => { buf += d; const m = /LISTEN (\S+)/.exec(buf); if (m) resolve({ proc: p, base: m[1] }); });
    p.on('exit', c => reject(new Error(`server exited ${c}`)));
  });
}

const server = await startServer();
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mlship-wasm-test-'));
const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
const errors = [];
try {
  const page = browser.pages()[0] || await browser.newPage();
  page.on('pageerror', e => errors.push(e.message));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  await fetch(`${server.base}/__log?clear=1`);
  await page.goto(`${server.base}/examples/in-the-browser/index.html`);
  await page.waitForFunction(() => /^Ready|^Could not/.test(document.getElementById('status').textContent), null, { timeout: 30000 });
  const status = await page.textContent('#status');
  check(/^Ready: model.onnx, 6 features in/.test(status), `the demo loads its model: "${status}"`);
  check(fs.readFileSync(path.join(ROOT, 'examples/in-the-browser/model.onnx')).equals(fs.readFileSync(path.join(ROOT, FIX, 'model.onnx'))),
    'examples/in-the-browser/model.onnx is the fixture the references belong to');
  const fields = await page.$$('#features input');
  check(fields.length === 6, `one field per feature (${fields.length})`);

  // rows typed in as a person would: click a field, clear it, type the number, then Predict
  const X = npy(FIX + 'input_0.npy'), labels = npy(FIX + 'output_0.npy'), probs = npy(FIX + 'output_1.npy');
  let worst = 0, labOk = 0;
  const ROWS = 6;
  for (let r = 0; r < ROWS; r++) {
    for (let j = 0; j < 6; j++) {
      await page.click(`#f${j}`, { clickCount: 3 });
      await page.keyboard.press('Backspace');
      await page.keyboard.type(String(X.data[r * 6 + j]));
    }
    await page.evaluate(() => document.getElementById('result').replaceChildren());
    await page.click('#predict');
    await page.waitForSelector('#result table.probs');
    const shownLabel = (await page.textContent('#out-label')).trim();
    const cells = await page.$$eval('#result table.probs tr', trs => trs.slice(1).map(tr => [...tr.children].map(td => td.textContent)));
    if (shownLabel === String(labels.data[r])) labOk++;
    for (let c = 0; c < 3; c++) worst = Math.max(worst, cells[c] && cells[c][0] === String(c) ? Math.abs(Number(cells[c][1]) - probs.data[r * 3 + c]) : Infinity);
  }
  check(labOk === ROWS, `typed rows 0-${ROWS - 1}: the label shown equals scikit-learn's for ${labOk}/${ROWS}`);
  // the page prints 6 decimals: 5e-7 of rounding on top of the runtime's error
  check(worst <= TOL, `typed rows 0-${ROWS - 1}: the probabilities shown are within ${TOL} of predict_proba (max err ${worst.toExponential(2)})`);

  // a mistyped field: an error naming the field, no prediction
  await page.click('#f2', { clickCount: 3 });
  await page.keyboard.type('1,5');
  await page.click('#predict');
  const err = await page.textContent('#error');
  check(/X\[2\]: "1,5" is not a number/.test(err) && !(await page.$('#result table')), `a mistyped field is refused by name: "${err}"`);

  const log = await (await fetch(`${server.base}/__log?clear=1`)).json();
  const files = log.map(e => `${e.path} ${e.status}`).sort();
  check(JSON.stringify(files) === JSON.stringify(['/examples/in-the-browser/app.js 200', '/examples/in-the-browser/index.html 200',
    '/examples/in-the-browser/model.onnx 200', '/web/mlship.mjs 200', '/web/mlship.wasm 200']), `the page fetched only its own files, the module and the wasm: ${files.join('; ')}`);
  check(await page.evaluate(() => self.crossOriginIsolated === false), 'the page is not cross-origin isolated (no COOP/COEP needed)');

  // the package API from a page: the bench MLP against PyTorch's outputs, and bad bytes
  const Xm = npy('bench/models/mlp.X.npy'), Rm = npy('bench/models/mlp.REF.npy');
  const inPage = await page.evaluate(async ({ x, n }) => {
    const mlship = await import('/web/mlship.mjs');
    const m = await mlship.load(await (await fetch('/bench/models/mlp.onnx')).arrayBuffer());
    const r = await m.run({ input: { data: new Float32Array(x), shape: [n, 64] } });
    m.free();
    let bad = null;
    try { await mlship.load(new Uint8Array([8, 1, 2, 3])); } catch (e) { bad = { isError: e instanceof Error, msg: e.message }; }
    let twice = null;
    try { m.free(); } catch (e) { twice = e.message; }
    return { out: Array.from(r.output.data), shape: r.output.shape, bad, twice };
  }, { x: Array.from(Xm.data.subarray(0, 256 * 64)), n: 256 });
  let e = 0;
  for (let i = 0; i < inPage.out.length; i++) e = Math.max(e, Math.abs(inPage.out[i] - Rm.data[i]));
  check(inPage.shape.join() === '256,10' && e <= TOL, `in the page, mlship.mjs runs the MLP on 256 rows within ${TOL} of PyTorch (max err ${e.toExponential(2)})`);
  check(inPage.bad && inPage.bad.isError && /not an ONNX model/.test(inPage.bad.msg), `in the page, bad bytes throw an Error: "${inPage.bad && inPage.bad.msg}"`);
  check(/after free/.test(inPage.twice || ''), `in the page, free twice throws: "${inPage.twice}"`);
  check(errors.length === 0, `no page errors or console errors (${errors.slice(0, 3).join(' | ')})`);
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
  process.kill(server.proc.pid, 'SIGTERM');
}
console.log(`${pass} passed, ${fail} failed`);
process.exitCode = fail ? 1 : 0;
