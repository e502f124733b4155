/*
 * calib.h - measure and fix the calibration of classifiers.
 *
 * One public header. The library computes calibration metrics (NLL, Brier,
 * KL to label-smoothed targets, ECE and its variants), calibration-aware
 * training losses with analytic gradients, and post-hoc calibration maps
 * (temperature, vector, matrix and Dirichlet scaling, Platt, beta, isotonic
 * regression, histogram binning), and reads the files people keep their
 * predictions in (.npy, .npz, CSV).
 *
 * Conventions used everywhere below:
 * - Matrices are dense, row-major, one row per sample: N x K.
 * - Sizes are size_t; labels are int64_t class indices in [0, K).
 * - Every function that can fail returns a calib_status and, when the
 *   caller passes a non-NULL calib_error, fills it with one line of text.
 *   The library never prints, exits or aborts.
 * - Output arguments are written only on success.
 * - Everything is computed in double whatever the input dtype.
 * - Results do not depend on the number of threads, bit for bit.
 */
#ifndef CALIB_H
#define CALIB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CALIB_VERSION_MAJOR 0
#define CALIB_VERSION_MINOR 1
#define CALIB_VERSION_PATCH 0
#define CALIB_VERSION_STRING "0.1.0"

/* The library's version, "MAJOR.MINOR.PATCH"; static storage. */
const char *calib_version(void);

/* ------------------------------------------------------------------------
 * Status and errors
 * ------------------------------------------------------------------------ */

/* Values are pinned: new ones are only ever appended. */
typedef enum calib_status {
    CALIB_OK = 0,
    CALIB_E_ARGUMENT = 1,       /* the caller passed something invalid */
    CALIB_E_NOMEM = 2,          /* an allocation failed */
    CALIB_E_IO = 3,             /* open, read, write or rename failed */
    CALIB_E_FORMAT = 4,         /* a file is malformed or truncated */
    CALIB_E_UNSUPPORTED = 5,    /* well-formed, but not supported (dtype) */
    CALIB_E_VALUE = 6,          /* NaN, label out of range, bad row sum */
    CALIB_E_SHAPE = 7,          /* sizes disagree, zero rows or classes */
    CALIB_E_NOT_APPLICABLE = 8, /* method cannot apply to this input */
    CALIB_E_TOO_LARGE = 9,      /* a size read from a file is beyond limits */
    CALIB_E_INTERRUPTED = 10    /* the caller asked to stop */
} calib_status;

/* A short description of a status; static storage, never NULL. */
const char *calib_strerror(calib_status status);

/*
 * What went wrong, owned by the caller. `message` is one complete line
 * without a trailing newline, e.g.
 *   "labels.npy: row 17: label 12 is outside [0, 10)".
 * The structured fields repeat what the message says, for programs:
 * `row` is the 0-based sample index (as NumPy indexes), `line` the 1-based
 * line of a text file, `column` the 1-based column of a text file; each is
 * -1 when it does not apply. `field` names a header field or JSON key.
 */
typedef struct calib_error {
    calib_status status;
    char file[256];
    int64_t row;
    int64_t line;
    int64_t column;
    char field[64];
    char message[512];
} calib_error;

/* Resets an error to CALIB_OK with empty text. Accepts NULL. */
void calib_error_clear(calib_error *err);

/* ------------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------------ */

/*
 * Every allocation the library makes goes through these three functions.
 * realloc_fn receives the old size so that allocators without realloc can
 * copy. A function that fails with CALIB_E_NOMEM has freed what it
 * allocated and left its outputs untouched.
 */
typedef struct calib_allocator {
    void *(*malloc_fn)(void *ctx, size_t size);
    void *(*realloc_fn)(void *ctx, void *ptr, size_t old_size,
                        size_t new_size);
    void (*free_fn)(void *ctx, void *ptr);
    void *ctx;
} calib_allocator;

/* Installs an allocator for the whole process; NULL restores the C
 * library's. Not safe to call while other threads use the library. */
void calib_set_allocator(const calib_allocator *allocator);

/* Allocation through the installed allocator; calloc-like helpers check
 * n * size for overflow. calib_free accepts NULL. Memory returned by the
 * library (matrices, label arrays, strings) is released with calib_free. */
void *calib_malloc(size_t size);
void *calib_calloc(size_t n, size_t size);
void *calib_realloc(void *ptr, size_t old_size, size_t new_size);
void calib_free(void *ptr);

/* ------------------------------------------------------------------------
 * Arrays
 * ------------------------------------------------------------------------ */

typedef enum calib_dtype {
    CALIB_FLOAT32 = 1,
    CALIB_FLOAT64 = 2
} calib_dtype;

/* Predictions: rows x cols, row-major, native byte order. `data` is owned
 * by whoever allocated it; matrices filled by the library are released
 * with calib_matrix_free. cols == 1 means a binary task: one score per
 * sample for the positive class. */
typedef struct calib_matrix {
    size_t rows;
    size_t cols;
    calib_dtype dtype;
    void *data;
} calib_matrix;

/* Frees m->data and zeroes the struct. Accepts NULL. */
void calib_matrix_free(calib_matrix *m);

/* Element (i, j) as a double. No bounds check. */
double calib_matrix_get(const calib_matrix *m, size_t i, size_t j);

/* What the numbers in a prediction matrix are: always said by the user. */
typedef enum calib_input {
    CALIB_LOGITS = 0,   /* raw scores; softmax (K > 1) or sigmoid (K = 1) */
    CALIB_PROBS = 1     /* probabilities; rows sum to 1 (K > 1) */
} calib_input;

/* ------------------------------------------------------------------------
 * Readers and writers
 * ------------------------------------------------------------------------ */

/*
 * Reads a float matrix from
 *   - PATH.npy: format 1, 2 or 3; <f4, >f4, <f8, >f8; C or Fortran order;
 *     shape (N, K), (N,) or (N, 1);
 *   - PATH.npz:KEY: a member of an np.savez or np.savez_compressed archive
 *     (KEY with or without ".npy"); a bare PATH.npz with a single member;
 * The result keeps the file's float width (float32 stays float32) and is
 * row-major in native byte order. A 1-D array becomes N x 1.
 * Sizes in headers are checked against the file size before anything is
 * allocated.
 */
calib_status calib_read_matrix(const char *spec, calib_matrix *out,
                               calib_error *err);

/*
 * Reads class labels from .npy or .npz:KEY: any integer width, signed or
 * unsigned, either byte order, or bool; shape (N,) or (N, 1). Negative
 * values are kept here and rejected by the functions that use them, which
 * name the row. *labels is released with calib_free.
 */
calib_status calib_read_labels(const char *spec, int64_t **labels,
                               size_t *n, calib_error *err);

/* How a CSV or TSV file of predictions is read. */
typedef struct calib_csv_options {
    char delimiter;        /* 0: tab for .tsv or a tab in line 1, else ',' */
    int header;            /* -1: detect (line 1 not numeric), 0: no, 1: yes */
    long label_column;     /* 1-based column of the label; default 1;
                              0 (with label_name NULL): no label column */
    const char *label_name;/* or the header field's name; overrides above */
} calib_csv_options;

void calib_csv_options_default(calib_csv_options *opt);

/*
 * Reads a CSV/TSV of labels and predictions ("-" reads standard input):
 * one column of integer labels, the others the predictions, as float64.
 * Values must be finite and labels in [0, K), K the number of prediction
 * columns (2 when there is one: labels 0/1); CALIB_E_VALUE otherwise.
 * Errors name the 1-based line and column.
 * With label_column 0 and no label_name, every column is a prediction
 * (to apply a model to predictions alone); `labels` may then be NULL,
 * and is otherwise set to NULL.
 */
calib_status calib_read_csv(const char *path, const calib_csv_options *opt,
                            calib_matrix *preds, int64_t **labels,
                            calib_error *err);

/* Top-label records: per sample the true class, the predicted class and
 * the predicted class's probability. */
typedef struct calib_toplabel {
    size_t n;
    int64_t *true_label;
    int64_t *pred_label;
    double *confidence;
} calib_toplabel;

/* Reads a CSV with header true_label,pred_label,confidence (any column
 * order, found by name). Confidence must lie in [0, 1]. */
calib_status calib_read_toplabel(const char *path, calib_toplabel *out,
                                 calib_error *err);
void calib_toplabel_free(calib_toplabel *t);

/*
 * A .npy file read in chunks of rows, for files larger than memory.
 * Only C-order 2-D or 1-D float arrays stream; anything else is refused
 * with CALIB_E_UNSUPPORTED. calib_npy_stream_read fills `chunk` (which the
 * caller allocated with room for max_rows x cols of the stream's dtype)
 * and sets *rows_read, 0 at the end.
 */
typedef struct calib_npy_stream calib_npy_stream;

calib_status calib_npy_stream_open(const char *path, calib_npy_stream **out,
                                   size_t *rows, size_t *cols,
                                   calib_dtype *dtype, calib_error *err);
calib_status calib_npy_stream_read(calib_npy_stream *s, void *chunk,
                                   size_t max_rows, size_t *rows_read,
                                   calib_error *err);
void calib_npy_stream_close(calib_npy_stream *s);

/*
 * The next rows of a stream without a copy: the file's pages mapped
 * read-only (mmap), so no buffer is filled and the kernel's page cache is
 * read in place. view->rows holds view->n_rows x cols values of the
 * stream's dtype, 0 rows at the end, and stays valid until
 * calib_npy_view_release, across later reads and maps of the same stream.
 * A stream whose bytes are not in the host's order, or that the system
 * will not map, gives CALIB_E_UNSUPPORTED and consumes nothing: read it
 * with calib_npy_stream_read. As with any mapping, a file truncated while
 * a view of it is in use raises SIGBUS when the vanished rows are read;
 * the calib CLI reports that as a file that shrank (exit status 4).
 */
typedef struct calib_npy_view {
    const void *rows;
    size_t n_rows;
    void *map;              /* the mapping, for calib_npy_view_release */
    size_t map_bytes;
} calib_npy_view;

calib_status calib_npy_stream_map(calib_npy_stream *s, size_t max_rows,
                                  calib_npy_view *view, calib_error *err);
void calib_npy_view_release(calib_npy_view *view);

/*
 * Output files are written to a temporary file in the same directory and
 * renamed over the target only once complete: a failed or interrupted
 * write never leaves a partial file and never destroys the earlier one.
 */
calib_status calib_write_file(const char *path, const void *data,
                              size_t size, calib_error *err);

/* Writes a float64 matrix as .npy (format 1.0, '<f8', C order); cols == 0
 * writes a 1-D array of `rows` values. */
calib_status calib_write_npy_f64(const char *path, const double *data,
                                 size_t rows, size_t cols, calib_error *err);

/* Writes int64 labels as a 1-D .npy ('<i8'). */
calib_status calib_write_npy_i64(const char *path, const int64_t *data,
                                 size_t n, calib_error *err);

/* Writes a float64 matrix as CSV with 17 significant digits. */
calib_status calib_write_csv_f64(const char *path, const double *data,
                                 size_t rows, size_t cols, calib_error *err);

/*
 * Removes the temporary files of writes in progress. Async-signal-safe:
 * meant for a SIGINT / SIGTERM handler that then exits.
 */
void calib_remove_pending_files(void);

/* ------------------------------------------------------------------------
 * Softmax and friends (double precision, max subtracted)
 * ------------------------------------------------------------------------ */

/* probs[i, :] = softmax(logits[i, :]); n x k row-major. */
void calib_softmax(const double *logits, size_t n, size_t k, double *probs);

/* out[i, :] = log_softmax(logits[i, :]). */
void calib_log_softmax(const double *logits, size_t n, size_t k,
                       double *out);

/* Numerically safe logistic function and log(1 + exp(x)). */
double calib_sigmoid(double x);
double calib_log1pexp(double x);

/* ------------------------------------------------------------------------
 * Metrics
 * ------------------------------------------------------------------------ */

typedef enum calib_bin_rule {
    CALIB_BIN_RIGHT = 0,  /* (lo, hi], first bin [0, 1/M]: Guo et al. 2017 */
    CALIB_BIN_LEFT = 1    /* [lo, hi), last bin [1 - 1/M, 1]: np.histogram */
} calib_bin_rule;

typedef enum calib_bin_scheme {
    CALIB_SCHEME_WIDTH = 0,  /* M equal-width bins on [0, 1] */
    CALIB_SCHEME_MASS = 1    /* M bins with (nearly) equal counts */
} calib_bin_scheme;

/*
 * The bin of p in [0, 1] among n_bins equal-width bins. The edges are the
 * correctly rounded doubles k / n_bins and p is compared with them, so
 * with M = 10, 0.3 lies in (0.2, 0.3] under CALIB_BIN_RIGHT and in
 * [0.3, 0.4) under CALIB_BIN_LEFT.
 */
size_t calib_bin_index(double p, size_t n_bins, calib_bin_rule rule);

typedef struct calib_eval_options {
    size_t n_bins;            /* 15 */
    calib_bin_rule bin_rule;  /* CALIB_BIN_RIGHT */
    calib_bin_scheme scheme;  /* bins of ece/mce/rmsce and the table */
    double smoothing;         /* eps of the smoothed targets; 0.1 */
    double clip_eps;          /* 0: no clipping; else probs to [eps, 1] */
    double sum_tolerance;     /* |row sum - 1| allowed for probs; 1e-4 */
    int renormalize;          /* probs: divide each row by its sum */
    int top_label;            /* binary: max(p, 1-p) against correctness */
    unsigned threads;         /* 0: all cores */
} calib_eval_options;

void calib_eval_options_default(calib_eval_options *opt);

/* One row of a reliability table. Empty bins have confidence and
 * accuracy 0 and count 0. */
typedef struct calib_bin {
    double lo;
    double hi;
    uint64_t count;
    double confidence;  /* mean confidence in the bin */
    double accuracy;    /* fraction correct in the bin */
} calib_bin;

/*
 * All metrics of one prediction set. Fields that the input cannot give
 * (NLL, Brier, KL and classwise ECE from top-label records) are NaN and
 * has_full_probs is 0.
 */
typedef struct calib_metrics {
    size_t n;
    size_t classes;          /* 2 for binary input */
    int binary;              /* the input was one positive-class column */
    int top_label;           /* binary: ECE of the top label, not p vs y */
    int has_full_probs;
    double accuracy;
    double mean_confidence;
    double nll;              /* natural log; +inf if some p_y == 0 */
    uint64_t nll_infinite_rows;
    uint64_t clipped_rows;   /* rows changed by clip_eps */
    double brier;
    double kl_smoothed;      /* KL(q || p), q the smoothed targets */
    double ece;
    double mce;
    double rmsce;
    double ace;              /* equal-mass ECE */
    double classwise_ece;
    calib_eval_options options;
    size_t n_bins;
    calib_bin *bins;         /* n_bins rows, in the chosen scheme */
} calib_metrics;

void calib_metrics_free(calib_metrics *m);

/*
 * A mergeable accumulator: feed it chunks of rows, merge accumulators
 * built on other chunks, threads or machines, then finish. The per-bin
 * counts and sums and the NLL, Brier and KL sums are kept in exact
 * fixed-point form, so merging in any order gives the same bits.
 * Equal-mass bins need every (confidence, correct) pair: the accumulator
 * keeps 16 bytes per sample for them.
 *
 * `first_row` is the 0-based index of the chunk's first row in the whole
 * input; it is used in error messages.
 *
 * `classes` is the number of prediction columns: K, or 1 for a binary
 * task; for top-label records, K or 0 if unknown. A failed add leaves the
 * accumulator as it was. Adds are threaded (opt->threads) and meant for
 * chunks of many rows.
 */
typedef struct calib_accumulator calib_accumulator;

calib_status calib_accumulator_alloc(size_t classes, calib_input input,
                                     const calib_eval_options *opt,
                                     calib_accumulator **out,
                                     calib_error *err);
calib_status calib_accumulator_add(calib_accumulator *acc, const void *preds,
                                   calib_dtype dtype, const int64_t *labels,
                                   size_t rows, size_t first_row,
                                   calib_error *err);
calib_status calib_accumulator_add_toplabel(calib_accumulator *acc,
                                            const calib_toplabel *t,
                                            calib_error *err);
calib_status calib_accumulator_merge(calib_accumulator *into,
                                     const calib_accumulator *from,
                                     calib_error *err);
calib_status calib_accumulator_finish(const calib_accumulator *acc,
                                      calib_metrics *out, calib_error *err);
void calib_accumulator_free(calib_accumulator *acc);

/* All metrics of a matrix in one call (threads from opt). A bad value
 * fails with CALIB_E_VALUE naming the first bad row; err->field then says
 * which input holds it, "predictions" or "labels", so that a caller can
 * name the file. */
calib_status calib_evaluate(const calib_matrix *preds, calib_input input,
                            const int64_t *labels,
                            const calib_eval_options *opt,
                            calib_metrics *out, calib_error *err);

/* Top-label metrics from top-label records; `classes` may be 0 if
 * unknown. */
calib_status calib_evaluate_toplabel(const calib_toplabel *t, size_t classes,
                                     const calib_eval_options *opt,
                                     calib_metrics *out, calib_error *err);

/*
 * Converts predictions to a float64 probability matrix n x k (k = cols,
 * or 2 for binary input: [1 - p, p]) with the checks of calib_evaluate:
 * finite values, probabilities in [0, 1] summing to 1 within
 * opt->sum_tolerance unless opt->renormalize. *probs is released with
 * calib_free.
 */
calib_status calib_to_probs(const calib_matrix *preds, calib_input input,
                            const calib_eval_options *opt, double **probs,
                            calib_error *err);

/* ------------------------------------------------------------------------
 * Training losses with analytic gradients
 * ------------------------------------------------------------------------ */

typedef enum calib_loss_kind {
    CALIB_LOSS_CE = 0,            /* cross-entropy */
    CALIB_LOSS_SMOOTHED_CE = 1,   /* CE against smoothed targets q */
    CALIB_LOSS_KL = 2,            /* KL(q || p) */
    CALIB_LOSS_JOINT = 3,         /* CE + lambda * KL(q || p) */
    CALIB_LOSS_FOCAL = 4,         /* -(1 - p_y)^gamma log p_y */
    CALIB_LOSS_FOCAL_ADAPTIVE = 5,/* gamma 5 / 3 / gamma by p_y */
    CALIB_LOSS_MMCE = 6,          /* Kumar et al. 2018, Laplacian kernel */
    CALIB_LOSS_SOFT_ECE = 7       /* Karandikar et al. 2021 */
} calib_loss_kind;

typedef struct calib_loss_options {
    double smoothing;        /* eps; 0.1 */
    double lambda;           /* joint loss weight; 0.1 */
    double gamma;            /* focal; 3 */
    double mmce_width;       /* Laplacian kernel width; 0.4 */
    size_t soft_ece_bins;    /* 15 */
    double soft_ece_temperature; /* soft-binning temperature; 0.01 */
} calib_loss_options;

void calib_loss_options_default(calib_loss_options *opt);

/* Parses "ce", "smoothed", "kl", "joint", "focal", "focal-adaptive",
 * "mmce", "soft-ece". Returns 0 on success, -1 if unknown. */
int calib_loss_from_name(const char *name, calib_loss_kind *out);
const char *calib_loss_name(calib_loss_kind kind);

/*
 * The mean loss over a batch of n rows of k logits (float32 or float64),
 * and, if grad is not NULL, its gradient with respect to the logits
 * (n x k float64, already divided by n).
 */
calib_status calib_loss(calib_loss_kind kind, const void *logits,
                        calib_dtype dtype, size_t n, size_t k,
                        const int64_t *labels,
                        const calib_loss_options *opt, double *loss,
                        double *grad, calib_error *err);

/* ------------------------------------------------------------------------
 * Post-hoc calibrators
 * ------------------------------------------------------------------------ */

typedef enum calib_method {
    CALIB_TEMPERATURE = 0,
    CALIB_VECTOR = 1,
    CALIB_MATRIX = 2,
    CALIB_DIRICHLET = 3,
    CALIB_PLATT = 4,
    CALIB_BETA = 5,
    CALIB_ISOTONIC = 6,
    CALIB_HISTOGRAM = 7
} calib_method;

#define CALIB_METHOD_COUNT 8

/* "temperature", "vector", "matrix", "dirichlet", "platt", "beta",
 * "isotonic", "histogram". from_name returns 0, or -1 if unknown. */
const char *calib_method_name(calib_method method);
int calib_method_from_name(const char *name, calib_method *out);

typedef struct calib_fit_options {
    double l2;                 /* vector/matrix: L2 weight; 1e-4 */
    double dirichlet_lambda;   /* off-diagonal weights; 1e-3 */
    double dirichlet_mu;       /* intercepts; 1e-3 */
    size_t n_bins;             /* histogram binning; 15 */
    calib_bin_scheme scheme;   /* histogram binning; equal width */
    calib_bin_rule bin_rule;   /* histogram binning; right-closed */
    double tolerance;          /* relative tolerance; 1e-12 for beta=1/T */
    size_t max_iterations;     /* 0: the method's own default */
    unsigned threads;          /* 0: all cores */
} calib_fit_options;

void calib_fit_options_default(calib_fit_options *opt);

/* Fit diagnostics. `status` is "converged", "max-iterations",
 * "temperature-to-zero", "temperature-to-infinity" or a method's own
 * word; `gradient` is the final gradient's largest magnitude. */
typedef struct calib_fit_info {
    size_t n;
    double nll_before;
    double nll_after;
    size_t iterations;
    double gradient;
    char status[32];
} calib_fit_info;

typedef struct calib_model calib_model;

/*
 * Fits a calibration map on validation predictions and labels. Methods on
 * logits (temperature, vector, matrix) take log(p) when given
 * probabilities; Dirichlet takes log(p) of softmax(z) when given logits;
 * the binary methods (Platt, beta, isotonic, histogram) run one-vs-rest
 * on K > 1 classes and renormalise each row (a row of zeros becomes
 * uniform). CALIB_E_NOT_APPLICABLE says why a method does not fit.
 */
calib_status calib_fit(calib_method method, const calib_matrix *preds,
                       calib_input input, const int64_t *labels,
                       const calib_fit_options *opt, calib_model **out,
                       calib_error *err);

/* Applies a model: probs is n x k float64 (k = preds->cols, or 2 for
 * binary input: [1 - p, p]). K must match the model's. */
calib_status calib_model_apply(const calib_model *model,
                               const calib_matrix *preds, calib_input input,
                               double *probs, calib_error *err);

calib_method calib_model_method(const calib_model *model);
size_t calib_model_classes(const calib_model *model);
const calib_fit_info *calib_model_fit_info(const calib_model *model);

/* Temperature of a temperature-scaling model; NaN for other methods. */
double calib_model_temperature(const calib_model *model);

/* The model as a JSON document (format "calib-model"); *json is released
 * with calib_free. */
calib_status calib_model_to_json(const calib_model *model, char **json,
                                 calib_error *err);
calib_status calib_model_from_json(const char *json, size_t len,
                                   const char *name, calib_model **out,
                                   calib_error *err);
calib_status calib_model_save(const calib_model *model, const char *path,
                              calib_error *err);
calib_status calib_model_load(const char *path, calib_model **out,
                              calib_error *err);
void calib_model_free(calib_model *model);

/* ------------------------------------------------------------------------
 * Reliability diagrams
 * ------------------------------------------------------------------------ */

/*
 * An SVG reliability diagram of m: bin accuracy as bars against the
 * diagonal, the gaps marked, the confidence histogram beneath, ECE, MCE
 * and N in a legend. With `after` non-NULL, two panels side by side.
 * *svg is a NUL-terminated string released with calib_free.
 */
calib_status calib_svg_reliability(const calib_metrics *m, const char *title,
                                   const calib_metrics *after,
                                   const char *after_title, char **svg,
                                   calib_error *err);

#ifdef __cplusplus
}
#endif

#endif /* CALIB_H */
