/*
 * test_losses.c - the training losses: values and gradients against
 * PyTorch autograd (tests/golden/losses.json, made by make_losses.py),
 * gradients against central finite differences on random and large
 * logits, the limits (logits 1e4, focal near p_y = 1 with gamma < 1),
 * MMCE's O(N log N) form against the direct O(N^2) double sum, and the
 * error paths.
 */
#include "calib.h"
#include "check.h"

#include <jansson.h>
#include <stdint.h>

#define GOLDEN "tests/golden/losses.json"

static const calib_loss_kind all_kinds[] = {
    CALIB_LOSS_CE, CALIB_LOSS_SMOOTHED_CE, CALIB_LOSS_KL, CALIB_LOSS_JOINT,
    CALIB_LOSS_FOCAL, CALIB_LOSS_FOCAL_ADAPTIVE, CALIB_LOSS_MMCE,
    CALIB_LOSS_SOFT_ECE};
#define N_KINDS (sizeof all_kinds / sizeof all_kinds[0])

/* splitmix64: a small seeded generator, so the tests are reproducible */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static double uniform(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static double normal(void)
{
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double loss_of(calib_loss_kind kind, const double *z, size_t n,
                      size_t k, const int64_t *y, const calib_loss_options *o)
{
    double v = NAN;
    calib_status st = calib_loss(kind, z, CALIB_FLOAT64, n, k, y, o, &v,
                                 NULL, NULL);
    return st == CALIB_OK ? v : nan("");
}

/*
 * Largest |finite difference - analytic| over all entries, relative to the
 * largest analytic entry. The step is made exact ((z + h) - (z - h) is
 * what we divide by), so large logits do not spoil the quotient.
 */
static double gradient_error(calib_loss_kind kind, double *z, size_t n,
                             size_t k, const int64_t *y,
                             const calib_loss_options *o, double h)
{
    size_t nk = n * k;
    double *g = calloc(nk, sizeof *g), worst = 0.0, scale = 0.0, v;
    if (g == NULL)
        return INFINITY;
    if (calib_loss(kind, z, CALIB_FLOAT64, n, k, y, o, &v, g, NULL) !=
        CALIB_OK) {
        free(g);
        return INFINITY;
    }
    for (size_t e = 0; e < nk; e++) {
        double z0 = z[e], step = h * fmax(1.0, fabs(z0)) * 1e-4 + h;
        double zp = z0 + step, zm = z0 - step, fp, fm, fd;
        z[e] = zp;
        fp = loss_of(kind, z, n, k, y, o);
        z[e] = zm;
        fm = loss_of(kind, z, n, k, y, o);
        z[e] = z0;
        fd = (fp - fm) / (zp - zm);
        if (!isfinite(fd) || !isfinite(g[e])) {
            free(g);
            return INFINITY;
        }
        worst = fmax(worst, fabs(fd - g[e]));
        scale = fmax(scale, fabs(g[e]));
    }
    free(g);
    return scale > 0.0 ? worst / scale : worst;
}

/* ---- golden values from PyTorch ------------------------------------- */

static double *json_doubles(json_t *arr, size_t *len)
{
    size_t n = json_array_size(arr);
    double *out = calloc(n > 0 ? n : 1, sizeof *out);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = json_number_value(json_array_get(arr, i));
    *len = n;
    return out;
}

static void test_golden(void)
{
    json_error_t jerr;
    json_t *root = json_load_file(GOLDEN, 0, &jerr), *inputs, *cases;
    size_t n_cases;

    CHECK(root != NULL);
    if (root == NULL) {
        printf("cannot read %s: %s\n", GOLDEN, jerr.text);
        return;
    }
    inputs = json_object_get(root, "inputs");
    cases = json_object_get(root, "cases");
    n_cases = json_array_size(cases);
    CHECK(n_cases >= 30);
    for (size_t c = 0; c < n_cases; c++) {
        json_t *cs = json_array_get(cases, c), *opts, *inp;
        const char *name = json_string_value(json_object_get(cs, "name"));
        const char *loss = json_string_value(json_object_get(cs, "loss"));
        calib_loss_kind kind;
        calib_loss_options o;
        calib_dtype dtype;
        size_t n, k, n_logits, n_labels, n_grad;
        double *z, *want_grad, *grad, value = NAN, want;
        float *z32 = NULL;
        int64_t *y;
        int failures_before = check_failures;

        inp = json_object_get(inputs, json_string_value(
                                          json_object_get(cs, "input")));
        CHECK(inp != NULL && loss != NULL);
        if (inp == NULL || loss == NULL)
            continue;
        CHECK(calib_loss_from_name(loss, &kind) == 0);
        calib_loss_options_default(&o);
        opts = json_object_get(cs, "options");
        o.smoothing = json_number_value(json_object_get(opts, "smoothing"));
        o.lambda = json_number_value(json_object_get(opts, "lambda"));
        o.gamma = json_number_value(json_object_get(opts, "gamma"));
        o.mmce_width = json_number_value(json_object_get(opts, "mmce_width"));
        o.soft_ece_bins = (size_t)json_integer_value(
            json_object_get(opts, "soft_ece_bins"));
        o.soft_ece_temperature = json_number_value(
            json_object_get(opts, "soft_ece_temperature"));
        n = (size_t)json_integer_value(json_object_get(inp, "n"));
        k = (size_t)json_integer_value(json_object_get(inp, "k"));
        dtype = strcmp(json_string_value(json_object_get(inp, "dtype")),
                       "float32") == 0 ? CALIB_FLOAT32 : CALIB_FLOAT64;
        z = json_doubles(json_object_get(inp, "logits"), &n_logits);
        want_grad = json_doubles(json_object_get(cs, "grad"), &n_grad);
        {
            double *yd = json_doubles(json_object_get(inp, "labels"),
                                      &n_labels);
            y = calloc(n_labels + 1, sizeof *y);
            for (size_t i = 0; yd != NULL && y != NULL && i < n_labels; i++)
                y[i] = (int64_t)yd[i];
            free(yd);
        }
        grad = calloc(n * k + 1, sizeof *grad);
        CHECK(n_logits == n * k && n_grad == n * k && n_labels == n);
        if (z == NULL || want_grad == NULL || y == NULL || grad == NULL ||
            n_logits != n * k || n_grad != n * k) {
            free(z), free(want_grad), free(y), free(grad);
            continue;
        }
        if (dtype == CALIB_FLOAT32) {
            z32 = calloc(n * k, sizeof *z32);
            for (size_t e = 0; z32 != NULL && e < n * k; e++)
                z32[e] = (float)z[e];
        }
        CHECK_STATUS(calib_loss(kind, dtype == CALIB_FLOAT32
                                          ? (const void *)z32
                                          : (const void *)z,
                                dtype, n, k, y, &o, &value, grad, NULL),
                     CALIB_OK);
        want = json_number_value(json_object_get(cs, "value"));
        CHECK_REL(value, want, 1e-10);
        for (size_t e = 0; e < n * k; e++)
            CHECK_NEAR(grad[e], want_grad[e],
                       1e-10 * fmax(1e-3, fabs(want_grad[e])));
        if (check_failures != failures_before)
            printf("  (golden case %s)\n", name);
        free(z), free(want_grad), free(y), free(grad), free(z32);
    }
    json_decref(root);
}

/* ---- finite differences --------------------------------------------- */

static void random_batch(double *z, int64_t *y, size_t n, size_t k,
                         double spread, double offset)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = (int64_t)(uniform() * (double)k);
        for (size_t j = 0; j < k; j++)
            z[i * k + j] = offset + spread * normal();
        /* most rows right, some wrong, for MMCE and soft-ECE */
        if (i % 3 != 2)
            z[i * k + (size_t)y[i]] += spread * 1.5;
    }
}

static void test_finite_differences(void)
{
    enum { N = 16, K = 6 };
    double z[N * K];
    int64_t y[N];
    /* offsets: ordinary logits, logits near 1e4, near -1e4 */
    const double offsets[] = {0.0, 1e4, -1e4};
    calib_loss_options o;

    calib_loss_options_default(&o);
    for (size_t t = 0; t < sizeof offsets / sizeof offsets[0]; t++) {
        random_batch(z, y, N, K, 2.0, offsets[t]);
        for (size_t q = 0; q < N_KINDS; q++) {
            calib_loss_kind kind = all_kinds[q];
            /* soft-ECE at T = 0.01 bends on a scale of 0.01 in r */
            double h = kind == CALIB_LOSS_SOFT_ECE ? 1e-6 : 1e-5;
            double e = gradient_error(kind, z, N, K, y, &o, h);
            if (!(e < 1e-6) || getenv("CALIB_TEST_VERBOSE") != NULL)
                printf("  %s, offset %g: relative error %g\n",
                       calib_loss_name(kind), offsets[t], e);
            CHECK(e < 1e-6);
        }
    }

    /* other options: gamma < 1 and 0, heavier smoothing, other widths */
    random_batch(z, y, N, K, 2.0, 0.0);
    o.gamma = 0.5;
    CHECK(gradient_error(CALIB_LOSS_FOCAL, z, N, K, y, &o, 1e-5) < 1e-6);
    CHECK(gradient_error(CALIB_LOSS_FOCAL_ADAPTIVE, z, N, K, y, &o, 1e-5) <
          1e-6);
    o.gamma = 0.0;
    CHECK(gradient_error(CALIB_LOSS_FOCAL, z, N, K, y, &o, 1e-5) < 1e-6);
    o.smoothing = 0.4;
    o.lambda = 0.7;
    CHECK(gradient_error(CALIB_LOSS_JOINT, z, N, K, y, &o, 1e-5) < 1e-6);
    CHECK(gradient_error(CALIB_LOSS_KL, z, N, K, y, &o, 1e-5) < 1e-6);
    o.mmce_width = 0.05;
    CHECK(gradient_error(CALIB_LOSS_MMCE, z, N, K, y, &o, 1e-6) < 1e-6);
    o.soft_ece_bins = 7;
    o.soft_ece_temperature = 0.05;
    CHECK(gradient_error(CALIB_LOSS_SOFT_ECE, z, N, K, y, &o, 1e-6) < 1e-6);
}

/* ---- limits ------------------------------------------------------------ */

static void test_large_logits(void)
{
    const double tie[2] = {1e4, 1e4}, apart[2] = {1e4, -1e4};
    const float tie32[2] = {1e4f, 1e4f};
    int64_t y0 = 0, y1 = 1;
    double v = NAN, g[2];

    CHECK_STATUS(calib_loss(CALIB_LOSS_CE, tie, CALIB_FLOAT64, 1, 2, &y0,
                            NULL, &v, g, NULL), CALIB_OK);
    CHECK_NEAR(v, log(2.0), 1e-15);
    CHECK_NEAR(g[0], -0.5, 1e-15);
    CHECK_NEAR(g[1], 0.5, 1e-15);
    CHECK_STATUS(calib_loss(CALIB_LOSS_CE, tie32, CALIB_FLOAT32, 1, 2, &y0,
                            NULL, &v, NULL, NULL), CALIB_OK);
    CHECK_NEAR(v, log(2.0), 1e-15);

    /* wrong by 2e4: CE is exactly 2e4, the gradient exactly (1, -1) */
    CHECK_STATUS(calib_loss(CALIB_LOSS_CE, apart, CALIB_FLOAT64, 1, 2, &y1,
                            NULL, &v, g, NULL), CALIB_OK);
    CHECK_NEAR(v, 2e4, 0.0);
    CHECK_NEAR(g[0], 1.0, 0.0);
    CHECK_NEAR(g[1], -1.0, 0.0);

    for (size_t q = 0; q < N_KINDS; q++) {
        const double *cases[2] = {tie, apart};
        for (size_t c = 0; c < 2; c++)
            for (int64_t lab = 0; lab < 2; lab++) {
                v = NAN;
                g[0] = g[1] = NAN;
                CHECK_STATUS(calib_loss(all_kinds[q], cases[c],
                                        CALIB_FLOAT64, 1, 2, &lab, NULL, &v,
                                        g, NULL), CALIB_OK);
                CHECK(isfinite(v) && isfinite(g[0]) && isfinite(g[1]));
            }
    }

    /* KL(q || p) at logits [1e4, -1e4], label 0, eps = 0.1, K = 2:
     * q = (0.95, 0.05); log p = (0, -2e4) */
    CHECK_STATUS(calib_loss(CALIB_LOSS_KL, apart, CALIB_FLOAT64, 1, 2, &y0,
                            NULL, &v, NULL, NULL), CALIB_OK);
    CHECK_REL(v, 0.95 * log(0.95) + 0.05 * (log(0.05) + 2e4), 1e-15);
}

/* Focal with gamma = 0.5 as p_y -> 1: logits (d, 0), label 0. Then
 * u = 1 - p_y = 1 / (1 + e^d), log p_y = -log1p(e^-d) and the loss
 * -u^0.5 log p_y; the gradient is d(loss)/dz_0 = -d(loss)/dz_1. */
static void test_focal_near_one(void)
{
    const double ds[] = {5.0, 20.0, 40.0, 200.0, 400.0};
    calib_loss_options o;
    int64_t y = 0;

    calib_loss_options_default(&o);
    o.gamma = 0.5;
    for (size_t t = 0; t < sizeof ds / sizeof ds[0]; t++) {
        double d = ds[t], z[2] = {d, 0.0}, v = NAN, g[2];
        double u = 1.0 / (1.0 + exp(d)), l = -log1p(exp(-d));
        /* d loss / d l with l' = onehot - p: (g p l / u - 1) u^g */
        double p = 1.0 - u;
        double want = -sqrt(u) * l;
        double want_g0 = sqrt(u) * (0.5 * p * l / u - 1.0) * u;
        CHECK_STATUS(calib_loss(CALIB_LOSS_FOCAL, z, CALIB_FLOAT64, 1, 2, &y,
                                &o, &v, g, NULL), CALIB_OK);
        CHECK(v > 0.0);
        CHECK_REL(v / want, 1.0, 1e-13);
        CHECK_REL(g[0] / want_g0, 1.0, 1e-12);
        CHECK_REL(g[1] / -g[0], 1.0, 1e-14);
        /* the asymptote: loss ~ e^(-1.5 d), gradient ~ -1.5 e^(-1.5 d) */
        if (d >= 40.0) {
            CHECK_REL(v / exp(-1.5 * d), 1.0, 1e-12);
            CHECK_REL(g[0] / (-1.5 * exp(-1.5 * d)), 1.0, 1e-12);
        }
    }

    /* past 745 the loss itself underflows: 0, and a gradient of 0 */
    {
        double z[2] = {800.0, 0.0}, v = NAN, g[2] = {NAN, NAN};
        CHECK_STATUS(calib_loss(CALIB_LOSS_FOCAL, z, CALIB_FLOAT64, 1, 2, &y,
                                &o, &v, g, NULL), CALIB_OK);
        CHECK(v == 0.0 && g[0] == 0.0 && g[1] == 0.0);
    }

    /* and through finite differences, in a regime where p_y is 1 - 1e-9 */
    {
        double z[2 * 3] = {21.0, 0.3, -0.2, 0.1, 22.5, 0.0};
        int64_t labels[2] = {0, 1};
        CHECK(gradient_error(CALIB_LOSS_FOCAL, z, 2, 3, labels, &o, 1e-5) <
              1e-6);
    }
}

/* Adaptive focal: each row's gamma follows its p_y. */
static void test_focal_adaptive(void)
{
    /* three classes, label 0; p_y about 0.1, 0.35 and 0.9 */
    const double rows[3][3] = {{0.0, 2.0, 1.5}, {0.5, 0.9, 0.0},
                               {3.0, 0.7, 0.0}};
    const double gammas[3] = {5.0, 3.0, 1.7};
    calib_loss_options o;
    int64_t y = 0;

    calib_loss_options_default(&o);
    o.gamma = 1.7;
    for (size_t r = 0; r < 3; r++) {
        double va = NAN, vf = NAN, ga[3], gf[3];
        calib_loss_options fixed = o;
        fixed.gamma = gammas[r];
        CHECK_STATUS(calib_loss(CALIB_LOSS_FOCAL_ADAPTIVE, rows[r],
                                CALIB_FLOAT64, 1, 3, &y, &o, &va, ga, NULL),
                     CALIB_OK);
        CHECK_STATUS(calib_loss(CALIB_LOSS_FOCAL, rows[r], CALIB_FLOAT64, 1,
                                3, &y, &fixed, &vf, gf, NULL), CALIB_OK);
        CHECK_NEAR(va, vf, 0.0);
        for (size_t j = 0; j < 3; j++)
            CHECK_NEAR(ga[j], gf[j], 0.0);
    }
}

/* ---- MMCE against the direct double sum ------------------------------- */

static void test_mmce_direct(void)
{
    enum { N = 600, K = 4 };
    static double z[N * K], g[N * K], r[N], c[N], p[N * K];
    static int64_t y[N];
    calib_loss_options o;
    const double widths[] = {0.4, 0.02, 1e-3};

    random_batch(z, y, N, K, 1.5, 0.0);
    /* repeated rows give equal confidences: ties */
    for (size_t i = 0; i < 40; i++)
        for (size_t j = 0; j < K; j++)
            z[(N - 1 - i) * K + j] = z[i * K + j];
    calib_softmax(z, N, K, p);
    for (size_t i = 0; i < N; i++) {
        size_t top = 0;
        for (size_t j = 1; j < K; j++)
            if (p[i * K + j] > p[i * K + top])
                top = j;
        r[i] = p[i * K + top];
        c[i] = (int64_t)top == y[i];
    }
    calib_loss_options_default(&o);
    for (size_t t = 0; t < sizeof widths / sizeof widths[0]; t++) {
        double w = widths[t], s = 0.0, v = NAN, mmce, worst = 0.0;
        o.mmce_width = w;
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++)
                s += (c[i] - r[i]) * (c[j] - r[j]) *
                     exp(-fabs(r[i] - r[j]) / w);
        mmce = sqrt(s) / N;
        CHECK_STATUS(calib_loss(CALIB_LOSS_MMCE, z, CALIB_FLOAT64, N, K, y,
                                &o, &v, g, NULL), CALIB_OK);
        CHECK_NEAR(v, mmce, 1e-12);

        /* gradient: dS/dr_i directly, then through r = p_top */
        for (size_t i = 0; i < N; i++) {
            double ds = 0.0, dmmce;
            size_t top = 0;
            for (size_t j = 0; j < N; j++) {
                double kij = exp(-fabs(r[i] - r[j]) / w);
                double sgn = (r[i] > r[j]) - (r[i] < r[j]);
                ds += -2.0 * (c[j] - r[j]) * kij -
                      2.0 / w * (c[i] - r[i]) * (c[j] - r[j]) * sgn * kij;
            }
            dmmce = ds / (2.0 * mmce * N * N);
            for (size_t j = 1; j < K; j++)
                if (p[i * K + j] > p[i * K + top])
                    top = j;
            for (size_t j = 0; j < K; j++) {
                double want = dmmce * r[i] *
                              ((j == top ? 1.0 : 0.0) - p[i * K + j]);
                worst = fmax(worst, fabs(g[i * K + j] - want));
            }
        }
        if (!(worst < 1e-12))
            printf("  mmce width %g: gradient off by %g\n", w, worst);
        CHECK(worst < 1e-12);
    }
}

/* ---- errors and names ------------------------------------------------- */

static void test_errors(void)
{
    double z[4] = {0.1, 0.2, 0.3, 0.4}, v = 42.0, g[4] = {7, 7, 7, 7};
    int64_t y[2] = {0, 2};
    calib_loss_options o;
    calib_error err;
    calib_loss_kind kind;

    CHECK_STATUS(calib_loss(CALIB_LOSS_CE, z, CALIB_FLOAT64, 2, 2, y, NULL,
                            &v, g, &err), CALIB_E_VALUE);
    CHECK(err.row == 1);
    CHECK(strstr(err.message, "row 1") != NULL);
    CHECK(v == 42.0 && g[0] == 7.0 && g[3] == 7.0);
    y[1] = -1;
    CHECK_STATUS(calib_loss(CALIB_LOSS_MMCE, z, CALIB_FLOAT64, 2, 2, y, NULL,
                            &v, g, &err), CALIB_E_VALUE);
    y[1] = 1;
    z[2] = NAN;
    CHECK_STATUS(calib_loss(CALIB_LOSS_JOINT, z, CALIB_FLOAT64, 2, 2, y,
                            NULL, &v, g, &err), CALIB_E_VALUE);
    CHECK(err.row == 1);
    z[2] = INFINITY;
    CHECK_STATUS(calib_loss(CALIB_LOSS_FOCAL, z, CALIB_FLOAT64, 2, 2, y,
                            NULL, &v, g, &err), CALIB_E_VALUE);
    CHECK(v == 42.0 && g[0] == 7.0);
    z[2] = 0.3;
    CHECK_STATUS(calib_loss(CALIB_LOSS_CE, z, CALIB_FLOAT64, 4, 1, y, NULL,
                            &v, g, &err), CALIB_E_SHAPE);
    CHECK_STATUS(calib_loss(CALIB_LOSS_CE, z, CALIB_FLOAT64, 0, 2, y, NULL,
                            &v, g, &err), CALIB_E_SHAPE);
    CHECK_STATUS(calib_loss(CALIB_LOSS_CE, z, (calib_dtype)7, 2, 2, y, NULL,
                            &v, g, &err), CALIB_E_UNSUPPORTED);
    CHECK_STATUS(calib_loss((calib_loss_kind)99, z, CALIB_FLOAT64, 2, 2, y,
                            NULL, &v, g, &err), CALIB_E_ARGUMENT);
    CHECK_STATUS(calib_loss(CALIB_LOSS_CE, NULL, CALIB_FLOAT64, 2, 2, y,
                            NULL, &v, g, &err), CALIB_E_ARGUMENT);

    calib_loss_options_default(&o);
    o.smoothing = 1.5;
    CHECK_STATUS(calib_loss(CALIB_LOSS_KL, z, CALIB_FLOAT64, 2, 2, y, &o, &v,
                            g, &err), CALIB_E_ARGUMENT);
    calib_loss_options_default(&o);
    o.gamma = -1.0;
    CHECK_STATUS(calib_loss(CALIB_LOSS_FOCAL, z, CALIB_FLOAT64, 2, 2, y, &o,
                            &v, g, &err), CALIB_E_ARGUMENT);
    calib_loss_options_default(&o);
    o.mmce_width = 0.0;
    CHECK_STATUS(calib_loss(CALIB_LOSS_MMCE, z, CALIB_FLOAT64, 2, 2, y, &o,
                            &v, g, &err), CALIB_E_ARGUMENT);
    calib_loss_options_default(&o);
    o.soft_ece_bins = 0;
    CHECK_STATUS(calib_loss(CALIB_LOSS_SOFT_ECE, z, CALIB_FLOAT64, 2, 2, y,
                            &o, &v, g, &err), CALIB_E_ARGUMENT);
    CHECK(v == 42.0 && g[0] == 7.0);

    /* the gradient is optional, and the value does not depend on it */
    {
        double v1 = NAN, v2 = NAN;
        CHECK_STATUS(calib_loss(CALIB_LOSS_SOFT_ECE, z, CALIB_FLOAT64, 2, 2,
                                y, NULL, &v1, NULL, NULL), CALIB_OK);
        CHECK_STATUS(calib_loss(CALIB_LOSS_SOFT_ECE, z, CALIB_FLOAT64, 2, 2,
                                y, NULL, &v2, g, NULL), CALIB_OK);
        CHECK_NEAR(v1, v2, 0.0);
    }

    for (size_t q = 0; q < N_KINDS; q++) {
        CHECK(calib_loss_from_name(calib_loss_name(all_kinds[q]), &kind) ==
              0);
        CHECK(kind == all_kinds[q]);
    }
    CHECK(calib_loss_from_name("focal-adaptive", &kind) == 0 &&
          kind == CALIB_LOSS_FOCAL_ADAPTIVE);
    CHECK(calib_loss_from_name("soft-ece", &kind) == 0 &&
          kind == CALIB_LOSS_SOFT_ECE);
    CHECK(calib_loss_from_name("CE", &kind) == -1);
    CHECK(calib_loss_from_name("", &kind) == -1);
    CHECK(strcmp(calib_loss_name((calib_loss_kind)99), "unknown") == 0);
    calib_loss_options_default(&o);
    CHECK(o.smoothing == 0.1 && o.lambda == 0.1 && o.gamma == 3.0);
    CHECK(o.mmce_width == 0.4 && o.soft_ece_bins == 15 &&
          o.soft_ece_temperature == 0.01);
}

/* Joint = CE + lambda KL, and smoothed CE = KL + H(q), as identities. */
static void test_identities(void)
{
    enum { N = 9, K = 7 };
    double z[N * K], ce, kl, joint, sm, hq;
    int64_t y[N];
    calib_loss_options o;

    calib_loss_options_default(&o);
    o.lambda = 0.37;
    o.smoothing = 0.23;
    random_batch(z, y, N, K, 3.0, 0.0);
    ce = loss_of(CALIB_LOSS_CE, z, N, K, y, &o);
    kl = loss_of(CALIB_LOSS_KL, z, N, K, y, &o);
    joint = loss_of(CALIB_LOSS_JOINT, z, N, K, y, &o);
    sm = loss_of(CALIB_LOSS_SMOOTHED_CE, z, N, K, y, &o);
    {
        double ql = 1.0 - o.smoothing + o.smoothing / K;
        double qo = o.smoothing / K;
        hq = -ql * log(ql) - (K - 1) * qo * log(qo);
    }
    CHECK_REL(joint, ce + o.lambda * kl, 1e-14);
    CHECK_REL(sm, kl + hq, 1e-14);
}

int main(void)
{
    test_golden();
    test_finite_differences();
    test_large_logits();
    test_focal_near_one();
    test_focal_adaptive();
    test_mmce_direct();
    test_errors();
    test_identities();
    return check_done("test_losses");
}
