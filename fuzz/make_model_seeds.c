/*
 * make_model_seeds.c - writes the seed corpus of fuzz_model: one model
 * file per calibration method, fitted on 12 rows of 3 classes (and the
 * binary methods also on 2 classes), through the library's own writer.
 *
 *   cc -Iinclude fuzz/make_model_seeds.c build/libcalib.a \
 *      -ljansson -llbfgs -lz -lm -lpthread -o /tmp/seeds && /tmp/seeds
 *
 * Run from the project root; writes into fuzz/corpus/model/.
 */
#include "calib.h"

#include <math.h>
#include <stdio.h>

#define N 12

int main(void)
{
    double logits[N * 3], binary[N];
    int64_t labels[N], binary_labels[N];
    calib_matrix m3 = {N, 3, CALIB_FLOAT64, logits};
    calib_matrix m1 = {N, 1, CALIB_FLOAT64, binary};
    calib_fit_options opt;
    int bad = 0;

    for (int i = 0; i < N; i++) {
        labels[i] = i % 3;
        binary_labels[i] = (i * 7) % 3 == 0;
        for (int j = 0; j < 3; j++)
            logits[i * 3 + j] = 2.0 * sin(1.7 * i + 0.9 * j) +
                                (j == labels[i] ? 1.0 : 0.0);
        binary[i] = 1.5 * cos(0.8 * i) + (binary_labels[i] ? 0.7 : -0.4);
    }
    calib_fit_options_default(&opt);
    opt.n_bins = 4;
    for (int k = 0; k < CALIB_METHOD_COUNT; k++) {
        for (int b = 0; b < 2; b++) {
            calib_model *model = NULL;
            calib_error err;
            char path[128];
            calib_status st = calib_fit((calib_method)k, b ? &m1 : &m3,
                                        CALIB_LOGITS,
                                        b ? binary_labels : labels, &opt,
                                        &model, &err);
            if (st != CALIB_OK) {
                if (!b)
                    fprintf(stderr, "%s: %s\n", calib_method_name(k),
                            err.message);
                continue;
            }
            snprintf(path, sizeof path, "fuzz/corpus/model/%s%s.json",
                     calib_method_name((calib_method)k), b ? "_binary" : "");
            if (calib_model_save(model, path, &err) != CALIB_OK) {
                fprintf(stderr, "%s\n", err.message);
                bad = 1;
            }
            calib_model_free(model);
        }
    }
    return bad;
}
