/*
 * baseline.c - the bench's floor: read a file's bytes and touch each value.
 *
 *   baseline FILE REPS      prints time_s=MEDIAN best_s=BEST sum=S
 *
 * "Simply reading the same bytes from memory", as issue 6 puts it, is
 * defined here as: read() the whole .npy, already in the page cache, in
 * 1 MiB chunks into one reused buffer, and add every float32 after the
 * header into a double (eight independent sums, which gcc -O2 vectorises
 * without reassociating), on one thread. That is the least any tool that
 * reads the file and looks at every logit must do; it copies the bytes
 * from the kernel as calib's reader does, and converts each value to
 * double as calib's metrics do. The first pass warms the page cache and is
 * not counted.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define CHUNK (1u << 20)
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

int main(int argc, char **argv)
{
    double med;
    double t[MAX_REPS], sum = 0.0;
    float *buf;
    size_t reps;

    if (argc != 3)
        return 2;
    reps = (size_t)strtoul(argv[2], NULL, 10);
    if (reps == 0 || reps > MAX_REPS)
        return 2;
    buf = malloc(CHUNK);
    if (buf == NULL || read_and_sum(argv[1], buf, &sum) != 0) {
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
        t[r] = now() - t0;
    }
    free(buf);
    med = median(t, reps);  /* sorts t: t[0] is the best */
    printf("time_s=%.6f best_s=%.6f sum=%.17g\n",
           med,
           t[0], sum);
    return 0;
}
