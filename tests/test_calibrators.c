/*
 * test_calibrators.c - post-hoc calibrators on small hand-made inputs:
 * hand-worked isotonic and histogram values, temperature optimality,
 * degenerate temperature data, thread invariance, Platt's scale
 * invariance, one-vs-rest renormalisation, model files that round-trip
 * bit for bit, and every kind of bad model file.
 */
#include "calib.h"
#include "calibrators.h"
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A small deterministic generator (xorshift64*), so the test needs no
 * data files. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static double uniform01(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717u) >> 11) * 0x1p-53;
}

/* n x k logits of a noisy, overconfident classifier, with labels. */
static void make_logits(size_t n, size_t k, double scale, double *z,
                        int64_t *labels)
{
    for (size_t i = 0; i < n; i++) {
        size_t y = (size_t)(uniform01() * (double)k) % k;
        labels[i] = (int64_t)y;
        for (size_t j = 0; j < k; j++)
            z[i * k + j] = scale * (uniform01() * 2.0 - 1.0);
        z[i * k + y] += scale * 0.8;   /* right more often than not */
    }
}

static calib_matrix matrix_of(double *data, size_t rows, size_t cols)
{
    calib_matrix m;
    m.rows = rows;
    m.cols = cols;
    m.dtype = CALIB_FLOAT64;
    m.data = data;
    return m;
}

static void test_names(void)
{
    calib_method m;
    for (unsigned i = 0; i < CALIB_METHOD_COUNT; i++) {
        CHECK(calib_method_from_name(calib_method_name((calib_method)i),
                                     &m) == 0);
        CHECK((unsigned)m == i);
    }
    CHECK(calib_method_from_name("softmax", &m) == -1);
    CHECK(strcmp(calib_method_name(CALIB_HISTOGRAM), "histogram") == 0);
}

static void test_temperature_optimum(void)
{
    enum { N = 3000, K = 5 };
    static double z[N * K];
    static int64_t y[N];
    calib_matrix m = matrix_of(z, N, K);
    calib_fit_options opt;
    calib_model *model = NULL;
    calib_error err;
    double t, beta, f0, f1, f2, d1;

    make_logits(N, K, 4.0, z, y);
    calib_fit_options_default(&opt);
    CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, &m, CALIB_LOGITS, y, &opt,
                           &model, &err), CALIB_OK);
    if (model == NULL)
        return;
    t = calib_model_temperature(model);
    beta = 1.0 / t;
    CHECK(t > 1.0);   /* scale 4 logits are overconfident */
    CHECK(strcmp(calib_model_fit_info(model)->status, "converged") == 0);
    CHECK(calib_model_fit_info(model)->iterations < 30);

    /* the derivative vanishes and the neighbours are no better */
    calib_temperature_nll(z, N, K, y, beta, 1, &f0, &d1, NULL);
    CHECK_NEAR(d1, 0.0, 1e-13);
    calib_temperature_nll(z, N, K, y, beta * (1 + 1e-6), 1, &f1, NULL, NULL);
    calib_temperature_nll(z, N, K, y, beta * (1 - 1e-6), 1, &f2, NULL, NULL);
    CHECK(f1 >= f0 && f2 >= f0);
    /* the fit may expand around its last pass instead of a pass at T:
     * equal to the rounding */
    CHECK_REL(calib_model_fit_info(model)->nll_after, f0, 1e-15);
    CHECK(calib_model_fit_info(model)->nll_after <
          calib_model_fit_info(model)->nll_before);
    CHECK(calib_model_fit_info(model)->n == N);
    CHECK(isnan(calib_model_temperature(NULL)));
    calib_model_free(model);
}

/* The same T from logits and from their softmax given as probabilities. */
static void test_temperature_probs(void)
{
    enum { N = 1000, K = 4 };
    static double z[N * K], p[N * K];
    static int64_t y[N];
    calib_matrix mz = matrix_of(z, N, K), mp = matrix_of(p, N, K);
    calib_model *a = NULL, *b = NULL;

    make_logits(N, K, 3.0, z, y);
    calib_softmax(z, N, K, p);
    CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, &mz, CALIB_LOGITS, y, NULL, &a,
                           NULL), CALIB_OK);
    CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, &mp, CALIB_PROBS, y, NULL, &b,
                           NULL), CALIB_OK);
    if (a != NULL && b != NULL)
        CHECK_REL(calib_model_temperature(b), calib_model_temperature(a),
                  1e-9);
    calib_model_free(a);
    calib_model_free(b);
}

/* Many blocks of rows: T has the same bits for any number of threads. */
static void test_temperature_threads(void)
{
    enum { N = 40000, K = 3 };
    double *z = malloc(N * K * sizeof *z);
    int64_t *y = malloc(N * sizeof *y);
    calib_matrix m = matrix_of(z, N, K);
    calib_fit_options opt;
    double t1 = 0.0;
    unsigned counts[] = {1, 2, 3, 7, 0};

    if (z == NULL || y == NULL) {
        free(z);
        free(y);
        CHECK(0);
        return;
    }
    make_logits(N, K, 5.0, z, y);
    calib_fit_options_default(&opt);
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        calib_model *model = NULL;
        opt.threads = counts[c];
        CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, &m, CALIB_LOGITS, y, &opt,
                               &model, NULL), CALIB_OK);
        if (model == NULL)
            continue;
        if (c == 0)
            t1 = calib_model_temperature(model);
        else
            CHECK(memcmp(&t1, &(double){calib_model_temperature(model)},
                         sizeof t1) == 0);
        calib_model_free(model);
    }
    free(z);
    free(y);
}

static void check_degenerate(double *z, int64_t *y, size_t n, size_t k,
                             const char *want_status, double want_t)
{
    calib_matrix m = matrix_of(z, n, k);
    calib_model *model = NULL;
    const calib_fit_info *fi;

    CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, &m, CALIB_LOGITS, y, NULL,
                           &model, NULL), CALIB_OK);
    if (model == NULL)
        return;
    fi = calib_model_fit_info(model);
    CHECK(strcmp(fi->status, want_status) == 0);
    if (strcmp(fi->status, want_status) != 0)
        printf("  status %s, want %s\n", fi->status, want_status);
    CHECK_NEAR(calib_model_temperature(model), want_t, 0.0);
    CHECK(isfinite(fi->nll_after) && isfinite(fi->gradient));
    calib_model_free(model);
}

static void test_temperature_degenerate(void)
{
    /* every sample right and separable: T -> 0 */
    double sep[] = {3, 1, 0, 0.5, 2, 1, 0, 0, 0.1};
    int64_t sep_y[] = {0, 1, 2};
    /* constant logits: every T gives the uniform distribution */
    double flat[] = {1, 1, 1, 2, 2, 2};
    int64_t flat_y[] = {0, 2};
    /* the true class always the smallest: f'(0) > 0, T -> infinity */
    double wrong[] = {0, 1, 2, 5, 1, 2};
    int64_t wrong_y[] = {0, 1};
    /* a tiny violation: the optimum lies beyond the default beta bound of
     * 1e4, which is moved until it brackets it; T from mpmath's findroot
     * on f'(1/T) at 50 digits: 4.30882699292863021059e-05 */
    double nearly[] = {1e-3, 0, 0, 1e-3, 0, 0, 0, 1e-12, 0};
    int64_t nearly_y[] = {0, 0, 0};
    calib_matrix nearly_m = matrix_of(nearly, 3, 3);
    calib_model *model = NULL;

    check_degenerate(sep, sep_y, 3, 3, "temperature-to-zero",
                     CALIB_TEMPERATURE_MIN);
    check_degenerate(flat, flat_y, 2, 3, "temperature-to-infinity",
                     CALIB_TEMPERATURE_MAX);
    check_degenerate(wrong, wrong_y, 2, 3, "temperature-to-infinity",
                     CALIB_TEMPERATURE_MAX);
    CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, &nearly_m, CALIB_LOGITS,
                           nearly_y, NULL, &model, NULL), CALIB_OK);
    if (model != NULL) {
        CHECK(strcmp(calib_model_fit_info(model)->status, "converged") == 0);
        CHECK_NEAR(calib_model_temperature(model),
                   4.30882699292863021059e-05, 4.3e-5 * 1e-9);
        calib_model_free(model);
    }
}

/* Platt: the fit does not depend on the scale of the scores. */
static void test_platt_scale(void)
{
    enum { N = 2000 };
    static double s[N], s5[N];
    static unsigned char y[N];
    calib_fit_options opt;
    calib_logistic_result r1, r2;
    double a1 = 0, b1 = 0, a2 = 0, b2 = 0;

    for (size_t i = 0; i < N; i++) {
        y[i] = uniform01() < 0.3;
        s[i] = (y[i] ? 1.5 : -0.5) + 2.0 * (uniform01() - 0.5) * 3.0;
        s5[i] = s[i] * 1e5;
    }
    calib_fit_options_default(&opt);
    CHECK_STATUS(calib_platt_fit(s, y, N, &opt, &a1, &b1, &r1, NULL),
                 CALIB_OK);
    CHECK_STATUS(calib_platt_fit(s5, y, N, &opt, &a2, &b2, &r2, NULL),
                 CALIB_OK);
    CHECK(r1.converged && r2.converged);
    CHECK(a1 > 0.0);
    CHECK_REL(a2 * 1e5, a1, 1e-9);
    CHECK_REL(b2, b1, 1e-9);
    CHECK(r1.gradient < 1e-12 && r2.gradient < 1e-12 / 1e4);
}

static void test_isotonic_hand(void)
{
    double x[] = {0.3, 0.1, 0.4, 0.2};
    unsigned char y[] = {1, 1, 1, 0};
    double tx[] = {0.5, 0.7, 0.5, 0.5, 0.9};
    unsigned char ty[] = {1, 1, 0, 0, 0};
    double *kx = NULL, *ky = NULL;
    size_t nk = 0;

    /* sorted: (0.1,1) (0.2,0) (0.3,1) (0.4,1): the first two pool */
    CHECK_STATUS(calib_isotonic_fit(x, y, 4, &kx, &ky, &nk, NULL), CALIB_OK);
    CHECK(nk == 4);
    if (nk == 4) {
        CHECK_NEAR(kx[0], 0.1, 0);
        CHECK_NEAR(ky[0], 0.5, 0);
        CHECK_NEAR(kx[1], 0.2, 0);
        CHECK_NEAR(ky[1], 0.5, 0);
        CHECK_NEAR(kx[2], 0.3, 0);
        CHECK_NEAR(ky[3], 1.0, 0);
        CHECK_NEAR(calib_isotonic_predict(kx, ky, nk, 0.25), 0.75, 1e-15);
        CHECK_NEAR(calib_isotonic_predict(kx, ky, nk, 0.05), 0.5, 0);
        CHECK_NEAR(calib_isotonic_predict(kx, ky, nk, 0.99), 1.0, 0);
        CHECK_NEAR(calib_isotonic_predict(kx, ky, nk, 0.15), 0.5, 0);
    }
    calib_free(kx);
    calib_free(ky);

    /* ties pooled first: 0.5 -> 1/3 (weight 3); then 0.7 -> 1 and 0.9 -> 0
     * violate and pool to 1/2 */
    CHECK_STATUS(calib_isotonic_fit(tx, ty, 5, &kx, &ky, &nk, NULL),
                 CALIB_OK);
    CHECK(nk == 3);
    if (nk == 3) {
        CHECK_NEAR(kx[0], 0.5, 0);
        CHECK_NEAR(ky[0], 1.0 / 3.0, 1e-16);
        CHECK_NEAR(kx[1], 0.7, 0);
        CHECK_NEAR(ky[1], 0.5, 0);
        CHECK_NEAR(kx[2], 0.9, 0);
        CHECK_NEAR(ky[2], 0.5, 0);
        CHECK_NEAR(calib_isotonic_predict(kx, ky, nk, 0.6),
                   1.0 / 3.0 + (0.5 - 1.0 / 3.0) / 0.2 * 0.1, 1e-15);
    }
    calib_free(kx);
    calib_free(ky);
}

static void test_histogram_hand(void)
{
    double p[] = {0.05, 0.1, 0.15, 0.95, 0.5};
    unsigned char y[] = {0, 1, 1, 1, 0};
    double *e = NULL, *v = NULL;

    /* 4 equal-width right-closed bins: [0, .25] (.25, .5] (.5, .75]
     * (.75, 1]; bin 2 is empty and maps to its midpoint 0.625 */
    CHECK_STATUS(calib_histogram_fit(p, y, 5, 4, CALIB_SCHEME_WIDTH,
                                     CALIB_BIN_RIGHT, &e, &v, NULL),
                 CALIB_OK);
    if (v != NULL) {
        CHECK_NEAR(v[0], 2.0 / 3.0, 1e-16);
        CHECK_NEAR(v[1], 0.0, 0);      /* 0.5 lies in (.25, .5] */
        CHECK_NEAR(v[2], 0.625, 0);
        CHECK_NEAR(v[3], 1.0, 0);
        CHECK(calib_histogram_bin(e, 4, CALIB_BIN_RIGHT, 0.0) == 0);
        CHECK(calib_histogram_bin(e, 4, CALIB_BIN_RIGHT, 0.25) == 0);
        CHECK(calib_histogram_bin(e, 4, CALIB_BIN_LEFT, 0.25) == 1);
        CHECK(calib_histogram_bin(e, 4, CALIB_BIN_LEFT, 1.0) == 3);
        CHECK(calib_histogram_bin(e, 4, CALIB_BIN_RIGHT, 1.0) == 3);
    }
    calib_free(e);
    calib_free(v);

    /* left-closed: 0.5 moves to [.5, .75) */
    CHECK_STATUS(calib_histogram_fit(p, y, 5, 4, CALIB_SCHEME_WIDTH,
                                     CALIB_BIN_LEFT, &e, &v, NULL),
                 CALIB_OK);
    if (v != NULL) {
        CHECK_NEAR(v[1], 0.375, 0);    /* now empty: midpoint */
        CHECK_NEAR(v[2], 0.0, 0);
    }
    calib_free(e);
    calib_free(v);

    /* equal mass, 2 bins over sorted .05 .1 .15 .5 .95: cut after 2
     * values, edge (0.1 + 0.15) / 2 */
    CHECK_STATUS(calib_histogram_fit(p, y, 5, 2, CALIB_SCHEME_MASS,
                                     CALIB_BIN_RIGHT, &e, &v, NULL),
                 CALIB_OK);
    if (v != NULL) {
        CHECK_NEAR(e[1], 0.125, 1e-16);
        CHECK_NEAR(v[0], 0.5, 0);
        CHECK_NEAR(v[1], 2.0 / 3.0, 1e-16);
    }
    calib_free(e);
    calib_free(v);
}

/* One-vs-rest: rows renormalised, a row of zeros becomes uniform. */
static void test_one_vs_rest(void)
{
    double p[] = {0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8};
    int64_t y[] = {0, 1, 2};
    double q[] = {0.34, 0.33, 0.33, 0.1, 0.1, 0.8};
    double out[6];
    calib_matrix mp = matrix_of(p, 3, 3), mq = matrix_of(q, 2, 3);
    calib_fit_options opt;
    calib_model *model = NULL;

    calib_fit_options_default(&opt);
    opt.n_bins = 2;
    CHECK_STATUS(calib_fit(CALIB_HISTOGRAM, &mp, CALIB_PROBS, y, &opt,
                           &model, NULL), CALIB_OK);
    if (model == NULL)
        return;
    CHECK_STATUS(calib_model_apply(model, &mq, CALIB_PROBS, out, NULL),
                 CALIB_OK);
    for (size_t j = 0; j < 3; j++)
        CHECK_NEAR(out[j], 1.0 / 3.0, 0);
    CHECK_NEAR(out[3], 0.0, 0);
    CHECK_NEAR(out[5], 1.0, 0);
    CHECK(strcmp(calib_model_fit_info(model)->status, "exact") == 0);
    calib_model_free(model);
}

/* Binary input: one column of logits is the two-class case [0, s]. */
static void test_binary_input(void)
{
    enum { N = 500 };
    static double s[N], two[2 * N], out1[2 * N], out2[2 * N];
    static int64_t y[N];
    calib_matrix m1 = matrix_of(s, N, 1), m2 = matrix_of(two, N, 2);
    calib_model *a = NULL, *b = NULL;

    for (size_t i = 0; i < N; i++) {
        y[i] = uniform01() < 0.4;
        s[i] = (y[i] ? 2.0 : -1.0) + 4.0 * (uniform01() - 0.5);
        two[2 * i] = 0.0;
        two[2 * i + 1] = s[i];
    }
    CHECK_STATUS(calib_fit(CALIB_PLATT, &m1, CALIB_LOGITS, y, NULL, &a, NULL),
                 CALIB_OK);
    CHECK_STATUS(calib_fit(CALIB_PLATT, &m2, CALIB_LOGITS, y, NULL, &b, NULL),
                 CALIB_OK);
    if (a != NULL && b != NULL) {
        CHECK(calib_model_classes(a) == 2);
        CHECK_STATUS(calib_model_apply(a, &m2, CALIB_LOGITS, out1, NULL),
                     CALIB_OK);
        CHECK_STATUS(calib_model_apply(b, &m1, CALIB_LOGITS, out2, NULL),
                     CALIB_OK);
        CHECK(memcmp(out1, out2, sizeof out1) == 0);
        CHECK_NEAR(out1[0] + out1[1], 1.0, 1e-15);
    }
    calib_model_free(a);
    calib_model_free(b);
}

/* Fit, save to JSON, load, apply: the same bits as the fitted object. */
static void test_round_trip(void)
{
    enum { N = 600, K = 4 };
    static double z[N * K], p[N * K], out1[N * K], out2[N * K];
    static int64_t y[N];
    calib_matrix mz = matrix_of(z, N, K), mp = matrix_of(p, N, K);
    char path[] = "/tmp/calib_test_model_XXXXXX";
    int fd = mkstemp(path);

    make_logits(N, K, 3.0, z, y);
    calib_softmax(z, N, K, p);
    for (unsigned mi = 0; mi < CALIB_METHOD_COUNT; mi++) {
        for (int use_probs = 0; use_probs <= 1; use_probs++) {
            calib_method method = (calib_method)mi;
            calib_input in = use_probs ? CALIB_PROBS : CALIB_LOGITS;
            calib_matrix *m = use_probs ? &mp : &mz;
            calib_model *fitted = NULL, *loaded = NULL, *parsed = NULL;
            calib_fit_options opt;
            calib_error err;
            char *json = NULL;

            calib_fit_options_default(&opt);
            opt.scheme = use_probs ? CALIB_SCHEME_MASS : CALIB_SCHEME_WIDTH;
            if (calib_fit(method, m, in, y, &opt, &fitted, &err) !=
                CALIB_OK) {
                printf("FAIL fit %s: %s\n", calib_method_name(method),
                       err.message);
                CHECK(0);
                continue;
            }
            CHECK_STATUS(calib_model_to_json(fitted, &json, &err), CALIB_OK);
            CHECK_STATUS(calib_model_from_json(json, strlen(json), "mem",
                                               &parsed, &err), CALIB_OK);
            CHECK_STATUS(calib_model_save(fitted, path, &err), CALIB_OK);
            CHECK_STATUS(calib_model_load(path, &loaded, &err), CALIB_OK);
            if (loaded == NULL || parsed == NULL) {
                printf("  %s: %s\n", calib_method_name(method), err.message);
            } else {
                const calib_fit_info *f1 = calib_model_fit_info(fitted);
                const calib_fit_info *f2 = calib_model_fit_info(loaded);
                CHECK_STATUS(calib_model_apply(fitted, m, in, out1, NULL),
                             CALIB_OK);
                CHECK_STATUS(calib_model_apply(loaded, m, in, out2, NULL),
                             CALIB_OK);
                CHECK(memcmp(out1, out2, sizeof out1) == 0);
                CHECK(calib_model_method(loaded) == method);
                CHECK(calib_model_classes(loaded) == K);
                CHECK(f1->n == f2->n && f1->iterations == f2->iterations);
                CHECK(f1->nll_after == f2->nll_after);
                CHECK(f1->nll_before == f2->nll_before);
                CHECK(strcmp(f1->status, f2->status) == 0);
                CHECK(f2->nll_after <= f2->nll_before ||
                      method == CALIB_HISTOGRAM || method == CALIB_PLATT ||
                      method == CALIB_BETA);
                for (size_t i = 0; i < N; i++) {
                    double sum = 0.0;
                    for (size_t j = 0; j < K; j++)
                        sum += out1[i * K + j];
                    if (fabs(sum - 1.0) > 1e-12) {
                        CHECK_NEAR(sum, 1.0, 1e-12);
                        break;
                    }
                }
            }
            calib_free(json);
            calib_model_free(fitted);
            calib_model_free(loaded);
            calib_model_free(parsed);
        }
    }
    if (fd >= 0)
        close(fd);
    remove(path);
}

/* Each kind of bad model file: status, key and message. */
static void expect_bad(const char *json, calib_status want,
                       const char *field, const char *in_message)
{
    calib_model *m = NULL;
    calib_error err;
    calib_status st = calib_model_from_json(json, strlen(json), "bad.json",
                                            &m, &err);
    CHECK_STATUS(st, want);
    CHECK(m == NULL);
    if (st == CALIB_OK) {
        calib_model_free(m);
        return;
    }
    CHECK(strncmp(err.message, "bad.json: ", 10) == 0);
    CHECK(strchr(err.message, '\n') == NULL);
    if (field != NULL && strcmp(err.field, field) != 0) {
        printf("FAIL field '%s', want '%s' (%s)\n", err.field, field,
               err.message);
        CHECK(0);
    }
    if (in_message != NULL && strstr(err.message, in_message) == NULL) {
        printf("FAIL message '%s' lacks '%s'\n", err.message, in_message);
        CHECK(0);
    }
}

#define HEAD "{\"format\": \"calib-model\", \"version\": 1, "
#define TAIL ", \"conventions\": {\"n_bins\": 15, \"scheme\": \"width\", " \
             "\"bin_rule\": \"right\", \"interpolation\": \"linear-clip\"}," \
             " \"fit\": {\"n\": 10, \"nll_before\": 1.0, \"nll_after\": " \
             "0.5, \"iterations\": 3, \"gradient\": 0.0, \"status\": " \
             "\"converged\"}, \"library_version\": \"0.1.0\"}"

static void test_bad_models(void)
{
    const char *good = HEAD "\"method\": \"temperature\", \"classes\": 3, "
                            "\"input\": \"logits\", \"parameters\": "
                            "{\"temperature\": 1.5}" TAIL;
    calib_model *m = NULL;
    double z[6] = {1, 2, 3, 4, 5, 6}, out[6] = {-1, -1, -1, -1, -1, -1};
    calib_matrix two = matrix_of(z, 3, 2);
    calib_error err;

    CHECK_STATUS(calib_model_from_json(good, strlen(good), "good.json", &m,
                                       &err), CALIB_OK);
    if (m != NULL) {
        CHECK_NEAR(calib_model_temperature(m), 1.5, 0);
        /* K mismatch: both Ks named, output untouched */
        CHECK_STATUS(calib_model_apply(m, &two, CALIB_LOGITS, out, &err),
                     CALIB_E_SHAPE);
        CHECK(strstr(err.message, "K = 3") != NULL &&
              strstr(err.message, "K = 2") != NULL);
        CHECK(out[0] == -1.0);
        calib_model_free(m);
    }

    /* malformed and truncated: line and column given */
    expect_bad("{\"format\": \"calib-model\",\n \"version\": }",
               CALIB_E_FORMAT, NULL, "line 2, column");
    expect_bad(HEAD "\"method\": \"temp", CALIB_E_FORMAT, NULL, "line 1");
    expect_bad("", CALIB_E_FORMAT, NULL, "malformed JSON");
    expect_bad("[1, 2]", CALIB_E_FORMAT, NULL, "JSON object");
    expect_bad("{\"format\": \"npy\", \"version\": 1}", CALIB_E_FORMAT,
               "format", "not a calib model");
    expect_bad(HEAD "\"version\": 1}", CALIB_E_FORMAT, NULL, "duplicate");
    expect_bad("{\"format\": \"calib-model\", \"version\": 2}",
               CALIB_E_UNSUPPORTED, "version", "version 2");
    expect_bad(HEAD "\"method\": \"softmax\", \"classes\": 3, "
                    "\"input\": \"logits\", \"parameters\": {}" TAIL,
               CALIB_E_UNSUPPORTED, "method", "unknown method");
    expect_bad(HEAD "\"method\": \"temperature\", \"classes\": 3, "
                    "\"input\": \"logits\", \"parameters\": {}" TAIL,
               CALIB_E_FORMAT, "parameters.temperature", "missing");
    expect_bad(HEAD "\"method\": \"temperature\", \"classes\": 3, "
                    "\"input\": \"logits\", \"parameters\": "
                    "{\"temperature\": \"1.5\"}" TAIL,
               CALIB_E_FORMAT, "parameters.temperature", "a string");
    expect_bad(HEAD "\"method\": \"temperature\", \"classes\": 3, "
                    "\"input\": \"logits\", \"parameters\": "
                    "{\"temperature\": -1.5}" TAIL,
               CALIB_E_VALUE, "parameters.temperature", "> 0");
    expect_bad(HEAD "\"method\": \"temperature\", \"classes\": 3, "
                    "\"input\": \"logits\", \"parameters\": "
                    "{\"temperature\": 1e999}" TAIL,
               CALIB_E_FORMAT, NULL, "overflow");
    expect_bad(HEAD "\"method\": \"temperature\", \"classes\": 3, "
                    "\"input\": \"logits\", \"parameters\": "
                    "{\"temperature\": NaN}" TAIL,
               CALIB_E_FORMAT, NULL, "malformed JSON");
    expect_bad(HEAD "\"method\": \"temperature\", \"classes\": 1, "
                    "\"input\": \"logits\", \"parameters\": "
                    "{\"temperature\": 1.5}" TAIL,
               CALIB_E_VALUE, "classes", "class count");
    expect_bad(HEAD "\"method\": \"temperature\", \"classes\": 3, "
                    "\"input\": \"scores\", \"parameters\": "
                    "{\"temperature\": 1.5}" TAIL,
               CALIB_E_FORMAT, "input", "\"scores\"");
    expect_bad(HEAD "\"method\": \"platt\", \"classes\": 3, "
                    "\"input\": \"logits\", \"parameters\": "
                    "{\"a\": [1, 2], \"b\": [0, 0, 0]}" TAIL,
               CALIB_E_FORMAT, "parameters.a", "expected 3 numbers");
    expect_bad(HEAD "\"method\": \"vector\", \"classes\": 2, "
                    "\"input\": \"logits\", \"parameters\": "
                    "{\"w\": [1, 1], \"b\": [0, null]}" TAIL,
               CALIB_E_FORMAT, "parameters.b", "item 1");
    expect_bad(HEAD "\"method\": \"matrix\", \"classes\": 2, "
                    "\"input\": \"logits\", \"parameters\": "
                    "{\"W\": [[1, 0]], \"b\": [0, 0]}" TAIL,
               CALIB_E_FORMAT, "parameters.W", "expected 2 rows");
    expect_bad(HEAD "\"method\": \"isotonic\", \"classes\": 2, "
                    "\"input\": \"probs\", \"parameters\": "
                    "{\"x\": [[0.5, 0.2]], \"y\": [[0.1, 0.3]]}" TAIL,
               CALIB_E_VALUE, "parameters.x", "increase");
    expect_bad(HEAD "\"method\": \"isotonic\", \"classes\": 2, "
                    "\"input\": \"probs\", \"parameters\": "
                    "{\"x\": [[0.2, 0.5]], \"y\": [[0.1]]}" TAIL,
               CALIB_E_FORMAT, "parameters.y", "expected 2 numbers");
    expect_bad(HEAD "\"method\": \"histogram\", \"classes\": 2, "
                    "\"input\": \"probs\", \"parameters\": "
                    "{\"edges\": [[0, 0.5, 1]], \"values\": [[0.1, 0.3]]}"
                    TAIL,
               CALIB_E_FORMAT, "parameters.edges", "for 15 bins");
    expect_bad(HEAD "\"method\": \"temperature\", \"classes\": 3, "
                    "\"input\": \"logits\", \"parameters\": "
                    "{\"temperature\": 1.5}, \"conventions\": {}, "
                    "\"fit\": {}, \"library_version\": \"0.1.0\"}",
               CALIB_E_FORMAT, "conventions.n_bins", "missing");
    expect_bad(HEAD "\"method\": \"temperature\", \"classes\": 3, "
                    "\"input\": \"logits\", \"parameters\": "
                    "{\"temperature\": 1.5}}",
               CALIB_E_FORMAT, "conventions", "missing");

    CHECK_STATUS(calib_model_load("/nonexistent/model.json", &m, &err),
                 CALIB_E_IO);
    CHECK(strstr(err.message, "/nonexistent/model.json") != NULL);
}

static void test_bad_input(void)
{
    double z[6] = {1, 2, 3, 4, NAN, 6};
    double p[4] = {0.5, 0.6, 0.5, 0.5};
    int64_t y[3] = {0, 1, 1};
    int64_t y_bad[3] = {0, 3, 1};
    calib_matrix mz = matrix_of(z, 3, 2), mp = matrix_of(p, 2, 2);
    calib_model *m = NULL;
    calib_error err;

    CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, &mz, CALIB_LOGITS, y, NULL, &m,
                           &err), CALIB_E_VALUE);
    CHECK(err.row == 2);
    z[4] = 5;
    CHECK_STATUS(calib_fit(CALIB_ISOTONIC, &mz, CALIB_LOGITS, y_bad, NULL, &m,
                           &err), CALIB_E_VALUE);
    CHECK(err.row == 1 && strstr(err.message, "label 3") != NULL);
    CHECK_STATUS(calib_fit(CALIB_PLATT, &mp, CALIB_PROBS, y, NULL, &m, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 0);
    CHECK(m == NULL);
}

int main(void)
{
    test_names();
    test_temperature_optimum();
    test_temperature_probs();
    test_temperature_threads();
    test_temperature_degenerate();
    test_platt_scale();
    test_isotonic_hand();
    test_histogram_hand();
    test_one_vs_rest();
    test_binary_input();
    test_round_trip();
    test_bad_models();
    test_bad_input();
    return check_done("test_calibrators");
}
