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

/* 2^k for an integer k in [-1022, 1023] held as ROUND_MAGIC + k. */
static inline double vexp_pow2_from_magic(double k_magic)
{
    uint64_t k_biased = vexp_bits_of(k_magic) - ROUND_MAGIC_BITS + 1023u;
    return vexp_double_of(k_biased << 52);
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
    y = p * vexp_pow2_from_magic(k1 + ROUND_MAGIC) *
        vexp_pow2_from_magic((k - k1) + ROUND_MAGIC);
    return y;
}

/*
 * exp(x) for the x <= 0 of softmax and temperature scaling, cheaper: x is
 * first clamped with vexp_nonpos_clamp (at VEXP_FLUSH, NaN stays NaN),
 * and for x > VEXP_FLUSH the result has exactly the bits of vexp_one
 * (the same reduction and polynomial; a normal result p 2^k is the same
 * with one power of two as with two), while x <= VEXP_FLUSH gives 0
 * instead of a value below 3.4e-308, which no sum with a term exp(0) = 1
 * or a probability rounded to 2^-52 can see. One comparison and one
 * power of two instead of two of each: about a fifth fewer operations.
 * Also correct for 0 < x <= 709 (k <= 1023).
 */
#define VEXP_FLUSH (-708.0)

static inline double vexp_nonpos_clamp(double x)
{
    return x < VEXP_FLUSH ? VEXP_FLUSH : x;
}

static inline double vexp_nonpos(double x)
{
    double t, k, r, r2, r4, r8, q, p, y;
    double a0, a1, a2, a3, a4, a5, b0, b1, b2;

    t = x * LOG2E + ROUND_MAGIC;
    k = t - ROUND_MAGIC;
    r = (x - k * LN2_HI) - k * LN2_LO;
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

    /* t holds ROUND_MAGIC + k with k in [-1021, 1023]: 2^k is normal */
    y = p * vexp_pow2_from_magic(t);
    return x == VEXP_FLUSH ? 0.0 : y;
}

#endif /* CALIB_VEXP_IMPL_H */
