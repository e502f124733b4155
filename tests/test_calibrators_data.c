/*
 * test_calibrators_data.c - calibrators on the real data of ../shared/data
 * against the independent references of tests/golden/make_calibrators.py
 * (SciPy, scikit-learn): the exact temperature on every validation split,
 * Platt against sklearn's sigmoid calibration (also with scores of
 * magnitude 1e5), beta calibration against an unregularised logistic
 * regression, isotonic regression against IsotonicRegression(
 * out_of_bounds="clip"), histogram binning against NumPy.
 * Skips (77) when the data is absent.
 */
#include "calib.h"
#include "calibrators.h"
#include "check.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN "tests/golden/calibrators.json"

static const char *const val_splits[] = {
    "cifar10-resnet50-ce", "cifar10-resnet50-focal", "cifar10lt-densenet40",
    "cifar10lt-resnet110", "cifar10lt-resnet110sd", "cifar10lt-wrn28"};

static double num(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || !json_is_number(v)) {
        printf("FAIL golden key %s missing\n", key);
        return NAN;
    }
    return json_number_value(v);
}

static int load_split(const char *split, const char *what, calib_matrix *m,
                      int64_t **labels, size_t *n)
{
    char path[512];
    calib_error err;

    snprintf(path, sizeof path, SHARED_DATA "/%s/%s_logits.npy", split,
             what);
    if (calib_read_matrix(path, m, &err) != CALIB_OK) {
        snprintf(path, sizeof path, SHARED_DATA "/%s/%s_probs.npy", split,
                 what);
        if (calib_read_matrix(path, m, &err) != CALIB_OK) {
            printf("FAIL %s\n", err.message);
            return -1;
        }
    }
    snprintf(path, sizeof path, SHARED_DATA "/%s/%s_labels.npy", split,
             what);
    if (calib_read_labels(path, labels, n, &err) != CALIB_OK) {
        printf("FAIL %s\n", err.message);
        calib_matrix_free(m);
        return -1;
    }
    return 0;
}

static void test_temperature(const json_t *gold)
{
    for (size_t s = 0; s < sizeof val_splits / sizeof val_splits[0]; s++) {
        const json_t *g = json_object_get(gold, val_splits[s]);
        calib_matrix m;
        int64_t *y = NULL;
        size_t n = 0;
        calib_model *model = NULL, *model1 = NULL;
        calib_fit_options opt;
        calib_error err;

        if (g == NULL || load_split(val_splits[s], "val", &m, &y, &n) != 0) {
            CHECK(0);
            continue;
        }
        calib_fit_options_default(&opt);
        CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, &m, CALIB_LOGITS, y, &opt,
                               &model, &err), CALIB_OK);
        opt.threads = 1;
        CHECK_STATUS(calib_fit(CALIB_TEMPERATURE, &m, CALIB_LOGITS, y, &opt,
                               &model1, &err), CALIB_OK);
        if (model != NULL && model1 != NULL) {
            const calib_fit_info *fi = calib_model_fit_info(model);
            double t = calib_model_temperature(model);
            double t1 = calib_model_temperature(model1);

            printf("%-24s T = %.17g (reference %.17g, rel %.2g), "
                   "%zu iterations\n", val_splits[s], t,
                   num(g, "temperature"),
                   fabs(t / num(g, "temperature") - 1.0), fi->iterations);
            CHECK_REL(t, num(g, "temperature"), 1e-8);
            CHECK(memcmp(&t, &t1, sizeof t) == 0);
            CHECK_REL(fi->nll_before, num(g, "nll_before"), 1e-12);
            CHECK_REL(fi->nll_after, num(g, "nll_after"), 1e-12);
            CHECK(fi->gradient < 1e-12);
            CHECK(strcmp(fi->status, "converged") == 0);
        }
        calib_model_free(model);
        calib_model_free(model1);
        calib_matrix_free(&m);
        calib_free(y);
    }
}

/* Scores: column 3 of cifar10-resnet50-ce's validation logits. */
static int platt_scores(double **s, unsigned char **yb, size_t *n_out)
{
    calib_matrix m;
    int64_t *y = NULL;
    size_t n = 0;

    if (load_split("cifar10-resnet50-ce", "val", &m, &y, &n) != 0)
        return -1;
    *s = malloc(n * sizeof **s);
    *yb = malloc(n);
    if (*s == NULL || *yb == NULL) {
        calib_matrix_free(&m);
        calib_free(y);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        (*s)[i] = calib_matrix_get(&m, i, 3);
        (*yb)[i] = y[i] == 3;
    }
    *n_out = n;
    calib_matrix_free(&m);
    calib_free(y);
    return 0;
}

static void test_platt_beta(const json_t *root)
{
    const json_t *gp = json_object_get(root, "platt");
    const json_t *g5 = json_object_get(root, "platt_1e5");
    const json_t *gb = json_object_get(root, "beta");
    double *s = NULL, *s5 = NULL, a, b, c;
    unsigned char *y = NULL;
    size_t n = 0;
    calib_fit_options opt;
    calib_logistic_result res;

    if (platt_scores(&s, &y, &n) != 0 || gp == NULL || g5 == NULL ||
        gb == NULL) {
        CHECK(0);
        free(s);
        free(y);
        return;
    }
    calib_fit_options_default(&opt);

    CHECK_STATUS(calib_platt_fit(s, y, n, &opt, &a, &b, &res, NULL),
                 CALIB_OK);
    printf("platt      a = %.17g b = %.17g (sklearn %.17g %.17g)\n", a, b,
           num(gp, "sklearn_a"), num(gp, "sklearn_b"));
    CHECK_REL(a, num(gp, "sklearn_a"), 1e-6);
    CHECK_REL(b, num(gp, "sklearn_b"), 1e-6);
    CHECK_REL(a, num(gp, "a"), 1e-9);
    CHECK_REL(b, num(gp, "b"), 1e-9);
    CHECK(res.converged);

    /* scores of magnitude 1e5: sklearn 1.2's BFGS stalls at its start
     * there (the golden file records it), so compare with its answer on
     * the unscaled scores, scaled, and with the tight SciPy solve */
    s5 = malloc(n * sizeof *s5);
    if (s5 != NULL) {
        double a5, b5;
        for (size_t i = 0; i < n; i++)
            s5[i] = s[i] * 1e5;
        CHECK_STATUS(calib_platt_fit(s5, y, n, &opt, &a5, &b5, &res, NULL),
                     CALIB_OK);
        printf("platt 1e5  a = %.17g b = %.17g (scipy %.17g %.17g)\n", a5,
               b5, num(g5, "a"), num(g5, "b"));
        CHECK_REL(a5 * 1e5, num(gp, "sklearn_a"), 1e-6);
        CHECK_REL(b5, num(gp, "sklearn_b"), 1e-6);
        CHECK_REL(a5, num(g5, "a"), 1e-9);
        CHECK_REL(b5, num(g5, "b"), 1e-9);
        CHECK(res.converged);
    }

    CHECK_STATUS(calib_beta_fit(s, y, n, &opt, &a, &b, &c, &res, NULL),
                 CALIB_OK);
    printf("beta       a = %.17g b = %.17g c = %.17g\n", a, b, c);
    CHECK_REL(a, num(gb, "a"), 1e-8);
    CHECK_REL(b, num(gb, "b"), 1e-8);
    CHECK_REL(c, num(gb, "c"), 1e-8);
    {
        json_t *skl = json_object_get(gb, "sklearn");
        CHECK_REL(a, json_number_value(json_array_get(skl, 0)), 1e-6);
        CHECK_REL(b, json_number_value(json_array_get(skl, 1)), 1e-6);
        CHECK_REL(c, json_number_value(json_array_get(skl, 2)), 1e-6);
    }
    free(s);
    free(s5);
    free(y);
}

/* Compares predictions with the sampled golden ones (every 10th, sum). */
static void compare_sampled(const char *what, const json_t *g,
                            const double *pred, size_t count, double tol)
{
    const json_t *every = json_object_get(g, "every10");
    double sum = 0.0, worst = 0.0;
    size_t bad = 0;

    CHECK(every != NULL && json_array_size(every) == (count + 9) / 10);
    for (size_t i = 0; every != NULL && i < json_array_size(every); i++) {
        double want = json_number_value(json_array_get(every, i));
        double d = fabs(pred[10 * i] - want);
        if (d > worst)
            worst = d;
        if (d > tol)
            bad++;
    }
    for (size_t i = 0; i < count; i++)
        sum += pred[i];
    printf("%-18s largest difference %.3g, sum %.17g (reference %.17g)\n",
           what, worst, sum, num(g, "sum"));
    CHECK(bad == 0);
    /* NumPy sums pairwise, this loop in order: allow their rounding */
    CHECK_NEAR(sum, num(g, "sum"), fmax(tol * (double)count, 1e-12 * fabs(sum)));
}

static void test_isotonic_histogram(const json_t *root)
{
    calib_matrix m;
    int64_t *y = NULL;
    size_t n = 0, k;
    double *col = NULL, *knot_x = NULL, *knot_y = NULL, *pred = NULL;
    double *edges = NULL, *values = NULL;
    unsigned char *yb = NULL;
    size_t n_knots = 0, half;

    if (load_split("cifar10-vgg16-probs", "test", &m, &y, &n) != 0) {
        CHECK(0);
        return;
    }
    k = m.cols;
    half = n / 2;
    col = malloc(n * sizeof *col);
    pred = malloc(n * k * sizeof *pred);
    yb = malloc(n);
    if (col == NULL || pred == NULL || yb == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        col[i] = calib_matrix_get(&m, i, 3);
        yb[i] = y[i] == 3;
    }

    /* binary: fit on the first half, predict the second */
    CHECK_STATUS(calib_isotonic_fit(col, yb, half, &knot_x, &knot_y,
                                    &n_knots, NULL), CALIB_OK);
    if (knot_x != NULL) {
        for (size_t i = half; i < n; i++)
            pred[i - half] = calib_isotonic_predict(knot_x, knot_y, n_knots,
                                                    col[i]);
        compare_sampled("isotonic binary",
                        json_object_get(root, "isotonic_binary"), pred,
                        n - half, 1e-12);
    }

    /* one-vs-rest through calib_fit and calib_model_apply */
    {
        calib_matrix fit = m, rest = m;
        calib_model *model = NULL;
        calib_error err;

        fit.rows = half;
        rest.rows = n - half;
        rest.data = (float *)m.data + half * k;
        CHECK(m.dtype == CALIB_FLOAT32);
        CHECK_STATUS(calib_fit(CALIB_ISOTONIC, &fit, CALIB_PROBS, y, NULL,
                               &model, &err), CALIB_OK);
        if (model != NULL) {
            CHECK_STATUS(calib_model_apply(model, &rest, CALIB_PROBS, pred,
                                           &err), CALIB_OK);
            compare_sampled("isotonic 10 class",
                            json_object_get(root, "isotonic_ovr"), pred,
                            (n - half) * k, 1e-12);
        }
        calib_model_free(model);
    }

    /* histogram binning, 15 equal-width right-closed bins */
    CHECK_STATUS(calib_histogram_fit(col, yb, half, 15, CALIB_SCHEME_WIDTH,
                                     CALIB_BIN_RIGHT, &edges, &values, NULL),
                 CALIB_OK);
    if (values != NULL) {
        const json_t *g = json_object_get(root, "histogram_binary");
        const json_t *gv = json_object_get(g, "values");
        for (size_t b = 0; b < 15; b++)
            CHECK_NEAR(values[b], json_number_value(json_array_get(gv, b)),
                       1e-15);
        for (size_t i = half; i < n; i++)
            pred[i - half] = values[calib_histogram_bin(edges, 15,
                                                        CALIB_BIN_RIGHT,
                                                        col[i])];
        compare_sampled("histogram binary", g, pred, n - half, 1e-15);
    }

out:
    calib_free(knot_x);
    calib_free(knot_y);
    calib_free(edges);
    calib_free(values);
    free(col);
    free(pred);
    free(yb);
    calib_matrix_free(&m);
    calib_free(y);
}

int main(void)
{
    json_error_t jerr;
    json_t *root;

    if (!shared_data_present()) {
        printf("SKIP: ../shared/data not found\n");
        return 77;
    }
    root = json_load_file(GOLDEN, 0, &jerr);
    if (root == NULL) {
        printf("FAIL %s: %s\n", GOLDEN, jerr.text);
        return 1;
    }
    test_temperature(json_object_get(root, "temperature"));
    test_platt_beta(root);
    test_isotonic_histogram(root);
    json_decref(root);
    return check_done("test_calibrators_data");
}
