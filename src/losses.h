/*
 * losses.h - internal interface between losses.c and the two batch-level
 * calibration objectives (mmce.c, soft_ece.c); not public.
 *
 * Both work on per-sample confidences r[i] (the top-class probability)
 * and correctness c[i] (1 if the top class is the label, else 0), return
 * the objective's value and, if dr is not NULL, its derivative with
 * respect to each r[i] (c is piecewise constant in the logits).
 */
#ifndef CALIB_LOSSES_H
#define CALIB_LOSSES_H

#include "internal.h"

/* MMCE (the square root of MMCE^2 normalised by n^2), Laplacian kernel
 * exp(-|r - r'| / width); O(n log n). */
calib_status calib_mmce_value(const double *r, const double *c, size_t n,
                              double width, double *value, double *dr,
                              calib_error *err);

/* Soft-binned ECE with p = 2 (the square root of the weighted mean of
 * squared gaps), n_bins soft bins at temperature t; O(n * n_bins). */
calib_status calib_soft_ece_value(const double *r, const double *c,
                                  size_t n, size_t n_bins, double t,
                                  double *value, double *dr,
                                  calib_error *err);

#endif /* CALIB_LOSSES_H */
