/*
 * sort.c - an LSD radix sort of 64-bit keys (Knuth, TAOCP vol. 3, 5.2.5),
 * for the sorts on the hot paths: isotonic regression's scores and the
 * equal-mass bins' confidences. Doubles become keys by their IEEE-754
 * bits, which order non-negative values as the values (callers map signs
 * themselves). A pass whose digit is the same for every key is skipped:
 * the sign and exponent bits of values in (0, 1] often are.
 */
#include "internal.h"

#include <string.h>

/* 8-bit digits: 256 counters per pass stay in L1 and the scatter writes
 * to 256 streams, which the caches follow; 8 passes at most. */
#define RADIX_BITS 8
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_PASSES (64 / RADIX_BITS)

uint64_t *calib_radix_sort(uint64_t *a, uint64_t *tmp, size_t n)
{
    size_t count[RADIX_PASSES][RADIX_SIZE];

    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) {
        uint64_t u = a[i];
        for (unsigned d = 0; d < RADIX_PASSES; d++)
            count[d][(u >> (d * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
    }
    for (unsigned d = 0; d < RADIX_PASSES; d++) {
        size_t *c = count[d], pos = 0;
        unsigned shift = d * RADIX_BITS;

        if (n == 0 || c[(a[0] >> shift) & (RADIX_SIZE - 1)] == n)
            continue;   /* one digit value for every key: nothing moves */
        for (unsigned b = 0; b < RADIX_SIZE; b++) {
            size_t here = c[b];
            c[b] = pos;
            pos += here;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t u = a[i];
            tmp[c[(u >> shift) & (RADIX_SIZE - 1)]++] = u;
        }
        {
            uint64_t *swap = a;
            a = tmp;
            tmp = swap;
        }
    }
    return a;
}

