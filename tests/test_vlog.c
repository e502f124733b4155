/*
 * test_vlog.c - calib_vlog against the C library's log.
 *
 * glibc's log is correctly rounded in nearly all cases, so the error of
 * calib_vlog is measured in ulps of glibc's result: at most 4 ulp (the
 * bound documented in src/internal.h) over normal positive x, from
 * random bit patterns (every exponent), values near 1 (where log is
 * small and relative accuracy is hardest) and the probabilities of the
 * NLL sums. Special inputs (0, subnormals, inf, negatives, NaN) must give
 * exactly libm's result, and the blocked path, the tail and
 * calib_log_scalar the same bits, in place too.
 */
#include "check.h"
#include "internal.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

#define N_RANDOM 200000

static uint64_t rng_state = UINT64_C(0x2545f4914f6cdd1d);

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double uniform(double lo, double hi)
{
    double u = (double)(rng_next() >> 11) * 0x1.0p-53;
    return lo + (hi - lo) * u;
}

static double ulp_error(double got, double want)
{
    double ulp;

    if (got == want)
        return 0.0;
    if (!isfinite(want) || !isfinite(got))
        return HUGE_VAL;
    ulp = nextafter(fabs(want), HUGE_VAL) - fabs(want);
    return fabs(got - want) / ulp;
}

/* 0: random bit patterns of positive normal doubles; 1: near 1; 2: in
 * (0, 1). Returns the largest error in ulps. */
static double check_kind(int kind, size_t n)
{
    double *x = calib_malloc(n * sizeof *x);
    double *y = calib_malloc(n * sizeof *y);
    double worst = 0.0;

    CHECK(x != NULL && y != NULL);
    if (x == NULL || y == NULL) {
        calib_free(x);
        calib_free(y);
        return HUGE_VAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (kind == 0) {
            uint64_t u;
            do
                u = rng_next() >> 1;
            while (u < UINT64_C(0x0010000000000000) ||
                   u >= UINT64_C(0x7ff0000000000000));
            memcpy(&x[i], &u, sizeof u);
        } else if (kind == 1) {
            x[i] = 1.0 + uniform(-1e-3, 1e-3) * uniform(0.0, 1.0);
        } else {
            x[i] = uniform(0.0, 1.0);
            if (x[i] < DBL_MIN)
                x[i] = 0.5;
        }
    }
    calib_vlog(x, y, n);
    for (size_t i = 0; i < n; i++) {
        double e = ulp_error(y[i], log(x[i]));
        if (e > worst)
            worst = e;
        if (calib_log_scalar(x[i]) != y[i] && worst < HUGE_VAL) {
            CHECK(calib_log_scalar(x[i]) == y[i]);
            worst = HUGE_VAL;
        }
    }
    calib_free(x);
    calib_free(y);
    return worst;
}

static void check_special(void)
{
    /* 37 values: two full blocks and a tail, specials in both */
    double x[37], y[37], z[37];
    const double sp[] = {0.0, -0.0, 0x1p-1074, 0x1.8p-1030, DBL_MIN,
                         DBL_MAX, INFINITY, -1.0, NAN, 1.0, 2.0, 0.5};
    size_t n_sp = sizeof sp / sizeof sp[0];

    for (size_t i = 0; i < 37; i++)
        x[i] = i < n_sp ? sp[i] : sp[i % n_sp];
    x[36] = 0.0;
    x[35] = -INFINITY;
    calib_vlog(x, y, 37);
    memcpy(z, x, sizeof x);
    calib_vlog(z, z, 37);
    for (size_t i = 0; i < 37; i++) {
        double want = log(x[i]);
        if (isnan(want)) {
            CHECK(isnan(y[i]) && isnan(z[i]));
        } else if (x[i] >= DBL_MIN && x[i] <= DBL_MAX) {
            CHECK(ulp_error(y[i], want) <= 4.0);
            CHECK(memcmp(&y[i], &z[i], sizeof y[i]) == 0);
        } else {
            CHECK(memcmp(&y[i], &want, sizeof want) == 0);
            CHECK(memcmp(&z[i], &want, sizeof want) == 0);
        }
    }
    CHECK(y[9] == 0.0);  /* log(1) = 0 exactly */
}

int main(void)
{
    double w0 = check_kind(0, N_RANDOM);
    double w1 = check_kind(1, N_RANDOM);
    double w2 = check_kind(2, N_RANDOM);

    printf("calib_vlog: worst %.3g ulp (all exponents), %.3g (near 1), "
           "%.3g (in (0, 1))\n", w0, w1, w2);
    CHECK(w0 <= 4.0);
    CHECK(w1 <= 4.0);
    CHECK(w2 <= 4.0);
    check_special();
    return check_done("test_vlog");
}
