/*
 * test_npy_map.c - calib_npy_stream_map, the zero-copy views of a
 * streamed .npy: the rows equal those calib_npy_stream_read gives, in
 * chunks that cross page boundaries, mixed with reads; views stay valid
 * while later ones are taken; a foreign byte order is refused without
 * consuming rows; a file that shrank before a view is taken fails as a
 * truncated read does, naming the first missing row.
 */
#include "calib.h"
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/fixtures/"

/* The float64 value of row i, column j of the test file. */
static double value(size_t i, size_t j)
{
    return (double)i * 1000.0 + (double)j + 0.25;
}

/* Rows x cols float64 values, big enough that chunks cross pages. */
static int write_file(const char *path, size_t rows, size_t cols)
{
    double *m = calib_malloc(rows * cols * sizeof *m);
    calib_error err;
    calib_status st;

    if (m == NULL)
        return -1;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            m[i * cols + j] = value(i, j);
    st = calib_write_npy_f64(path, m, rows, cols, &err);
    calib_free(m);
    return st == CALIB_OK ? 0 : -1;
}

/* Whether rows [first, first + n) of the test file are at p. */
static int rows_match(const void *p, size_t first, size_t n, size_t cols)
{
    const double *d = p;

    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < cols; j++)
            if (d[i * cols + j] != value(first + i, j))
                return 0;
    return 1;
}

static void test_views(const char *path, size_t rows, size_t cols)
{
    calib_npy_stream *s = NULL;
    calib_npy_view v, kept;
    calib_error err;
    calib_dtype dtype;
    size_t r = 0, c = 0, done = 0, got = 0, step = 0;
    double *buf = calib_malloc(97 * cols * sizeof *buf);

    CHECK(buf != NULL);
    CHECK_STATUS(calib_npy_stream_open(path, &s, &r, &c, &dtype, &err),
                 CALIB_OK);
    if (s == NULL || buf == NULL)
        goto out;
    CHECK(r == rows && c == cols && dtype == CALIB_FLOAT64);

    /* the first view is kept while the others are taken */
    CHECK_STATUS(calib_npy_stream_map(s, 13, &kept, &err), CALIB_OK);
    CHECK(kept.n_rows == 13 && rows_match(kept.rows, 0, 13, cols));
    done = kept.n_rows;

    /* views of 97 rows (776 * cols bytes: most start inside a page),
     * every third chunk read instead */
    while (done < rows) {
        if (step++ % 3 == 2) {
            CHECK_STATUS(calib_npy_stream_read(s, buf, 97, &got, &err),
                         CALIB_OK);
            CHECK(rows_match(buf, done, got, cols));
            done += got;
            continue;
        }
        CHECK_STATUS(calib_npy_stream_map(s, 97, &v, &err), CALIB_OK);
        CHECK(v.n_rows > 0 && v.n_rows <= 97);
        CHECK(rows_match(v.rows, done, v.n_rows, cols));
        done += v.n_rows;
        calib_npy_view_release(&v);
        CHECK(v.rows == NULL && v.map == NULL);
    }
    CHECK(done == rows);
    CHECK(rows_match(kept.rows, 0, 13, cols));
    calib_npy_view_release(&kept);

    /* at the end: an empty view, as a read gives 0 rows */
    CHECK_STATUS(calib_npy_stream_map(s, 97, &v, &err), CALIB_OK);
    CHECK(v.n_rows == 0 && v.rows == NULL);
    calib_npy_view_release(&v);
    calib_npy_view_release(NULL);
out:
    calib_npy_stream_close(s);
    calib_free(buf);
}

/* A big-endian file is refused and nothing is consumed. */
static void test_foreign_order(void)
{
    calib_npy_stream *s = NULL;
    calib_npy_view v;
    calib_error err;
    float first[3];
    size_t got = 0;

    CHECK_STATUS(calib_npy_stream_open(FIX "m_bf4_c.npy", &s, NULL, NULL,
                                       NULL, &err), CALIB_OK);
    if (s == NULL)
        return;
    CHECK_STATUS(calib_npy_stream_map(s, 2, &v, &err), CALIB_E_UNSUPPORTED);
    CHECK(strstr(err.message, "m_bf4_c.npy") != NULL);
    CHECK(v.rows == NULL && v.n_rows == 0);
    /* the fixture's v(0, j) = j * 0.375 - 2.5, read from row 0 */
    CHECK_STATUS(calib_npy_stream_read(s, first, 1, &got, &err), CALIB_OK);
    CHECK(got == 1 && first[0] == -2.5f && first[2] == -1.75f);
    calib_npy_stream_close(s);
}

/* The file shrinks after the stream is open: the view is refused with
 * the first row the file no longer holds, never mapped past its end. */
static void test_shrunk(const char *path, size_t cols)
{
    calib_npy_stream *s = NULL;
    calib_npy_view v;
    calib_error err;
    struct stat st;
    size_t rows = 0;
    off_t header;

    CHECK(write_file(path, 300, cols) == 0);
    CHECK(stat(path, &st) == 0);
    header = st.st_size - (off_t)(300 * cols * 8);
    CHECK_STATUS(calib_npy_stream_open(path, &s, &rows, NULL, NULL, &err),
                 CALIB_OK);
    if (s == NULL)
        return;
    CHECK_STATUS(calib_npy_stream_map(s, 100, &v, &err), CALIB_OK);
    calib_npy_view_release(&v);
    /* keep the header and 150.5 rows */
    CHECK(truncate(path, header + (off_t)(150 * cols * 8 + 4)) == 0);
    CHECK_STATUS(calib_npy_stream_map(s, 100, &v, &err), CALIB_E_FORMAT);
    CHECK(strstr(err.message, path) != NULL &&
          strstr(err.message, "shrank") != NULL);
    CHECK(err.row == 150);
    calib_npy_stream_close(s);
}

int main(void)
{
    char dir[] = "/tmp/calib_map_XXXXXX", path[128];

    if (mkdtemp(dir) == NULL) {
        printf("mkdtemp failed\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/m.npy", dir);
    /* 1000 rows of 37 columns: 296-byte rows, 289 KiB */
    CHECK(write_file(path, 1000, 37) == 0);
    test_views(path, 1000, 37);
    test_foreign_order();
    test_shrunk(path, 37);
    unlink(path);
    rmdir(dir);
    return check_done("test_npy_map");
}
