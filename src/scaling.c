/*
 * scaling.c - vector scaling, matrix scaling and Dirichlet calibration,
 * fitted by L-BFGS on the regularised mean negative log-likelihood.
 *
 * All three maps are p = softmax(W x + b) on a row x of k values: logits
 * for vector and matrix scaling (Guo et al. 2017, "On Calibration of
 * Modern Neural Networks", section 4.2), log-probabilities for Dirichlet
 * calibration (Kull et al. 2019, "Beyond temperature scaling: obtaining
 * well-calibrated multiclass probabilities with Dirichlet calibration").
 * Vector scaling restricts W to a diagonal diag(w). The fit minimises
 *   L = (1/n) sum_i -log softmax(W x_i + b)_{y_i} + R(W, b)
 * with R = l2 * (|w - 1|^2 + |b|^2) for vector scaling, l2 * (|W - I|_F^2
 * + |b|^2) for matrix scaling (both pull towards the identity map, so
 * the penalty is zero where the fit starts), and Kull et al.'s ODIR,
 * lambda / (k (k - 1)) * sum_{r != c} W_rc^2 + mu / k * |b|^2, for
 * Dirichlet calibration. The gradient is analytic: dL/dW = (P - Y)^T X / n
 * plus dR/dW, dL/db = the column sums of (P - Y) / n plus dR/db, where P
 * holds the fitted probabilities and Y the one-hot labels; it is
 * accumulated row by row into a k x k buffer, so memory is O(n k + k^2).
 * L-BFGS with the More-Thuente line search comes from liblbfgs. It runs
 * on a reparametrisation with the same optimum (fit_objective): the
 * directions that shift every z_r alike, along which only the weak
 * regulariser curves L, are projected out, and each parameter is scaled
 * by the inverse square root of L's Hessian diagonal at the start; on
 * the real 10-class splits this cuts Dirichlet fits from about 4000 to
 * 800 iterations. It ends when liblbfgs' gradient test holds or when,
 * restarted after a failed line search, even a step along -g finds no
 * decrease. Inputs of any size: the optimiser sees x / s, s the power of
 * 2 at max |x| (when that is >= 2), with W' = s W, and the regulariser
 * stays in units of W. It starts from the better, on the objective, of
 * the identity map (W = I, b = 0, where R = 0) and temperature scaling's
 * exact optimum (W = I / T, from temperature.c, on the same x), and
 * returns that start with status "no-improvement" if it ends anywhere
 * worse or non-finite: the regularised objective, and with it the NLL
 * of the vector and matrix fits, never ends above the uncalibrated one,
 * and every fit ends at least as low as temperature scaling on L.
 *
 * Numerics: each row's -log p_y is log1p(sum_{r != top} exp(z_r - m)) -
 * (z_y - m) with m = max_r z_r = z_top, accurate for logits of any finite
 * size and for p_y within an ulp of 1, and 1 - p_y is computed from the
 * other classes' terms, not by cancellation. Rows are
 * cut into chunks whose count depends only on n and k; each chunk's sums
 * are kept apart and added in chunk order, so the result is the same bits
 * for any number of threads. Limits: k >= 2; every x must be finite (a
 * log-probability of a zero probability is -inf and is refused: clip the
 * probabilities before taking the log); at most INT_MAX parameters.
 * liblbfgs allocates its own O(LBFGS_MEMORY * parameters) workspace with
 * malloc, outside calib_malloc; its failure still returns CALIB_E_NOMEM.
 * Applying a map computes W x + b overflow-safely when a plain sum is
 * not finite (weights of 1e308 read from a model file) and clamps it to
 * +-DBL_MAX, so probabilities are finite, at their one-hot limit.
 */
#include "scaling.h"
#include "scaling_objective.h"
#include "calibrators.h"
#include "internal.h"

#include <lbfgs.h>

#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* liblbfgs works on our parameter vector in place: it must be double. */
_Static_assert(sizeof(lbfgsfloatval_t) == sizeof(double),
               "liblbfgs must be built with LBFGS_FLOAT == 64");

/* Rows per chunk of partial sums (at least k, so that the chunks' k x k
 * gradient buffers stay within O(n k) memory). */
#define CHUNK_ROWS 1024

/* Below this many multiply-adds per evaluation, threads cost more than
 * they save; the result does not depend on the choice. */
#define THREAD_MIN_WORK 2000000.0

/* Iterations when opt->max_iterations is 0: on the real 10-class splits
 * vector scaling takes 30 to 50, matrix scaling 400 to 800, Dirichlet
 * calibration 400 to 800; this leaves room for harder data. */
#define DEFAULT_MAX_ITERATIONS 5000

/* liblbfgs' gradient test, ||g|| < GRADIENT_EPSILON * max(1, ||u||) on
 * the scaled parameters u: near the limit of what double evaluation of a
 * mean over n rows resolves, so the fit usually ends by a line search
 * that can no longer decrease the objective in floating point. */
#define GRADIENT_EPSILON 1e-10

/* Stored corrections of L-BFGS (liblbfgs' default is 6): more of them
 * help on the poorly conditioned Dirichlet objective, at O(m p) memory. */
#define LBFGS_MEMORY 20

/* Fresh starts of L-BFGS after failed line searches that still made
 * progress; each costs at most one iteration's evaluations when it ends
 * the fit. */
#define MAX_RESTARTS 5

/* Smallest Hessian diagonal entry used for scaling, relative to the
 * largest: bounds the scaling's own condition number by 1e3. */
#define SCALE_FLOOR 1e-6

/* The evaluation state shared by the objective, the optimiser's callback
 * and the worker threads. */
typedef struct problem {
    calib_method method;
    const double *x;
    const int64_t *labels;
    size_t n;
    size_t k;
    size_t n_weights;    /* k (vector) or k * k */
    size_t n_params;     /* n_weights + k */
    double l2;
    double lambda;
    double mu;
    double unit;         /* s: the fit sees x / s and W' = s W (below) */
    double inv_unit;     /* 1 / s, exact: s is a power of 2 */
    int nonfinite;       /* an evaluation gave a non-finite objective */
    double *own_x;       /* fit only: x / s when s != 1, n x k */
    size_t chunk_rows;
    size_t n_chunks;
    size_t stride;       /* per chunk: n_params gradient sums, loss, error */
    double *partial;     /* n_chunks x stride */
    unsigned threads;
    double *scratch;     /* threads x k */
    size_t iterations;
    double *scale;       /* fit only: theta = scale * u, n_params */
    double *theta;       /* fit only: scratch for theta, n_params */
    double *projected;   /* fit only: scratch for P theta, n_params */
    double *grad_reg;    /* fit only: scratch for dR, n_params */
} problem;

typedef struct worker {
    const problem *p;
    const double *params;
    unsigned id;
    unsigned count;
    int want_grad;
} worker;

/* Neumaier's compensated addition: *sum + *err carries the exact total
 * far better than a plain running sum. */
static void neumaier_add(double *sum, double *err, double v)
{
    double t = *sum + v;

    if (fabs(*sum) >= fabs(v))
        *err += (*sum - t) + v;
    else
        *err += (v - t) + *sum;
    *sum = t;
}

/* z = W x + b for one row (W diagonal for vector scaling). */
static void linear_map(calib_method method, const double *params,
                       const double *x, size_t k, double *z)
{
    if (method == CALIB_VECTOR) {
        const double *b = params + k;
        for (size_t r = 0; r < k; r++)
            z[r] = params[r] * x[r] + b[r];
        return;
    }

    /* four partial sums: independent chains the compiler can overlap
     * (a fixed order, so still the same bits on every run) */
    const double *b = params + k * k;
    for (size_t r = 0; r < k; r++) {
        const double *w = params + r * k;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        size_t c = 0;
        for (; c + 4 <= k; c += 4) {
            s0 += w[c] * x[c];
            s1 += w[c + 1] * x[c + 1];
            s2 += w[c + 2] * x[c + 2];
            s3 += w[c + 3] * x[c + 3];
        }
        for (; c < k; c++)
            s0 += w[c] * x[c];
        z[r] = b[r] + ((s0 + s1) + (s2 + s3));
    }
}

/* Writes W = diag * I, b = 0 in the method's layout. */
static void diagonal_params(calib_method method, size_t k, double diag,
                            double *params)
{
    size_t n_weights = method == CALIB_VECTOR ? k : k * k;

    memset(params, 0, (n_weights + k) * sizeof *params);
    for (size_t r = 0; r < k; r++)
        params[method == CALIB_VECTOR ? r : r * k + r] = diag;
}

/* The loss and gradient sums of one chunk of rows into its own slot of
 * p->partial; z is a scratch row of k values. */
static void eval_chunk(const problem *p, const double *params, size_t chunk,
                       double *z, int want_grad)
{
    size_t k = p->k;
    size_t lo = chunk * p->chunk_rows;
    size_t hi = lo + p->chunk_rows < p->n ? lo + p->chunk_rows : p->n;
    double *out = p->partial + chunk * p->stride;
    double *grad_w = out, *grad_b = out + p->n_weights;
    double sum = 0.0, err = 0.0;

    memset(out, 0, p->stride * sizeof *out);
    for (size_t i = lo; i < hi; i++) {
        const double *xi = p->x + i * k;
        size_t y = (size_t)p->labels[i];
        double m, zy, e_other = 0.0, e_rest = 0.0, s;
        size_t top = 0;

        /* z - max(z), then its exponentials in place */
        linear_map(p->method, params, xi, k, z);
        m = z[0];
        for (size_t r = 1; r < k; r++)
            if (z[r] > m) {
                m = z[r];
                top = r;
            }
        zy = z[y] - m;
        for (size_t r = 0; r < k; r++) {
            z[r] = exp(z[r] - m);
            if (r != y)
                e_other += z[r];
            if (r != top)
                e_rest += z[r];
        }
        s = e_other + z[y];

        /* log(s) = log1p(the terms below the top one): keeps -log p_y
         * accurate when p_y is within an ulp of 1 */
        neumaier_add(&sum, &err, log1p(e_rest) - zy);
        if (!want_grad)
            continue;

        /* (p - y) of this row, times x for the weights */
        for (size_t r = 0; r < k; r++) {
            double d = r == y ? -e_other / s : z[r] / s;
            grad_b[r] += d;
            if (p->method == CALIB_VECTOR) {
                grad_w[r] += d * xi[r];
            } else {
                double *g = grad_w + r * k;
                for (size_t c = 0; c < k; c++)
                    g[c] += d * xi[c];
            }
        }
    }
    out[p->n_params] = sum;
    out[p->n_params + 1] = err;
}

static void *worker_main(void *arg)
{
    const worker *w = arg;
    double *z = w->p->scratch + (size_t)w->id * w->p->k;

    for (size_t c = w->id; c < w->p->n_chunks; c += w->count)
        eval_chunk(w->p, w->params, c, z, w->want_grad);
    return NULL;
}

/* Fills every chunk's slot, on up to p->threads threads. A thread that
 * cannot be started leaves its chunks to the calling thread. */
static void eval_chunks(const problem *p, const double *params,
                        int want_grad)
{
    unsigned count = p->threads;
    pthread_t tid[64];
    worker w[64];
    int started[64];

    if (count > 64)
        count = 64;
    if (count > p->n_chunks)
        count = (unsigned)p->n_chunks;
    for (unsigned t = 0; t < count; t++) {
        w[t].p = p;
        w[t].params = params;
        w[t].id = t;
        w[t].count = count;
        w[t].want_grad = want_grad;
        started[t] = 0;
    }
    for (unsigned t = 1; t < count; t++)
        started[t] = pthread_create(&tid[t], NULL, worker_main, &w[t]) == 0;
    worker_main(&w[0]);
    for (unsigned t = 1; t < count; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            worker_main(&w[t]);
    }
}

/* R(W, b) for params holding W' = s W and b; adds dR/d(W', b) to grad
 * when grad is not NULL. */
static double regulariser(const problem *p, const double *params,
                          double *grad)
{
    size_t k = p->k;
    const double *b = params + p->n_weights;
    double r_w = 0.0, r_b = 0.0, a_w, a_b, inv = p->inv_unit;

    for (size_t j = 0; j < k; j++)
        r_b += b[j] * b[j];

    if (p->method == CALIB_DIRICHLET) {
        a_w = p->lambda / ((double)k * (double)(k - 1));
        a_b = p->mu / (double)k;
        for (size_t r = 0; r < k; r++)
            for (size_t c = 0; c < k; c++)
                if (r != c) {
                    double w = params[r * k + c] * inv;
                    r_w += w * w;
                    if (grad != NULL)
                        grad[r * k + c] += 2.0 * a_w * w * inv;
                }
    } else {
        a_w = p->l2;
        a_b = p->l2;
        for (size_t j = 0; j < p->n_weights; j++) {
            int diagonal = p->method == CALIB_VECTOR || j % (k + 1) == 0;
            double d = params[j] * inv - (diagonal ? 1.0 : 0.0);
            r_w += d * d;
            if (grad != NULL)
                grad[j] += 2.0 * a_w * d * inv;
        }
    }
    if (grad != NULL)
        for (size_t j = 0; j < k; j++)
            grad[p->n_weights + j] += 2.0 * a_b * b[j];
    return a_w * r_w + a_b * r_b;
}

/* The mean NLL at params, and its gradient into grad when not NULL. */
static double mean_nll(const problem *p, const double *params, double *grad)
{
    double sum = 0.0, err = 0.0;
    double inv_n = 1.0 / (double)p->n;

    eval_chunks(p, params, grad != NULL);

    /* chunk order, whatever thread computed which chunk */
    if (grad != NULL)
        memset(grad, 0, p->n_params * sizeof *grad);
    for (size_t c = 0; c < p->n_chunks; c++) {
        const double *part = p->partial + c * p->stride;
        neumaier_add(&sum, &err, part[p->n_params] + part[p->n_params + 1]);
        if (grad != NULL)
            for (size_t j = 0; j < p->n_params; j++)
                grad[j] += part[j];
    }
    if (grad != NULL)
        for (size_t j = 0; j < p->n_params; j++)
            grad[j] *= inv_n;
    return (sum + err) * inv_n;
}

/* The objective at params; its gradient into grad and the mean NLL into
 * *nll when those are not NULL. */
static double evaluate(const problem *p, const double *params, double *grad,
                       double *nll)
{
    double mean = mean_nll(p, params, grad);

    if (nll != NULL)
        *nll = mean;
    return mean + regulariser(p, params, grad);
}

/*
 * The NLL does not change when the same vector is added to every row of W
 * and the same number to every b_r (softmax ignores a common shift of z),
 * but the regulariser does. gauge_project moves theta along those
 * directions to the point where the regulariser is smallest: b centred,
 * and for matrix scaling each column of W - I centred, for Dirichlet each
 * column of W shifted so that its off-diagonal entries sum to 0. Vector
 * scaling only has the shift of b.
 */
static void gauge_project(const problem *p, const double *theta,
                          double *out)
{
    size_t k = p->k;
    double mean = 0.0;

    memcpy(out, theta, p->n_params * sizeof *out);
    for (size_t j = 0; j < k; j++)
        mean += theta[p->n_weights + j];
    mean /= (double)k;
    for (size_t j = 0; j < k; j++)
        out[p->n_weights + j] -= mean;
    if (p->method == CALIB_VECTOR)
        return;

    for (size_t c = 0; c < k; c++) {
        double shift = 0.0;
        for (size_t r = 0; r < k; r++) {
            if (p->method == CALIB_MATRIX)
                shift += theta[r * k + c] - (r == c ? p->unit : 0.0);
            else if (r != c)
                shift += theta[r * k + c];
        }
        shift /= (double)(p->method == CALIB_MATRIX ? k : k - 1);
        for (size_t r = 0; r < k; r++)
            out[r * k + c] -= shift;
    }
}

/* grad = P^T grad, P the linear part of gauge_project. */
static void gauge_transpose(const problem *p, double *grad)
{
    size_t k = p->k;
    double mean = 0.0;

    for (size_t j = 0; j < k; j++)
        mean += grad[p->n_weights + j];
    mean /= (double)k;
    for (size_t j = 0; j < k; j++)
        grad[p->n_weights + j] -= mean;
    if (p->method == CALIB_VECTOR)
        return;

    for (size_t c = 0; c < k; c++) {
        double sum = 0.0;
        for (size_t r = 0; r < k; r++)
            sum += grad[r * k + c];
        for (size_t r = 0; r < k; r++) {
            if (p->method == CALIB_MATRIX)
                grad[r * k + c] -= sum / (double)k;
            else if (r != c)
                grad[r * k + c] -= sum / (double)(k - 1);
        }
    }
}

/*
 * What L-BFGS minimises: F(u) = NLL(theta) + R(P theta) with theta =
 * scale * u. F has the same minimum as the objective (the NLL is the same
 * at theta and P theta, and R(P theta) <= R(theta)), and P theta of its
 * minimiser is the objective's minimiser; but F is exactly flat along the
 * shifts, which the objective is only through the weak regulariser, and
 * the diagonal scaling evens out the curvature of weights and intercepts.
 * Both change only the path, not the optimum.
 */
static double fit_objective(problem *p, const double *u, double *g_u)
{
    size_t np = p->n_params;
    double nll, reg;

    for (size_t j = 0; j < np; j++)
        p->theta[j] = p->scale[j] * u[j];
    nll = mean_nll(p, p->theta, g_u);
    gauge_project(p, p->theta, p->projected);
    memset(p->grad_reg, 0, np * sizeof *p->grad_reg);
    reg = regulariser(p, p->projected, p->grad_reg);
    gauge_transpose(p, p->grad_reg);
    for (size_t j = 0; j < np; j++)
        g_u[j] = p->scale[j] * (g_u[j] + p->grad_reg[j]);
    if (!isfinite(nll + reg))
        p->nonfinite = 1;
    return nll + reg;
}

/*
 * The diagonal of the objective's Hessian at params (the identity map),
 * in one pass: (1/n) sum_i p_ir (1 - p_ir) x_ic^2 for W_rc (c = r for
 * vector scaling), (1/n) sum_i p_ir (1 - p_ir) for b_r, plus the
 * regulariser's. scale = 1 / sqrt of it, floored at SCALE_FLOOR times the
 * largest so that a class the data never moves stays well scaled.
 */
static void diagonal_scale(const problem *p, const double *params,
                           double *scale, double *z)
{
    size_t k = p->k, np = p->n_params;
    double top = 0.0;

    memset(scale, 0, np * sizeof *scale);
    for (size_t i = 0; i < p->n; i++) {
        const double *xi = p->x + i * k;
        linear_map(p->method, params, xi, k, z);
        calib_softmax(z, 1, k, z);
        for (size_t r = 0; r < k; r++) {
            double v = z[r] * (1.0 - z[r]);
            scale[p->n_weights + r] += v;
            if (p->method == CALIB_VECTOR) {
                scale[r] += v * xi[r] * xi[r];
            } else {
                for (size_t c = 0; c < k; c++)
                    scale[r * k + c] += v * xi[c] * xi[c];
            }
        }
    }
    for (size_t j = 0; j < np; j++)
        scale[j] /= (double)p->n;

    /* the regulariser's curvature */
    for (size_t j = 0; j < p->n_weights; j++) {
        double inv2 = p->inv_unit * p->inv_unit;
        if (p->method != CALIB_DIRICHLET)
            scale[j] += 2.0 * p->l2 * inv2;
        else if (j / k != j % k)
            scale[j] += 2.0 * p->lambda / ((double)k * (double)(k - 1)) *
                        inv2;
    }
    for (size_t j = 0; j < k; j++)
        scale[p->n_weights + j] += p->method == CALIB_DIRICHLET ?
                                   2.0 * p->mu / (double)k : 2.0 * p->l2;

    for (size_t j = 0; j < np; j++)
        if (scale[j] > top)
            top = scale[j];
    if (!(top > 0.0))
        top = 1.0;
    for (size_t j = 0; j < np; j++)
        scale[j] = 1.0 / sqrt(fmax(scale[j], SCALE_FLOOR * top));
}

static void problem_free(problem *p)
{
    calib_free(p->own_x);
    p->own_x = NULL;
    calib_free(p->partial);
    calib_free(p->scratch);
    calib_free(p->scale);
    p->partial = NULL;
    p->scratch = NULL;
    p->scale = NULL;
}

/* Checks the arguments and allocates the evaluation buffers. */
static calib_status problem_init(problem *p, calib_method method,
                                 const double *x, size_t n, size_t k,
                                 const int64_t *labels,
                                 const calib_fit_options *opt,
                                 calib_error *err)
{
    int overflow = 0;
    size_t cells, bytes;
    double work;

    memset(p, 0, sizeof *p);
    if (method != CALIB_VECTOR && method != CALIB_MATRIX &&
        method != CALIB_DIRICHLET)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "scaling: method %d is not vector, matrix or "
                           "dirichlet", (int)method);
    if (x == NULL || labels == NULL || opt == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "NULL predictions, labels or options");
    if (n == 0 || k == 0)
        return calib_failf(err, CALIB_E_SHAPE,
                           "%zu rows of %zu classes: nothing to fit", n, k);
    if (k < 2)
        return calib_failf(err, CALIB_E_NOT_APPLICABLE,
                           "needs at least 2 classes, got 1");

    /* options */
    if (!(opt->l2 >= 0.0 && isfinite(opt->l2))) {
        calib_failf(err, CALIB_E_ARGUMENT, "l2 must be finite and >= 0");
        calib_error_set_field(err, "l2");
        return CALIB_E_ARGUMENT;
    }
    if (!(opt->dirichlet_lambda >= 0.0 && isfinite(opt->dirichlet_lambda))) {
        calib_failf(err, CALIB_E_ARGUMENT,
                    "dirichlet_lambda must be finite and >= 0");
        calib_error_set_field(err, "dirichlet_lambda");
        return CALIB_E_ARGUMENT;
    }
    if (!(opt->dirichlet_mu >= 0.0 && isfinite(opt->dirichlet_mu))) {
        calib_failf(err, CALIB_E_ARGUMENT,
                    "dirichlet_mu must be finite and >= 0");
        calib_error_set_field(err, "dirichlet_mu");
        return CALIB_E_ARGUMENT;
    }

    /* sizes: liblbfgs counts parameters in an int */
    p->method = method;
    p->x = x;
    p->labels = labels;
    p->n = n;
    p->k = k;
    p->n_weights = method == CALIB_VECTOR ? k : calib_mul_size(k, k,
                                                                &overflow);
    p->n_params = p->n_weights + k;
    if (overflow || p->n_params < k || p->n_params > (size_t)INT_MAX ||
        calib_mul_size(n, k, &overflow) == 0 || overflow)
        return calib_failf(err, CALIB_E_TOO_LARGE,
                           "%zu classes give too many parameters", k);
    p->unit = 1.0;
    p->inv_unit = 1.0;
    p->l2 = opt->l2;
    p->lambda = opt->dirichlet_lambda;
    p->mu = opt->dirichlet_mu;

    /* data: labels in range, every value finite */
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || (uint64_t)labels[i] >= (uint64_t)k)
            return calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1, -1,
                              "label %lld is outside [0, %zu)",
                              (long long)labels[i], k);
        for (size_t j = 0; j < k; j++)
            if (!isfinite(x[i * k + j]))
                return calib_fail(err, CALIB_E_VALUE, NULL, (int64_t)i, -1,
                                  -1, "column %zu: %s value %g", j,
                                  method == CALIB_DIRICHLET ?
                                  "non-finite log-probability" :
                                  "non-finite", x[i * k + j]);
    }

    /* chunks depend on n and k only; threads only on the work */
    p->chunk_rows = k > CHUNK_ROWS ? k : CHUNK_ROWS;
    p->n_chunks = (n - 1) / p->chunk_rows + 1;
    p->stride = p->n_params + 2;
    p->threads = opt->threads == 0 ? calib_cpu_count() : opt->threads;
    work = (double)n * (double)p->n_weights;
    if (work < THREAD_MIN_WORK)
        p->threads = 1;
    if (p->threads > p->n_chunks)
        p->threads = (unsigned)p->n_chunks;
    if (p->threads > 64)
        p->threads = 64;

    cells = calib_mul_size(p->n_chunks, p->stride, &overflow);
    bytes = calib_mul_size(cells, sizeof(double), &overflow);
    if (overflow)
        return calib_failf(err, CALIB_E_TOO_LARGE,
                           "work buffers too large");
    p->partial = calib_malloc(bytes);
    p->scratch = calib_calloc((size_t)p->threads * k, sizeof(double));
    if (p->partial == NULL || p->scratch == NULL) {
        problem_free(p);
        return calib_failf(err, CALIB_E_NOMEM,
                           "out of memory for %zu x %zu work buffers",
                           p->n_chunks, p->stride);
    }
    return CALIB_OK;
}

static lbfgsfloatval_t lbfgs_objective(void *instance,
                                       const lbfgsfloatval_t *params,
                                       lbfgsfloatval_t *grad, const int n,
                                       const lbfgsfloatval_t step)
{
    (void)n;
    (void)step;
    return fit_objective(instance, params, grad);
}

static int lbfgs_progress(void *instance, const lbfgsfloatval_t *params,
                          const lbfgsfloatval_t *grad,
                          const lbfgsfloatval_t fx,
                          const lbfgsfloatval_t xnorm,
                          const lbfgsfloatval_t gnorm,
                          const lbfgsfloatval_t step, int n, int k, int ls)
{
    problem *p = instance;

    (void)params;
    (void)grad;
    (void)fx;
    (void)xnorm;
    (void)gnorm;
    (void)step;
    (void)n;
    (void)ls;
    p->iterations = k > 0 ? (size_t)k : 0;
    return 0;
}

/* The fit status word of a liblbfgs return code, or NULL for codes that
 * are our error (invalid parameters) or out of memory. */
static const char *lbfgs_status_word(int code)
{
    switch (code) {
    case LBFGS_SUCCESS:
    case LBFGS_STOP:
    case LBFGS_ALREADY_MINIMIZED:
        return "converged";
    case LBFGSERR_MAXIMUMITERATION:
        return "max-iterations";
    case LBFGSERR_ROUNDING_ERROR:
        return "line-search-failed: rounding";
    case LBFGSERR_MINIMUMSTEP:
        return "line-search-failed: min-step";
    case LBFGSERR_MAXIMUMSTEP:
        return "line-search-failed: max-step";
    case LBFGSERR_MAXIMUMLINESEARCH:
        return "line-search-failed: max-trials";
    case LBFGSERR_WIDTHTOOSMALL:
        return "line-search-failed: width";
    case LBFGSERR_INCREASEGRADIENT:
        return "line-search-failed: uphill";
    case LBFGSERR_OUTOFINTERVAL:
    case LBFGSERR_INCORRECT_TMINMAX:
        return "line-search-failed: interval";
    default:
        return NULL;
    }
}

/* liblbfgs' other return codes in words (its header documents them; the
 * library has no strerror of its own). */
static const char *lbfgs_code_text(int code)
{
    switch (code) {
    case LBFGSERR_LOGICERROR:
        return "internal logic error";
    case LBFGSERR_CANCELED:
        return "cancelled";
    case LBFGSERR_INVALID_N:
    case LBFGSERR_INVALID_N_SSE:
        return "invalid number of parameters";
    case LBFGSERR_INVALID_X_SSE:
        return "misaligned parameter array";
    case LBFGSERR_INVALID_EPSILON:
    case LBFGSERR_INVALID_TESTPERIOD:
    case LBFGSERR_INVALID_DELTA:
    case LBFGSERR_INVALID_LINESEARCH:
    case LBFGSERR_INVALID_MINSTEP:
    case LBFGSERR_INVALID_MAXSTEP:
    case LBFGSERR_INVALID_FTOL:
    case LBFGSERR_INVALID_WOLFE:
    case LBFGSERR_INVALID_GTOL:
    case LBFGSERR_INVALID_XTOL:
    case LBFGSERR_INVALID_MAXLINESEARCH:
    case LBFGSERR_INVALID_ORTHANTWISE:
    case LBFGSERR_INVALID_ORTHANTWISE_START:
    case LBFGSERR_INVALID_ORTHANTWISE_END:
        return "invalid optimiser setting";
    case LBFGSERR_INVALIDPARAMETERS:
        return "the line search produced a negative step";
    default:
        return "unknown error";
    }
}

/* The unit s of the fit: the power of 2 with s <= max |x| < 2 s, or 1
 * when max |x| < 2. The optimiser works on x / s, whose entries are below
 * 2 in magnitude, with W' = s W: products, gradient sums and the Hessian
 * diagonal stay finite and well scaled however large the inputs, and
 * dividing by a power of 2 is exact. Small inputs are left alone: there
 * the regulariser, in units of W, dominates anyway, and s < 1 would make
 * its curvature 2 l2 / s^2 overflow. */
static calib_status standardise(problem *p, calib_error *err)
{
    size_t count = p->n * p->k;
    double top = 0.0;
    double *own;

    for (size_t j = 0; j < count; j++)
        if (fabs(p->x[j]) > top)
            top = fabs(p->x[j]);
    if (!(top >= 2.0))
        return CALIB_OK;
    p->unit = ldexp(1.0, ilogb(top));
    p->inv_unit = 1.0 / p->unit;
    if (p->unit == 1.0)
        return CALIB_OK;
    own = calib_malloc(count * sizeof *own);
    if (own == NULL)
        return calib_failf(err, CALIB_E_NOMEM,
                           "out of memory for %zu x %zu scaled inputs",
                           p->n, p->k);
    for (size_t j = 0; j < count; j++)
        own[j] = p->x[j] * p->inv_unit;
    p->own_x = own;
    p->x = own;
    return CALIB_OK;
}

size_t calib_scaling_param_count(calib_method method, size_t k)
{
    int overflow = 0;
    size_t weights;

    if (method == CALIB_VECTOR)
        weights = k;
    else if (method == CALIB_MATRIX || method == CALIB_DIRICHLET)
        weights = calib_mul_size(k, k, &overflow);
    else
        return 0;
    if (overflow || weights + k < k)
        return 0;
    return weights + k;
}

calib_status calib_scaling_objective(calib_method method,
                                     const double *params, const double *x,
                                     size_t n, size_t k,
                                     const int64_t *labels,
                                     const calib_fit_options *opt,
                                     double *objective, double *nll,
                                     double *grad, calib_error *err)
{
    problem p;
    calib_status status;
    double *g = NULL, f, mean;

    if (params == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT, "NULL parameters");
    status = problem_init(&p, method, x, n, k, labels, opt, err);
    if (status != CALIB_OK)
        return status;
    if (grad != NULL) {
        g = calib_malloc(p.n_params * sizeof *g);
        if (g == NULL) {
            problem_free(&p);
            return calib_failf(err, CALIB_E_NOMEM,
                               "out of memory for %zu gradient values",
                               p.n_params);
        }
    }

    f = evaluate(&p, params, g, &mean);
    if (objective != NULL)
        *objective = f;
    if (nll != NULL)
        *nll = mean;
    if (grad != NULL)
        memcpy(grad, g, p.n_params * sizeof *g);

    calib_free(g);
    problem_free(&p);
    return CALIB_OK;
}

calib_status calib_scaling_fit(calib_method method, const double *x,
                               size_t n, size_t k, const int64_t *labels,
                               const calib_fit_options *opt, double *params,
                               calib_fit_info *info, calib_error *err)
{
    problem p;
    calib_status status;
    lbfgs_parameter_t setting;
    lbfgsfloatval_t *u = NULL, fx = 0.0;
    double *grad = NULL, *grad0 = NULL, *best = NULL;
    double f0, nll0, f_start, nll_start, f1, nll1, gmax = 0.0;
    double temperature = 0.0;
    calib_fit_info t_info;
    calib_error t_err;
    const char *word;
    size_t np, iterations = 0;
    int code = 0, overflow = 0, max_iterations;

    if (params == NULL || info == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "scaling: NULL parameters or fit info");
    status = problem_init(&p, method, x, n, k, labels, opt, err);
    if (status != CALIB_OK)
        return status;
    np = p.n_params;
    status = standardise(&p, err);
    if (status != CALIB_OK)
        goto done;

    /* buffers: scale, theta, projected, grad_reg; grad, grad0, best */
    u = lbfgs_malloc((int)np);
    p.scale = calib_malloc(calib_mul_size(4 * sizeof(double), np,
                                          &overflow));
    grad = calib_malloc(calib_mul_size(3 * sizeof(double), np, &overflow));
    if (u == NULL || p.scale == NULL || grad == NULL || overflow) {
        status = calib_failf(err, CALIB_E_NOMEM,
                             "out of memory for %zu parameters", np);
        goto done;
    }
    p.theta = p.scale + np;
    p.projected = p.theta + np;
    p.grad_reg = p.projected + np;
    grad0 = grad + np;
    best = grad0 + np;

    /* First start: the identity map (W' = s I), where R = 0; its NLL is
     * the NLL before. */
    diagonal_params(method, k, p.unit, best);
    f0 = evaluate(&p, best, grad0, &nll0);
    f_start = f0;
    nll_start = nll0;

    /* Second start: temperature scaling's exact optimum on x / s, W' =
     * I / T' (W = I / (T' s)); on log-probabilities the same T, as
     * log-softmax only shifts each row. It carries the scale of the data,
     * which the identity does not when the inputs are large: there
     * softmax(x) is one-hot, the Hessian diagonal below vanishes and the
     * optimiser used to stop far from the optimum. The better start on
     * the objective L is kept, so every fit ends no worse than either. */
    calib_error_clear(&t_err);
    status = calib_temperature_fit(p.x, n, k, labels, opt, &temperature,
                                   &t_info, &t_err);
    if (status == CALIB_E_NOMEM) {
        status = calib_failf(err, CALIB_E_NOMEM,
                             "out of memory (temperature start)");
        goto done;
    }
    if (status == CALIB_OK && temperature > 0.0 && isfinite(temperature)) {
        double f_t, nll_t;

        diagonal_params(method, k, 1.0 / temperature, p.theta);
        f_t = evaluate(&p, p.theta, grad, &nll_t);
        if (isfinite(f_t) && !(f_start <= f_t)) {
            memcpy(best, p.theta, np * sizeof *best);
            memcpy(grad0, grad, np * sizeof *grad0);
            f_start = f_t;
            nll_start = nll_t;
        }
    }
    status = CALIB_OK;
    if (!isfinite(f_start)) {
        status = calib_failf(err, CALIB_E_NOT_APPLICABLE,
                             "cannot be fitted: the objective is not finite "
                             "at the identity map nor at temperature "
                             "scaling's optimum");
        goto done;
    }

    diagonal_scale(&p, best, p.scale, p.scratch);
    for (size_t j = 0; j < np; j++)
        u[j] = best[j] / p.scale[j];

    /* L-BFGS, More-Thuente line search (liblbfgs' default) */
    lbfgs_parameter_init(&setting);
    setting.m = LBFGS_MEMORY;
    setting.epsilon = GRADIENT_EPSILON;
    setting.past = 0;
    max_iterations = DEFAULT_MAX_ITERATIONS;
    if (opt->max_iterations > 0)
        max_iterations = opt->max_iterations > (size_t)INT_MAX ?
                         INT_MAX : (int)opt->max_iterations;
    setting.max_iterations = max_iterations;
    /* After a failed line search, start again from where it stopped
     * with the curvature memory cleared: the first step is then along
     * -g. When even that step finds no decrease, the objective cannot be
     * lowered in floating point: the optimum to working precision. */
    for (int run = 0; run <= MAX_RESTARTS; run++) {
        if (run > 0) {
            if (iterations >= (size_t)max_iterations) {
                code = LBFGSERR_MAXIMUMITERATION;
                break;
            }
            setting.max_iterations = max_iterations - (int)iterations;
        }
        p.iterations = 0;
        code = lbfgs((int)np, u, &fx, lbfgs_objective, lbfgs_progress, &p,
                     &setting);
        iterations += p.iterations;
        if (lbfgs_status_word(code) == NULL ||
            strncmp(lbfgs_status_word(code), "line-search-failed", 18) != 0)
            break;
        if (run > 0 && p.iterations == 0) {
            code = LBFGS_STOP;
            break;
        }
    }

    word = lbfgs_status_word(code);
    if (code == LBFGSERR_OUTOFMEMORY) {
        status = calib_failf(err, CALIB_E_NOMEM,
                             "out of memory in L-BFGS");
        goto done;
    }
    if (word == NULL) {
        /* not a line search that ran out of decrease, not the limit: the
         * optimiser broke down, in practice on non-finite values (exit 7
         * in the CLI, with the reason, not a usage error) */
        status = calib_failf(err, CALIB_E_NOT_APPLICABLE,
                             "cannot be fitted: %sthe optimiser (liblbfgs) "
                             "stopped: %s (code %d)",
                             p.nonfinite ? "the objective became "
                                           "non-finite and " : "",
                             lbfgs_code_text(code), code);
        goto done;
    }

    /* back to W and b, judged on the objective itself: never worse than
     * the start, never non-finite */
    for (size_t j = 0; j < np; j++)
        p.theta[j] = p.scale[j] * u[j];
    gauge_project(&p, p.theta, p.projected);
    f1 = evaluate(&p, p.projected, grad, &nll1);
    if (p.unit > 1.0) {
        /* P theta moves W' by about s / k along the shifts: with very
         * large inputs W' x then cancels catastrophically, while theta
         * itself, whose extra penalty is about (1 / s)^2, is exact */
        double nll_u, f_u = evaluate(&p, p.theta, p.grad_reg, &nll_u);
        if (isfinite(f_u) && isfinite(nll_u) && !(f1 <= f_u)) {
            memcpy(p.projected, p.theta, np * sizeof *p.projected);
            memcpy(grad, p.grad_reg, np * sizeof *grad);
            f1 = f_u;
            nll1 = nll_u;
        }
    }
    if (isfinite(f1) && isfinite(nll1) && f1 <= f_start) {
        memcpy(best, p.projected, np * sizeof *best);
    } else {
        memcpy(grad, grad0, np * sizeof *grad);
        f1 = f_start;
        nll1 = nll_start;
        word = "no-improvement";
    }

    /* the gradient in W = W' / s: dL/dW = s dL/dW' (finite in the JSON) */
    for (size_t j = 0; j < np; j++) {
        double g = fabs(grad[j]) * (j < p.n_weights ? p.unit : 1.0);
        if (g > gmax)
            gmax = g;
    }
    if (!(gmax <= DBL_MAX))
        gmax = DBL_MAX;

    /* outputs */
    for (size_t j = 0; j < np; j++)
        params[j] = j < p.n_weights ? best[j] * p.inv_unit : best[j];
    memset(info, 0, sizeof *info);
    info->n = n;
    info->nll_before = nll0;
    info->nll_after = nll1;
    info->iterations = iterations;
    info->gradient = gmax;
    snprintf(info->status, sizeof info->status, "%s", word);

done:
    lbfgs_free(u);
    calib_free(grad);
    problem_free(&p);
    return status;
}

/*
 * z = W x + b for one row whose plain evaluation overflowed (a term or
 * the sum beyond DBL_MAX, or inf - inf = NaN, as with weights of 1e308
 * read from a model file). Each z_r is summed on W and x divided by
 * powers of 2 chosen so that no product, and no sum of up to 2^20 of
 * them, overflows, then multiplied back and clamped to +-DBL_MAX: never
 * NaN, and the softmax of the row is its limit (one-hot on the largest
 * z_r when they are that far apart). Terms smaller than 2^-1074 of the
 * scaled sum are lost, which only happens beside terms beyond 2^500.
 */
static void linear_map_wide(calib_method method, const double *params,
                            const double *x, size_t k, double *z)
{
    size_t n_weights = method == CALIB_VECTOR ? k : k * k;
    const double *b = params + n_weights;
    int ex = 0;
    double top = 0.0;

    for (size_t c = 0; c < k; c++)
        top = fmax(top, fabs(x[c]));
    if (top > 0.0 && ilogb(top) > 500)
        ex = ilogb(top) - 500;
    for (size_t r = 0; r < k; r++) {
        const double *w = method == CALIB_VECTOR ? params + r
                                                 : params + r * k;
        const double *xr = method == CALIB_VECTOR ? x + r : x;
        size_t len = method == CALIB_VECTOR ? 1 : k;
        double wtop = 0.0, sum;
        int ew = 0;

        for (size_t c = 0; c < len; c++)
            wtop = fmax(wtop, fabs(w[c]));
        if (wtop > 0.0 && ilogb(wtop) > 500)
            ew = ilogb(wtop) - 500;
        /* b_r / 2^(ew + ex) below 2^1000 as well */
        if (b[r] != 0.0 && ilogb(b[r]) - 1000 > ew + ex)
            ew = ilogb(b[r]) - 1000 - ex;
        sum = ldexp(b[r], -(ew + ex));
        for (size_t c = 0; c < len; c++)
            sum += ldexp(w[c], -ew) * ldexp(xr[c], -ex);
        sum = ldexp(sum, ew + ex);
        z[r] = fmax(fmin(sum, DBL_MAX), -DBL_MAX);
    }
}

void calib_scaling_apply(calib_method method, const double *params,
                         const double *x, size_t n, size_t k, double *probs)
{
    for (size_t i = 0; i < n; i++) {
        double *z = probs + i * k;
        int finite = 1;

        linear_map(method, params, x + i * k, k, z);
        for (size_t r = 0; r < k; r++)
            finite &= isfinite(z[r]) != 0;
        if (!finite)
            linear_map_wide(method, params, x + i * k, k, z);
        calib_softmax(z, 1, k, z);
    }
}
