/*
 * test_readers.c - the .npy, .npz and CSV readers and the atomic writers,
 * on the fixtures of tests/fixtures (made by make_fixtures.py) and on the
 * real files of ../shared/data when present.
 *
 * Fixture matrices hold v(i, j) = (i * K + j) * 0.375 - 2.5, exact in
 * float32, recomputed here; labels and CSV contents are listed in
 * tests/fixtures/expected.txt by the same script.
 */
#include "calib.h"
#include "check.h"
#include "counting_alloc.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIX "tests/fixtures/"

static double fixture_value(size_t i, size_t j, size_t k)
{
    return (double)(i * k + j) * 0.375 - 2.5;
}

/* Reads spec and compares it with the fixture formula. */
static void check_matrix(const char *spec, size_t rows, size_t cols,
                         calib_dtype dtype)
{
    calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
    calib_error err;
    calib_status st = calib_read_matrix(spec, &m, &err);
    int bad = 0;

    CHECK_STATUS(st, CALIB_OK);
    if (st != CALIB_OK) {
        printf("  %s: %s\n", spec, err.message);
        return;
    }
    CHECK(m.rows == rows);
    CHECK(m.cols == cols);
    CHECK(m.dtype == dtype);
    if (m.rows == rows && m.cols == cols)
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                if (calib_matrix_get(&m, i, j) != fixture_value(i, j, cols))
                    bad++;
    if (bad)
        printf("  %s: %d values differ\n", spec, bad);
    CHECK(bad == 0);
    calib_matrix_free(&m);
    CHECK(m.data == NULL && m.rows == 0);
}

/* A failure whose status and message are what we want: the message
 * names the file and contains `needle`. */
static void check_fails(calib_status got, const calib_error *err,
                        calib_status want, const char *file,
                        const char *needle)
{
    CHECK_STATUS(got, want);
    CHECK(err->status == want);
    CHECK(strstr(err->message, file) != NULL);
    CHECK(strstr(err->message, needle) != NULL);
    CHECK(strchr(err->message, '\n') == NULL);
    if (got != want || strstr(err->message, needle) == NULL ||
        strstr(err->message, file) == NULL)
        printf("  message: %s (want '%s')\n", err->message, needle);
}

static calib_status read_matrix_err(const char *spec, calib_error *err)
{
    calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
    calib_status st = calib_read_matrix(spec, &m, err);
    if (st == CALIB_OK)
        calib_matrix_free(&m);
    else
        CHECK(m.data == NULL);  /* outputs untouched on failure */
    return st;
}

static void test_matrices(void)
{
    static const char *tags[] = {"lf4", "bf4", "lf8", "bf8"};
    char spec[128];

    for (int t = 0; t < 4; t++)
        for (int f = 0; f < 2; f++) {
            snprintf(spec, sizeof spec, FIX "m_%s_%c.npy", tags[t],
                     f ? 'f' : 'c');
            check_matrix(spec, 5, 3, tags[t][2] == '4' ? CALIB_FLOAT32
                                                       : CALIB_FLOAT64);
        }
    check_matrix(FIX "m_v2_lf8.npy", 5, 3, CALIB_FLOAT64);
    check_matrix(FIX "m_v3_lf4.npy", 5, 3, CALIB_FLOAT32);
    check_matrix(FIX "vec_lf8.npy", 5, 1, CALIB_FLOAT64);
    check_matrix(FIX "col_bf4.npy", 5, 1, CALIB_FLOAT32);
    check_matrix(FIX "col_lf8_f.npy", 5, 1, CALIB_FLOAT64);
    check_matrix(FIX "m_hdr_order.npy", 5, 3, CALIB_FLOAT32);
    check_matrix(FIX "vec_hdr_long.npy", 5, 1, CALIB_FLOAT64);
    check_matrix(FIX "m_native.npy", 5, 3, CALIB_FLOAT64);
    check_matrix(FIX "arch_stored.npz:predictions", 5, 3, CALIB_FLOAT32);
    check_matrix(FIX "arch_deflated.npz:predictions.npy", 5, 3,
                 CALIB_FLOAT64);
    check_matrix(FIX "arch_deflated.npz:predictions", 5, 3, CALIB_FLOAT64);
    check_matrix(FIX "arch_single.npz", 5, 3, CALIB_FLOAT64);
    check_matrix(FIX "arch_single.npz:only", 5, 3, CALIB_FLOAT64);
}

/* An .npy read from a pipe (/dev/fd/N) is read whole, then parsed; the
 * sniffing for ZIP archives must not eat its first bytes. */
static void test_pipe(void)
{
    int fd[2];
    pid_t pid;
    char spec[64];

    CHECK(pipe(fd) == 0);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        FILE *f = fopen(FIX "m_bf8_f.npy", "rb");
        char buf[512];
        size_t n;
        close(fd[0]);
        while (f != NULL && (n = fread(buf, 1, sizeof buf, f)) > 0)
            if (write(fd[1], buf, n) < 0)
                break;
        _exit(0);
    }
    close(fd[1]);
    snprintf(spec, sizeof spec, "/dev/fd/%d", fd[0]);
    check_matrix(spec, 5, 3, CALIB_FLOAT64);
    close(fd[0]);
    waitpid(pid, NULL, 0);
}

/* Seconds a refusal from a pipe may take: each costs milliseconds, the
 * bound only catches a reader that swallows the whole endless stream. */
#define PIPE_MAX_SECONDS 20.0

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A child writing `head` (len bytes) and then `fill` zero bytes into a
 * pipe, endlessly when fill is SIZE_MAX; *spec names the read end. The
 * child stops when the reader hangs up (or is killed by end_writer). */
static pid_t start_writer(const void *head, size_t len, size_t fill,
                          int *rd, char *spec, size_t spec_size)
{
    int fd[2];
    pid_t pid;

    if (pipe(fd) != 0)
        return -1;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        static const char zeros[1 << 16];
        signal(SIGPIPE, SIG_IGN);
        close(fd[0]);
        if (len > 0 && write(fd[1], head, len) != (ssize_t)len)
            _exit(0);
        while (fill > 0) {
            size_t n = fill < sizeof zeros ? fill : sizeof zeros;
            ssize_t w = write(fd[1], zeros, n);
            if (w <= 0)
                _exit(0);
            if (fill != SIZE_MAX)
                fill -= (size_t)w;
        }
        _exit(0);
    }
    close(fd[1]);
    *rd = fd[0];
    snprintf(spec, spec_size, "/dev/fd/%d", fd[0]);
    return pid;
}

static void end_writer(pid_t pid, int rd)
{
    close(rd);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

/* A version 1.0 .npy header holding dict[0, len), padded to 128 bytes
 * (len < 117); out has room for them. */
static size_t npy_header_n(unsigned char *out, const char *dict, size_t len)
{
    size_t hl = 128 - 10;

    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)hl;
    out[9] = 0;
    memcpy(out + 10, dict, len);
    memset(out + 10 + len, ' ', hl - 1 - len);
    out[127] = '\n';
    return 128;
}

static size_t npy_header(unsigned char *out, const char *dict)
{
    return npy_header_n(out, dict, strlen(dict));
}

/* Reads a matrix (or labels) from a pipe fed by a child; returns the
 * status, err filled, with the allocator counting and capped at
 * limit_bytes (0: no cap). */
static calib_status pipe_read(const void *head, size_t len, size_t fill,
                              int labels, size_t limit_bytes,
                              calib_error *err, double *seconds)
{
    char spec[64];
    int rd = -1;
    calib_status st;
    double t0 = now_seconds();
    pid_t pid = start_writer(head, len, fill, &rd, spec, sizeof spec);

    CHECK(pid > 0);
    if (pid <= 0)
        return CALIB_E_IO;
    ca_reset(0);
    ca.limit_bytes = limit_bytes;
    ca_install();
    if (labels) {
        int64_t *lab = NULL;
        size_t n = 0;
        st = calib_read_labels(spec, &lab, &n, err);
        if (st == CALIB_OK)
            calib_free(lab);
    } else {
        calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
        st = calib_read_matrix(spec, &m, err);
        if (st == CALIB_OK)
            calib_matrix_free(&m);
    }
    calib_set_allocator(NULL);
    CHECK(ca.live == 0);
    end_writer(pid, rd);
    *seconds = now_seconds() - t0;
    CHECK(*seconds < PIPE_MAX_SECONDS);
    return st;
}

/*
 * A pipe's header is checked before its data is read, and no more data
 * is read (or allocated for) than arrives: an endless stream of zeros is
 * refused at its magic, a header claiming 80 GiB followed by 8 MiB is
 * truncated after 8 MiB, one followed by endless zeros stops at the
 * allocation cap, and bytes after the data are left unread.
 */
static void test_pipe_hostile(void)
{
    unsigned char head[160];
    size_t len;
    calib_error err;
    calib_status st;
    double sec;
    const size_t mib = (size_t)1 << 20;

    st = pipe_read(NULL, 0, SIZE_MAX, 0, 0, &err, &sec);
    check_fails(st, &err, CALIB_E_FORMAT, "/dev/fd/", "bad magic");
    CHECK(strcmp(err.field, "magic") == 0);
    CHECK(ca.peak_bytes < 64 * 1024);
    printf("  pipe of endless zeros: %.3f s, peak %zu bytes\n", sec,
           ca.peak_bytes);

    len = npy_header(head, "{'descr': '<f8', 'fortran_order': False, "
                           "'shape': (1073741824, 10), }");
    st = pipe_read(head, len, 8 * mib, 0, 0, &err, &sec);
    check_fails(st, &err, CALIB_E_FORMAT, "/dev/fd/",
                "the input ends after 8388608 bytes of data, header needs "
                "85899345920");
    CHECK(strstr(err.message, "truncated") != NULL);
    CHECK(strcmp(err.field, "shape") == 0);
    CHECK(ca.peak_bytes <= 16 * mib);
    printf("  80 GiB claimed, 8 MiB sent: %.3f s, peak %zu bytes\n", sec,
           ca.peak_bytes);

    st = pipe_read(head, len, SIZE_MAX, 0, 64 * mib, &err, &sec);
    check_fails(st, &err, CALIB_E_NOMEM, "/dev/fd/",
                "of the 85899345920 bytes of data the header claims");
    CHECK(ca.peak_bytes <= 64 * mib);
    printf("  80 GiB claimed, endless zeros, 64 MiB cap: %.3f s\n", sec);

    /* the same for labels */
    len = npy_header(head, "{'descr': '|u1', 'fortran_order': False, "
                           "'shape': (1073741824,), }");
    st = pipe_read(head, len, 3 * mib, 1, 0, &err, &sec);
    check_fails(st, &err, CALIB_E_FORMAT, "/dev/fd/",
                "the input ends after 3145728 bytes of data, header needs "
                "1073741824");
    CHECK(ca.peak_bytes <= 8 * mib);

    /* a sound array followed by endless bytes: read, the rest ignored */
    len = npy_header(head, "{'descr': '<f4', 'fortran_order': True, "
                           "'shape': (3, 2), }");
    st = pipe_read(head, len, SIZE_MAX, 0, 0, &err, &sec);
    CHECK_STATUS(st, CALIB_OK);
    len = npy_header(head, "{'descr': '<i2', 'fortran_order': False, "
                           "'shape': (300000,), }");
    st = pipe_read(head, len, SIZE_MAX, 1, 0, &err, &sec);
    CHECK_STATUS(st, CALIB_OK);
    CHECK(ca.peak_bytes <= 300000 * 8 + 4 * mib);

    /* every allocation of a growing pipe buffer may fail: out of memory,
     * nothing leaked (pipe_read checks ca.live) */
    for (int labels = 0; labels < 2; labels++) {
        int calls = 0;
        len = npy_header(head, labels
                                   ? "{'descr': '<i2', 'fortran_order': "
                                     "False, 'shape': (300000,), }"
                                   : "{'descr': '>f8', 'fortran_order': "
                                     "True, 'shape': (200000, 2), }");
        for (uint64_t n = 1; n < 20; n++) {
            char spec[64];
            int rd = -1;
            pid_t pid = start_writer(head, len, labels ? 600000 : 3200000,
                                     &rd, spec, sizeof spec);
            ca_reset(n);
            ca_install();
            if (labels) {
                int64_t *lab = NULL;
                size_t nl = 0;
                st = calib_read_labels(spec, &lab, &nl, &err);
                if (st == CALIB_OK)
                    calib_free(lab);
            } else {
                calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
                st = calib_read_matrix(spec, &m, &err);
                if (st == CALIB_OK)
                    calib_matrix_free(&m);
            }
            calib_set_allocator(NULL);
            end_writer(pid, rd);
            CHECK(ca.live == 0);
            if (st == CALIB_OK && ca.failed == 0)
                break;
            CHECK_STATUS(st, CALIB_E_NOMEM);
            calls++;
        }
        /* buffer, its growth (and the transposed copy) all failed once */
        CHECK(calls >= 3);
    }

    /* the pipe ends inside the header */
    st = pipe_read(head, 40, 0, 0, 0, &err, &sec);
    check_fails(st, &err, CALIB_E_FORMAT, "/dev/fd/",
                "ends inside the header (30 of its 118 bytes)");
    /* or inside the magic */
    st = pipe_read(head, 3, 0, 0, 0, &err, &sec);
    check_fails(st, &err, CALIB_E_FORMAT, "/dev/fd/", "bad magic");
    /* a ZIP archive from a pipe: refused, it needs seeking */
    st = pipe_read("PK\x03\x04", 4, 100, 0, 0, &err, &sec);
    CHECK(st == CALIB_E_IO || st == CALIB_E_UNSUPPORTED);
    CHECK(strstr(err.message, "pipe") != NULL);
    /* a pipe does not stream: refused before any byte is read */
    {
        char spec[64];
        int rd = -1;
        calib_npy_stream *s = NULL;
        pid_t pid = start_writer(head, 64, 0, &rd, spec, sizeof spec);
        unsigned char first[8];
        CHECK_STATUS(calib_npy_stream_open(spec, &s, NULL, NULL, NULL,
                                           &err),
                     CALIB_E_UNSUPPORTED);
        CHECK(read(rd, first, 8) == 8 && memcmp(first, head, 8) == 0);
        end_writer(pid, rd);
    }
}

/* A NUL byte inside the dtype string is not its end. */
static void test_npy_nul(void)
{
    static const char *dicts[3] = {
        "{'descr': '<f8\0', 'fortran_order': False, 'shape': (2,), }",
        "{'descr': '<f8\0junk', 'fortran_order': False, 'shape': (2,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"};
    char dir[] = "/tmp/calib_nul_XXXXXX", path[128];

    if (mkdtemp(dir) == NULL) {
        CHECK(0);
        return;
    }
    snprintf(path, sizeof path, "%s/nul.npy", dir);
    for (int i = 0; i < 3; i++) {
        /* strlen stops at the NUL: the length is that of the literal */
        size_t lens[3] = {58, 62, 57};
        unsigned char img[128 + 16];
        calib_error err;
        FILE *f;
        npy_header_n(img, dicts[i], lens[i]);
        memset(img + 128, 0, 16);
        f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f == NULL)
            break;
        CHECK(fwrite(img, 1, sizeof img, f) == sizeof img);
        fclose(f);
        if (i < 2) {
            check_fails(read_matrix_err(path, &err), &err, CALIB_E_FORMAT,
                        "nul.npy", "header field 'descr'");
            CHECK(strcmp(err.field, "descr") == 0);
            CHECK(strstr(err.message, "NUL") != NULL);
        } else {
            CHECK_STATUS(read_matrix_err(path, &err), CALIB_OK);
        }
    }
    unlink(path);
    rmdir(dir);
}

/* Every "labels FILE v0 v1 ..." line of expected.txt. */
static void test_labels(void)
{
    FILE *f = fopen(FIX "expected.txt", "r");
    char line[1024];
    int files = 0;

    CHECK(f != NULL);
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        char name[128], spec[160];
        int64_t want[16], *got = NULL;
        size_t nwant = 0, n = 0;
        int used = 0;
        char *p;
        calib_error err;
        calib_status st;

        if (sscanf(line, "labels %127s%n", name, &used) != 1)
            continue;
        p = line + used;
        while (nwant < 16) {
            long long v;
            int k;
            if (sscanf(p, "%lld%n", &v, &k) != 1)
                break;
            want[nwant++] = (int64_t)v;
            p += k;
        }
        snprintf(spec, sizeof spec, FIX "%s", name);
        st = calib_read_labels(spec, &got, &n, &err);
        CHECK_STATUS(st, CALIB_OK);
        if (st != CALIB_OK) {
            printf("  %s: %s\n", spec, err.message);
            continue;
        }
        files++;
        CHECK(n == nwant);
        if (n == nwant)
            for (size_t i = 0; i < n; i++)
                if (got[i] != want[i]) {
                    printf("FAIL %s[%zu] = %lld, want %lld\n", spec, i,
                           (long long)got[i], (long long)want[i]);
                    CHECK(got[i] == want[i]);
                }
        calib_free(got);
    }
    fclose(f);
    CHECK(files >= 20);
}

static void test_bad_npy(void)
{
    calib_error err;
    int64_t *lab = NULL;
    size_t n = 0;

    check_fails(read_matrix_err(FIX "no_such_file.npy", &err), &err,
                CALIB_E_IO, "no_such_file.npy", "cannot open");
    check_fails(read_matrix_err(FIX "bad_truncated.npy", &err), &err,
                CALIB_E_FORMAT, "bad_truncated.npy",
                "holds 100 bytes of data, header needs 120");
    check_fails(read_matrix_err(FIX "bad_more_rows.npy", &err), &err,
                CALIB_E_FORMAT, "bad_more_rows.npy",
                "holds 60 bytes of data, header needs 12000");
    CHECK(strcmp(err.field, "shape") == 0);
    check_fails(read_matrix_err(FIX "bad_huge_rows.npy", &err), &err,
                CALIB_E_TOO_LARGE, "bad_huge_rows.npy", "shape");
    CHECK(strcmp(err.field, "shape") == 0);
    check_fails(calib_read_labels(FIX "bad_huge_bytes.npy", &lab, &n, &err),
                &err, CALIB_E_FORMAT, "bad_huge_bytes.npy",
                "header needs 4611686018427387904");
    check_fails(read_matrix_err(FIX "bad_magic.npy", &err), &err,
                CALIB_E_FORMAT, "bad_magic.npy", "bad magic");
    check_fails(read_matrix_err(FIX "bad_c16.npy", &err), &err,
                CALIB_E_UNSUPPORTED, "bad_c16.npy", "'<c16'");
    CHECK(strcmp(err.field, "descr") == 0);
    check_fails(read_matrix_err(FIX "bad_f2.npy", &err), &err,
                CALIB_E_UNSUPPORTED, "bad_f2.npy", "'<f2'");
    check_fails(read_matrix_err(FIX "bad_u5.npy", &err), &err,
                CALIB_E_UNSUPPORTED, "bad_u5.npy", "'<U5'");
    check_fails(read_matrix_err(FIX "lab_li8.npy", &err), &err,
                CALIB_E_UNSUPPORTED, "lab_li8.npy", "'<i8'");
    check_fails(calib_read_labels(FIX "m_lf8_c.npy", &lab, &n, &err), &err,
                CALIB_E_UNSUPPORTED, "m_lf8_c.npy", "'<f8'");
    check_fails(calib_read_labels(FIX "m_lf8_c.npy", &lab, &n, &err), &err,
                CALIB_E_UNSUPPORTED, "m_lf8_c.npy", "labels");
    check_fails(read_matrix_err(FIX "bad_shape_text.npy", &err), &err,
                CALIB_E_FORMAT, "bad_shape_text.npy", "'shape'");
    CHECK(strcmp(err.field, "shape") == 0);
    check_fails(read_matrix_err(FIX "bad_zero_rows.npy", &err), &err,
                CALIB_E_SHAPE, "bad_zero_rows.npy", "zero rows");
    check_fails(read_matrix_err(FIX "bad_3d.npy", &err), &err,
                CALIB_E_SHAPE, "bad_3d.npy", "3 dimensions");
    check_fails(read_matrix_err(FIX "bad_no_fortran.npy", &err), &err,
                CALIB_E_FORMAT, "bad_no_fortran.npy", "'fortran_order'");
    CHECK(strcmp(err.field, "fortran_order") == 0);
    check_fails(read_matrix_err(FIX "bad_fortran_word.npy", &err), &err,
                CALIB_E_FORMAT, "bad_fortran_word.npy", "True or False");
    check_fails(calib_read_labels(FIX "bad_lab_u8_big.npy", &lab, &n, &err),
                &err, CALIB_E_VALUE, "bad_lab_u8_big.npy",
                "row 3: label 18446744073709551615");
    CHECK(err.row == 3);
    check_fails(calib_read_labels(FIX "m_lf8_c.npy", &lab, &n, &err), &err,
                CALIB_E_UNSUPPORTED, "m_lf8_c.npy", "descr");
    check_fails(read_matrix_err(FIX, &err), &err, CALIB_E_IO, "fixtures",
                "directory");
    CHECK(lab == NULL && n == 0);
}

static void test_bad_npz(void)
{
    calib_error err;

    check_fails(read_matrix_err(FIX "arch_stored.npz:logits", &err), &err,
                CALIB_E_ARGUMENT, "arch_stored.npz:logits",
                "no array 'logits'");
    CHECK(strstr(err.message, "predictions") != NULL);
    CHECK(strstr(err.message, "ground_truth") != NULL);
    check_fails(read_matrix_err(FIX "arch_stored.npz", &err), &err,
                CALIB_E_ARGUMENT, "arch_stored.npz", "holds 2 arrays");
    CHECK(strstr(err.message, "predictions") != NULL);
    check_fails(read_matrix_err(FIX "bad_crc.npz:predictions", &err), &err,
                CALIB_E_FORMAT, "bad_crc.npz:predictions", "CRC-32");
    check_fails(read_matrix_err(FIX "bad_deflate.npz:predictions", &err),
                &err, CALIB_E_FORMAT, "bad_deflate.npz:predictions",
                "deflate");
    /* the other member of the damaged archive is still fine */
    check_matrix(FIX "arch_stored.npz:predictions", 5, 3, CALIB_FLOAT32);
    check_fails(read_matrix_err(FIX "missing.npz:x", &err), &err,
                CALIB_E_IO, "missing.npz", "cannot open");
    check_fails(read_matrix_err(FIX "m_lf8_c.npy.npz", &err), &err,
                CALIB_E_IO, "m_lf8_c.npy.npz", "cannot open");
    check_fails(read_matrix_err(FIX "lab_li1.npy:x", &err), &err,
                CALIB_E_IO, "lab_li1.npy:x", "cannot open");
    check_fails(read_matrix_err(FIX "preds.tsv", &err), &err,
                CALIB_E_FORMAT, "preds.tsv", "magic");
}

static void test_stream(void)
{
    calib_npy_stream *s = NULL;
    calib_error err;
    size_t rows = 0, cols = 0, got = 1, seen = 0;
    calib_dtype dtype = CALIB_FLOAT64;
    float chunk[2 * 3];
    int bad = 0;

    CHECK_STATUS(calib_npy_stream_open(FIX "m_bf4_c.npy", &s, &rows, &cols,
                                       &dtype, &err), CALIB_OK);
    CHECK(rows == 5 && cols == 3 && dtype == CALIB_FLOAT32);
    while (s != NULL) {
        CHECK_STATUS(calib_npy_stream_read(s, chunk, 2, &got, &err),
                     CALIB_OK);
        if (got == 0)
            break;
        CHECK(got == (seen < 4 ? 2u : 1u));
        for (size_t i = 0; i < got; i++)
            for (size_t j = 0; j < 3; j++)
                if ((double)chunk[i * 3 + j] != fixture_value(seen + i, j, 3))
                    bad++;
        seen += got;
    }
    CHECK(seen == 5 && bad == 0);
    calib_npy_stream_close(s);

    s = NULL;
    check_fails(calib_npy_stream_open(FIX "m_lf8_f.npy", &s, &rows, &cols,
                                      &dtype, &err),
                &err, CALIB_E_UNSUPPORTED, "m_lf8_f.npy", "Fortran");
    CHECK(s == NULL);
    check_fails(calib_npy_stream_open(FIX "bad_more_rows.npy", &s, &rows,
                                      &cols, &dtype, &err),
                &err, CALIB_E_FORMAT, "bad_more_rows.npy", "header needs");
    check_fails(calib_npy_stream_open(FIX "arch_single.npz", &s, &rows,
                                      &cols, &dtype, &err),
                &err, CALIB_E_UNSUPPORTED, "arch_single.npz", "stream");
    CHECK_STATUS(calib_npy_stream_open(FIX "col_lf8_f.npy", &s, &rows, &cols,
                                       &dtype, &err), CALIB_OK);
    calib_npy_stream_close(s);
}

/* 1 when dir holds a file whose name starts with ".BASE." (a temporary
 * file of ours left behind). */
static int temp_left(const char *dir, const char *base)
{
    char prefix[128];
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;

    snprintf(prefix, sizeof prefix, ".%s.", base);
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            found = 1;
    closedir(d);
    return found;
}

static int file_equals(const char *path, const char *text)
{
    char buf[256];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, text) == 0;
}

static void test_writers(void)
{
    char dir[] = "/tmp/calib_readers_XXXXXX";
    char path[256], sub[256];
    double m[4 * 3];
    int64_t lab[4] = {3, -1, 0, INT64_MAX};
    calib_matrix got = {0, 0, CALIB_FLOAT64, NULL};
    int64_t *glab = NULL;
    size_t n = 0;
    calib_error err;
    struct stat sb;
    mode_t old_mask;

    if (mkdtemp(dir) == NULL) {
        CHECK(0);
        return;
    }
    for (size_t i = 0; i < 12; i++)
        m[i] = fixture_value(i / 3, i % 3, 3) / 7.0;

    /* round trips through the readers, bit for bit */
    snprintf(path, sizeof path, "%s/m.npy", dir);
    CHECK_STATUS(calib_write_npy_f64(path, m, 4, 3, &err), CALIB_OK);
    CHECK_STATUS(calib_read_matrix(path, &got, &err), CALIB_OK);
    CHECK(got.rows == 4 && got.cols == 3 && got.dtype == CALIB_FLOAT64);
    if (got.data != NULL)
        CHECK(memcmp(got.data, m, sizeof m) == 0);
    calib_matrix_free(&got);
    CHECK(stat(path, &sb) == 0 && (sb.st_size - 128) == (off_t)sizeof m);

    CHECK_STATUS(calib_write_npy_f64(path, m, 12, 0, &err), CALIB_OK);
    CHECK_STATUS(calib_read_matrix(path, &got, &err), CALIB_OK);
    CHECK(got.rows == 12 && got.cols == 1);
    calib_matrix_free(&got);

    snprintf(path, sizeof path, "%s/l.npy", dir);
    CHECK_STATUS(calib_write_npy_i64(path, lab, 4, &err), CALIB_OK);
    CHECK_STATUS(calib_read_labels(path, &glab, &n, &err), CALIB_OK);
    CHECK(n == 4 && glab != NULL && memcmp(glab, lab, sizeof lab) == 0);
    calib_free(glab);

    snprintf(path, sizeof path, "%s/m.csv", dir);
    {
        double v[4] = {0.1, -2.5, 1e-300, 1.0 / 3.0};
        CHECK_STATUS(calib_write_csv_f64(path, v, 2, 2, &err), CALIB_OK);
        CHECK(file_equals(path, "0.10000000000000001,-2.5\n"
                                "1e-300,"
                                "0.33333333333333331\n"));
    }

    /* a new file gets 0666 & ~umask, not mkstemp's 0600 */
    old_mask = umask(027);
    snprintf(path, sizeof path, "%s/raw.bin", dir);
    CHECK_STATUS(calib_write_file(path, "hello\n", 6, &err), CALIB_OK);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640);
    umask(old_mask);
    CHECK(file_equals(path, "hello\n"));
    CHECK(!temp_left(dir, "raw.bin"));

    /* target is a directory: fails, no temporary file left */
    snprintf(sub, sizeof sub, "%s/adir", dir);
    CHECK(mkdir(sub, 0755) == 0);
    check_fails(calib_write_file(sub, "x", 1, &err), &err, CALIB_E_IO,
                "adir", "not a regular file");
    CHECK(!temp_left(dir, "adir"));

    /* directory not writable: fails, old file intact (root ignores the
     * mode, so this part only runs for other users) */
    snprintf(sub, sizeof sub, "%s/ro", dir);
    CHECK(mkdir(sub, 0755) == 0);
    snprintf(path, sizeof path, "%s/ro/keep.txt", dir);
    CHECK_STATUS(calib_write_file(path, "old\n", 4, &err), CALIB_OK);
    if (geteuid() != 0) {
        CHECK(chmod(sub, 0555) == 0);
        check_fails(calib_write_file(path, "new\n", 4, &err), &err,
                    CALIB_E_IO, "keep.txt", "temporary");
        CHECK(file_equals(path, "old\n"));
        CHECK(!temp_left(sub, "keep.txt"));
        chmod(sub, 0755);
    }
    /* missing directory */
    check_fails(calib_write_npy_f64("/nonexistent_dir_calib/x.npy", m, 1, 1,
                                    &err),
                &err, CALIB_E_IO, "x.npy", "temporary");

    /* nothing is left pending after completed and failed writes */
    calib_remove_pending_files();
    CHECK(file_equals(path, "old\n"));

    unlink(path);
    rmdir(sub);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    CHECK(system(path) == 0);
}

static void on_signal(int sig)
{
    calib_remove_pending_files();
    _exit(128 + sig);
}

/*
 * A write interrupted by SIGINT or SIGTERM, whose handler calls
 * calib_remove_pending_files(), leaves the earlier file as it was and no
 * temporary file. A child writes a CSV large enough to take a while; the
 * parent signals it once the temporary file has appeared.
 */
static void test_interrupt(int sig)
{
    char dir[] = "/tmp/calib_intr_XXXXXX", path[128];
    pid_t pid;
    int status = 0, seen = 0;
    calib_error err;

    if (mkdtemp(dir) == NULL) {
        CHECK(0);
        return;
    }
    snprintf(path, sizeof path, "%s/out.csv", dir);
    CHECK_STATUS(calib_write_file(path, "old\n", 4, &err), CALIB_OK);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        size_t n = (size_t)4 << 20;
        double *v = calloc(n, sizeof *v);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (v == NULL)
            _exit(3);
        for (size_t i = 0; i < n; i++)
            v[i] = 1.0 / (double)(i + 3);
        calib_write_csv_f64(path, v, n / 4, 4, NULL);
        _exit(0);  /* finished before the signal: inconclusive */
    }
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    for (int tries = 0; tries < 20000 && !seen; tries++) {
        struct timespec ms = {0, 1000000};
        seen = temp_left(dir, "out.csv");
        if (!seen)
            nanosleep(&ms, NULL);
    }
    CHECK(seen);
    kill(pid, sig);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 128 + sig);
    CHECK(!temp_left(dir, "out.csv"));
    CHECK(file_equals(path, "old\n"));
    unlink(path);
    CHECK(rmdir(dir) == 0);
}

/* The "csv NAME ROWS COLS LABELNAME labels... values..." line. */
static int csv_expected(size_t *rows, size_t *cols, int64_t *lab,
                        double *val)
{
    FILE *f = fopen(FIX "expected.txt", "r");
    char line[1024], name[64], label[32];
    int ok = 0;

    if (f == NULL)
        return 0;
    while (!ok && fgets(line, sizeof line, f) != NULL) {
        int used = 0;
        char *p;
        if (sscanf(line, "csv %63s %zu %zu %31s%n", name, rows, cols, label,
                   &used) != 4 || *rows > 8 || *cols > 8)
            continue;
        p = line + used;
        ok = 1;
        for (size_t i = 0; i < *rows && ok; i++) {
            long long v;
            int k;
            ok = sscanf(p, "%lld%n", &v, &k) == 1;
            lab[i] = (int64_t)v;
            p += k;
        }
        for (size_t i = 0; i < *rows * *cols && ok; i++) {
            int k;
            ok = sscanf(p, "%lf%n", &val[i], &k) == 1;
            p += k;
        }
    }
    fclose(f);
    return ok;
}

/* Reads a CSV fixture and compares it with the expected rows. */
static void check_csv(const char *path, const calib_csv_options *opt)
{
    size_t rows = 0, cols = 0;
    int64_t want_lab[8], *lab = NULL;
    double want[64];
    calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
    calib_error err;
    calib_status st;

    CHECK(csv_expected(&rows, &cols, want_lab, want));
    st = calib_read_csv(path, opt, &m, &lab, &err);
    CHECK_STATUS(st, CALIB_OK);
    if (st != CALIB_OK) {
        printf("  %s: %s\n", path, err.message);
        return;
    }
    CHECK(m.rows == rows && m.cols == cols && m.dtype == CALIB_FLOAT64);
    if (m.rows == rows && m.cols == cols)
        for (size_t i = 0; i < rows; i++) {
            CHECK(lab[i] == want_lab[i]);
            for (size_t j = 0; j < cols; j++)
                CHECK(calib_matrix_get(&m, i, j) == want[i * cols + j]);
        }
    calib_matrix_free(&m);
    calib_free(lab);
}

static calib_status read_csv_err(const char *path,
                                 const calib_csv_options *opt,
                                 calib_error *err)
{
    calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
    int64_t *lab = NULL;
    calib_status st = calib_read_csv(path, opt, &m, &lab, err);

    if (st == CALIB_OK) {
        calib_matrix_free(&m);
        calib_free(lab);
    } else {
        CHECK(m.data == NULL && lab == NULL);
    }
    return st;
}

static void check_position(const calib_error *err, int64_t line,
                           int64_t column)
{
    CHECK(err->line == line);
    CHECK(err->column == column);
    if (err->line != line || err->column != column)
        printf("  position %lld:%lld, want %lld:%lld\n",
               (long long)err->line, (long long)err->column,
               (long long)line, (long long)column);
}

/* Writes text to dir/name; returns path (static) or NULL. */
static const char *write_text(const char *dir, const char *name,
                              const char *text)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

/*
 * Values the reader checks itself, naming the line (header and blank
 * lines counted) and the column: non-finite values, labels outside
 * [0, K) (K = 2 for one prediction column), negative top-label labels,
 * and a label column name or top-label column the header holds twice.
 */
static void test_csv_values(void)
{
    char dir[] = "/tmp/calib_csvv_XXXXXX";
    calib_csv_options opt;
    calib_toplabel t;
    calib_error err;
    const char *p;

    if (mkdtemp(dir) == NULL) {
        CHECK(0);
        return;
    }
    calib_csv_options_default(&opt);
    opt.label_column = 3;
    p = write_text(dir, "nan.csv", "a,b,label\n\n\n0.2,0.8,0\n0.1,nan,1\n");
    check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_VALUE, "nan.csv",
                "line 5, column 2: value 'nan' is not finite");
    check_position(&err, 5, 2);
    p = write_text(dir, "inf.csv", "0.2,0.8,0\r\n-inf,0.1,1\r\n");
    check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_VALUE, "inf.csv",
                "line 2, column 1: value '-inf' is not finite");
    p = write_text(dir, "big.csv", "0.2,1e999,0\n");
    check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_VALUE, "big.csv",
                "line 1, column 2: value '1e999' is not finite");
    /* a finite extreme is a value */
    p = write_text(dir, "max.csv", "1.7976931348623157e308,-1e-320,1\n");
    CHECK_STATUS(read_csv_err(p, &opt, &err), CALIB_OK);

    /* hexadecimal forms, which strtod takes, are not numbers here */
    p = write_text(dir, "hex.csv", "0.5,0.5,1\n0.25,0x1p3,0\n");
    check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_FORMAT,
                "hex.csv", "line 2, column 2: '0x1p3' is not a number");
    p = write_text(dir, "hexl.csv", "0.5,0.5,1\n0.25,0.75,0x1\n");
    check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_FORMAT,
                "hexl.csv", "line 2, column 3: label '0x1' is not a number");
    /* a NUL byte does not end a field silently */
    {
        static const char nul[] = "0.2,0.8,0\n0.1,0.9,1\0\n";
        FILE *f;
        p = write_text(dir, "nul.csv", "");
        f = p != NULL ? fopen(p, "wb") : NULL;
        CHECK(f != NULL);
        if (f != NULL) {
            fwrite(nul, 1, sizeof nul - 1, f);
            fclose(f);
        }
        check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_FORMAT,
                    "nul.csv", "line 2, column 10: a NUL byte");
    }

    /* labels in [0, K): K = 2 prediction columns here */
    p = write_text(dir, "range.csv", "a,b,label\n0.2,0.8,1\n\n0.1,0.9,2\n");
    check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_VALUE,
                "range.csv", "line 4, column 3: label 2 is out of range "
                             "[0, 2)");
    check_position(&err, 4, 3);
    opt.label_column = 1;
    p = write_text(dir, "range3.csv", "y,a,b,c\n2,0.2,0.3,0.5\n"
                                      "3.0,0.2,0.3,0.5\n");
    check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_VALUE,
                "range3.csv", "line 3, column 1: label 3 is out of range "
                              "[0, 3)");
    p = write_text(dir, "huge.csv", "9223372036854775807,0.5,0.5\n");
    check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_VALUE,
                "huge.csv", "label 9223372036854775807 is out of range");
    /* one prediction column: a binary task, labels 0 and 1 */
    p = write_text(dir, "bin.csv", "y,p\n0,0.2\n1,0.7\n");
    CHECK_STATUS(read_csv_err(p, &opt, &err), CALIB_OK);
    p = write_text(dir, "bin2.csv", "y,p\n0,0.2\n1,0.7\n2,0.5\n");
    check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_VALUE,
                "bin2.csv", "line 4, column 1: label 2 is out of range "
                            "[0, 2) (one prediction column");

    /* a label column named twice is refused, naming both columns */
    p = write_text(dir, "twice.csv", "p,y,p\n0.5,1,0.5\n");
    opt.label_name = "p";
    check_fails(read_csv_err(p, &opt, &err), &err, CALIB_E_ARGUMENT,
                "twice.csv", "'p' (columns 1 and 3)");
    opt.label_name = "y";
    CHECK_STATUS(read_csv_err(p, &opt, &err), CALIB_OK);
    opt.label_name = NULL;

    /* top-label: negative labels by line and column, the range is not
     * known here; columns named twice are refused */
    p = write_text(dir, "tl_pred.csv", "true_label,pred_label,confidence\n"
                                       "1,1,0.5\n\n2,-2,0.5\n");
    check_fails(calib_read_toplabel(p, &t, &err), &err, CALIB_E_VALUE,
                "tl_pred.csv", "line 4, column 2: label '-2' is negative");
    check_position(&err, 4, 2);
    p = write_text(dir, "tl_true.csv", "confidence,true_label,pred_label\n"
                                       "0.5,-1.0,1\n");
    check_fails(calib_read_toplabel(p, &t, &err), &err, CALIB_E_VALUE,
                "tl_true.csv", "line 2, column 2: label '-1.0' is negative");
    p = write_text(dir, "tl_big.csv", "true_label,pred_label,confidence\n"
                                      "7,1000000,0.5\n");
    CHECK_STATUS(calib_read_toplabel(p, &t, &err), CALIB_OK);
    calib_toplabel_free(&t);
    p = write_text(dir, "tl_nan.csv", "true_label,pred_label,confidence\n"
                                      "1,1,nan\n");
    check_fails(calib_read_toplabel(p, &t, &err), &err, CALIB_E_VALUE,
                "tl_nan.csv", "line 2, column 3: confidence nan");
    p = write_text(dir, "tl_twice.csv", "true_label,pred_label,confidence,"
                                        "Pred_Label\n1,1,0.5,2\n");
    check_fails(calib_read_toplabel(p, &t, &err), &err, CALIB_E_FORMAT,
                "tl_twice.csv", "'pred_label' (columns 2 and 4)");
    CHECK(strcmp(err.field, "pred_label") == 0);

    {
        static const char *names[] = {
            "nan.csv", "inf.csv", "big.csv", "max.csv", "range.csv",
            "range3.csv", "huge.csv", "bin.csv", "bin2.csv", "twice.csv",
            "tl_pred.csv", "tl_true.csv", "tl_big.csv", "tl_nan.csv",
            "tl_twice.csv", "hex.csv", "hexl.csv", "nul.csv"};
        char path[256];
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            unlink(path);
        }
    }
    CHECK(rmdir(dir) == 0);
}

static void test_csv(void)
{
    calib_csv_options opt;
    calib_error err;
    calib_toplabel t;
    char dir[] = "/tmp/calib_csv_XXXXXX", path[128];
    FILE *f;

    calib_csv_options_default(&opt);
    CHECK(opt.delimiter == 0 && opt.header == -1 && opt.label_column == 1 &&
          opt.label_name == NULL);
    check_csv(FIX "preds_header.csv", NULL);
    opt.label_name = "label";
    check_csv(FIX "preds_header.csv", &opt);
    opt.label_name = "y";
    check_csv(FIX "preds.tsv", &opt);
    opt.label_name = NULL;
    opt.label_column = 4;
    check_csv(FIX "preds.tsv", &opt);
    opt.label_column = 3;
    check_csv(FIX "preds_noheader.csv", &opt);
    opt.header = 0;
    check_csv(FIX "preds_noheader.csv", &opt);

    /* the header forced off on a file that has one */
    check_fails(read_csv_err(FIX "preds_header.csv", &opt, &err), &err,
                CALIB_E_FORMAT, "preds_header.csv",
                "line 1, column 1: 'label' is not a number");
    check_position(&err, 1, 1);
    calib_csv_options_default(&opt);
    opt.label_column = 5;
    check_fails(read_csv_err(FIX "preds_header.csv", &opt, &err), &err,
                CALIB_E_ARGUMENT, "preds_header.csv", "label column 5");
    opt.label_column = 1;
    opt.label_name = "nope";
    check_fails(read_csv_err(FIX "preds_header.csv", &opt, &err), &err,
                CALIB_E_ARGUMENT, "preds_header.csv", "'nope'");

    check_fails(read_csv_err(FIX "missing.csv", NULL, &err), &err,
                CALIB_E_IO, "missing.csv", "cannot open");
    check_fails(read_csv_err(FIX "bad_fields.csv", NULL, &err), &err,
                CALIB_E_FORMAT, "bad_fields.csv",
                "line 3 has 4 fields, line 1 has 3");
    check_position(&err, 3, -1);
    check_fails(read_csv_err(FIX "bad_number.csv", NULL, &err), &err,
                CALIB_E_FORMAT, "bad_number.csv",
                "line 3, column 3: 'abc' is not a number");
    check_position(&err, 3, 3);
    check_fails(read_csv_err(FIX "bad_label.csv", NULL, &err), &err,
                CALIB_E_VALUE, "bad_label.csv",
                "line 3, column 1: label '-1' is negative");
    check_position(&err, 3, 1);
    check_fails(read_csv_err(FIX "bad_label_frac.csv", NULL, &err), &err,
                CALIB_E_VALUE, "bad_label_frac.csv", "not an integer");
    check_position(&err, 2, 1);
    check_fails(read_csv_err(FIX "bad_empty.csv", NULL, &err), &err,
                CALIB_E_FORMAT, "bad_empty.csv", "empty");
    check_fails(read_csv_err(FIX "bad_header_only.csv", NULL, &err), &err,
                CALIB_E_SHAPE, "bad_header_only.csv", "no data rows");

    /* top-label records: columns found by name, extra ones ignored */
    CHECK_STATUS(calib_read_toplabel(FIX "toplabel.csv", &t, &err),
                 CALIB_OK);
    CHECK(t.n == 3);
    if (t.n == 3) {
        CHECK(t.true_label[0] == 3 && t.true_label[1] == 1 &&
              t.true_label[2] == 2);
        CHECK(t.pred_label[0] == 3 && t.pred_label[1] == 0 &&
              t.pred_label[2] == 2);
        CHECK(t.confidence[0] == 0.9 && t.confidence[1] == 0.25 &&
              t.confidence[2] == 1.0);
    }
    calib_toplabel_free(&t);
    CHECK(t.n == 0 && t.confidence == NULL);
    check_fails(calib_read_toplabel(FIX "bad_toplabel_conf.csv", &t, &err),
                &err, CALIB_E_VALUE, "bad_toplabel_conf.csv",
                "line 3, column 3: confidence 1.5 is outside [0, 1]");
    check_fails(calib_read_toplabel(FIX "preds_header.csv", &t, &err),
                &err, CALIB_E_FORMAT, "preds_header.csv", "true_label");
    CHECK(strcmp(err.field, "true_label") == 0);

    /* a line beyond the 16 MiB limit is refused, not buffered */
    if (mkdtemp(dir) == NULL) {
        CHECK(0);
        return;
    }
    snprintf(path, sizeof path, "%s/long.csv", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("0,0.5\n1,", f);
        for (size_t i = 0; i < ((size_t)17 << 20) / 4; i++)
            fputs("0.1,", f);
        fputs("0.2\n", f);
        fclose(f);
        check_fails(read_csv_err(path, NULL, &err), &err, CALIB_E_TOO_LARGE,
                    "long.csv", "line 2: line is longer than the limit");
        CHECK(err.line == 2);
        unlink(path);
    }
    /* a UTF-8 byte order mark does not turn line 1 into a header */
    snprintf(path, sizeof path, "%s/bom.csv", dir);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs("\xEF\xBB\xBF" "1,0.25,0.75\n0,0.5,0.5\n", f);
        fclose(f);
        {
            calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
            int64_t *lab = NULL;
            CHECK_STATUS(calib_read_csv(path, NULL, &m, &lab, &err),
                         CALIB_OK);
            CHECK(m.rows == 2 && m.cols == 2 && lab != NULL &&
                  lab[0] == 1);
            calib_matrix_free(&m);
            calib_free(lab);
        }
        unlink(path);
    }
    /* "-" reads standard input */
    snprintf(path, sizeof path, "%s/in.csv", dir);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs("1,0.25,0.75\n0,0.5,0.5\n", f);
        fclose(f);
    }
    if (freopen(path, "r", stdin) != NULL) {
        calib_matrix m = {0, 0, CALIB_FLOAT64, NULL};
        int64_t *lab = NULL;
        CHECK_STATUS(calib_read_csv("-", NULL, &m, &lab, &err), CALIB_OK);
        CHECK(m.rows == 2 && m.cols == 2 && lab != NULL && lab[0] == 1);
        if (m.rows == 2 && m.cols == 2)
            CHECK(calib_matrix_get(&m, 0, 1) == 0.75);
        calib_matrix_free(&m);
        calib_free(lab);
    }
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_matrices();
    test_pipe();
    test_pipe_hostile();
    test_npy_nul();
    test_labels();
    test_bad_npy();
    test_bad_npz();
    test_stream();
    test_writers();
    test_csv();
    test_csv_values();
    test_interrupt(SIGINT);
    test_interrupt(SIGTERM);
    return check_done("test_readers");
}
