/*
 * test_temperature_fast.c - the fast temperature fit (src/temperature.c)
 * against a slow reference, across dtypes, row lengths and threads.
 *
 * The reference finds the root of d NLL / d beta (beta = 1 / T) by
 * bisection with libm's exp, to a relative 1e-14; the fit must agree to
 * 1e-11 (the slope's own rounding limits both). Float32 logits and the same
 * values as float64 give the same bits, and so do 1, 2, 3 and all
 * threads. Row lengths cover one chunk, several, and a padded tail; row
 * counts cover fits with and without the subsample start.
 */
#include "check.h"
#include "internal.h"

#include <stdint.h>

static uint64_t rng_state = UINT64_C(20261204);

static double uniform01(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* Over-confident logits, rounded to float32 so both dtypes hold them. */
static void make_data(size_t n, size_t k, float *zf, double *zd,
                      int64_t *y)
{
    for (size_t i = 0; i < n; i++) {
        size_t lift = (size_t)(uniform01() * (double)k) % k;
        y[i] = uniform01() < 0.7 ? (int64_t)lift
                                 : (int64_t)((size_t)(uniform01() *
                                                      (double)k) % k);
        for (size_t j = 0; j < k; j++) {
            double v = 3.0 * (uniform01() * 2.0 - 1.0);
            if (j == lift)
                v += 6.0;
            zf[i * k + j] = (float)v;
            zd[i * k + j] = (double)zf[i * k + j];
        }
    }
}

static double mean_nll(const double *z, size_t n, size_t k,
                       const int64_t *y, double t)
{
    double sum = 0.0;

    for (size_t i = 0; i < n; i++) {
        const double *r = z + i * k;
        double m = r[0], s = 0.0;
        for (size_t j = 1; j < k; j++)
            m = r[j] > m ? r[j] : m;
        for (size_t j = 0; j < k; j++)
            s += exp((r[j] - m) / t);
        sum += log(s) - (r[y[i]] - m) / t;
    }
    return sum / (double)n;
}

/* d NLL / d beta = mean_i (E_p[z_i] - z_iy), p = softmax(beta z_i). */
static double nll_slope(const double *z, size_t n, size_t k,
                        const int64_t *y, double beta)
{
    double sum = 0.0;

    for (size_t i = 0; i < n; i++) {
        const double *r = z + i * k;
        double m = r[0], s = 0.0, s1 = 0.0;
        for (size_t j = 1; j < k; j++)
            m = r[j] > m ? r[j] : m;
        for (size_t j = 0; j < k; j++) {
            double e = exp(beta * (r[j] - m));
            s += e;
            s1 += e * r[j];
        }
        sum += s1 / s - r[y[i]];
    }
    return sum / (double)n;
}

/* The root of the slope by plain bisection on beta, to a relative 1e-14,
 * inside [beta0 (1 - 1e-6), beta0 (1 + 1e-6)]; 0 if the slope does not
 * change sign there (then the fit is off by more than 1e-6). */
static double reference_temperature(const double *z, size_t n, size_t k,
                                    const int64_t *y, double beta0)
{
    double lo = beta0 * (1.0 - 1e-6), hi = beta0 * (1.0 + 1e-6);

    if (!(nll_slope(z, n, k, y, lo) < 0.0 && nll_slope(z, n, k, y, hi) > 0.0))
        return 0.0;
    while (hi - lo > 1e-14 * lo) {
        double mid = 0.5 * (lo + hi);
        if (nll_slope(z, n, k, y, mid) < 0.0)
            lo = mid;
        else
            hi = mid;
    }
    return 2.0 / (lo + hi);
}

static void check_case(size_t n, size_t k)
{
    float *zf = calib_malloc(n * k * sizeof *zf);
    double *zd = calib_malloc(n * k * sizeof *zd);
    int64_t *y = calib_malloc(n * sizeof *y);
    calib_matrix mf = {n, k, CALIB_FLOAT32, zf}, md = {n, k, CALIB_FLOAT64, zd};
    unsigned threads[] = {1, 2, 3, 0};
    calib_fit_options opt;
    calib_model *model = NULL;
    double t_ref = 0.0, t1 = 0.0;

    CHECK(zf != NULL && zd != NULL && y != NULL);
    if (zf == NULL || zd == NULL || y == NULL)
        goto out;
    make_data(n, k, zf, zd, y);
    calib_fit_options_default(&opt);

    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        for (int dtype = 0; dtype < 2; dtype++) {
            double temp;
            opt.threads = threads[t];
            CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, dtype ? &md : &mf,
                                   CALIB_LOGITS, y, &opt, &model, NULL),
                         CALIB_OK);
            if (model == NULL)
                continue;
            temp = calib_model_temperature(model);
            CHECK(strcmp(calib_model_fit_info(model)->status,
                         "converged") == 0);
            if (t == 0 && dtype == 0) {
                t1 = temp;
                /* nll_after is the NLL at the returned T */
                CHECK_REL(calib_model_fit_info(model)->nll_after,
                          mean_nll(zd, n, k, y, temp), 1e-14);
                CHECK_REL(calib_model_fit_info(model)->nll_before,
                          mean_nll(zd, n, k, y, 1.0), 1e-12);
            } else {
                CHECK(memcmp(&temp, &t1, sizeof temp) == 0);
            }
            calib_model_free(model);
            model = NULL;
        }
    }
    t_ref = reference_temperature(zd, n, k, y, 1.0 / t1);
    printf("  n %zu, k %zu: T %.17g, bisection %.17g\n", n, k, t1,
           t_ref);
    CHECK_REL(t1, t_ref, 1e-11);
out:
    calib_free(zf);
    calib_free(zd);
    calib_free(y);
}

/*
 * A NaN or infinite logit is found by the fit's first pass (no check
 * before it), in a row that the subsample start reads (a multiple of 16)
 * or not, and is refused with its row and column, as by calib_fit's own
 * check for the other methods.
 */
static void check_not_finite(size_t n, size_t k)
{
    const double bad[] = {NAN, INFINITY, -INFINITY};
    const size_t rows[] = {0, 16 * 100, 16 * 100 + 5, n - 1};
    float *zf = calib_malloc(n * k * sizeof *zf);
    double *zd = calib_malloc(n * k * sizeof *zd);
    int64_t *y = calib_malloc(n * sizeof *y);
    calib_matrix mf = {n, k, CALIB_FLOAT32, zf}, md = {n, k, CALIB_FLOAT64, zd};
    calib_model *model = NULL;
    calib_error err;

    CHECK(zf != NULL && zd != NULL && y != NULL);
    if (zf == NULL || zd == NULL || y == NULL)
        goto out;
    make_data(n, k, zf, zd, y);
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            size_t i = rows[r], j = (i * 7 + b) % k;
            char want[64];

            snprintf(want, sizeof want, " in column %zu is not finite", j);
            zf[i * k + j] = (float)bad[b];
            zd[i * k + j] = bad[b];
            for (int dtype = 0; dtype < 2; dtype++) {
                memset(&err, 0, sizeof err);
                CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, dtype ? &md : &mf,
                                       CALIB_LOGITS, y, NULL, &model, &err),
                             CALIB_E_VALUE);
                CHECK(model == NULL);
                CHECK(err.row == (int64_t)i);
                CHECK(strstr(err.message, want) != NULL &&
                      strncmp(err.message, "row ", 4) == 0 &&
                      strstr(err.message, "logit ") != NULL);
                calib_model_free(model);
                model = NULL;
            }
            zf[i * k + j] = 0.5f;
            zd[i * k + j] = 0.5;
        }
    }
out:
    calib_free(zf);
    calib_free(zd);
    calib_free(y);
}

int main(void)
{
    check_not_finite(4100, 300);
    check_case(500, 3);       /* no subsample start, tiny rows */
    check_case(4100, 257);    /* subsample start, one chunk + 1 */
    check_case(4100, 300);    /* two chunks, padded tail */
    check_case(20000, 10);
    return check_done("test_temperature_fast");
}
