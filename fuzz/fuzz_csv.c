/*
 * fuzz_csv.c - libFuzzer target for the CSV/TSV prediction reader.
 *
 * Byte 0 of the input chooses the options, the rest is the file:
 *   bits 0-1  delimiter: 0 detect, 1 ',', 2 tab, 3 ';'
 *   bits 2-3  header: 0 detect, 1 no, 2 yes, 3 detect and label_name "y"
 *   bits 4-6  label column 1 + value (1..8)
 *   bit 7     no label column at all (label_column 0, label_name NULL:
 *             every field a prediction, as calib apply --no-label-col)
 * So 0x00 is calib_csv_options_default's choice for a ".csv" file.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void csv_options(uint8_t b, calib_csv_options *opt)
{
    static const char delimiters[4] = {0, ',', '\t', ';'};

    calib_csv_options_default(opt);
    if (b == 0)
        return;
    opt->delimiter = delimiters[b & 3];
    switch ((b >> 2) & 3) {
    case 0: opt->header = -1; break;
    case 1: opt->header = 0; break;
    case 2: opt->header = 1; break;
    default: opt->header = -1; opt->label_name = "y"; break;
    }
    opt->label_column = 1 + ((b >> 4) & 7);
    if (b & 0x80) {
        opt->label_column = 0;
        opt->label_name = NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    calib_csv_options opt;
    calib_matrix m;
    int64_t *labels = fuzz_labels_sentinel();
    calib_error err;
    calib_status st;
    const char *path;

    if (size == 0)
        return 0;
    csv_options(data[0], &opt);
    path = fuzz_write_input("in.csv", data + 1, size - 1);

    memset(&m, 0x5a, sizeof m);
    st = calib_read_csv(path, &opt, &m, &labels, &err);
    fuzz_check_error(st, &err);
    if (st != CALIB_OK) {
        fuzz_check_untouched(&m, sizeof m, 0x5a, "matrix");
        if (labels != fuzz_labels_sentinel())
            abort();
        return 0;
    }
    fuzz_keep(fuzz_touch_matrix(&m));
    if (opt.label_column == 0 && opt.label_name == NULL) {
        if (labels != NULL)
            abort();    /* no label column: no labels */
    } else {
        fuzz_keep(fuzz_touch_labels(labels, m.rows));
    }
    calib_matrix_free(&m);
    calib_free(labels);
    return 0;
}
