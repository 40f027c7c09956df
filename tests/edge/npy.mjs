// npy.mjs: reads a little-endian, C-order .npy (format 1-3) into {shape, data}, the data as a
// typed array (float32, float64, int64, int32, uint8/bool). For the wasm tests, the demo's test
// and bench/web, in Node and in the browser.
const TYPES = { '<f4': Float32Array, '<f8': Float64Array, '<i8': BigInt64Array, '<i4': Int32Array, '|u1': Uint8Array, '|b1': Uint8Array };

export function parseNpy(buf) {
  const u8 = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  if (u8[0] !== 0x93 || String.fromCharCode(...u8.subarray(1, 6)) !== 'NUMPY') throw new Error('not a .npy file');
  const v1 = u8[6] === 1, hlen = v1 ? dv.getUint16(8, true) : dv.getUint32(8, true), start = v1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(u8.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error('Fortran-order .npy is not supported');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(Boolean).map(Number);
  const Ctor = TYPES[descr];
  if (!Ctor) throw new Error(`.npy element type ${descr} is not supported`);
  const n = shape.reduce((a, b) => a * b, 1), off = start + hlen;
  const data = new Ctor(u8.buffer.slice(u8.byteOffset + off, u8.byteOffset + off + n * Ctor.BYTES_PER_ELEMENT));
  return { shape, data };
}
