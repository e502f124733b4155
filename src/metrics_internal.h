/*
 * metrics_internal.h - the state of calib_accumulator, shared by
 * accumulate.c (which fills it) and metrics.c (which turns it into
 * metrics); not public. See docs/metrics.md for the design.
 */
#ifndef CALIB_METRICS_INTERNAL_H
#define CALIB_METRICS_INTERNAL_H

#include "binning.h"

/* An exact sum of doubles of any finite size and sign: values are split
 * by magnitude into levels 2^(32 l) <= |x| < 2^(32 (l + 1)), each level an
 * exact calib_xsum of x / 2^(32 l) in [1, 2^32), so that up to 2^31 rows
 * never overflow a level. Only NLL and KL need this: -log p can exceed
 * any fixed range. */
#define CALIB_WIDE_LEVELS 32

typedef struct calib_wide_sum {
    calib_xsum pos[CALIB_WIDE_LEVELS];
    calib_xsum neg[CALIB_WIDE_LEVELS];
} calib_wide_sum;

/* What equal-mass binning keeps per sample (16 bytes). `hit` is the
 * outcome the confidence is compared with: 1 if the top label is right
 * (or, binary positive-class ECE, if the label is 1). */
typedef struct calib_pair {
    double confidence;
    uint64_t hit;
} calib_pair;

/* Exact sums over a set of rows. Counts are integers; sums of values in
 * [0, 1] are calib_xsum; per-(bin, class) sums of p_k are kept as integers
 * in units of 2^-52 (p_k rounded to that grid, an error below 1.2e-16 per
 * value), pending in 64 bits for at most CALIB_FOLD_ROWS rows and then
 * folded into a calib_xsum. */
typedef struct calib_sums {
    uint64_t n;
    uint64_t correct;        /* argmax == label */
    uint64_t nll_infinite;   /* rows with p_y == 0 */
    uint64_t kl_infinite;    /* rows with some p_k == 0 and eps > 0 */
    uint64_t clipped;        /* rows changed by clip_eps */
    uint64_t pending_rows;   /* rows since the last fold of cw_pending */
    calib_xsum confidence;   /* of the ECE's confidence */
    calib_xsum brier;
    calib_wide_sum nll;
    calib_wide_sum kl;

    /* equal-width bins of the ECE's confidence */
    uint64_t *bin_count;
    uint64_t *bin_hits;
    calib_xsum *bin_confidence;

    /* classwise: (bin, class) cells, index b * classes + k */
    uint64_t *cw_count;
    uint64_t *cw_hits;       /* label == k */
    uint64_t *cw_pending;    /* sum of p_k in units of 2^-52 */
    calib_xsum *cw_prob;
} calib_sums;

/* 2048 rows of p_k <= 1 sum to at most 2^63 units of 2^-52. */
#define CALIB_FOLD_ROWS 2048

enum { CALIB_FED_NONE = 0, CALIB_FED_MATRIX = 1, CALIB_FED_TOPLABEL = 2 };

struct calib_accumulator {
    size_t cols;             /* prediction columns: K, or 1 (binary) */
    size_t classes;          /* K; 2 for binary; top-label: K or 0 */
    calib_input input;
    int fed;                 /* CALIB_FED_*: what was added so far */
    int has_classwise;       /* cw_* arrays exist */
    calib_eval_options opt;  /* threads resolved, n_bins checked */
    calib_edges edges;
    double kl_constant;      /* sum_k q_k log q_k, 0 log 0 = 0 */
    calib_sums sums;
    calib_pair *pairs;       /* one per row added, in no fixed order */
    size_t n_pairs;
    size_t cap_pairs;
};

/* Exact sum helpers (accumulate.c). */
double calib_wide_value(const calib_wide_sum *w);
double calib_cell_prob_sum(const calib_sums *s, size_t cell);

#endif /* CALIB_METRICS_INTERNAL_H */
