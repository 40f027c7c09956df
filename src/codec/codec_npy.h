/* codec_npy.h: NumPy .npy files <-> ms_tensor.
 *
 * Reads format versions 1.0, 2.0 and 3.0 (the header is a Python dict literal with exactly
 * the keys 'descr', 'fortran_order' and 'shape'). Supported descrs, little-endian only:
 * '<f2' '<f4' '<f8' '<i2' '<i4' '<i8' '<u2' '<u4' '<u8' and the one-byte '|b1' '|i1' '|u1'
 * ('<' is accepted for one-byte types too). fortran_order must be False.
 *
 * Errors: a malformed file (bad magic, truncated, bad header syntax, missing or duplicate
 * key, data length that does not match the shape, a shape whose byte size overflows) is
 * MS_ERR_INVALID; a well-formed file we do not handle (big-endian, Fortran order, object or
 * string dtypes, more than MS_MAX_DIMS dimensions) is MS_ERR_UNSUPPORTED. Nothing aborts. */
#ifndef CODEC_NPY_H
#define CODEC_NPY_H

#include <stddef.h>

#include "codec/codec_buf.h"
#include "mlship.h"

/* Decode a .npy image. On success out->data is a fresh ms_malloc block (free with ms_free);
 * on failure *out is left with data == NULL. */
ms_status mc_npy_decode(const void *buf, size_t len, ms_tensor *out, ms_error *err);
/* Append the .npy image of `t` to `out` (version 1.0, or 2.0 when the header needs it). */
ms_status mc_npy_encode(const ms_tensor *t, mc_buf *out, ms_error *err);

/* The descr string for a dtype ("<f4"), or NULL when .npy cannot carry it here. */
const char *mc_npy_descr(ms_dtype t);

#endif
