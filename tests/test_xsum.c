/* test_xsum.c - the exact fixed-point sums behind mergeable metrics. */
#include "check.h"
#include "internal.h"

#include <stdint.h>

static uint64_t state = 0x9e3779b97f4a7c15u;

static double uniform(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (double)(state >> 11) / 9007199254740992.0;
}

int main(void)
{
    enum { N = 20000 };
    static double x[N];
    calib_xsum a = {0, 0}, b = {0, 0}, part[7];
    long double ref = 0.0L;

    /* small negatives once broke the fractional split */
    calib_xsum_add(&a, -1e-17);
    CHECK_NEAR(calib_xsum_value(&a), -1e-17, 1e-19);
    calib_xsum_add(&a, 1e-17);
    CHECK(a.hi == 0 && a.lo == 0);
    calib_xsum_add(&a, -2.5);
    CHECK(calib_xsum_value(&a) == -2.5);
    calib_xsum_add(&a, 3.75);
    CHECK(calib_xsum_value(&a) == 1.25);

    /* mixed signs and magnitudes: the same bits in any order or split */
    for (size_t i = 0; i < N; i++) {
        double u = uniform();
        x[i] = (uniform() < 0.3 ? -1.0 : 1.0) * u * (i % 3 == 0 ? 1e3 : 1e-3);
        ref += (long double)x[i];
    }
    a.hi = 0, a.lo = 0;
    for (size_t i = 0; i < N; i++)
        calib_xsum_add(&a, x[i]);
    for (size_t i = N; i-- > 0;)
        calib_xsum_add(&b, x[i]);
    CHECK(a.hi == b.hi && a.lo == b.lo);

    for (int p = 0; p < 7; p++)
        part[p].hi = 0, part[p].lo = 0;
    for (size_t i = 0; i < N; i++)
        calib_xsum_add(&part[(i * 7919) % 7], x[i]);
    b.hi = 0, b.lo = 0;
    for (int p = 6; p >= 0; p--)
        calib_xsum_merge(&b, &part[p]);
    CHECK(a.hi == b.hi && a.lo == b.lo);

    /* within the 2^-64 grid of the long double sum */
    CHECK_NEAR(calib_xsum_value(&a), (double)ref, 1e-9);
    return check_done("test_xsum");
}
