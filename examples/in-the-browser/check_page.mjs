// check_page.mjs: the demo page as the README serves it, in headless Chromium (Debian's), driven
// by playwright-core: fills each feature field with a row of the model's test data, clicks
// Predict, and compares the label and probabilities the page shows with scikit-learn's
// (tests/fixtures/ml/pipeline_scaler_logreg, of which model.onnx is a copy).
// Usage: node check_page.mjs NODE_MODULES_DIR PAGE_URL    (examples/in-the-browser/check.sh)
// Prints one line per check and "N passed, N failed" last.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNpy } from '../../tests/edge/npy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(path.join(path.resolve(process.argv[2]), 'x.js'))('playwright-core');
const URL_ = process.argv[3];
const FIX = path.join(ROOT, 'tests/fixtures/ml/pipeline_scaler_logreg');
const npy = f => parseNpy(fs.readFileSync(path.join(FIX, f)));
let pass = 0, fail = 0;
const check = (ok, what) => { if (ok) { pass++; console.log('ok   ' + what); } else { fail++; console.log('FAIL ' + what); } };

const X = npy('input_0.npy'), labels = npy('output_0.npy'), probs = npy('output_1.npy');
const ROWS = 10, D = 6, C = 3;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mlship-example-browser-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const errors = [];
try {
  const page = browser.pages()[0] || await browser.newPage();
  page.on('pageerror', e => errors.push(e.message));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(URL_);
  // the status line, once the page has one (a first launch of a profile may still be on about:blank)
  await page.waitForFunction(() => /^Ready|^Could not/.test(document.getElementById('status')?.textContent || ''), null, { timeout: 30000 });
  const status = await page.textContent('#status');
  check(/^Ready: model.onnx, 6 features in/.test(status), `the page loads its model: "${status}"`);
  let labOk = 0, worst = 0;
  for (let r = 0; r < ROWS; r++) {
    for (let j = 0; j < D; j++) await page.fill(`#f${j}`, String(X.data[r * D + j]));
    await page.evaluate(() => document.getElementById('result').replaceChildren());
    await page.click('#predict');
    await page.waitForSelector('#result table.probs');
    if ((await page.textContent('#out-label')).trim() === String(labels.data[r])) labOk++;
    const cells = await page.$$eval('#result table.probs tr', trs => trs.slice(1).map(tr => [...tr.children].map(td => td.textContent)));
    for (let c = 0; c < C; c++)
      worst = Math.max(worst, cells[c] && cells[c][0] === String(c) ? Math.abs(Number(cells[c][1]) - probs.data[r * C + c]) : Infinity);
  }
  check(labOk === ROWS, `rows 0-${ROWS - 1}: the label the page shows is scikit-learn's predict for ${labOk}/${ROWS}`);
  check(worst <= 1e-5, `rows 0-${ROWS - 1}: the probabilities shown (6 decimals) are scikit-learn's predict_proba within 1e-5 (max err ${worst.toExponential(2)})`);
  check(errors.length === 0, `no page or console errors (${errors.slice(0, 3).join(' | ')})`);
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(`${pass} passed, ${fail} failed`);
process.exitCode = fail ? 1 : 0;
