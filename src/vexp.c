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
