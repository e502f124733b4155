/*
 * vexp.c - exp of a block of doubles, in a loop the compiler vectorises.
 *
 * exp(x) = 2^k * exp(r) with k = round(x / ln2) and r = x - k ln2, |r| <=
 * ln2 / 2. The product k ln2 is taken off in two parts (Cody and Waite,
 * "Software Manual for the Elementary Functions", 1980): LN2_HI has its
 * low 11 bits zero, so k * LN2_HI is exact for |k| < 2^11, and LN2_LO
 * carries the rest of ln2. exp(r) is the Taylor polynomial of degree 13,
 * coefficients 1/n!, evaluated by Estrin's scheme; its truncation error is
 * below r^14 / 14! * e^|r| < 6e-18 relative on |r| <= ln2 / 2, so the
 * error is that of rounding in the ~25 operations, measured below
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

#include <string.h>

/* Elements per inner block: a fixed trip count lets gcc's cheap -O2 cost
 * model vectorise the inner loop with no scalar epilogue. */
#define VEXP_BLOCK 16

#define LOG2E 1.4426950408889634074        /* 1 / ln 2 */
#define LN2_HI 6.93147180369123816490e-01  /* ln 2, low 11 bits zero */
#define LN2_LO 1.90821492927058770002e-10  /* ln 2 - LN2_HI */

/* 1.5 * 2^52: adding it to |t| < 2^51 rounds t to an integer that then
 * sits in the low bits of the sum's representation. */
#define ROUND_MAGIC 6755399441055744.0
#define ROUND_MAGIC_BITS UINT64_C(0x4338000000000000)

/* Beyond these the result is 0 or +inf; clamping keeps k in range. */
#define VEXP_MIN (-746.0)
#define VEXP_MAX 710.0


static inline uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double double_of(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* 2^k for an integer k in [-1022, 1023] held as ROUND_MAGIC + k. */
static inline double pow2_from_magic(double k_magic)
{
    uint64_t k_biased = bits_of(k_magic) - ROUND_MAGIC_BITS + 1023u;
    return double_of(k_biased << 52);
}

/* x within [VEXP_MIN, VEXP_MAX]; NaN stays NaN (both tests are false). */
static inline double clamp(double x)
{
    x = x < VEXP_MIN ? VEXP_MIN : x;
    return x > VEXP_MAX ? VEXP_MAX : x;
}

/* exp(x) for x in [VEXP_MIN, VEXP_MAX] or NaN. */
static inline double exp_one(double x)
{
    double t, k, k1, r, r2, r4, r8, q, p, y;
    double a0, a1, a2, a3, a4, a5, b0, b1, b2;

    t = x * LOG2E + ROUND_MAGIC;
    k = t - ROUND_MAGIC;                      /* round(x / ln2), exact */
    r = (x - k * LN2_HI) - k * LN2_LO;

    /* exp(r) = 1 + r + r^2 Q(r), Q(r) = sum_{n=2..13} r^(n-2) / n!. Q by
     * Estrin's scheme: the terms pair up in independent chains of depth ~8
     * operations instead of Horner's 24, so more elements are in flight
     * (Knuth, TAOCP vol. 2, 4.6.4); 1 + r is added last, to a tail that
     * is itself accurate to a few ulps. */
    r2 = r * r;
    r4 = r2 * r2;
    r8 = r4 * r4;
    a0 = 1.0 / 2.0 + r * (1.0 / 6.0);
    a1 = 1.0 / 24.0 + r * (1.0 / 120.0);
    a2 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    a3 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    a4 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
    a5 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
    b0 = a0 + r2 * a1;
    b1 = a2 + r2 * a3;
    b2 = a4 + r2 * a5;
    q = (b0 + r4 * b1) + r8 * b2;
    p = 1.0 + (r + r2 * q);

    /* k = k1 + (k - k1) with both halves in [-538, 512]: normal powers */
    k1 = (k * 0.5 + ROUND_MAGIC) - ROUND_MAGIC;
    y = p * pow2_from_magic(k1 + ROUND_MAGIC) *
        pow2_from_magic((k - k1) + ROUND_MAGIC);
    return y;
}

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
            out[j] = clamp(x[i + j]);
        for (size_t j = 0; j < VEXP_BLOCK; j++)
            out[j] = exp_one(out[j]);
        memcpy(y + i, out, sizeof out);
    }

    for (; i < n; i++)
        y[i] = exp_one(clamp(x[i]));
}

double calib_exp_scalar(double x)
{
    return exp_one(clamp(x));
}
