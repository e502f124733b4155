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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_input("in.npz", data, size);
    char spec[400];

    fuzz_read_matrix(path);
    snprintf(spec, sizeof spec, "%s:x", path);
    fuzz_read_matrix(spec);
    snprintf(spec, sizeof spec, "%s:x.npy", path);
    fuzz_read_matrix(spec);
    snprintf(spec, sizeof spec, "%s:y", path);
    fuzz_read_labels(spec);
    return 0;
}
