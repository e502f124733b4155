/*
 * test_metrics_fast.c - the vectorised metric kernel against a plain
 * scalar computation, and its bits against threads and chunking.
 *
 * The reference below is the textbook double-precision path: libm exp and
 * log, p_k = exp(z_k - max) / sum, one value at a time, bins found with
 * calib_bin_index. The kernel (src/accumulate.c: calib_vexp, p = e * (1 /
 * sum), sums in lanes, classwise cells moved out of bin 0) must agree with
 * it within 1e-12 on every metric (issue 6). Float32 input and the same
 * values as float64 give the same bits, and so do 1, 2 and 3 threads and
 * any split of the rows into accumulator chunks.
 */
#include "check.h"
#include "internal.h"

#include <stdint.h>

#define N_BINS 15
#define SMOOTHING 0.1

static uint64_t rng_state = UINT64_C(0x5eed0006);

static double uniform01(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

typedef struct reference {
    double accuracy, nll, brier, kl, ece, mce, classwise;
} reference;

static void scalar_reference(const double *z, const int64_t *y, size_t n,
                             size_t k, reference *r)
{
    double *p = calloc(k, sizeof *p);
    double *cw_conf = calloc(N_BINS * k, sizeof *cw_conf);
    double *cw_hit = calloc(N_BINS * k, sizeof *cw_hit);
    double bin_n[N_BINS] = {0}, bin_conf[N_BINS] = {0}, bin_hit[N_BINS] = {0};
    double q_off = SMOOTHING / (double)k, q_on = 1.0 - SMOOTHING + q_off;

    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        const double *row = z + i * k;
        double m = row[0], s = 0.0, lse, conf = 0.0, sq = 0.0;
        size_t arg = 0, b;

        for (size_t j = 1; j < k; j++)
            if (row[j] > m)
                m = row[j];
        for (size_t j = 0; j < k; j++)
            s += exp(row[j] - m);
        lse = m + log(s);
        for (size_t j = 0; j < k; j++) {
            double q = (int64_t)j == y[i] ? q_on : q_off;
            p[j] = exp(row[j] - m) / s;
            if (p[j] > conf) {
                conf = p[j];
                arg = j;
            }
            sq += (p[j] - ((int64_t)j == y[i])) * (p[j] - ((int64_t)j == y[i]));
            r->kl += q * (log(q) - (row[j] - lse));
            b = calib_bin_index(p[j], N_BINS, CALIB_BIN_RIGHT);
            cw_conf[b * k + j] += p[j];
            cw_hit[b * k + j] += (int64_t)j == y[i];
        }
        r->nll += lse - row[y[i]];
        r->brier += sq;
        r->accuracy += (int64_t)arg == y[i];
        b = calib_bin_index(conf, N_BINS, CALIB_BIN_RIGHT);
        bin_n[b] += 1.0;
        bin_conf[b] += conf;
        bin_hit[b] += (int64_t)arg == y[i];
    }
    for (size_t b = 0; b < N_BINS; b++) {
        double gap = bin_n[b] > 0 ? fabs(bin_hit[b] - bin_conf[b]) / bin_n[b]
                                  : 0.0;
        r->ece += bin_n[b] / (double)n * gap;
        if (bin_n[b] > 0 && gap > r->mce)
            r->mce = gap;
        for (size_t j = 0; j < k; j++)
            r->classwise += fabs(cw_hit[b * k + j] - cw_conf[b * k + j]);
    }
    r->classwise /= (double)n * (double)k;
    r->accuracy /= (double)n;
    r->nll /= (double)n;
    r->brier /= (double)n;
    r->kl /= (double)n;
    free(p);
    free(cw_conf);
    free(cw_hit);
}

static int same_bits(const calib_metrics *a, const calib_metrics *b)
{
    int same = memcmp(&a->nll, &b->nll, sizeof a->nll) == 0 &&
               memcmp(&a->brier, &b->brier, sizeof a->brier) == 0 &&
               memcmp(&a->kl_smoothed, &b->kl_smoothed,
                      sizeof a->kl_smoothed) == 0 &&
               memcmp(&a->ece, &b->ece, sizeof a->ece) == 0 &&
               memcmp(&a->ace, &b->ace, sizeof a->ace) == 0 &&
               memcmp(&a->classwise_ece, &b->classwise_ece,
                      sizeof a->classwise_ece) == 0;
    for (size_t i = 0; same && i < a->n_bins; i++)
        same = memcmp(&a->bins[i], &b->bins[i], sizeof a->bins[i]) == 0;
    return same;
}

static void check_case(size_t n, size_t k, double scale)
{
    float *zf = malloc(n * k * sizeof *zf);
    double *zd = malloc(n * k * sizeof *zd);
    int64_t *y = malloc(n * sizeof *y);
    calib_matrix mf = {n, k, CALIB_FLOAT32, zf}, md = {n, k, CALIB_FLOAT64, zd};
    calib_eval_options opt;
    calib_metrics m1, m;
    reference r;
    unsigned threads[] = {2, 3};
    size_t splits[] = {1, 7, 1023, 1025};

    CHECK(zf != NULL && zd != NULL && y != NULL);
    if (zf == NULL || zd == NULL || y == NULL) {
        free(zf);
        free(zd);
        free(y);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t lift = (size_t)(uniform01() * (double)k) % k;
        y[i] = uniform01() < 0.75 ? (int64_t)lift
                                  : (int64_t)((size_t)(uniform01() *
                                                       (double)k) % k);
        for (size_t j = 0; j < k; j++) {
            double v = scale * (uniform01() * 2.0 - 1.0);
            if (j == lift)
                v += 2.0 * scale;
            zf[i * k + j] = (float)v;
            zd[i * k + j] = (double)zf[i * k + j];
        }
    }
    calib_eval_options_default(&opt);
    opt.threads = 1;
    CHECK_STATUS(calib_evaluate(&mf, CALIB_LOGITS, y, &opt, &m1, NULL),
                 CALIB_OK);

    /* against the scalar path */
    scalar_reference(zd, y, n, k, &r);
    printf("  n %zu, k %zu: ece %.17g (scalar %.17g), classwise %.17g "
           "(scalar %.17g)\n", n, k, m1.ece, r.ece, m1.classwise_ece,
           r.classwise);
    CHECK_NEAR(m1.accuracy, r.accuracy, 0.0);
    CHECK_REL(m1.nll, r.nll, 1e-12);
    CHECK_NEAR(m1.brier, r.brier, 1e-12);
    CHECK_REL(m1.kl_smoothed, r.kl, 1e-12);
    CHECK_NEAR(m1.ece, r.ece, 1e-12);
    CHECK_NEAR(m1.mce, r.mce, 1e-12);
    CHECK_NEAR(m1.classwise_ece, r.classwise, 1e-12);

    /* float64 input, threads: the same bits */
    CHECK_STATUS(calib_evaluate(&md, CALIB_LOGITS, y, &opt, &m, NULL),
                 CALIB_OK);
    CHECK(same_bits(&m1, &m));
    calib_metrics_free(&m);
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        opt.threads = threads[t];
        CHECK_STATUS(calib_evaluate(&mf, CALIB_LOGITS, y, &opt, &m, NULL),
                     CALIB_OK);
        CHECK(same_bits(&m1, &m));
        calib_metrics_free(&m);
    }

    /* chunks of rows added one after the other: the same bits */
    for (size_t c = 0; c < sizeof splits / sizeof splits[0]; c++) {
        calib_accumulator *acc = NULL;
        size_t done = 0, step = splits[c];
        int ok = 1;

        opt.threads = 2;
        CHECK_STATUS(calib_accumulator_alloc(k, CALIB_LOGITS, &opt, &acc,
                                             NULL), CALIB_OK);
        while (ok && acc != NULL && done < n) {
            size_t rows = n - done < step ? n - done : step;
            ok = calib_accumulator_add(acc, zf + done * k, CALIB_FLOAT32,
                                       y + done, rows, done, NULL)
                 == CALIB_OK;
            done += rows;
        }
        CHECK(ok);
        if (ok && acc != NULL &&
            calib_accumulator_finish(acc, &m, NULL) == CALIB_OK) {
            CHECK(same_bits(&m1, &m));
            calib_metrics_free(&m);
        } else {
            CHECK(0);
        }
        calib_accumulator_free(acc);
    }
    calib_metrics_free(&m1);
    free(zf);
    free(zd);
    free(y);
}

/*
 * The threads take blocks of rows in turn (src/accumulate.c), so a bad
 * row late in one thread's blocks may be found before an earlier one in
 * another's: the error must still name the first bad row, for any number
 * of threads, and a bad label and a bad logit compete by row alone.
 */
static void check_first_bad_row(void)
{
    enum { N = 1000, K = 1000, REPEATS = 10 };
    double *z = malloc((size_t)N * K * sizeof *z);
    int64_t *y = malloc(N * sizeof *y);
    /* {a bad logit, a bad label}: blocks are 65 rows of 1000 values, so
     * 130 starts block 2 and is met at once, while 129 ends block 1 */
    const size_t bad_rows[][2] = {{130, 129}, {129, 130}, {195, 194},
                                  {990, 70}, {600, 601}, {0, 13}};
    unsigned threads[] = {1, 2, 3, 8};

    CHECK(z != NULL && y != NULL);
    if (z == NULL || y == NULL)
        goto out;
    for (size_t i = 0; i < (size_t)N * K; i++)
        z[i] = uniform01();
    for (size_t i = 0; i < N; i++)
        y[i] = (int64_t)(i % K);
    for (size_t c = 0; c < sizeof bad_rows / sizeof bad_rows[0]; c++) {
        size_t late = bad_rows[c][0], early = bad_rows[c][1];
        size_t first = late < early ? late : early;
        calib_matrix m = {N, K, CALIB_FLOAT64, z};

        z[late * K + 3] = NAN;      /* a logit that is not finite */
        y[early] = K;               /* a label out of range */
        /* repeated: which thread meets which bad row first varies */
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
            for (int r = 0; r < (threads[t] > 1 ? REPEATS : 1); r++) {
                calib_eval_options opt;
                calib_metrics m1;
                calib_error err;

                calib_eval_options_default(&opt);
                opt.threads = threads[t];
                CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &opt, &m1,
                                            &err), CALIB_E_VALUE);
                CHECK(err.row == (int64_t)first);
                CHECK(strcmp(err.field, first == early ? "labels"
                                                       : "predictions")
                      == 0);
            }
        }
        z[late * K + 3] = 0.5;
        y[early] = (int64_t)(early % K);
    }
out:
    free(z);
    free(y);
}

int main(void)
{
    check_first_bad_row();
    check_case(3000, 10, 3.0);
    check_case(2100, 301, 4.0);    /* a tail after the lanes of 8 */
    check_case(400, 1000, 6.0);
    return check_done("test_metrics_fast");
}
