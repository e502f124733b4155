/*
 * timeit.c - runs a command several times; median wall time and peak RSS.
 *
 *   timeit REPS OUT COMMAND [ARG...]
 *
 * Runs COMMAND REPS times with its standard output sent to the file OUT
 * (the last run's output stays there, for comparing outputs), and prints
 * time_s=MEDIAN best_s=BEST max_rss_kb=PEAK. Wall time is CLOCK_MONOTONIC
 * around fork/exec/wait; the peak resident set is getrusage(RUSAGE_CHILDREN)
 * ru_maxrss, the largest of any run, the same number that GNU time -v
 * reports as "Maximum resident set size". Exit status 1 if any run fails.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_REPS 100

static int run_once(char **argv, const char *out)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(127);
        close(fd);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    double med;
    double t[MAX_REPS];
    struct rusage ru;
    size_t reps;

    if (argc < 4) {
        fprintf(stderr, "usage: timeit REPS OUT COMMAND [ARG...]\n");
        return 2;
    }
    reps = (size_t)strtoul(argv[1], NULL, 10);
    if (reps == 0 || reps > MAX_REPS)
        return 2;
    for (size_t r = 0; r < reps; r++) {
        double t0 = now();
        if (run_once(argv + 3, argv[2]) != 0) {
            fprintf(stderr, "timeit: %s failed\n", argv[3]);
            return 1;
        }
        t[r] = now() - t0;
    }
    getrusage(RUSAGE_CHILDREN, &ru);
    med = median(t, reps);  /* sorts t: t[0] is the best */
    printf("time_s=%.6f best_s=%.6f max_rss_kb=%ld\n",
           med,
           t[0], ru.ru_maxrss);
    return 0;
}
