/*
 * test_csv_nolabel.c - calib_read_csv on a file of predictions alone
 * (label_column 0, no label_name): every field is a prediction, the
 * labels output may be NULL, and errors keep their line and column.
 *
 * The files are written here into a mktemp directory; the same rows are
 * also read with a label column to check that both readings agree on
 * the predictions bit for bit.
 */
#include "calib.h"
#include "check.h"

#include <stdint.h>
#include <unistd.h>

static char dir[64];
static char path[128];

/* Writes text to dir/name; path then names it. */
static int write_file(const char *name, const char *text)
{
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void no_label_options(calib_csv_options *opt)
{
    calib_csv_options_default(opt);
    opt->label_column = 0;
    opt->label_name = NULL;
}

/* Predictions alone, with and without a header, NULL and non-NULL labels. */
static void test_predictions_only(void)
{
    static const double want[3][3] = {
        {0.25, -1.5, 3.0}, {1e-3, 2.0, -0.0}, {7.0, 0.125, 1e300}};
    calib_csv_options opt;
    calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
    int64_t *lab = (int64_t *)&opt;  /* must be set to NULL */
    calib_error err;
    calib_status st;

    no_label_options(&opt);
    CHECK(write_file("p.csv", "p0,p1,p2\n0.25,-1.5,3\n\n1e-3,2,-0\r\n"
                              "7,0.125,1e300") == 0);
    st = calib_read_csv(path, &opt, &m, &lab, &err);
    CHECK_STATUS(st, CALIB_OK);
    if (st != CALIB_OK) {
        printf("  %s\n", err.message);
        return;
    }
    CHECK(lab == NULL);
    CHECK(m.rows == 3 && m.cols == 3 && m.dtype == CALIB_FLOAT64);
    for (size_t i = 0; i < 3 && m.rows == 3 && m.cols == 3; i++)
        for (size_t j = 0; j < 3; j++)
            CHECK(calib_matrix_get(&m, i, j) == want[i][j]);
    calib_matrix_free(&m);

    /* no header, a tab-separated file, labels pointer NULL */
    CHECK(write_file("p.tsv", "0.25\t-1.5\t3\n1e-3\t2\t-0\n") == 0);
    st = calib_read_csv(path, &opt, &m, NULL, &err);
    CHECK_STATUS(st, CALIB_OK);
    CHECK(m.rows == 2 && m.cols == 3);
    if (st == CALIB_OK && m.rows == 2 && m.cols == 3)
        CHECK(calib_matrix_get(&m, 1, 0) == 1e-3);
    calib_matrix_free(&m);
}

/* One column: a binary task's scores, which need no label to be read. */
static void test_one_column(void)
{
    calib_csv_options opt;
    calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
    calib_error err;

    no_label_options(&opt);
    CHECK(write_file("b.csv", "score\n-2.5\n0.75\n4\n") == 0);
    CHECK_STATUS(calib_read_csv(path, &opt, &m, NULL, &err), CALIB_OK);
    CHECK(m.rows == 3 && m.cols == 1);
    if (m.rows == 3 && m.cols == 1)
        CHECK(calib_matrix_get(&m, 2, 0) == 4.0);
    calib_matrix_free(&m);
}

/* The same rows with a label column give the same predictions. */
static void test_agrees_with_labelled(void)
{
    calib_csv_options with, without;
    calib_matrix a = {0, 0, CALIB_FLOAT64, NULL};
    calib_matrix b = {0, 0, CALIB_FLOAT64, NULL};
    int64_t *lab = NULL;
    calib_error err;

    calib_csv_options_default(&with);
    with.label_column = 3;
    no_label_options(&without);
    CHECK(write_file("l.csv", "0.1,0.9,1\n0.7,0.3,0\n0.5,0.5,1\n") == 0);
    CHECK_STATUS(calib_read_csv(path, &with, &a, &lab, &err), CALIB_OK);
    CHECK(write_file("n.csv", "0.1,0.9\n0.7,0.3\n0.5,0.5\n") == 0);
    CHECK_STATUS(calib_read_csv(path, &without, &b, NULL, &err), CALIB_OK);
    CHECK(a.rows == 3 && b.rows == 3 && a.cols == 2 && b.cols == 2);
    if (a.rows == 3 && b.rows == 3 && a.cols == 2 && b.cols == 2) {
        CHECK(memcmp(a.data, b.data, 6 * sizeof(double)) == 0);
        CHECK(lab[0] == 1 && lab[1] == 0 && lab[2] == 1);
    }
    calib_matrix_free(&a);
    calib_matrix_free(&b);
    calib_free(lab);
}

/* Errors keep the physical line and the field number; nothing is output. */
static void test_errors(void)
{
    calib_csv_options opt;
    calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
    calib_error err;

    no_label_options(&opt);
    CHECK(write_file("e1.csv", "a,b\n0.1,0.2\n\n0.3,x\n") == 0);
    CHECK_STATUS(calib_read_csv(path, &opt, &m, NULL, &err), CALIB_E_FORMAT);
    CHECK(err.line == 4 && err.column == 2);
    CHECK(strstr(err.message, "'x' is not a number") != NULL);
    CHECK(m.data == NULL);

    CHECK(write_file("e2.csv", "0.1,0.2\n0.3,0.4,0.5\n") == 0);
    CHECK_STATUS(calib_read_csv(path, &opt, &m, NULL, &err), CALIB_E_FORMAT);
    CHECK(err.line == 2);

    CHECK(write_file("e3.csv", "0.1,nan\n") == 0);
    CHECK_STATUS(calib_read_csv(path, &opt, &m, NULL, &err), CALIB_E_VALUE);
    CHECK(err.line == 1 && err.column == 2);

    CHECK(write_file("e4.csv", "p0,p1\n") == 0);
    CHECK_STATUS(calib_read_csv(path, &opt, &m, NULL, &err), CALIB_E_SHAPE);
    CHECK(m.data == NULL);

    /* a label column still needs its labels pointer and is still checked */
    calib_csv_options_default(&opt);
    CHECK(write_file("e5.csv", "0.5,0.1,0.9\n") == 0);
    CHECK_STATUS(calib_read_csv(path, &opt, &m, NULL, &err),
                 CALIB_E_ARGUMENT);
    opt.label_column = -1;
    {
        int64_t *lab = NULL;
        CHECK_STATUS(calib_read_csv(path, &opt, &m, &lab, &err),
                     CALIB_E_ARGUMENT);
        CHECK(lab == NULL && m.data == NULL);
        /* a name overrides column 0: the label column is then named */
        opt.label_column = 0;
        opt.label_name = "y";
        CHECK(write_file("e6.csv", "p0,p1,y\n0.2,0.8,1\n") == 0);
        CHECK_STATUS(calib_read_csv(path, &opt, &m, &lab, &err), CALIB_OK);
        CHECK(m.cols == 2 && lab != NULL && lab[0] == 1);
        calib_matrix_free(&m);
        calib_free(lab);
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/calib_csv_nolabel_XXXXXX");
    if (mkdtemp(dir) == NULL) {
        printf("SKIP: cannot make a temporary directory\n");
        return 77;
    }
    test_predictions_only();
    test_one_column();
    test_agrees_with_labelled();
    test_errors();
    {
        static const char *const names[] = {
            "p.csv", "p.tsv", "b.csv", "l.csv", "n.csv", "e1.csv",
            "e2.csv", "e3.csv", "e4.csv", "e5.csv", "e6.csv"};
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    return check_done("test_csv_nolabel");
}
