/*
 * model.c - fitted calibration maps: fitting dispatch, application, and
 * the portable JSON model file.
 *
 * calib_fit turns the caller's predictions into what each method works
 * on: logits for temperature, vector and matrix scaling (log p, floored at
 * DBL_MIN, when given probabilities: softmax is invariant to the row
 * constant this adds), log-probabilities for Dirichlet calibration, and
 * for the binary maps one column per class, the class's probability p_j
 * (isotonic, histogram) or its log-odds s_j = log p_j - log(1 - p_j)
 * (Platt, beta). Binary input (one column) is the two-class case
 * [1 - p, p] (probabilities) or [0, s] (logits). With K = 2 a single map
 * is fitted to the positive class and the output is [1 - q, q]; with
 * K > 2 one map per class is fitted one-vs-rest and each output row is
 * divided by its sum, a row of zeros becoming uniform. Binary input to a
 * binary map takes a path of its own (fit_column, apply_column): the
 * column the map reads, no n x 2 matrices, and the NLL before and after
 * in vectorised blocks (calib_vexp, calib_vlog: a few ulp per term).
 * Platt's sigmoid uses calib_vexp's kernel, the same bits one value at a
 * time or in blocks.
 *
 * The model file is JSON (format "calib-model", version 1, described in
 * docs/calibrators.md) written with 17 significant digits so that a saved
 * and reloaded model gives bit-identical predictions. The loader checks
 * every key, type, length and number and names the first bad key in
 * err->field. Parsing and printing use jansson, whose own working memory
 * does not pass through the calib allocator; the documents it returns are
 * copied into calib_malloc'ed memory.
 */
#include "calibrators.h"
#include "internal.h"
#include "scaling.h"

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_FORMAT "calib-model"
#define MODEL_VERSION 1

/* |row sum - 1| allowed for probability input: the default of the
 * metrics (calib_eval_options.sum_tolerance). */
#define PROB_SUM_TOLERANCE 1e-4

/* Largest K a model file may claim: K * K parameters stay far from any
 * size_t overflow. */
#define MAX_CLASSES ((size_t)1 << 20)

/* Largest model file read: a few hundred bytes per knot or bin. */
#define MAX_MODEL_FILE ((size_t)1 << 30)

/* One binary map (one class, one-vs-rest). */
typedef struct binary_map {
    double a;          /* Platt: slope; beta: ln p coefficient */
    double b;          /* Platt: intercept; beta: -ln(1 - p) coefficient */
    double c;          /* beta: intercept */
    size_t n_points;   /* isotonic: knots; histogram: bins */
    double *x;         /* isotonic: knot x; histogram: n_points + 1 edges */
    double *y;         /* isotonic: knot y; histogram: bin values */
} binary_map;

struct calib_model {
    calib_method method;
    size_t classes;           /* K >= 2; binary input counts as 2 */
    calib_input input;        /* what the fit was given */
    size_t n_bins;            /* histogram conventions */
    calib_bin_scheme scheme;
    calib_bin_rule bin_rule;
    calib_fit_info info;
    double temperature;       /* temperature scaling */
    size_t n_params;          /* vector, matrix, Dirichlet (scaling.h) */
    double *params;
    size_t n_maps;            /* binary methods: 1 if K == 2, else K */
    binary_map *maps;
};

static const char *const method_names[CALIB_METHOD_COUNT] = {
    "temperature", "vector", "matrix", "dirichlet",
    "platt", "beta", "isotonic", "histogram"};

const char *calib_method_name(calib_method method)
{
    if ((unsigned)method >= CALIB_METHOD_COUNT)
        return "unknown";
    return method_names[method];
}

int calib_method_from_name(const char *name, calib_method *out)
{
    if (name == NULL)
        return -1;
    for (unsigned i = 0; i < CALIB_METHOD_COUNT; i++) {
        if (strcmp(name, method_names[i]) == 0) {
            if (out != NULL)
                *out = (calib_method)i;
            return 0;
        }
    }
    return -1;
}

void calib_fit_options_default(calib_fit_options *opt)
{
    if (opt == NULL)
        return;
    opt->l2 = 1e-4;
    opt->dirichlet_lambda = 1e-3;
    opt->dirichlet_mu = 1e-3;
    opt->n_bins = 15;
    opt->scheme = CALIB_SCHEME_WIDTH;
    opt->bin_rule = CALIB_BIN_RIGHT;
    opt->tolerance = 1e-12;
    opt->max_iterations = 0;
    opt->threads = 0;
}

static int is_binary_method(calib_method m)
{
    return m == CALIB_PLATT || m == CALIB_BETA || m == CALIB_ISOTONIC ||
           m == CALIB_HISTOGRAM;
}

static int is_scaling_method(calib_method m)
{
    return m == CALIB_VECTOR || m == CALIB_MATRIX || m == CALIB_DIRICHLET;
}

static calib_model *model_new(void)
{
    calib_model *m = calib_calloc(1, sizeof *m);
    if (m != NULL)
        m->temperature = NAN;
    return m;
}

void calib_model_free(calib_model *model)
{
    if (model == NULL)
        return;
    if (model->maps != NULL) {
        for (size_t j = 0; j < model->n_maps; j++) {
            calib_free(model->maps[j].x);
            calib_free(model->maps[j].y);
        }
        calib_free(model->maps);
    }
    calib_free(model->params);
    calib_free(model);
}

/* ------------------------------------------------------------------------
 * Input checks and working representations
 * ------------------------------------------------------------------------ */

static double value_at(const calib_matrix *m, size_t idx)
{
    if (m->dtype == CALIB_FLOAT32)
        return (double)((const float *)m->data)[idx];
    return ((const double *)m->data)[idx];
}

/* Checks preds (and labels when not NULL) and gives the class count K:
 * cols, or 2 for a single column. Logits' values are checked only when
 * scan_logits is set: the temperature fit checks them in its first pass,
 * which reads them anyway. */
static calib_status check_input(const calib_matrix *preds,
                                calib_input input, const int64_t *labels,
                                int scan_logits, size_t *k_out,
                                calib_error *err)
{
    size_t n, cols, k;

    if (preds == NULL || preds->data == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT, "no predictions given");
    if (preds->dtype != CALIB_FLOAT32 && preds->dtype != CALIB_FLOAT64)
        return calib_failf(err, CALIB_E_UNSUPPORTED,
                           "predictions: unknown dtype %d",
                           (int)preds->dtype);
    if (input != CALIB_LOGITS && input != CALIB_PROBS)
        return calib_failf(err, CALIB_E_ARGUMENT, "unknown input kind %d",
                           (int)input);
    n = preds->rows;
    cols = preds->cols;
    if (n == 0 || cols == 0)
        return calib_failf(err, CALIB_E_SHAPE,
                           "predictions have %zu rows and %zu columns", n,
                           cols);
    k = cols == 1 ? 2 : cols;

    /* one float64 column: a branch-free scan first; the loop below, which
     * names the first bad row, runs only if it finds something */
    if (cols == 1 && preds->dtype == CALIB_FLOAT64) {
        const double *v = preds->data;
        double lo = input == CALIB_PROBS ? 0.0 : -DBL_MAX;
        double hi = input == CALIB_PROBS ? 1.0 : DBL_MAX;
        int bad = 0;

        size_t i = 0;

        /* fixed inner trip count: gcc's -O2 cost model vectorises it */
        for (; i + 16 <= n; i += 16)
            for (size_t j = 0; j < 16; j++)
                bad |= !(v[i + j] >= lo) | !(v[i + j] <= hi);
        for (; i < n; i++)
            bad |= !(v[i] >= lo) | !(v[i] <= hi);
        if (!bad)
            n = 0;
    } else if (input == CALIB_LOGITS && !scan_logits) {
        n = 0;
    } else if (input == CALIB_LOGITS) {
        /* logits need only be finite: |v| <= max is false for NaN and
         * infinities; the same branch-free scan, over the whole matrix */
        size_t total = n * cols, i = 0;
        int bad = 0;

        if (preds->dtype == CALIB_FLOAT32) {
            const float *v = preds->data;
            for (; i + 16 <= total; i += 16)
                for (size_t j = 0; j < 16; j++)
                    bad |= !(fabsf(v[i + j]) <= FLT_MAX);
            for (; i < total; i++)
                bad |= !(fabsf(v[i]) <= FLT_MAX);
        } else {
            const double *v = preds->data;
            for (; i + 16 <= total; i += 16)
                for (size_t j = 0; j < 16; j++)
                    bad |= !(fabs(v[i + j]) <= DBL_MAX);
            for (; i < total; i++)
                bad |= !(fabs(v[i]) <= DBL_MAX);
        }
        if (!bad)
            n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        double sum = 0.0;
        for (size_t j = 0; j < cols; j++) {
            double v = value_at(preds, i * cols + j);
            if (!isfinite(v))
                return calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1,
                                  -1, "%s %g in column %zu is not finite",
                                  input == CALIB_PROBS ? "probability"
                                                       : "logit",
                                  v, j);
            if (input == CALIB_PROBS && (v < 0.0 || v > 1.0))
                return calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1,
                                  -1, "column %zu: probability %.17g is "
                                  "outside [0, 1]", j, v);
            sum += v;
        }
        if (input == CALIB_PROBS && cols > 1 &&
            fabs(sum - 1.0) > PROB_SUM_TOLERANCE)
            return calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1, -1,
                              "probabilities sum to %.17g, not 1", sum);
    }
    n = preds->rows;
    if (labels != NULL)
        for (size_t i = 0; i < n; i++)
            if (labels[i] < 0 || (uint64_t)labels[i] >= (uint64_t)k)
                return calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1,
                                  -1, "label %lld is outside [0, %zu)",
                                  (long long)labels[i], k);
    *k_out = k;
    return CALIB_OK;
}

static double *alloc_matrix(size_t n, size_t k, calib_error *err)
{
    int overflow = 0;
    size_t count = calib_mul_size(n, k, &overflow);
    size_t bytes = overflow ? 0 : calib_mul_size(count, sizeof(double),
                                                 &overflow);
    double *p;

    if (overflow) {
        calib_failf(err, CALIB_E_TOO_LARGE, "%zu x %zu values is too many",
                    n, k);
        return NULL;
    }
    /* every user writes all of it: no zeroing by calloc, whose fresh
     * pages would then be written twice */
    p = calib_malloc(bytes);
    if (p == NULL)
        calib_failf(err, CALIB_E_NOMEM, "out of memory (%zu x %zu values)",
                    n, k);
    return p;
}

/* The logits seen by temperature, vector and matrix scaling (log p with
 * the floor for probabilities), n x k. */
static void fill_logits(const calib_matrix *preds, calib_input input,
                        size_t k, double *z)
{
    size_t n = preds->rows, cols = preds->cols;

    for (size_t i = 0; i < n; i++) {
        if (cols == 1) {
            double v = value_at(preds, i);
            if (input == CALIB_LOGITS) {
                z[2 * i] = 0.0;
                z[2 * i + 1] = v;
            } else {
                z[2 * i] = log(fmax(1.0 - v, CALIB_PROB_FLOOR));
                z[2 * i + 1] = log(fmax(v, CALIB_PROB_FLOOR));
            }
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            double v = value_at(preds, i * cols + j);
            z[i * k + j] = input == CALIB_LOGITS
                               ? v
                               : log(fmax(v, CALIB_PROB_FLOOR));
        }
    }
}

/* log-probabilities for Dirichlet calibration, n x k. */
static void fill_log_probs(const calib_matrix *preds, calib_input input,
                           size_t k, double *x)
{
    fill_logits(preds, input, k, x);
    if (input == CALIB_LOGITS) {
        size_t count = preds->rows * k;
        calib_log_softmax(x, preds->rows, k, x);
        /* logits of opposite signs near DBL_MAX: z - max overflows to
         * -inf; the largest finite value keeps the limit (p = 0) */
        for (size_t j = 0; j < count; j++)
            if (x[j] < -DBL_MAX)
                x[j] = -DBL_MAX;
    }
}

/*
 * Per row and class, the probability p_j and the log-odds s_j, n x k
 * each. From logits, log p_j comes from the log-softmax; log(1 - p_j) is
 * log1p(-p_j) except for the row's largest class, where it is the
 * log-sum-exp of the other classes (exact when p_j rounds to 1). With two
 * classes s_1 = z_1 - z_0 exactly. Without scores (isotonic regression and
 * histogram binning read only p) s is left as scratch.
 */
static void fill_probs_scores(const calib_matrix *preds, calib_input input,
                              size_t k, int scores, double *p, double *s)
{
    size_t n = preds->rows, cols = preds->cols;

    fill_logits(preds, CALIB_LOGITS, k, s);  /* the raw values first */
    for (size_t i = 0; i < n; i++) {
        double *si = s + i * k, *pi = p + i * k;

        if (input == CALIB_PROBS) {
            if (cols == 1) {
                pi[1] = si[1];
                pi[0] = 1.0 - si[1];
            } else {
                for (size_t j = 0; j < k; j++)
                    pi[j] = si[j];
            }
            for (size_t j = 0; j < k && scores; j++) {
                double c = fmin(fmax(pi[j], CALIB_PROB_EPS),
                                1.0 - CALIB_PROB_EPS);
                si[j] = log(c) - log1p(-c);
            }
            continue;
        }

        /* logits */
        calib_softmax(si, 1, k, pi);
        if (!scores)
            continue;
        if (k == 2) {
            double d = si[1] - si[0];
            si[1] = d;
            si[0] = -d;
            continue;
        }
        {
            size_t top = 0;
            double m, sum = 0.0, lse, m_rest = -INFINITY, sum_rest = 0.0;

            for (size_t j = 1; j < k; j++)
                if (si[j] > si[top])
                    top = j;
            m = si[top];
            for (size_t j = 0; j < k; j++)
                sum += exp(si[j] - m);
            lse = m + log(sum);
            for (size_t j = 0; j < k; j++)
                if (j != top && si[j] > m_rest)
                    m_rest = si[j];
            for (size_t j = 0; j < k; j++)
                if (j != top)
                    sum_rest += exp(si[j] - m_rest);
            for (size_t j = 0; j < k; j++) {
                if (j == top)
                    continue;
                si[j] = (si[j] - lse) - log1p(-pi[j]);
            }
            si[top] = m - (m_rest + log(sum_rest));
        }
    }
}

/* Mean -log p_y of an n x k probability matrix; +inf if some p_y is 0. */
static double mean_nll(const double *p, size_t n, size_t k,
                       const int64_t *labels)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += -log(p[i * k + (size_t)labels[i]]);
    return sum / (double)n;
}

/* Mean NLL of the uncalibrated input. */
static double input_nll(const calib_matrix *preds, calib_input input,
                        size_t k, const int64_t *labels, double *work)
{
    size_t n = preds->rows;
    double sum = 0.0;

    fill_logits(preds, input, k, work);
    if (input == CALIB_LOGITS) {
        calib_log_softmax(work, n, k, work);
        for (size_t i = 0; i < n; i++)
            sum -= work[i * k + (size_t)labels[i]];
        return sum / (double)n;
    }
    for (size_t i = 0; i < n; i++) {
        double v = preds->cols == 1
                       ? value_at(preds, i)
                       : value_at(preds, i * preds->cols +
                                             (size_t)labels[i]);
        if (preds->cols == 1 && labels[i] == 0)
            v = 1.0 - v;
        sum += -log(v);
    }
    return sum / (double)n;
}

/* ------------------------------------------------------------------------
 * Applying binary maps
 * ------------------------------------------------------------------------ */

/* Rows per block of the single-column binary paths: stack buffers, no
 * work memory that grows with n. */
#define BIN_BLOCK 256

/*
 * Platt's map sigmoid(t), t = a s + b, as 1 / (1 + e) for t >= 0 and
 * e / (1 + e) otherwise, e = exp(-|t|) from calib_vexp's kernel (within
 * 2 ulp of libm's exp, src/vexp.c): platt_one and platt_block give the
 * same bits, so a model applied row by row, by blocks, in the fit's
 * diagnostics or after a reload always agrees.
 */
static double platt_one(double a, double b, double s)
{
    double t = a * s + b, e = calib_exp_scalar(-fabs(t));
    double pos = (double)(t >= 0.0);

    /* the numerator 1 or e, exactly, with no branch */
    return (pos + (1.0 - pos) * e) / (1.0 + e);
}

/* The loops run over the whole block (a fixed trip count, which gcc's
 * -O2 cost model vectorises), the tail padded with s = 0. */
static void platt_block(double a, double b, const double *s, double *q,
                        size_t len)
{
    double t[BIN_BLOCK], e[BIN_BLOCK];

    memcpy(t, s, len * sizeof *t);
    for (size_t j = len; j < BIN_BLOCK; j++)
        t[j] = 0.0;
    for (size_t j = 0; j < BIN_BLOCK; j++) {
        t[j] = a * t[j] + b;
        e[j] = -fabs(t[j]);
    }
    calib_vexp(e, e, BIN_BLOCK);
    for (size_t j = 0; j < BIN_BLOCK; j++) {
        double pos = (double)(t[j] >= 0.0);
        t[j] = (pos + (1.0 - pos) * e[j]) / (1.0 + e[j]);
    }
    memcpy(q, t, len * sizeof *q);
}

static double map_value(const calib_model *model, const binary_map *bm,
                        double p, double s)
{
    switch (model->method) {
    case CALIB_PLATT:
        return platt_one(bm->a, bm->b, s);
    case CALIB_BETA: {
        double ln_p, neg_ln_1mp;
        calib_beta_features(s, &ln_p, &neg_ln_1mp);
        return calib_sigmoid(bm->a * ln_p + bm->b * neg_ln_1mp + bm->c);
    }
    case CALIB_ISOTONIC:
        return calib_isotonic_predict(bm->x, bm->y, bm->n_points, p);
    case CALIB_HISTOGRAM:
        return bm->y[calib_histogram_bin(bm->x, bm->n_points,
                                         model->bin_rule, p)];
    default:
        return NAN;
    }
}

/* probs (n x k) from the per-class p and s of fill_probs_scores. */
static void apply_maps(const calib_model *model, const double *p,
                       const double *s, size_t n, double *probs)
{
    size_t k = model->classes;

    for (size_t i = 0; i < n; i++) {
        const double *pi = p + i * k, *si = s + i * k;
        double *out = probs + i * k, sum = 0.0;

        if (k == 2) {
            double q = map_value(model, &model->maps[0], pi[1], si[1]);
            out[0] = 1.0 - q;
            out[1] = q;
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            out[j] = map_value(model, &model->maps[j], pi[j], si[j]);
            sum += out[j];
        }
        for (size_t j = 0; j < k; j++)
            out[j] = sum > 0.0 ? out[j] / sum : 1.0 / (double)k;
    }
}

/*
 * Binary input (one column): the positive class's probability p of a
 * value (the softmax of [0, v] for a logit) or its log-odds s, the same
 * bits as fill_probs_scores gives for column 1 of [1 - p, p] or [0, s].
 * Isotonic regression and histogram binning read p, Platt and beta
 * calibration s: only the one needed is computed.
 */
static int map_reads_scores(calib_method m)
{
    return m == CALIB_PLATT || m == CALIB_BETA;
}

static void column_block(const calib_matrix *preds, calib_input input,
                         int scores, size_t i0, size_t len, double *col)
{
    if (input == CALIB_PROBS && !scores) {
        for (size_t j = 0; j < len; j++)
            col[j] = value_at(preds, i0 + j);
    } else if (input == CALIB_LOGITS && scores) {
        /* s = z_1 - z_0 = v - 0 */
        for (size_t j = 0; j < len; j++)
            col[j] = value_at(preds, i0 + j) - 0.0;
    } else if (scores) {
        for (size_t j = 0; j < len; j++) {
            double c = fmin(fmax(value_at(preds, i0 + j), CALIB_PROB_EPS),
                            1.0 - CALIB_PROB_EPS);
            col[j] = log(c) - log1p(-c);
        }
    } else {
        for (size_t j = 0; j < len; j++) {
            double z[2] = {0.0, value_at(preds, i0 + j)}, q[2];
            calib_softmax(z, 1, 2, q);
            col[j] = q[1];
        }
    }
}

/* q = the fitted map of class 1 on a block of p (or s) values. */
static void map_block(const calib_model *model, const double *col,
                      double *q, size_t len)
{
    const binary_map *bm = &model->maps[0];

    if (model->method == CALIB_PLATT) {
        platt_block(bm->a, bm->b, col, q, len);
        return;
    }
    for (size_t j = 0; j < len; j++)
        q[j] = map_value(model, bm, col[j], col[j]);
}

/* Binary input: [1 - q, q] per row into probs (n x 2). */
static void apply_column(const calib_model *model, const calib_matrix *preds,
                         calib_input input, double *probs)
{
    size_t n = preds->rows;
    int scores = map_reads_scores(model->method);

    for (size_t i0 = 0; i0 < n; i0 += BIN_BLOCK) {
        size_t len = n - i0 < BIN_BLOCK ? n - i0 : BIN_BLOCK;
        double col[BIN_BLOCK], q[BIN_BLOCK];

        column_block(preds, input, scores, i0, len, col);
        map_block(model, col, q, len);
        for (size_t j = 0; j < len; j++) {
            probs[2 * (i0 + j)] = 1.0 - q[j];
            probs[2 * (i0 + j) + 1] = q[j];
        }
    }
}

/*
 * Mean NLL of binary input, -log p_y: for probabilities p_1 = v and
 * p_0 = 1 - v; for a logit v (the two-class logits [0, v]) log(1 +
 * e^t) with t = v for y = 0 and t = -v for y = 1, as max(t, 0) +
 * log1p(e^-|t|), log1p(e) taken as log(u) + c / u with u = 1 + e
 * rounded and c = e - (u - 1) its exact rounding error. The
 * logs come from calib_vlog (within 4 ulp), so each term is within a few
 * ulp of its definition and so is the sum of these positive terms.
 */
static double column_input_nll(const calib_matrix *preds, calib_input input,
                               const int64_t *labels)
{
    size_t n = preds->rows;
    double sum = 0.0;

    for (size_t i0 = 0; i0 < n; i0 += BIN_BLOCK) {
        size_t len = n - i0 < BIN_BLOCK ? n - i0 : BIN_BLOCK;
        double v[BIN_BLOCK], y[BIN_BLOCK], e[BIN_BLOCK], u[BIN_BLOCK],
            l[BIN_BLOCK];

        /* the block's values and labels (as 0.0 / 1.0), the tail padded
         * with harmless values, so that the loops below run over the
         * whole block: fixed trip counts, no branch, vectorised */
        if (preds->dtype == CALIB_FLOAT64) {
            memcpy(v, (const double *)preds->data + i0, len * sizeof *v);
        } else {
            const float *f = (const float *)preds->data + i0;
            for (size_t j = 0; j < len; j++)
                v[j] = (double)f[j];
        }
        /* labels are checked to be 0 or 1: converted, not compared (a
         * comparison becomes a branch that random labels mispredict) */
        for (size_t j = 0; j < len; j++)
            y[j] = (double)labels[i0 + j];
        for (size_t j = len; j < BIN_BLOCK; j++) {
            v[j] = 0.5;
            y[j] = 1.0;
        }

        if (input == CALIB_PROBS) {
            /* p_y: y v + (1 - y)(1 - v) is v or 1 - v exactly */
            for (size_t j = 0; j < BIN_BLOCK; j++)
                u[j] = y[j] * v[j] + (1.0 - y[j]) * (1.0 - v[j]);
            calib_vlog(u, l, BIN_BLOCK);
            for (size_t j = 0; j < len; j++)
                sum -= l[j];
            continue;
        }
        for (size_t j = 0; j < BIN_BLOCK; j++) {
            v[j] = (1.0 - 2.0 * y[j]) * v[j];  /* t = +-v, exact */
            e[j] = -fabs(v[j]);
        }
        calib_vexp(e, e, BIN_BLOCK);
        for (size_t j = 0; j < BIN_BLOCK; j++)
            u[j] = 1.0 + e[j];
        calib_vlog(u, l, BIN_BLOCK);
        for (size_t j = 0; j < BIN_BLOCK; j++) {
            /* c = e - (u - 1) is the rounding error of u = 1 + e, exact,
             * and log(1 + e) = log u + log(1 + c / u) = log u + c / u
             * up to (c / u)^2 < 2^-106; max(t, 0) as t/2 + |t|/2, exact
             * (no overflow for |t| near DBL_MAX), branch-free */
            double c = e[j] - (u[j] - 1.0);
            l[j] = (0.5 * v[j] + 0.5 * fabs(v[j])) + (l[j] + c / u[j]);
        }
        for (size_t j = 0; j < len; j++)
            sum += l[j];
    }
    return sum / (double)n;
}

/* The calibrated probabilities of a checked input; n x k into probs. */
static calib_status apply_checked(const calib_model *model,
                                  const calib_matrix *preds,
                                  calib_input input, double *probs,
                                  calib_error *err)
{
    size_t n = preds->rows, k = model->classes;
    double *work = NULL, *work2 = NULL;

    if (is_binary_method(model->method) && preds->cols == 1) {
        apply_column(model, preds, input, probs);
        return CALIB_OK;
    }
    if (is_binary_method(model->method)) {
        work = alloc_matrix(n, k, err);
        if (work == NULL)
            return err != NULL ? err->status : CALIB_E_NOMEM;
        work2 = alloc_matrix(n, k, err);
        if (work2 == NULL) {
            calib_free(work);
            return err != NULL ? err->status : CALIB_E_NOMEM;
        }
        fill_probs_scores(preds, input, k,
                          map_reads_scores(model->method), work, work2);
        apply_maps(model, work, work2, n, probs);
        calib_free(work);
        calib_free(work2);
        return CALIB_OK;
    }

    work = alloc_matrix(n, k, err);
    if (work == NULL)
        return err != NULL ? err->status : CALIB_E_NOMEM;
    if (model->method == CALIB_DIRICHLET)
        fill_log_probs(preds, input, k, work);
    else
        fill_logits(preds, input, k, work);

    if (model->method == CALIB_TEMPERATURE) {
        double beta = 1.0 / model->temperature;
        /* a small T can push a finite logit to infinity, and inf - inf
         * in the softmax is NaN: the largest double gives the limit */
        for (size_t i = 0; i < n * k; i++)
            work[i] = fmax(fmin(work[i] * beta, DBL_MAX), -DBL_MAX);
        calib_softmax(work, n, k, probs);
    } else {
        calib_scaling_apply(model->method, model->params, work, n, k, probs);
    }
    calib_free(work);
    return CALIB_OK;
}

calib_status calib_model_apply(const calib_model *model,
                               const calib_matrix *preds, calib_input input,
                               double *probs, calib_error *err)
{
    size_t k = 0;
    double *out;
    calib_status st;

    if (model == NULL || probs == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_model_apply: NULL argument");
    st = check_input(preds, input, NULL, 1, &k, err);
    if (st != CALIB_OK)
        return st;
    if (k != model->classes)
        return calib_failf(err, CALIB_E_SHAPE,
                           "the model has K = %zu classes, the input has "
                           "K = %zu", model->classes, k);
    if ((model->method == CALIB_VECTOR || model->method == CALIB_MATRIX) &&
        input != model->input)
        return calib_failf(err, CALIB_E_NOT_APPLICABLE,
                           "this %s-scaling model was fitted on %s; it "
                           "cannot be applied to %s",
                           calib_method_name(model->method),
                           model->input == CALIB_LOGITS ? "logits"
                                                        : "probabilities",
                           input == CALIB_LOGITS ? "logits"
                                                 : "probabilities");

    /* computed aside, so probs is written only on success */
    out = alloc_matrix(preds->rows, k, err);
    if (out == NULL)
        return err != NULL ? err->status : CALIB_E_NOMEM;
    st = apply_checked(model, preds, input, out, err);
    if (st == CALIB_OK)
        memcpy(probs, out, preds->rows * k * sizeof *out);
    calib_free(out);
    return st;
}

/* ------------------------------------------------------------------------
 * Fitting
 * ------------------------------------------------------------------------ */

static calib_status check_options(const calib_fit_options *opt,
                                  calib_error *err)
{
    if (!(opt->l2 >= 0.0) || !isfinite(opt->l2) ||
        !(opt->dirichlet_lambda >= 0.0) || !isfinite(opt->dirichlet_lambda) ||
        !(opt->dirichlet_mu >= 0.0) || !isfinite(opt->dirichlet_mu))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "regularisation weights must be finite and >= 0");
    if (!(opt->tolerance >= 0.0) || !isfinite(opt->tolerance))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "tolerance must be finite and >= 0");
    if (opt->n_bins == 0 || opt->n_bins > ((size_t)1 << 24))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "n_bins must be in [1, 2^24], got %zu",
                           opt->n_bins);
    if (opt->scheme != CALIB_SCHEME_WIDTH && opt->scheme != CALIB_SCHEME_MASS)
        return calib_failf(err, CALIB_E_ARGUMENT, "unknown bin scheme %d",
                           (int)opt->scheme);
    if (opt->bin_rule != CALIB_BIN_RIGHT && opt->bin_rule != CALIB_BIN_LEFT)
        return calib_failf(err, CALIB_E_ARGUMENT, "unknown bin rule %d",
                           (int)opt->bin_rule);
    return CALIB_OK;
}

/* Fits one binary map to p (isotonic, histogram) or s (Platt, beta). */
static calib_status fit_one_map(const calib_model *model, binary_map *bm,
                                const double *col_p, const double *col_s,
                                const unsigned char *y, size_t n,
                                const calib_fit_options *opt,
                                calib_logistic_result *res, calib_error *err)
{
    calib_status st;

    switch (model->method) {
    case CALIB_PLATT:
        return calib_platt_fit(col_s, y, n, opt, &bm->a, &bm->b, res, err);
    case CALIB_BETA:
        return calib_beta_fit(col_s, y, n, opt, &bm->a, &bm->b, &bm->c, res,
                              err);
    case CALIB_ISOTONIC:
        return calib_isotonic_fit(col_p, y, n, &bm->x, &bm->y,
                                  &bm->n_points, err);
    default:
        st = calib_histogram_fit(col_p, y, n, opt->n_bins, opt->scheme,
                                 opt->bin_rule, &bm->x, &bm->y, err);
        bm->n_points = opt->n_bins;
        return st;
    }
}

static void note_result(calib_model *model, const calib_logistic_result *res,
                        int *all_converged)
{
    model->info.iterations += res->iterations;
    if (res->gradient > model->info.gradient)
        model->info.gradient = res->gradient;
    *all_converged &= res->converged;
}

static void set_status(calib_model *model, int all_converged)
{
    if (model->method == CALIB_ISOTONIC || model->method == CALIB_HISTOGRAM)
        snprintf(model->info.status, sizeof model->info.status, "exact");
    else
        snprintf(model->info.status, sizeof model->info.status, "%s",
                 all_converged ? "converged" : "max-iterations");
}

/*
 * Binary input (one column): the one map, fitted to the column of p or
 * s that it reads (no n x 2 matrices, no log-odds for isotonic
 * regression or histogram binning), and the NLL after the fit from the
 * same column: -log q for y = 1, -log(1 - q) for y = 0, exactly the
 * probabilities calib_model_apply gives, their logs from calib_vlog.
 */
static calib_status fit_column(calib_model *model, const calib_matrix *preds,
                               calib_input input, const int64_t *labels,
                               const calib_fit_options *opt,
                               calib_error *err)
{
    size_t n = preds->rows;
    int scores = map_reads_scores(model->method);
    double *own = NULL, sum = 0.0;
    const double *col;
    unsigned char *y = NULL;
    calib_logistic_result res = {0, 0.0, 1};
    int all_converged = 1;
    calib_status st;

    model->maps = calib_calloc(1, sizeof *model->maps);
    if (model->maps == NULL)
        return calib_failf(err, CALIB_E_NOMEM, "out of memory (model)");
    model->n_maps = 1;
    /* float64 probabilities for p, or float64 logits for s, are the
     * column itself: read in place */
    if (preds->dtype == CALIB_FLOAT64 && (input == CALIB_LOGITS) == scores) {
        col = preds->data;
    } else {
        own = alloc_matrix(n, 1, err);
        if (own == NULL)
            return err != NULL ? err->status : CALIB_E_NOMEM;
        column_block(preds, input, scores, 0, n, own);
        col = own;
    }
    y = calib_malloc(n);
    if (y == NULL) {
        calib_free(own);
        return calib_failf(err, CALIB_E_NOMEM, "out of memory (%zu rows)",
                           n);
    }
    for (size_t i = 0; i < n; i++)
        y[i] = (unsigned char)labels[i];  /* checked: 0 or 1 */

    st = fit_one_map(model, &model->maps[0], col, col, y, n, opt, &res,
                     err);
    if (st == CALIB_OK) {
        note_result(model, &res, &all_converged);
        set_status(model, all_converged);
        for (size_t i0 = 0; i0 < n; i0 += BIN_BLOCK) {
            size_t len = n - i0 < BIN_BLOCK ? n - i0 : BIN_BLOCK;
            double q[BIN_BLOCK], yd[BIN_BLOCK];

            map_block(model, col + i0, q, len);
            for (size_t j = 0; j < len; j++)
                yd[j] = (double)y[i0 + j];
            for (size_t j = len; j < BIN_BLOCK; j++) {
                q[j] = 0.5;
                yd[j] = 1.0;
            }
            /* q or 1 - q, exactly (one product is 0, the other exact),
             * over the whole block with no branch: vectorised */
            for (size_t j = 0; j < BIN_BLOCK; j++)
                q[j] = yd[j] * q[j] + (1.0 - yd[j]) * (1.0 - q[j]);
            calib_vlog(q, q, BIN_BLOCK);
            for (size_t j = 0; j < len; j++)
                sum -= q[j];
        }
        model->info.nll_after = sum / (double)n;
    }
    calib_free(own);
    calib_free(y);
    return st;
}

/* Fits the binary maps of a binary method. */
static calib_status fit_maps(calib_model *model, const calib_matrix *preds,
                             calib_input input, const int64_t *labels,
                             const calib_fit_options *opt, calib_error *err)
{
    size_t n = preds->rows, k = model->classes;
    size_t n_maps = k == 2 ? 1 : k;
    double *p = NULL, *s = NULL, *col_p = NULL, *col_s = NULL;
    unsigned char *y = NULL;
    calib_status st = CALIB_OK;
    int all_converged = 1;

    model->maps = calib_calloc(n_maps, sizeof *model->maps);
    if (model->maps == NULL)
        return calib_failf(err, CALIB_E_NOMEM, "out of memory (model)");
    model->n_maps = n_maps;

    p = alloc_matrix(n, k, err);
    s = p != NULL ? alloc_matrix(n, k, err) : NULL;
    col_p = s != NULL ? calib_calloc(n, sizeof *col_p) : NULL;
    col_s = col_p != NULL ? calib_calloc(n, sizeof *col_s) : NULL;
    y = col_s != NULL ? calib_calloc(n, 1) : NULL;
    if (y == NULL) {
        if (s != NULL)
            calib_failf(err, CALIB_E_NOMEM, "out of memory (%zu rows)", n);
        st = err != NULL && err->status != CALIB_OK ? err->status
                                                    : CALIB_E_NOMEM;
        goto out;
    }
    fill_probs_scores(preds, input, k, map_reads_scores(model->method), p,
                      s);

    for (size_t m = 0; m < n_maps; m++) {
        size_t cls = k == 2 ? 1 : m;
        binary_map *bm = &model->maps[m];
        calib_logistic_result res = {0, 0.0, 1};

        for (size_t i = 0; i < n; i++) {
            col_p[i] = p[i * k + cls];
            col_s[i] = s[i * k + cls];
            y[i] = (size_t)labels[i] == cls;
        }
        st = fit_one_map(model, bm, col_p, col_s, y, n, opt, &res, err);
        if (st != CALIB_OK)
            goto out;
        note_result(model, &res, &all_converged);
    }
    set_status(model, all_converged);

out:
    calib_free(p);
    calib_free(s);
    calib_free(col_p);
    calib_free(col_s);
    calib_free(y);
    return st;
}

calib_status calib_fit(calib_method method, const calib_matrix *preds,
                       calib_input input, const int64_t *labels,
                       const calib_fit_options *opt, calib_model **out,
                       calib_error *err)
{
    calib_fit_options defaults;
    calib_model *model = NULL;
    double *work = NULL, *probs = NULL;
    size_t k = 0, n;
    calib_status st;
    int direct;

    if (out == NULL || labels == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT, "calib_fit: NULL argument");
    if ((unsigned)method >= CALIB_METHOD_COUNT)
        return calib_failf(err, CALIB_E_ARGUMENT, "unknown method %d",
                           (int)method);
    if (opt == NULL) {
        calib_fit_options_default(&defaults);
        opt = &defaults;
    }
    st = check_options(opt, err);
    if (st != CALIB_OK)
        return st;
    direct = method == CALIB_TEMPERATURE && input == CALIB_LOGITS &&
             preds != NULL && preds->cols > 1;
    st = check_input(preds, input, labels, !direct, &k, err);
    if (st != CALIB_OK)
        return st;
    n = preds->rows;

    model = model_new();
    if (model == NULL)
        return calib_failf(err, CALIB_E_NOMEM, "out of memory (fit)");
    model->method = method;
    model->classes = k;
    model->input = input;
    model->n_bins = opt->n_bins;
    model->scheme = opt->scheme;
    model->bin_rule = opt->bin_rule;

    /* temperature scaling on logits reads them where they are: no n x k
     * copies, the NLL before comes from the fit's first pass, and that
     * pass checks that the logits are finite */
    if (direct) {
        st = calib_temperature_fit_logits(preds->data, preds->dtype, n, k,
                                          labels, opt, &model->temperature,
                                          &model->info, err);
        if (st != CALIB_OK)
            goto fail;
        model->info.n = n;
        *out = model;
        return CALIB_OK;
    }

    /* binary input to a binary map: one column, no n x 2 matrices */
    if (is_binary_method(method) && preds->cols == 1) {
        st = fit_column(model, preds, input, labels, opt, err);
        if (st != CALIB_OK)
            goto fail;
        model->info.n = n;
        model->info.nll_before = column_input_nll(preds, input, labels);
        *out = model;
        return CALIB_OK;
    }

    work = alloc_matrix(n, k, err);
    probs = work != NULL ? alloc_matrix(n, k, err) : NULL;
    if (probs == NULL) {
        st = work != NULL
                 ? calib_failf(err, CALIB_E_NOMEM, "out of memory (fit)")
                 : (err != NULL ? err->status : CALIB_E_NOMEM);
        goto fail;
    }

    /* fit */
    if (method == CALIB_TEMPERATURE) {
        fill_logits(preds, input, k, work);
        st = calib_temperature_fit(work, n, k, labels, opt,
                                   &model->temperature, &model->info, err);
    } else if (is_scaling_method(method)) {
        model->n_params = calib_scaling_param_count(method, k);
        model->params = calib_calloc(model->n_params, sizeof *model->params);
        if (model->params == NULL) {
            st = calib_failf(err, CALIB_E_NOMEM, "out of memory (fit)");
            goto fail;
        }
        if (method == CALIB_DIRICHLET)
            fill_log_probs(preds, input, k, work);
        else
            fill_logits(preds, input, k, work);
        st = calib_scaling_fit(method, work, n, k, labels, opt,
                               model->params, &model->info, err);
    } else {
        st = fit_maps(model, preds, input, labels, opt, err);
    }
    if (st != CALIB_OK)
        goto fail;

    /* diagnostics that mean the same for every method */
    model->info.n = n;
    model->info.nll_before = input_nll(preds, input, k, labels, work);
    /* vector, matrix and Dirichlet scaling keep the NLL their fit
     * computed in log space: -log of a probability that underflows to 0
     * would read +inf for a fit that is finite and good */
    if (method != CALIB_TEMPERATURE && !is_scaling_method(method)) {
        st = apply_checked(model, preds, input, probs, err);
        if (st != CALIB_OK)
            goto fail;
        model->info.nll_after = mean_nll(probs, n, k, labels);
    }
    calib_free(work);
    calib_free(probs);
    *out = model;
    return CALIB_OK;

fail:
    calib_free(work);
    calib_free(probs);
    calib_model_free(model);
    return st;
}

/* ------------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------------ */

calib_method calib_model_method(const calib_model *model)
{
    return model->method;
}

size_t calib_model_classes(const calib_model *model)
{
    return model->classes;
}

const calib_fit_info *calib_model_fit_info(const calib_model *model)
{
    return &model->info;
}

double calib_model_temperature(const calib_model *model)
{
    if (model == NULL || model->method != CALIB_TEMPERATURE)
        return NAN;
    return model->temperature;
}

/* ------------------------------------------------------------------------
 * JSON: writing
 * ------------------------------------------------------------------------ */

/* Sets key to a new value; returns -1 if the value could not be made. */
static int put(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL)
        return -1;
    return json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

static json_t *real_array(const double *v, size_t count)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        if (json_array_append_new(a, json_real(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* A non-finite NLL (some p_y = 0) is written as null. */
static json_t *nll_value(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *parameters_json(const calib_model *m)
{
    json_t *p = json_object();
    size_t k = m->classes;
    int bad = p == NULL;

    if (bad)
        return NULL;
    switch (m->method) {
    case CALIB_TEMPERATURE:
        bad |= put(p, "temperature", json_real(m->temperature));
        break;
    case CALIB_VECTOR:
        bad |= put(p, "w", real_array(m->params, k));
        bad |= put(p, "b", real_array(m->params + k, k));
        break;
    case CALIB_MATRIX:
    case CALIB_DIRICHLET: {
        json_t *rows = json_array();
        bad |= rows == NULL;
        for (size_t r = 0; !bad && r < k; r++)
            bad |= json_array_append_new(rows, real_array(m->params + r * k,
                                                          k)) != 0;
        bad |= put(p, "W", rows);
        bad |= put(p, "b", real_array(m->params + k * k, k));
        break;
    }
    case CALIB_PLATT:
    case CALIB_BETA: {
        json_t *a = json_array(), *b = json_array(), *c = json_array();
        bad |= a == NULL || b == NULL || c == NULL;
        for (size_t j = 0; !bad && j < m->n_maps; j++) {
            bad |= json_array_append_new(a, json_real(m->maps[j].a)) != 0;
            bad |= json_array_append_new(b, json_real(m->maps[j].b)) != 0;
            bad |= json_array_append_new(c, json_real(m->maps[j].c)) != 0;
        }
        bad |= put(p, "a", a);
        bad |= put(p, "b", b);
        if (m->method == CALIB_BETA)
            bad |= put(p, "c", c);
        else
            json_decref(c);
        break;
    }
    case CALIB_ISOTONIC:
    case CALIB_HISTOGRAM: {
        json_t *xs = json_array(), *ys = json_array();
        size_t nx;
        bad |= xs == NULL || ys == NULL;
        for (size_t j = 0; !bad && j < m->n_maps; j++) {
            const binary_map *bm = &m->maps[j];
            nx = m->method == CALIB_HISTOGRAM ? bm->n_points + 1
                                              : bm->n_points;
            bad |= json_array_append_new(xs, real_array(bm->x, nx)) != 0;
            bad |= json_array_append_new(ys, real_array(bm->y,
                                                        bm->n_points)) != 0;
        }
        bad |= put(p, m->method == CALIB_ISOTONIC ? "x" : "edges", xs);
        bad |= put(p, m->method == CALIB_ISOTONIC ? "y" : "values", ys);
        break;
    }
    }
    if (bad) {
        json_decref(p);
        return NULL;
    }
    return p;
}

static json_t *model_json(const calib_model *m)
{
    json_t *root = json_object(), *conv = json_object(), *fit = json_object();
    int bad = root == NULL || conv == NULL || fit == NULL;

    if (bad) {
        json_decref(root);
        json_decref(conv);
        json_decref(fit);
        return NULL;
    }
    bad |= put(root, "format", json_string(MODEL_FORMAT));
    bad |= put(root, "version", json_integer(MODEL_VERSION));
    bad |= put(root, "method", json_string(calib_method_name(m->method)));
    bad |= put(root, "classes", json_integer((json_int_t)m->classes));
    bad |= put(root, "input", json_string(m->input == CALIB_LOGITS
                                              ? "logits" : "probs"));
    bad |= put(root, "parameters", parameters_json(m));

    bad |= put(conv, "n_bins", json_integer((json_int_t)m->n_bins));
    bad |= put(conv, "scheme", json_string(m->scheme == CALIB_SCHEME_MASS
                                               ? "mass" : "width"));
    bad |= put(conv, "bin_rule", json_string(m->bin_rule == CALIB_BIN_LEFT
                                                 ? "left" : "right"));
    bad |= put(conv, "interpolation", json_string("linear-clip"));
    bad |= put(conv, "one_vs_rest", json_string(
                   m->classes == 2 ? "positive-class" : "renormalise"));
    bad |= put(conv, "prob_eps", json_real(CALIB_PROB_EPS));
    bad |= put(root, "conventions", conv);

    bad |= put(fit, "n", json_integer((json_int_t)m->info.n));
    bad |= put(fit, "nll_before", nll_value(m->info.nll_before));
    bad |= put(fit, "nll_after", nll_value(m->info.nll_after));
    bad |= put(fit, "iterations", json_integer((json_int_t)m->info.iterations));
    bad |= put(fit, "gradient", json_real(isfinite(m->info.gradient)
                                              ? m->info.gradient : 0.0));
    bad |= put(fit, "status", json_string(m->info.status));
    bad |= put(root, "fit", fit);
    bad |= put(root, "library_version", json_string(calib_version()));
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Releases text from json_dumps with jansson's own free function, which
 * the host program may have replaced with json_set_alloc_funcs. */
static void json_text_free(char *text)
{
    json_malloc_t malloc_fn;
    json_free_t free_fn;

    json_get_alloc_funcs(&malloc_fn, &free_fn);
    free_fn(text);
}

/* Whether every number a model file holds is finite. */
static int parameters_finite(const calib_model *m)
{
    int ok = m->method != CALIB_TEMPERATURE || isfinite(m->temperature);

    for (size_t i = 0; i < m->n_params && m->params != NULL; i++)
        ok &= isfinite(m->params[i]) != 0;
    for (size_t i = 0; i < m->n_maps && m->maps != NULL; i++) {
        const binary_map *b = &m->maps[i];
        size_t nx = b->n_points + (m->method == CALIB_HISTOGRAM);
        ok &= isfinite(b->a) && isfinite(b->b) && isfinite(b->c);
        for (size_t j = 0; j < nx && b->x != NULL; j++)
            ok &= isfinite(b->x[j]) != 0;
        for (size_t j = 0; j < b->n_points && b->y != NULL; j++)
            ok &= isfinite(b->y[j]) != 0;
    }
    return ok;
}

calib_status calib_model_to_json(const calib_model *model, char **json,
                                 calib_error *err)
{
    json_t *root;
    char *text, *copy;
    size_t len;

    if (model == NULL || json == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_model_to_json: NULL argument");
    /* JSON has no infinity or NaN: say so rather than fail later in
     * jansson, which would look like a lack of memory */
    if (!parameters_finite(model))
        return calib_failf(err, CALIB_E_NOT_APPLICABLE,
                           "the %s model has a parameter that is not finite; "
                           "it cannot be saved",
                           calib_method_name(model->method));
    root = model_json(model);
    if (root == NULL)
        return calib_failf(err, CALIB_E_NOMEM,
                           "out of memory (model JSON)");
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                JSON_REAL_PRECISION(17));
    json_decref(root);
    if (text == NULL)
        return calib_failf(err, CALIB_E_NOMEM,
                           "out of memory (model JSON)");
    len = strlen(text);
    copy = calib_malloc(len + 2);
    if (copy == NULL) {
        json_text_free(text);
        return calib_failf(err, CALIB_E_NOMEM,
                           "out of memory (model JSON)");
    }
    memcpy(copy, text, len);
    copy[len] = '\n';
    copy[len + 1] = '\0';
    json_text_free(text);
    *json = copy;
    return CALIB_OK;
}

calib_status calib_model_save(const calib_model *model, const char *path,
                              calib_error *err)
{
    char *json = NULL;
    calib_status st;

    if (path == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_model_save: NULL path");
    st = calib_model_to_json(model, &json, err);
    if (st != CALIB_OK)
        return st;
    st = calib_write_file(path, json, strlen(json), err);
    calib_free(json);
    return st;
}

/* ------------------------------------------------------------------------
 * JSON: reading
 * ------------------------------------------------------------------------ */

typedef struct reader {
    const char *name;    /* file name for messages, may be NULL */
    calib_error *err;
} reader;

/* A key problem: "NAME: key \"KEY\": WHAT", err->field = KEY. */
static calib_status key_fail(const reader *rd, calib_status status,
                             const char *key, const char *fmt, ...)
    CALIB_PRINTF(4, 5);

static calib_status key_fail(const reader *rd, calib_status status,
                             const char *key, const char *fmt, ...)
{
    char what[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    calib_fail(rd->err, status, rd->name, -1, -1, -1, "key \"%s\": %s", key,
               what);
    calib_error_set_field(rd->err, key);
    return status;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

/* obj[key] of the given kind: 'o' object, 'a' array, 's' string, 'n'
 * finite number, 'i' non-negative integer. */
static calib_status get_key(const reader *rd, const json_t *obj,
                            const char *key, const char *path, char kind,
                            json_t **out)
{
    json_t *v = json_object_get(obj, key);
    const char *want;
    int ok;

    if (v == NULL)
        return key_fail(rd, CALIB_E_FORMAT, path, "missing");
    switch (kind) {
    case 'o': ok = json_is_object(v); want = "an object"; break;
    case 'a': ok = json_is_array(v); want = "a list"; break;
    case 's': ok = json_is_string(v); want = "a string"; break;
    case 'i':
        ok = json_is_integer(v) && json_integer_value(v) >= 0;
        want = "a non-negative integer";
        break;
    default:
        ok = json_is_number(v) && isfinite(json_number_value(v));
        want = "a finite number";
        break;
    }
    if (!ok)
        return key_fail(rd, CALIB_E_FORMAT, path, "expected %s, found %s",
                        want, type_name(v));
    *out = v;
    return CALIB_OK;
}

/* A list of exactly `count` finite numbers (count 0: any non-zero length,
 * stored in *got) into a new array. */
static calib_status get_reals(const reader *rd, const json_t *arr,
                              const char *path, size_t count, size_t *got,
                              double **out)
{
    size_t len;
    double *v;

    if (!json_is_array(arr))
        return key_fail(rd, CALIB_E_FORMAT, path, "expected a list, found %s",
                        type_name(arr));
    len = json_array_size(arr);
    if (count != 0 && len != count)
        return key_fail(rd, CALIB_E_FORMAT, path,
                        "expected %zu numbers, found %zu", count, len);
    if (len == 0)
        return key_fail(rd, CALIB_E_FORMAT, path, "the list is empty");
    v = calib_calloc(len, sizeof *v);
    if (v == NULL)
        return calib_failf(rd->err, CALIB_E_NOMEM, "out of memory (model)");
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_number(e) || !isfinite(json_number_value(e))) {
            calib_free(v);
            return key_fail(rd, CALIB_E_FORMAT, path,
                            "item %zu: expected a finite number, found %s",
                            i, type_name(e));
        }
        v[i] = json_number_value(e);
    }
    if (got != NULL)
        *got = len;
    *out = v;
    return CALIB_OK;
}

static calib_status read_temperature(const reader *rd, const json_t *par,
                                     calib_model *m)
{
    json_t *v;
    calib_status st = get_key(rd, par, "temperature",
                              "parameters.temperature", 'n', &v);
    if (st != CALIB_OK)
        return st;
    m->temperature = json_number_value(v);
    /* below DBL_MIN, 1 / T overflows and every logit becomes infinite */
    if (!(m->temperature >= DBL_MIN))
        return key_fail(rd, CALIB_E_VALUE, "parameters.temperature",
                        "the temperature must be > 0 (at least %.17g), "
                        "found %.17g", DBL_MIN, m->temperature);
    return CALIB_OK;
}

static calib_status read_scaling(const reader *rd, const json_t *par,
                                 calib_model *m)
{
    size_t k = m->classes;
    double *part = NULL;
    json_t *v;
    calib_status st;

    m->n_params = calib_scaling_param_count(m->method, k);
    m->params = calib_calloc(m->n_params, sizeof *m->params);
    if (m->params == NULL)
        return calib_failf(rd->err, CALIB_E_NOMEM, "out of memory (model)");
    if (m->method == CALIB_VECTOR) {
        st = get_key(rd, par, "w", "parameters.w", 'a', &v);
        if (st == CALIB_OK)
            st = get_reals(rd, v, "parameters.w", k, NULL, &part);
        if (st != CALIB_OK)
            return st;
        memcpy(m->params, part, k * sizeof *part);
        calib_free(part);
    } else {
        st = get_key(rd, par, "W", "parameters.W", 'a', &v);
        if (st != CALIB_OK)
            return st;
        if (json_array_size(v) != k)
            return key_fail(rd, CALIB_E_FORMAT, "parameters.W",
                            "expected %zu rows, found %zu", k,
                            json_array_size(v));
        for (size_t r = 0; r < k; r++) {
            st = get_reals(rd, json_array_get(v, r), "parameters.W", k,
                           NULL, &part);
            if (st != CALIB_OK)
                return st;
            memcpy(m->params + r * k, part, k * sizeof *part);
            calib_free(part);
        }
    }
    st = get_key(rd, par, "b", "parameters.b", 'a', &v);
    if (st == CALIB_OK)
        st = get_reals(rd, v, "parameters.b", k, NULL, &part);
    if (st != CALIB_OK)
        return st;
    memcpy(m->params + m->n_params - k, part, k * sizeof *part);
    calib_free(part);
    return CALIB_OK;
}

static calib_status read_logistic(const reader *rd, const json_t *par,
                                  calib_model *m)
{
    static const char *const keys[3] = {"a", "b", "c"};
    static const char *const paths[3] = {"parameters.a", "parameters.b",
                                         "parameters.c"};
    size_t n_keys = m->method == CALIB_BETA ? 3 : 2;

    for (size_t q = 0; q < n_keys; q++) {
        json_t *v;
        double *vals = NULL;
        calib_status st = get_key(rd, par, keys[q], paths[q], 'a', &v);
        if (st == CALIB_OK)
            st = get_reals(rd, v, paths[q], m->n_maps, NULL, &vals);
        if (st != CALIB_OK)
            return st;
        for (size_t j = 0; j < m->n_maps; j++) {
            if (q == 0)
                m->maps[j].a = vals[j];
            else if (q == 1)
                m->maps[j].b = vals[j];
            else
                m->maps[j].c = vals[j];
        }
        calib_free(vals);
    }
    return CALIB_OK;
}

static calib_status read_knots(const reader *rd, const json_t *par,
                               calib_model *m)
{
    int hist = m->method == CALIB_HISTOGRAM;
    const char *kx = hist ? "edges" : "x", *ky = hist ? "values" : "y";
    const char *px = hist ? "parameters.edges" : "parameters.x";
    const char *py = hist ? "parameters.values" : "parameters.y";
    json_t *xs, *ys;
    calib_status st;

    st = get_key(rd, par, kx, px, 'a', &xs);
    if (st == CALIB_OK)
        st = get_key(rd, par, ky, py, 'a', &ys);
    if (st != CALIB_OK)
        return st;
    if (json_array_size(xs) != m->n_maps)
        return key_fail(rd, CALIB_E_FORMAT, px,
                        "expected %zu lists (one per map), found %zu",
                        m->n_maps, json_array_size(xs));
    if (json_array_size(ys) != m->n_maps)
        return key_fail(rd, CALIB_E_FORMAT, py,
                        "expected %zu lists (one per map), found %zu",
                        m->n_maps, json_array_size(ys));

    for (size_t j = 0; j < m->n_maps; j++) {
        binary_map *bm = &m->maps[j];
        size_t nx = 0, ny;

        st = get_reals(rd, json_array_get(xs, j), px, 0, &nx, &bm->x);
        if (st != CALIB_OK)
            return st;
        ny = hist ? nx - 1 : nx;
        if (ny == 0)
            return key_fail(rd, CALIB_E_FORMAT, px,
                            "map %zu: a histogram needs at least 2 edges",
                            j);
        if (hist && m->n_bins != ny)
            return key_fail(rd, CALIB_E_FORMAT, px,
                            "map %zu: %zu edges for %zu bins", j, nx,
                            m->n_bins);
        st = get_reals(rd, json_array_get(ys, j), py, ny, NULL, &bm->y);
        if (st != CALIB_OK)
            return st;
        bm->n_points = ny;
        for (size_t i = 1; i < nx; i++)
            if (hist ? !(bm->x[i] >= bm->x[i - 1])
                     : !(bm->x[i] > bm->x[i - 1]))
                return key_fail(rd, CALIB_E_VALUE, px,
                                "map %zu: item %zu: values must %s", j, i,
                                hist ? "not decrease" : "increase strictly");
        for (size_t i = 0; i < ny; i++)
            if (bm->y[i] < 0.0 || bm->y[i] > 1.0)
                return key_fail(rd, CALIB_E_VALUE, py,
                                "map %zu: item %zu: %.17g is not a "
                                "probability", j, i, bm->y[i]);
    }
    return CALIB_OK;
}

static calib_status read_conventions(const reader *rd, const json_t *root,
                                     calib_model *m)
{
    json_t *conv, *v;
    const char *s;
    calib_status st = get_key(rd, root, "conventions", "conventions", 'o',
                              &conv);

    if (st != CALIB_OK)
        return st;
    st = get_key(rd, conv, "n_bins", "conventions.n_bins", 'i', &v);
    if (st != CALIB_OK)
        return st;
    if (json_integer_value(v) < 1 || json_integer_value(v) > (1 << 24))
        return key_fail(rd, CALIB_E_VALUE, "conventions.n_bins",
                        "expected a number of bins in [1, 2^24]");
    m->n_bins = (size_t)json_integer_value(v);

    st = get_key(rd, conv, "scheme", "conventions.scheme", 's', &v);
    if (st != CALIB_OK)
        return st;
    s = json_string_value(v);
    if (strcmp(s, "width") == 0)
        m->scheme = CALIB_SCHEME_WIDTH;
    else if (strcmp(s, "mass") == 0)
        m->scheme = CALIB_SCHEME_MASS;
    else
        return key_fail(rd, CALIB_E_FORMAT, "conventions.scheme",
                        "expected \"width\" or \"mass\", found \"%s\"", s);

    st = get_key(rd, conv, "bin_rule", "conventions.bin_rule", 's', &v);
    if (st != CALIB_OK)
        return st;
    s = json_string_value(v);
    if (strcmp(s, "right") == 0)
        m->bin_rule = CALIB_BIN_RIGHT;
    else if (strcmp(s, "left") == 0)
        m->bin_rule = CALIB_BIN_LEFT;
    else
        return key_fail(rd, CALIB_E_FORMAT, "conventions.bin_rule",
                        "expected \"right\" or \"left\", found \"%s\"", s);

    st = get_key(rd, conv, "interpolation", "conventions.interpolation",
                 's', &v);
    if (st != CALIB_OK)
        return st;
    if (strcmp(json_string_value(v), "linear-clip") != 0)
        return key_fail(rd, CALIB_E_UNSUPPORTED, "conventions.interpolation",
                        "only \"linear-clip\" is supported, found \"%s\"",
                        json_string_value(v));
    return CALIB_OK;
}

/* fit.nll_before / nll_after: a finite number, or null for +infinity. */
static calib_status read_nll(const reader *rd, const json_t *fit,
                             const char *key, const char *path, double *out)
{
    json_t *v = json_object_get(fit, key);
    if (v != NULL && json_is_null(v)) {
        *out = INFINITY;
        return CALIB_OK;
    }
    if (get_key(rd, fit, key, path, 'n', &v) != CALIB_OK)
        return rd->err != NULL ? rd->err->status : CALIB_E_FORMAT;
    *out = json_number_value(v);
    return CALIB_OK;
}

static calib_status read_fit(const reader *rd, const json_t *root,
                             calib_model *m)
{
    json_t *fit, *v;
    calib_status st = get_key(rd, root, "fit", "fit", 'o', &fit);

    if (st == CALIB_OK)
        st = get_key(rd, fit, "n", "fit.n", 'i', &v);
    if (st != CALIB_OK)
        return st;
    m->info.n = (size_t)json_integer_value(v);
    st = read_nll(rd, fit, "nll_before", "fit.nll_before",
                  &m->info.nll_before);
    if (st == CALIB_OK)
        st = read_nll(rd, fit, "nll_after", "fit.nll_after",
                      &m->info.nll_after);
    if (st == CALIB_OK)
        st = get_key(rd, fit, "iterations", "fit.iterations", 'i', &v);
    if (st != CALIB_OK)
        return st;
    m->info.iterations = (size_t)json_integer_value(v);
    st = get_key(rd, fit, "gradient", "fit.gradient", 'n', &v);
    if (st != CALIB_OK)
        return st;
    m->info.gradient = json_number_value(v);
    st = get_key(rd, fit, "status", "fit.status", 's', &v);
    if (st != CALIB_OK)
        return st;
    if (strlen(json_string_value(v)) >= sizeof m->info.status)
        return key_fail(rd, CALIB_E_FORMAT, "fit.status", "too long");
    snprintf(m->info.status, sizeof m->info.status, "%s",
             json_string_value(v));
    return CALIB_OK;
}

static calib_status read_model(const reader *rd, const json_t *root,
                               calib_model *m)
{
    json_t *v, *par;
    const char *s;
    json_int_t version, classes;
    calib_status st;

    if (!json_is_object(root))
        return calib_fail(rd->err, CALIB_E_FORMAT, rd->name, -1, -1, -1,
                          "expected a JSON object, found %s",
                          type_name(root));

    st = get_key(rd, root, "format", "format", 's', &v);
    if (st != CALIB_OK)
        return st;
    if (strcmp(json_string_value(v), MODEL_FORMAT) != 0)
        return key_fail(rd, CALIB_E_FORMAT, "format",
                        "not a calib model: format \"%s\", expected \"%s\"",
                        json_string_value(v), MODEL_FORMAT);

    v = json_object_get(root, "version");
    if (v == NULL || !json_is_integer(v))
        return key_fail(rd, CALIB_E_FORMAT, "version",
                        v == NULL ? "missing" : "expected an integer");
    version = json_integer_value(v);
    if (version != MODEL_VERSION)
        return key_fail(rd, CALIB_E_UNSUPPORTED, "version",
                        "version %lld is not supported (this library reads "
                        "version %d)", (long long)version, MODEL_VERSION);

    st = get_key(rd, root, "method", "method", 's', &v);
    if (st != CALIB_OK)
        return st;
    s = json_string_value(v);
    if (calib_method_from_name(s, &m->method) != 0)
        return key_fail(rd, CALIB_E_UNSUPPORTED, "method",
                        "unknown method \"%s\"", s);

    st = get_key(rd, root, "classes", "classes", 'i', &v);
    if (st != CALIB_OK)
        return st;
    classes = json_integer_value(v);
    if (classes < 2 || (uint64_t)classes > (uint64_t)MAX_CLASSES)
        return key_fail(rd, CALIB_E_VALUE, "classes",
                        "expected a class count in [2, %zu], found %lld",
                        MAX_CLASSES, (long long)classes);
    m->classes = (size_t)classes;

    st = get_key(rd, root, "input", "input", 's', &v);
    if (st != CALIB_OK)
        return st;
    s = json_string_value(v);
    if (strcmp(s, "logits") == 0)
        m->input = CALIB_LOGITS;
    else if (strcmp(s, "probs") == 0)
        m->input = CALIB_PROBS;
    else
        return key_fail(rd, CALIB_E_FORMAT, "input",
                        "expected \"logits\" or \"probs\", found \"%s\"", s);

    st = read_conventions(rd, root, m);
    if (st == CALIB_OK)
        st = read_fit(rd, root, m);
    if (st == CALIB_OK)
        st = get_key(rd, root, "library_version", "library_version", 's',
                     &v);
    if (st == CALIB_OK)
        st = get_key(rd, root, "parameters", "parameters", 'o', &par);
    if (st != CALIB_OK)
        return st;

    if (m->method == CALIB_TEMPERATURE)
        return read_temperature(rd, par, m);
    if (is_scaling_method(m->method))
        return read_scaling(rd, par, m);
    m->n_maps = m->classes == 2 ? 1 : m->classes;
    m->maps = calib_calloc(m->n_maps, sizeof *m->maps);
    if (m->maps == NULL)
        return calib_failf(rd->err, CALIB_E_NOMEM, "out of memory (model)");
    if (m->method == CALIB_PLATT || m->method == CALIB_BETA)
        return read_logistic(rd, par, m);
    return read_knots(rd, par, m);
}

calib_status calib_model_from_json(const char *json, size_t len,
                                   const char *name, calib_model **out,
                                   calib_error *err)
{
    json_error_t jerr;
    json_t *root;
    calib_model *m;
    reader rd;
    calib_status st;

    if (json == NULL || out == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_model_from_json: NULL argument");
    rd.name = name;
    rd.err = err;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    /* jansson's column is 0 before the first character of a line: the
     * position is then column 1, as our columns count from 1 */
    if (root == NULL)
        return calib_fail(err, CALIB_E_FORMAT, name, -1, jerr.line,
                          jerr.line < 0 ? -1
                          : jerr.column > 0 ? jerr.column : 1,
                          "malformed JSON: %s", jerr.text);
    m = model_new();
    if (m == NULL) {
        json_decref(root);
        return calib_failf(err, CALIB_E_NOMEM, "out of memory (model)");
    }
    st = read_model(&rd, root, m);
    json_decref(root);
    if (st != CALIB_OK) {
        calib_model_free(m);
        return st;
    }
    *out = m;
    return CALIB_OK;
}

calib_status calib_model_load(const char *path, calib_model **out,
                              calib_error *err)
{
    FILE *f;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    calib_status st;

    if (path == NULL || out == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_model_load: NULL argument");
    f = fopen(path, "rb");
    if (f == NULL)
        return calib_fail(err, CALIB_E_IO, path, -1, -1, -1,
                          "cannot open: %s", strerror(errno));
    for (;;) {
        size_t got;
        if (len == cap) {
            size_t new_cap = cap == 0 ? 4096 : 2 * cap;
            char *p;
            if (new_cap > MAX_MODEL_FILE) {
                calib_free(buf);
                fclose(f);
                return calib_fail(err, CALIB_E_TOO_LARGE, path, -1, -1, -1,
                                  "a model file is at most %zu bytes",
                                  MAX_MODEL_FILE);
            }
            p = calib_realloc(buf, cap, new_cap);
            if (p == NULL) {
                calib_free(buf);
                fclose(f);
                return calib_failf(err, CALIB_E_NOMEM,
                                   "out of memory reading %s", path);
            }
            buf = p;
            cap = new_cap;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        calib_free(buf);
        fclose(f);
        return calib_fail(err, CALIB_E_IO, path, -1, -1, -1,
                          "read error");
    }
    fclose(f);
    st = calib_model_from_json(buf, len, path, out, err);
    calib_free(buf);
    return st;
}
