/*
 * xsum.c - exact, order-independent sums in 128-bit fixed point.
 *
 * A value is held as hi + lo * 2^-64 with hi a signed and lo an unsigned
 * 64-bit word. Each double added is first rounded toward minus infinity to
 * a multiple of 2^-64 (an absolute error below 5.5e-20 per term); from
 * then on everything is integer arithmetic, which is associative, so the
 * sum of a set of values has the same bits whatever order, chunking,
 * threading or merging produced it. This is what makes calib's metric
 * accumulators mergeable across threads and machines.
 */
#include "internal.h"

#include <math.h>

/* 2^64 as a double: exact. */
#define TWO_64 18446744073709551616.0

void calib_xsum_add(calib_xsum *s, double x)
{
    double whole = floor(x);
    double frac = x - whole;  /* exact, in [0, 1) */
    uint64_t lo = (uint64_t)(frac * TWO_64);

    s->hi += (int64_t)whole;
    s->lo += lo;
    if (s->lo < lo)
        s->hi += 1;
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
    return (double)s->hi + ldexp((double)s->lo, -64);
}
