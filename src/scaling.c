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
 * decrease. The fit starts at the identity map (W = I, b = 0), where
 * R = 0, and keeps it if the optimiser ends anywhere worse, so the
 * regularised objective, and with it the NLL of the vector and matrix
 * fits, never ends above the uncalibrated one.
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
 */
#include "scaling.h"
#include "scaling_objective.h"
#include "internal.h"

#include <lbfgs.h>

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

/* The method's name in messages (calib_method_name lives in the model
 * code, which calls us). */
static const char *method_word(calib_method method)
{
    return method == CALIB_VECTOR ? "vector" :
           method == CALIB_MATRIX ? "matrix" : "dirichlet";
}

/* Writes W = I, b = 0 in the method's layout. */
static void identity_params(calib_method method, size_t k, double *params)
{
    size_t n_weights = method == CALIB_VECTOR ? k : k * k;

    memset(params, 0, (n_weights + k) * sizeof *params);
    for (size_t r = 0; r < k; r++)
        params[method == CALIB_VECTOR ? r : r * k + r] = 1.0;
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

/* R(W, b); adds dR to grad when grad is not NULL. */
static double regulariser(const problem *p, const double *params,
                          double *grad)
{
    size_t k = p->k;
    const double *b = params + p->n_weights;
    double r_w = 0.0, r_b = 0.0, a_w, a_b;

    for (size_t j = 0; j < k; j++)
        r_b += b[j] * b[j];

    if (p->method == CALIB_DIRICHLET) {
        a_w = p->lambda / ((double)k * (double)(k - 1));
        a_b = p->mu / (double)k;
        for (size_t r = 0; r < k; r++)
            for (size_t c = 0; c < k; c++)
                if (r != c)
                    r_w += params[r * k + c] * params[r * k + c];
        if (grad != NULL)
            for (size_t r = 0; r < k; r++)
                for (size_t c = 0; c < k; c++)
                    if (r != c)
                        grad[r * k + c] += 2.0 * a_w * params[r * k + c];
    } else {
        a_w = p->l2;
        a_b = p->l2;
        for (size_t j = 0; j < p->n_weights; j++) {
            int diagonal = p->method == CALIB_VECTOR || j % (k + 1) == 0;
            double d = params[j] - (diagonal ? 1.0 : 0.0);
            r_w += d * d;
            if (grad != NULL)
                grad[j] += 2.0 * a_w * d;
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
                shift += theta[r * k + c] - (r == c ? 1.0 : 0.0);
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
static double fit_objective(const problem *p, const double *u, double *g_u)
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
        if (p->method != CALIB_DIRICHLET)
            scale[j] += 2.0 * p->l2;
        else if (j / k != j % k)
            scale[j] += 2.0 * p->lambda / ((double)k * (double)(k - 1));
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
                           "%s: NULL predictions, labels or options",
                           method_word(method));
    if (n == 0 || k == 0)
        return calib_failf(err, CALIB_E_SHAPE,
                           "%s: %zu rows of %zu classes: nothing to fit",
                           method_word(method), n, k);
    if (k < 2)
        return calib_failf(err, CALIB_E_NOT_APPLICABLE,
                           "%s: needs at least 2 classes, got 1",
                           method_word(method));

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
                           "%s: %zu classes give too many parameters",
                           method_word(method), k);
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
                           "%s: work buffers too large",
                           method_word(method));
    p->partial = calib_malloc(bytes);
    p->scratch = calib_calloc((size_t)p->threads * k, sizeof(double));
    if (p->partial == NULL || p->scratch == NULL) {
        problem_free(p);
        return calib_failf(err, CALIB_E_NOMEM,
                           "%s: out of memory for %zu x %zu work buffers",
                           method_word(method), p->n_chunks,
                           p->stride);
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
    double f0, nll0, f1, nll1, gmax = 0.0;
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

    /* buffers: scale, theta, projected, grad_reg; grad, grad0, best */
    u = lbfgs_malloc((int)np);
    p.scale = calib_malloc(calib_mul_size(4 * sizeof(double), np,
                                          &overflow));
    grad = calib_malloc(calib_mul_size(3 * sizeof(double), np, &overflow));
    if (u == NULL || p.scale == NULL || grad == NULL || overflow) {
        status = calib_failf(err, CALIB_E_NOMEM,
                             "%s: out of memory for %zu parameters",
                             method_word(method), np);
        goto done;
    }
    p.theta = p.scale + np;
    p.projected = p.theta + np;
    p.grad_reg = p.projected + np;
    grad0 = grad + np;
    best = grad0 + np;

    /* the identity map: the start, and the fallback */
    identity_params(method, k, best);
    f0 = evaluate(&p, best, grad0, &nll0);
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
                             "%s: out of memory in L-BFGS",
                             method_word(method));
        goto done;
    }
    if (word == NULL) {
        status = calib_failf(err, CALIB_E_ARGUMENT,
                             "%s: liblbfgs stopped with code %d",
                             method_word(method), code);
        goto done;
    }

    /* back to W and b, judged on the objective itself */
    for (size_t j = 0; j < np; j++)
        p.theta[j] = p.scale[j] * u[j];
    gauge_project(&p, p.theta, p.projected);
    f1 = evaluate(&p, p.projected, grad, &nll1);
    if (f1 <= f0) {
        memcpy(best, p.projected, np * sizeof *best);
    } else {
        memcpy(grad, grad0, np * sizeof *grad);
        f1 = f0;
        nll1 = nll0;
    }
    for (size_t j = 0; j < np; j++) {
        if (fabs(grad[j]) > gmax)
            gmax = fabs(grad[j]);
    }

    /* outputs */
    memcpy(params, best, np * sizeof *params);
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

void calib_scaling_apply(calib_method method, const double *params,
                         const double *x, size_t n, size_t k, double *probs)
{
    for (size_t i = 0; i < n; i++) {
        double *z = probs + i * k;
        linear_map(method, params, x + i * k, k, z);
        calib_softmax(z, 1, k, z);
    }
}
