/*
 * test_binary_column.c - the single-column path of calib_fit for the
 * binary maps (src/model.c: fit_column, column_input_nll, apply_column)
 * against the definitions of its diagnostics and against the two-column
 * path.
 *
 * For each binary method, input kind and dtype, on random data with
 * ordinary and extreme values (logits up to +-800, probabilities 0 and
 * 1 where the labels allow a finite NLL): nll_before must equal the mean
 * of -log p_y of the input computed here in long double with libm's
 * log1pl/expl, nll_after the mean of -log of calib_model_apply's
 * probability of the label, both within 1e-12 relative; the fitted maps
 * and predictions must be bit-identical to those of the same data given
 * as two columns ([1 - p, p] or [0, s]).
 */
#include "check.h"
#include "calib.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = UINT64_C(0x853c49e6748fea9b);

static double rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static long double def_nll_before(const double *v, const int64_t *y,
                                  size_t n, calib_input input)
{
    long double sum = 0.0L;
    for (size_t i = 0; i < n; i++) {
        long double x = v[i];
        if (input == CALIB_PROBS) {
            sum -= logl(y[i] == 1 ? x : 1.0L - x);
        } else {
            long double t = y[i] == 1 ? -x : x;
            sum += t > 0 ? t + log1pl(expl(-t)) : log1pl(expl(t));
        }
    }
    return sum / (long double)n;
}

static void run(calib_method method, calib_input input, calib_dtype dtype,
                int extreme, size_t n)
{
    double *v = malloc(n * sizeof *v), *v2 = malloc(2 * n * sizeof *v2);
    float *f = malloc(n * sizeof *f), *f2 = malloc(2 * n * sizeof *f2);
    int64_t *y = malloc(n * sizeof *y);
    double *q1 = malloc(2 * n * sizeof *q1), *q2 = malloc(2 * n * sizeof *q2);
    calib_model *m1 = NULL, *m2 = NULL;
    calib_error err;

    CHECK(v && v2 && f && f2 && y && q1 && q2);
    if (!(v && v2 && f && f2 && y && q1 && q2))
        goto out;
    for (size_t i = 0; i < n; i++) {
        double s = 3.0 * (rnd() - 0.5) * 2.0;
        if (extreme && i % 7 == 0)
            s = (rnd() < 0.5 ? -1.0 : 1.0) * (40.0 + 760.0 * rnd());
        y[i] = rnd() < 1.0 / (1.0 + exp(-(0.7 * s + 0.2))) ? 1 : 0;
        if (input == CALIB_PROBS) {
            double p = 1.0 / (1.0 + exp(-s));
            /* p exactly 0 or 1 only where the label keeps it finite */
            if (extreme && i % 11 == 0)
                p = (double)y[i];
            v[i] = p;
        } else {
            v[i] = s;
        }
        if (dtype == CALIB_FLOAT32) {
            f[i] = (float)v[i];
            v[i] = (double)f[i];
        }
        v2[2 * i] = input == CALIB_PROBS ? 1.0 - v[i] : 0.0;
        v2[2 * i + 1] = v[i];
        f2[2 * i] = (float)v2[2 * i];
        f2[2 * i + 1] = f[i];
    }
    {
        calib_matrix x1 = {n, 1, dtype, NULL};
        calib_matrix x2 = {n, 2, CALIB_FLOAT64, v2};
        const calib_fit_info *info;
        long double want, got_sum = 0.0L;

        if (dtype == CALIB_FLOAT32)
            x1.data = f;
        else
            x1.data = v;

        CHECK_STATUS(calib_fit(method, &x1, input, y, NULL, &m1, &err),
                     CALIB_OK);
        if (m1 == NULL)
            goto out;
        info = calib_model_fit_info(m1);
        want = def_nll_before(v, y, n, input);
        CHECK_REL(info->nll_before, (double)want, 1e-12);
        CHECK_STATUS(calib_model_apply(m1, &x1, input, q1, &err), CALIB_OK);
        for (size_t i = 0; i < n; i++)
            got_sum -= logl(q1[2 * i + (size_t)y[i]]);
        CHECK_REL(info->nll_after, (double)(got_sum / (long double)n),
                  1e-12);

        /* the same data as two columns: same map, same predictions
         * (float32 two-column rows [1 - p, p] are not the same values,
         * so compare on float64 only) */
        if (dtype == CALIB_FLOAT64 && !(input == CALIB_PROBS && extreme)) {
            CHECK_STATUS(calib_fit(method, &x2, input, y, NULL, &m2, &err),
                         CALIB_OK);
            if (m2 == NULL)
                goto out;
            CHECK_STATUS(calib_model_apply(m2, &x1, input, q2, &err),
                         CALIB_OK);
            CHECK(memcmp(q1, q2, 2 * n * sizeof *q1) == 0);
            CHECK_REL(calib_model_fit_info(m2)->nll_after, info->nll_after,
                      1e-12);
            CHECK_REL(calib_model_fit_info(m2)->nll_before,
                      info->nll_before, 1e-12);
        }
    }
out:
    calib_model_free(m1);
    calib_model_free(m2);
    free(v);
    free(v2);
    free(f);
    free(f2);
    free(y);
    free(q1);
    free(q2);
}

int main(void)
{
    static const calib_method methods[4] = {CALIB_PLATT, CALIB_BETA,
                                            CALIB_ISOTONIC,
                                            CALIB_HISTOGRAM};
    for (int m = 0; m < 4; m++)
        for (int in = 0; in < 2; in++)
            for (int d = 0; d < 2; d++)
                for (int ex = 0; ex < 2; ex++)
                    run(methods[m], in ? CALIB_PROBS : CALIB_LOGITS,
                        d ? CALIB_FLOAT32 : CALIB_FLOAT64, ex,
                        ex ? 1003 : 5000);
    return check_done("test_binary_column");
}
