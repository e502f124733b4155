/*
 * temperature.c - temperature scaling fitted to the exact optimum.
 *
 * p = softmax(beta * z) with beta = 1 / T > 0 (Guo et al. 2017, "On
 * Calibration of Modern Neural Networks"). The mean NLL
 *   f(beta) = mean_i [ log sum_j exp(beta z_ij) - beta z_iy ]
 * is convex in beta: f'(beta) = mean_i (E_p[z_i] - z_iy), f''(beta) =
 * mean_i Var_p(z_i) >= 0 and f'''(beta) = mean_i kappa3_p(z_i) (the third
 * central moment), all under p_i. The optimum is the root of f', found by
 * Halley's method (cubic convergence; Newton's when Halley's denominator
 * is not positive), safeguarded by a bracket [lo, hi] with f'(lo) < 0 <
 * f'(hi): a step that leaves the bracket is replaced by bisection
 * (geometric while the bracket spans more than a factor 4).
 *
 * Speed: every iteration is one pass over the data that gives f, f', f''
 * and f''' together; the logits are read where they are (float32 stays
 * float32, widened a segment at a time), the row maxima are found once
 * (in lanes), exp is vexp_nonpos (src/vexp_impl.h: calib_vexp's bits for
 * beta d > -708.74, 0 below) inlined into the one vectorised loop that
 * also forms the sums, and rows are split over threads. The start comes
 * from the same method on every 16th row (to a relative 1e-6), evaluated
 * in the same pass as beta = 1 (the NLL before; two sets of exps, one
 * reading), so the passes over all rows are usually two: that one and
 * one Halley step. The fit stops when the last step, or the error left
 * after it as predicted from the last two steps (predicted_error), is at
 * most opt->tolerance relative (1e-12), and reports f and f' at the
 * returned beta: from the Taylor expansion around the last pass when its
 * remainder is provably negligible (at_result), else from a pass.
 * The first pass over all rows also finds each row's maximum and range
 * and checks that every logit is finite, so the logits are read no more
 * often than the fit needs.
 *
 * Degenerate data: f' is nondecreasing, so f'(beta_min) >= 0 (in
 * particular f'(0) = mean_i (mean_j z_ij - z_iy) >= 0, e.g. constant
 * logits) puts the optimum at T -> infinity, and a true class that is the
 * largest logit in every row (f' < 0 for every beta) or f'(beta_max) <= 0
 * puts it at T -> 0. Those fits end at T = CALIB_TEMPERATURE_MAX or _MIN
 * with status "temperature-to-infinity" or "temperature-to-zero". f'(1)
 * decides which end can matter (the other is implied by monotonicity),
 * and that end is evaluated only when a step would leave the bracket
 * toward it, or after CHECK_END_AFTER passes.
 *
 * Sums run over fixed blocks of rows, each summed in row order (within a
 * row in eight fixed lanes), and the blocks are added in block order: the
 * result has the same bits for any number of threads.
 */
#include "calibrators.h"
#include "internal.h"
#include "vexp_impl.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Rows per block of the fixed partition; large enough that threads pay
 * off, small enough that several blocks exist for mid-sized inputs. */
#define BLOCK_ROWS 1024

/* Below this many blocks the threads cost more than they save. */
#define MIN_BLOCKS_FOR_THREADS 4

/* Iterations when opt->max_iterations is 0: Halley converges in about 4;
 * pure bisection from [1e-4, 1e4] to 1e-12 takes about 60. */
#define DEFAULT_MAX_ITERATIONS 200

/* Independent partial sums within a row, so that gcc vectorises the
 * sums without reassociating (the order is fixed, so are the bits). */
#define LANES 8

/* Values of a float32 row widened to double at a time (a multiple of
 * LANES, so that value j still goes to lane j % LANES). */
#define SEGMENT 512

/* The start: every SUB_STRIDE-th row, when there are at least SUB_MIN
 * such rows, fitted to a relative SUB_TOLERANCE. */
#define SUB_STRIDE 16
#define SUB_MIN 256
#define SUB_TOLERANCE 1e-6

/* Full passes after which the far end of the bracket is checked even if
 * no step has tried to leave it (a slow creep toward T -> 0). */
#define CHECK_END_AFTER 4

typedef struct block_sums {
    double nll;
    double d1;
    double d2;
    double d3;
    size_t not_max;     /* rows whose true class is not the largest logit */
    double range;       /* half the largest max - min of a row, in the
                         * input's units (passes that fill the maxima; NaN
                         * when a logit is not finite) */
} block_sums;

typedef struct temp_data {
    const void *z;
    calib_dtype dtype;
    size_t n;
    size_t k;
    const int64_t *labels;
    double *row_max;    /* n values; filled by a pass with fill_max set */
    int fill_max;
    double scale;       /* a power of two the logits are multiplied by */
} temp_data;

/* A pass evaluates at one beta, or at two sharing the reading, widening
 * and row maxima (the first full pass: beta = 1 and the start). */
#define MAX_BETAS 2

typedef struct nll_job {
    const temp_data *data;
    double beta[MAX_BETAS];
    size_t n_betas;
    size_t row_stride;  /* 1, or SUB_STRIDE for the start */
    size_t rows;        /* rows in the pass (n / row_stride, rounded up) */
    block_sums *blocks; /* n_blocks x n_betas, block-major */
    size_t n_blocks;
    size_t first;       /* this worker's first block */
    size_t stride;      /* and the step between its blocks */
} nll_job;

/* Logit j of row i as a double. */
static double logit(const temp_data *d, size_t i, size_t j)
{
    if (d->dtype == CALIB_FLOAT32)
        return (double)((const float *)d->z)[i * d->k + j];
    return ((const double *)d->z)[i * d->k + j];
}

/*
 * The largest logit of row i, and in *range half its largest minus its
 * smallest (half, so that it does not overflow), in LANES lanes (max and
 * min are exact: the order does not matter). The same loop checks that
 * every logit is finite: z - z is 0 for a finite z and NaN for NaN and the
 * infinities (which max and min would skip or keep), so a lane sum of them
 * is 0 exactly when the row is finite; otherwise *range is NaN. No
 * -ffast-math: z - z stays a subtraction.
 */
#define ROW_EXTENT(T)                                                       \
    do {                                                                    \
        const T *z = (const T *)d->z + i * k;                               \
        T mx[LANES], mn[LANES], nf[LANES], hi, lo, bad;                     \
        for (size_t l = 0; l < LANES; l++) {                                \
            mx[l] = mn[l] = z[0];                                           \
            nf[l] = 0;                                                      \
        }                                                                   \
        for (; j + LANES <= k; j += LANES)                                  \
            for (size_t l = 0; l < LANES; l++) {                            \
                T v = z[j + l];                                             \
                mx[l] = v > mx[l] ? v : mx[l];                              \
                mn[l] = v < mn[l] ? v : mn[l];                              \
                nf[l] += v - v;                                             \
            }                                                               \
        for (; j < k; j++) {                                                \
            mx[0] = z[j] > mx[0] ? z[j] : mx[0];                            \
            mn[0] = z[j] < mn[0] ? z[j] : mn[0];                            \
            nf[0] += z[j] - z[j];                                           \
        }                                                                   \
        hi = mx[0];                                                         \
        lo = mn[0];                                                         \
        bad = nf[0];                                                        \
        for (size_t l = 1; l < LANES; l++) {                                \
            hi = mx[l] > hi ? mx[l] : hi;                                   \
            lo = mn[l] < lo ? mn[l] : lo;                                   \
            bad += nf[l];                                                   \
        }                                                                   \
        *range = bad == 0 ? 0.5 * (double)hi - 0.5 * (double)lo           \
                          : (double)NAN;                                    \
        return (double)hi;                                                  \
    } while (0)

CALIB_TARGET_CLONES
static double row_extent(const temp_data *d, size_t i, double *range)
{
    size_t k = d->k, j = 0;

    /* float32 and float64 apart, so that gcc vectorises each */
    if (d->dtype == CALIB_FLOAT32)
        ROW_EXTENT(float);
    ROW_EXTENT(double);
}

/* Per-lane sums S_r = sum e d^r, r = 0..3, of one row at one beta. */
typedef struct lane_sums {
    double a[4][LANES];
} lane_sums;

/* One value's terms: d = z - max, e = exp(beta d), into lane sums. */
#define TERMS(zv, l)                                                        \
    do {                                                                    \
        double d_ = (zv) - m, e_, ed_, edd_;                                \
        e_ = vexp_nonpos(vexp_nonpos_clamp(beta * d_));                     \
        ed_ = e_ * d_;                                                      \
        edd_ = ed_ * d_;                                                    \
        a0[l] += e_;                                                        \
        a1[l] += ed_;                                                       \
        a2[l] += edd_;                                                      \
        a3[l] += edd_ * d_;                                                 \
    } while (0)

/*
 * Adds the terms of values j0 .. j0 + len - 1 of a row (z[0] is value j0)
 * to the lane sums at beta. One loop over blocks of LANES values, exp
 * inlined from vexp_impl.h: gcc -O2 vectorises it (the clamp in a loop of
 * its own, as in calib_vexp). Value j goes to lane j % LANES, whatever the
 * dtype: the same bits as the former chunked loop through calib_vexp. The
 * sums are local while the loop runs (no aliasing with z to check). Its
 * own clones: gcc does not inline it into row_terms' clones.
 */
CALIB_TARGET_CLONES
static void segment_terms(const double *z, size_t len, size_t j0,
                          double m, double beta, lane_sums *acc)
{
    double a0[LANES], a1[LANES], a2[LANES], a3[LANES];
    size_t c = 0;

    memcpy(a0, acc->a[0], sizeof a0);
    memcpy(a1, acc->a[1], sizeof a1);
    memcpy(a2, acc->a[2], sizeof a2);
    memcpy(a3, acc->a[3], sizeof a3);
    for (; c + LANES <= len; c += LANES) {
        double d[LANES], x[LANES];
        for (size_t l = 0; l < LANES; l++) {
            d[l] = z[c + l] - m;
            x[l] = vexp_nonpos_clamp(beta * d[l]);
        }
        for (size_t l = 0; l < LANES; l++) {
            double e = vexp_nonpos(x[l]), ed = e * d[l];
            double edd = ed * d[l];
            a0[l] += e;
            a1[l] += ed;
            a2[l] += edd;
            a3[l] += edd * d[l];
        }
    }
    for (; c < len; c++)
        TERMS(z[c], (j0 + c) % LANES);
    memcpy(acc->a[0], a0, sizeof a0);
    memcpy(acc->a[1], a1, sizeof a1);
    memcpy(acc->a[2], a2, sizeof a2);
    memcpy(acc->a[3], a3, sizeof a3);
}

/* Row i's NLL and derivative terms at beta from its lane sums, into s. */
static void row_finish(const temp_data *data, size_t i, double m,
                       double beta, const lane_sums *acc, block_sums *s)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    double mean, m2, var, k3, dy;

    for (size_t l = 0; l < LANES; l++) {
        s0 += acc->a[0][l];
        s1 += acc->a[1][l];
        s2 += acc->a[2][l];
        s3 += acc->a[3][l];
    }

    /* the largest term is exp(0) = 1, so s0 >= 1; the variance may lose
     * digits to cancellation but only steers the step, never the root */
    mean = s1 / s0;
    m2 = s2 / s0;
    var = m2 - mean * mean;
    if (var < 0.0)
        var = 0.0;
    k3 = s3 / s0 - 3.0 * mean * m2 + 2.0 * mean * mean * mean;
    dy = logit(data, i, (size_t)data->labels[i]) * data->scale - m;
    s->nll += log(s0) - beta * dy;
    s->d1 += mean - dy;
    s->d2 += var;
    s->d3 += k3;
    s->not_max += dy < 0.0;
}

/*
 * The NLL and derivative terms of one row at each of the job's betas.
 * With d = z - max z and e = exp(beta d): S_r = sum e d^r for r = 0..3;
 * the mean, variance and third central moment of d (so of z) under p are
 * taken from them. The row goes a SEGMENT at a time, float32 widened to
 * double once per segment for all betas.
 */
CALIB_TARGET_CLONES
static void row_terms(const temp_data *data, size_t i, double m,
                      const double *beta, size_t n_betas, block_sums *s)
{
    lane_sums acc[MAX_BETAS];
    double wide[SEGMENT], sc = data->scale;
    size_t k = data->k;

    memset(acc, 0, sizeof acc);
    for (size_t j0 = 0; j0 < k; j0 += SEGMENT) {
        size_t len = k - j0 < SEGMENT ? k - j0 : SEGMENT, c = 0;
        const double *z;

        /* float32 is widened apart from the main loop: a conversion in
         * that loop makes gcc pick half-width vectors whose stores the
         * full-width loads cannot forward */
        if (data->dtype == CALIB_FLOAT32) {
            const float *zf = (const float *)data->z + i * k + j0;
            for (; c + LANES <= len; c += LANES)
                for (size_t l = 0; l < LANES; l++)
                    wide[c + l] = (double)zf[c + l] * sc;
            for (; c < len; c++)
                wide[c] = (double)zf[c] * sc;
            z = wide;
        } else if (sc != 1.0) {
            const double *zd = (const double *)data->z + i * k + j0;
            for (; c + LANES <= len; c += LANES)
                for (size_t l = 0; l < LANES; l++)
                    wide[c + l] = zd[c + l] * sc;
            for (; c < len; c++)
                wide[c] = zd[c] * sc;
            z = wide;
        } else {
            z = (const double *)data->z + i * k + j0;
        }
        for (size_t b = 0; b < n_betas; b++)
            segment_terms(z, len, j0, m, beta[b], &acc[b]);
    }
    for (size_t b = 0; b < n_betas; b++)
        row_finish(data, i, m, beta[b], &acc[b], &s[b]);
}

/* The larger of two row ranges, NaN (a logit not finite) winning. */
static double wider(double a, double b)
{
    return b > a || b != b ? b : a;
}

/* Sums over the pass's rows [r0, r1) (row r of the pass is data row
 * r * row_stride), one block_sums per beta. */
static void sum_rows(const nll_job *job, size_t r0, size_t r1,
                     block_sums *out)
{
    const temp_data *data = job->data;
    block_sums s[MAX_BETAS];
    double range = 0.0;

    memset(s, 0, sizeof s);
    for (size_t r = r0; r < r1; r++) {
        size_t i = r * job->row_stride;
        double m, w;

        if (data->fill_max) {
            m = row_extent(data, i, &w) * data->scale;
            range = wider(range, w);
            if (data->row_max != NULL)
                data->row_max[i] = m;
        } else {
            m = data->row_max[i];
        }
        row_terms(data, i, m, job->beta, job->n_betas, s);
    }
    for (size_t b = 0; b < job->n_betas; b++)
        s[b].range = range;
    memcpy(out, s, job->n_betas * sizeof *out);
}

static void *nll_worker(void *arg)
{
    const nll_job *job = arg;

    for (size_t b = job->first; b < job->n_blocks; b += job->stride) {
        size_t r0 = b * BLOCK_ROWS;
        size_t r1 = r0 + BLOCK_ROWS < job->rows ? r0 + BLOCK_ROWS : job->rows;
        sum_rows(job, r0, r1, &job->blocks[b * job->n_betas]);
    }
    return NULL;
}

/* Runs the blocks on up to `threads` threads; falls back to this thread
 * for whatever a thread could not be started for. */
static void run_blocks(const nll_job *base, unsigned threads)
{
    enum { MAX_THREADS = 64 };
    pthread_t tid[MAX_THREADS];
    nll_job jobs[MAX_THREADS];
    int started[MAX_THREADS];
    size_t t_count = threads;

    if (t_count > MAX_THREADS)
        t_count = MAX_THREADS;
    if (t_count > base->n_blocks)
        t_count = base->n_blocks;
    if (t_count <= 1 || base->n_blocks < MIN_BLOCKS_FOR_THREADS) {
        nll_job one = *base;
        one.first = 0;
        one.stride = 1;
        nll_worker(&one);
        return;
    }
    for (size_t t = 0; t < t_count; t++) {
        jobs[t] = *base;
        jobs[t].first = t;
        jobs[t].stride = t_count;
    }
    for (size_t t = 1; t < t_count; t++)
        started[t] = pthread_create(&tid[t], NULL, nll_worker,
                                    &jobs[t]) == 0;
    nll_worker(&jobs[0]);
    for (size_t t = 1; t < t_count; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            nll_worker(&jobs[t]);
    }
}

/*
 * Means of the NLL and its three derivatives over every row_stride-th
 * row, at n_betas betas at once (mean[b] at beta[b]). Without room for
 * per-block sums the same partition runs on this thread, blocks added in
 * the same order: same bits.
 */
static void pass_n(const temp_data *data, const double *beta,
                   size_t n_betas, size_t row_stride, unsigned threads,
                   block_sums *mean)
{
    enum { STACK_BLOCKS = 256 };
    block_sums stack_blocks[STACK_BLOCKS * MAX_BETAS];
    block_sums total[MAX_BETAS];
    nll_job job;
    size_t rows = (data->n + row_stride - 1) / row_stride;
    size_t n_blocks = (rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
    block_sums *blocks = stack_blocks;

    memset(total, 0, sizeof total);
    memset(&job, 0, sizeof job);
    job.data = data;
    for (size_t b = 0; b < n_betas; b++)
        job.beta[b] = beta[b];
    job.n_betas = n_betas;
    job.row_stride = row_stride;
    job.rows = rows;
    job.first = 0;
    job.stride = 1;
    if (n_blocks > STACK_BLOCKS)
        blocks = calib_calloc(n_blocks * n_betas, sizeof *blocks);
    if (blocks == NULL) {
        for (size_t b = 0; b < n_blocks; b++) {
            size_t r0 = b * BLOCK_ROWS;
            size_t r1 = r0 + BLOCK_ROWS < rows ? r0 + BLOCK_ROWS : rows;
            block_sums one[MAX_BETAS];
            sum_rows(&job, r0, r1, one);
            for (size_t v = 0; v < n_betas; v++) {
                total[v].nll += one[v].nll;
                total[v].d1 += one[v].d1;
                total[v].d2 += one[v].d2;
                total[v].d3 += one[v].d3;
                total[v].not_max += one[v].not_max;
                total[v].range = wider(total[v].range, one[v].range);
            }
        }
    } else {
        job.blocks = blocks;
        job.n_blocks = n_blocks;
        run_blocks(&job, threads == 0 ? calib_cpu_count() : threads);
        for (size_t b = 0; b < n_blocks; b++) {
            for (size_t v = 0; v < n_betas; v++) {
                const block_sums *bs = &blocks[b * n_betas + v];
                total[v].nll += bs->nll;
                total[v].d1 += bs->d1;
                total[v].d2 += bs->d2;
                total[v].d3 += bs->d3;
                total[v].not_max += bs->not_max;
                total[v].range = wider(total[v].range, bs->range);
            }
        }
        if (blocks != stack_blocks)
            calib_free(blocks);
    }
    for (size_t v = 0; v < n_betas; v++) {
        mean[v].nll = total[v].nll / (double)rows;
        mean[v].d1 = total[v].d1 / (double)rows;
        mean[v].d2 = total[v].d2 / (double)rows;
        mean[v].d3 = total[v].d3 / (double)rows;
        mean[v].not_max = total[v].not_max;
        mean[v].range = total[v].range;
    }
}

/* pass_n at one beta. */
static void pass(const temp_data *data, double beta, size_t row_stride,
                 unsigned threads, block_sums *mean)
{
    pass_n(data, &beta, 1, row_stride, threads, mean);
}

void calib_temperature_nll(const double *z, size_t n, size_t k,
                           const int64_t *labels, double beta,
                           unsigned threads, double *nll, double *d1,
                           double *d2)
{
    temp_data data = {z, CALIB_FLOAT64, n, k, labels, NULL, 1, 1.0};
    block_sums s;

    pass(&data, beta, 1, threads, &s);
    if (nll != NULL)
        *nll = s.nll;
    if (d1 != NULL)
        *d1 = s.d1;
    if (d2 != NULL)
        *d2 = s.d2;
}

/*
 * Halley's step for the root of f': Newton's step f'/f'' divided by
 * D = 1 - f' f''' / (2 f''^2). Far from the root D can be huge (rows
 * almost one-hot: f'' tiny, f''' < 0), and Halley's step then creeps
 * where Newton's would leave the bracket for a bisection; so Halley's
 * while 0 < D <= 4, else Newton's. The change to subtract from beta;
 * *order is the step's order of convergence, 3 or 2.
 */
static double halley_step(const block_sums *s, int *order)
{
    double d2sq = s->d2 * s->d2, denom = 2.0 * d2sq - s->d1 * s->d3;

    *order = 3;
    if (s->d2 > 0.0 && denom > 0.0 && denom <= 8.0 * d2sq)
        return 2.0 * s->d1 * s->d2 / denom;
    *order = 2;
    return s->d2 > 0.0 ? s->d1 / s->d2 : (double)NAN;
}

/* The error left after the step s, from the last two steps: a method
 * of order q shrinks the error as e' = C e^q, so C ~ |s| / |prev|^q and
 * the next error ~ C |s|^q (q = 3 for Halley's step, 2 for Newton's).
 * Infinite when there is no previous step. */
static double predicted_error(double s, double prev, int order)
{
    double c, a = fabs(s), p = fabs(prev);

    if (!(prev != 0.0) || !isfinite(prev))
        return HUGE_VAL;
    if (order == 2)
        return a / (p * p) * a * a;
    c = a / (p * p * p);
    return c * a * a * a;
}

/*
 * Safeguarded Halley iteration from `beta` on every row_stride-th row,
 * inside [*lo, *hi]. lo_known / hi_known say whether f' has been seen
 * negative at *lo / positive at *hi; an end not known is checked with a
 * pass when a step would leave the bracket toward it (or after
 * CHECK_END_AFTER passes), and *end_status is set when the optimum lies
 * beyond it. Returns the final beta; *last holds the sums at it.
 */
typedef struct search {
    const temp_data *data;
    size_t row_stride;
    unsigned threads;
    double tol;
    size_t max_it;
    double lo, hi;
    int lo_known, hi_known;
    size_t iterations;
    const char *status;
    double at;                  /* the beta at which *last was evaluated */
    const block_sums *first;    /* the sums at the start, if known */
} search;

static double solve(search *sr, double beta, block_sums *last)
{
    double prev_step = 0.0;
    int order = 3;

    sr->status = "max-iterations";
    for (size_t it = 1; it <= sr->max_it; it++) {
        block_sums s;
        double step, next;

        sr->iterations = it;
        if (it == 1 && sr->first != NULL)
            s = *sr->first;     /* already evaluated at this beta */
        else
            pass(sr->data, beta, sr->row_stride, sr->threads, &s);
        *last = s;
        sr->at = beta;
        if (s.d1 == 0.0) {
            sr->status = "converged";
            return beta;
        }
        if (s.d1 < 0.0) {
            sr->lo = beta;
            sr->lo_known = 1;
        } else {
            sr->hi = beta;
            sr->hi_known = 1;
        }
        step = halley_step(&s, &order);
        next = beta - step;
        if ((!(next < sr->hi) || it >= CHECK_END_AFTER) && !sr->hi_known) {
            block_sums e;
            pass(sr->data, sr->hi, sr->row_stride, sr->threads, &e);
            if (e.d1 <= 0.0) {
                sr->status = "temperature-to-zero";
                *last = e;
                sr->at = sr->hi;
                return sr->hi;
            }
            sr->hi_known = 1;
        }
        if ((!(next > sr->lo) || it >= CHECK_END_AFTER) && !sr->lo_known) {
            block_sums e;
            pass(sr->data, sr->lo, sr->row_stride, sr->threads, &e);
            if (e.d1 >= 0.0) {
                sr->status = "temperature-to-infinity";
                *last = e;
                sr->at = sr->lo;
                return sr->lo;
            }
            sr->lo_known = 1;
        }
        /* a step not at most half the one before, with the root bracketed,
         * makes too little progress (a creep): bisect instead */
        if (sr->lo_known && sr->hi_known && prev_step != 0.0 &&
            fabs(step) > 0.5 * fabs(prev_step))
            next = sr->lo;      /* outside (lo, hi): the bisection below */
        if (!(next > sr->lo && next < sr->hi)) {
            /* sqrt(lo) sqrt(hi): lo hi alone can leave the doubles */
            next = sr->hi > 4.0 * sr->lo ? sqrt(sr->lo) * sqrt(sr->hi)
                                         : 0.5 * (sr->lo + sr->hi);
            step = beta - next;
            prev_step = 0.0;
        } else if (fabs(step) <= sr->tol * next ||
                   predicted_error(step, prev_step, order) <=
                       sr->tol * next) {
            sr->status = "converged";
            return next;
        } else {
            prev_step = step;
        }
        beta = next;
        if (sr->hi - sr->lo <= sr->tol * sr->lo) {
            sr->status = "converged";
            return beta;
        }
    }
    return beta;
}

/*
 * The default bounds T in [CALIB_TEMPERATURE_MIN, CALIB_TEMPERATURE_MAX]
 * suit logits of ordinary size; logits scaled by 1e4 have their optimum
 * near T = 2.5e4. When the derivative has not changed sign at a bound,
 * these move the bound by factors of 1e4 until it does, so the optimum is
 * found at any scale. Only where no sign change exists before beta
 * reaches BETA_FLOOR (or BETA_CEIL) is the optimum truly at T -> infinity
 * (T -> 0), as for constant logits.
 */
#define BETA_STEP 1e4
#define BETA_FLOOR 0x1p-1022
#define BETA_CEIL 0x1p1023

/* Half row ranges beyond [1 / SCALE_ABOVE, SCALE_ABOVE] are fitted on
 * logits scaled by a power of two (exact), so that the moments' sums
 * (up to z^3 e^z) neither overflow nor underflow and the optimum lies
 * near beta = 1, inside the first bracket. Ordinary logits are not
 * scaled: their bits stay those of the unscaled fit. */
#define SCALE_ABOVE 0x1p20

/* f'(lo) >= 0 in *e: lowers sr->lo until f' < 0 there; 0 on success. */
static int widen_low(const temp_data *data, unsigned threads, search *sr,
                     block_sums *e)
{
    double lo = sr->lo;
    block_sums floor_sums;

    /* one pass at the floor settles the truly degenerate case at once */
    pass(data, BETA_FLOOR, 1, threads, &floor_sums);
    if (floor_sums.d1 >= 0.0)
        return -1;  /* *e stays the sums at sr->lo, the T reported */
    while (e->d1 >= 0.0 && lo > BETA_FLOOR) {
        lo = fmax(lo / BETA_STEP, BETA_FLOOR);
        pass(data, lo, 1, threads, e);
    }
    if (e->d1 >= 0.0)
        return -1;
    sr->lo = lo;
    return 0;
}

/* The search stopped at sr->hi with f' < 0: raises the bound until
 * f' >= 0 there and brackets [old hi, new hi]; 0 on success. */
static int widen_high(const temp_data *data, unsigned threads, search *sr)
{
    double hi = sr->hi;
    block_sums e;

    pass(data, BETA_CEIL, 1, threads, &e);
    if (e.d1 < 0.0)
        return -1;
    do {
        if (hi >= BETA_CEIL)
            return -1;
        hi = fmin(hi * BETA_STEP, BETA_CEIL);
        pass(data, hi, 1, threads, &e);
    } while (e.d1 < 0.0);
    sr->lo = sr->hi;
    sr->lo_known = 1;
    sr->hi = hi;
    sr->hi_known = 1;
    sr->first = NULL;
    return 0;
}

/*
 * The NLL and f' at beta, where the last pass was at sr->at. The step h =
 * beta - sr->at is usually small (Halley's last step), and then the
 * Taylor expansion to third order around sr->at gives both without a
 * pass. The remainders are at most |f4| h^4 / 24 and |f4| |h|^3 / 6,
 * where f4, the fourth derivative, is the mean over rows of the fourth
 * cumulant of z under p; for rows whose logits span at most R it lies in
 * [-3 R^4 / 16, R^4 / 12]. The expansion is used when the NLL's remainder
 * is below 1e-17 of the NLL (under the rounding of a pass) and f''s is
 * below what the tolerance allows (f'' tol beta: the f' of a beta off by
 * tol relative); otherwise a pass evaluates them.
 */
static void at_result(const temp_data *data, double beta, const search *sr,
                      double range, block_sums *last)
{
    double h = beta - sr->at, hr = fabs(h) * range;
    double nll_rem = hr * hr * hr * hr * (3.0 / 16.0 / 24.0);
    double d1_rem = hr * hr * hr * range * (3.0 / 16.0 / 6.0);

    if (h == 0.0)
        return;
    /* sums that overflowed say nothing: then a pass */
    if (nll_rem <= 1e-17 * fabs(last->nll) &&
        d1_rem <= sr->tol * beta * last->d2 && isfinite(last->nll) &&
        isfinite(last->d1) && isfinite(last->d2) && isfinite(last->d3)) {
        block_sums s = *last;
        s.nll += h * (s.d1 + h * (s.d2 / 2.0 + h * s.d3 / 6.0));
        s.d1 += h * (s.d2 + h * s.d3 / 2.0);
        s.d2 += h * s.d3;
        if (isfinite(s.nll) && isfinite(s.d1)) {
            *last = s;
            return;
        }
    }
    pass(data, beta, 1, sr->threads, last);
}

/* A logit that is not finite: the first one, by row and column. */
static calib_status not_finite(const temp_data *d, calib_error *err)
{
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < d->k; j++)
            if (!isfinite(logit(d, i, j)))
                return calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1,
                                  -1, "logit %g in column %zu is not finite",
                                  logit(d, i, j), j);
    return calib_failf(err, CALIB_E_VALUE, "a logit is not finite");
}

calib_status calib_temperature_fit_logits(const void *z, calib_dtype dtype,
                                          size_t n, size_t k,
                                          const int64_t *labels,
                                          const calib_fit_options *opt,
                                          double *temperature,
                                          calib_fit_info *info,
                                          calib_error *err)
{
    double tol = opt->tolerance > 0.0 ? opt->tolerance : 1e-12;
    size_t max_it = opt->max_iterations > 0 ? opt->max_iterations
                                            : DEFAULT_MAX_ITERATIONS;
    temp_data data = {z, dtype, n, k, labels, NULL, 1, 1.0};
    calib_fit_info fi;
    block_sums at_one, at_start, both[MAX_BETAS], last;
    search sr;
    double one, bmin, bmax, beta, start, betas[MAX_BETAS], t;

    if (n == 0 || k < 2)
        return calib_failf(err, CALIB_E_SHAPE,
                           "temperature scaling needs rows and >= 2 classes");
    data.row_max = calib_malloc(n * sizeof *data.row_max);
    if (data.row_max == NULL)
        return calib_failf(err, CALIB_E_NOMEM,
                           "out of memory (temperature scaling)");

again:
    /* beta in the units of the scaled logits: T = 1 is beta = 1 / scale;
     * the first bracket holds both it and [1e-4, 1e4] (the optimum of
     * scaled logits is near 1) */
    one = 1.0 / data.scale;
    bmin = fmax(fmin(1.0, one) / CALIB_TEMPERATURE_MAX, BETA_FLOOR);
    bmax = fmin(fmax(1.0, one) / CALIB_TEMPERATURE_MIN, BETA_CEIL);
    beta = start = one;
    data.fill_max = 1;
    memset(&fi, 0, sizeof fi);
    fi.n = n;
    memset(&sr, 0, sizeof sr);
    sr.data = &data;
    sr.threads = opt->threads;
    sr.tol = tol;
    sr.max_it = max_it;
    sr.lo = bmin;
    sr.hi = bmax;

    /* the start from every SUB_STRIDE-th row (which finds their maxima
     * as it goes), with no end checks on the sample */
    if (n / SUB_STRIDE >= SUB_MIN) {
        search sub = sr;
        block_sums ignored;
        double b;

        sub.row_stride = SUB_STRIDE;
        sub.tol = SUB_TOLERANCE;
        sub.max_it = 50;
        sub.lo_known = sub.hi_known = 1;
        b = solve(&sub, one, &ignored);
        if (b > bmin && b < bmax && b != one)
            start = b;
    }

    /* T = 1 (the NLL before, and which end can hold the optimum: f' is
     * nondecreasing) and the start, in one pass that also stores the
     * row maxima, checks the logits and measures their rows' range */
    betas[0] = one;
    betas[1] = start;
    pass_n(&data, betas, start != one ? 2 : 1, 1, opt->threads, both);
    at_one = both[0];
    at_start = start != one ? both[1] : both[0];
    data.fill_max = 0;
    if (isnan(at_one.range)) {
        calib_status st = not_finite(&data, err);
        calib_free(data.row_max);
        return st;
    }
    /* rows that span far more or far less than 1 (logits times 1e+-10,
     * or 1e308 and -1e308 in one row) would need a wider bracket, or
     * overflow or underflow the moments' sums: fit again with the logits
     * scaled by a power of two, so that the widest row spans 2 to 4 */
    if (data.scale == 1.0 && at_one.range > 0.0 &&
        (at_one.range > SCALE_ABOVE || at_one.range < 1.0 / SCALE_ABOVE)) {
        /* at most 2^+-1000: subnormal ranges stay within reach */
        int e = -ilogb(at_one.range);
        data.scale = ldexp(1.0, e > 1000 ? 1000 : e < -1000 ? -1000 : e);
        goto again;
    }
    fi.nll_before = at_one.nll;
    last = at_one;
    if (at_one.d1 == 0.0) {
        /* constant rows (f' = 0 for every beta) or a root at T = 1 */
        block_sums e;
        pass(&data, bmin, 1, opt->threads, &e);
        if (e.d1 >= 0.0 && widen_low(&data, opt->threads, &sr, &e) != 0) {
            beta = bmin;
            sr.status = "temperature-to-infinity";
            last = e;
            goto done;
        }
        sr.lo_known = 1;
    }
    if (at_one.not_max == 0) {
        beta = bmax;
        sr.status = "temperature-to-zero";
        pass(&data, beta, 1, opt->threads, &last);
        goto done;
    }
    if (at_one.d1 == 0.0) {
        sr.status = "converged";
        goto done;
    }
    if (at_one.d1 > 0.0) {
        /* the optimum is at T > 1; T -> infinity is found by the search
         * when a step would leave [bmin, one] */
        sr.hi = one;
        sr.hi_known = 1;
    } else {
        sr.lo = one;
        sr.lo_known = 1;
    }

    /* the start, kept inside the bracket; its sums are known */
    if (start > sr.lo && start < sr.hi) {
        beta = start;
        sr.first = &at_start;
    } else {
        sr.first = &at_one;
    }

    /* all rows, from there */
    sr.row_stride = 1;
    beta = solve(&sr, beta, &last);
    if (strcmp(sr.status, "temperature-to-infinity") == 0) {
        block_sums e = last;
        double old_lo = sr.lo;

        if (widen_low(&data, opt->threads, &sr, &e) == 0) {
            size_t before = sr.iterations;
            sr.hi = old_lo;
            sr.hi_known = 1;
            sr.lo_known = 1;
            sr.first = NULL;
            beta = solve(&sr, sr.hi, &last);
            sr.iterations += before;
        }
    }
    if (strcmp(sr.status, "temperature-to-zero") == 0 &&
        widen_high(&data, opt->threads, &sr) == 0) {
        size_t before = sr.iterations;
        beta = solve(&sr, sr.lo, &last);
        sr.iterations += before;
    }
    fi.iterations = sr.iterations;
    if (strncmp(sr.status, "temperature-to-", 15) != 0)
        at_result(&data, beta, &sr, 2.0 * at_one.range * data.scale, &last);

done:
    calib_free(data.row_max);
    /* f' in the input's units: beta = beta_scaled * scale */
    fi.nll_after = last.nll;
    fi.gradient = fabs(last.d1) / data.scale;
    /* the T at which nll_after holds, also at an end of the bracket;
     * beyond the doubles, the largest or smallest of them */
    t = 1.0 / beta / data.scale;
    if (!(t > 0.0)) {
        t = DBL_MIN;
        sr.status = "temperature-to-zero";
    } else if (!isfinite(t)) {
        t = DBL_MAX;
        sr.status = "temperature-to-infinity";
    }
    snprintf(fi.status, sizeof fi.status, "%s", sr.status);
    *temperature = t;
    *info = fi;
    return CALIB_OK;
}

calib_status calib_temperature_fit(const double *z, size_t n, size_t k,
                                   const int64_t *labels,
                                   const calib_fit_options *opt,
                                   double *temperature, calib_fit_info *info,
                                   calib_error *err)
{
    return calib_temperature_fit_logits(z, CALIB_FLOAT64, n, k, labels, opt,
                                        temperature, info, err);
}
