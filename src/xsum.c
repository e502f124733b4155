/*
 * xsum.c - exact, order-independent sums in 128-bit fixed point.
 *
 * A value is held as hi + lo * 2^-64 with hi a signed and lo an unsigned
 * 64-bit word. Each double added is first rounded toward zero to a multiple
 * of 2^-64 (an absolute error below 5.5e-20 per term); from
 * then on everything is integer arithmetic, which is associative, so the
 * sum of a set of values has the same bits whatever order, chunking,
 * threading or merging produced it. This is what makes calib's metric
 * accumulators mergeable across threads and machines.
 */
#include "internal.h"

#include <math.h>

/* 2^64 as a double: exact. */
#define TWO_64 18446744073709551616.0

/* |x| as hi + lo * 2^-64, rounded toward zero to the 2^-64 grid. */
static calib_xsum magnitude(double x)
{
    double whole = floor(x);
    double frac = x - whole;  /* exact for x >= 0, in [0, 1) */
    calib_xsum m;

    m.hi = (int64_t)whole;
    m.lo = (uint64_t)(frac * TWO_64);
    return m;
}

void calib_xsum_add(calib_xsum *s, double x)
{
    calib_xsum m;

    /*
     * Work on |x|: for a tiny negative x, x - floor(x) would round to 1.0
     * and its conversion to 64 bits would be undefined. A negative term is
     * subtracted as the two's complement of its magnitude.
     */
    if (x >= 0.0) {
        m = magnitude(x);
    } else {
        m = magnitude(-x);
        m.hi = -m.hi - (m.lo != 0);
        m.lo = (uint64_t)0 - m.lo;
    }
    calib_xsum_merge(s, &m);
}

void calib_xsum_merge(calib_xsum *into, const calib_xsum *from)
{
    into->hi += from->hi;
    into->lo += from->lo;
    if (into->lo < from->lo)
        into->hi += 1;
}

double calib_xsum_value(const calib_xsum *s)
{
    uint64_t lo = s->lo;
    int64_t hi = s->hi;

    /* convert the magnitude, so that a small negative sum keeps its digits */
    if (hi < 0) {
        hi = -hi - (lo != 0);
        lo = (uint64_t)0 - lo;
        return -((double)hi + ldexp((double)lo, -64));
    }
    return (double)hi + ldexp((double)lo, -64);
}
