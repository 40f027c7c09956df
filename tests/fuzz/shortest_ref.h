/* shortest_ref.h: the definition the float printers (mc_format_f32 / mc_format_f64 in
 * src/codec/codec_csv.h) are checked against, computed from the C library alone: the shortest
 * decimal is the smallest p whose "%.{p}g" strtof (strtod) reads back as the same value. Used
 * by tests/unit/test_codec_csv.c and the fuzz driver tests/fuzz/fuzz_csvnum.c. Header-only
 * (static inline functions) so that each test links it its own way. */
#ifndef SHORTEST_REF_H
#define SHORTEST_REF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Significant digits of a printed number (leading zeros and the mantissa's trailing zeros
 * not counted: "0.0100" and "1e-2" both have 1). */
static inline int sr_sig_digits(const char *s)
{
    int n = 0, z = 0, lead = 1;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s < '0' || *s > '9') continue;
        if (*s == '0' && lead) continue;
        lead = 0;
        if (*s == '0') z++;
        else n += z + 1, z = 0;
    }
    return n ? n : 1;
}

/* The shortest "%.{p}g" (p = 1..9) that strtof reads back as f (bit for bit), into ref. */
static inline void sr_shortest32(float f, char *ref, size_t cap)
{
    for (int p = 1; p <= 9; p++) {
        snprintf(ref, cap, "%.*g", p, (double)f);
        float r = strtof(ref, NULL);
        if (memcmp(&r, &f, sizeof f) == 0) return;
    }
}

/* The same for a double (p = 1..17, strtod). */
static inline void sr_shortest64(double d, char *ref, size_t cap)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(ref, cap, "%.*g", p, d);
        if (strtod(ref, NULL) == d) return;
    }
}

/* Is `out` the same decimal as the reference `ref`: the same value (both have at most 17
 * digits, so equal as doubles means the same decimal) and as many significant digits? */
static inline int sr_same_decimal(const char *out, const char *ref)
{
    return strtod(out, NULL) == strtod(ref, NULL) && sr_sig_digits(out) == sr_sig_digits(ref);
}

#endif
