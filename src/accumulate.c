/*
 * accumulate.c - the mergeable accumulator of calibration metrics: rows of
 * logits or probabilities in, exact per-bin and per-metric sums out.
 *
 * Per row, from logits z (K > 1): m = max_k z_k, t_k = z_k - m, s =
 * sum_k exp(t_k) (exp by calib_vexp's kernel, within 2 ulp), p_k =
 * exp(t_k) / s, log p_k = t_k - log s (never the log of a rounded
 * probability, so logits 1e4 apart keep an exact NLL). From
 * probabilities the row is checked (finite, in [0, 1], sum within
 * opt->sum_tolerance of 1, or divided by its sum with opt->renormalize).
 * Binary input (one column) is p = sigmoid(z) or p itself, with log p =
 * -log(1 + e^-z), log(1 - p) = -log(1 + e^z) for logits.
 * Then: NLL -log p_y; Brier sum_k (p_k - y_k)^2, formed as
 * (sum_k p_k^2 - p_y^2) + (1 - p_y)^2 (binary: (p - y)^2); KL(q || p) with
 * q = (1 - eps) onehot + eps / K as sum_k q_k log q_k - sum_k q_k log p_k;
 * the top label (first index of the largest p) and its confidence; the
 * equal-width bin of the confidence; and for classwise ECE, the bin of
 * every p_k. See docs/metrics.md for the definitions and their sources.
 *
 * Every sum is exact (integer counts, calib_xsum fixed point, p_k on a
 * 2^-52 grid summed as integers), so chunking, threads and merging change
 * no bit of the result. Rows are split among pthreads in contiguous runs
 * of about equal length; each thread fills its own sums, which
 * are merged once all have succeeded, so a failed add leaves the
 * accumulator as it was. The first bad row (lowest index) is reported.
 *
 * Speed (logits, the common case): three passes over a row, each a loop
 * over blocks of LANES that gcc vectorises: (1) load, max and min; (2) t
 * = z - max, exp(t) by vexp_nonpos inlined from vexp_impl.h (calib_vexp's
 * bits for t > -708.74, 0 below: invisible next to exp(0) = 1), their sums;
 * (3) p = exp(t) / s, the bin-0 classwise cells, sum p^2 and the count of
 * p beyond bin 0, which are then moved (when it is one value it is the
 * argmax: no search). The argmax is the first t == 0, looked for
 * SCAN_BLOCK values at a time. Same bits as the former separate loops
 * except for exp(t) below 1.6e-308, now 0.
 */
#include "metrics_internal.h"
#include "vexp_impl.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Fewest rows worth a thread of their own. */
#define CALIB_MIN_ROWS 64

/* Values per block of rows that the threads of one calib_accumulator_add
 * take in turn (at least one row): small enough that no thread waits long
 * for another at the end, large enough that taking one costs nothing. */
#define BLOCK_VALUES 65536

/* Bins beyond this are refused: the classwise cells (K x M) would be
 * mostly empty and the reliability table unreadable. */
#define CALIB_MAX_BINS 1000000

/* 2^32, the span of one level of a calib_wide_sum. */
#define WIDE_SPAN 4294967296.0

/* Bits of 1.0: bits(1 + p) - ONE_BITS = p rounded to the 2^-52 grid. */
#define ONE_BITS UINT64_C(0x3FF0000000000000)

/* ------------------------------------------------------------------------
 * Exact sums
 * ------------------------------------------------------------------------ */

/* Adds |x| to one side of the levels; x finite. */
static void wide_add_magnitude(calib_xsum *levels, double x)
{
    int level;

    if (x < WIDE_SPAN) {
        calib_xsum_add(&levels[0], x);
        return;
    }
    level = ilogb(x) / 32;
    calib_xsum_add(&levels[level], ldexp(x, -32 * level));
}

/* calib_xsum_add is exact for x >= 0 only, so signs are kept apart. */
static void wide_add(calib_wide_sum *w, double x)
{
    if (x >= 0.0)
        wide_add_magnitude(w->pos, x);
    else
        wide_add_magnitude(w->neg, -x);
}

static void wide_merge(calib_wide_sum *into, const calib_wide_sum *from)
{
    for (int l = 0; l < CALIB_WIDE_LEVELS; l++) {
        calib_xsum_merge(&into->pos[l], &from->pos[l]);
        calib_xsum_merge(&into->neg[l], &from->neg[l]);
    }
}

double calib_wide_value(const calib_wide_sum *w)
{
    double pos = 0.0, neg = 0.0;

    /* from the top level down: the small levels round into the large */
    for (int l = CALIB_WIDE_LEVELS - 1; l >= 0; l--) {
        pos += ldexp(calib_xsum_value(&w->pos[l]), 32 * l);
        neg += ldexp(calib_xsum_value(&w->neg[l]), 32 * l);
    }
    return pos - neg;
}

/* Adds q units of 2^-52 to a fixed-point sum in units of 2^-64. */
static void xsum_add_units52(calib_xsum *s, uint64_t q)
{
    uint64_t lo = q << 12;

    s->lo += lo;
    s->hi += (int64_t)(q >> 52) + (s->lo < lo ? 1 : 0);
}

/* p in [0, 1] rounded to the nearest multiple of 2^-52, as an integer:
 * 1 + p has exponent 0 (or 1 for p = 1, which gives 2^52 all the same). */
static uint64_t units52(double p)
{
    double one_plus = 1.0 + p;
    uint64_t u;

    memcpy(&u, &one_plus, sizeof u);
    return u - ONE_BITS;
}

double calib_cell_prob_sum(const calib_sums *s, size_t cell)
{
    calib_xsum x = s->cw_prob[cell];

    xsum_add_units52(&x, s->cw_pending[cell]);
    return calib_xsum_value(&x);
}

/* ------------------------------------------------------------------------
 * Sums: allocation, folding, merging
 * ------------------------------------------------------------------------ */

static void sums_free(calib_sums *s)
{
    calib_free(s->bin_count);
    calib_free(s->bin_hits);
    calib_free(s->bin_confidence);
    calib_free(s->cw_count);
    calib_free(s->cw_hits);
    calib_free(s->cw_pending);
    calib_free(s->cw_prob);
    memset(s, 0, sizeof *s);
}

static calib_status sums_alloc(calib_sums *s, size_t n_bins, size_t cells,
                               calib_error *err)
{
    memset(s, 0, sizeof *s);
    s->bin_count = calib_calloc(n_bins, sizeof *s->bin_count);
    s->bin_hits = calib_calloc(n_bins, sizeof *s->bin_hits);
    s->bin_confidence = calib_calloc(n_bins, sizeof *s->bin_confidence);
    if (cells > 0) {
        s->cw_count = calib_calloc(cells, sizeof *s->cw_count);
        s->cw_hits = calib_calloc(cells, sizeof *s->cw_hits);
        s->cw_pending = calib_calloc(cells, sizeof *s->cw_pending);
        s->cw_prob = calib_calloc(cells, sizeof *s->cw_prob);
    }
    if (s->bin_count == NULL || s->bin_hits == NULL ||
        s->bin_confidence == NULL ||
        (cells > 0 && (s->cw_count == NULL || s->cw_hits == NULL ||
                       s->cw_pending == NULL || s->cw_prob == NULL))) {
        sums_free(s);
        return calib_failf(err, CALIB_E_NOMEM,
                           "no memory for %zu bins and %zu classwise cells",
                           n_bins, cells);
    }
    return CALIB_OK;
}

static void sums_fold(calib_sums *s, size_t cells)
{
    for (size_t c = 0; c < cells; c++) {
        if (s->cw_pending[c] != 0) {
            xsum_add_units52(&s->cw_prob[c], s->cw_pending[c]);
            s->cw_pending[c] = 0;
        }
    }
    s->pending_rows = 0;
}

/* into += from; `from` is left as it was (its pending sums included). */
static void sums_merge(calib_sums *into, const calib_sums *from,
                       size_t n_bins, size_t cells)
{
    into->n += from->n;
    into->correct += from->correct;
    into->nll_infinite += from->nll_infinite;
    into->kl_infinite += from->kl_infinite;
    into->clipped += from->clipped;
    calib_xsum_merge(&into->confidence, &from->confidence);
    calib_xsum_merge(&into->brier, &from->brier);
    wide_merge(&into->nll, &from->nll);
    wide_merge(&into->kl, &from->kl);
    for (size_t b = 0; b < n_bins; b++) {
        into->bin_count[b] += from->bin_count[b];
        into->bin_hits[b] += from->bin_hits[b];
        calib_xsum_merge(&into->bin_confidence[b], &from->bin_confidence[b]);
    }
    for (size_t c = 0; c < cells; c++) {
        into->cw_count[c] += from->cw_count[c];
        into->cw_hits[c] += from->cw_hits[c];
        calib_xsum_merge(&into->cw_prob[c], &from->cw_prob[c]);
        xsum_add_units52(&into->cw_prob[c], from->cw_pending[c]);
    }
}

static size_t acc_cells(const calib_accumulator *acc)
{
    return acc->has_classwise ? acc->edges.n_bins * acc->classes : 0;
}

/* ------------------------------------------------------------------------
 * Rows
 * ------------------------------------------------------------------------ */

/* The blocks of one calib_accumulator_add, shared by its threads. */
typedef struct block_queue {
    atomic_size_t next;     /* the next block to take */
    atomic_size_t first_bad;    /* lowest row that failed, or SIZE_MAX */
    size_t n_blocks;
    size_t block_rows;
    size_t rows;
} block_queue;

/* One thread of an add, with its own sums. */
typedef struct worker {
    const calib_accumulator *acc;
    const void *preds;
    calib_dtype dtype;
    const int64_t *labels;
    block_queue *queue;
    size_t rows_done;       /* rows added to sums */
    size_t bad_row;         /* the chunk row that failed (status set) */
    size_t first_row;       /* absolute index of the chunk's row 0 */
    calib_pair *pairs;      /* the chunk's pairs, indexed like its rows */
    double *t;              /* scratch: z - max, or the probabilities */
    double *e;              /* scratch: exp(z - max) */
    calib_sums sums;
    calib_status status;
    calib_error err;
} worker;

/* What one row contributes, before it is added to the sums. */
typedef struct row_result {
    int64_t label;
    size_t argmax;
    double confidence;      /* of the ECE: top label, or p (binary) */
    uint64_t hit;           /* the outcome it is compared with */
    double nll;
    double brier;
    double kl;
    int clipped;
} row_result;

/* Fixed-length inner loops of LANES: gcc -O2 vectorises those (its cheap
 * cost model wants a known trip count), and sums kept in LANES separate
 * partial sums, always combined in the same order, have the same bits
 * whatever the chunking or the number of threads. */
#define LANES 8

CALIB_TARGET_CLONES
static void load_row(const worker *w, size_t i, size_t k)
{
    if (w->dtype == CALIB_FLOAT32) {
        const float *src = (const float *)w->preds + i * k;
        double *t = w->t;
        size_t j = 0;
        for (; j + LANES <= k; j += LANES)
            for (size_t l = 0; l < LANES; l++)
                t[j + l] = (double)src[j + l];
        for (; j < k; j++)
            t[j] = (double)src[j];
    } else {
        memcpy(w->t, (const double *)w->preds + i * k, k * sizeof *w->t);
    }
}

/* Records a bad value in row i of the chunk: calib_fail's message, the
 * input it is in ("predictions" or "labels") as the field. */
static calib_status row_failed(worker *w, const char *field)
{
    calib_error_set_field(&w->err, field);
    w->status = CALIB_E_VALUE;
    return CALIB_E_VALUE;
}

#define ROW_FAIL(w, i, field, ...)                                          \
    (calib_fail(&(w)->err, CALIB_E_VALUE, NULL,                            \
                (int64_t)((w)->first_row + (i)), -1, -1, __VA_ARGS__),     \
     row_failed((w), (field)))

/*
 * Adds the classwise cells of a probability row p[0..k) and returns
 * sum_k p_k^2. Every value first goes to its class's cell of bin 0 (cells
 * 0..k-1, contiguous: a loop that vectorises); the values beyond the
 * first bin, few in a row of K classes, are then moved to their own bin.
 * Counts and the 2^-52 units are integers, so the move is exact. The
 * counts of bin 0 are not incremented here: run_worker adds its number of
 * rows to each at the end (unsigned arithmetic, so the decrements of moved
 * values in between wrap and come back exactly).
 */
/* Moves p_j (class j) from bin 0 to its own bin, if that is not 0. */
static void move_from_first_bin(calib_sums *s, const calib_edges *edges,
                                const double *p, size_t k, size_t j)
{
    size_t b = calib_edges_find(edges, p[j]);

    if (b != 0) {
        uint64_t u = units52(p[j]);
        s->cw_count[j]--;           /* see the end of run_worker */
        s->cw_pending[j] -= u;
        s->cw_count[b * k + j]++;
        s->cw_pending[b * k + j] += u;
    }
}

CALIB_TARGET_CLONES
static double add_classwise(worker *w, const double *restrict p, size_t k,
                            int64_t label)
{
    const calib_edges *edges = &w->acc->edges;
    calib_sums *s = &w->sums;
    uint64_t *restrict pending0 = s->cw_pending;
    double sq[LANES] = {0}, squares = 0.0;
    /* p is beyond bin 0 when p > 1/M (right-closed) or p >= 1/M (left):
     * for doubles p >= h is p > the double just below h */
    double first_hi = edges->rule == CALIB_BIN_RIGHT
                          ? edges->edge[1]
                          : nextafter(edges->edge[1], -HUGE_VAL);
    size_t j = 0;

    for (; j + LANES <= k; j += LANES)
        for (size_t l = 0; l < LANES; l++)
            pending0[j + l] += units52(p[j + l]);
    for (j = 0; j + LANES <= k; j += LANES)
        for (size_t l = 0; l < LANES; l++)
            sq[l] += p[j + l] * p[j + l];
    for (; j < k; j++) {
        pending0[j] += units52(p[j]);
        sq[0] += p[j] * p[j];
    }
    for (size_t l = 0; l < LANES; l++)
        squares += sq[l];

    /* the few values beyond bin 0, found a block at a time */
    for (j = 0; j + LANES <= k; j += LANES) {
        int any = 0;
        for (size_t l = 0; l < LANES; l++)
            any |= p[j + l] > first_hi;
        if (any)
            for (size_t l = 0; l < LANES; l++)
                if (p[j + l] > first_hi)
                    move_from_first_bin(s, edges, p, k, j + l);
    }
    for (; j < k; j++)
        if (p[j] > first_hi)
            move_from_first_bin(s, edges, p, k, j);
    s->cw_hits[calib_edges_find(edges, p[label]) * k + (size_t)label]++;
    return squares;
}

/* KL(q || p) from the sum of log p_k over the classes and log p_y. */
static double kl_of(const calib_accumulator *acc, double sum_log_p,
                    double log_py, double nll)
{
    double eps = acc->opt.smoothing;

    if (eps == 0.0)
        return nll;
    return acc->kl_constant - eps / (double)acc->classes * sum_log_p -
           (1.0 - eps) * log_py;
}

/* Checks a row of logits (in w->t) and leaves t_k = z_k - max in w->t,
 * exp(t_k) in w->e; *sum = sum_k exp(t_k), *sum_t = sum_k t_k. */
CALIB_TARGET_CLONES
static calib_status softmax_row(worker *w, size_t i, double *sum,
                                double *sum_t, double *min_t)
{
    size_t k = w->acc->cols, a, j = 0;
    double *t = w->t, *e = w->e;
    double mx[LANES], mn[LANES], sl[LANES] = {0}, stl[LANES] = {0};
    double max, min, s = 0.0, st = 0.0;

    /* max and min first: both finite means no infinity anywhere (a NaN
     * is never taken by the comparisons; it shows in the sum of exp) */
    for (size_t l = 0; l < LANES; l++)
        mx[l] = mn[l] = t[0];
    for (; j + LANES <= k; j += LANES)
        for (size_t l = 0; l < LANES; l++)
            mx[l] = t[j + l] > mx[l] ? t[j + l] : mx[l];
    for (j = 0; j + LANES <= k; j += LANES)
        for (size_t l = 0; l < LANES; l++)
            mn[l] = t[j + l] < mn[l] ? t[j + l] : mn[l];
    for (; j < k; j++) {
        mx[0] = t[j] > mx[0] ? t[j] : mx[0];
        mn[0] = t[j] < mn[0] ? t[j] : mn[0];
    }
    max = mx[0];
    min = mn[0];
    for (size_t l = 1; l < LANES; l++) {
        max = mx[l] > max ? mx[l] : max;
        min = mn[l] < min ? mn[l] : min;
    }

    for (j = 0; j + LANES <= k; j += LANES)
        for (size_t l = 0; l < LANES; l++) {
            t[j + l] -= max;
            stl[l] += t[j + l];
        }
    for (; j < k; j++) {
        t[j] -= max;
        stl[0] += t[j];
    }
    calib_vexp(t, e, k);
    for (j = 0; j + LANES <= k; j += LANES)
        for (size_t l = 0; l < LANES; l++)
            sl[l] += e[j + l];
    for (; j < k; j++)
        sl[0] += e[j];
    for (size_t l = 0; l < LANES; l++) {
        s += sl[l];
        st += stl[l];
    }
    if (!isfinite(max) || !isfinite(min) || isnan(s)) {
        load_row(w, i, k);
        for (a = 0; a < k && isfinite(t[a]); a++)
            ;
        a = a < k ? a : 0;
        return ROW_FAIL(w, i, "predictions",
                        "logit %g in column %zu is not finite", t[a], a);
    }
    *sum = s;
    *sum_t = st;
    *min_t = min - max;
    return CALIB_OK;
}

/* Checks a row of probabilities (in w->t) and renormalises it if asked. */
static calib_status check_probs_row(worker *w, size_t i)
{
    const calib_accumulator *acc = w->acc;
    size_t k = acc->cols, a;
    double *p = w->t, sum = 0.0;
    int bad = 0;

    for (size_t j = 0; j < k; j++) {
        bad |= !(p[j] >= 0.0 && p[j] <= 1.0);
        sum += p[j];
    }
    if (bad) {
        for (a = 0; p[a] >= 0.0 && p[a] <= 1.0; a++)
            ;
        return ROW_FAIL(w, i, "predictions",
                        "probability %g in column %zu is not in [0, 1]",
                        p[a], a);
    }
    if (acc->opt.renormalize) {
        if (!(sum > 0.0))
            return ROW_FAIL(w, i, "predictions",
                            "probabilities sum to %g; cannot renormalise "
                            "(%zu columns)", sum, k);
        for (size_t j = 0; j < k; j++)
            p[j] /= sum;
    } else if (!(fabs(sum - 1.0) <= acc->opt.sum_tolerance)) {
        return ROW_FAIL(w, i, "predictions",
                        "probabilities sum to %.17g, not 1 (%zu columns; "
                        "--renormalize divides by the sum)", sum, k);
    }
    return CALIB_OK;
}

/* Checks a binary row (w->t[0]); *p = the positive-class probability and
 * log_p[c] = log p_c for c = 0, 1. */
static calib_status binary_row(worker *w, size_t i, double *p,
                               double log_p[2])
{
    double v = w->t[0];

    if (w->acc->input == CALIB_LOGITS) {
        if (!isfinite(v))
            return ROW_FAIL(w, i, "predictions",
                            "logit %g in column %zu is not finite", v,
                            (size_t)0);
        *p = calib_sigmoid(v);
        log_p[1] = -calib_log1pexp(-v);
        log_p[0] = -calib_log1pexp(v);
    } else {
        if (!(v >= 0.0 && v <= 1.0))
            return ROW_FAIL(w, i, "predictions",
                            "probability %g in column %zu is not in [0, 1]",
                            v, (size_t)0);
        *p = v;
        log_p[1] = log(v);
        log_p[0] = log1p(-v);
    }
    return CALIB_OK;
}

/*
 * The row's logits as doubles in w->t, and their max and min, in one pass
 * over the input: the comparisons of softmax_row, lanes combined in the
 * same order, so the same bits, for float32 or float64 input alike.
 */
CALIB_TARGET_CLONES
static void load_row_max_min(const worker *w, size_t i, size_t k,
                             double *max, double *min)
{
    double mx[LANES], mn[LANES];
    double *restrict t = w->t;
    size_t j = 0;

    if (w->dtype == CALIB_FLOAT32) {
        const float *restrict src = (const float *)w->preds + i * k;
        for (size_t l = 0; l < LANES; l++)
            mx[l] = mn[l] = (double)src[0];
        for (; j + LANES <= k; j += LANES)
            for (size_t l = 0; l < LANES; l++) {
                double v = (double)src[j + l];
                t[j + l] = v;
                mx[l] = v > mx[l] ? v : mx[l];
                mn[l] = v < mn[l] ? v : mn[l];
            }
        for (; j < k; j++)
            t[j] = (double)src[j];
    } else {
        const double *restrict src = (const double *)w->preds + i * k;
        for (size_t l = 0; l < LANES; l++)
            mx[l] = mn[l] = src[0];
        for (; j + LANES <= k; j += LANES)
            for (size_t l = 0; l < LANES; l++) {
                double v = src[j + l];
                t[j + l] = v;
                mx[l] = v > mx[l] ? v : mx[l];
                mn[l] = v < mn[l] ? v : mn[l];
            }
        for (; j < k; j++)
            t[j] = src[j];
    }
    for (j = k - k % LANES; j < k; j++) {
        mx[0] = t[j] > mx[0] ? t[j] : mx[0];
        mn[0] = t[j] < mn[0] ? t[j] : mn[0];
    }
    *max = mx[0];
    *min = mn[0];
    for (size_t l = 1; l < LANES; l++) {
        *max = mx[l] > *max ? mx[l] : *max;
        *min = mn[l] < *min ? mn[l] : *min;
    }
}

/* Values looked at together by first_zero: one test and branch per
 * SCAN_BLOCK values instead of per value. */
#define SCAN_BLOCK (4 * LANES)

/* The first index of the row's largest logit: the first t_k == 0. */
CALIB_TARGET_CLONES
static size_t first_zero(const double *t, size_t k)
{
    size_t j = 0;

    for (; j + SCAN_BLOCK <= k; j += SCAN_BLOCK) {
        uint64_t any = 0;
        for (size_t l = 0; l < SCAN_BLOCK; l++)
            any |= (uint64_t)(t[j + l] == 0.0);
        if (any)
            break;
    }
    while (j < k && t[j] != 0.0)
        j++;
    return j;
}

/*
 * The probabilities p = e * inv in place of the exponentials; each added
 * to its class's cell of bin 0 (see add_classwise). Returns sum_k p_k^2
 * and sets *beyond to the number of p_k beyond bin 0 (p > first_hi). The
 * same operations in the same order as add_classwise's loops.
 */
CALIB_TARGET_CLONES
static double probs_pass(double *restrict e, uint64_t *restrict pending0,
                         size_t k, double inv, double first_hi,
                         uint64_t *beyond)
{
    double sq[LANES] = {0}, squares = 0.0;
    uint64_t n[LANES] = {0};
    size_t j;

    for (j = 0; j + LANES <= k; j += LANES)
        for (size_t l = 0; l < LANES; l++) {
            double p = e[j + l] * inv;
            e[j + l] = p;
            pending0[j + l] += units52(p);
            sq[l] += p * p;
            n[l] += p > first_hi;
        }
    for (; j < k; j++) {
        e[j] *= inv;
        pending0[j] += units52(e[j]);
        sq[0] += e[j] * e[j];
        n[0] += e[j] > first_hi;
    }
    *beyond = 0;
    for (size_t l = 0; l < LANES; l++) {
        squares += sq[l];
        *beyond += n[l];
    }
    return squares;
}

/*
 * A row of logits, fused: one pass loads it with its max and min, one
 * takes t = z - max, exp(t) and their sums, one makes the probabilities
 * and adds them to the classwise cells. The operations and their order
 * are those of softmax_row, calib_vexp and add_classwise, so the bits
 * are the same as theirs.
 */
CALIB_TARGET_CLONES
static calib_status row_logits(worker *w, size_t i, row_result *r)
{
    const calib_accumulator *acc = w->acc;
    const calib_edges *edges = &acc->edges;
    calib_sums *s = &w->sums;
    size_t k = acc->cols, a, j;
    double *restrict t = w->t, *restrict e = w->e;
    double sl[LANES] = {0}, stl[LANES] = {0};
    uint64_t n_beyond = 0;
    double max, min, sum = 0.0, sum_t = 0.0, min_t, inv, squares;
    double log_sum, log_py, py;
    /* p is beyond bin 0 when p > 1/M (right-closed) or p >= 1/M (left):
     * for doubles p >= h is p > the double just below h */
    double first_hi = edges->rule == CALIB_BIN_RIGHT
                          ? edges->edge[1]
                          : nextafter(edges->edge[1], -HUGE_VAL);

    load_row_max_min(w, i, k, &max, &min);

    /* t = z - max, exp(t), their sums; the clamp in a loop of its own,
     * as in calib_vexp, so that both loops vectorise */
    for (j = 0; j + LANES <= k; j += LANES) {
        double c[LANES];
        for (size_t l = 0; l < LANES; l++) {
            double x = t[j + l] - max;
            t[j + l] = x;
            stl[l] += x;
            c[l] = vexp_nonpos_clamp(x);
        }
        for (size_t l = 0; l < LANES; l++) {
            double y = vexp_nonpos(c[l]);
            e[j + l] = y;
            sl[l] += y;
        }
    }
    for (; j < k; j++) {
        t[j] -= max;
        stl[0] += t[j];
        e[j] = vexp_nonpos(vexp_nonpos_clamp(t[j]));
        sl[0] += e[j];
    }
    for (size_t l = 0; l < LANES; l++) {
        sum += sl[l];
        sum_t += stl[l];
    }
    if (!isfinite(max) || !isfinite(min) || isnan(sum)) {
        load_row(w, i, k);
        for (a = 0; a < k && isfinite(t[a]); a++)
            ;
        a = a < k ? a : 0;
        return ROW_FAIL(w, i, "predictions",
                        "logit %g in column %zu is not finite", t[a], a);
    }
    min_t = min - max;
    a = first_zero(t, k);

    log_sum = log(sum);
    log_py = t[r->label] - log_sum;
    r->argmax = a;
    r->confidence = 1.0 / sum;
    r->hit = (int64_t)a == r->label;
    r->nll = -log_py;

    /* an explicit clip_eps raises every log p_k below log(eps) */
    if (acc->opt.clip_eps > 0.0) {
        double log_clip = log(acc->opt.clip_eps), sum_log_p = 0.0;
        r->clipped = min_t - log_sum < log_clip;
        for (j = 0; j < k; j++)
            sum_log_p += fmax(t[j] - log_sum, log_clip);
        log_py = fmax(log_py, log_clip);
        r->nll = -log_py;
        r->kl = kl_of(acc, sum_log_p, log_py, r->nll);
    } else {
        r->kl = kl_of(acc, sum_t - (double)k * log_sum, log_py, r->nll);
    }

    /* the probabilities, in place of the exponentials: times 1 / sum, no
     * division per value (p differs from e / sum by at most 1 ulp); each
     * goes to its class's cell of bin 0 (see add_classwise), and the few
     * beyond bin 0 are moved to their own bin */
    inv = 1.0 / sum;
    squares = probs_pass(e, s->cw_pending, k, inv, first_hi, &n_beyond);
    /* p_a = 1 / sum is the largest: alone beyond bin 0, it is the one */
    if (n_beyond == 1) {
        move_from_first_bin(s, edges, e, k, a);
    } else if (n_beyond > 1) {
        for (j = 0; j < k && n_beyond > 0; j++) {
            if (e[j] > first_hi) {
                move_from_first_bin(s, edges, e, k, j);
                n_beyond--;
            }
        }
    }
    s->cw_hits[calib_edges_find(edges, e[r->label]) * k +
               (size_t)r->label]++;

    py = e[r->label];
    r->brier = (squares - py * py) + (1.0 - py) * (1.0 - py);
    return CALIB_OK;
}

static calib_status row_probs(worker *w, size_t i, row_result *r)
{
    const calib_accumulator *acc = w->acc;
    size_t k = acc->cols, a = 0;
    double *p = w->t;
    double max, min, py, log_py, sum_log_p = 0.0, squares;
    double clip = acc->opt.clip_eps;
    calib_status st = check_probs_row(w, i);

    if (st != CALIB_OK)
        return st;
    max = p[0];
    min = p[0];
    for (size_t j = 1; j < k; j++) {
        if (p[j] > max) {
            max = p[j];
            a = j;
        }
        min = p[j] < min ? p[j] : min;
    }
    py = p[r->label];
    r->argmax = a;
    r->confidence = max;
    r->hit = (int64_t)a == r->label;

    /* NLL and KL: an explicit clip raises p_k to eps; else log 0 = -inf */
    if (clip > 0.0) {
        r->clipped = min < clip;
        log_py = log(fmax(py, clip));
        if (acc->opt.smoothing > 0.0)
            for (size_t j = 0; j < k; j++)
                sum_log_p += log(fmax(p[j], clip));
    } else {
        log_py = log(py);
        if (acc->opt.smoothing > 0.0)
            for (size_t j = 0; j < k; j++)
                sum_log_p += log(p[j]);
    }
    r->nll = -log_py;
    r->kl = kl_of(acc, sum_log_p, log_py, r->nll);

    squares = add_classwise(w, p, k, r->label);
    r->brier = (squares - py * py) + (1.0 - py) * (1.0 - py);
    return CALIB_OK;
}

static calib_status row_binary(worker *w, size_t i, row_result *r)
{
    const calib_accumulator *acc = w->acc;
    double p, log_p[2], prob[2];
    double clip = acc->opt.clip_eps;
    int64_t y = r->label;
    calib_status st = binary_row(w, i, &p, log_p);

    if (st != CALIB_OK)
        return st;
    prob[0] = 1.0 - p;
    prob[1] = p;

    /* the top label: class 1 only if p > 1 - p, ties to class 0 */
    r->argmax = p > 0.5 ? 1 : 0;
    if (acc->opt.top_label) {
        r->confidence = fmax(p, 1.0 - p);
        r->hit = (int64_t)r->argmax == y;
    } else {
        r->confidence = p;
        r->hit = y == 1;
    }

    if (clip > 0.0) {
        double log_clip = log(clip);
        r->clipped = log_p[0] < log_clip || log_p[1] < log_clip;
        log_p[0] = fmax(log_p[0], log_clip);
        log_p[1] = fmax(log_p[1], log_clip);
    }
    r->nll = -log_p[y];
    r->kl = kl_of(acc, log_p[0] + log_p[1], log_p[y], r->nll);
    r->brier = (p - (double)y) * (p - (double)y);
    add_classwise(w, prob, 2, y);
    return CALIB_OK;
}

static void add_row(worker *w, size_t i, const row_result *r)
{
    const calib_accumulator *acc = w->acc;
    calib_sums *s = &w->sums;
    size_t b = calib_edges_find(&acc->edges, r->confidence);

    s->n++;
    s->correct += (int64_t)r->argmax == r->label;
    calib_xsum_add(&s->confidence, r->confidence);
    calib_xsum_add(&s->brier, r->brier);
    if (isinf(r->nll))
        s->nll_infinite++;
    else
        wide_add(&s->nll, r->nll);
    if (isinf(r->kl))
        s->kl_infinite++;
    else
        wide_add(&s->kl, r->kl);
    s->clipped += (uint64_t)r->clipped;

    s->bin_count[b]++;
    s->bin_hits[b] += r->hit;
    calib_xsum_add(&s->bin_confidence[b], r->confidence);

    w->pairs[i].confidence = r->confidence;
    w->pairs[i].hit = r->hit;

    if (++s->pending_rows == CALIB_FOLD_ROWS)
        sums_fold(s, acc_cells(acc));
}

/* Rows [begin, end) into w's sums; 0, or -1 with w->status and
 * w->bad_row set at the first row that fails. */
static int run_rows(worker *w, size_t begin, size_t end)
{
    const calib_accumulator *acc = w->acc;
    size_t k = acc->cols;

    for (size_t i = begin; i < end; i++) {
        row_result r;
        calib_status st;

        memset(&r, 0, sizeof r);
        r.label = w->labels[i];
        if (r.label < 0 || (uint64_t)r.label >= acc->classes) {
            calib_fail(&w->err, CALIB_E_VALUE, NULL,
                       (int64_t)(w->first_row + i), -1, -1,
                       "label %lld is outside [0, %zu)",
                       (long long)r.label, acc->classes);
            calib_error_set_field(&w->err, "labels");
            w->status = CALIB_E_VALUE;
            w->bad_row = i;
            return -1;
        }
        if (k > 1 && acc->input == CALIB_LOGITS) {
            st = row_logits(w, i, &r);
        } else {
            load_row(w, i, k);
            st = k == 1 ? row_binary(w, i, &r) : row_probs(w, i, &r);
        }
        if (st != CALIB_OK) {
            w->bad_row = i;
            return -1;
        }
        add_row(w, i, &r);
    }
    return 0;
}

/*
 * Takes blocks of rows from the queue until none is left. Every sum is
 * exact, so which thread adds which block changes no bit. A failing row
 * stops this thread and lowers queue->first_bad; the others still finish
 * every block that starts before it, so the lowest failure over the
 * threads is the chunk's first bad row.
 */
static void run_worker(worker *w)
{
    block_queue *q = w->queue;

    for (;;) {
        size_t b = atomic_fetch_add(&q->next, 1), begin, end, bad;

        if (b >= q->n_blocks)
            break;
        begin = b * q->block_rows;
        end = begin + q->block_rows < q->rows ? begin + q->block_rows
                                              : q->rows;
        if (begin > atomic_load(&q->first_bad))
            break;      /* later blocks start later still */
        if (run_rows(w, begin, end) != 0) {
            bad = atomic_load(&q->first_bad);
            while (w->bad_row < bad &&
                   !atomic_compare_exchange_weak(&q->first_bad, &bad,
                                                 w->bad_row))
                ;
            return;
        }
        w->rows_done += end - begin;
    }

    /* every row put each class in bin 0 first (add_classwise) */
    if (w->acc->has_classwise)
        for (size_t j = 0; j < w->acc->classes; j++)
            w->sums.cw_count[j] += (uint64_t)w->rows_done;
}

static void *worker_main(void *arg)
{
    run_worker(arg);
    return NULL;
}

/* ------------------------------------------------------------------------
 * Public
 * ------------------------------------------------------------------------ */

static calib_status check_options(const calib_eval_options *opt,
                                  calib_error *err)
{
    if (opt->n_bins == 0 || opt->n_bins > CALIB_MAX_BINS)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "the number of bins must be in [1, %d], not %zu",
                           CALIB_MAX_BINS, opt->n_bins);
    if (opt->bin_rule != CALIB_BIN_RIGHT && opt->bin_rule != CALIB_BIN_LEFT)
        return calib_failf(err, CALIB_E_ARGUMENT, "unknown bin rule %d",
                           (int)opt->bin_rule);
    if (opt->scheme != CALIB_SCHEME_WIDTH && opt->scheme != CALIB_SCHEME_MASS)
        return calib_failf(err, CALIB_E_ARGUMENT, "unknown bin scheme %d",
                           (int)opt->scheme);
    if (!(opt->smoothing >= 0.0 && opt->smoothing <= 1.0))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "smoothing must be in [0, 1], not %g",
                           opt->smoothing);
    if (!(opt->clip_eps >= 0.0 && opt->clip_eps < 1.0))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "clip eps must be in [0, 1), not %g",
                           opt->clip_eps);
    if (!(opt->sum_tolerance >= 0.0 && opt->sum_tolerance < 1.0))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "sum tolerance must be in [0, 1), not %g",
                           opt->sum_tolerance);
    return CALIB_OK;
}

/* sum_k q_k log q_k for q = (1 - eps) onehot + eps / K, 0 log 0 = 0. */
static double smoothed_entropy_term(double eps, size_t classes)
{
    double k = (double)classes, off = eps / k, on = 1.0 - eps + off;
    double total = on * log(on);

    if (off > 0.0)
        total += (k - 1.0) * off * log(off);
    return total;
}

calib_status calib_accumulator_alloc(size_t classes, calib_input input,
                                     const calib_eval_options *opt,
                                     calib_accumulator **out,
                                     calib_error *err)
{
    calib_eval_options defaults;
    calib_accumulator *acc;
    calib_status st;
    size_t cells = 0;
    int overflow = 0;

    if (out == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT, "no output pointer");
    if (opt == NULL) {
        calib_eval_options_default(&defaults);
        opt = &defaults;
    }
    st = check_options(opt, err);
    if (st != CALIB_OK)
        return st;
    if (input != CALIB_LOGITS && input != CALIB_PROBS)
        return calib_failf(err, CALIB_E_ARGUMENT, "unknown input kind %d",
                           (int)input);

    acc = calib_calloc(1, sizeof *acc);
    if (acc == NULL)
        return calib_failf(err, CALIB_E_NOMEM, "no memory for accumulator");
    acc->cols = classes;
    acc->classes = classes == 1 ? 2 : classes;
    acc->input = input;
    acc->opt = *opt;
    if (acc->opt.threads == 0)
        acc->opt.threads = calib_cpu_count();
    acc->has_classwise = classes > 0;
    if (acc->has_classwise) {
        cells = calib_mul_size(opt->n_bins, acc->classes, &overflow);
        if (overflow) {
            calib_free(acc);
            return calib_failf(err, CALIB_E_TOO_LARGE,
                               "%zu bins x %zu classes is too many",
                               opt->n_bins, acc->classes);
        }
        acc->kl_constant = smoothed_entropy_term(opt->smoothing,
                                                 acc->classes);
    }

    st = calib_edges_init(&acc->edges, opt->n_bins, opt->bin_rule, err);
    if (st == CALIB_OK)
        st = sums_alloc(&acc->sums, opt->n_bins, cells, err);
    if (st != CALIB_OK) {
        calib_edges_free(&acc->edges);
        calib_free(acc);
        return st;
    }
    *out = acc;
    return CALIB_OK;
}

void calib_accumulator_free(calib_accumulator *acc)
{
    if (acc == NULL)
        return;
    sums_free(&acc->sums);
    calib_edges_free(&acc->edges);
    calib_free(acc->pairs);
    calib_free(acc);
}

/* Makes room for `more` pairs after the n_pairs already kept. */
static calib_status reserve_pairs(calib_accumulator *acc, size_t more,
                                  calib_error *err)
{
    size_t need = acc->n_pairs + more, cap = acc->cap_pairs, bytes;
    int overflow = 0;
    calib_pair *grown;

    if (need < more)
        return calib_failf(err, CALIB_E_TOO_LARGE, "too many rows");
    if (need <= cap)
        return CALIB_OK;
    cap = cap == 0 ? need : cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    bytes = calib_mul_size(cap, sizeof *grown, &overflow);
    if (overflow)
        return calib_failf(err, CALIB_E_TOO_LARGE,
                           "%zu rows need too much memory", need);
    grown = calib_realloc(acc->pairs, acc->cap_pairs * sizeof *grown, bytes);
    if (grown == NULL)
        return calib_failf(err, CALIB_E_NOMEM,
                           "no memory for %zu (confidence, outcome) pairs",
                           cap);
    acc->pairs = grown;
    acc->cap_pairs = cap;
    return CALIB_OK;
}

static void worker_free(worker *w)
{
    sums_free(&w->sums);
    calib_free(w->t);
    calib_free(w->e);
}

calib_status calib_accumulator_add(calib_accumulator *acc, const void *preds,
                                   calib_dtype dtype, const int64_t *labels,
                                   size_t rows, size_t first_row,
                                   calib_error *err)
{
    size_t blocks, n_workers, cells, started = 0, bad = SIZE_MAX;
    block_queue queue;
    worker *workers = NULL;
    pthread_t *threads = NULL;
    calib_status st = CALIB_OK;

    if (acc == NULL || (rows > 0 && (preds == NULL || labels == NULL)))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "accumulator, predictions and labels are needed");
    if (dtype != CALIB_FLOAT32 && dtype != CALIB_FLOAT64)
        return calib_failf(err, CALIB_E_ARGUMENT, "unknown dtype %d",
                           (int)dtype);
    if (acc->fed == CALIB_FED_TOPLABEL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "this accumulator holds top-label records");
    if (acc->cols == 0)
        return calib_failf(err, CALIB_E_SHAPE, "predictions have 0 classes");
    if (rows == 0)
        return CALIB_OK;
    st = reserve_pairs(acc, rows, err);
    if (st != CALIB_OK)
        return st;

    /* a thread per CALIB_MIN_ROWS rows at most, taking blocks of about
     * BLOCK_VALUES values in turn: a thread slowed down (by the reader of
     * the next chunk on the same core, say) takes fewer, and none waits
     * long for another at the end */
    cells = acc_cells(acc);
    blocks = (rows + CALIB_MIN_ROWS - 1) / CALIB_MIN_ROWS;
    n_workers = acc->opt.threads < blocks ? acc->opt.threads : blocks;
    queue.block_rows = acc->cols < BLOCK_VALUES ? BLOCK_VALUES / acc->cols
                                                : 1;
    queue.rows = rows;
    queue.n_blocks = (rows + queue.block_rows - 1) / queue.block_rows;
    atomic_init(&queue.next, 0);
    atomic_init(&queue.first_bad, SIZE_MAX);
    workers = calib_calloc(n_workers, sizeof *workers);
    threads = calib_calloc(n_workers, sizeof *threads);
    if (workers == NULL || threads == NULL) {
        st = calib_failf(err, CALIB_E_NOMEM, "no memory for %zu threads",
                         n_workers);
        goto done;
    }
    for (size_t t = 0; t < n_workers; t++) {
        worker *w = &workers[t];
        w->acc = acc;
        w->preds = preds;
        w->dtype = dtype;
        w->labels = labels;
        w->queue = &queue;
        w->first_row = first_row;
        w->pairs = acc->pairs + acc->n_pairs;
        calib_error_clear(&w->err);
        w->t = calib_calloc(acc->cols, sizeof *w->t);
        w->e = calib_calloc(acc->cols, sizeof *w->e);
        if (w->t == NULL || w->e == NULL) {
            st = calib_failf(err, CALIB_E_NOMEM, "no memory for %zu columns",
                             acc->cols);
            goto done;
        }
        st = sums_alloc(&w->sums, acc->edges.n_bins, cells, err);
        if (st != CALIB_OK)
            goto done;
    }

    /* the first run in the calling thread, the others in new ones */
    for (size_t t = 1; t < n_workers; t++) {
        if (pthread_create(&threads[t], NULL, worker_main, &workers[t]) != 0)
            break;
        started = t;
    }
    run_worker(&workers[0]);
    for (size_t t = started + 1; t < n_workers; t++)
        run_worker(&workers[t]);
    for (size_t t = 1; t <= started; t++)
        pthread_join(threads[t], NULL);

    /* the lowest failing row is the first bad row */
    for (size_t t = 0; t < n_workers; t++) {
        if (workers[t].status != CALIB_OK && workers[t].bad_row < bad) {
            bad = workers[t].bad_row;
            st = workers[t].status;
            if (err != NULL)
                *err = workers[t].err;
        }
    }
    if (st != CALIB_OK)
        goto done;
    for (size_t t = 0; t < n_workers; t++)
        sums_merge(&acc->sums, &workers[t].sums, acc->edges.n_bins, cells);
    acc->n_pairs += rows;
    acc->fed = CALIB_FED_MATRIX;

done:
    if (workers != NULL)
        for (size_t t = 0; t < n_workers; t++)
            worker_free(&workers[t]);
    calib_free(workers);
    calib_free(threads);
    return st;
}

calib_status calib_accumulator_add_toplabel(calib_accumulator *acc,
                                            const calib_toplabel *t,
                                            calib_error *err)
{
    calib_sums *s;
    calib_status st;

    if (acc == NULL || t == NULL ||
        (t->n > 0 && (t->true_label == NULL || t->pred_label == NULL ||
                       t->confidence == NULL)))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "accumulator and top-label records are needed");
    if (acc->fed == CALIB_FED_MATRIX)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "this accumulator holds prediction matrices");

    /* check every record before anything changes */
    for (size_t i = 0; i < t->n; i++) {
        const char *which = "true_label";
        int64_t bad = t->true_label[i];
        int ok = t->true_label[i] >= 0 && t->pred_label[i] >= 0;

        if (ok && acc->classes > 0)
            ok = (uint64_t)t->true_label[i] < acc->classes &&
                 (uint64_t)t->pred_label[i] < acc->classes;
        if (!ok) {
            if (t->true_label[i] >= 0 &&
                (acc->classes == 0 ||
                 (uint64_t)t->true_label[i] < acc->classes)) {
                which = "pred_label";
                bad = t->pred_label[i];
            }
            if (acc->classes > 0)
                calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1, -1,
                           "%s %lld is outside [0, %zu)", which,
                           (long long)bad, acc->classes);
            else
                calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1, -1,
                           "%s %lld is negative", which, (long long)bad);
            calib_error_set_field(err, which);
            return CALIB_E_VALUE;
        }
        if (!(t->confidence[i] >= 0.0 && t->confidence[i] <= 1.0)) {
            calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1, -1,
                       "confidence %g is not in [0, 1]", t->confidence[i]);
            calib_error_set_field(err, "confidence");
            return CALIB_E_VALUE;
        }
    }
    st = reserve_pairs(acc, t->n, err);
    if (st != CALIB_OK)
        return st;

    s = &acc->sums;
    for (size_t i = 0; i < t->n; i++) {
        double c = t->confidence[i];
        uint64_t hit = t->true_label[i] == t->pred_label[i];
        size_t b = calib_edges_find(&acc->edges, c);

        s->n++;
        s->correct += hit;
        calib_xsum_add(&s->confidence, c);
        s->bin_count[b]++;
        s->bin_hits[b] += hit;
        calib_xsum_add(&s->bin_confidence[b], c);
        acc->pairs[acc->n_pairs].confidence = c;
        acc->pairs[acc->n_pairs].hit = hit;
        acc->n_pairs++;
    }
    acc->fed = CALIB_FED_TOPLABEL;
    return CALIB_OK;
}

calib_status calib_accumulator_merge(calib_accumulator *into,
                                     const calib_accumulator *from,
                                     calib_error *err)
{
    calib_status st;

    if (into == NULL || from == NULL || into == from)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "two distinct accumulators are needed");
    if (into->cols != from->cols || into->input != from->input ||
        into->opt.n_bins != from->opt.n_bins ||
        into->opt.bin_rule != from->opt.bin_rule ||
        into->opt.smoothing != from->opt.smoothing ||
        into->opt.clip_eps != from->opt.clip_eps ||
        into->opt.renormalize != from->opt.renormalize ||
        into->opt.sum_tolerance != from->opt.sum_tolerance ||
        into->opt.top_label != from->opt.top_label)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "accumulators with different classes, input or "
                           "options cannot be merged");
    if (into->fed != CALIB_FED_NONE && from->fed != CALIB_FED_NONE &&
        into->fed != from->fed)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "top-label records and prediction matrices "
                           "cannot be merged");
    st = reserve_pairs(into, from->n_pairs, err);
    if (st != CALIB_OK)
        return st;
    if (from->n_pairs > 0)
        memcpy(into->pairs + into->n_pairs, from->pairs,
               from->n_pairs * sizeof *from->pairs);
    into->n_pairs += from->n_pairs;
    sums_merge(&into->sums, &from->sums, into->edges.n_bins,
               acc_cells(into));
    if (from->fed != CALIB_FED_NONE)
        into->fed = from->fed;
    return CALIB_OK;
}

/* ------------------------------------------------------------------------
 * calib_to_probs
 * ------------------------------------------------------------------------ */

/* Row i of the probability matrix, [1 - p, p] for binary input. */
static calib_status probs_row(worker *w, size_t i, double *row)
{
    size_t k = w->acc->cols;
    double sum, sum_t, min_t, p, log_p[2];
    calib_status st;

    if (k == 1) {
        st = binary_row(w, i, &p, log_p);
        row[0] = 1.0 - p;
        row[1] = p;
    } else if (w->acc->input == CALIB_LOGITS) {
        st = softmax_row(w, i, &sum, &sum_t, &min_t);
        for (size_t j = 0; j < k; j++)
            row[j] = w->e[j] / sum;
    } else {
        st = check_probs_row(w, i);
        memcpy(row, w->t, k * sizeof *row);
    }
    return st;
}

calib_status calib_to_probs(const calib_matrix *preds, calib_input input,
                            const calib_eval_options *opt, double **probs,
                            calib_error *err)
{
    calib_eval_options o;
    calib_accumulator acc;
    worker w;
    size_t k_out, total;
    double *out = NULL;
    int overflow = 0;
    calib_status st = CALIB_OK;

    if (preds == NULL || probs == NULL ||
        (preds->rows > 0 && preds->cols > 0 && preds->data == NULL))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "predictions and an output pointer are needed");
    if (preds->rows == 0 || preds->cols == 0)
        return calib_failf(err, CALIB_E_SHAPE,
                           "predictions are %zu x %zu; need at least one "
                           "row and one class", preds->rows, preds->cols);
    if (opt == NULL)
        calib_eval_options_default(&o);
    else
        o = *opt;
    if (!(o.sum_tolerance >= 0.0))
        return calib_failf(err, CALIB_E_ARGUMENT, "bad sum tolerance");

    k_out = preds->cols == 1 ? 2 : preds->cols;
    total = calib_mul_size(preds->rows, k_out, &overflow);
    if (!overflow)
        calib_mul_size(total, sizeof *out, &overflow);
    if (overflow)
        return calib_failf(err, CALIB_E_TOO_LARGE,
                           "%zu x %zu probabilities is too many",
                           preds->rows, k_out);
    out = calib_malloc(total * sizeof *out);

    /* one worker with no sums: only the row checks are shared */
    memset(&acc, 0, sizeof acc);
    memset(&w, 0, sizeof w);
    acc.cols = preds->cols;
    acc.input = input;
    acc.opt = o;
    w.acc = &acc;
    w.preds = preds->data;
    w.dtype = preds->dtype;
    w.t = calib_calloc(preds->cols, sizeof *w.t);
    w.e = calib_calloc(preds->cols, sizeof *w.e);
    calib_error_clear(&w.err);
    if (out == NULL || w.t == NULL || w.e == NULL) {
        st = calib_failf(err, CALIB_E_NOMEM,
                         "no memory for %zu x %zu probabilities",
                         preds->rows, k_out);
        goto done;
    }
    for (size_t i = 0; i < preds->rows && st == CALIB_OK; i++) {
        double *row = out + i * k_out;
        load_row(&w, i, preds->cols);
        st = probs_row(&w, i, row);
    }
    if (st != CALIB_OK && err != NULL)
        *err = w.err;

done:
    calib_free(w.t);
    calib_free(w.e);
    if (st != CALIB_OK) {
        calib_free(out);
        return st;
    }
    *probs = out;
    return CALIB_OK;
}
