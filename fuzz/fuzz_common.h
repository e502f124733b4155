/*
 * fuzz_common.h - what calib's fuzz targets share: the readers take file
 * paths, so each input is written to a file in a temporary directory of
 * its own process, then read back through the public API.
 *
 * A target aborts (which libFuzzer reports as a crash) when the library
 * breaks a promise of calib.h that the sanitizers cannot see: a failure
 * without a message, an unknown status, or outputs written on failure.
 * Not thread-safe: libFuzzer calls a target from one thread.
 */
#ifndef CALIB_FUZZ_COMMON_H
#define CALIB_FUZZ_COMMON_H

#include "calib.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Rows x cols beyond which a target skips the work that scales with the
 * size (touching every element, evaluating): each run must stay fast. */
#define FUZZ_MAX_ELEMENTS ((size_t)1 << 16)

static char fuzz_dir[256];
static char fuzz_file[300];

static inline void fuzz_cleanup(void)
{
    if (fuzz_file[0] != '\0')
        unlink(fuzz_file);
    if (fuzz_dir[0] != '\0')
        rmdir(fuzz_dir);
}

/* Writes data to DIR/name and returns its path, DIR being this process's
 * temporary directory; aborts if the file cannot be written, since a
 * harness that silently tests nothing is worse than one that stops. */
static inline const char *fuzz_write_input(const char *name,
                                           const uint8_t *data, size_t size)
{
    FILE *f;

    if (fuzz_dir[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/calib-fuzz-XXXXXX",
                 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
        if (mkdtemp(fuzz_dir) == NULL) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
    }
    if (fuzz_file[0] != '\0')
        unlink(fuzz_file);
    snprintf(fuzz_file, sizeof fuzz_file, "%s/%s", fuzz_dir, name);
    f = fopen(fuzz_file, "wb");
    if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
        fclose(f) != 0) {
        perror(fuzz_file);
        abort();
    }
    return fuzz_file;
}

/* Every failure must carry its status and a one-line message. */
static inline void fuzz_check_error(calib_status st, const calib_error *err)
{
    if (st == CALIB_OK)
        return;
    if ((int)st < 0 || (int)st > (int)CALIB_E_INTERRUPTED ||
        err->status != st || err->message[0] == '\0' ||
        strchr(err->message, '\n') != NULL ||
        memchr(err->message, '\0', sizeof err->message) == NULL) {
        fprintf(stderr, "bad error report: status %d, err %d, '%s'\n",
                (int)st, (int)err->status, err->message);
        abort();
    }
}

/* Aborts unless the n bytes at p all equal c: outputs of a failed call
 * must stay as the caller left them. */
static inline void fuzz_check_untouched(const void *p, size_t n, int c,
                                 const char *what)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != (unsigned char)c) {
            fprintf(stderr, "%s written by a failing call\n", what);
            abort();
        }
    }
}

/* Reads every element so that ASan sees a buffer shorter than its shape;
 * returns the sum to keep the loop from being optimised away. */
static inline double fuzz_touch_matrix(const calib_matrix *m)
{
    double s = 0.0;
    if (m->rows != 0 && m->cols > FUZZ_MAX_ELEMENTS / m->rows)
        return 0.0;
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++)
            s += calib_matrix_get(m, i, j);
    return s;
}

/* Reads every label (up to FUZZ_MAX_ELEMENTS), as fuzz_touch_matrix. */
static inline double fuzz_touch_labels(const int64_t *labels, size_t n)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < FUZZ_MAX_ELEMENTS; i++)
        x ^= (uint64_t)labels[i];
    return (double)x;
}

/* Keeps a computed value observable, so that reads are not optimised
 * away. */
static inline void fuzz_keep(double x)
{
    static volatile double sink;
    sink = x;
    (void)sink;
}

/* Pointer outputs are preset to these addresses; a failing call must not
 * touch them. */
static inline int64_t *fuzz_labels_sentinel(void)
{
    static int64_t sentinel[1];
    return sentinel;
}

static inline calib_model *fuzz_model_sentinel(void)
{
    static char sentinel[1];
    return (calib_model *)(void *)sentinel;
}

/* calib_read_matrix on a path or .npz spec: a failure leaves the output
 * untouched, a success is read to its last element. */
static inline void fuzz_read_matrix(const char *spec)
{
    calib_matrix m;
    calib_error err;
    calib_status st;

    memset(&m, 0x5a, sizeof m);
    st = calib_read_matrix(spec, &m, &err);
    fuzz_check_error(st, &err);
    if (st != CALIB_OK) {
        fuzz_check_untouched(&m, sizeof m, 0x5a, "matrix");
        return;
    }
    if (m.dtype != CALIB_FLOAT32 && m.dtype != CALIB_FLOAT64)
        abort();
    fuzz_keep(fuzz_touch_matrix(&m));
    calib_matrix_free(&m);
}

/* calib_read_labels, with the same promises. */
static inline void fuzz_read_labels(const char *spec)
{
    int64_t *labels = fuzz_labels_sentinel();
    size_t n = 12345;
    calib_error err;
    calib_status st;

    st = calib_read_labels(spec, &labels, &n, &err);
    fuzz_check_error(st, &err);
    if (st != CALIB_OK) {
        if (labels != fuzz_labels_sentinel() || n != 12345)
            abort();
        return;
    }
    fuzz_keep(fuzz_touch_labels(labels, n));
    calib_free(labels);
}

#endif /* CALIB_FUZZ_COMMON_H */
