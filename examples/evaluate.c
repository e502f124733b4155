/*
 * evaluate.c - calib as a library: read logits and labels from .npy,
 * measure calibration, fit temperature scaling on a validation split and
 * measure the test split again.
 *
 *   evaluate VAL_LOGITS.npy VAL_LABELS.npy TEST_LOGITS.npy TEST_LABELS.npy
 *
 * Build against an installed calib with
 *   cc evaluate.c $(pkg-config --cflags --libs calib)
 * (PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig for a PREFIX of your own; run
 * with LD_LIBRARY_PATH=$PREFIX/lib, or link $PREFIX/lib/libcalib.a
 * instead of -lcalib, as the README shows).
 */
#include <calib.h>

#include <stdio.h>

static int fail(const calib_error *err)
{
    fprintf(stderr, "evaluate: %s\n", err->message);
    return 1;
}

int main(int argc, char **argv)
{
    calib_matrix val = {0}, test = {0}, cal = {0};
    int64_t *val_y = NULL, *test_y = NULL;
    size_t n_val = 0, n_test = 0;
    calib_eval_options eopt;
    calib_fit_options fopt;
    calib_metrics before = {0}, after = {0};
    calib_model *model = NULL;
    calib_error err;
    double *probs = NULL;
    int rc = 1;

    if (argc != 5) {
        fprintf(stderr, "usage: evaluate VAL_LOGITS VAL_LABELS "
                        "TEST_LOGITS TEST_LABELS\n");
        return 2;
    }
    calib_eval_options_default(&eopt);
    calib_fit_options_default(&fopt);

    /* read both splits */
    if (calib_read_matrix(argv[1], &val, &err) != CALIB_OK ||
        calib_read_labels(argv[2], &val_y, &n_val, &err) != CALIB_OK ||
        calib_read_matrix(argv[3], &test, &err) != CALIB_OK ||
        calib_read_labels(argv[4], &test_y, &n_test, &err) != CALIB_OK) {
        rc = fail(&err);
        goto done;
    }
    if (n_val != val.rows || n_test != test.rows) {
        fprintf(stderr, "evaluate: labels and logits differ in length\n");
        goto done;
    }

    /* measure, fit T on val, measure the calibrated test probabilities */
    if (calib_evaluate(&test, CALIB_LOGITS, test_y, &eopt, &before, &err) ||
        calib_fit(CALIB_TEMPERATURE, &val, CALIB_LOGITS, val_y, &fopt,
                  &model, &err)) {
        rc = fail(&err);
        goto done;
    }
    probs = calib_calloc(test.rows * test.cols, sizeof *probs);
    if (probs == NULL) {
        fprintf(stderr, "evaluate: out of memory\n");
        goto done;
    }
    cal.rows = test.rows;
    cal.cols = test.cols;
    cal.dtype = CALIB_FLOAT64;
    cal.data = probs;
    if (calib_model_apply(model, &test, CALIB_LOGITS, probs, &err) ||
        calib_evaluate(&cal, CALIB_PROBS, test_y, &eopt, &after, &err)) {
        rc = fail(&err);
        goto done;
    }

    printf("temperature %.6f (%s after %zu iterations)\n",
           calib_model_temperature(model),
           calib_model_fit_info(model)->status,
           calib_model_fit_info(model)->iterations);
    printf("%-8s %10s %10s %10s\n", "", "NLL", "ECE", "accuracy");
    printf("%-8s %10.6f %10.6f %10.6f\n", "before", before.nll, before.ece,
           before.accuracy);
    printf("%-8s %10.6f %10.6f %10.6f\n", "after", after.nll, after.ece,
           after.accuracy);
    rc = 0;

done:
    calib_metrics_free(&before);
    calib_metrics_free(&after);
    calib_model_free(model);
    calib_free(probs);
    calib_free(val_y);
    calib_free(test_y);
    calib_matrix_free(&val);
    calib_matrix_free(&test);
    return rc;
}
