/*
 * test_vexp_nonpos.c - vexp_nonpos (src/vexp_impl.h), the exp of the
 * softmax and temperature kernels, against calib_exp_scalar: the same bits
 * for every x in (-708.7, 0] (and up to 709), 0 for x <= -708.75 (where
 * exp(x) < 1.6e-308), NaN for NaN, with the clamp applied as the kernels
 * apply it.
 */
#include "check.h"
#include "internal.h"
#include "vexp_impl.h"

#include <math.h>
#include <stdint.h>

/* A deterministic uniform double in [lo, hi] (xorshift64*). */
static double uniform(uint64_t *state, double lo, double hi)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return lo + (hi - lo) *
                    ((double)((x * UINT64_C(2685821657736338717)) >> 11) *
                     0x1.0p-53);
}

static double nonpos(double x)
{
    return vexp_nonpos(vexp_nonpos_clamp(x));
}

int main(void)
{
    static const double ranges[][2] = {
        {-1e-300, 0.0}, {-1e-8, 0.0}, {-1.0, 0.0}, {-40.0, 0.0},
        {-707.9, -600.0}, {-708.7, -707.9}, {0.0, 709.0}};
    static const double edges[] = {
        0.0, -0.0, -0x1.0p-1074, -0.34657359027997264, -0.6931471805599453,
        -707.99999999999989, -708.0, -708.5, -708.7, -700.0, 709.0};
    uint64_t state = UINT64_C(0x9E3779B97F4A7C15);
    long mismatches = 0;

    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        for (int i = 0; i < 200000; i++) {
            double x = uniform(&state, ranges[r][0], ranges[r][1]);
            double a = nonpos(x), b = calib_exp_scalar(x);
            mismatches += memcmp(&a, &b, sizeof a) != 0;
        }
    }
    CHECK(mismatches == 0);
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        double a = nonpos(edges[i]), b = calib_exp_scalar(edges[i]);
        CHECK(memcmp(&a, &b, sizeof a) == 0);
    }
    CHECK(nonpos(0.0) == 1.0);

    /* below the flush point: 0 (exp < 1.6e-308 there) */
    CHECK(nonpos(-708.75) == 0.0);
    CHECK(nonpos(-709.0) == 0.0);
    CHECK(nonpos(-745.0) == 0.0);
    CHECK(nonpos(-1e300) == 0.0);
    CHECK(nonpos(-HUGE_VAL) == 0.0);
    CHECK(calib_exp_scalar(-708.75) < 1.6e-308);
    CHECK(nonpos(-708.7) > 0.0);
    CHECK(isnan(nonpos(NAN)));
    return check_done("test_vexp_nonpos");
}
