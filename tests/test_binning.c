/*
 * test_binning.c - equal-width bin placement: values on edges under both
 * rules, the ends, and the table lookup of the metric kernels against a
 * search over every edge for many values near edges.
 */
#include "binning.h"
#include "check.h"

#include <float.h>
#include <stdint.h>

/* The bin by definition: compare p with every edge k / M in turn. */
static size_t bin_by_search(double p, size_t m, calib_bin_rule rule)
{
    size_t b = 0;

    for (size_t k = 1; k < m; k++) {
        double edge = (double)k / (double)m;
        if (rule == CALIB_BIN_RIGHT ? p > edge : p >= edge)
            b = k;
    }
    return b;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1p-53;
}

static void check_edges_of(size_t m)
{
    calib_edges right, left;
    calib_error err;

    CHECK_STATUS(calib_edges_init(&right, m, CALIB_BIN_RIGHT, &err),
                 CALIB_OK);
    CHECK_STATUS(calib_edges_init(&left, m, CALIB_BIN_LEFT, &err), CALIB_OK);

    /* every edge and its two neighbouring doubles, plus random values */
    for (size_t k = 0; k <= m; k++) {
        double edge = (double)k / (double)m;
        double probes[3];
        probes[0] = nextafter(edge, -1.0);
        probes[1] = edge;
        probes[2] = nextafter(edge, 2.0);
        for (int j = 0; j < 3; j++) {
            double p = probes[j];
            if (p < 0.0 || p > 1.0)
                continue;
            CHECK(calib_bin_index(p, m, CALIB_BIN_RIGHT) ==
                  bin_by_search(p, m, CALIB_BIN_RIGHT));
            CHECK(calib_bin_index(p, m, CALIB_BIN_LEFT) ==
                  bin_by_search(p, m, CALIB_BIN_LEFT));
            CHECK(calib_edges_find(&right, p) ==
                  bin_by_search(p, m, CALIB_BIN_RIGHT));
            CHECK(calib_edges_find(&left, p) ==
                  bin_by_search(p, m, CALIB_BIN_LEFT));
        }
    }
    for (int i = 0; i < 200; i++) {
        double p = uniform();
        CHECK(calib_edges_find(&right, p) ==
              bin_by_search(p, m, CALIB_BIN_RIGHT));
        CHECK(calib_edges_find(&left, p) ==
              bin_by_search(p, m, CALIB_BIN_LEFT));
    }
    calib_edges_free(&right);
    calib_edges_free(&left);
}

int main(void)
{
    calib_edges e;
    calib_error err;

    /* M = 10: the examples, worked by hand */
    CHECK(calib_bin_index(0.0, 10, CALIB_BIN_RIGHT) == 0);
    CHECK(calib_bin_index(0.1, 10, CALIB_BIN_RIGHT) == 0);
    CHECK(calib_bin_index(0.3, 10, CALIB_BIN_RIGHT) == 2);
    CHECK(calib_bin_index(0.6, 10, CALIB_BIN_RIGHT) == 5);
    CHECK(calib_bin_index(0.7, 10, CALIB_BIN_RIGHT) == 6);
    CHECK(calib_bin_index(1.0, 10, CALIB_BIN_RIGHT) == 9);
    CHECK(calib_bin_index(0.30000000000000004, 10, CALIB_BIN_RIGHT) == 3);
    CHECK(calib_bin_index(0.0, 10, CALIB_BIN_LEFT) == 0);
    CHECK(calib_bin_index(0.1, 10, CALIB_BIN_LEFT) == 1);
    CHECK(calib_bin_index(0.3, 10, CALIB_BIN_LEFT) == 3);
    CHECK(calib_bin_index(0.6, 10, CALIB_BIN_LEFT) == 6);
    CHECK(calib_bin_index(0.7, 10, CALIB_BIN_LEFT) == 7);
    CHECK(calib_bin_index(1.0, 10, CALIB_BIN_LEFT) == 9);
    CHECK(calib_bin_index(0.29999999999999999, 10, CALIB_BIN_LEFT) == 3);
    CHECK(calib_bin_index(nextafter(0.3, 0.0), 10, CALIB_BIN_LEFT) == 2);
    CHECK(calib_bin_index(0.05, 10, CALIB_BIN_LEFT) == 0);
    CHECK(calib_bin_index(0.95, 10, CALIB_BIN_RIGHT) == 9);

    /* where truncating p * M is wrong: (15/22) * 22 rounds below 15 */
    CHECK(calib_bin_index(15.0 / 22.0, 22, CALIB_BIN_LEFT) == 15);
    CHECK(calib_bin_index(15.0 / 22.0, 22, CALIB_BIN_RIGHT) == 14);

    /* out of range and degenerate: clamped, never out of bounds */
    CHECK(calib_bin_index(-0.5, 10, CALIB_BIN_RIGHT) == 0);
    CHECK(calib_bin_index(1.5, 10, CALIB_BIN_LEFT) == 9);
    CHECK(calib_bin_index(NAN, 10, CALIB_BIN_LEFT) == 0);
    CHECK(calib_bin_index(0.5, 1, CALIB_BIN_RIGHT) == 0);
    CHECK(calib_bin_index(0.5, 0, CALIB_BIN_RIGHT) == 0);
    CHECK(calib_bin_index(DBL_MIN, 15, CALIB_BIN_RIGHT) == 0);
    CHECK(calib_bin_index(1.0 - DBL_EPSILON / 2, 15, CALIB_BIN_LEFT) == 14);

    CHECK_STATUS(calib_edges_init(&e, 0, CALIB_BIN_RIGHT, &err),
                 CALIB_E_ARGUMENT);

    /* lookup table against the definition, many bin counts */
    for (size_t m = 1; m <= 64; m++)
        check_edges_of(m);
    check_edges_of(100);
    check_edges_of(1000);
    check_edges_of(997);

    return check_done("test_binning");
}
