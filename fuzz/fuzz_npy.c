/*
 * fuzz_npy.c - libFuzzer target for the .npy reader.
 *
 * The input is read as a prediction matrix and as labels twice: from
 * memory (calib_npy_*_from_memory, the path of .npz members) and from a
 * file IN.npy (calib_read_matrix, calib_read_labels, which read through a
 * FILE), and once more through the chunked stream (calib_npy_stream_*),
 * its chunks read and mapped in turn (a mapped view's every byte is read:
 * a view longer than its mapping would fault).
 * Results are read element by element so that a buffer shorter than its
 * header claims shows up under AddressSanitizer; failures must leave the
 * outputs untouched.
 */
#include "fuzz_common.h"
#include "io_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rows per chunk: small and prime, so chunks rarely align with the end. */
#define NPY_CHUNK_ROWS 7

static void npy_memory(const uint8_t *data, size_t size)
{
    calib_matrix m;
    int64_t *labels = fuzz_labels_sentinel();
    size_t n = 12345;
    calib_error err;
    calib_status st;

    memset(&m, 0x5a, sizeof m);
    st = calib_npy_matrix_from_memory(data, size, "mem.npy", &m, &err);
    fuzz_check_error(st, &err);
    if (st == CALIB_OK) {
        fuzz_keep(fuzz_touch_matrix(&m));
        calib_matrix_free(&m);
    } else {
        fuzz_check_untouched(&m, sizeof m, 0x5a, "matrix");
    }
    st = calib_npy_labels_from_memory(data, size, "mem.npy", &labels, &n,
                                      &err);
    fuzz_check_error(st, &err);
    if (st == CALIB_OK) {
        fuzz_keep(fuzz_touch_labels(labels, n));
        calib_free(labels);
    } else if (labels != fuzz_labels_sentinel() || n != 12345) {
        abort();
    }
}

static void npy_stream(const char *path)
{
    calib_npy_stream *s = NULL;
    size_t rows = 0, cols = 0, got = 0, total = 0;
    calib_dtype dtype = CALIB_FLOAT64;
    calib_error err;
    calib_status st;
    size_t width;
    unsigned char *chunk;
    int map = 1, map_ok = 1;    /* map, read, map, ... while maps work */

    st = calib_npy_stream_open(path, &s, &rows, &cols, &dtype, &err);
    fuzz_check_error(st, &err);
    if (st != CALIB_OK)
        return;
    width = dtype == CALIB_FLOAT32 ? 4 : 8;
    if (cols == 0 || cols > FUZZ_MAX_ELEMENTS / NPY_CHUNK_ROWS) {
        calib_npy_stream_close(s);
        return;
    }
    chunk = malloc(NPY_CHUNK_ROWS * cols * width);
    if (chunk == NULL)
        abort();
    do {
        calib_npy_view view;

        st = CALIB_E_UNSUPPORTED;
        if (map) {
            st = calib_npy_stream_map(s, NPY_CHUNK_ROWS, &view, &err);
            if (st == CALIB_OK) {
                const unsigned char *b = view.rows;
                unsigned sum = 0;
                got = view.n_rows;
                for (size_t i = 0; i < got * cols * width; i++)
                    sum += b[i];
                fuzz_keep((double)sum);
                calib_npy_view_release(&view);
            } else if (st == CALIB_E_UNSUPPORTED) {
                map_ok = 0;     /* a foreign byte order: read from here */
            }
        }
        if (st == CALIB_E_UNSUPPORTED)
            st = calib_npy_stream_read(s, chunk, NPY_CHUNK_ROWS, &got,
                                       &err);
        fuzz_check_error(st, &err);
        if (st != CALIB_OK)
            break;
        map = !map && map_ok;
        if (got > NPY_CHUNK_ROWS)
            abort();
        total += got;
        if (total > rows)
            abort();
    } while (got > 0);
    free(chunk);
    calib_npy_stream_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_input("in.npy", data, size);

    npy_memory(data, size);
    fuzz_read_matrix(path);
    fuzz_read_labels(path);
    npy_stream(path);
    return 0;
}
