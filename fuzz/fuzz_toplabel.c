/*
 * fuzz_toplabel.c - libFuzzer target for the top-label CSV reader
 * (true_label,pred_label,confidence per row, columns found by name).
 *
 * Besides memory safety it checks the promise of calib.h that every
 * confidence read lies in [0, 1].
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_input("in.csv", data, size);
    calib_toplabel t;
    calib_error err;
    calib_status st;
    double s = 0.0;

    memset(&t, 0x5a, sizeof t);
    st = calib_read_toplabel(path, &t, &err);
    fuzz_check_error(st, &err);
    if (st != CALIB_OK) {
        fuzz_check_untouched(&t, sizeof t, 0x5a, "toplabel");
        return 0;
    }
    for (size_t i = 0; i < t.n; i++) {
        if (!(t.confidence[i] >= 0.0 && t.confidence[i] <= 1.0)) {
            fprintf(stderr, "row %zu: confidence %g outside [0, 1]\n", i,
                    t.confidence[i]);
            abort();
        }
        s += t.confidence[i] +
             (double)((uint64_t)t.true_label[i] ^ (uint64_t)t.pred_label[i]);
    }
    fuzz_keep(s);
    calib_toplabel_free(&t);
    return 0;
}
