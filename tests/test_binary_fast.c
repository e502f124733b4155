/*
 * test_binary_fast.c - the fast paths of isotonic regression and Platt
 * scaling against plain reference implementations written here.
 *
 * Isotonic: calib_isotonic_fit (radix sort of the positives' and the
 * negatives' keys, merge, PAV on integer counts) against qsort + pooling
 * of ties + PAV in doubles, on random data with many ties, negative
 * values, -0 next to +0, neighbouring doubles (every radix digit
 * matters), magnitudes from 1e-300 to 1e300 and label bytes
 * other than 0 and 1: the same knots, bit for bit (+0 and -0 equal), and
 * the same predictions. Platt: calib_platt_fit (vectorised passes, start
 * fitted on a subsample from 65536 scores on, tails not a multiple of the
 * block) against a scalar Newton iteration with libm's exp and log1p run
 * to its own rounding floor: a and b within 1e-9 relative, for scores of
 * magnitude 1, 1e5 and 1e-3; the degenerate cases converge.
 */
#include "calib.h"
#include "calibrators.h"
#include "check.h"

#include <stdint.h>

static uint64_t rng = 0x2545F4914F6CDD1Du;

static uint64_t next_u64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717u;
}

static double uniform01(void)
{
    return (double)(next_u64() >> 11) * 0x1p-53;
}

/* ---------------------------------------------------------- isotonic */

typedef struct ref_pair {
    double x;
    double y;
} ref_pair;

static int ref_compare(const void *a, const void *b)
{
    const ref_pair *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

/* Reference: sort, pool equal x, PAV on (sum, weight) in doubles; knots
 * at the first and last distinct x of each block. Returns the count. */
static size_t ref_isotonic(const double *x, const unsigned char *y,
                           size_t n, double *kx, double *ky)
{
    ref_pair *p = malloc(n * sizeof *p);
    double *sum = malloc(n * sizeof *sum), *w = malloc(n * sizeof *w);
    double *first = malloc(n * sizeof *first);
    double *last = malloc(n * sizeof *last);
    size_t top = 0, count = 0;

    for (size_t i = 0; i < n; i++) {
        p[i].x = x[i];
        p[i].y = y[i] ? 1.0 : 0.0;
    }
    qsort(p, n, sizeof *p, ref_compare);
    for (size_t i = 0; i < n;) {
        double s = 0.0, c = 0.0, fx = p[i].x;
        size_t j = i;
        while (j < n && p[j].x == p[i].x) {
            s += p[j].y;
            c += 1.0;
            j++;
        }
        i = j;
        while (top > 0 && sum[top - 1] * c >= s * w[top - 1]) {
            top--;
            s += sum[top];
            c += w[top];
            fx = first[top];
        }
        sum[top] = s;
        w[top] = c;
        first[top] = fx;
        last[top] = p[i - 1].x;
        top++;
    }
    for (size_t b = 0; b < top; b++) {
        kx[count] = first[b];
        ky[count++] = sum[b] / w[b];
        if (last[b] != first[b]) {
            kx[count] = last[b];
            ky[count++] = sum[b] / w[b];
        }
    }
    free(p);
    free(sum);
    free(w);
    free(first);
    free(last);
    return count;
}

static double draw_x(int mode)
{
    switch (mode) {
    case 0:
        return uniform01();
    case 1:     /* heavy ties */
        return (double)(next_u64() % 9) / 8.0;
    case 2:     /* signed, ties at zero of both signs */
        return next_u64() % 4 == 0 ? (next_u64() % 2 ? -0.0 : 0.0)
                                    : (uniform01() - 0.5) * 10.0;
    case 3:     /* neighbouring doubles: only the low bits differ */
        return 0.5 + (double)(next_u64() % 3000) * 0x1p-53;
    default:    /* every magnitude */
        return (next_u64() % 2 ? -1.0 : 1.0) *
               ldexp(0.5 + uniform01() / 2.0, (int)(next_u64() % 1990) - 995);
    }
}

static void test_isotonic_random(void)
{
    int mismatches = 0, bad_predictions = 0;

    for (int trial = 0; trial < 400; trial++) {
        size_t n = 1 + (size_t)(next_u64() % (trial < 300 ? 60 : 20000));
        int mode = trial % 5;
        double *x = malloc(n * sizeof *x);
        unsigned char *y = malloc(n);
        double *rx = malloc(2 * n * sizeof *rx);
        double *ry = malloc(2 * n * sizeof *ry);
        double *kx = NULL, *ky = NULL;
        size_t nk = 0, nr;

        for (size_t i = 0; i < n; i++) {
            x[i] = draw_x(mode);
            /* more positives at larger x, and label bytes beyond 1 */
            y[i] = (unsigned char)(uniform01() < (x[i] > 0.0 ? 0.7 : 0.3));
            if (y[i] && next_u64() % 5 == 0)
                y[i] = (unsigned char)(2 + next_u64() % 200);
        }
        nr = ref_isotonic(x, y, n, rx, ry);
        CHECK_STATUS(calib_isotonic_fit(x, y, n, &kx, &ky, &nk, NULL),
                     CALIB_OK);
        if (nk != nr) {
            mismatches++;
        } else {
            for (size_t k = 0; k < nk; k++)
                if (kx[k] != rx[k] ||
                    memcmp(&ky[k], &ry[k], sizeof ky[k]) != 0)
                    mismatches++;
            for (int q = 0; q < 50; q++) {
                double v = x[next_u64() % n] * (1.0 + (uniform01() - 0.5) *
                                                          1e-3);
                double got = calib_isotonic_predict(kx, ky, nk, v);
                double want;
                /* np.interp on the reference knots, clipped */
                if (v <= rx[0]) {
                    want = ry[0];
                } else if (v >= rx[nr - 1]) {
                    want = ry[nr - 1];
                } else {
                    size_t lo = 0;
                    while (rx[lo + 1] <= v)
                        lo++;
                    want = v == rx[lo] ? ry[lo]
                                       : ry[lo] + (ry[lo + 1] - ry[lo]) /
                                                      (rx[lo + 1] - rx[lo]) *
                                                      (v - rx[lo]);
                }
                if (memcmp(&got, &want, sizeof got) != 0)
                    bad_predictions++;
            }
        }
        calib_free(kx);
        calib_free(ky);
        free(x);
        free(y);
        free(rx);
        free(ry);
    }
    CHECK(mismatches == 0);
    CHECK(bad_predictions == 0);
}

/* ---------------------------------------------------------- Platt */

/* Reference: Newton on F with libm, in the scores' own scale divided by
 * their largest magnitude, from Platt's start, until the step stops
 * shrinking (its rounding floor). */
static void ref_platt(const double *s, const unsigned char *y, size_t n,
                      double *a, double *b)
{
    double n_pos = 0.0, n_neg, tp, tn, m = 0.0, w0, w1 = 0.0;
    double prev = INFINITY;

    for (size_t i = 0; i < n; i++) {
        n_pos += y[i] ? 1.0 : 0.0;
        m = fmax(m, fabs(s[i]));
    }
    m = m > 0.0 ? m : 1.0;
    n_neg = (double)n - n_pos;
    tp = (n_pos + 1.0) / (n_pos + 2.0);
    tn = 1.0 / (n_neg + 2.0);
    w0 = log((n_pos + 1.0) / (n_neg + 1.0));
    for (int it = 0; it < 200; it++) {
        double g0 = 0.0, g1 = 0.0, h00 = 1e-12, h01 = 0.0, h11 = 1e-12;
        double det, d1, d0, size;
        for (size_t i = 0; i < n; i++) {
            double x = s[i] / m, u = w1 * x + w0;
            double p = u >= 0.0 ? 1.0 / (1.0 + exp(-u))
                                : exp(u) / (1.0 + exp(u));
            double t = y[i] ? tp : tn;
            g1 += (p - t) * x;
            g0 += p - t;
            h11 += p * (1.0 - p) * x * x;
            h01 += p * (1.0 - p) * x;
            h00 += p * (1.0 - p);
        }
        det = h00 * h11 - h01 * h01;
        d1 = (h00 * g1 - h01 * g0) / det;
        d0 = (h11 * g0 - h01 * g1) / det;
        w1 -= d1;
        w0 -= d0;
        size = fabs(d1) + fabs(d0);
        if (size == 0.0 || (size >= prev && size < 1e-12))
            break;
        prev = size;
    }
    *a = w1 / m;
    *b = w0;
}

static void check_platt(const double *s, const unsigned char *y, size_t n,
                        const char *what)
{
    calib_fit_options opt;
    calib_logistic_result res;
    double a = NAN, b = NAN, ra, rb;

    calib_fit_options_default(&opt);
    ref_platt(s, y, n, &ra, &rb);
    CHECK_STATUS(calib_platt_fit(s, y, n, &opt, &a, &b, &res, NULL),
                 CALIB_OK);
    printf("%-24s a = %.17g b = %.17g (reference %.17g %.17g), %zu steps\n",
           what, a, b, ra, rb, res.iterations);
    CHECK_NEAR(a, ra, 1e-9 * fabs(ra));
    CHECK_NEAR(b, rb, 1e-9 * fmax(fabs(rb), 1e-3));
    CHECK(res.converged);
}

static void test_platt_large(void)
{
    size_t n = 200003;   /* >= 65536: the subsample start; a tail of 195 */
    double *s = malloc(n * sizeof *s), *s5 = malloc(n * sizeof *s5);
    double *sm = malloc(n * sizeof *sm);
    unsigned char *y = malloc(n);

    for (size_t i = 0; i < n; i++) {
        double z = 3.0 * (uniform01() - 0.5) + 2.0 * (uniform01() - 0.5);
        y[i] = (unsigned char)(uniform01() < 1.0 / (1.0 + exp(-(1.7 * z -
                                                               0.4))));
        s[i] = z;
        s5[i] = z * 1e5;
        sm[i] = z * 1e-3;
    }
    check_platt(s, y, n, "platt 200003");
    check_platt(s5, y, n, "platt 200003 x 1e5");
    check_platt(sm, y, n, "platt 200003 x 1e-3");
    check_platt(s, y, 70001, "platt 70001");
    check_platt(s, y, 1000, "platt 1000");
    check_platt(s, y, 3, "platt 3");
    free(s);
    free(s5);
    free(sm);
    free(y);
}

static void test_platt_degenerate(void)
{
    enum { N = 100000 };
    static double s[N], zero[N];
    static unsigned char ones[N], mixed[N];
    calib_fit_options opt;
    calib_logistic_result res;
    double a, b;

    calib_fit_options_default(&opt);
    for (size_t i = 0; i < N; i++) {
        s[i] = uniform01() - 0.5;
        ones[i] = 1;
        mixed[i] = (unsigned char)(i % 3 == 0);
    }
    /* all positive: a = 0, sigmoid(b) = t+ = (N + 1) / (N + 2) */
    CHECK_STATUS(calib_platt_fit(s, ones, N, &opt, &a, &b, &res, NULL),
                 CALIB_OK);
    CHECK(res.converged);
    CHECK_NEAR(a, 0.0, 1e-6);
    CHECK_NEAR(b, log((double)N + 1.0), 1e-6);
    /* every score 0: a has no gradient, b fits the smoothed prior */
    CHECK_STATUS(calib_platt_fit(zero, mixed, N, &opt, &a, &b, &res, NULL),
                 CALIB_OK);
    CHECK(res.converged);
    CHECK(a == 0.0);
    {
        double pos = (N + 2) / 3, neg = N - pos;
        double t = (pos * (pos + 1.0) / (pos + 2.0) + neg / (neg + 2.0)) /
                   (double)N;
        CHECK_NEAR(b, log(t / (1.0 - t)), 1e-12);
    }
}

int main(void)
{
    test_isotonic_random();
    test_platt_large();
    test_platt_degenerate();
    return check_done("test_binary_fast");
}
