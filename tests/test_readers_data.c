/*
 * test_readers_data.c - every array and top-label CSV of ../shared/data
 * reads with the shape and dtype its README documents. Skips (77) when
 * the data is absent.
 */
#include "calib.h"
#include "check.h"
#include "internal.h"

#include <dirent.h>
#include <stdint.h>

/* The real files: every array reads with the documented shape and dtype. */
static void test_arrays(void)
{
    static const char *dirs[] = {
        "cifar10-resnet50-ce", "cifar10-resnet50-focal",
        "cifar10lt-densenet40", "cifar10lt-resnet110",
        "cifar10lt-resnet110sd", "cifar10lt-wrn28"};
    static const char *npz[] = {
        "densenet-bc-100-cifar-100", "lenet-5-cifar-10", "lenet-5-cifar-100",
        "wideresnet-16-4-cifar-10", "wideresnet-16-4-cifar-100"};
    char spec[256];
    calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
    int64_t *lab = NULL;
    size_t n = 0;
    calib_error err;

    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++)
        for (int split = 0; split < 2; split++) {
            size_t rows = split == 0 ? 10000 : (d < 2 ? 5000 : 10216);
            const char *pre = split == 0 ? "test" : "val";
            snprintf(spec, sizeof spec, SHARED_DATA "/%s/%s_logits.npy",
                     dirs[d], pre);
            CHECK_STATUS(calib_read_matrix(spec, &m, &err), CALIB_OK);
            CHECK(m.rows == rows && m.cols == 10 &&
                  m.dtype == CALIB_FLOAT32);
            calib_matrix_free(&m);
            snprintf(spec, sizeof spec, SHARED_DATA "/%s/%s_labels.npy",
                     dirs[d], pre);
            CHECK_STATUS(calib_read_labels(spec, &lab, &n, &err), CALIB_OK);
            CHECK(n == rows);
            for (size_t i = 0; i < n && lab != NULL; i++)
                if (lab[i] < 0 || lab[i] >= 10) {
                    CHECK(0);
                    break;
                }
            calib_free(lab);
            lab = NULL;
        }
    CHECK_STATUS(calib_read_matrix(SHARED_DATA
                                   "/cifar10-vgg16-probs/test_probs.npy",
                                   &m, &err), CALIB_OK);
    CHECK(m.rows == 10000 && m.cols == 10 && m.dtype == CALIB_FLOAT32);
    calib_matrix_free(&m);
    CHECK_STATUS(calib_read_labels(SHARED_DATA
                                   "/cifar10-vgg16-probs/test_labels.npy",
                                   &lab, &n, &err), CALIB_OK);
    CHECK(n == 10000);
    calib_free(lab);
    lab = NULL;

    for (size_t a = 0; a < sizeof npz / sizeof *npz; a++) {
        size_t k = strstr(npz[a], "100") != NULL ? 100 : 10;
        snprintf(spec, sizeof spec, SHARED_DATA "/netcal-probs/%s.npz:"
                 "predictions", npz[a]);
        CHECK_STATUS(calib_read_matrix(spec, &m, &err), CALIB_OK);
        CHECK(m.rows == 10000 && m.cols == k && m.dtype == CALIB_FLOAT32);
        if (m.rows == 10000 && m.cols == k) {
            /* probabilities: the first row sums to 1 */
            double s = 0.0;
            for (size_t j = 0; j < k; j++)
                s += calib_matrix_get(&m, 0, j);
            CHECK_NEAR(s, 1.0, 1e-4);
        }
        calib_matrix_free(&m);
        snprintf(spec, sizeof spec, SHARED_DATA "/netcal-probs/%s.npz:"
                 "ground_truth", npz[a]);
        CHECK_STATUS(calib_read_labels(spec, &lab, &n, &err), CALIB_OK);
        CHECK(n == 10000);
        calib_free(lab);
        lab = NULL;
    }

}

/* Every CSV in a folder reads as top-label records: labels of the
 * documented range, rows as counted by the README / wc. */
static void test_toplabel_dir(const char *dir, size_t want_rows,
                              int64_t max_label)
{
    char path[512];
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;

    CHECK(d != NULL);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        calib_toplabel t;
        calib_error err;
        size_t n = strlen(e->d_name);
        int ok = 1;
        calib_status st;

        if (n < 4 || strcmp(e->d_name + n - 4, ".csv") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        st = calib_read_toplabel(path, &t, &err);
        CHECK_STATUS(st, CALIB_OK);
        if (st != CALIB_OK) {
            printf("  %s\n", err.message);
            continue;
        }
        files++;
        if (want_rows != 0)
            CHECK(t.n == want_rows);
        for (size_t i = 0; i < t.n; i++)
            if (t.true_label[i] > max_label || t.pred_label[i] > max_label ||
                !(t.confidence[i] > 0.0 && t.confidence[i] <= 1.0))
                ok = 0;
        CHECK(ok);
        calib_toplabel_free(&t);
    }
    closedir(d);
    CHECK(files > 0);
}

/*
 * The values: every array's sum and sum of squares against
 * tests/golden/readers_data.txt (NumPy, math.fsum). The sums go through
 * calib_xsum: exact but for squares below 2^-64, far under the tolerance.
 */
static void test_golden(void)
{
    FILE *f = fopen("tests/golden/readers_data.txt", "r");
    char line[512];
    int arrays = 0;

    CHECK(f != NULL);
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        char spec[256], path[300];
        size_t rows, cols, got_rows = 0, got_cols = 0;
        double sum, sumsq;
        calib_xsum xs = {0, 0}, xq = {0, 0};
        calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
        int64_t *lab = NULL;
        calib_error err;
        calib_status st;

        if (line[0] == '#' ||
            sscanf(line, "%255s %zu %zu %lf %lf", spec, &rows, &cols, &sum,
                   &sumsq) != 5)
            continue;
        snprintf(path, sizeof path, SHARED_DATA "/%s", spec);
        if (strstr(spec, "labels") != NULL ||
            strstr(spec, "ground_truth") != NULL) {
            st = calib_read_labels(path, &lab, &got_rows, &err);
            got_cols = 1;
            for (size_t i = 0; st == CALIB_OK && i < got_rows; i++) {
                calib_xsum_add(&xs, (double)lab[i]);
                calib_xsum_add(&xq, (double)lab[i] * (double)lab[i]);
            }
            calib_free(lab);
        } else {
            st = calib_read_matrix(path, &m, &err);
            got_rows = m.rows;
            got_cols = m.cols;
            for (size_t i = 0; st == CALIB_OK && i < m.rows; i++)
                for (size_t j = 0; j < m.cols; j++) {
                    double v = calib_matrix_get(&m, i, j);
                    calib_xsum_add(&xs, v);
                    calib_xsum_add(&xq, v * v);
                }
            calib_matrix_free(&m);
        }
        CHECK_STATUS(st, CALIB_OK);
        if (st != CALIB_OK) {
            printf("  %s\n", err.message);
            continue;
        }
        arrays++;
        CHECK(got_rows == rows && got_cols == cols);
        CHECK_REL(calib_xsum_value(&xs), sum, 1e-15);
        CHECK_REL(calib_xsum_value(&xq), sumsq, 1e-12);
    }
    fclose(f);
    CHECK(arrays == 36);
}

int main(void)
{
    calib_toplabel t;
    calib_error err;

    if (!shared_data_present()) {
        printf("SKIP: ../shared/data not found\n");
        return 77;
    }
    test_arrays();
    test_golden();
    test_toplabel_dir(SHARED_DATA "/imagenet-toplabel", 50000, 999);
    test_toplabel_dir(SHARED_DATA "/cifar-toplabel", 0, 199);
    test_toplabel_dir(SHARED_DATA "/misc-toplabel", 952, 19);
    CHECK_STATUS(calib_read_toplabel(SHARED_DATA
                                     "/cifar-toplabel/"
                                     "probs_resnet50_birds_logits.csv",
                                     &t, &err), CALIB_OK);
    CHECK(t.n == 2897);
    calib_toplabel_free(&t);
    CHECK_STATUS(calib_read_toplabel(SHARED_DATA
                                     "/cifar-toplabel/"
                                     "probs_resnet110_c10_logits.csv",
                                     &t, &err), CALIB_OK);
    CHECK(t.n == 10000);
    calib_toplabel_free(&t);
    return check_done("test_readers_data");
}
