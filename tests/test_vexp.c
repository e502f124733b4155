/*
 * test_vexp.c - calib_vexp against the C library's exp over many ranges.
 *
 * glibc's exp is correctly rounded in nearly all cases (its documented
 * error is below 1 ulp), so the error of calib_vexp is measured in ulps of
 * glibc's result: at most 2 ulp for normal results (the bound documented
 * in src/internal.h), at most one unit of the smallest subnormal for
 * subnormal results. Also checked: exp(0) = 1 exactly, underflow to 0,
 * overflow to inf, NaN, and that the blocked (vector) path, the tail and
 * calib_exp_scalar give the same bits, in place too.
 */
#include "check.h"
#include "internal.h"

#include <float.h>
#include <stdint.h>

#define N_RANDOM 200000

/* A fixed-seed generator (splitmix64), so failures reproduce. */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

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

/* The error of got against want in ulps of want (subnormal: of the
 * smallest subnormal). */
static double ulp_error(double got, double want)
{
    double ulp;

    if (got == want)
        return 0.0;
    if (!isfinite(want) || !isfinite(got))
        return HUGE_VAL;
    ulp = nextafter(want, HUGE_VAL) - want;
    if (want < DBL_MIN)
        ulp = 0x1.0p-1074;
    return fabs(got - want) / ulp;
}

/* Runs n values from [lo, hi] through calib_vexp; returns the largest
 * error in ulps among normal results (and checks subnormal ones). */
static double check_range(double lo, double hi, size_t n)
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
    for (size_t i = 0; i < n; i++)
        x[i] = uniform(lo, hi);
    calib_vexp(x, y, n);
    for (size_t i = 0; i < n; i++) {
        double want = exp(x[i]);
        double e = ulp_error(y[i], want);

        if (want >= DBL_MIN) {
            if (e > worst)
                worst = e;
        } else if (e > 1.0) {
            CHECK(e <= 1.0);
            printf("  subnormal: exp(%.17g) = %.17g, want %.17g\n", x[i],
                   y[i], want);
        }
    }
    calib_free(x);
    calib_free(y);
    return worst;
}

static void test_ranges(void)
{
    static const double ranges[][2] = {
        {-745.2, 709.8},    /* the whole domain of finite results */
        {-1.0, 1.0},
        {-0.35, 0.35},      /* inside the reduced range */
        {-1e-8, 1e-8},
        {-40.0, 0.0},       /* softmax of typical logits: x - max <= 0 */
        {-745.2, -708.0},   /* subnormal results */
        {-708.5, -700.0},
        {700.0, 709.78},    /* near overflow */
    };
    double worst_all = 0.0;

    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        double worst = check_range(ranges[r][0], ranges[r][1], N_RANDOM);
        printf("  [%g, %g]: max error %.3f ulp\n", ranges[r][0],
               ranges[r][1], worst);
        CHECK(worst <= 2.0);
        if (worst > worst_all)
            worst_all = worst;
    }
    printf("  overall max error %.3f ulp (bound 2)\n", worst_all);
}

/* Integers k ln2 and their neighbours: the reduction's edges. */
static void test_reduction_edges(void)
{
    double worst = 0.0;

    for (int k = -1074; k <= 1023; k++) {
        double c = (double)k * 0.69314718055994530942;
        double xs[3] = {c, nextafter(c, -HUGE_VAL), c + 0.34657359};
        double ys[3];

        calib_vexp(xs, ys, 3);
        for (int j = 0; j < 3; j++) {
            double want = exp(xs[j]);
            if (want >= DBL_MIN && isfinite(want)) {
                double e = ulp_error(ys[j], want);
                if (e > worst)
                    worst = e;
            }
        }
    }
    printf("  k ln2 edges: max error %.3f ulp\n", worst);
    CHECK(worst <= 2.0);
}

static void test_special(void)
{
    double x[12] = {0.0, -0.0, -746.0, -745.2, -1e300, -HUGE_VAL, 710.0,
                    1e300, HUGE_VAL, NAN, 709.78, -745.13};
    double y[12];

    calib_vexp(x, y, 12);
    CHECK(y[0] == 1.0);
    CHECK(y[1] == 1.0);
    CHECK(y[2] == 0.0);
    CHECK(y[3] == 0.0);
    CHECK(y[4] == 0.0);
    CHECK(y[5] == 0.0);
    CHECK(isinf(y[6]) && y[6] > 0.0);
    CHECK(isinf(y[7]) && y[7] > 0.0);
    CHECK(isinf(y[8]) && y[8] > 0.0);
    CHECK(isnan(y[9]));
    CHECK(isfinite(y[10]) && ulp_error(y[10], exp(709.78)) <= 2.0);
    CHECK(ulp_error(y[11], exp(-745.13)) <= 1.0);
    CHECK(calib_exp_scalar(0.0) == 1.0);
    CHECK(calib_exp_scalar(1.0) == exp(1.0) ||
          ulp_error(calib_exp_scalar(1.0), exp(1.0)) <= 2.0);
}

/* Blocked path, tail and scalar function: one computation, same bits,
 * whatever the length, the offset, and in place. */
static void test_paths_agree(void)
{
    enum { LEN = 101 };
    double x[LEN], y[LEN], z[LEN];
    int same = 1;

    for (size_t i = 0; i < LEN; i++)
        x[i] = uniform(-50.0, 5.0);
    for (size_t n = 0; n <= LEN; n += 7) {
        for (size_t off = 0; off + n <= LEN && off < 5; off++) {
            calib_vexp(x + off, y, n);
            for (size_t i = 0; i < n; i++)
                if (y[i] != calib_exp_scalar(x[off + i]))
                    same = 0;
        }
    }
    CHECK(same);

    for (size_t i = 0; i < LEN; i++)
        z[i] = x[i];
    calib_vexp(z, z, LEN);
    calib_vexp(x, y, LEN);
    same = 1;
    for (size_t i = 0; i < LEN; i++)
        if (z[i] != y[i])
            same = 0;
    CHECK(same);
}

int main(void)
{
    test_ranges();
    test_reduction_edges();
    test_special();
    test_paths_agree();
    return check_done("test_vexp");
}
