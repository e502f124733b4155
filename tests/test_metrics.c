/*
 * test_metrics.c - every metric on small inputs worked by hand (see the
 * comments at each case), both bin rules, edges, empty bins, ties in
 * equal-mass bins, absent classes, binary input both ways, extreme logits,
 * bad inputs naming the row, bit-identical results for any number of
 * threads and any chunking, and the published reference of
 * ../shared/data/README.md (skipped when the data is absent).
 */
#include "calib.h"
#include "check.h"

#include <stdint.h>
#include <string.h>

#define TOL 1e-14

static calib_matrix matrix_of(const double *data, size_t rows, size_t cols)
{
    calib_matrix m;
    m.rows = rows;
    m.cols = cols;
    m.dtype = CALIB_FLOAT64;
    m.data = (void *)(uintptr_t)data;
    return m;
}

static calib_eval_options options_m(size_t n_bins, calib_bin_rule rule)
{
    calib_eval_options o;
    calib_eval_options_default(&o);
    o.n_bins = n_bins;
    o.bin_rule = rule;
    return o;
}

/*
 * Dataset A: K = 4 probabilities, M = 10.
 *   row p                     y  top  conf  hit
 *   0   .7  .1  .1  .1        0  0    .7    1
 *   1   .3  .3  .2  .2        1  0    .3    0   (tie: lowest index)
 *   2   0   .6  .4  0         1  1    .6    1
 *   3   1   0   0   0         0  0    1     1
 *   4   .6  .4  0   0         1  0    .6    0
 * accuracy 3/5; mean confidence 3.2/5 = .64.
 * Right rule: .3 -> bin 2, .6 -> 5 (x2), .7 -> 6, 1 -> 9. Gaps .3, .1,
 * .3, 0: ECE = (.3 + 2 * .1 + .3) / 5 = .16, MCE .3,
 * RMSCE = sqrt((.09 + 2 * .01 + .09) / 5) = .2. Left rule: bins 3, 6, 7,
 * 9 with the same groups, so the same values.
 * Brier rows: .12, .66, .32, 0, .72: mean .364.
 * NLL = -(log .7 + log .3 + log .6 + log 1 + log .4) / 5.
 * KL with eps = .1 is +inf (p = 0 where q > 0); with eps = 0 it is NLL.
 * Classwise (right): class 0 p = .7 .3 0 1 .6, hits 1 0 0 1 0, one per
 * bin: (.3 + .3 + 0 + 0 + .6) / 5 = .24; class 1 .1 .3 .6 0 .4 hits 0 1 1
 * 0 1: bin 0 holds .1 and 0 (no hit): (.1 + .7 + .4 + .6) / 5 = .36;
 * class 2 (absent): mean p_2 = .7 / 5 = .14; class 3 (absent): .3 / 5 =
 * .06. Mean: (.24 + .36 + .14 + .06) / 4 = .2.
 */
static const double A_probs[] = {
    0.7, 0.1, 0.1, 0.1,
    0.3, 0.3, 0.2, 0.2,
    0.0, 0.6, 0.4, 0.0,
    1.0, 0.0, 0.0, 0.0,
    0.6, 0.4, 0.0, 0.0,
};
static const int64_t A_labels[] = {0, 1, 1, 0, 1};

static void test_dataset_a(void)
{
    calib_matrix m = matrix_of(A_probs, 5, 4);
    calib_eval_options o = options_m(10, CALIB_BIN_RIGHT);
    calib_metrics r;
    calib_error err;
    double nll = -(log(0.7) + log(0.3) + log(0.6) + log(0.4)) / 5.0;

    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, A_labels, &o, &r, &err),
                 CALIB_OK);
    CHECK(r.n == 5 && r.classes == 4 && !r.binary && r.top_label);
    CHECK(r.has_full_probs);
    CHECK_NEAR(r.accuracy, 0.6, TOL);
    CHECK_NEAR(r.mean_confidence, 0.64, TOL);
    CHECK_NEAR(r.ece, 0.16, TOL);
    CHECK_NEAR(r.mce, 0.3, TOL);
    CHECK_NEAR(r.rmsce, 0.2, TOL);
    CHECK_NEAR(r.brier, 0.364, TOL);
    CHECK_NEAR(r.nll, nll, TOL);
    CHECK(isinf(r.kl_smoothed) && r.kl_smoothed > 0);
    CHECK(r.nll_infinite_rows == 0 && r.clipped_rows == 0);
    CHECK_NEAR(r.classwise_ece, 0.2, TOL);

    /* the table: edges k/10, counts where the right rule puts them */
    CHECK(r.n_bins == 10);
    CHECK(r.bins[2].count == 1 && r.bins[5].count == 2 &&
          r.bins[6].count == 1 && r.bins[9].count == 1);
    CHECK(r.bins[0].count == 0 && r.bins[3].count == 0);
    CHECK_NEAR(r.bins[0].confidence, 0.0, 0.0);  /* empty bins: 0 */
    CHECK_NEAR(r.bins[5].confidence, 0.6, TOL);
    CHECK_NEAR(r.bins[5].accuracy, 0.5, TOL);
    CHECK(r.bins[2].lo == 0.2 && r.bins[2].hi == 0.3);
    CHECK(r.bins[0].lo == 0.0 && r.bins[9].hi == 1.0);
    calib_metrics_free(&r);

    /* left rule: same groups one bin up (.3 -> 3, .6 -> 6, .7 -> 7) */
    o.bin_rule = CALIB_BIN_LEFT;
    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, A_labels, &o, &r, &err),
                 CALIB_OK);
    CHECK(r.bins[3].count == 1 && r.bins[6].count == 2 &&
          r.bins[7].count == 1 && r.bins[9].count == 1);
    CHECK(r.bins[2].count == 0 && r.bins[5].count == 0);
    CHECK_NEAR(r.ece, 0.16, TOL);
    CHECK_NEAR(r.classwise_ece, 0.2, TOL);
    calib_metrics_free(&r);

    /* eps = 0: the smoothed target is one-hot and KL(q || p) = NLL */
    o.smoothing = 0.0;
    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, A_labels, &o, &r, &err),
                 CALIB_OK);
    CHECK_NEAR(r.kl_smoothed, nll, TOL);
    calib_metrics_free(&r);

    /*
     * Equal mass, M = 3, sorted confidences .3 .6 .6 .7 1 (hits 0 1 0 1
     * 1): boundary 1 at floor(5/3 + 1/2) = 2 moves past the tie at .6 to
     * 3; boundary 2 at floor(10/3 + 1/2) = 3 leaves an empty bin, dropped;
     * then .7 and 1. Bins {.3 .6 .6}: conf .5, acc 1/3; {.7 1}: conf .85,
     * acc 1. ace = (3/5)(1/6) + (2/5)(.15) = .16.
     */
    o = options_m(3, CALIB_BIN_RIGHT);
    o.scheme = CALIB_SCHEME_MASS;
    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, A_labels, &o, &r, &err),
                 CALIB_OK);
    CHECK(r.n_bins == 2);
    CHECK(r.bins[0].count == 3 && r.bins[1].count == 2);
    CHECK(r.bins[0].lo == 0.3 && r.bins[0].hi == 0.6);
    CHECK(r.bins[1].lo == 0.7 && r.bins[1].hi == 1.0);
    CHECK_NEAR(r.bins[0].accuracy, 1.0 / 3.0, TOL);
    CHECK_NEAR(r.bins[1].confidence, 0.85, TOL);
    CHECK_NEAR(r.ace, 0.16, TOL);
    CHECK_NEAR(r.ece, 0.16, TOL);   /* scheme mass: ece is over these bins */
    CHECK_NEAR(r.mce, 0.1666666666666667, TOL);
    calib_metrics_free(&r);
}

/* Values exactly on edges with M = 10 through top-label records:
 * .3 (hit) and .25 (miss) share (.2, .3] under the right rule: one bin,
 * conf .275, acc .5, ECE .225; under the left rule .3 opens [.3, .4):
 * ECE = (.7 + .25) / 2 = .475. 0 and 1 go to the first and last bin. */
static void test_edges_toplabel(void)
{
    int64_t truth[] = {0, 1, 2, 3};
    int64_t pred[] = {0, 0, 2, 0};
    double conf[] = {0.3, 0.25, 1.0, 0.0};
    calib_toplabel t = {2, truth, pred, conf};
    calib_eval_options o = options_m(10, CALIB_BIN_RIGHT);
    calib_metrics r;
    calib_error err;

    CHECK_STATUS(calib_evaluate_toplabel(&t, 0, &o, &r, &err), CALIB_OK);
    CHECK(r.bins[2].count == 2);
    CHECK_NEAR(r.ece, 0.225, TOL);
    CHECK(!r.has_full_probs && isnan(r.nll) && isnan(r.brier) &&
          isnan(r.kl_smoothed) && isnan(r.classwise_ece));
    CHECK(r.classes == 0);
    calib_metrics_free(&r);

    o.bin_rule = CALIB_BIN_LEFT;
    CHECK_STATUS(calib_evaluate_toplabel(&t, 4, &o, &r, &err), CALIB_OK);
    CHECK(r.bins[2].count == 1 && r.bins[3].count == 1);
    CHECK_NEAR(r.ece, 0.475, TOL);
    CHECK(r.classes == 4);
    calib_metrics_free(&r);

    /* all four: 1.0 (hit) in the last bin, 0.0 (miss) in the first */
    t.n = 4;
    o.bin_rule = CALIB_BIN_RIGHT;
    CHECK_STATUS(calib_evaluate_toplabel(&t, 0, &o, &r, &err), CALIB_OK);
    CHECK(r.bins[0].count == 1 && r.bins[9].count == 1);
    CHECK_NEAR(r.accuracy, 0.5, TOL);
    CHECK_NEAR(r.ece, 0.225 / 2.0, TOL);
    calib_metrics_free(&r);

    /* bad records name the row */
    pred[1] = -1;
    CHECK_STATUS(calib_evaluate_toplabel(&t, 0, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 1 && strstr(err.message, "pred_label -1") != NULL);
    pred[1] = 0;
    truth[3] = 9;
    CHECK_STATUS(calib_evaluate_toplabel(&t, 4, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 3 && strstr(err.message, "outside [0, 4)") != NULL);
    truth[3] = 3;
    conf[2] = 1.5;
    CHECK_STATUS(calib_evaluate_toplabel(&t, 4, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 2);
    t.n = 0;
    CHECK_STATUS(calib_evaluate_toplabel(&t, 4, &o, &r, &err),
                 CALIB_E_SHAPE);
}

/* Equal-mass ties, M = 2: .5 .5 .5 .9 with hits 1 0 0 1. The first
 * boundary, floor(4/2 + 1/2) = 2, moves past the tie to 3: bins {.5 x3}
 * (conf .5, acc 1/3) and {.9}: ace = (3/4)(1/6) + (1/4)(.1) = .15. */
static void test_mass_ties(void)
{
    int64_t truth[] = {1, 0, 1, 0};
    int64_t pred[] = {1, 1, 1, 1};
    double conf[] = {0.5, 0.5, 0.9, 0.5};
    calib_toplabel t = {4, truth, pred, conf};
    calib_eval_options o = options_m(2, CALIB_BIN_RIGHT);
    calib_metrics r;
    calib_error err;

    o.scheme = CALIB_SCHEME_MASS;
    CHECK_STATUS(calib_evaluate_toplabel(&t, 0, &o, &r, &err), CALIB_OK);
    CHECK(r.n_bins == 2 && r.bins[0].count == 3 && r.bins[1].count == 1);
    CHECK_NEAR(r.ace, 0.15, TOL);
    calib_metrics_free(&r);

    /* all tied: a single bin whatever M */
    conf[2] = 0.5;
    o.n_bins = 15;
    CHECK_STATUS(calib_evaluate_toplabel(&t, 0, &o, &r, &err), CALIB_OK);
    CHECK(r.n_bins == 1 && r.bins[0].count == 4);
    CHECK_NEAR(r.ace, 0.0, TOL);   /* acc 2/4 = conf .5 */
    calib_metrics_free(&r);

    /* more bins than samples: one sample per bin */
    conf[0] = 0.1;
    conf[1] = 0.2;
    conf[2] = 0.3;
    conf[3] = 0.4;
    o.n_bins = 10;
    CHECK_STATUS(calib_evaluate_toplabel(&t, 0, &o, &r, &err), CALIB_OK);
    CHECK(r.n_bins == 4);
    /* hits 1 0 1 0: (.9 + .2 + .7 + .4) / 4 */
    CHECK_NEAR(r.ace, 0.55, TOL);
    calib_metrics_free(&r);
}

/*
 * Binary probabilities p = .8 .2 .6 .1, y = 1 1 0 0, M = 10 right.
 * Positive class: bins 7 (hit), 1 (hit), 5, 0: gaps .2 .8 .6 .1, ECE
 * 1.7 / 4 = .425, MCE .8, mean confidence .425.
 * Top label: conf .8 .8 .6 .9, predictions 1 0 1 0, hits 1 0 0 1: bin 7
 * holds two (acc .5, gap .3): ECE (.6 + .6 + .1) / 4 = .325, MCE .6.
 * accuracy .5; Brier (.04 + .64 + .36 + .01) / 4 = .2625; NLL -(log .8 +
 * log .2 + log .4 + log .9) / 4; classwise: class 1 = .425, class 0
 * (1 - p = .2 .8 .4 .9 against y = 0) = .425.
 */
static void test_binary_probs(void)
{
    const double p[] = {0.8, 0.2, 0.6, 0.1};
    const int64_t y[] = {1, 1, 0, 0};
    calib_matrix m = matrix_of(p, 4, 1);
    calib_eval_options o = options_m(10, CALIB_BIN_RIGHT);
    calib_metrics r;
    calib_error err;
    double q1 = 0.95, q0 = 0.05, c = q1 * log(q1) + q0 * log(q0);
    double kl = (4 * c - q1 * (log(0.8) + log(0.2) + log(0.4) + log(0.9)) -
                 q0 * (log(0.2) + log(0.8) + log(0.6) + log(0.1))) / 4.0;

    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, y, &o, &r, &err), CALIB_OK);
    CHECK(r.binary && !r.top_label && r.classes == 2);
    CHECK_NEAR(r.ece, 0.425, TOL);
    CHECK_NEAR(r.mce, 0.8, TOL);
    CHECK_NEAR(r.mean_confidence, 0.425, TOL);
    CHECK_NEAR(r.accuracy, 0.5, TOL);
    CHECK_NEAR(r.brier, 0.2625, TOL);
    CHECK_NEAR(r.nll, -(log(0.8) + log(0.2) + log(0.4) + log(0.9)) / 4, TOL);
    CHECK_NEAR(r.kl_smoothed, kl, TOL);
    CHECK_NEAR(r.classwise_ece, 0.425, TOL);
    calib_metrics_free(&r);

    o.top_label = 1;
    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, y, &o, &r, &err), CALIB_OK);
    CHECK(r.binary && r.top_label);
    CHECK_NEAR(r.ece, 0.325, TOL);
    CHECK_NEAR(r.mce, 0.6, TOL);
    CHECK_NEAR(r.mean_confidence, 0.775, TOL);
    CHECK(r.bins[7].count == 2);
    CHECK_NEAR(r.accuracy, 0.5, TOL);
    calib_metrics_free(&r);

    /* labels of a binary task are 0 or 1 */
    {
        const int64_t bad[] = {1, 2, 0, 0};
        CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, bad, &o, &r, &err),
                     CALIB_E_VALUE);
        CHECK(err.row == 1 && strcmp(err.field, "labels") == 0);
    }
}

/* Binary logits z = 0, 2, -3 with y = 0, 1, 1: p = sigmoid(z); z = 0
 * gives p = .5 exactly, a tie, so the prediction is class 0 (right).
 * NLL = (log 2 + log(1 + e^-2) + log(1 + e^3)) / 3. */
static void test_binary_logits(void)
{
    const double z[] = {0.0, 2.0, -3.0};
    const float zf[] = {0.0f, 2.0f, -3.0f};
    const int64_t y[] = {0, 1, 1};
    calib_matrix m = matrix_of(z, 3, 1);
    calib_eval_options o = options_m(15, CALIB_BIN_RIGHT);
    calib_metrics r, rf;
    calib_error err;
    double p1 = 1.0 / (1.0 + exp(-2.0)), p2 = 1.0 / (1.0 + exp(3.0));
    double *probs = NULL;

    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_OK);
    CHECK_NEAR(r.nll, (log(2.0) + log1p(exp(-2.0)) + log1p(exp(3.0))) / 3.0,
               TOL);
    CHECK_NEAR(r.accuracy, 2.0 / 3.0, TOL);  /* preds 0, 1, 0 */
    CHECK_NEAR(r.brier, (0.25 + (1 - p1) * (1 - p1) + (1 - p2) * (1 - p2)) /
                            3.0, TOL);
    CHECK_NEAR(r.mean_confidence, (0.5 + p1 + p2) / 3.0, TOL);

    /* float32 input with the same values: the same bits */
    m.dtype = CALIB_FLOAT32;
    m.data = (void *)(uintptr_t)zf;
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &rf, &err),
                 CALIB_OK);
    CHECK(memcmp(&r.nll, &rf.nll, sizeof r.nll) == 0);
    CHECK(memcmp(&r.ece, &rf.ece, sizeof r.ece) == 0);

    /* calib_to_probs gives [1 - p, p] */
    CHECK_STATUS(calib_to_probs(&m, CALIB_LOGITS, &o, &probs, &err),
                 CALIB_OK);
    CHECK_NEAR(probs[0], 0.5, 0.0);
    CHECK_NEAR(probs[3], p1, TOL);
    CHECK_NEAR(probs[2] + probs[3], 1.0, TOL);
    calib_free(probs);
    calib_metrics_free(&r);
    calib_metrics_free(&rf);
}

/* Logits: softmax and log-softmax with the max subtracted. */
static void test_logits(void)
{
    /* [1e4, 1e4]: p = .5 .5, NLL log 2, Brier .5; [1e4, -1e4] with y = 1:
     * log p_1 = -2e4 exactly, no overflow, no log of 0. */
    const double z[] = {1e4, 1e4, 1e4, -1e4};
    const int64_t y[] = {0, 1};
    const double z3[] = {1.0, 2.0, 3.0};
    const int64_t y3[] = {0};
    calib_matrix m = matrix_of(z, 1, 2);
    calib_eval_options o = options_m(15, CALIB_BIN_RIGHT);
    calib_metrics r;
    calib_error err;
    double lse, c, kl, *probs = NULL;

    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_OK);
    CHECK_NEAR(r.nll, log(2.0), 1e-16);
    CHECK_NEAR(r.brier, 0.5, TOL);
    CHECK_NEAR(r.mean_confidence, 0.5, 0.0);
    CHECK_NEAR(r.accuracy, 1.0, 0.0);   /* tie: class 0, the label */
    calib_metrics_free(&r);

    m.rows = 2;
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_OK);
    CHECK_NEAR(r.nll, (log(2.0) + 2e4) / 2.0, 1e-12);
    CHECK(r.nll_infinite_rows == 0);
    calib_metrics_free(&r);

    /*
     * z = 1 2 3, y = 0, K = 3: lse = 3 + log(1 + e^-1 + e^-2), NLL =
     * lse - 1; KL(q || p) with eps = .1: q = .9 + .1/3 on y, .1/3 else:
     * sum q log q - sum q log p, log p_k = z_k - lse.
     */
    lse = 3.0 + log(1.0 + exp(-1.0) + exp(-2.0));
    c = (0.9 + 0.1 / 3) * log(0.9 + 0.1 / 3) + 2 * (0.1 / 3) * log(0.1 / 3);
    kl = c - (0.9 + 0.1 / 3) * (1.0 - lse) - (0.1 / 3) * (2.0 - lse) -
         (0.1 / 3) * (3.0 - lse);
    m = matrix_of(z3, 1, 3);
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y3, &o, &r, &err),
                 CALIB_OK);
    CHECK_NEAR(r.nll, lse - 1.0, TOL);
    CHECK_NEAR(r.kl_smoothed, kl, TOL);
    CHECK_NEAR(r.mean_confidence, exp(3.0 - lse), TOL);
    CHECK_NEAR(r.accuracy, 0.0, 0.0);
    CHECK_NEAR(r.brier, (1 - exp(1 - lse)) * (1 - exp(1 - lse)) +
                            exp(2 * (2 - lse)) + exp(2 * (3 - lse)), TOL);
    calib_metrics_free(&r);

    /* an explicit clip: log p_y = 1 - lse < log(.2), so NLL = -log .2 */
    o.clip_eps = 0.2;
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y3, &o, &r, &err),
                 CALIB_OK);
    CHECK_NEAR(r.nll, -log(0.2), TOL);
    CHECK(r.clipped_rows == 1);
    calib_metrics_free(&r);

    CHECK_STATUS(calib_to_probs(&m, CALIB_LOGITS, &o, &probs, &err),
                 CALIB_OK);
    CHECK_NEAR(probs[0], exp(1.0 - lse), TOL);
    CHECK_NEAR(probs[2], exp(3.0 - lse), TOL);
    calib_free(probs);
}

/* One class only: all labels 0, K = 3. Classes 1 and 2 never occur, so
 * each one's ECE is the mean of p_k; class 0's is the mean of 1 - p_0
 * when every bin holds only hits. */
static void test_one_class(void)
{
    const double p[] = {
        0.5, 0.25, 0.25,
        0.8, 0.15, 0.05,
        0.9, 0.0, 0.1,
    };
    const int64_t y[] = {0, 0, 0};
    calib_matrix m = matrix_of(p, 3, 3);
    calib_eval_options o = options_m(10, CALIB_BIN_RIGHT);
    calib_metrics r;
    calib_error err;
    double ece0 = (0.5 + 0.2 + 0.1) / 3, ece1 = 0.4 / 3, ece2 = 0.4 / 3;

    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, y, &o, &r, &err), CALIB_OK);
    CHECK_NEAR(r.accuracy, 1.0, 0.0);
    CHECK_NEAR(r.ece, ece0, TOL);
    CHECK_NEAR(r.classwise_ece, (ece0 + ece1 + ece2) / 3.0, TOL);
    calib_metrics_free(&r);
}

/* A true-class probability of 0: NLL +inf, counted; an explicit clip
 * makes it -log(eps) and counts the row as clipped. */
static void test_zero_probability(void)
{
    const double p[] = {1.0, 0.0, 0.5, 0.5};
    const int64_t y[] = {1, 0};
    calib_matrix m = matrix_of(p, 2, 2);
    calib_eval_options o = options_m(15, CALIB_BIN_RIGHT);
    calib_metrics r;
    calib_error err;

    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, y, &o, &r, &err), CALIB_OK);
    CHECK(isinf(r.nll) && r.nll > 0);
    CHECK(r.nll_infinite_rows == 1);
    CHECK(isinf(r.kl_smoothed));
    CHECK_NEAR(r.brier, (2.0 + 0.5) / 2, TOL);
    calib_metrics_free(&r);

    o.clip_eps = 1e-12;
    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, y, &o, &r, &err), CALIB_OK);
    CHECK_NEAR(r.nll, (-log(1e-12) + log(2.0)) / 2, TOL);
    CHECK(r.nll_infinite_rows == 0 && r.clipped_rows == 1);
    CHECK(isfinite(r.kl_smoothed));
    calib_metrics_free(&r);
}

static void test_bad_input(void)
{
    double z[] = {
        0.1, 0.2, 0.3,
        0.4, 0.5, 0.6,
        0.7, NAN, 0.9,
        1.0, 1.1, INFINITY,
    };
    int64_t y[] = {0, 1, 2, 0};
    double p[] = {0.5, 0.4, 0.1, 0.5, 0.4, 0.0};
    calib_matrix m = matrix_of(z, 4, 3);
    calib_eval_options o = options_m(15, CALIB_BIN_RIGHT);
    calib_metrics r;
    calib_error err;
    double *probs = NULL;

    /* NaN in row 2 is the first bad row, before the infinity in row 3 */
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 2 && strcmp(err.field, "predictions") == 0);
    CHECK(strncmp(err.message, "row 2: ", 7) == 0);
    CHECK(strstr(err.message, "column 1") != NULL);
    CHECK_STATUS(calib_to_probs(&m, CALIB_LOGITS, &o, &probs, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 2 && probs == NULL);
    z[7] = 0.8;
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 3);
    z[11] = -INFINITY;
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 3 && strstr(err.message, "-inf") != NULL);
    z[11] = 1.2;

    /* labels: out of range and negative name the row */
    y[1] = 3;
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 1 && strcmp(err.field, "labels") == 0);
    CHECK(strcmp(err.message, "row 1: label 3 is outside [0, 3)") == 0);
    y[1] = 1;
    y[3] = -1;
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 3 && strstr(err.message, "label -1") != NULL);
    y[3] = 0;

    /* probabilities: a row sum of .9 is refused unless renormalised */
    m = matrix_of(p, 2, 3);
    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, y, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 1 && strstr(err.message, "sum to 0.9") != NULL);
    o.renormalize = 1;
    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, y, &o, &r, &err), CALIB_OK);
    /* row 1 becomes 5/9 4/9 0 with label 1: conf 5/9, a miss */
    CHECK_NEAR(r.mean_confidence, (0.5 + 5.0 / 9.0) / 2, TOL);
    calib_metrics_free(&r);
    o.renormalize = 0;
    p[4] = 1.5;
    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, y, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 1 && strstr(err.message, "not in [0, 1]") != NULL);
    p[4] = -0.5;
    CHECK_STATUS(calib_to_probs(&m, CALIB_PROBS, &o, &probs, &err),
                 CALIB_E_VALUE);

    /* shapes */
    m.rows = 0;
    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, y, &o, &r, &err),
                 CALIB_E_SHAPE);
    m.rows = 2;
    m.cols = 0;
    CHECK_STATUS(calib_evaluate(&m, CALIB_PROBS, y, &o, &r, &err),
                 CALIB_E_SHAPE);
    CHECK_STATUS(calib_to_probs(&m, CALIB_PROBS, &o, &probs, &err),
                 CALIB_E_SHAPE);

    /* options */
    m = matrix_of(z, 4, 3);
    o.n_bins = 0;
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_E_ARGUMENT);
    o.n_bins = 15;
    o.smoothing = 1.5;
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_E_ARGUMENT);
}

/* ------------------------------------------------------------------------
 * Threads, chunks and merges: the same bits
 * ------------------------------------------------------------------------ */

static uint64_t rng = 0x243F6A8885A308D3u;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1p-53;
}

/* Every number of two results, compared as bits. */
static int same_bits(const calib_metrics *a, const calib_metrics *b)
{
    const double fa[] = {a->accuracy, a->mean_confidence, a->nll, a->brier,
                         a->kl_smoothed, a->ece, a->mce, a->rmsce, a->ace,
                         a->classwise_ece};
    const double fb[] = {b->accuracy, b->mean_confidence, b->nll, b->brier,
                         b->kl_smoothed, b->ece, b->mce, b->rmsce, b->ace,
                         b->classwise_ece};

    return a->n == b->n && a->n_bins == b->n_bins &&
           a->nll_infinite_rows == b->nll_infinite_rows &&
           memcmp(fa, fb, sizeof fa) == 0 &&
           memcmp(a->bins, b->bins, a->n_bins * sizeof *a->bins) == 0;
}

static void test_threads_and_chunks(calib_bin_scheme scheme)
{
    enum { N = 10007, K = 7 };
    float *z = calib_malloc(N * K * sizeof *z);
    int64_t *y = calib_malloc(N * sizeof *y);
    calib_matrix m;
    calib_eval_options o = options_m(15, CALIB_BIN_RIGHT);
    calib_metrics base, r;
    calib_error err;
    const unsigned threads[] = {2, 3, 7};
    calib_accumulator *parts[4] = {NULL, NULL, NULL, NULL};
    const size_t cuts[] = {0, 1, 3000, 3037, N};

    for (size_t i = 0; i < (size_t)N * K; i++)
        z[i] = (float)(8.0 * uniform() - 4.0);
    for (size_t i = 0; i < N; i++)
        y[i] = (int64_t)(uniform() * K);
    m.rows = N;
    m.cols = K;
    m.dtype = CALIB_FLOAT32;
    m.data = z;
    o.scheme = scheme;
    o.threads = 1;

    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &base, &err),
                 CALIB_OK);
    for (size_t t = 0; t < 3; t++) {
        o.threads = threads[t];
        CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                     CALIB_OK);
        CHECK(same_bits(&base, &r));
        calib_metrics_free(&r);
    }

    /* chunks 1, 2999, 37, 6970 in four accumulators, merged 3, 1, 0, 2 */
    o.threads = 2;
    for (size_t c = 0; c < 4; c++) {
        CHECK_STATUS(calib_accumulator_alloc(K, CALIB_LOGITS, &o, &parts[c],
                                             &err), CALIB_OK);
        CHECK_STATUS(calib_accumulator_add(parts[c], z + cuts[c] * K,
                                           CALIB_FLOAT32, y + cuts[c],
                                           cuts[c + 1] - cuts[c], cuts[c],
                                           &err), CALIB_OK);
    }
    CHECK_STATUS(calib_accumulator_merge(parts[3], parts[1], &err),
                 CALIB_OK);
    CHECK_STATUS(calib_accumulator_merge(parts[3], parts[0], &err),
                 CALIB_OK);
    CHECK_STATUS(calib_accumulator_merge(parts[3], parts[2], &err),
                 CALIB_OK);
    CHECK_STATUS(calib_accumulator_finish(parts[3], &r, &err), CALIB_OK);
    CHECK(same_bits(&base, &r));
    calib_metrics_free(&r);

    /* a bad row in the chunk: the error names its absolute index, and
     * the accumulator is left as it was */
    z[(5000 + 3) * K + 2] = NAN;
    CHECK_STATUS(calib_accumulator_add(parts[1], z + 5000 * K, CALIB_FLOAT32,
                                       y + 5000, 100, 5000, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 5003);
    CHECK_STATUS(calib_accumulator_finish(parts[1], &r, &err), CALIB_OK);
    CHECK(r.n == 2999);
    calib_metrics_free(&r);

    /* two bad rows far apart, several threads: the first one is named */
    z[9000 * K] = NAN;
    z[2000 * K + 1] = INFINITY;
    o.threads = 3;
    CHECK_STATUS(calib_evaluate(&m, CALIB_LOGITS, y, &o, &r, &err),
                 CALIB_E_VALUE);
    CHECK(err.row == 2000);

    for (size_t c = 0; c < 4; c++)
        calib_accumulator_free(parts[c]);
    calib_metrics_free(&base);
    calib_free(z);
    calib_free(y);
}

/* ------------------------------------------------------------------------
 * The published reference (../shared/data/README.md)
 * ------------------------------------------------------------------------ */

static void test_published_reference(void)
{
    static const uint64_t counts[20] = {
        3, 37, 118, 248, 355, 452, 573, 687, 799, 894,
        1270, 1206, 1222, 1202, 1338, 1479, 1647, 2043, 3050, 31377};
    calib_toplabel t;
    calib_eval_options o = options_m(20, CALIB_BIN_RIGHT);
    calib_metrics r;
    calib_error err;

    if (!shared_data_present()) {
        printf("SKIP: ../shared/data not found; published reference "
               "not checked\n");
        return;
    }
    if (calib_read_toplabel(
            SHARED_DATA "/imagenet-toplabel/torchvision_resnext101_32x8d.csv",
            &t, &err) != CALIB_OK) {
        printf("FAIL: %s\n", err.message);
        check_failures++;
        return;
    }
    CHECK_STATUS(calib_evaluate_toplabel(&t, 1000, &o, &r, &err), CALIB_OK);
    CHECK(r.n == 50000 && r.n_bins == 20);
    for (size_t b = 0; b < 20 && b < r.n_bins; b++)
        CHECK(r.bins[b].count == counts[b]);
    CHECK_NEAR(r.accuracy, 0.79312, 1e-12);
    CHECK_NEAR(r.mean_confidence, 0.8737401799026132, 1e-12);
    CHECK_NEAR(r.ece, 0.08073629151433703, 1e-12);
    CHECK_NEAR(r.mce, 0.1919470946617725, 1e-12);
    calib_metrics_free(&r);
    calib_toplabel_free(&t);
}

int main(void)
{
    test_dataset_a();
    test_edges_toplabel();
    test_mass_ties();
    test_binary_probs();
    test_binary_logits();
    test_logits();
    test_one_class();
    test_zero_probability();
    test_bad_input();
    test_threads_and_chunks(CALIB_SCHEME_WIDTH);
    test_threads_and_chunks(CALIB_SCHEME_MASS);
    test_published_reference();
    return check_done("test_metrics");
}
