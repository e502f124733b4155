/*
 * metrics.c - calibration metrics from an accumulator's exact sums:
 * accuracy, NLL, Brier, KL to smoothed targets, ECE, MCE, RMSCE,
 * equal-mass ECE and classwise ECE, and the reliability table.
 *
 * With bins B_b holding n_b of the N samples, acc_b the fraction of them
 * whose outcome is 1 and conf_b their mean confidence:
 *   ECE   = sum_b (n_b / N) |acc_b - conf_b|    (Naeini et al. 2015;
 *           Guo et al. 2017, equal-width bins, right-closed by default);
 *   MCE   = max over non-empty bins of |acc_b - conf_b|  (Naeini 2015);
 *   RMSCE = sqrt(sum_b (n_b / N) (acc_b - conf_b)^2);
 *   ace   = the ECE over equal-mass bins (the adaptive binning of Nixon
 *           et al. 2019, applied to the top label);
 *   classwise ECE = the mean over all K classes of the equal-width ECE of
 *           p_k against 1[label = k] (Kull et al. 2019; Nixon et al.
 *           2019), absent classes included.
 * Equal-mass edges: the confidences are sorted; bin b (1-based) ends at
 * index floor(b N / M + 1/2), moved up to the end of its group of equal
 * confidences so that ties share a bin; a bin left empty by that move is
 * dropped, so there may be fewer than M. Sorting and summing happen in
 * finish on a copy of the pairs (16 bytes per sample).
 */
#include "metrics_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void calib_eval_options_default(calib_eval_options *opt)
{
    if (opt == NULL)
        return;
    memset(opt, 0, sizeof *opt);
    opt->n_bins = 15;
    opt->bin_rule = CALIB_BIN_RIGHT;
    opt->scheme = CALIB_SCHEME_WIDTH;
    opt->smoothing = 0.1;
    opt->clip_eps = 0.0;
    opt->sum_tolerance = 1e-4;
    opt->renormalize = 0;
    opt->top_label = 0;
    opt->threads = 0;
}

void calib_metrics_free(calib_metrics *m)
{
    if (m == NULL)
        return;
    calib_free(m->bins);
    memset(m, 0, sizeof *m);
}

/* ECE, MCE and RMSCE of a reliability table over n samples. */
static void table_errors(const calib_bin *bins, size_t n_bins, uint64_t n,
                         double *ece, double *mce, double *rmsce)
{
    double e = 0.0, worst = 0.0, squares = 0.0;

    for (size_t b = 0; b < n_bins; b++) {
        double weight, gap;
        if (bins[b].count == 0)
            continue;
        weight = (double)bins[b].count / (double)n;
        gap = fabs(bins[b].accuracy - bins[b].confidence);
        e += weight * gap;
        squares += weight * gap * gap;
        worst = gap > worst ? gap : worst;
    }
    *ece = e;
    *mce = worst;
    *rmsce = sqrt(squares);
}

/* Fills one table row from its count, outcome count and confidence sum. */
static void fill_bin(calib_bin *bin, uint64_t count, uint64_t hits,
                     double confidence_sum)
{
    bin->count = count;
    bin->confidence = count > 0 ? confidence_sum / (double)count : 0.0;
    bin->accuracy = count > 0 ? (double)hits / (double)count : 0.0;
}

static void width_table(const calib_accumulator *acc, calib_bin *bins)
{
    const calib_sums *s = &acc->sums;
    size_t m = acc->edges.n_bins;

    for (size_t b = 0; b < m; b++) {
        bins[b].lo = (double)b / (double)m;
        bins[b].hi = (double)(b + 1) / (double)m;
        fill_bin(&bins[b], s->bin_count[b], s->bin_hits[b],
                 calib_xsum_value(&s->bin_confidence[b]));
    }
}

/*
 * The pairs sorted by confidence, as keys: for a confidence in [0, 1] the
 * IEEE-754 bits are below 2^62 and ordered as the values, so (bits << 1)
 * | hit sorts by confidence (ties in any order: the table takes tied
 * confidences together and sums exactly). Radix-sorted; NULL without
 * memory or when a pair does not fit (a confidence outside [0, 1]), and
 * the caller then sorts the pairs themselves.
 */
static uint64_t *sorted_keys(const calib_pair *pairs, size_t n)
{
    uint64_t *keys = calib_malloc(n * sizeof *keys);
    uint64_t *tmp = calib_malloc(n * sizeof *tmp), *out;

    if (keys == NULL || tmp == NULL) {
        calib_free(keys);
        calib_free(tmp);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        double c = pairs[i].confidence + 0.0;   /* -0 becomes +0 */
        uint64_t u;

        if (!(c >= 0.0 && c <= 1.0) || pairs[i].hit > 1) {
            calib_free(keys);
            calib_free(tmp);
            return NULL;
        }
        memcpy(&u, &c, sizeof u);
        keys[i] = u << 1 | pairs[i].hit;
    }
    out = calib_radix_sort(keys, tmp, n);
    calib_free(out == keys ? tmp : keys);
    return out;
}

static double key_confidence(uint64_t key)
{
    double c;

    key >>= 1;
    memcpy(&c, &key, sizeof c);
    return c;
}

static int compare_confidence(const void *a, const void *b)
{
    double x = ((const calib_pair *)a)->confidence;
    double y = ((const calib_pair *)b)->confidence;

    return (x > y) - (x < y);
}

/* Confidence and outcome i of the sorted pairs: keys when sorted_keys
 * made them, else pairs sorted by qsort. */
static double conf_at(const uint64_t *keys, const calib_pair *sorted,
                      size_t i)
{
    return keys != NULL ? key_confidence(keys[i]) : sorted[i].confidence;
}

static uint64_t hit_at(const uint64_t *keys, const calib_pair *sorted,
                       size_t i)
{
    return keys != NULL ? keys[i] & 1 : sorted[i].hit;
}

/* The equal-mass table: *n_out <= M rows, lo and hi the smallest and the
 * largest confidence in each bin. */
static calib_status mass_table(const calib_accumulator *acc,
                               calib_bin **out, size_t *n_out,
                               calib_error *err)
{
    size_t n = acc->n_pairs, m = acc->edges.n_bins, start = 0, used = 0;
    uint64_t q = n / m, r = n % m;
    uint64_t *keys = sorted_keys(acc->pairs, n);
    calib_pair *sorted = NULL;
    calib_bin *bins = calib_calloc(m, sizeof *bins);

    if (keys == NULL) {
        sorted = calib_malloc(n * sizeof *sorted);
        if (sorted != NULL) {
            memcpy(sorted, acc->pairs, n * sizeof *sorted);
            qsort(sorted, n, sizeof *sorted, compare_confidence);
        }
    }
    if ((keys == NULL && sorted == NULL) || bins == NULL) {
        calib_free(keys);
        calib_free(sorted);
        calib_free(bins);
        return calib_failf(err, CALIB_E_NOMEM,
                           "no memory to sort %zu confidences", n);
    }

    for (uint64_t b = 1; b <= m; b++) {
        /* floor(b N / M + 1/2), without forming b N */
        size_t end = (size_t)(b * q + (2 * b * r + m) / (2 * (uint64_t)m));
        calib_xsum sum = {0, 0};
        uint64_t hits = 0;

        end = end > n ? n : end;
        if (end <= start)
            continue;
        while (end < n && conf_at(keys, sorted, end) ==
                              conf_at(keys, sorted, end - 1))
            end++;
        for (size_t i = start; i < end; i++) {
            calib_xsum_add(&sum, conf_at(keys, sorted, i));
            hits += hit_at(keys, sorted, i);
        }
        bins[used].lo = conf_at(keys, sorted, start);
        bins[used].hi = conf_at(keys, sorted, end - 1);
        fill_bin(&bins[used], end - start, hits, calib_xsum_value(&sum));
        used++;
        start = end;
    }
    calib_free(keys);
    calib_free(sorted);
    *out = bins;
    *n_out = used;
    return CALIB_OK;
}

static double classwise_ece(const calib_accumulator *acc)
{
    const calib_sums *s = &acc->sums;
    size_t k = acc->classes, m = acc->edges.n_bins;
    double total = 0.0;

    for (size_t c = 0; c < k; c++) {
        double e = 0.0;
        for (size_t b = 0; b < m; b++) {
            size_t cell = b * k + c;
            uint64_t count = s->cw_count[cell];
            double conf, hit_rate;
            if (count == 0)
                continue;
            conf = calib_cell_prob_sum(s, cell) / (double)count;
            hit_rate = (double)s->cw_hits[cell] / (double)count;
            e += (double)count / (double)s->n * fabs(hit_rate - conf);
        }
        total += e;
    }
    return total / (double)k;
}

calib_status calib_accumulator_finish(const calib_accumulator *acc,
                                      calib_metrics *out, calib_error *err)
{
    const calib_sums *s;
    calib_metrics m;
    calib_bin *mass = NULL, *width = NULL;
    size_t n_mass = 0;
    double n, unused_mce, unused_rmsce;
    calib_status st;

    if (acc == NULL || out == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "an accumulator and an output are needed");
    s = &acc->sums;
    if (s->n == 0)
        return calib_failf(err, CALIB_E_SHAPE, "no rows were added");
    n = (double)s->n;

    memset(&m, 0, sizeof m);
    m.n = (size_t)s->n;
    m.classes = acc->classes;
    m.binary = acc->fed == CALIB_FED_MATRIX && acc->cols == 1;
    m.top_label = m.binary ? acc->opt.top_label != 0 : 1;
    m.has_full_probs = acc->fed == CALIB_FED_MATRIX;
    m.accuracy = (double)s->correct / n;
    m.mean_confidence = calib_xsum_value(&s->confidence) / n;
    m.nll_infinite_rows = s->nll_infinite;
    m.clipped_rows = s->clipped;
    m.options = acc->opt;
    if (m.has_full_probs) {
        m.nll = s->nll_infinite > 0 ? (double)INFINITY
                                    : calib_wide_value(&s->nll) / n;
        m.kl_smoothed = s->kl_infinite > 0 ? (double)INFINITY
                                           : calib_wide_value(&s->kl) / n;
        m.brier = calib_xsum_value(&s->brier) / n;
        m.classwise_ece = classwise_ece(acc);
    } else {
        m.nll = (double)NAN;
        m.kl_smoothed = (double)NAN;
        m.brier = (double)NAN;
        m.classwise_ece = (double)NAN;
    }

    /* equal-mass bins always (ace); the table in the chosen scheme */
    st = mass_table(acc, &mass, &n_mass, err);
    if (st != CALIB_OK)
        return st;
    table_errors(mass, n_mass, s->n, &m.ace, &unused_mce, &unused_rmsce);
    if (acc->opt.scheme == CALIB_SCHEME_MASS) {
        m.bins = mass;
        m.n_bins = n_mass;
    } else {
        width = calib_calloc(acc->edges.n_bins, sizeof *width);
        calib_free(mass);
        if (width == NULL)
            return calib_failf(err, CALIB_E_NOMEM, "no memory for %zu bins",
                               acc->edges.n_bins);
        width_table(acc, width);
        m.bins = width;
        m.n_bins = acc->edges.n_bins;
    }
    table_errors(m.bins, m.n_bins, s->n, &m.ece, &m.mce, &m.rmsce);
    *out = m;
    return CALIB_OK;
}

calib_status calib_evaluate(const calib_matrix *preds, calib_input input,
                            const int64_t *labels,
                            const calib_eval_options *opt,
                            calib_metrics *out, calib_error *err)
{
    calib_accumulator *acc = NULL;
    calib_status st;

    if (preds == NULL || out == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "predictions and an output are needed");
    if (preds->rows == 0 || preds->cols == 0)
        return calib_failf(err, CALIB_E_SHAPE,
                           "predictions are %zu x %zu; need at least one "
                           "row and one class", preds->rows, preds->cols);
    if (preds->data == NULL || labels == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "prediction data and labels are needed");

    st = calib_accumulator_alloc(preds->cols, input, opt, &acc, err);
    if (st == CALIB_OK)
        st = calib_accumulator_add(acc, preds->data, preds->dtype, labels,
                                   preds->rows, 0, err);
    if (st == CALIB_OK)
        st = calib_accumulator_finish(acc, out, err);
    calib_accumulator_free(acc);
    return st;
}

calib_status calib_evaluate_toplabel(const calib_toplabel *t, size_t classes,
                                     const calib_eval_options *opt,
                                     calib_metrics *out, calib_error *err)
{
    calib_accumulator *acc = NULL;
    calib_status st;

    if (t == NULL || out == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "top-label records and an output are needed");
    if (t->n == 0)
        return calib_failf(err, CALIB_E_SHAPE, "no top-label records");

    /* no classwise cells: top-label records cannot fill them */
    st = calib_accumulator_alloc(0, CALIB_PROBS, opt, &acc, err);
    if (st != CALIB_OK)
        return st;
    acc->classes = classes;
    st = calib_accumulator_add_toplabel(acc, t, err);
    if (st == CALIB_OK)
        st = calib_accumulator_finish(acc, out, err);
    calib_accumulator_free(acc);
    return st;
}
