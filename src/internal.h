/*
 * internal.h - helpers shared by the library's source files; not public.
 */
#ifndef CALIB_INTERNAL_H
#define CALIB_INTERNAL_H

#include "calib.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CALIB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CALIB_PRINTF(f, a)
#endif

/*
 * Fills err (if not NULL) and returns status. `file` may be NULL; row,
 * line and column are -1 when they do not apply. The message is prefixed
 * with "FILE: " when file is given, and with "line L, column C: " or
 * "row R: " when those are known, so callers format only the rest.
 */
calib_status calib_fail(calib_error *err, calib_status status,
                        const char *file, int64_t row, int64_t line,
                        int64_t column, const char *fmt, ...)
    CALIB_PRINTF(7, 8);

/* Shorthand for a failure with no file and no position. */
calib_status calib_failf(calib_error *err, calib_status status,
                         const char *fmt, ...) CALIB_PRINTF(3, 4);

/* Sets err->field after a calib_fail. */
void calib_error_set_field(calib_error *err, const char *field);

/* n * size, or 0 with *overflow set when it does not fit in size_t. */
size_t calib_mul_size(size_t n, size_t size, int *overflow);

/* Number of online processors, at least 1. */
unsigned calib_cpu_count(void);

/* Sorts a[0..n) ascending with tmp[0..n) as scratch (sort.c); returns the
 * array, a or tmp, that holds the result. */
uint64_t *calib_radix_sort(uint64_t *a, uint64_t *tmp, size_t n);

/*
 * An exact fixed-point sum: a signed 128-bit integer counting units of
 * 2^-64, held as two 64-bit words so that the code stays C11. Adding a
 * double rounds it toward zero to the 2^-64 grid; integer
 * addition is associative, so sums merged in any order give the same bits.
 * Range: |sum| < 2^63.
 */
typedef struct calib_xsum {
    uint64_t lo;
    int64_t hi;
} calib_xsum;

void calib_xsum_add(calib_xsum *s, double x);
void calib_xsum_merge(calib_xsum *into, const calib_xsum *from);
double calib_xsum_value(const calib_xsum *s);

/*
 * Vectorised exponential (src/vexp.c): y[i] = exp(x[i]) for i < n, within
 * 2 ulp of the correctly rounded value for normal results; exp(0) = 1,
 * x < -746 gives 0, x > 710 gives +inf, NaN stays NaN. x and y may be the
 * same array (but not partly overlap). calib_exp_scalar is the same
 * computation for one value, bit for bit, so blocked and scalar paths
 * agree.
 */
void calib_vexp(const double *x, double *y, size_t n);
double calib_exp_scalar(double x);

/*
 * Vectorised natural log (src/vexp.c): y[i] = log(x[i]) for i < n, within
 * 4 ulp of the correctly rounded value for normal positive x; any other x
 * (0, subnormal, +inf, negative, NaN) gives the C library's log(x). x and
 * y may be the same array (but not partly overlap). calib_log_scalar is
 * the same computation for one value, bit for bit.
 */
void calib_vlog(const double *x, double *y, size_t n);
double calib_log_scalar(double x);

/*
 * Marks a hot loop's function for multiversioning: gcc on x86-64 compiles
 * it for AVX-512F, AVX2 and the baseline and picks one at load time. The
 * copies do the same IEEE operations (no FMA under -std=c11), so the bits
 * do not depend on the copy. CALIB_NO_MULTIVERSION turns it off.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(CALIB_NO_MULTIVERSION)
#define CALIB_TARGET_CLONES \
    __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CALIB_TARGET_CLONES
#endif

#endif /* CALIB_INTERNAL_H */
