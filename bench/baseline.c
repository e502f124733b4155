/*
 * baseline.c - the bench's floor: read a file's bytes and touch each value.
 *
 *   baseline FILE REPS      prints time_s=MEDIAN best_s=BEST sum=S
 *                           read_s=... mmap_s=... method=read|mmap
 *
 * "Simply reading the same bytes from memory", as issue 6 puts it, is
 * defined here as the faster of two ways, each on one thread, with the
 * .npy already in the page cache: read() it in 1 MiB chunks into one
 * reused buffer, or map it (mmap, 16 MiB windows, as calib eval does) and
 * read the pages in place; either way every float32 after the header is
 * added into a double (eight independent sums, which gcc -O2 vectorises
 * without reassociating). That is the least any tool that reads the file
 * and looks at every logit must do, and it converts each value to double
 * as calib's metrics do. time_s is the faster method's median; the two
 * methods alternate, REPS times each, after one untimed pass of each.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define CHUNK (1u << 20)
#define WINDOW ((size_t)16 << 20)
#define LANES 8
#define MAX_REPS 100

/* Sum of the float32 values of the .npy at path; -1 on error. */
static int read_and_sum(const char *path, float *buf, double *out)
{
    double acc[LANES] = {0};
    size_t header = 0, carry = 0;
    int fd = open(path, O_RDONLY), first = 1;

    if (fd < 0)
        return -1;
    for (;;) {
        ssize_t got = read(fd, (char *)buf + carry, CHUNK - carry);
        size_t bytes, count, start = 0;
        const float *v;

        if (got < 0) {
            close(fd);
            return -1;
        }
        if (got == 0)
            break;
        bytes = carry + (size_t)got;
        if (first) {
            /* .npy: 6 magic, 2 version, 2-byte header length (format 1) */
            unsigned char *b = (unsigned char *)buf;
            header = 10 + (size_t)b[8] + 256u * (size_t)b[9];
            start = header;
            first = 0;
        }
        v = (const float *)((const char *)buf + start);
        count = (bytes - start) / sizeof(float);
        size_t i = 0;
        for (; i + LANES <= count; i += LANES)
            for (size_t j = 0; j < LANES; j++)
                acc[j] += (double)v[i + j];
        for (; i < count; i++)
            acc[0] += (double)v[i];
        carry = bytes - start - count * sizeof(float);
        memmove(buf, (const char *)buf + bytes - carry, carry);
    }
    close(fd);
    *out = 0.0;
    for (size_t j = 0; j < LANES; j++)
        *out += acc[j];
    return 0;
}

/* The header length of the .npy at p (format 1.0: 2-byte length). */
static size_t npy_header(const unsigned char *p)
{
    return 10 + (size_t)p[8] + 256u * (size_t)p[9];
}

/* The same sum, the file mapped a window at a time; -1 on error. */
static int map_and_sum(const char *path, double *out)
{
    double acc[LANES] = {0};
    struct stat st;
    size_t size, header = 0;
    int fd = open(path, O_RDONLY);

    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size = (size_t)st.st_size;
    /* windows are multiples of the page size; a value never straddles
     * two, since the header length is a multiple of 16 */
    for (size_t off = 0; off < size; off += WINDOW) {
        size_t len = size - off < WINDOW ? size - off : WINDOW, i = 0;
        size_t count;
        const unsigned char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd,
                                      (off_t)off);
        const float *v;

        if (p == MAP_FAILED) {
            close(fd);
            return -1;
        }
        if (off == 0)
            header = npy_header(p);
        v = (const float *)(p + (off == 0 ? header : 0));
        count = (len - (off == 0 ? header : 0)) / sizeof(float);
        for (; i + LANES <= count; i += LANES)
            for (size_t j = 0; j < LANES; j++)
                acc[j] += (double)v[i + j];
        for (; i < count; i++)
            acc[0] += (double)v[i];
        munmap((void *)(uintptr_t)p, len);
    }
    close(fd);
    *out = 0.0;
    for (size_t j = 0; j < LANES; j++)
        *out += acc[j];
    return 0;
}

int main(int argc, char **argv)
{
    double t_read[MAX_REPS], t_map[MAX_REPS], sum = 0.0, sum_map = 0.0;
    double med_read, med_map;
    float *buf;
    size_t reps;

    if (argc != 3)
        return 2;
    reps = (size_t)strtoul(argv[2], NULL, 10);
    if (reps == 0 || reps > MAX_REPS)
        return 2;
    buf = malloc(CHUNK);
    if (buf == NULL || read_and_sum(argv[1], buf, &sum) != 0 ||
        map_and_sum(argv[1], &sum_map) != 0) {
        perror(argv[1]);
        free(buf);
        return 1;
    }
    for (size_t r = 0; r < reps; r++) {
        double t0 = now();
        if (read_and_sum(argv[1], buf, &sum) != 0) {
            perror(argv[1]);
            free(buf);
            return 1;
        }
        t_read[r] = now() - t0;
        t0 = now();
        if (map_and_sum(argv[1], &sum_map) != 0) {
            perror(argv[1]);
            free(buf);
            return 1;
        }
        t_map[r] = now() - t0;
    }
    free(buf);
    if (sum != sum_map) {
        fprintf(stderr, "baseline: read and mmap sums differ\n");
        return 1;
    }
    med_read = median(t_read, reps);   /* sorts: t[0] is the best */
    med_map = median(t_map, reps);
    if (med_map < med_read)
        printf("time_s=%.6f best_s=%.6f ", med_map, t_map[0]);
    else
        printf("time_s=%.6f best_s=%.6f ", med_read, t_read[0]);
    printf("sum=%.17g read_s=%.6f mmap_s=%.6f method=%s\n", sum, med_read,
           med_map, med_map < med_read ? "mmap" : "read");
    return 0;
}
