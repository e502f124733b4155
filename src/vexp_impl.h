/*
 * vexp_impl.h - the exp kernel of src/vexp.c as static inline functions,
 * so that the hot loops of accumulate.c and temperature.c can apply it in
 * the same loop as their own work (no call, no extra pass over the row).
 * See src/vexp.c for the method, its accuracy and its conventions; every
 * user gets exactly the same bits as calib_vexp.
 */
#ifndef CALIB_VEXP_IMPL_H
#define CALIB_VEXP_IMPL_H

#include <stdint.h>
#include <string.h>

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


static inline uint64_t vexp_bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double vexp_double_of(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* 2^k for an integer k in [-1022, 1023] held as ROUND_MAGIC + k (and +0
 * for k = -1023). */
static inline double vexp_pow2_from_magic(double k_magic)
{
    uint64_t k_biased = vexp_bits_of(k_magic) - ROUND_MAGIC_BITS + 1023u;
    return vexp_double_of(k_biased << 52);
}

/*
 * exp(r) for |r| <= ln2 / 2 as 1 + r + r^2 Q(r), Q of degree 9: a
 * Chebyshev fit of (exp(r) - 1 - r) / r^2 made with mpmath by
 * bench/vexp_poly.py (which prints these coefficients), its error below
 * 1.4e-17 relative on exp(r), two degrees fewer than the Taylor
 * polynomial of the same accuracy. Q by Estrin's scheme: independent
 * chains of depth ~7 operations instead of Horner's 18, so more elements
 * are in flight (Knuth, TAOCP vol. 2, 4.6.4); 1 + r is added last, to a
 * tail that is itself accurate to a few ulps. Measured in double by the
 * script: at most 1 ulp from the correctly rounded exp(r).
 */
#define VEXP_C0 0x1.0000000000001p-1
#define VEXP_C1 0x1.5555555555556p-3
#define VEXP_C2 0x1.5555555553d68p-5
#define VEXP_C3 0x1.11111111109b5p-7
#define VEXP_C4 0x1.6c16c17889ef1p-10
#define VEXP_C5 0x1.a01a01a7c2efep-13
#define VEXP_C6 0x1.a019b9149a41cp-16
#define VEXP_C7 0x1.71de0db2f6b19p-19
#define VEXP_C8 0x1.28917c89a43a7p-22
#define VEXP_C9 0x1.af389ecfc4b9cp-26

static inline double vexp_poly(double r)
{
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double a0 = VEXP_C0 + r * VEXP_C1;
    double a1 = VEXP_C2 + r * VEXP_C3;
    double a2 = VEXP_C4 + r * VEXP_C5;
    double a3 = VEXP_C6 + r * VEXP_C7;
    double a4 = VEXP_C8 + r * VEXP_C9;
    double q = ((a0 + r2 * a1) + r4 * (a2 + r2 * a3)) + r8 * a4;

    return 1.0 + (r + r2 * q);
}

/* x within [VEXP_MIN, VEXP_MAX]; NaN stays NaN (both tests are false). */
static inline double vexp_clamp(double x)
{
    x = x < VEXP_MIN ? VEXP_MIN : x;
    return x > VEXP_MAX ? VEXP_MAX : x;
}

/* exp(x) for x in [VEXP_MIN, VEXP_MAX] or NaN. */
static inline double vexp_one(double x)
{
    double t, k, k1, r, p, y;

    t = x * LOG2E + ROUND_MAGIC;
    k = t - ROUND_MAGIC;                      /* round(x / ln2), exact */
    r = (x - k * LN2_HI) - k * LN2_LO;

    p = vexp_poly(r);

    /* k = k1 + (k - k1) with both halves in [-538, 512]: normal powers */
    k1 = (k * 0.5 + ROUND_MAGIC) - ROUND_MAGIC;
    y = p * vexp_pow2_from_magic(k1 + ROUND_MAGIC) *
        vexp_pow2_from_magic((k - k1) + ROUND_MAGIC);
    return y;
}

/*
 * exp(x) for the x <= 0 of softmax and temperature scaling, cheaper: x is
 * first clamped with vexp_nonpos_clamp (at VEXP_FLUSH, NaN stays NaN).
 * One power of two, 2^k from the exponent bits, instead of two: for k >=
 * -1022 (x > -708.74) the result has exactly the bits of vexp_one (a
 * result p 2^k rounds the same with one power of two as with two), and
 * for k = -1023 (x <= -708.74, VEXP_FLUSH included) the exponent field is
 * 0, so 2^k reads as +0 and the result is 0 instead of a value below
 * 1.6e-308, which no sum with a term exp(0) = 1 or a probability rounded
 * to 2^-52 can see. No select on the result (gcc's AVX2 and SSE2 copies
 * would not vectorise one), one comparison instead of two: about a
 * fifth fewer operations than vexp_clamp + vexp_one. Also right for
 * 0 < x <= 709 (k <= 1023).
 */
#define VEXP_FLUSH (-709.0)

static inline double vexp_nonpos_clamp(double x)
{
    return x < VEXP_FLUSH ? VEXP_FLUSH : x;
}

static inline double vexp_nonpos(double x)
{
    double t, k, r, p;

    t = x * LOG2E + ROUND_MAGIC;
    k = t - ROUND_MAGIC;
    r = (x - k * LN2_HI) - k * LN2_LO;
    p = vexp_poly(r);

    /* t holds ROUND_MAGIC + k, k in [-1023, 1023]; k = -1023 gives +0 */
    return p * vexp_pow2_from_magic(t);
}

#endif /* CALIB_VEXP_IMPL_H */
