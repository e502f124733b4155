/* test_temperature_scale.c - temperature scaling is exact at any logit
 * scale: the optimum for logits s z is s times the optimum for z, with
 * the same NLL, for s from 1e-9 to 1e6; degenerate data still ends at a
 * bound with its status. */
#include "check.h"
#include "calib.h"

#include <stdint.h>

static uint64_t state = 0x2545f4914f6cdd1du;

static double uniform(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (double)(state >> 11) / 9007199254740992.0;
}

static double fit(const double *z, size_t n, size_t k, const int64_t *y,
                  calib_fit_info *info, int *ok)
{
    calib_matrix m = {n, k, CALIB_FLOAT64, (void *)(uintptr_t)z};
    calib_fit_options opt;
    calib_model *model = NULL;
    calib_error err;
    double t;

    calib_fit_options_default(&opt);
    *ok = calib_fit(CALIB_TEMPERATURE, &m, CALIB_LOGITS, y, &opt, &model,
                    &err) == CALIB_OK;
    if (!*ok) {
        printf("fit failed: %s\n", err.message);
        return 0.0;
    }
    t = calib_model_temperature(model);
    *info = *calib_model_fit_info(model);
    calib_model_free(model);
    return t;
}

int main(void)
{
    enum { N = 5000, K = 5 };   /* >= 4096 rows: the subsample start too */
    static double z[N * K], zs[N * K];
    static int64_t y[N];
    const double scales[] = {1e-300, 1e-150, 1e-9, 1e-5, 1e-2, 1.0, 37.5,
                             1e4, 1e6, 1e10, 1e150, 1e300};
    calib_fit_info ref_info, info;
    double t_ref;
    int ok;

    /* overconfident synthetic logits: the label is drawn from softmax(z/2) */
    for (size_t i = 0; i < N; i++) {
        double p[K], sum = 0.0, u = uniform(), acc = 0.0;
        for (size_t j = 0; j < K; j++) {
            z[i * K + j] = 6.0 * (uniform() - 0.5);
            p[j] = exp(z[i * K + j] / 2.0);
            sum += p[j];
        }
        y[i] = K - 1;
        for (size_t j = 0; j < K; j++) {
            acc += p[j] / sum;
            if (u < acc) {
                y[i] = (int64_t)j;
                break;
            }
        }
    }
    t_ref = fit(z, N, K, y, &ref_info, &ok);
    CHECK(ok);
    CHECK(strcmp(ref_info.status, "converged") == 0);
    CHECK(t_ref > 1.5 && t_ref < 2.5);

    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        for (size_t i = 0; i < N * K; i++)
            zs[i] = z[i] * scales[s];
        double t = fit(zs, N, K, y, &info, &ok);
        CHECK(ok);
        CHECK(strcmp(info.status, "converged") == 0);
        CHECK_REL(t / scales[s], t_ref, 1e-9);
        CHECK_REL(info.nll_after, ref_info.nll_after, 1e-12);
        /* the NLL of s z at beta is that of z at s beta, so d NLL / d beta
         * scales as s: near 0 in units of the unscaled one */
        CHECK(isfinite(info.gradient) &&
              info.gradient / scales[s] < 1e-9);
        if (!ok || strcmp(info.status, "converged") != 0 ||
            fabs(t / scales[s] / t_ref - 1.0) > 1e-9)
            printf("  scale %g: T %.17g, status %s, %zu iterations\n",
                   scales[s], t, info.status, info.iterations);
    }

    /* rows almost one-hot at the start (f'' ~ 1e-262, f''' < 0), where
     * Halley's step crept 0.003 per pass and ran out of iterations: the
     * optimum of {[0, -600] x 3, labels 0, 0, 1} is T = 600 / ln 2 */
    {
        double z3[6] = {0, -600, 0, -600, 0, -600};
        int64_t y3[3] = {0, 0, 1};
        double t3 = fit(z3, 3, 2, y3, &info, &ok);
        CHECK(ok && strcmp(info.status, "converged") == 0);
        CHECK_REL(t3, 600.0 / log(2.0), 1e-9);
        CHECK(info.iterations < 20);
    }

    /* logits in the subnormal range: scaled by a power of two first */
    for (size_t i = 0; i < N * K; i++)
        zs[i] = z[i] * 1e-300 * 1e-10;
    {
        double t_sub = fit(zs, N, K, y, &info, &ok);
        CHECK(ok && strcmp(info.status, "converged") == 0);
        CHECK(t_sub > 0.0 && t_sub < 1e-300);
        CHECK(isfinite(info.nll_after) && isfinite(info.nll_before));
        CHECK_REL(info.nll_after, ref_info.nll_after, 1e-6);
    }

    /* one row spanning 1e308 to -1e308 (its range overflows a double):
     * no crash, no NaN; the row dominates, the NLL is finite */
    memcpy(zs, z, sizeof zs);
    zs[7 * K + 0] = 1e308;
    zs[7 * K + 1] = -1e308;
    (void)fit(zs, N, K, y, &info, &ok);
    CHECK(ok && isfinite(info.nll_after) && isfinite(info.gradient));

    /* constant logits: no optimum, T at its upper bound */
    for (size_t i = 0; i < N * K; i++)
        zs[i] = 0.25;
    (void)fit(zs, N, K, y, &info, &ok);
    CHECK(ok && strcmp(info.status, "temperature-to-infinity") == 0);

    /* every label the unique arg max: T -> 0, bounded */
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < K; j++)
            zs[i * K + j] = (int64_t)j == y[i] ? 1.0 : 0.0;
    double t0 = fit(zs, N, K, y, &info, &ok);
    CHECK(ok && strcmp(info.status, "temperature-to-zero") == 0);
    CHECK(t0 > 0.0 && isfinite(t0));
    /* a NaN or infinite logit, even -inf where it would only give a
     * probability of 0, is refused with its row named */
    for (int bad = 0; bad < 2; bad++) {
        calib_matrix m = {N, K, CALIB_FLOAT64, zs};
        calib_model *model = NULL;
        calib_error err;

        memcpy(zs, z, sizeof zs);
        zs[1234 * K + 3] = bad == 0 ? NAN : -INFINITY;
        CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, &m, CALIB_LOGITS, y, NULL,
                               &model, &err), CALIB_E_VALUE);
        CHECK(err.row == 1234 && model == NULL);
    }
    return check_done("test_temperature_scale");
}
