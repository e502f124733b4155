/*
 * gen.c - the bench's synthetic data, from a fixed seed, as .npy files.
 *
 *   gen eval DIR N K SEED    DIR/logits.npy (N x K float32), DIR/labels.npy
 *                            (N int64)
 *   gen binary DIR N SEED    DIR/scores.npy (N float64 logits),
 *                            DIR/probs.npy (their sigmoid), DIR/blabels.npy
 *
 * Multiclass rows imitate an over-confident classifier on an ImageNet-sized
 * validation set: labels uniform over K classes, logits 2.5 * N(0, 1) for
 * every class, and one class lifted by 10 + 10 * U(0, 1): the true class
 * with probability 3/4, else a class drawn at random. Top-1 accuracy is
 * then about 0.73 against a mean confidence of about 0.87, so temperature
 * scaling has something to fix. Binary scores s = 2 * N(0, 1) with labels drawn from
 * sigmoid(1.5 s + 0.3): a mis-scaled but monotone score, as Platt and
 * isotonic regression expect. Normal deviates by Box and Muller (1958) from
 * splitmix64 uniforms. Files are written row by row, so a 2 GB matrix needs
 * no memory; the writer assumes a little-endian host and says so otherwise.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so log() below is finite. */
static double uniform(void)
{
    return ((double)(rng_next() >> 11) + 0.5) * 0x1.0p-53;
}

static double normal(void)
{
    static int have_spare;
    static double spare;
    double u, v;

    if (have_spare) {
        have_spare = 0;
        return spare;
    }
    u = sqrt(-2.0 * log(uniform()));
    v = 6.283185307179586 * uniform();
    spare = u * sin(v);
    have_spare = 1;
    return u * cos(v);
}

/* Writes a format 1.0 header padded to a multiple of 64 bytes. */
static int write_header(FILE *f, const char *descr, size_t rows, size_t cols)
{
    char dict[160], pre[10] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    size_t len, total;

    if (cols > 0)
        snprintf(dict, sizeof dict,
                 "{'descr': '%s', 'fortran_order': False, "
                 "'shape': (%zu, %zu), }", descr, rows, cols);
    else
        snprintf(dict, sizeof dict,
                 "{'descr': '%s', 'fortran_order': False, "
                 "'shape': (%zu,), }", descr, rows);
    len = strlen(dict);
    total = (10 + len + 1 + 63) / 64 * 64;
    pre[8] = (char)((total - 10) & 0xff);
    pre[9] = (char)((total - 10) >> 8);
    if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, len, f) != len)
        return -1;
    for (size_t i = 10 + len; i + 1 < total; i++)
        if (fputc(' ', f) == EOF)
            return -1;
    return fputc('\n', f) == EOF ? -1 : 0;
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL)
        perror(path);
    return f;
}

static int gen_eval(const char *dir, size_t n, size_t k)
{
    FILE *fz = open_out(dir, "logits.npy"), *fy = open_out(dir, "labels.npy");
    float *row = malloc(k * sizeof *row);
    int rc = 1;

    if (fz == NULL || fy == NULL || row == NULL)
        goto done;
    if (write_header(fz, "<f4", n, k) || write_header(fy, "<i8", n, 0))
        goto done;
    for (size_t i = 0; i < n; i++) {
        int64_t y = (int64_t)(rng_next() % k);
        size_t lifted = uniform() < 0.75 ? (size_t)y : rng_next() % k;

        for (size_t j = 0; j < k; j++)
            row[j] = (float)(2.5 * normal());
        row[lifted] += (float)(10.0 + 10.0 * uniform());
        if (fwrite(row, sizeof *row, k, fz) != k ||
            fwrite(&y, sizeof y, 1, fy) != 1)
            goto done;
    }
    rc = 0;
done:
    if (fz != NULL && fclose(fz) != 0)
        rc = 1;
    if (fy != NULL && fclose(fy) != 0)
        rc = 1;
    free(row);
    return rc;
}

static int gen_binary(const char *dir, size_t n)
{
    FILE *fs = open_out(dir, "scores.npy"), *fp = open_out(dir, "probs.npy");
    FILE *fy = open_out(dir, "blabels.npy");
    int rc = 1;

    if (fs == NULL || fp == NULL || fy == NULL)
        goto done;
    if (write_header(fs, "<f8", n, 0) || write_header(fp, "<f8", n, 0) ||
        write_header(fy, "<i8", n, 0))
        goto done;
    for (size_t i = 0; i < n; i++) {
        double s = 2.0 * normal();
        double p = 1.0 / (1.0 + exp(-s));
        int64_t y = uniform() < 1.0 / (1.0 + exp(-(1.5 * s + 0.3)));

        if (fwrite(&s, sizeof s, 1, fs) != 1 ||
            fwrite(&p, sizeof p, 1, fp) != 1 ||
            fwrite(&y, sizeof y, 1, fy) != 1)
            goto done;
    }
    rc = 0;
done:
    if (fs != NULL && fclose(fs) != 0)
        rc = 1;
    if (fp != NULL && fclose(fp) != 0)
        rc = 1;
    if (fy != NULL && fclose(fy) != 0)
        rc = 1;
    return rc;
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    return *end == '\0' ? (size_t)v : 0;
}

int main(int argc, char **argv)
{
    const uint16_t one = 1;
    unsigned char low;

    memcpy(&low, &one, 1);
    if (low != 1) {
        fprintf(stderr, "gen: writes little-endian .npy; big-endian host\n");
        return 1;
    }
    if (argc == 6 && strcmp(argv[1], "eval") == 0) {
        size_t n = parse_size(argv[3]), k = parse_size(argv[4]);
        rng_state = parse_size(argv[5]);
        if (n == 0 || k == 0)
            return 2;
        return gen_eval(argv[2], n, k);
    }
    if (argc == 5 && strcmp(argv[1], "binary") == 0) {
        size_t n = parse_size(argv[3]);
        rng_state = parse_size(argv[4]);
        if (n == 0)
            return 2;
        return gen_binary(argv[2], n);
    }
    fprintf(stderr, "usage: gen eval DIR N K SEED | gen binary DIR N SEED\n");
    return 2;
}
