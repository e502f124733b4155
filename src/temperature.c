/*
 * temperature.c - temperature scaling fitted to the exact optimum.
 *
 * p = softmax(beta * z) with beta = 1 / T > 0 (Guo et al. 2017, "On
 * Calibration of Modern Neural Networks"). The mean NLL
 *   f(beta) = mean_i [ log sum_j exp(beta z_ij) - beta z_iy ]
 * is convex in beta: f'(beta) = mean_i (E_p[z_i] - z_iy) and f''(beta) =
 * mean_i Var_p(z_i) >= 0, the mean and variance taken under p_i. So the
 * optimum is the root of f', found by Newton's method safeguarded by a
 * bracket [lo, hi] with f'(lo) < 0 < f'(hi): a Newton step that leaves
 * the bracket is replaced by bisection (geometric while the bracket spans
 * more than a factor 4). It stops when beta changes by at most
 * opt->tolerance relative (1e-12), or f' is exactly 0.
 *
 * Degenerate data: f' is increasing, so f'(beta_min) >= 0 (in particular
 * f'(0) = mean_i (mean_j z_ij - z_iy) >= 0, e.g. constant logits) puts
 * the optimum at T -> infinity, and a true class that is the largest logit
 * in every row (f' < 0 for every beta) or f'(beta_max) <= 0 puts it at
 * T -> 0. Those fits end at T = CALIB_TEMPERATURE_MAX or _MIN with status
 * "temperature-to-infinity" or "temperature-to-zero".
 *
 * Sums run over fixed blocks of rows, each summed in row order, and the
 * blocks are added in block order: the result has the same bits for any
 * number of threads.
 */
#include "calibrators.h"
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Rows per block of the fixed partition; large enough that threads pay
 * off, small enough that several blocks exist for mid-sized inputs. */
#define BLOCK_ROWS 4096

/* Below this many blocks the threads cost more than they save. */
#define MIN_BLOCKS_FOR_THREADS 4

/* Newton iterations when opt->max_iterations is 0: Newton converges in
 * about 10; pure bisection from [1e-4, 1e4] to 1e-12 takes about 60. */
#define DEFAULT_MAX_ITERATIONS 200

typedef struct block_sums {
    double nll;
    double d1;
    double d2;
} block_sums;

typedef struct nll_job {
    const double *z;
    size_t n;
    size_t k;
    const int64_t *labels;
    double beta;
    block_sums *blocks;
    size_t n_blocks;
    size_t first;       /* this worker's first block */
    size_t stride;      /* and the step between its blocks */
} nll_job;

/* Sums of the per-row NLL, f' and f'' terms over rows [r0, r1). */
static void sum_rows(const nll_job *job, size_t r0, size_t r1,
                     block_sums *out)
{
    size_t k = job->k;
    double beta = job->beta;
    block_sums s = {0.0, 0.0, 0.0};

    for (size_t i = r0; i < r1; i++) {
        const double *z = job->z + i * k;
        size_t y = (size_t)job->labels[i];
        double m = z[0], sum = 0.0, mean = 0.0, var = 0.0;

        for (size_t j = 1; j < k; j++)
            if (z[j] > m)
                m = z[j];

        /* shifted by the row max, so every exponent is <= 0 and the
         * largest term is 1; the variance may lose digits to cancellation
         * but only steers Newton's step, never the root */
        for (size_t j = 0; j < k; j++) {
            double d = z[j] - m, e = exp(beta * d);
            sum += e;
            mean += e * d;
            var += e * d * d;
        }
        mean /= sum;
        var = var / sum - mean * mean;
        if (var < 0.0)
            var = 0.0;
        s.nll += log(sum) - beta * (z[y] - m);
        s.d1 += mean - (z[y] - m);
        s.d2 += var;
    }
    *out = s;
}

static void *nll_worker(void *arg)
{
    const nll_job *job = arg;

    for (size_t b = job->first; b < job->n_blocks; b += job->stride) {
        size_t r0 = b * BLOCK_ROWS;
        size_t r1 = r0 + BLOCK_ROWS < job->n ? r0 + BLOCK_ROWS : job->n;
        sum_rows(job, r0, r1, &job->blocks[b]);
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
    {
        int started[MAX_THREADS];
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
}

void calib_temperature_nll(const double *z, size_t n, size_t k,
                           const int64_t *labels, double beta,
                           unsigned threads, double *nll, double *d1,
                           double *d2)
{
    enum { STACK_BLOCKS = 256 };
    block_sums stack_blocks[STACK_BLOCKS];
    block_sums *blocks = stack_blocks;
    size_t n_blocks = (n + BLOCK_ROWS - 1) / BLOCK_ROWS;
    nll_job job;
    block_sums total = {0.0, 0.0, 0.0};

    if (n_blocks > STACK_BLOCKS) {
        blocks = calib_calloc(n_blocks, sizeof *blocks);
        if (blocks == NULL) {
            /* no room for per-block sums: one thread, same partition */
            blocks = stack_blocks;
            threads = 1;
        }
    }
    job.z = z;
    job.n = n;
    job.k = k;
    job.labels = labels;
    job.beta = beta;
    job.blocks = blocks;
    job.n_blocks = n_blocks;
    job.first = 0;
    job.stride = 1;

    if (blocks == stack_blocks && n_blocks > STACK_BLOCKS) {
        /* sequential, block by block, added in order as they finish */
        for (size_t b = 0; b < n_blocks; b++) {
            size_t r0 = b * BLOCK_ROWS;
            size_t r1 = r0 + BLOCK_ROWS < n ? r0 + BLOCK_ROWS : n;
            block_sums s;
            sum_rows(&job, r0, r1, &s);
            total.nll += s.nll;
            total.d1 += s.d1;
            total.d2 += s.d2;
        }
    } else {
        run_blocks(&job, threads == 0 ? calib_cpu_count() : threads);
        for (size_t b = 0; b < n_blocks; b++) {
            total.nll += blocks[b].nll;
            total.d1 += blocks[b].d1;
            total.d2 += blocks[b].d2;
        }
        if (blocks != stack_blocks)
            calib_free(blocks);
    }
    if (nll != NULL)
        *nll = total.nll / (double)n;
    if (d1 != NULL)
        *d1 = total.d1 / (double)n;
    if (d2 != NULL)
        *d2 = total.d2 / (double)n;
}

/* 1 if in every row the true class holds the largest logit (ties
 * allowed): then f' < 0 for all beta and the optimum is T -> 0. */
static int true_class_always_max(const double *z, size_t n, size_t k,
                                 const int64_t *labels)
{
    for (size_t i = 0; i < n; i++) {
        const double *row = z + i * k;
        double zy = row[labels[i]];
        for (size_t j = 0; j < k; j++)
            if (row[j] > zy)
                return 0;
    }
    return 1;
}

calib_status calib_temperature_fit(const double *z, size_t n, size_t k,
                                   const int64_t *labels,
                                   const calib_fit_options *opt,
                                   double *temperature, calib_fit_info *info,
                                   calib_error *err)
{
    double beta_min = 1.0 / CALIB_TEMPERATURE_MAX;
    double beta_max = 1.0 / CALIB_TEMPERATURE_MIN;
    double tol = opt->tolerance > 0.0 ? opt->tolerance : 1e-12;
    size_t max_it = opt->max_iterations > 0 ? opt->max_iterations
                                            : DEFAULT_MAX_ITERATIONS;
    unsigned threads = opt->threads;
    calib_fit_info fi;
    double beta, t_out, g, h, nll;
    const char *status = "max-iterations";

    if (n == 0 || k < 2)
        return calib_failf(err, CALIB_E_SHAPE,
                           "temperature scaling needs rows and >= 2 classes");
    memset(&fi, 0, sizeof fi);
    fi.n = n;
    calib_temperature_nll(z, n, k, labels, 1.0, threads, &fi.nll_before,
                          NULL, NULL);

    /* the ends first: is the optimum inside [beta_min, beta_max]? */
    calib_temperature_nll(z, n, k, labels, beta_min, threads, NULL, &g,
                          NULL);
    if (g >= 0.0) {
        beta = beta_min;
        t_out = CALIB_TEMPERATURE_MAX;
        status = "temperature-to-infinity";
        goto done;
    }
    if (true_class_always_max(z, n, k, labels)) {
        beta = beta_max;
        t_out = CALIB_TEMPERATURE_MIN;
        status = "temperature-to-zero";
        goto done;
    }
    calib_temperature_nll(z, n, k, labels, beta_max, threads, NULL, &g,
                          NULL);
    if (g <= 0.0) {
        beta = beta_max;
        t_out = CALIB_TEMPERATURE_MIN;
        status = "temperature-to-zero";
        goto done;
    }

    /* safeguarded Newton on f'(beta) = 0 inside the bracket */
    {
        double lo = beta_min, hi = beta_max;
        beta = 1.0;
        for (size_t it = 1; it <= max_it; it++) {
            double next;

            fi.iterations = it;
            calib_temperature_nll(z, n, k, labels, beta, threads, NULL, &g,
                                  &h);
            if (g == 0.0) {
                status = "converged";
                break;
            }
            if (g < 0.0)
                lo = beta;
            else
                hi = beta;
            next = h > 0.0 ? beta - g / h : (double)NAN;
            if (!(next > lo && next < hi))
                next = hi > 4.0 * lo ? sqrt(lo * hi) : 0.5 * (lo + hi);
            if (fabs(next - beta) <= tol * next) {
                beta = next;
                status = "converged";
                break;
            }
            beta = next;
            if (hi - lo <= tol * lo) {
                status = "converged";
                break;
            }
        }
        t_out = 1.0 / beta;
    }

done:
    calib_temperature_nll(z, n, k, labels, beta, threads, &nll, &g, NULL);
    fi.nll_after = nll;
    fi.gradient = fabs(g);
    snprintf(fi.status, sizeof fi.status, "%s", status);
    *temperature = t_out;
    *info = fi;
    return CALIB_OK;
}
