/*
 * write.c - output files written whole or not at all: .npy, CSV and raw
 * bytes through a temporary file renamed over the target.
 *
 * Each write creates ".TARGET.XXXXXX" with mkstemp in the target's own
 * directory (rename is only atomic within one file system), writes
 * everything, flushes and fsyncs it, gives it the permissions a newly
 * created file would get (0666 minus the umask; an existing target keeps
 * its own), and renames it over the target. Any failure unlinks the
 * temporary file, so the earlier target is left exactly as it was. The
 * names of temporary files being written sit in a small static table that
 * calib_remove_pending_files() walks from a signal handler: it only reads
 * volatile sig_atomic_t flags and calls unlink(), both async-signal-safe.
 * The .npy files are format 1.0, little-endian, C order, with the header
 * padded so that the data starts at a multiple of 64 bytes, as NumPy does.
 * A target that is a symbolic link is resolved first, so the file it
 * points to is replaced and the link stays; a target that exists but is
 * not a regular file (a device such as /dev/full, a FIFO, a directory) is
 * refused, since renaming over it would replace the device with a file.
 * Limits: at most PENDING_SLOTS writes at once are known to the signal
 * handler, further ones are still atomic but may leave their temporary
 * file behind if the process is killed.
 */
/* realpath() */
#define _XOPEN_SOURCE 700

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Writes in progress at once that an interrupt can clean up; more are
 * still written safely, only not removed by a signal handler. */
#define PENDING_SLOTS 16

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Data goes out in pieces of this size, so no output is staged whole. */
#define WRITE_CHUNK ((size_t)1 << 16)

static char pending_name[PENDING_SLOTS][PATH_MAX];
static volatile sig_atomic_t pending_used[PENDING_SLOTS];
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

/* One write in progress. */
typedef struct tmp_writer {
    FILE *file;
    const char *path;           /* the target as the caller named it */
    char target[PATH_MAX];      /* the same, symbolic links resolved */
    char tmp[PATH_MAX];
    int slot;                   /* in the pending table, or -1 */
    calib_error *err;
} tmp_writer;

static int claim_slot(const char *tmp)
{
    int slot = -1;

    pthread_mutex_lock(&pending_lock);
    for (int i = 0; i < PENDING_SLOTS; i++)
        if (!pending_used[i]) {
            /* the name is complete before the flag says so */
            memcpy(pending_name[i], tmp, strlen(tmp) + 1);
            atomic_signal_fence(memory_order_seq_cst);
            pending_used[i] = 1;
            slot = i;
            break;
        }
    pthread_mutex_unlock(&pending_lock);
    return slot;
}

static void release_slot(int slot)
{
    if (slot < 0)
        return;
    pthread_mutex_lock(&pending_lock);
    pending_used[slot] = 0;
    pthread_mutex_unlock(&pending_lock);
}

void calib_remove_pending_files(void)
{
    for (int i = 0; i < PENDING_SLOTS; i++)
        if (pending_used[i])
            unlink(pending_name[i]);
}

/* The process umask, read without changing it where Linux allows; the
 * fallback sets and restores it, which is racy only against other
 * threads creating files in that instant. */
static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    mode_t mask;

    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL) {
            unsigned long v;
            if (sscanf(line, "Umask: %lo", &v) == 1) {
                fclose(f);
                return (mode_t)(v & 0777u);
            }
        }
        fclose(f);
    }
    mask = umask(022);
    umask(mask);
    return mask;
}

static calib_status io_fail(const tmp_writer *w, const char *what, int e)
{
    return calib_fail(w->err, CALIB_E_IO, w->path, -1, -1, -1, "%s: %s",
                      what, strerror(e));
}

/* Sets w->target: the path, or what a symbolic link there resolves to;
 * refuses an existing target that is not a regular file. */
static calib_status resolve_target(tmp_writer *w)
{
    struct stat sb;
    size_t len = strlen(w->path);

    if (len >= sizeof w->target)
        return calib_fail(w->err, CALIB_E_IO, w->path, -1, -1, -1,
                          "path is too long");
    memcpy(w->target, w->path, len + 1);
    if (lstat(w->path, &sb) != 0)
        return CALIB_OK;  /* a new file; begin() reports other errors */
    if (S_ISLNK(sb.st_mode)) {
        char *real = realpath(w->path, NULL);  /* libc memory */
        if (real == NULL)
            return calib_fail(w->err, CALIB_E_IO, w->path, -1, -1, -1,
                              "is a symbolic link whose target cannot "
                              "be resolved: %s", strerror(errno));
        len = strlen(real);
        if (len >= sizeof w->target) {
            free(real);
            return calib_fail(w->err, CALIB_E_IO, w->path, -1, -1, -1,
                              "path is too long");
        }
        memcpy(w->target, real, len + 1);
        free(real);
        if (stat(w->target, &sb) != 0)
            return CALIB_OK;
    }
    if (!S_ISREG(sb.st_mode))
        return calib_fail(w->err, CALIB_E_IO, w->path, -1, -1, -1,
                          "exists and is not a regular file (%s); calib "
                          "writes only regular files",
                          S_ISDIR(sb.st_mode) ? "a directory"
                          : S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode)
                              ? "a device"
                          : S_ISFIFO(sb.st_mode) ? "a FIFO"
                                                 : "a special file");
    return CALIB_OK;
}

/* Creates the temporary file next to the target and registers it. */
static calib_status begin(tmp_writer *w, const char *path, calib_error *err)
{
    const char *slash, *base;
    size_t dir_len;
    int fd, n;
    calib_status st;

    memset(w, 0, sizeof *w);
    w->path = path;
    w->err = err;
    w->slot = -1;
    st = resolve_target(w);
    if (st != CALIB_OK)
        return st;
    slash = strrchr(w->target, '/');
    base = slash != NULL ? slash + 1 : w->target;
    dir_len = slash != NULL ? (size_t)(slash - w->target) + 1 : 0;
    if (*base == '\0')
        return calib_fail(err, CALIB_E_IO, path, -1, -1, -1,
                          "not a file name (ends in '/')");
    n = snprintf(w->tmp, sizeof w->tmp, "%.*s.%s.XXXXXX", (int)dir_len,
                 w->target, base);
    if (n < 0 || (size_t)n >= sizeof w->tmp)
        return calib_fail(err, CALIB_E_IO, path, -1, -1, -1,
                          "path is too long");

    /* registered before it exists: mkstemp completes the name in the
     * table before it creates the file, so a signal at any moment finds
     * the file it must remove */
    w->slot = claim_slot(w->tmp);
    fd = mkstemp(w->slot >= 0 ? pending_name[w->slot] : w->tmp);
    if (fd < 0) {
        int e = errno;
        release_slot(w->slot);
        return io_fail(w, "cannot create a temporary file in its "
                          "directory", e);
    }
    if (w->slot >= 0)
        memcpy(w->tmp, pending_name[w->slot], strlen(w->tmp) + 1);
    w->file = fdopen(fd, "wb");
    if (w->file == NULL) {
        int e = errno;
        close(fd);
        unlink(w->tmp);
        release_slot(w->slot);
        return io_fail(w, "cannot open the temporary file", e);
    }
    return CALIB_OK;
}

/* Drops the temporary file; the target is untouched. */
static void abandon(tmp_writer *w)
{
    if (w->file != NULL)
        fclose(w->file);
    w->file = NULL;
    unlink(w->tmp);
    release_slot(w->slot);
}

static calib_status put(tmp_writer *w, const void *data, size_t size)
{
    if (size > 0 && fwrite(data, 1, size, w->file) != size)
        return io_fail(w, "cannot write", errno);
    return CALIB_OK;
}

/* Flushes, syncs, sets the mode and renames over the target; on failure
 * the temporary file is gone and the target unchanged. */
static calib_status finish(tmp_writer *w)
{
    struct stat sb;
    mode_t mode;
    int fd = fileno(w->file), e;

    if (stat(w->target, &sb) == 0 && S_ISREG(sb.st_mode))
        mode = sb.st_mode & 07777;
    else
        mode = (mode_t)(0666 & ~current_umask());
    if (fflush(w->file) != 0 || fsync(fd) != 0) {
        e = errno;
        abandon(w);
        return io_fail(w, "cannot write", e);
    }
    if (fchmod(fd, mode) != 0) {
        e = errno;
        abandon(w);
        return io_fail(w, "cannot set permissions", e);
    }
    if (fclose(w->file) != 0) {
        e = errno;
        w->file = NULL;
        abandon(w);
        return io_fail(w, "cannot write", e);
    }
    w->file = NULL;
    if (rename(w->tmp, w->target) != 0) {
        e = errno;
        abandon(w);
        return io_fail(w, "cannot replace", e);
    }
    release_slot(w->slot);
    return CALIB_OK;
}

calib_status calib_write_file(const char *path, const void *data,
                              size_t size, calib_error *err)
{
    tmp_writer w;
    calib_status st;

    if (path == NULL || (data == NULL && size > 0))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_write_file: NULL argument");
    st = begin(&w, path, err);
    if (st != CALIB_OK)
        return st;
    st = put(&w, data, size);
    if (st != CALIB_OK) {
        abandon(&w);
        return st;
    }
    return finish(&w);
}

static int host_is_little(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* The .npy preamble and header for `descr` and the shape text. */
static calib_status put_npy_header(tmp_writer *w, const char *descr,
                                   const char *shape)
{
    char header[256];
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    int n = snprintf(header, sizeof header,
                     "{'descr': '%s', 'fortran_order': False, "
                     "'shape': %s, }", descr, shape);
    size_t len = (size_t)n, total;
    calib_status st;

    /* spaces and a newline up to a multiple of 64, as NumPy pads */
    total = (10 + len + 1 + 63) / 64 * 64;
    memset(header + len, ' ', total - 10 - len - 1);
    header[total - 10 - 1] = '\n';
    len = total - 10;
    pre[8] = (unsigned char)(len & 0xffu);
    pre[9] = (unsigned char)(len >> 8);
    st = put(w, pre, sizeof pre);
    if (st == CALIB_OK)
        st = put(w, header, len);
    return st;
}

/* n items of 8 bytes, little-endian, through a bounded buffer. */
static calib_status put_le64(tmp_writer *w, const void *data, size_t n)
{
    unsigned char buf[WRITE_CHUNK];
    const unsigned char *in = data;
    calib_status st = CALIB_OK;

    if (host_is_little())
        return put(w, data, n * 8);
    while (n > 0 && st == CALIB_OK) {
        size_t m = n < WRITE_CHUNK / 8 ? n : WRITE_CHUNK / 8;
        for (size_t i = 0; i < m; i++)
            for (size_t b = 0; b < 8; b++)
                buf[i * 8 + b] = in[i * 8 + 7 - b];
        st = put(w, buf, m * 8);
        in += m * 8;
        n -= m;
    }
    return st;
}

static calib_status write_npy(const char *path, const char *descr,
                              const void *data, size_t rows, size_t cols,
                              calib_error *err)
{
    tmp_writer w;
    char shape[64];
    size_t n;
    int overflow = 0;
    calib_status st;

    if (path == NULL || (data == NULL && rows > 0))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_write_npy: NULL argument");
    n = calib_mul_size(rows, cols == 0 ? 1 : cols, &overflow);
    calib_mul_size(n, 8, &overflow);
    if (overflow)
        return calib_fail(err, CALIB_E_ARGUMENT, path, -1, -1, -1,
                          "%zu x %zu values are beyond the addressable "
                          "size", rows, cols);
    if (cols == 0)
        snprintf(shape, sizeof shape, "(%zu,)", rows);
    else
        snprintf(shape, sizeof shape, "(%zu, %zu)", rows, cols);

    st = begin(&w, path, err);
    if (st != CALIB_OK)
        return st;
    st = put_npy_header(&w, descr, shape);
    if (st == CALIB_OK)
        st = put_le64(&w, data, n);
    if (st != CALIB_OK) {
        abandon(&w);
        return st;
    }
    return finish(&w);
}

calib_status calib_write_npy_f64(const char *path, const double *data,
                                 size_t rows, size_t cols, calib_error *err)
{
    return write_npy(path, "<f8", data, rows, cols, err);
}

calib_status calib_write_npy_i64(const char *path, const int64_t *data,
                                 size_t n, calib_error *err)
{
    return write_npy(path, "<i8", data, n, 0, err);
}

calib_status calib_write_csv_f64(const char *path, const double *data,
                                 size_t rows, size_t cols, calib_error *err)
{
    tmp_writer w;
    calib_status st;

    if (path == NULL || (data == NULL && rows > 0 && cols > 0))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_write_csv_f64: NULL argument");
    st = begin(&w, path, err);
    if (st != CALIB_OK)
        return st;
    for (size_t i = 0; i < rows && st == CALIB_OK; i++) {
        for (size_t j = 0; j < cols; j++)
            if (fprintf(w.file, j == 0 ? "%.17g" : ",%.17g",
                        data[i * cols + j]) < 0) {
                st = io_fail(&w, "cannot write", errno);
                break;
            }
        if (st == CALIB_OK && fputc('\n', w.file) == EOF)
            st = io_fail(&w, "cannot write", errno);
    }
    if (st != CALIB_OK) {
        abandon(&w);
        return st;
    }
    return finish(&w);
}
