/*
 * test_scaling.c - vector, matrix and Dirichlet scaling on synthetic data:
 * analytic gradients against central differences, recovery of a known
 * map, the identity start, thread invariance, huge logits, bad input and
 * failed allocations. The real-data optimum checks are in
 * test_scaling_data.c.
 */
#include "check.h"
#include "scaling.h"
#include "scaling_objective.h"
#include "internal.h"

#include <stdint.h>

/* xorshift64*: a fixed stream, so each run sees the same data. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) * 0x1p-53;
}

static double gaussian(void)
{
    double u = uniform(), v = uniform();
    return sqrt(-2.0 * log(u + 0x1p-60)) * cos(6.283185307179586 * v);
}

/* A class drawn from softmax(z). */
static int64_t draw(const double *z, size_t k)
{
    double p[64], u = uniform(), acc = 0.0;

    calib_softmax(z, 1, k, p);
    for (size_t j = 0; j < k; j++) {
        acc += p[j];
        if (u < acc)
            return (int64_t)j;
    }
    return (int64_t)(k - 1);
}

static void options(calib_fit_options *opt, double l2, double lambda,
                    double mu)
{
    memset(opt, 0, sizeof *opt);
    opt->l2 = l2;
    opt->dirichlet_lambda = lambda;
    opt->dirichlet_mu = mu;
    opt->tolerance = 1e-12;
    opt->threads = 1;
}

static const calib_method methods[3] = {CALIB_VECTOR, CALIB_MATRIX,
                                        CALIB_DIRICHLET};

/* Random logits n x k with class-dependent scale, labels from a skewed
 * map of them, so that no method starts at its optimum. */
static void make_problem(size_t n, size_t k, double *x, int64_t *labels)
{
    double z[64];

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < k; j++)
            x[i * k + j] = 2.385 * gaussian() + 0.3 * (double)j;
        for (size_t j = 0; j < k; j++)
            z[j] = 0.6 * x[i * k + j] + 0.2 * x[i * k + (j + 1) % k] -
                   0.1 * (double)j;
        labels[i] = draw(z, k);
    }
}

static void test_gradient(void)
{
    enum { N = 300, K = 5 };
    static double x[N * K], logp[N * K];
    static int64_t y[N];
    double params[K * K + K], grad[K * K + K], f_plus, f_minus;
    calib_fit_options opt;

    make_problem(N, K, x, y);
    calib_log_softmax(x, N, K, logp);
    options(&opt, 0.0371, 0.0517, 0.0293);

    for (int m = 0; m < 3; m++) {
        calib_method method = methods[m];
        const double *in = method == CALIB_DIRICHLET ? logp : x;
        size_t np = calib_scaling_param_count(method, K);
        double gmax = 0.0, worst = 0.0;

        /* a point away from the identity, where every term matters */
        for (size_t j = 0; j < np; j++)
            params[j] = 0.4 * gaussian();
        for (size_t r = 0; r < K; r++)
            params[method == CALIB_VECTOR ? r : r * K + r] += 1.0;

        CHECK_STATUS(calib_scaling_objective(method, params, in, N, K, y,
                                             &opt, NULL, NULL, grad, NULL),
                     CALIB_OK);
        for (size_t j = 0; j < np; j++)
            gmax = fmax(gmax, fabs(grad[j]));
        for (size_t j = 0; j < np; j++) {
            double save = params[j], h = 1e-5, fd;
            params[j] = save + h;
            calib_scaling_objective(method, params, in, N, K, y, &opt,
                                    &f_plus, NULL, NULL, NULL);
            params[j] = save - h;
            calib_scaling_objective(method, params, in, N, K, y, &opt,
                                    &f_minus, NULL, NULL, NULL);
            params[j] = save;
            fd = (f_plus - f_minus) / (2.0 * h);
            worst = fmax(worst, fabs(fd - grad[j]));
        }
        printf("%s: max |grad| %.3g, max |grad - central diff| %.3g\n",
               method == CALIB_VECTOR ? "vector" :
               method == CALIB_MATRIX ? "matrix" : "dirichlet", gmax, worst);
        CHECK(gmax > 1e-3);
        CHECK(worst < 1e-6 * gmax);
    }
}

/* Objective = NLL + regulariser, with the regulariser written out here
 * independently of scaling.c. */
static void test_objective_terms(void)
{
    enum { N = 40, K = 3 };
    double x[N * K], probs[N * K], params[K * K + K];
    int64_t y[N];
    double f, nll, want_nll = 0.0, reg;
    calib_fit_options opt;

    make_problem(N, K, x, y);
    options(&opt, 0.25, 0.6, 0.45);
    for (size_t j = 0; j < K * K + K; j++)
        params[j] = 0.5 * gaussian();

    /* matrix: l2 * (|W - I|^2 + |b|^2) */
    calib_scaling_apply(CALIB_MATRIX, params, x, N, K, probs);
    for (size_t i = 0; i < N; i++)
        want_nll -= log(probs[i * K + (size_t)y[i]]);
    want_nll /= N;
    reg = 0.0;
    for (size_t r = 0; r < K; r++)
        for (size_t c = 0; c < K; c++) {
            double d = params[r * K + c] - (r == c ? 1.0 : 0.0);
            reg += d * d;
        }
    for (size_t j = 0; j < K; j++)
        reg += params[K * K + j] * params[K * K + j];
    CHECK_STATUS(calib_scaling_objective(CALIB_MATRIX, params, x, N, K, y,
                                         &opt, &f, &nll, NULL, NULL),
                 CALIB_OK);
    CHECK_REL(nll, want_nll, 1e-13);
    CHECK_REL(f, want_nll + 0.25 * reg, 1e-13);

    /* Dirichlet: lambda/(k(k-1)) sum_{r!=c} W^2 + mu/k |b|^2 */
    reg = 0.0;
    for (size_t r = 0; r < K; r++)
        for (size_t c = 0; c < K; c++)
            if (r != c)
                reg += params[r * K + c] * params[r * K + c];
    reg *= 0.6 / (K * (K - 1));
    for (size_t j = 0; j < K; j++)
        reg += 0.45 / K * params[K * K + j] * params[K * K + j];
    CHECK_STATUS(calib_scaling_objective(CALIB_DIRICHLET, params, x, N, K, y,
                                         &opt, &f, &nll, NULL, NULL),
                 CALIB_OK);
    CHECK_REL(f, want_nll + reg, 1e-13);

    /* vector: l2 * (|w - 1|^2 + |b|^2) */
    calib_scaling_apply(CALIB_VECTOR, params, x, N, K, probs);
    want_nll = 0.0;
    for (size_t i = 0; i < N; i++)
        want_nll -= log(probs[i * K + (size_t)y[i]]);
    want_nll /= N;
    reg = 0.0;
    for (size_t j = 0; j < K; j++)
        reg += (params[j] - 1.0) * (params[j] - 1.0) +
               params[K + j] * params[K + j];
    CHECK_STATUS(calib_scaling_objective(CALIB_VECTOR, params, x, N, K, y,
                                         &opt, &f, &nll, NULL, NULL),
                 CALIB_OK);
    CHECK_REL(f, want_nll + 0.25 * reg, 1e-13);
}

/* Labels drawn from softmax(w * z + b) with known w, b: vector scaling
 * recovers them within sampling error, and ends at a zero gradient. */
static void test_known_vector_map(void)
{
    enum { N = 40000, K = 3 };
    static double x[N * K];
    static int64_t y[N];
    const double w_true[K] = {0.5, 0.8, 0.35};  /* 1 / T per class */
    const double b_true[K] = {0.3, -0.2, 0.1};
    double params[2 * K], z[K], b_mean = 0.0, t_mean = 0.0;
    calib_fit_options opt;
    calib_fit_info info;

    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < K; j++) {
            x[i * K + j] = 3.0 * gaussian();
            z[j] = w_true[j] * x[i * K + j] + b_true[j];
        }
        y[i] = draw(z, K);
    }
    options(&opt, 0.0, 0.0, 0.0);
    CHECK_STATUS(calib_scaling_fit(CALIB_VECTOR, x, N, K, y, &opt, params,
                                   &info, NULL),
                 CALIB_OK);
    printf("known vector map: w %.4f %.4f %.4f, status %s, %zu iterations, "
           "gradient %.3g, NLL %.6f -> %.6f\n", params[0], params[1],
           params[2], info.status, info.iterations, info.gradient,
           info.nll_before, info.nll_after);

    /* w within ~5 standard errors (about 0.01 each at this N) */
    for (size_t j = 0; j < K; j++)
        CHECK_NEAR(params[j], w_true[j], 0.05);
    /* b only up to a common shift: compare centred */
    for (size_t j = 0; j < K; j++) {
        b_mean += params[K + j] / K;
        t_mean += b_true[j] / K;
    }
    for (size_t j = 0; j < K; j++)
        CHECK_NEAR(params[K + j] - b_mean, b_true[j] - t_mean, 0.05);
    CHECK(info.gradient < 1e-5);
    CHECK(strcmp(info.status, "converged") == 0);
    CHECK(info.n == N);
    CHECK(info.nll_after < info.nll_before);
    CHECK(info.iterations > 0);
}

/* On the same data, matrix scaling (which contains vector scaling) ends
 * no worse; every fit ends no worse than the identity; the final
 * gradient reported is the objective's. */
static void test_fits_end_well(void)
{
    enum { N = 3000, K = 4 };
    static double x[N * K], logp[N * K];
    static int64_t y[N];
    double params[K * K + K], grad[K * K + K], nll[3], f;
    calib_fit_options opt;
    calib_fit_info info;

    make_problem(N, K, x, y);
    calib_log_softmax(x, N, K, logp);
    options(&opt, 1e-4, 1e-3, 1e-3);

    for (int m = 0; m < 3; m++) {
        calib_method method = methods[m];
        const double *in = method == CALIB_DIRICHLET ? logp : x;
        size_t np = calib_scaling_param_count(method, K);
        double gmax = 0.0;

        CHECK_STATUS(calib_scaling_fit(method, in, N, K, y, &opt, params,
                                       &info, NULL),
                     CALIB_OK);
        printf("%s: status %s, %zu iterations, gradient %.3g, "
               "NLL %.9f -> %.9f\n", method == CALIB_VECTOR ? "vector" :
               method == CALIB_MATRIX ? "matrix" : "dirichlet", info.status,
               info.iterations, info.gradient, info.nll_before,
               info.nll_after);
        CHECK(strcmp(info.status, "converged") == 0);
        CHECK(info.gradient < 1e-7);
        CHECK(info.nll_after < info.nll_before);
        nll[m] = info.nll_after;

        calib_scaling_objective(method, params, in, N, K, y, &opt, &f,
                                NULL, grad, NULL);
        for (size_t j = 0; j < np; j++)
            gmax = fmax(gmax, fabs(grad[j]));
        CHECK(gmax == info.gradient);
    }
    /* same NLL at the identity for logits and their log-softmax */
    CHECK(nll[1] <= nll[0] + 1e-6);
}

/* Calibrated data: the identity is (nearly) optimal, and the fit ends
 * close to it; apply gives softmax(W x + b). */
static void test_identity_and_apply(void)
{
    enum { N = 20000, K = 3 };
    static double x[N * K], probs[N * K];
    static int64_t y[N];
    double params[K * K + K], want[K], z[K];
    calib_fit_options opt;
    calib_fit_info info;

    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < K; j++)
            x[i * K + j] = 2.0 * gaussian();
        y[i] = draw(x + i * K, K);
    }
    options(&opt, 1e-4, 1e-3, 1e-3);
    CHECK_STATUS(calib_scaling_fit(CALIB_MATRIX, x, N, K, y, &opt, params,
                                   &info, NULL),
                 CALIB_OK);
    for (size_t r = 0; r < K; r++)
        for (size_t c = 0; c < K; c++)
            CHECK_NEAR(params[r * K + c], r == c ? 1.0 : 0.0, 0.06);
    CHECK(info.nll_before - info.nll_after < 1e-3);

    /* apply = softmax(W x + b), written out */
    calib_scaling_apply(CALIB_MATRIX, params, x, N, K, probs);
    for (size_t i = 0; i < N; i += 997) {
        double m = -INFINITY, s = 0.0;
        for (size_t r = 0; r < K; r++) {
            z[r] = params[K * K + r];
            for (size_t c = 0; c < K; c++)
                z[r] += params[r * K + c] * x[i * K + c];
            m = fmax(m, z[r]);
        }
        for (size_t r = 0; r < K; r++)
            s += exp(z[r] - m);
        for (size_t r = 0; r < K; r++) {
            want[r] = exp(z[r] - m) / s;
            CHECK_NEAR(probs[i * K + r], want[r], 1e-15);
        }
    }
}

/* Results do not depend on the thread count, bit for bit. */
static void test_threads(void)
{
    enum { N = 5000, K = 21 };
    static double x[N * K];
    static int64_t y[N];
    double p1[K * K + K], p2[K * K + K], p3[K * K + K];
    calib_fit_options opt;
    calib_fit_info i1, i2, i3;

    make_problem(N, K, x, y);
    options(&opt, 1e-3, 1e-3, 1e-3);
    opt.max_iterations = 40;
    CHECK_STATUS(calib_scaling_fit(CALIB_MATRIX, x, N, K, y, &opt, p1, &i1,
                                   NULL), CALIB_OK);
    opt.threads = 2;
    CHECK_STATUS(calib_scaling_fit(CALIB_MATRIX, x, N, K, y, &opt, p2, &i2,
                                   NULL), CALIB_OK);
    opt.threads = 3;
    CHECK_STATUS(calib_scaling_fit(CALIB_MATRIX, x, N, K, y, &opt, p3, &i3,
                                   NULL), CALIB_OK);
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    CHECK(memcmp(p1, p3, sizeof p1) == 0);
    CHECK(memcmp(&i1.nll_after, &i3.nll_after, sizeof(double)) == 0);
    CHECK(i1.iterations == i2.iterations);
    CHECK(strcmp(i1.status, "max-iterations") == 0);
    CHECK(i1.iterations <= 40);
}

/* Logits 1e4 apart: NLL from log-softmax stays finite and exact. */
static void test_huge_logits(void)
{
    enum { N = 200, K = 4 };
    double x[N * K], logp[N * K], params[K * K + K], want = 0.0;
    int64_t y[N];
    calib_fit_options opt;
    calib_fit_info info;

    make_problem(N, K, x, y);
    for (size_t j = 0; j < N * K; j++)
        x[j] *= 1e4;
    calib_log_softmax(x, N, K, logp);
    for (size_t i = 0; i < N; i++)
        want -= logp[i * K + (size_t)y[i]];
    want /= N;
    options(&opt, 1e-4, 1e-3, 1e-3);
    for (int m = 0; m < 3; m++) {
        CHECK_STATUS(calib_scaling_fit(methods[m], methods[m] ==
                                       CALIB_DIRICHLET ? logp : x, N, K, y,
                                       &opt, params, &info, NULL),
                     CALIB_OK);
        CHECK_REL(info.nll_before, want, 1e-12);
        CHECK(isfinite(info.nll_after));
        CHECK(info.nll_after < info.nll_before);
        CHECK(isfinite(info.gradient));
    }
}

/* -log p_y for p_y within an ulp of 1 keeps its relative accuracy. */
static void test_tiny_loss(void)
{
    double x[4] = {50.0, 0.0, 0.0, 60.0}, params[6] = {1, 0, 0, 1, 0, 0};
    double vec[4] = {1, 1, 0, 0}, nll, want;
    int64_t y[2] = {0, 1};
    calib_fit_options opt;

    options(&opt, 1e-4, 1e-3, 1e-3);
    want = (log1p(exp(-50.0)) + log1p(exp(-60.0))) / 2.0;
    CHECK_STATUS(calib_scaling_objective(CALIB_MATRIX, params, x, 2, 2, y,
                                         &opt, NULL, &nll, NULL, NULL),
                 CALIB_OK);
    CHECK(fabs(nll - want) <= 1e-14 * want);
    CHECK_STATUS(calib_scaling_objective(CALIB_VECTOR, vec, x, 2, 2, y,
                                         &opt, NULL, &nll, NULL, NULL),
                 CALIB_OK);
    CHECK(fabs(nll - want) <= 1e-14 * want);
}

/* Every refusal, with outputs untouched. */
static void test_errors(void)
{
    enum { N = 6, K = 3 };
    double x[N * K], params[K * K + K];
    int64_t y[N] = {0, 1, 2, 0, 1, 2};
    calib_fit_options opt;
    calib_fit_info info;
    calib_error err;

    for (size_t j = 0; j < N * K; j++)
        x[j] = 0.1 * (double)j;
    options(&opt, 1e-4, 1e-3, 1e-3);
    for (size_t j = 0; j < K * K + K; j++)
        params[j] = 7.0;
    memset(&info, 0, sizeof info);

    y[4] = 3;
    CHECK_STATUS(calib_scaling_fit(CALIB_MATRIX, x, N, K, y, &opt, params,
                                   &info, &err), CALIB_E_VALUE);
    CHECK(err.row == 4);
    CHECK(strstr(err.message, "row 4: label 3 is outside [0, 3)") != NULL);
    y[4] = -1;
    CHECK_STATUS(calib_scaling_fit(CALIB_VECTOR, x, N, K, y, &opt, params,
                                   &info, &err), CALIB_E_VALUE);
    y[4] = 1;

    x[7] = NAN;
    CHECK_STATUS(calib_scaling_fit(CALIB_VECTOR, x, N, K, y, &opt, params,
                                   &info, &err), CALIB_E_VALUE);
    CHECK(err.row == 2);
    x[7] = -INFINITY;
    CHECK_STATUS(calib_scaling_fit(CALIB_DIRICHLET, x, N, K, y, &opt,
                                   params, &info, &err), CALIB_E_VALUE);
    CHECK(strstr(err.message, "log-probability") != NULL);
    x[7] = 0.7;

    CHECK_STATUS(calib_scaling_fit(CALIB_VECTOR, x, N, 1, y, &opt, params,
                                   &info, &err), CALIB_E_NOT_APPLICABLE);
    CHECK_STATUS(calib_scaling_fit(CALIB_VECTOR, x, 0, K, y, &opt, params,
                                   &info, &err), CALIB_E_SHAPE);
    CHECK_STATUS(calib_scaling_fit(CALIB_TEMPERATURE, x, N, K, y, &opt,
                                   params, &info, &err), CALIB_E_ARGUMENT);
    CHECK_STATUS(calib_scaling_fit(CALIB_VECTOR, x, N, K, y, NULL, params,
                                   &info, &err), CALIB_E_ARGUMENT);
    opt.l2 = -1.0;
    CHECK_STATUS(calib_scaling_fit(CALIB_VECTOR, x, N, K, y, &opt, params,
                                   &info, &err), CALIB_E_ARGUMENT);
    CHECK(strcmp(err.field, "l2") == 0);
    opt.l2 = 1e-4;
    opt.dirichlet_mu = NAN;
    CHECK_STATUS(calib_scaling_fit(CALIB_DIRICHLET, x, N, K, y, &opt,
                                   params, &info, &err), CALIB_E_ARGUMENT);
    opt.dirichlet_mu = 1e-3;

    for (size_t j = 0; j < K * K + K; j++)
        CHECK(params[j] == 7.0);
    CHECK(info.n == 0);

    CHECK(calib_scaling_param_count(CALIB_VECTOR, 10) == 20);
    CHECK(calib_scaling_param_count(CALIB_MATRIX, 10) == 110);
    CHECK(calib_scaling_param_count(CALIB_DIRICHLET, 10) == 110);
    CHECK(calib_scaling_param_count(CALIB_PLATT, 10) == 0);
    CHECK(calib_scaling_param_count(CALIB_MATRIX, SIZE_MAX / 2) == 0);
}

/* The n-th allocation fails: NOMEM, nothing leaked (under ASan), outputs
 * untouched. */
static int fail_at = -1, alloc_count;

static void *failing_malloc(void *ctx, size_t size)
{
    (void)ctx;
    if (alloc_count++ == fail_at)
        return NULL;
    return malloc(size);
}

static void *failing_realloc(void *ctx, void *ptr, size_t old_size,
                             size_t new_size)
{
    (void)ctx;
    (void)old_size;
    if (alloc_count++ == fail_at)
        return NULL;
    return realloc(ptr, new_size);
}

static void plain_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static void test_allocation_failures(void)
{
    enum { N = 50, K = 3 };
    double x[N * K], params[K * K + K];
    int64_t y[N];
    calib_fit_options opt;
    calib_fit_info info;
    calib_allocator a = {failing_malloc, failing_realloc, plain_free, NULL};
    int failures = 0;

    make_problem(N, K, x, y);
    options(&opt, 1e-4, 1e-3, 1e-3);
    calib_set_allocator(&a);
    for (fail_at = 0; fail_at < 10; fail_at++) {
        calib_status s;
        alloc_count = 0;
        for (size_t j = 0; j < K * K + K; j++)
            params[j] = 7.0;
        s = calib_scaling_fit(CALIB_MATRIX, x, N, K, y, &opt, params, &info,
                              NULL);
        if (s == CALIB_OK)
            break;
        failures++;
        CHECK(s == CALIB_E_NOMEM);
        CHECK(params[0] == 7.0 && params[K * K] == 7.0);
    }
    calib_set_allocator(NULL);
    CHECK(failures >= 2);
    CHECK(fail_at < 10);
}

int main(void)
{
    test_gradient();
    test_objective_terms();
    test_known_vector_map();
    test_fits_end_well();
    test_identity_and_apply();
    test_threads();
    test_huge_logits();
    test_tiny_loss();
    test_errors();
    test_allocation_failures();
    return check_done("test_scaling");
}
