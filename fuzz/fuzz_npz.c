/*
 * fuzz_npz.c - libFuzzer target for the .npz reader (zip archives, stored
 * or deflated members).
 *
 * The input is written to IN.npz and read as a bare archive (its single
 * member), as the members "x" (a prediction matrix, with and without the
 * ".npy" suffix) and "y" (labels), as the seeds in fuzz/corpus/npz hold.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void npz_matrix(const char *spec)
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

static void npz_labels(const char *spec)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_input("in.npz", data, size);
    char spec[400];

    npz_matrix(path);
    snprintf(spec, sizeof spec, "%s:x", path);
    npz_matrix(spec);
    snprintf(spec, sizeof spec, "%s:x.npy", path);
    npz_matrix(spec);
    snprintf(spec, sizeof spec, "%s:y", path);
    npz_labels(spec);
    return 0;
}
