/*
 * test_scaling_data.c - vector, matrix and Dirichlet scaling at a verified
 * optimum on real validation splits: the final gradient is near zero and
 * the objective is no worse than SciPy's L-BFGS-B optimum of the same
 * objective (tests/golden/make_scaling.py wrote scaling_*.json). Skips
 * when ../shared/data is absent.
 */
#include "check.h"
#include "scaling.h"
#include "scaling_objective.h"
#include "internal.h"

#include <jansson.h>

static const char *const goldens[] = {
    "tests/golden/scaling_cifar10-resnet50-ce_vector.json",
    "tests/golden/scaling_cifar10-resnet50-ce_matrix.json",
    "tests/golden/scaling_cifar10-resnet50-ce_dirichlet.json",
    "tests/golden/scaling_cifar10lt-resnet110_vector.json",
    "tests/golden/scaling_cifar10lt-resnet110_matrix.json",
    "tests/golden/scaling_cifar10lt-resnet110_dirichlet.json",
};

static double number(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    CHECK(json_is_number(v));
    return json_is_number(v) ? json_number_value(v) : (double)NAN;
}

static calib_method method_of(const char *name)
{
    if (strcmp(name, "vector") == 0)
        return CALIB_VECTOR;
    if (strcmp(name, "matrix") == 0)
        return CALIB_MATRIX;
    return CALIB_DIRICHLET;
}

static void check_golden(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr), *opts, *ref_params;
    calib_matrix logits = {0, 0, CALIB_FLOAT32, NULL};
    int64_t *labels = NULL;
    size_t n = 0, k, np;
    double *x = NULL, *params = NULL, *scipy_params = NULL;
    double f_calib, f_scipy_here, f_scipy, dmax = 0.0;
    char spec[512];
    calib_fit_options opt;
    calib_fit_info info;
    calib_method method;
    calib_error err;

    CHECK(root != NULL);
    if (root == NULL) {
        printf("%s: %s\n", path, jerr.text);
        return;
    }
    method = method_of(json_string_value(json_object_get(root, "method")));
    opts = json_object_get(root, "options");
    memset(&opt, 0, sizeof opt);
    opt.l2 = number(opts, "l2");
    opt.dirichlet_lambda = number(opts, "dirichlet_lambda");
    opt.dirichlet_mu = number(opts, "dirichlet_mu");
    opt.tolerance = 1e-12;
    f_scipy = number(root, "objective");

    /* the split, in double; log-softmax for Dirichlet */
    snprintf(spec, sizeof spec, SHARED_DATA "/%s/%s",
             json_string_value(json_object_get(root, "split")),
             json_string_value(json_object_get(root, "logits")));
    CHECK_STATUS(calib_read_matrix(spec, &logits, &err), CALIB_OK);
    snprintf(spec, sizeof spec, SHARED_DATA "/%s/%s",
             json_string_value(json_object_get(root, "split")),
             json_string_value(json_object_get(root, "labels")));
    CHECK_STATUS(calib_read_labels(spec, &labels, &n, &err), CALIB_OK);
    k = logits.cols;
    np = calib_scaling_param_count(method, k);
    ref_params = json_object_get(root, "params");
    CHECK(n == logits.rows && n == (size_t)number(root, "n"));
    CHECK(json_array_size(ref_params) == np);
    if (logits.data == NULL || labels == NULL || n != logits.rows ||
        json_array_size(ref_params) != np)
        goto done;

    x = malloc(n * k * sizeof *x);
    params = malloc(np * sizeof *params);
    scipy_params = malloc(np * sizeof *scipy_params);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            x[i * k + j] = calib_matrix_get(&logits, i, j);
    if (method == CALIB_DIRICHLET)
        calib_log_softmax(x, n, k, x);
    for (size_t j = 0; j < np; j++)
        scipy_params[j] = json_number_value(json_array_get(ref_params, j));

    /* same objective: calib at SciPy's optimum gives SciPy's value */
    CHECK_STATUS(calib_scaling_objective(method, scipy_params, x, n, k,
                                         labels, &opt, &f_scipy_here, NULL,
                                         NULL, &err), CALIB_OK);
    CHECK_REL(f_scipy_here, f_scipy, 1e-12);

    /* the fit: at least as low, gradient near zero */
    CHECK_STATUS(calib_scaling_fit(method, x, n, k, labels, &opt, params,
                                   &info, &err), CALIB_OK);
    CHECK_STATUS(calib_scaling_objective(method, params, x, n, k, labels,
                                         &opt, &f_calib, NULL, NULL, &err),
                 CALIB_OK);
    for (size_t j = 0; j < np; j++)
        dmax = fmax(dmax, fabs(params[j] - scipy_params[j]));
    printf("%s: calib %.17g, SciPy %.17g (calib - SciPy %.3g), "
           "gradient %.3g, %zu iterations, %s; max |param - SciPy's| %.3g\n",
           path, f_calib, f_scipy, f_calib - f_scipy, info.gradient,
           info.iterations, info.status, dmax);
    CHECK(f_calib <= f_scipy + 1e-9 * fabs(f_scipy));
    CHECK(info.gradient < 1e-7);
    CHECK(strcmp(info.status, "converged") == 0);
    CHECK_REL(info.nll_before, number(root, "nll_identity"), 1e-12);
    CHECK(info.nll_after < info.nll_before);
    CHECK(dmax < 1e-2);

done:
    free(x);
    free(params);
    free(scipy_params);
    calib_free(labels);
    calib_matrix_free(&logits);
    json_decref(root);
}

int main(void)
{
    if (!shared_data_present()) {
        printf("SKIP: ../shared/data not found\n");
        return 77;
    }
    for (size_t g = 0; g < sizeof goldens / sizeof goldens[0]; g++)
        check_golden(goldens[g]);
    return check_done("test_scaling_data");
}
