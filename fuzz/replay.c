/*
 * replay.c - runs a fuzz target without libFuzzer: every regular file in
 * the directories (or the files) named on the command line is passed to
 * LLVMFuzzerTestOneInput once. Built with the ordinary compiler, so that
 * `make check` (and `make asan`, with the sanitizers) replays the seed
 * corpus, the minimised corpus and every input that once crashed.
 *
 *   replay_npy fuzz/corpus/npy fuzz/regressions/npy
 *
 * Exits 0 when every input ran (a target reports a broken promise by
 * aborting), 1 when a file could not be read or nothing was replayed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, size = 0, got;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    do {
        if (size == cap) {
            uint8_t *b;
            cap = cap == 0 ? 4096 : cap * 2;
            b = realloc(buf, cap);
            if (b == NULL) {
                free(buf);
                fclose(f);
                fprintf(stderr, "%s: out of memory\n", path);
                return -1;
            }
            buf = b;
        }
        got = fread(buf + size, 1, cap - size, f);
        size += got;
    } while (got > 0);
    if (ferror(f)) {
        perror(path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);

    /* an exact-size copy, so that reading past the end is caught by ASan */
    {
        uint8_t *exact = malloc(size == 0 ? 1 : size);
        if (exact == NULL) {
            free(buf);
            return -1;
        }
        if (size > 0)
            memcpy(exact, buf, size);
        free(buf);
        LLVMFuzzerTestOneInput(exact, size);
        free(exact);
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Replays the regular files of dir in name order; returns how many, or
 * -1 on an error. */
static long replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    long done = 0;

    if (d == NULL) {
        perror(dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn;
            cap = cap == 0 ? 64 : cap * 2;
            nn = realloc(names, cap * sizeof *names);
            if (nn == NULL)
                break;
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (names[n] != NULL)
            n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (replay_file(path) != 0)
                done = -1;
            else if (done >= 0)
                done++;
        }
        free(names[i]);
    }
    free(names);
    return done;
}

int main(int argc, char **argv)
{
    long total = 0;
    int bad = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            perror(argv[i]);
            bad = 1;
        } else if (S_ISDIR(sb.st_mode)) {
            long n = replay_dir(argv[i]);
            if (n < 0)
                bad = 1;
            else
                total += n;
        } else if (replay_file(argv[i]) != 0) {
            bad = 1;
        } else {
            total++;
        }
    }
    printf("%s: %ld inputs replayed\n", argv[0], total);
    return bad || total == 0 ? 1 : 0;
}
