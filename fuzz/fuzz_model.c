/*
 * fuzz_model.c - libFuzzer target for the model-file reader
 * (calib_model_from_json, the parser behind calib_model_load).
 *
 * The input is copied into a buffer of exactly its size, without a
 * terminating NUL, so that a parser reading past `len` is caught. A model
 * that loads must also survive what a user does next: it is written back
 * to JSON, which must load again, and applied to a few rows of logits and
 * of probabilities, which must give probabilities in [0, 1].
 */
#include "fuzz_common.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Classes beyond which applying is skipped: keeps each run fast. */
#define MODEL_MAX_CLASSES 64
#define MODEL_ROWS 3

static void model_apply(const calib_model *model, size_t k,
                        calib_input input)
{
    double preds[MODEL_ROWS * MODEL_MAX_CLASSES];
    double probs[MODEL_ROWS * MODEL_MAX_CLASSES * 2];
    calib_matrix m;
    calib_error err;
    calib_status st;
    size_t out_k = k == 1 ? 2 : k;

    for (size_t i = 0; i < MODEL_ROWS * k; i++) {
        if (input == CALIB_PROBS)
            preds[i] = k == 1 ? 0.25 * (double)(i % 4) : 1.0 / (double)k;
        else
            preds[i] = 2.5 * sin((double)i + 0.3);
    }
    m.rows = MODEL_ROWS;
    m.cols = k;
    m.dtype = CALIB_FLOAT64;
    m.data = preds;
    memset(probs, 0x5a, sizeof probs);
    st = calib_model_apply(model, &m, input, probs, &err);
    fuzz_check_error(st, &err);
    if (st != CALIB_OK) {
        fuzz_check_untouched(probs, sizeof probs, 0x5a, "probs");
        return;
    }
    for (size_t i = 0; i < MODEL_ROWS * out_k; i++) {
        if (!(probs[i] >= 0.0 && probs[i] <= 1.0)) {
            fprintf(stderr, "%s model, %s input: probs[%zu] = %g\n",
                    calib_method_name(calib_model_method(model)),
                    input == CALIB_PROBS ? "probs" : "logits", i, probs[i]);
            abort();
        }
    }
    fuzz_check_untouched(probs + MODEL_ROWS * out_k,
                         sizeof probs - MODEL_ROWS * out_k * sizeof *probs,
                         0x5a, "probs beyond n x k");
}

static void model_round_trip(const calib_model *model)
{
    char *json = NULL;
    calib_model *again = NULL;
    calib_error err;
    calib_status st;

    st = calib_model_to_json(model, &json, &err);
    fuzz_check_error(st, &err);
    if (st != CALIB_OK) {
        fprintf(stderr, "a loaded model cannot be saved: %s\n", err.message);
        abort();
    }
    st = calib_model_from_json(json, strlen(json), "again", &again, &err);
    if (st != CALIB_OK) {
        fprintf(stderr, "a saved model does not load: %s\n%s\n",
                err.message, json);
        abort();
    }
    if (calib_model_method(again) != calib_model_method(model) ||
        calib_model_classes(again) != calib_model_classes(model))
        abort();
    calib_model_free(again);
    calib_free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size == 0 ? 1 : size);
    calib_model *model = fuzz_model_sentinel();
    calib_error err;
    calib_status st;
    size_t k;

    if (copy == NULL)
        abort();
    if (size > 0)
        memcpy(copy, data, size);
    st = calib_model_from_json(copy, size, "fuzz.json", &model, &err);
    free(copy);
    fuzz_check_error(st, &err);
    if (st != CALIB_OK) {
        if (model != fuzz_model_sentinel())
            abort();
        return 0;
    }
    model_round_trip(model);
    k = calib_model_classes(model);
    if (k >= 1 && k <= MODEL_MAX_CLASSES) {
        model_apply(model, k, CALIB_LOGITS);
        model_apply(model, k, CALIB_PROBS);
    }
    calib_model_free(model);
    return 0;
}
