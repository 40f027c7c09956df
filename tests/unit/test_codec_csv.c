/* test_codec_csv.c: the CSV number parser and the float printer of src/codec/codec_csv.c.
 * References: the float32 bit patterns IEEE 754 rounding gives (hand-checked: 0.1 is
 * 0x3dcccccd, 16777217 rounds to even 16777216, ...) and the C library's strtof on the same
 * text; the printer must read back bit-exactly and use the short spellings its header
 * promises. The printer's "shortest" is checked against its definition, computed here from
 * the C library alone: the smallest p whose "%.{p}g" strtof (strtod) reads back as the same
 * value. The fuzz driver tests/fuzz/fuzz_csvnum.c does the same on random input. */
#include "mstest.h"

#include "codec/codec_csv.h"
#include "../fuzz/shortest_ref.h"

#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static int parse(const char *s, float *out) { return mc_parse_f32(s, strlen(s), out); }

TEST(parse_hand_checked_bits)
{
    static const struct { const char *s; uint32_t want; } cases[] = {
        {"0", 0x00000000u},          {"-0", 0x80000000u},           {"1", 0x3f800000u},
        {"0.1", 0x3dcccccdu},        {"-2.5", 0xc0200000u},         {"16777217", 0x4b800000u},
        {"16777219", 0x4b800002u},   {"3.4028235e38", 0x7f7fffffu}, {"1e-45", 0x00000001u},
        {"1.17549435e-38", 0x00800000u}, {" 42 ", 0x42280000u},    {"+7", 0x40e00000u},
        {".5", 0x3f000000u},         {"5.", 0x40a00000u},           {"1e400", 0x7f800000u},
        {"-inf", 0xff800000u},       {"0.30000000000000004", 0x3e99999au},
        /* 17 significant digits as repr(float) / pandas write them: double-rounding cases */
        {"0.10000000149011612", 0x3dcccccdu}, {"1.0000000596046448", 0x3f800001u},
        {"1.0000001788139343", 0x3f800001u},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float f = -1;
        CHECK_MSG(parse(cases[i].s, &f) == 0, "'%s' refused", cases[i].s);
        CHECK_MSG(bits(f) == cases[i].want, "'%s' -> 0x%08x, want 0x%08x", cases[i].s, bits(f),
                  cases[i].want);
    }
}

TEST(parse_refuses_non_numbers)
{
    static const char *bad[] = {"", " ", "-", ".", "e5", "1e", "1e+", "1.2.3", "1,5", "abc",
                                "12a", "--1", "0x", "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        float f;
        CHECK_MSG(parse(bad[i], &f) != 0, "'%s' accepted as %g", bad[i], f);
    }
    float f;
    CHECK(parse("nan", &f) == 0 && isnan(f)); /* the spelling is a number; policy is above */
}

/* 200,000 pseudo-random decimals of up to 17 digits and exponents -45..38, as strtof reads them */
TEST(parse_agrees_with_strtof)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char s[64];
    int bad = 0;
    for (int i = 0; i < 200000 && bad < 5; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int digits = 1 + (int)(x % 17), e = (int)((x >> 8) % 84) - 45;
        uint64_t m = (x >> 16) % 100000000000000000ull;
        int n = snprintf(s, sizeof s, "%s%.*llu", (x >> 60) & 1 ? "-" : "", digits,
                         (unsigned long long)m);
        if ((x >> 58) & 1) n += snprintf(s + n, sizeof s - (size_t)n, "e%d", e);
        else if (digits > 1) { /* put a decimal point inside */
            int at = 1 + (int)((x >> 40) % (uint64_t)(digits - 1)) + (s[0] == '-');
            memmove(s + at + 1, s + at, (size_t)(n - at + 1));
            s[at] = '.';
        }
        float got, want = strtof(s, NULL);
        if (parse(s, &got) != 0 || bits(got) != bits(want)) {
            bad++;
            CHECK_MSG(0, "'%s': got %.9g, strtof %.9g", s, got, want);
        }
    }
}

/* Doubles as repr(float) / pandas' to_csv write them (%.17g: 17 significant digits, 18-19
 * digits when the value starts "0.0"), including exact float32 midpoints and values 1e-17
 * around them (where rounding decimal -> double -> float twice can go wrong): mc_parse_f32,
 * mc_scan_f32 (when it answers) and the one-pass row parser must all give strtof's float. */
TEST(parse_17_digits_agrees_with_strtof)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    enum { W = 30 };
    char row[W * 32], *w;
    float want[W], got[W];
    int bad = 0, map[W + 1];
    map[0] = MC_CSV_KEY;
    for (int f = 0; f < W; f++) map[f + 1] = f;
    for (int i = 0; i < 20000 && bad < 5; i++) {
        w = row + sprintf(row, "k%d", i);
        for (int f = 0; f < W; f++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double d = ((double)(x >> 11) / 9007199254740992.0 - 0.5) * 8;
            if (f % 3 == 0) { /* a float32 midpoint, or just beside one */
                float lo = (float)d, hi = nextafterf(lo, INFINITY);
                d = ((double)lo + (double)hi) / 2 * (1 + ((int)(x >> 50) % 3 - 1) * 1e-17);
            }
            if (f % 5 == 0) d /= 100; /* "0.0ddd": 18-19 digits */
            char *cell = ++w;
            w[-1] = ',';
            w += sprintf(w, "%.17g", d);
            want[f] = strtof(cell, NULL);
            float v, sv;
            if (mc_parse_f32(cell, (size_t)(w - cell), &v) != 0 || bits(v) != bits(want[f])) {
                bad++;
                CHECK_MSG(0, "'%s': mc_parse_f32 %a, strtof %a", cell, v, want[f]);
            }
            const char *e = mc_scan_f32(cell, row + sizeof row, &sv);
            if (e && (e != w || bits(sv) != bits(want[f]))) {
                bad++;
                CHECK_MSG(0, "'%s': mc_scan_f32 %a, strtof %a", cell, sv, want[f]);
            }
        }
        memset(w, 0, 8); /* readable bytes past the record, the first ending the line */
        *w = '\n';
        const char *key;
        size_t kn;
        CHECK(mc_csv_parse_f32_row(row, w, w + 8, map, W + 1, got, &key, &kn) == 0);
        for (int f = 0; f < W; f++)
            if (bits(got[f]) != bits(want[f])) {
                bad++;
                CHECK_MSG(0, "row %d field %d: %a, strtof %a", i, f, got[f], want[f]);
            }
    }
}

TEST(format_round_trips_and_is_short)
{
    static const struct { float f; const char *want; } cases[] = {
        {0.1f, "0.1"}, {1.0f, "1"}, {-2.5f, "-2.5"}, {0.0f, "0"}, {100.0f, "100"},
        {0.3f, "0.3"}, {123456.0f, "123456"},
    };
    char out[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = mc_format_f32(out, cases[i].f);
        CHECK_MSG(n == (int)strlen(cases[i].want) && memcmp(out, cases[i].want, (size_t)n) == 0,
                  "%.9g printed '%.*s', want '%s'", cases[i].f, n, out, cases[i].want);
    }
    CHECK(mc_format_f32(out, NAN) == 4 && memcmp(out, "null", 4) == 0);
    CHECK(mc_format_f32(out, INFINITY) == 4 && memcmp(out, "null", 4) == 0);
    /* every 9973rd float32 bit pattern reads back exactly */
    int bad = 0;
    for (uint64_t u = 0; u < 0x100000000ull && bad < 5; u += 9973) {
        float f;
        uint32_t b = (uint32_t)u;
        memcpy(&f, &b, 4);
        if (!isfinite(f)) continue;
        int n = mc_format_f32(out, f);
        out[n] = 0;
        float back = strtof(out, NULL);
        if (n >= 32 || bits(back) != b) {
            bad++;
            CHECK_MSG(0, "0x%08x printed '%s' reads back as 0x%08x", b, out, bits(back));
        }
    }
}

/* f32: same value as the reference (strtod of both texts equal, so the same decimal) and the
 * same digit count; and it reads back. Returns 1 when it agrees. */
static int agrees32(float f)
{
    char ref[48], out[40];
    sr_shortest32(f, ref, sizeof ref);
    int n = mc_format_f32(out, f);
    out[n] = 0;
    int ok = n < 32 && sr_same_decimal(out, ref) && bits(strtof(out, NULL)) == bits(f);
    if (!ok) CHECK_MSG(0, "0x%08x: printed '%s', shortest is '%s'", bits(f), out, ref);
    return ok;
}

static int agrees64(double d)
{
    char ref[48], out[40];
    sr_shortest64(d, ref, sizeof ref);
    int n = mc_format_f64(out, d);
    out[n] = 0;
    int ok = n < 32 && sr_same_decimal(out, ref);
    if (!ok) CHECK_MSG(0, "%a: printed '%s', shortest is '%s'", d, out, ref);
    return ok;
}

TEST(format_f32_is_the_shortest_round_trip)
{
    int bad = 0;
    /* edge cases: every power of two (normal and subnormal), the extremes, their neighbours,
     * integers around 2^24, short decimals and their float neighbours */
    for (int e = -149; e <= 127 && bad < 5; e++) {
        float f = ldexpf(1.0f, e);
        bad += !agrees32(f) + !agrees32(nextafterf(f, 0)) + !agrees32(nextafterf(f, INFINITY)) +
               !agrees32(-f);
    }
    static const float edge[] = {FLT_MAX, FLT_MIN, FLT_TRUE_MIN, 16777215.0f, 16777216.0f,
                                 16777218.0f, 0.1f, 0.2f, 0.3f, 1.0f / 3.0f, 2.0f / 3.0f, 1e-7f,
                                 1e-5f, 1e9f, 1e10f, 3.14159265f, 9.999999e-5f};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) bad += !agrees32(edge[i]);
    for (int k = 1; k <= 20000 && bad < 5; k++) { /* k / 10^j, j = 1..4 */
        float f = (float)k / (float)(k % 4 == 0 ? 10 : k % 4 == 1 ? 100 : k % 4 == 2 ? 1000 : 10000);
        bad += !agrees32(f) + !agrees32(nextafterf(f, 0));
    }
    /* random bit patterns over the whole range */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000 && bad < 5; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t b = (uint32_t)x;
        float f;
        memcpy(&f, &b, 4);
        if (isfinite(f)) bad += !agrees32(f);
    }
}

TEST(format_f64_is_the_shortest_round_trip)
{
    int bad = 0;
    for (int e = -1074; e <= 1023 && bad < 5; e += 7) {
        double d = ldexp(1.0, e);
        bad += !agrees64(d) + !agrees64(nextafter(d, 0)) + !agrees64(nextafter(d, INFINITY));
    }
    static const double edge[] = {DBL_MAX, DBL_MIN, 4.9406564584124654e-324, 0.1, 0.3,
                                  1.0 / 3.0, 1e-7, 1e15, 1e16, 1e17, 9007199254740993.0,
                                  123456789012.0, 5e-324, 2.5, 0.30000000000000004};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) bad += !agrees64(edge[i]);
    uint64_t x = 0xD1B54A32D192ED03ull;
    for (int i = 0; i < 50000 && bad < 5; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double d;
        memcpy(&d, &x, 8);
        if (isfinite(d)) bad += !agrees64(d);
        double g = (double)(float)(x >> 40) / 1000.0; /* short decimals, the common output */
        bad += !agrees64(g);
    }
}

TEST(format_hand_checked_spellings)
{
    /* hand-computed: the decimal with fewest digits inside each value's rounding interval */
    static const struct { float f; const char *want; } c32[] = {
        {1.0f / 3.0f, "0.33333334"}, {1e-7f, "1e-7"},    {16777216.0f, "16777216"},
        {1e20f, "1e20"},             {-0.0f, "-0"},      {1.17549435e-38f, "1.1754944e-38"},
        {FLT_MAX, "3.4028235e38"},   {FLT_TRUE_MIN, "1e-45"}, {0.00001f, "0.00001"},
        {123456789.0f, "123456790"},
    };
    char out[40];
    for (size_t i = 0; i < sizeof c32 / sizeof c32[0]; i++) {
        int n = mc_format_f32(out, c32[i].f);
        out[n] = 0;
        CHECK_MSG(strcmp(out, c32[i].want) == 0, "%a printed '%s', want '%s'", (double)c32[i].f, out, c32[i].want);
    }
    static const struct { double d; const char *want; } c64[] = {
        {0.1, "0.1"}, {1.0 / 3.0, "0.3333333333333333"}, {0.30000000000000004, "0.30000000000000004"},
        {1e300, "1e300"}, {-2.5, "-2.5"}, {5e-324, "5e-324"}, {NAN, "null"}, {-INFINITY, "null"},
    };
    for (size_t i = 0; i < sizeof c64 / sizeof c64[0]; i++) {
        int n = mc_format_f64(out, c64[i].d);
        out[n] = 0;
        CHECK_MSG(strcmp(out, c64[i].want) == 0, "%a printed '%s', want '%s'", c64[i].d, out, c64[i].want);
    }
}

/* mc_parse_f64 equals strtod bit for bit (and mc_parse_f32_f64 strtof and strtod), on the texts its fast path takes (up to 16 digits,
 * powers of ten up to 22) and on those it leaves to strtod (more digits, bigger exponents,
 * nan, hex), with spaces around; and refuses what strtod does not read whole. */
TEST(parse_f64_agrees_with_strtod)
{
    static const char *fixed[] = {"0", "-0", "1", "0.1", "-2.5", "1e22", "1e23", "9007199254740993",
        "123456789012345678", "4.9406564584124654e-324", "1.7976931348623157e308", "  3.25 ",
        "+7", ".5", "5.", "1e-22", "2.2250738585072014e-308", "0x1p3", "nan", "-inf",
        "0.30000000000000004", "1E5", "1e+5"};
    char buf[64];
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        double got = -1, want = strtod(fixed[i], NULL);
        CHECK_MSG(mc_parse_f64(fixed[i], strlen(fixed[i]), &got) == 0, "'%s' refused", fixed[i]);
        CHECK_MSG(memcmp(&got, &want, 8) == 0 || (got != got && want != want), "'%s': %a, strtod %a", fixed[i], got, want);
    }
    srand(7);
    for (int i = 0; i < 200000; i++) {
        int digits = 1 + rand() % 20, e = rand() % 61 - 30, w = 0, dot = rand() % (digits + 2);
        if (rand() & 1) buf[w++] = '-';
        for (int d = 0; d < digits; d++) {
            if (d == dot) buf[w++] = '.';
            buf[w++] = (char)('0' + rand() % 10);
        }
        if (rand() & 1) w += sprintf(buf + w, "e%d", e);
        buf[w] = 0;
        double got = -1, want = strtod(buf, NULL);
        if (mc_parse_f64(buf, (size_t)w, &got) != 0 || memcmp(&got, &want, 8) != 0) {
            CHECK_MSG(0, "'%s': %a, strtod %a", buf, got, want);
            break;
        }
        float gf = -1, wf = strtof(buf, NULL);
        double gd = -1;
        if (mc_parse_f32_f64(buf, (size_t)w, &gf, &gd) != 0 || memcmp(&gd, &want, 8) != 0 ||
            memcmp(&gf, &wf, 4) != 0) {
            CHECK_MSG(0, "both '%s': %a %a, strtof/strtod %a %a", buf, (double)gf, gd, (double)wf, want);
            break;
        }
    }
    static const char *bad[] = {"", " ", "1e", "1.2.3", "--1", "1e5x", "e5", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double got;
        CHECK_MSG(mc_parse_f64(bad[i], strlen(bad[i]), &got) != 0, "'%s' accepted", bad[i]);
    }
}

int main(void)
{
    RUN(parse_f64_agrees_with_strtod);
    RUN(parse_hand_checked_bits);
    RUN(parse_refuses_non_numbers);
    RUN(parse_agrees_with_strtof);
    RUN(parse_17_digits_agrees_with_strtof);
    RUN(format_round_trips_and_is_short);
    RUN(format_f32_is_the_shortest_round_trip);
    RUN(format_f64_is_the_shortest_round_trip);
    RUN(format_hand_checked_spellings);
    return mstest_summary();
}
