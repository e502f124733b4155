/*
 * test_metrics_golden.c - calib_evaluate against the NumPy / scikit-learn
 * values of tests/golden/metrics_*.json (made by make_metrics.py) on the
 * real files in ../shared/data: every scalar metric within 1e-12
 * relative, every bin count exactly, bin means within 1e-12. Skips (77)
 * when the data is absent.
 */
#include "calib.h"
#include "check.h"

#include <jansson.h>
#include <string.h>

#define REL 1e-12

static const char *const goldens[] = {
    "tests/golden/metrics_cifar10_resnet50_ce.json",
    "tests/golden/metrics_cifar10_vgg16_probs.json",
    "tests/golden/metrics_netcal_wideresnet_cifar100.json",
    "tests/golden/metrics_imagenet_efficientnet_b1.json",
};

static int near_rel(double got, double want)
{
    return got == want || fabs(got - want) <= REL * fabs(want) + 1e-300;
}

static void check_value(const char *name, const char *key, double got,
                        json_t *expected)
{
    json_t *v = json_object_get(expected, key);
    double want;

    check_count++;
    if (!json_is_number(v)) {
        check_failures++;
        printf("FAIL %s: golden has no number '%s'\n", name, key);
        return;
    }
    want = json_number_value(v);
    if (!near_rel(got, want)) {
        check_failures++;
        printf("FAIL %s: %s = %.17g, want %.17g (rel %.3g)\n", name, key,
               got, want, fabs(got - want) / fabs(want));
    }
}

static void check_bins(const char *name, const calib_metrics *m,
                       json_t *bins, int mass)
{
    size_t n = json_array_size(bins);

    check_count++;
    if (n != m->n_bins) {
        check_failures++;
        printf("FAIL %s: %zu bins, want %zu\n", name, m->n_bins, n);
        return;
    }
    for (size_t b = 0; b < n; b++) {
        json_t *row = json_array_get(bins, b);
        uint64_t count =
            (uint64_t)json_integer_value(json_object_get(row, "count"));
        check_count++;
        if (m->bins[b].count != count) {
            check_failures++;
            printf("FAIL %s: bin %zu count %llu, want %llu\n", name, b,
                   (unsigned long long)m->bins[b].count,
                   (unsigned long long)count);
        }
        check_value(name, "confidence", m->bins[b].confidence, row);
        check_value(name, "accuracy", m->bins[b].accuracy, row);
        if (mass) {
            check_value(name, "lo", m->bins[b].lo, row);
            check_value(name, "hi", m->bins[b].hi, row);
        }
    }
}

static void run_case(json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *input = json_string_value(json_object_get(c, "input"));
    const char *preds = json_string_value(json_object_get(c, "preds"));
    const char *labels_spec =
        json_string_value(json_object_get(c, "labels"));
    const char *rule = json_string_value(json_object_get(c, "bin_rule"));
    const char *scheme = json_string_value(json_object_get(c, "scheme"));
    json_t *expected = json_object_get(c, "expected");
    char path[1024], labels_path[1024];
    calib_eval_options o;
    calib_metrics m;
    calib_error err;
    calib_status st;

    if (name == NULL || input == NULL || preds == NULL || rule == NULL ||
        scheme == NULL || expected == NULL) {
        check_failures++;
        printf("FAIL: malformed golden case\n");
        return;
    }
    calib_eval_options_default(&o);
    o.n_bins = (size_t)json_integer_value(json_object_get(c, "n_bins"));
    o.bin_rule = strcmp(rule, "left") == 0 ? CALIB_BIN_LEFT
                                           : CALIB_BIN_RIGHT;
    o.scheme = strcmp(scheme, "mass") == 0 ? CALIB_SCHEME_MASS
                                           : CALIB_SCHEME_WIDTH;
    o.smoothing = json_number_value(json_object_get(c, "smoothing"));
    snprintf(path, sizeof path, "%s/%s", SHARED_DATA, preds);

    if (strcmp(input, "toplabel") == 0) {
        calib_toplabel t;
        st = calib_read_toplabel(path, &t, &err);
        if (st == CALIB_OK) {
            st = calib_evaluate_toplabel(&t, 0, &o, &m, &err);
            calib_toplabel_free(&t);
        }
    } else {
        calib_matrix x;
        int64_t *y = NULL;
        size_t n = 0;
        snprintf(labels_path, sizeof labels_path, "%s/%s", SHARED_DATA,
                 labels_spec != NULL ? labels_spec : "");
        st = calib_read_matrix(path, &x, &err);
        if (st == CALIB_OK) {
            st = calib_read_labels(labels_path, &y, &n, &err);
            if (st == CALIB_OK)
                st = calib_evaluate(&x, strcmp(input, "logits") == 0
                                            ? CALIB_LOGITS
                                            : CALIB_PROBS,
                                    y, &o, &m, &err);
            calib_free(y);
            calib_matrix_free(&x);
        }
    }
    check_count++;
    if (st != CALIB_OK) {
        check_failures++;
        printf("FAIL %s: %s\n", name, err.message);
        return;
    }

    check_value(name, "accuracy", m.accuracy, expected);
    check_value(name, "mean_confidence", m.mean_confidence, expected);
    check_value(name, "ece", m.ece, expected);
    check_value(name, "mce", m.mce, expected);
    check_value(name, "rmsce", m.rmsce, expected);
    check_value(name, "ace", m.ace, expected);
    if (m.has_full_probs) {
        check_value(name, "nll", m.nll, expected);
        check_value(name, "brier", m.brier, expected);
        check_value(name, "kl_smoothed", m.kl_smoothed, expected);
        check_value(name, "classwise_ece", m.classwise_ece, expected);
    } else {
        CHECK(isnan(m.nll) && isnan(m.brier) && isnan(m.classwise_ece));
    }
    check_bins(name, &m, json_object_get(expected, "bins"),
               o.scheme == CALIB_SCHEME_MASS);
    printf("%s: ece %.17g ace %.17g\n", name, m.ece, m.ace);
    calib_metrics_free(&m);
}

int main(void)
{
    if (!shared_data_present()) {
        printf("SKIP: ../shared/data not found; golden metrics not "
               "checked\n");
        return 77;
    }
    for (size_t g = 0; g < sizeof goldens / sizeof *goldens; g++) {
        json_error_t jerr;
        json_t *doc = json_load_file(goldens[g], 0, &jerr);
        json_t *cases = json_object_get(doc, "cases");

        check_count++;
        if (doc == NULL || !json_is_array(cases)) {
            check_failures++;
            printf("FAIL %s: %s\n", goldens[g], jerr.text);
            json_decref(doc);
            continue;
        }
        for (size_t i = 0; i < json_array_size(cases); i++)
            run_case(json_array_get(cases, i));
        json_decref(doc);
    }
    return check_done("test_metrics_golden");
}
