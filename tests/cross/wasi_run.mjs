// wasi_run.mjs: runs a wasm32-wasi program (argv[2], its arguments after it) in Node's WASI,
// exiting with its code.
// Used by tests/cross/run.sh for the WebAssembly build of the runtime's tests.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

const path = process.argv[2];
const wasi = new WASI({ version: 'preview1', args: process.argv.slice(2), env: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(path));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
