/*
 * test_hostile.c - hostile files: sizes read from headers must be checked
 * before they are multiplied or allocated.
 *
 * Each case writes a small file whose header lies (a .npy claiming 2^62
 * rows, a shape whose product overflows size_t, an .npz whose central
 * directory claims huge members, a deflate stream that inflates past its
 * claimed size), or streams a gigabyte-long CSV line through a FIFO, or
 * hands the model reader JSON nested a hundred thousand deep. The reader
 * must refuse with a status and a message that names the file, quickly,
 * and without asking for much memory: a counting allocator records the
 * peak of live bytes and refuses anything beyond HOSTILE_MAX_BYTES (so a
 * reader that would allocate what the header claims fails the test rather
 * than the machine), and
 * getrusage gives the process's peak RSS for allocations that would
 * bypass calib_malloc. Each refusal is printed, for docs/robustness.md.
 */
#include "calib.h"
#include "check.h"
#include "counting_alloc.h"
#include "robust_files.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Readers written by other hands, enabled as they land. */
#define HAVE_CSV_READER 1
#define HAVE_MODEL_READER 1

/* What a refusal may cost: far below what the files claim, far above
 * what reading a header or a line of sane length needs. */
#define HOSTILE_MAX_BYTES ((size_t)64 << 20)

/* The gigabyte line; and the RSS growth allowed while it streams. */
#define HUGE_LINE_BYTES ((uint64_t)1 << 30)
#define HOSTILE_MAX_RSS_KB (256L << 10)

/* Seconds a refusal may take (the gigabyte itself takes ~1 s to pipe). */
#define HOSTILE_MAX_SECONDS 20.0

static char dir[256];
static char path[512];

static const char *file(const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* A refusal is right when its status is one of want (up to two), the
 * message is one line naming the file, and the peak memory stayed low. */
static void refused(const char *what, const char *name, calib_status st,
                    const calib_error *err, calib_status want1,
                    calib_status want2)
{
    printf("%-46s -> %d %s: %s (peak %zu bytes)\n", what, (int)st,
           calib_strerror(st), err->message, ca.peak_bytes);
    CHECK(st != CALIB_OK);
    CHECK(st == want1 || st == want2);
    CHECK(err->status == st);
    CHECK(err->message[0] != '\0' && strchr(err->message, '\n') == NULL);
    CHECK(name == NULL || strstr(err->message, name) != NULL);
    CHECK(ca.peak_bytes < HOSTILE_MAX_BYTES);
    CHECK(ca.live == 0);
}

static calib_status read_matrix(const char *spec, calib_error *err)
{
    calib_matrix m;
    calib_status st;
    ca_reset(0);
    ca.limit_bytes = HOSTILE_MAX_BYTES;
    st = calib_read_matrix(spec, &m, err);
    if (st == CALIB_OK)
        calib_matrix_free(&m);
    return st;
}

static calib_status read_labels(const char *spec, calib_error *err)
{
    int64_t *labels = NULL;
    size_t n = 0;
    calib_status st;
    ca_reset(0);
    ca.limit_bytes = HOSTILE_MAX_BYTES;
    st = calib_read_labels(spec, &labels, &n, err);
    if (st == CALIB_OK)
        calib_free(labels);
    return st;
}

/* ---- .npy headers that claim more than any file can hold ---- */

static void npy_case(const char *what, int major, const char *header,
                     int labels, calib_status want1, calib_status want2)
{
    static const unsigned char some[64];
    calib_error err;
    calib_status st;

    CHECK(rf_write_npy(file("h.npy"), major, header, some, sizeof some) == 0);
    st = labels ? read_labels(path, &err) : read_matrix(path, &err);
    refused(what, "h.npy", st, &err, want1, want2);
}

static void test_npy(void)
{
    calib_npy_stream *s = NULL;
    size_t rows, cols;
    calib_dtype dtype;
    calib_error err;
    calib_status st;
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0,
                             0xff, 0xff, 0xff, 0xff};
    FILE *f;

    npy_case("npy: shape (2^62, 4) '<f8'", 1,
             "{'descr': '<f8', 'fortran_order': False, "
             "'shape': (4611686018427387904, 4), }",
             0, CALIB_E_TOO_LARGE, CALIB_E_TOO_LARGE);
    npy_case("npy: shape (2^62,) '<f4'", 1,
             "{'descr': '<f4', 'fortran_order': False, "
             "'shape': (4611686018427387904,), }",
             0, CALIB_E_TOO_LARGE, CALIB_E_TOO_LARGE);
    npy_case("npy: shape (2^62, 3) Fortran order", 3,
             "{'descr': '>f8', 'fortran_order': True, "
             "'shape': (4611686018427387904, 3), }",
             0, CALIB_E_TOO_LARGE, CALIB_E_TOO_LARGE);
    npy_case("npy: shape (2^32, 2^32) '<f4' (overflows)", 1,
             "{'descr': '<f4', 'fortran_order': False, "
             "'shape': (4294967296, 4294967296), }",
             0, CALIB_E_TOO_LARGE, CALIB_E_TOO_LARGE);
    npy_case("npy: shape (2^63, 2) (product wraps to 0)", 1,
             "{'descr': '<f8', 'fortran_order': False, "
             "'shape': (9223372036854775808, 2), }",
             0, CALIB_E_TOO_LARGE, CALIB_E_TOO_LARGE);
    npy_case("npy: shape with a 30-digit number", 1,
             "{'descr': '<f8', 'fortran_order': False, "
             "'shape': (100000000000000000000000000000, 2), }",
             0, CALIB_E_TOO_LARGE, CALIB_E_FORMAT);
    npy_case("npy labels: shape (2^62,) '|i1'", 1,
             "{'descr': '|i1', 'fortran_order': False, "
             "'shape': (4611686018427387904,), }",
             1, CALIB_E_FORMAT, CALIB_E_TOO_LARGE);
    npy_case("npy labels: shape (2^61, 1) '<i8'", 1,
             "{'descr': '<i8', 'fortran_order': False, "
             "'shape': (2305843009213693952, 1), }",
             1, CALIB_E_TOO_LARGE, CALIB_E_FORMAT);
    npy_case("npy: shape (1000000, 3) in a 64-byte body", 1,
             "{'descr': '<f8', 'fortran_order': False, "
             "'shape': (1000000, 3), }",
             0, CALIB_E_FORMAT, CALIB_E_FORMAT);

    /* version 2.0 with a 4 GiB header length */
    f = fopen(file("hlen.npy"), "wb");
    CHECK(f != NULL);
    if (f != NULL) {
        fwrite(pre, 1, sizeof pre, f);
        fputs("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
              f);
        fclose(f);
    }
    st = read_matrix(path, &err);
    refused("npy: header length 2^32 - 1 (version 2.0)", "hlen.npy", st,
            &err, CALIB_E_TOO_LARGE, CALIB_E_FORMAT);

    /* the stream refuses the same headers before it allocates */
    npy_case("npy: (2^62, 4) again, to reuse the file", 1,
             "{'descr': '<f8', 'fortran_order': False, "
             "'shape': (4611686018427387904, 4), }",
             0, CALIB_E_TOO_LARGE, CALIB_E_TOO_LARGE);
    ca_reset(0);
    st = calib_npy_stream_open(file("h.npy"), &s, &rows, &cols, &dtype,
                               &err);
    if (st == CALIB_OK)
        calib_npy_stream_close(s);
    refused("npy stream: shape (2^62, 4)", "h.npy", st, &err,
            CALIB_E_TOO_LARGE, CALIB_E_FORMAT);
}

/* ---- .npz archives that lie about their members ---- */

static void npz_case(const char *what, const rf_member *m, size_t n,
                     const char *key, calib_status want1,
                     calib_status want2)
{
    char spec[600];
    calib_error err;
    calib_status st;

    CHECK(rf_write_zip(file("h.npz"), m, n) == 0);
    snprintf(spec, sizeof spec, "%s%s%s", path, key ? ":" : "",
             key ? key : "");
    st = read_matrix(spec, &err);
    refused(what, "h.npz", st, &err, want1, want2);
}

/* Overwrites len bytes at offset `from_end` bytes before the end. */
static void patch_from_end(const char *p, long from_end,
                           const unsigned char *bytes, size_t len)
{
    FILE *f = fopen(p, "r+b");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK(fseek(f, -from_end, SEEK_END) == 0);
    CHECK(fwrite(bytes, 1, len, f) == len);
    fclose(f);
}

static void test_npz(void)
{
    double v[6] = {0.25, -1.5, 3.0, 0.5, 2.0, -0.125};
    size_t npy_n = 0, zeros_n = (size_t)16 << 20;
    unsigned char *npy = rf_npy_f64(v, 2, 3, &npy_n);
    unsigned char *zeros = calloc(zeros_n, 1);
    rf_member m;
    calib_error err;
    calib_status st;
    char spec[600];

    CHECK(npy != NULL && zeros != NULL);
    if (npy == NULL || zeros == NULL)
        goto done;

    /* the honest archive reads, so the lies below are what is refused */
    memset(&m, 0, sizeof m);
    m.name = "x.npy";
    m.data = npy;
    m.size = npy_n;
    CHECK(rf_write_zip(file("ok.npz"), &m, 1) == 0);
    snprintf(spec, sizeof spec, "%s:x", path);
    st = read_matrix(spec, &err);
    CHECK_STATUS(st, CALIB_OK);
    m.deflate = 1;
    CHECK(rf_write_zip(file("ok.npz"), &m, 1) == 0);
    st = read_matrix(spec, &err);
    CHECK_STATUS(st, CALIB_OK);

    m.deflate = 0;
    m.claim_uncompressed = (uint64_t)1 << 62;
    npz_case("npz: stored member claims 2^62 bytes (ZIP64)", &m, 1, "x",
             CALIB_E_FORMAT, CALIB_E_TOO_LARGE);
    m.claim_uncompressed = 0;
    m.claim_compressed = (uint64_t)1 << 40;
    npz_case("npz: member claims 2^40 compressed bytes", &m, 1, "x",
             CALIB_E_FORMAT, CALIB_E_TOO_LARGE);
    m.claim_compressed = 0;
    m.deflate = 1;
    m.claim_uncompressed = (uint64_t)3 << 30;
    npz_case("npz: 100-byte deflated member claims 3 GiB", &m, 1, "x",
             CALIB_E_FORMAT, CALIB_E_TOO_LARGE);
    m.claim_uncompressed = (uint64_t)1 << 62;
    npz_case("npz: deflated member claims 2^62 (ZIP64)", &m, 1, NULL,
             CALIB_E_FORMAT, CALIB_E_TOO_LARGE);

    /* a real bomb: 16 MiB of zeros deflate to ~16 KiB; it claims 4 KiB */
    m.data = zeros;
    m.size = zeros_n;
    m.claim_uncompressed = 4096;
    npz_case("npz: deflate stream inflates past its size", &m, 1, "x",
             CALIB_E_FORMAT, CALIB_E_FORMAT);

    /* an honest member whose .npy header claims 2^62 rows */
    {
        static const char hdr[] =
            "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran_order': "
            "False, 'shape': (4611686018427387904, 4), }";
        unsigned char img[10 + 0x76];
        memset(img, ' ', sizeof img);
        memcpy(img, hdr, sizeof hdr - 1);
        img[sizeof img - 1] = '\n';
        m.data = img;
        m.size = sizeof img;
        m.claim_uncompressed = 0;
        npz_case("npz: member .npy claims 2^62 rows", &m, 1, "x",
                 CALIB_E_TOO_LARGE, CALIB_E_TOO_LARGE);
    }

    /* the end record claims 65535 entries and a 4 GiB directory */
    m.data = npy;
    m.size = npy_n;
    m.deflate = 0;
    CHECK(rf_write_zip(file("h.npz"), &m, 1) == 0);
    {
        static const unsigned char lie[] = {0xff, 0xff, 0xff, 0xff,
                                            0xf0, 0xff, 0xff, 0xff};
        patch_from_end(path, 22 - 8, lie, sizeof lie);
    }
    snprintf(spec, sizeof spec, "%s:x", path);
    st = read_matrix(spec, &err);
    refused("npz: end record claims 65535 entries, 4 GiB", "h.npz", st,
            &err, CALIB_E_FORMAT, CALIB_E_TOO_LARGE);

    /* 1000 entries in a directory of 2 GiB, without ZIP64 */
    CHECK(rf_write_zip(file("h.npz"), &m, 1) == 0);
    {
        static const unsigned char lie[] = {0xe8, 0x03, 0xe8, 0x03,
                                            0x00, 0x00, 0x00, 0x80};
        patch_from_end(path, 22 - 8, lie, sizeof lie);
    }
    st = read_matrix(spec, &err);
    refused("npz: end record claims 1000 entries, 2 GiB", "h.npz", st,
            &err, CALIB_E_FORMAT, CALIB_E_TOO_LARGE);

done:
    free(npy);
    free(zeros);
}

/* ---- a gigabyte-long CSV line, streamed through a FIFO ---- */

#if HAVE_CSV_READER
static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}


/* The child writes `head`, then HUGE_LINE_BYTES of `unit` repeated, then
 * a newline and a sane row; it stops quietly when the reader hangs up. */
static pid_t stream_huge(const char *fifo, const char *head, const char *unit)
{
    pid_t pid = fork();
    if (pid == 0) {
        static char buf[1 << 16];
        size_t ul = strlen(unit), fill = sizeof buf / ul * ul;
        uint64_t sent = 0;
        FILE *f;
        signal(SIGPIPE, SIG_IGN);
        f = fopen(fifo, "wb");
        if (f == NULL)
            _exit(2);
        for (size_t i = 0; i < fill; i++)
            buf[i] = unit[i % ul];
        if (fputs(head, f) < 0)
            _exit(0);
        while (sent < HUGE_LINE_BYTES) {
            if (fwrite(buf, 1, fill, f) != fill)
                _exit(0);
            sent += fill;
        }
        fputs("\n0,0.5\n", f);
        fclose(f);
        _exit(0);
    }
    return pid;
}

static void huge_line(const char *what, int toplabel, const char *head,
                      const char *unit)
{
    const char *fifo = file("line.csv");
    long rss0 = max_rss_kb();
    double t0;
    calib_error err;
    calib_status st;
    pid_t pid;

    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    pid = stream_huge(fifo, head, unit);
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    t0 = now();
    ca_reset(0);
    ca.limit_bytes = HOSTILE_MAX_BYTES;
    if (toplabel) {
        calib_toplabel t;
        st = calib_read_toplabel(fifo, &t, &err);
        if (st == CALIB_OK)
            calib_toplabel_free(&t);
    } else {
        calib_csv_options opt;
        calib_matrix m;
        int64_t *labels;
        calib_csv_options_default(&opt);
        st = calib_read_csv(fifo, &opt, &m, &labels, &err);
        if (st == CALIB_OK) {
            calib_matrix_free(&m);
            calib_free(labels);
        }
    }
    /* if the reader never opened the FIFO, the child waits in fopen */
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    refused(what, "line.csv", st, &err, CALIB_E_TOO_LARGE, CALIB_E_FORMAT);
    printf("    %.2f s, RSS grew by %ld KiB\n", now() - t0,
           max_rss_kb() - rss0);
    CHECK(now() - t0 < HOSTILE_MAX_SECONDS);
    CHECK(max_rss_kb() - rss0 < HOSTILE_MAX_RSS_KB);
    unlink(fifo);
}

static void test_csv(void)
{
    huge_line("csv: a 1 GiB line of digits", 0, "label,p\n0,",
              "1234567890");
    huge_line("csv: a 1 GiB line of columns", 0, "0,", "0.25,");
    huge_line("toplabel: a 1 GiB line", 1,
              "true_label,pred_label,confidence\n1,1,0.", "5");
}

#endif

/* ---- JSON nested a hundred thousand deep ---- */

#if HAVE_MODEL_READER

#define DEEP 100000

static void test_json(void)
{
    size_t n = 8 * DEEP;
    char *json = malloc(n);
    calib_model *model = NULL;
    calib_error err;
    calib_status st;
    size_t len;

    CHECK(json != NULL);
    if (json == NULL)
        return;
    memset(json, '[', DEEP);
    memset(json + DEEP, ']', DEEP);
    ca_reset(0);
    st = calib_model_from_json(json, 2 * DEEP, "deep.json", &model, &err);
    if (st == CALIB_OK)
        calib_model_free(model);
    refused("model: [[[...]]] nested 100000 deep", "deep.json", st, &err,
            CALIB_E_FORMAT, CALIB_E_FORMAT);

    len = (size_t)snprintf(json, n, "{\"format\": \"calib-model\", \"a\": ");
    for (size_t i = 0; i < DEEP / 2 - 8; i++)
        memcpy(json + len + 5 * i, "{\"a\":", 5);
    len += 5 * (DEEP / 2 - 8);
    memset(json + len, '}', DEEP / 2 - 7);
    len += DEEP / 2 - 7;
    json[len] = '\0';
    CHECK(rf_write_text(file("deep.json"), json) == 0);
    ca_reset(0);
    st = calib_model_load(path, &model, &err);
    if (st == CALIB_OK)
        calib_model_free(model);
    refused("model file: {\"a\":{\"a\":...}} 50000 deep", "deep.json", st,
            &err, CALIB_E_FORMAT, CALIB_E_FORMAT);
    free(json);
}

/* A model whose parameters are extreme but finite must give
 * probabilities, never NaN (found by fuzz_model: a subnormal temperature
 * made every logit infinite). */
static void test_extreme_model(void)
{
    static const char subnormal[] =
        "{\"format\": \"calib-model\", \"version\": 1, "
        "\"method\": \"temperature\", \"classes\": 3, "
        "\"input\": \"logits\", "
        "\"conventions\": {\"n_bins\": 15, \"scheme\": \"width\", "
        "\"bin_rule\": \"right\", \"interpolation\": \"linear-clip\", "
        "\"one_vs_rest\": \"renormalise\", "
        "\"prob_eps\": 2.2204460492503131e-16}, "
        "\"fit\": {\"n\": 12, \"nll_before\": 1.0, \"nll_after\": 0.9, "
        "\"iterations\": 6, \"gradient\": 0, \"status\": \"converged\"}, "
        "\"library_version\": \"0.1.0\", "
        "\"parameters\": {\"temperature\": 1.1e-319}}";
    static const char tiny[] =
        "{\"format\": \"calib-model\", \"version\": 1, "
        "\"method\": \"temperature\", \"classes\": 3, "
        "\"input\": \"logits\", "
        "\"conventions\": {\"n_bins\": 15, \"scheme\": \"width\", "
        "\"bin_rule\": \"right\", \"interpolation\": \"linear-clip\", "
        "\"one_vs_rest\": \"renormalise\", "
        "\"prob_eps\": 2.2204460492503131e-16}, "
        "\"fit\": {\"n\": 12, \"nll_before\": 1.0, \"nll_after\": 0.9, "
        "\"iterations\": 6, \"gradient\": 0, \"status\": \"converged\"}, "
        "\"library_version\": \"0.1.0\", "
        "\"parameters\": {\"temperature\": 2.5e-308}}";
    double logits[6] = {1000.0, -1000.0, 0.0, 3.0, 3.0, -2.0};
    double probs[6];
    calib_matrix m = {2, 3, CALIB_FLOAT64, logits};
    calib_model *model = NULL;
    calib_error err;
    calib_status st;

    ca_reset(0);
    st = calib_model_from_json(subnormal, strlen(subnormal), "t.json",
                               &model, &err);
    if (st == CALIB_OK)
        calib_model_free(model);
    refused("model: temperature 1.1e-319 (subnormal)", "t.json", st, &err,
            CALIB_E_VALUE, CALIB_E_FORMAT);

    ca_reset(0);
    st = calib_model_from_json(tiny, strlen(tiny), "t.json", &model, &err);
    CHECK_STATUS(st, CALIB_OK);
    if (st != CALIB_OK)
        return;
    CHECK_STATUS(calib_model_apply(model, &m, CALIB_LOGITS, probs, &err),
                 CALIB_OK);
    /* 1000 / 2.5e-308 overflows: the limit is one-hot on the largest */
    CHECK(probs[0] == 1.0 && probs[1] == 0.0 && probs[2] == 0.0);
    CHECK(probs[3] == 0.5 && probs[4] == 0.5 && probs[5] == 0.0);
    calib_model_free(model);
}
#endif

int main(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof dir, "%s/calib-hostile-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    alarm(300);
    ca_install();
    test_npy();
    test_npz();
#if HAVE_CSV_READER
    test_csv();
#endif
#if HAVE_MODEL_READER
    test_json();
    test_extreme_model();
#endif
    calib_set_allocator(NULL);

    unlink(file("h.npy"));
    unlink(file("hlen.npy"));
    unlink(file("h.npz"));
    unlink(file("ok.npz"));
    unlink(file("deep.json"));
    unlink(file("line.csv"));
    rmdir(dir);
    return check_done("test_hostile");
}
