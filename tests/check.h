/*
 * check.h - the tiny assertion layer of calib's C tests.
 *
 * Each test program counts its checks, prints one line per failure with
 * file and line, and exits 0 (all passed), 1 (some failed) or 77 (skipped:
 * what it needs is absent, said on stdout). tests/run.sh sums them up.
 */
#ifndef CALIB_CHECK_H
#define CALIB_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                          \
    do {                                                                     \
        check_count++;                                                       \
        if (!(cond)) {                                                       \
            check_failures++;                                                \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                    \
    } while (0)

/* |got - want| <= tol, with NaN == NaN and inf == inf. */
#define CHECK_NEAR(got, want, tol)                                           \
    do {                                                                     \
        double g_ = (double)(got), w_ = (double)(want);                      \
        int ok_ = (isnan(g_) && isnan(w_)) || g_ == w_ ||                    \
                  fabs(g_ - w_) <= (double)(tol);                            \
        check_count++;                                                       \
        if (!ok_) {                                                          \
            check_failures++;                                                \
            printf("FAIL %s:%d: %s = %.17g, want %.17g (tol %g)\n",          \
                   __FILE__, __LINE__, #got, g_, w_, (double)(tol));         \
        }                                                                    \
    } while (0)

/* Relative tolerance, falling back to absolute near zero. */
#define CHECK_REL(got, want, rel)                                            \
    CHECK_NEAR(got, want, (rel) * fmax(1.0, fabs((double)(want))))

#define CHECK_STATUS(expr, want)                                             \
    do {                                                                     \
        int s_ = (int)(expr);                                                \
        check_count++;                                                       \
        if (s_ != (int)(want)) {                                             \
            check_failures++;                                                \
            printf("FAIL %s:%d: %s returned %d, want %d\n", __FILE__,        \
                   __LINE__, #expr, s_, (int)(want));                        \
        }                                                                    \
    } while (0)

static inline int check_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

/* The shared real data, relative to the project root (tests run there). */
#define SHARED_DATA "../shared/data"

static inline int shared_data_present(void)
{
    FILE *f = fopen(SHARED_DATA "/README.md", "r");
    if (f == NULL)
        return 0;
    fclose(f);
    return 1;
}

#endif /* CALIB_CHECK_H */
