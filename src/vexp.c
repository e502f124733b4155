/*
 * vexp.c - exp of a block of doubles, in a loop the compiler vectorises.
 *
 * exp(x) = 2^k * exp(r) with k = round(x / ln2) and r = x - k ln2, |r| <=
 * ln2 / 2. The product k ln2 is taken off in two parts (Cody and Waite,
 * "Software Manual for the Elementary Functions", 1980): LN2_HI has its
 * low 11 bits zero, so k * LN2_HI is exact for |k| < 2^11, and LN2_LO
 * carries the rest of ln2. exp(r) is 1 + r + r^2 Q(r) with Q of degree 9,
 * a Chebyshev fit made with mpmath by bench/vexp_poly.py (the Taylor
 * polynomial of degree 13 until 2026-12-04: two degrees more for the same
 * accuracy), evaluated by Estrin's scheme (src/vexp_impl.h); its own error
 * is below 1.4e-17 relative on |r| <= ln2 / 2, so the error is that of
 * rounding in the ~20 operations, measured at most
 * 1 ulp against glibc's exp by tests/test_vexp.c (documented bound: 2 ulp
 * for normal results; subnormal results are within 1 ulp of the smallest
 * subnormal). 2^k is built from exponent bits as the product of two
 * normal powers of two, 2^(k/2) * 2^(k - k/2), so that results down to
 * the subnormal range and up to overflow come out right with no branch.
 *
 * Conventions: exp(0) = 1 exactly; x < -746 gives 0 (exp(x) is below half
 * the smallest subnormal from x < -745.14); x > 710 gives +inf; NaN stays
 * NaN. No division, no table, no branch on the data: the loop body is
 * straight-line double and 64-bit integer arithmetic, which gcc -O2 (whose
 * cheap cost model accepts fixed trip counts) vectorises with SSE2, 2
 * lanes; check with -fopt-info-vec. On x86-64 with gcc, copies for AVX2 (4
 * lanes) and AVX-512F (8 lanes) are compiled too and one is chosen when
 * the program loads (function multiversioning, target_clones; define
 * CALIB_NO_MULTIVERSION to build only the baseline). Every copy does the
 * same IEEE operations in the same order (no FMA: -std=c11 keeps
 * -ffp-contract=off), so all give the same bits on every machine.
 */
#include "internal.h"

#include "vexp_impl.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Elements per inner block: a fixed trip count lets gcc's cheap -O2 cost
 * model vectorise the inner loop with no scalar epilogue. */
#define VEXP_BLOCK 16

CALIB_TARGET_CLONES
void calib_vexp(const double *x, double *y, size_t n)
{
    size_t i = 0;

    /* The block is computed in a local array: the compiler need not prove
     * that x and y do not overlap (they may be the same array), so there
     * is no run-time alias check, and the clamp has its own loop because
     * gcc does not if-convert it inside the long one (-ftrapping-math). */
    for (; i + VEXP_BLOCK <= n; i += VEXP_BLOCK) {
        double out[VEXP_BLOCK];

        for (size_t j = 0; j < VEXP_BLOCK; j++)
            out[j] = vexp_clamp(x[i + j]);
        for (size_t j = 0; j < VEXP_BLOCK; j++)
            out[j] = vexp_one(out[j]);
        memcpy(y + i, out, sizeof out);
    }

    for (; i < n; i++)
        y[i] = vexp_one(vexp_clamp(x[i]));
}

double calib_exp_scalar(double x)
{
    return vexp_one(vexp_clamp(x));
}

/*
 * calib_vlog - natural log of a block of doubles, in a loop the compiler
 * vectorises (added 2026-12-04 for the NLL sums of the binary fits).
 *
 * x = 2^k z with z in [sqrt(1/2), sqrt(2)), taken from the bits: the
 * offset of sqrt(1/2)'s bit pattern puts z's exponent at 0 or -1 with
 * integer arithmetic only. With f = z - 1 (exact, Sterbenz) and
 * s = f / (2 + f), ln z = 2 atanh(s) = 2s + 2s T(w), w = s^2 <= 0.0295,
 * T(w) = sum_{j>=1} w^j / (2j + 1), the Taylor series of atanh cut after
 * j = 10 (first dropped term below 6e-19 relative). Since 2s = f - s f,
 * ln z = f - s (f - 2 T(w)): f is exact and the correction is at most a
 * fifth of it, so its rounding barely shows. k ln 2 is added in two
 * parts (LN2_HI * k is exact for |k| < 2^11, as in calib_vexp). Measured
 * by tests/test_vexp.c: at most 2 ulp from glibc's log over normal
 * positive x (documented bound: 4 ulp). x outside [DBL_MIN, DBL_MAX]
 * (0, subnormals, +inf, negatives, NaN) is handed to the C library's log,
 * element by element, after the block: those results are libm's.
 */

/* bits of sqrt(1/2), and 2^63 to keep the shifted offset unsigned */
#define VLOG_SQRT_HALF_BITS UINT64_C(0x3fe6a09e667f3bcd)
#define VLOG_SIGN UINT64_C(0x8000000000000000)
#define VLOG_EXP_MASK UINT64_C(0xfff0000000000000)

static inline double vlog_one(double x)
{
    uint64_t u = vexp_bits_of(x);
    uint64_t t = u - VLOG_SQRT_HALF_BITS + VLOG_SIGN;
    /* t >> 52 = k + 2048 for x = 2^k z; as a double via the magic bits */
    double k = vexp_double_of((t >> 52) | ROUND_MAGIC_BITS) -
               (ROUND_MAGIC + 2048.0);
    double z = vexp_double_of(u - (t & VLOG_EXP_MASK) + VLOG_SIGN);
    double f = z - 1.0;
    double s = f / (2.0 + f);
    double w = s * s, w2 = w * w, w4 = w2 * w2, w8 = w4 * w4;
    /* T(w) by Estrin's scheme, coefficients 1 / (2j + 1) */
    double b0 = 1.0 / 3.0 + w * (1.0 / 5.0);
    double b1 = 1.0 / 7.0 + w * (1.0 / 9.0);
    double b2 = 1.0 / 11.0 + w * (1.0 / 13.0);
    double b3 = 1.0 / 15.0 + w * (1.0 / 17.0);
    double b4 = 1.0 / 19.0 + w * (1.0 / 21.0);
    double tw = w * (((b0 + w2 * b1) + w4 * (b2 + w2 * b3)) + w8 * b4);

    return k * LN2_HI + ((f - s * (f - 2.0 * tw)) + k * LN2_LO);
}

CALIB_TARGET_CLONES
void calib_vlog(const double *x, double *y, size_t n)
{
    size_t i = 0;

    for (; i + VEXP_BLOCK <= n; i += VEXP_BLOCK) {
        double out[VEXP_BLOCK], in[VEXP_BLOCK];
        int special = 0;

        memcpy(in, x + i, sizeof in);
        for (size_t j = 0; j < VEXP_BLOCK; j++)
            special |= !(in[j] >= DBL_MIN) | !(in[j] <= DBL_MAX);
        for (size_t j = 0; j < VEXP_BLOCK; j++)
            out[j] = vlog_one(in[j]);
        if (special)
            for (size_t j = 0; j < VEXP_BLOCK; j++)
                if (!(in[j] >= DBL_MIN && in[j] <= DBL_MAX))
                    out[j] = log(in[j]);
        memcpy(y + i, out, sizeof out);
    }

    for (; i < n; i++)
        y[i] = calib_log_scalar(x[i]);
}

double calib_log_scalar(double x)
{
    if (!(x >= DBL_MIN && x <= DBL_MAX))
        return log(x);
    return vlog_one(x);
}
