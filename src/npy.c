/*
 * npy.c - the NumPy .npy reader: float matrices, integer or bool labels,
 * and a streaming reader that hands out C-order rows in chunks.
 *
 * The format is NumPy's own (NEP 1, "A simple file format for NumPy
 * arrays", and numpy.lib.format): the magic "\x93NUMPY", a major and a
 * minor version byte, the header length (2 bytes little-endian in version
 * 1.0, 4 bytes in 2.0 and 3.0), then a Python dict literal with the keys
 * 'descr', 'fortran_order' and 'shape' (ASCII; UTF-8 in 3.0), padded with
 * spaces and a newline, then the raw data. Matrices keep their float
 * width (float32 stays float32, so large files cost no widening) and come
 * out row-major in native byte order: Fortran-order files are transposed
 * and foreign byte orders swapped. Labels of any integer width or bool
 * become int64; uint64 values above INT64_MAX are refused with their row.
 * Shapes (N, K), (N,) and (N, 1) are read; a 1-D array is N x 1.
 * Every size in the header is multiplied with an overflow check and
 * compared with the bytes the file really holds before anything is
 * allocated. A pipe's size is unknown: its magic and header are read and
 * checked first (a wrong magic fails after 8 bytes), then at most the data
 * the header claims is read, into a buffer that grows only as bytes
 * arrive, so a false claim costs what the pipe delivered, not what it
 * claimed; a pipe that ends early is truncated, bytes after the data are
 * left unread. A NUL byte inside a header string is refused, not taken
 * as its end. Rows in messages are 0-based, as NumPy indexes them.
 */
#include "io_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* "\x93NUMPY", major, minor: the part every version shares. */
#define NPY_PREFIX_LEN 8

/* NumPy writes headers of about 128 bytes and by default refuses to load
 * more than 10000; a little more room costs nothing, far more is a hostile
 * or broken file. */
#define NPY_MAX_HEADER ((size_t)1 << 20)

/* Shapes with more dimensions are refused anyway; this only bounds the
 * parser's work on a long tuple. */
#define NPY_MAX_DIMS 32

typedef struct npy_source {
    FILE *file;                 /* read from here, or else from mem */
    const unsigned char *mem;
    size_t size;                /* bytes in the whole source; SIZE_MAX for
                                 * a pipe, whose size is unknown */
    size_t pos;
    int pipe;                   /* file cannot seek: a pipe, a FIFO */
    unsigned char peek[4];      /* a pipe's first bytes, read to sniff */
    size_t peek_len;            /* bytes in peek not yet handed out */
    size_t peek_pos;
} npy_source;

typedef struct npy_header {
    char descr[40];             /* as written, for messages */
    char order;                 /* '<', '>', '=' or '|' */
    char kind;                  /* 'f', 'i', 'u', 'b', ... */
    size_t itemsize;
    int swap;                   /* file byte order differs from host's */
    int fortran;
    int ndim;
    size_t shape[NPY_MAX_DIMS];
    size_t rows;                /* shape[0] */
    size_t cols;                /* shape[1], or 1 for a 1-D array */
    size_t data_bytes;          /* rows * cols * itemsize */
    size_t data_offset;
} npy_header;

struct calib_npy_stream {
    FILE *file;
    npy_header h;
    size_t next_row;
    char *name;
};

/* A header dict being parsed: the cursor and what errors need. */
typedef struct header_parser {
    const char *p;
    const char *end;
    const char *name;
    calib_error *err;
} header_parser;

static int host_is_little(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Reverses the bytes of each of n items of `size` bytes in place. */
static void swap_items(void *data, size_t n, size_t size)
{
    unsigned char *b = data;
    for (size_t i = 0; i < n; i++, b += size)
        for (size_t lo = 0, hi = size - 1; lo < hi; lo++, hi--) {
            unsigned char t = b[lo];
            b[lo] = b[hi];
            b[hi] = t;
        }
}

static size_t source_read(npy_source *s, void *dst, size_t n)
{
    size_t got = 0;

    if (s->file != NULL) {
        unsigned char *d = dst;
        while (got < n && s->peek_pos < s->peek_len)
            d[got++] = s->peek[s->peek_pos++];
        if (got < n)
            got += fread(d + got, 1, n - got, s->file);
    } else {
        got = n <= s->size - s->pos ? n : s->size - s->pos;
        if (got > 0)
            memcpy(dst, s->mem + s->pos, got);
    }
    s->pos += got;
    return got;
}

/* A failure about one header field: the message names it, err->field
 * holds it. */
static calib_status field_fail(header_parser *hp, calib_status status,
                               const char *field, const char *what)
{
    calib_fail(hp->err, status, hp->name, -1, -1, -1,
               "header field '%s': %s", field, what);
    calib_error_set_field(hp->err, field);
    return status;
}

static void skip_space(header_parser *hp)
{
    while (hp->p < hp->end && (*hp->p == ' ' || *hp->p == '\t' ||
                               *hp->p == '\n' || *hp->p == '\r'))
        hp->p++;
}

/* A quoted Python string without escapes into buf; -1 if malformed or
 * longer than cap - 1, -2 if it holds a NUL byte (which would cut it short
 * in buf, so that '<f8\0junk' would pass for '<f8'). */
static int parse_string(header_parser *hp, char *buf, size_t cap)
{
    char quote;
    size_t len = 0;

    if (hp->p >= hp->end || (*hp->p != '\'' && *hp->p != '"'))
        return -1;
    quote = *hp->p++;
    while (hp->p < hp->end && *hp->p != quote) {
        if (*hp->p == '\0')
            return -2;
        if (*hp->p == '\\' || *hp->p == '\n' || len + 1 >= cap)
            return -1;
        buf[len++] = *hp->p++;
    }
    if (hp->p >= hp->end)
        return -1;
    hp->p++;
    buf[len] = '\0';
    return 0;
}

/* A non-negative decimal integer (Python 2 wrote a trailing L); -1 if
 * absent or beyond SIZE_MAX. */
static int parse_size(header_parser *hp, size_t *out)
{
    size_t v = 0;
    const char *start = hp->p;

    while (hp->p < hp->end && *hp->p >= '0' && *hp->p <= '9') {
        size_t d = (size_t)(*hp->p - '0');
        if (v > (SIZE_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        hp->p++;
    }
    if (hp->p == start)
        return -1;
    if (hp->p < hp->end && *hp->p == 'L')
        hp->p++;
    *out = v;
    return 0;
}

static calib_status parse_descr(header_parser *hp, npy_header *h)
{
    const char *d;
    size_t size = 0;
    int rc;

    if (hp->p < hp->end && *hp->p == '[')
        return field_fail(hp, CALIB_E_UNSUPPORTED, "descr",
                          "structured dtypes are not supported");
    rc = parse_string(hp, h->descr, sizeof h->descr);
    if (rc == -2)
        return field_fail(hp, CALIB_E_FORMAT, "descr",
                          "the dtype string holds a NUL byte");
    if (rc != 0)
        return field_fail(hp, CALIB_E_FORMAT, "descr",
                          "expected a quoted dtype string such as '<f4'");

    /* byte order, kind letter, item size in bytes, nothing else */
    d = h->descr;
    h->order = '=';
    if (*d == '<' || *d == '>' || *d == '=' || *d == '|')
        h->order = *d++;
    h->kind = *d;
    if (*d != '\0')
        d++;
    while (*d >= '0' && *d <= '9' && size < 1000)
        size = size * 10 + (size_t)(*d++ - '0');
    h->itemsize = size;
    if (*d != '\0' || size == 0 || h->kind == '\0') {
        char what[96];
        snprintf(what, sizeof what, "dtype '%s' is not supported",
                 h->descr);
        return field_fail(hp, CALIB_E_UNSUPPORTED, "descr", what);
    }
    if (h->order == '=')
        h->order = host_is_little() ? '<' : '>';
    h->swap = (h->order == '<' && !host_is_little()) ||
              (h->order == '>' && host_is_little());
    return CALIB_OK;
}

static calib_status parse_fortran(header_parser *hp, npy_header *h)
{
    size_t left = (size_t)(hp->end - hp->p);

    if (left >= 4 && memcmp(hp->p, "True", 4) == 0) {
        h->fortran = 1;
        hp->p += 4;
    } else if (left >= 5 && memcmp(hp->p, "False", 5) == 0) {
        h->fortran = 0;
        hp->p += 5;
    } else {
        return field_fail(hp, CALIB_E_FORMAT, "fortran_order",
                          "expected True or False");
    }
    return CALIB_OK;
}

static calib_status parse_shape(header_parser *hp, npy_header *h)
{
    const char *bad = "expected a tuple of non-negative integers";

    if (hp->p >= hp->end || *hp->p != '(')
        return field_fail(hp, CALIB_E_FORMAT, "shape", bad);
    hp->p++;
    h->ndim = 0;
    for (;;) {
        skip_space(hp);
        if (hp->p < hp->end && *hp->p == ')')
            break;
        if (h->ndim == NPY_MAX_DIMS)
            return field_fail(hp, CALIB_E_SHAPE, "shape",
                              "too many dimensions");
        if (parse_size(hp, &h->shape[h->ndim]) != 0)
            return field_fail(hp, CALIB_E_FORMAT, "shape", bad);
        h->ndim++;
        skip_space(hp);
        if (hp->p < hp->end && *hp->p == ',')
            hp->p++;
        else if (hp->p >= hp->end || *hp->p != ')')
            return field_fail(hp, CALIB_E_FORMAT, "shape", bad);
    }
    hp->p++;
    return CALIB_OK;
}

/* Parses the dict literal text[0, len): keys in any order, each once. */
static calib_status parse_dict(const char *text, size_t len,
                               const char *name, npy_header *h,
                               calib_error *err)
{
    header_parser hp = {text, text + len, name, err};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0, rc;
    calib_status st;

    skip_space(&hp);
    if (hp.p >= hp.end || *hp.p != '{')
        return field_fail(&hp, CALIB_E_FORMAT, "header",
                          "expected a dict literal starting with '{'");
    hp.p++;
    for (;;) {
        char key[32];

        skip_space(&hp);
        if (hp.p < hp.end && *hp.p == '}')
            break;
        rc = parse_string(&hp, key, sizeof key);
        if (rc == -2)
            return field_fail(&hp, CALIB_E_FORMAT, "header",
                              "a key holds a NUL byte");
        if (rc != 0)
            return field_fail(&hp, CALIB_E_FORMAT, "header",
                              "expected a quoted key or '}'");
        skip_space(&hp);
        if (hp.p >= hp.end || *hp.p != ':')
            return field_fail(&hp, CALIB_E_FORMAT, "header",
                              "expected ':' after a key");
        hp.p++;
        skip_space(&hp);
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            seen_descr = 1;
            st = parse_descr(&hp, h);
        } else if (strcmp(key, "fortran_order") == 0 && !seen_fortran) {
            seen_fortran = 1;
            st = parse_fortran(&hp, h);
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            seen_shape = 1;
            st = parse_shape(&hp, h);
        } else {
            calib_fail(err, CALIB_E_FORMAT, name, -1, -1, -1,
                       "header field '%s': unknown or repeated key", key);
            calib_error_set_field(err, key);
            return CALIB_E_FORMAT;
        }
        if (st != CALIB_OK)
            return st;
        skip_space(&hp);
        if (hp.p < hp.end && *hp.p == ',')
            hp.p++;
        else if (hp.p >= hp.end || *hp.p != '}')
            return field_fail(&hp, CALIB_E_FORMAT, "header",
                              "expected ',' or '}' after a value");
    }
    hp.p++;
    skip_space(&hp);
    while (hp.p < hp.end && *hp.p == '\0')  /* some writers pad with NUL */
        hp.p++;
    if (hp.p != hp.end)
        return field_fail(&hp, CALIB_E_FORMAT, "header",
                          "unexpected text after the closing '}'");
    if (!seen_descr)
        return field_fail(&hp, CALIB_E_FORMAT, "descr", "missing");
    if (!seen_fortran)
        return field_fail(&hp, CALIB_E_FORMAT, "fortran_order", "missing");
    if (!seen_shape)
        return field_fail(&hp, CALIB_E_FORMAT, "shape", "missing");
    return CALIB_OK;
}

/* Reads and parses the magic, version and header dict; leaves the source
 * at the first data byte. Checks nothing about the data yet. */
static calib_status read_header(npy_source *src, const char *name,
                                npy_header *h, calib_error *err)
{
    unsigned char pre[NPY_PREFIX_LEN + 4];
    size_t len_bytes, header_len, prefix, got;
    char *text;
    calib_status st;

    memset(h, 0, sizeof *h);
    if (source_read(src, pre, NPY_PREFIX_LEN) != NPY_PREFIX_LEN ||
        memcmp(pre, "\x93NUMPY", 6) != 0) {
        if (src->file != NULL && ferror(src->file))
            return calib_fail(err, CALIB_E_IO, name, -1, -1, -1,
                              "cannot read: %s", strerror(errno));
        calib_fail(err, CALIB_E_FORMAT, name, -1, -1, -1,
                   "not a .npy file (bad magic: it does not start with "
                   "\\x93NUMPY)");
        calib_error_set_field(err, "magic");
        return CALIB_E_FORMAT;
    }
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
        calib_fail(err, CALIB_E_UNSUPPORTED, name, -1, -1, -1,
                   "header field 'version': .npy format %u.%u is not "
                   "supported (1.0, 2.0 and 3.0 are)",
                   (unsigned)pre[6], (unsigned)pre[7]);
        calib_error_set_field(err, "version");
        return CALIB_E_UNSUPPORTED;
    }
    len_bytes = pre[6] == 1 ? 2 : 4;
    if (source_read(src, pre + NPY_PREFIX_LEN, len_bytes) != len_bytes) {
        calib_fail(err, CALIB_E_FORMAT, name, -1, -1, -1,
                   "file ends inside the header");
        calib_error_set_field(err, "header_len");
        return CALIB_E_FORMAT;
    }
    header_len = (size_t)pre[8] | (size_t)pre[9] << 8;
    if (len_bytes == 4)
        header_len |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    prefix = NPY_PREFIX_LEN + len_bytes;
    if (header_len > NPY_MAX_HEADER) {
        calib_fail(err, CALIB_E_TOO_LARGE, name, -1, -1, -1,
                   "header length %zu is beyond the limit of %zu bytes",
                   header_len, NPY_MAX_HEADER);
        calib_error_set_field(err, "header_len");
        return CALIB_E_TOO_LARGE;
    }
    if (header_len > src->size - prefix) {
        calib_fail(err, CALIB_E_FORMAT, name, -1, -1, -1,
                   "header length %zu is more than the %zu bytes that "
                   "follow it", header_len, src->size - prefix);
        calib_error_set_field(err, "header_len");
        return CALIB_E_FORMAT;
    }

    text = calib_malloc(header_len + 1);
    if (text == NULL)
        return calib_fail(err, CALIB_E_NOMEM, name, -1, -1, -1,
                          "out of memory reading the header");
    got = source_read(src, text, header_len);
    if (got != header_len) {
        calib_free(text);
        if (src->file != NULL && ferror(src->file))
            return calib_fail(err, CALIB_E_IO, name, -1, -1, -1,
                              "cannot read the header: %s",
                              strerror(errno));
        /* only a pipe, whose size was not known, gets here */
        calib_fail(err, CALIB_E_FORMAT, name, -1, -1, -1,
                   "the input ends inside the header (%zu of its %zu "
                   "bytes)", got, header_len);
        calib_error_set_field(err, "header_len");
        return CALIB_E_FORMAT;
    }
    text[header_len] = '\0';
    st = parse_dict(text, header_len, name, h, err);
    calib_free(text);
    if (st != CALIB_OK)
        return st;
    h->data_offset = prefix + header_len;
    return CALIB_OK;
}

/* Checks the shape (1-D or 2-D, no zero) and that the data fits in the
 * source: sizes are multiplied with overflow checks first. */
static calib_status check_shape(const npy_source *src, const char *name,
                                npy_header *h, calib_error *err)
{
    int overflow = 0;
    size_t elems, avail;

    if (h->ndim == 0 || h->ndim > 2) {
        calib_fail(err, CALIB_E_SHAPE, name, -1, -1, -1,
                   "header field 'shape': %d dimensions; need (N, K), "
                   "(N,) or (N, 1)", h->ndim);
        calib_error_set_field(err, "shape");
        return CALIB_E_SHAPE;
    }
    h->rows = h->shape[0];
    h->cols = h->ndim == 2 ? h->shape[1] : 1;
    if (h->rows == 0 || h->cols == 0) {
        if (h->ndim == 1)
            calib_fail(err, CALIB_E_SHAPE, name, -1, -1, -1,
                       "header field 'shape': (0,): zero rows");
        else
            calib_fail(err, CALIB_E_SHAPE, name, -1, -1, -1,
                       "header field 'shape': (%zu, %zu): zero %s",
                       h->rows, h->cols, h->rows == 0 ? "rows" : "columns");
        calib_error_set_field(err, "shape");
        return CALIB_E_SHAPE;
    }
    elems = calib_mul_size(h->rows, h->cols, &overflow);
    h->data_bytes = calib_mul_size(elems, h->itemsize, &overflow);
    if (overflow || h->data_bytes > (size_t)INT64_MAX) {
        calib_fail(err, CALIB_E_TOO_LARGE, name, -1, -1, -1,
                   "header field 'shape': %zu x %zu items of '%s' is "
                   "beyond the addressable size", h->rows, h->cols,
                   h->descr);
        calib_error_set_field(err, "shape");
        return CALIB_E_TOO_LARGE;
    }
    /* a pipe's length is unknown: read_data stops where its data ends */
    avail = src->size - h->data_offset;
    if (!src->pipe && avail < h->data_bytes) {
        calib_fail(err, CALIB_E_FORMAT, name, -1, -1, -1,
                   "holds %zu bytes of data, header needs %zu (shape "
                   "(%zu, %zu) of '%s'): truncated?", avail, h->data_bytes,
                   h->rows, h->cols, h->descr);
        calib_error_set_field(err, "shape");
        return CALIB_E_FORMAT;
    }
    return CALIB_OK;
}

static calib_status check_float_dtype(const char *name, const npy_header *h,
                                      calib_error *err)
{
    if (h->kind == 'f' && (h->itemsize == 4 || h->itemsize == 8) &&
        h->order != '|')
        return CALIB_OK;
    calib_fail(err, CALIB_E_UNSUPPORTED, name, -1, -1, -1,
               "header field 'descr': dtype '%s' is not supported for "
               "predictions (need float32 or float64: '<f4', '>f4', "
               "'<f8', '>f8')", h->descr);
    calib_error_set_field(err, "descr");
    return CALIB_E_UNSUPPORTED;
}

static calib_status check_label_dtype(const char *name, const npy_header *h,
                                      calib_error *err)
{
    size_t s = h->itemsize;

    if ((h->kind == 'i' || h->kind == 'u') &&
        (s == 1 || s == 2 || s == 4 || s == 8) &&
        (s == 1 || h->order != '|'))
        return CALIB_OK;
    if (h->kind == 'b' && s == 1)
        return CALIB_OK;
    calib_fail(err, CALIB_E_UNSUPPORTED, name, -1, -1, -1,
               "header field 'descr': dtype '%s' is not supported for "
               "labels (need an integer type or bool)", h->descr);
    calib_error_set_field(err, "descr");
    return CALIB_E_UNSUPPORTED;
}

/* Says why a read of the data came up short. */
static calib_status short_read(const npy_source *src, const char *name,
                               size_t got, size_t need, calib_error *err)
{
    if (src->file != NULL && ferror(src->file))
        return calib_fail(err, CALIB_E_IO, name, -1, -1, -1,
                          "cannot read: %s", strerror(errno));
    return calib_fail(err, CALIB_E_FORMAT, name, -1, -1, -1,
                      "holds %zu bytes of data, header needs %zu", got,
                      need);
}

/* Column-major rows x cols into row-major, in blocks to stay in cache;
 * the item size is a constant in each copy so that it compiles to moves. */
#define TRANSPOSE_BLOCKS(SIZE)                                              \
    for (size_t i0 = 0; i0 < rows; i0 += block)                             \
        for (size_t j0 = 0; j0 < cols; j0 += block) {                       \
            size_t i1 = i0 + block < rows ? i0 + block : rows;              \
            size_t j1 = j0 + block < cols ? j0 + block : cols;              \
            for (size_t i = i0; i < i1; i++)                                \
                for (size_t j = j0; j < j1; j++)                            \
                    memcpy(out + (i * cols + j) * (SIZE),                   \
                           in + (j * rows + i) * (SIZE), (SIZE));           \
        }

static void transpose(const unsigned char *in, unsigned char *out,
                      size_t rows, size_t cols, size_t size)
{
    const size_t block = 32;

    if (size == 4)
        TRANSPOSE_BLOCKS(4)
    else
        TRANSPOSE_BLOCKS(8)
}

/* A pipe's data is read into a buffer that starts at this size and
 * doubles only as bytes arrive, so that a header claiming far more than
 * the pipe delivers costs no more memory than what was delivered. */
#define PIPE_FIRST_BUFFER ((size_t)1 << 20)

/*
 * Reads the h->data_bytes of data into a new buffer of alloc_bytes
 * (>= data_bytes) bytes. A file or memory source was checked to hold the
 * data; a pipe is read as it comes and never past the data the header
 * claims, and a pipe that ends early is reported as truncated.
 */
static calib_status read_data(npy_source *src, const char *name,
                              const npy_header *h, size_t alloc_bytes,
                              unsigned char **out, calib_error *err)
{
    unsigned char *buf;
    size_t cap, len = 0, want = h->data_bytes;

    cap = src->pipe && alloc_bytes > PIPE_FIRST_BUFFER ? PIPE_FIRST_BUFFER
                                                       : alloc_bytes;
    buf = calib_malloc(cap);
    if (buf == NULL)
        return calib_fail(err, CALIB_E_NOMEM, name, -1, -1, -1,
                          "out of memory for %zu x %zu values", h->rows,
                          h->cols);
    for (;;) {
        size_t part = (want < cap ? want : cap) - len;
        size_t got = source_read(src, buf + len, part);
        unsigned char *bigger;

        len += got;
        if (got != part) {
            calib_status st;
            if (!src->pipe || ferror(src->file)) {
                st = short_read(src, name, len, want, err);
            } else {
                st = calib_fail(err, CALIB_E_FORMAT, name, -1, -1, -1,
                                "the input ends after %zu bytes of data, "
                                "header needs %zu (shape (%zu, %zu) of "
                                "'%s'): truncated?", len, want, h->rows,
                                h->cols, h->descr);
                calib_error_set_field(err, "shape");
            }
            calib_free(buf);
            return st;
        }
        if (len == want)
            break;
        /* only a pipe's buffer is short of the data: grow it */
        bigger = calib_realloc(buf, cap, cap > alloc_bytes / 2
                                             ? alloc_bytes : cap * 2);
        if (bigger == NULL) {
            calib_free(buf);
            return calib_fail(err, CALIB_E_NOMEM, name, -1, -1, -1,
                              "out of memory after reading %zu of the %zu "
                              "bytes of data the header claims", len,
                              want);
        }
        buf = bigger;
        cap = cap > alloc_bytes / 2 ? alloc_bytes : cap * 2;
    }
    if (cap < alloc_bytes) {
        unsigned char *bigger = calib_realloc(buf, cap, alloc_bytes);
        if (bigger == NULL) {
            calib_free(buf);
            return calib_fail(err, CALIB_E_NOMEM, name, -1, -1, -1,
                              "out of memory for %zu x %zu values",
                              h->rows, h->cols);
        }
        buf = bigger;
    }
    *out = buf;
    return CALIB_OK;
}

static calib_status read_matrix_source(npy_source *src, const char *name,
                                       calib_matrix *out, calib_error *err)
{
    npy_header h;
    calib_status st;
    unsigned char *data = NULL, *raw = NULL;

    st = read_header(src, name, &h, err);
    if (st == CALIB_OK)
        st = check_float_dtype(name, &h, err);
    if (st == CALIB_OK)
        st = check_shape(src, name, &h, err);
    if (st != CALIB_OK)
        return st;

    /* Fortran order is the same as C order for a single column */
    if (h.fortran && h.rows > 1 && h.cols > 1) {
        st = read_data(src, name, &h, h.data_bytes, &raw, err);
        if (st != CALIB_OK)
            return st;
        data = calib_malloc(h.data_bytes);
        if (data == NULL) {
            calib_free(raw);
            return calib_fail(err, CALIB_E_NOMEM, name, -1, -1, -1,
                              "out of memory transposing %zu x %zu "
                              "values", h.rows, h.cols);
        }
    } else {
        st = read_data(src, name, &h, h.data_bytes, &data, err);
        if (st != CALIB_OK)
            return st;
    }
    if (raw != NULL) {
        transpose(raw, data, h.rows, h.cols, h.itemsize);
        calib_free(raw);
    }
    if (h.swap)
        swap_items(data, h.rows * h.cols, h.itemsize);

    out->rows = h.rows;
    out->cols = h.cols;
    out->dtype = h.itemsize == 4 ? CALIB_FLOAT32 : CALIB_FLOAT64;
    out->data = data;
    return CALIB_OK;
}

/* Decodes one label of item i held in the file's byte order. */
static int64_t decode_label(const unsigned char *b, const npy_header *h,
                            int *too_big)
{
    uint64_t v = 0;
    size_t s = h->itemsize;

    if (h->kind == 'b')
        return b[0] != 0;  /* NumPy reads any non-zero byte as True */
    for (size_t k = 0; k < s; k++) {
        size_t shift = h->order == '>' ? 8 * (s - 1 - k) : 8 * k;
        v |= (uint64_t)b[k] << shift;
    }
    if (h->kind == 'i') {
        if (s < 8 && (v >> (8 * s - 1)) != 0)
            v |= ~(uint64_t)0 << (8 * s);  /* sign-extend */
        /* two's complement back to signed without implementation-defined
         * conversion */
        if (v > (uint64_t)INT64_MAX)
            return -(int64_t)(~v) - 1;
        return (int64_t)v;
    }
    if (v > (uint64_t)INT64_MAX) {
        *too_big = 1;
        return 0;
    }
    return (int64_t)v;
}

static calib_status read_labels_source(npy_source *src, const char *name,
                                       int64_t **labels, size_t *n,
                                       calib_error *err)
{
    npy_header h;
    calib_status st;
    unsigned char *buf = NULL;
    size_t s, bytes;
    int overflow = 0;

    st = read_header(src, name, &h, err);
    if (st == CALIB_OK)
        st = check_label_dtype(name, &h, err);
    if (st == CALIB_OK)
        st = check_shape(src, name, &h, err);
    if (st != CALIB_OK)
        return st;
    if (h.cols != 1) {
        calib_fail(err, CALIB_E_SHAPE, name, -1, -1, -1,
                   "header field 'shape': labels have shape (%zu, %zu); "
                   "need (N,) or (N, 1)", h.rows, h.cols);
        calib_error_set_field(err, "shape");
        return CALIB_E_SHAPE;
    }

    /* the raw items go to the front of the int64 array and are widened
     * in place: from the back, so no item is overwritten before use */
    s = h.itemsize;
    bytes = calib_mul_size(h.rows, sizeof(int64_t), &overflow);
    if (overflow)
        return calib_fail(err, CALIB_E_TOO_LARGE, name, -1, -1, -1,
                          "%zu labels are beyond the addressable size",
                          h.rows);
    st = read_data(src, name, &h, bytes, &buf, err);
    if (st != CALIB_OK)
        return st;
    if (s == 8) {
        for (size_t i = 0; i < h.rows; i++) {
            int too_big = 0;
            int64_t v = decode_label(buf + i * 8, &h, &too_big);
            if (too_big) {
                uint64_t u;
                memcpy(&u, buf + i * 8, 8);
                if (h.order == '>' ? host_is_little() : !host_is_little())
                    swap_items(&u, 1, 8);
                calib_fail(err, CALIB_E_VALUE, name, (int64_t)i, -1, -1,
                           "label %llu is above the int64 range",
                           (unsigned long long)u);
                calib_free(buf);
                return CALIB_E_VALUE;
            }
            memcpy(buf + i * 8, &v, 8);
        }
    } else {
        for (size_t i = h.rows; i-- > 0;) {
            int too_big = 0;
            int64_t v = decode_label(buf + i * s, &h, &too_big);
            memcpy(buf + i * 8, &v, 8);
        }
    }
    *labels = (int64_t *)(void *)buf;
    *n = h.rows;
    return CALIB_OK;
}

/*
 * Opens path as a source. A regular file is read through `file` with its
 * size from fstat; anything else (a pipe) is read through `file` as well,
 * its size unknown: its header is checked before any data is read, and
 * its data is read as it comes (read_data). *owned is left NULL: no
 * source owns memory now, the parameter keeps the callers' one exit path.
 */
static calib_status open_source(const char *path, npy_source *src,
                                unsigned char **owned, calib_error *err)
{
    struct stat sb;
    FILE *f;
    calib_status st;

    memset(src, 0, sizeof *src);
    *owned = NULL;
    f = fopen(path, "rb");
    if (f == NULL)
        return calib_fail(err, CALIB_E_IO, path, -1, -1, -1,
                          "cannot open: %s", strerror(errno));
    if (fstat(fileno(f), &sb) != 0) {
        st = calib_fail(err, CALIB_E_IO, path, -1, -1, -1,
                        "cannot stat: %s", strerror(errno));
        fclose(f);
        return st;
    }
    if (S_ISDIR(sb.st_mode)) {
        fclose(f);
        return calib_fail(err, CALIB_E_IO, path, -1, -1, -1,
                          "is a directory");
    }
    if (S_ISREG(sb.st_mode)) {
        if (sb.st_size < 0 || (uintmax_t)sb.st_size > SIZE_MAX) {
            fclose(f);
            return calib_fail(err, CALIB_E_TOO_LARGE, path, -1, -1, -1,
                              "file size is beyond the addressable size");
        }
        src->file = f;
        src->size = (size_t)sb.st_size;
        return CALIB_OK;
    }
    src->file = f;
    src->pipe = 1;
    src->size = SIZE_MAX;
    return CALIB_OK;
}

static void close_source(npy_source *src, unsigned char *owned)
{
    if (src->file != NULL)
        fclose(src->file);
    calib_free(owned);
}

/* 1 when the source starts like a ZIP archive; leaves it at the start. */
static int source_is_zip(npy_source *src)
{
    unsigned char b[4];
    size_t got = source_read(src, b, 4);
    int zip;

    if (got != 4)
        zip = 0;
    else
        zip = b[0] == 'P' && b[1] == 'K' &&
              ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6));
    if (src->pipe) {
        /* a pipe cannot rewind: its bytes are handed out again from peek */
        src->peek_len = got;
        src->peek_pos = 0;
        memcpy(src->peek, b, got);
    } else if (src->file != NULL) {
        clearerr(src->file);
        if (fseeko(src->file, 0, SEEK_SET) != 0)
            zip = 0;  /* then the .npy reader reports what it finds */
    }
    src->pos = 0;
    return zip;
}

/*
 * Opens spec: "PATH.npz[:KEY]", or a file holding a ZIP archive under
 * another name, gives the member's bytes in *member; anything else is an
 * .npy source. Exactly one of *member and the source is set on success.
 */
static calib_status open_spec(const char *spec, npy_source *src,
                              unsigned char **owned, unsigned char **member,
                              size_t *member_size, calib_error *err)
{
    char *path = NULL;
    const char *key = NULL;
    int npz = calib_npz_split_spec(spec, &path, &key);
    calib_status st;

    memset(src, 0, sizeof *src);
    *owned = NULL;
    *member = NULL;
    if (npz < 0)
        return calib_fail(err, CALIB_E_NOMEM, spec, -1, -1, -1,
                          "out of memory");
    if (npz) {
        st = calib_npz_read_member(path, key, spec, member, member_size,
                                   err);
        calib_free(path);
        return st;
    }
    st = open_source(spec, src, owned, err);
    if (st != CALIB_OK || !source_is_zip(src))
        return st;
    close_source(src, *owned);
    memset(src, 0, sizeof *src);
    *owned = NULL;
    return calib_npz_read_member(spec, NULL, spec, member, member_size, err);
}

void calib_matrix_free(calib_matrix *m)
{
    if (m == NULL)
        return;
    calib_free(m->data);
    memset(m, 0, sizeof *m);
}

double calib_matrix_get(const calib_matrix *m, size_t i, size_t j)
{
    size_t k = i * m->cols + j;
    if (m->dtype == CALIB_FLOAT32)
        return (double)((const float *)m->data)[k];
    return ((const double *)m->data)[k];
}

calib_status calib_npy_matrix_from_memory(const unsigned char *buf,
                                          size_t len, const char *name,
                                          calib_matrix *out,
                                          calib_error *err)
{
    npy_source src = {NULL, buf, len, 0, 0, {0, 0, 0, 0}, 0, 0};
    return read_matrix_source(&src, name, out, err);
}

calib_status calib_npy_labels_from_memory(const unsigned char *buf,
                                          size_t len, const char *name,
                                          int64_t **labels, size_t *n,
                                          calib_error *err)
{
    npy_source src = {NULL, buf, len, 0, 0, {0, 0, 0, 0}, 0, 0};
    return read_labels_source(&src, name, labels, n, err);
}

/*
 * A matrix from an .npy image in a buffer we own: when no transposition is
 * needed the data moves to the front of the buffer, which becomes the
 * matrix, so a large .npz member is never held twice. *buf is NULL
 * afterwards when it was taken.
 */
static calib_status matrix_from_owned(unsigned char **buf, size_t len,
                                      const char *name, calib_matrix *out,
                                      calib_error *err)
{
    npy_source src = {NULL, *buf, len, 0, 0, {0, 0, 0, 0}, 0, 0};
    npy_header h;
    calib_status st;

    st = read_header(&src, name, &h, err);
    if (st == CALIB_OK)
        st = check_float_dtype(name, &h, err);
    if (st == CALIB_OK)
        st = check_shape(&src, name, &h, err);
    if (st != CALIB_OK)
        return st;
    if (h.fortran && h.rows > 1 && h.cols > 1)
        return calib_npy_matrix_from_memory(*buf, len, name, out, err);

    memmove(*buf, *buf + h.data_offset, h.data_bytes);
    if (h.swap)
        swap_items(*buf, h.rows * h.cols, h.itemsize);
    out->rows = h.rows;
    out->cols = h.cols;
    out->dtype = h.itemsize == 4 ? CALIB_FLOAT32 : CALIB_FLOAT64;
    out->data = *buf;
    *buf = NULL;
    return CALIB_OK;
}

calib_status calib_read_matrix(const char *spec, calib_matrix *out,
                               calib_error *err)
{
    unsigned char *owned = NULL, *member = NULL;
    size_t size = 0;
    npy_source src;
    calib_status st;

    if (spec == NULL || out == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_read_matrix: NULL argument");
    st = open_spec(spec, &src, &owned, &member, &size, err);
    if (st != CALIB_OK)
        return st;
    if (member != NULL) {
        st = matrix_from_owned(&member, size, spec, out, err);
        calib_free(member);
        return st;
    }
    st = read_matrix_source(&src, spec, out, err);
    close_source(&src, owned);
    return st;
}

calib_status calib_read_labels(const char *spec, int64_t **labels,
                               size_t *n, calib_error *err)
{
    unsigned char *owned = NULL, *member = NULL;
    size_t size = 0;
    npy_source src;
    calib_status st;

    if (spec == NULL || labels == NULL || n == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_read_labels: NULL argument");
    st = open_spec(spec, &src, &owned, &member, &size, err);
    if (st != CALIB_OK)
        return st;
    if (member != NULL) {
        st = calib_npy_labels_from_memory(member, size, spec, labels, n,
                                          err);
        calib_free(member);
        return st;
    }
    st = read_labels_source(&src, spec, labels, n, err);
    close_source(&src, owned);
    return st;
}

calib_status calib_npy_stream_open(const char *path, calib_npy_stream **out,
                                   size_t *rows, size_t *cols,
                                   calib_dtype *dtype, calib_error *err)
{
    npy_source src;
    unsigned char *owned = NULL;
    calib_npy_stream *s;
    npy_header h;
    calib_status st;
    size_t len;

    if (path == NULL || out == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_npy_stream_open: NULL argument");
    st = open_source(path, &src, &owned, err);
    if (st != CALIB_OK)
        return st;
    if (src.pipe || source_is_zip(&src)) {
        close_source(&src, owned);
        return calib_fail(err, CALIB_E_UNSUPPORTED, path, -1, -1, -1,
                          "only .npy files that are regular files stream "
                          "(not .npz archives or pipes)");
    }
    st = read_header(&src, path, &h, err);
    if (st == CALIB_OK)
        st = check_float_dtype(path, &h, err);
    if (st == CALIB_OK)
        st = check_shape(&src, path, &h, err);
    if (st == CALIB_OK && h.fortran && h.rows > 1 && h.cols > 1) {
        st = calib_fail(err, CALIB_E_UNSUPPORTED, path, -1, -1, -1,
                        "header field 'fortran_order': Fortran-order "
                        "arrays do not stream; use calib_read_matrix");
        calib_error_set_field(err, "fortran_order");
    }
    if (st != CALIB_OK) {
        close_source(&src, owned);
        return st;
    }

    len = strlen(path);
    s = calib_calloc(1, sizeof *s);
    if (s != NULL)
        s->name = calib_malloc(len + 1);
    if (s == NULL || s->name == NULL) {
        calib_free(s);
        close_source(&src, owned);
        return calib_fail(err, CALIB_E_NOMEM, path, -1, -1, -1,
                          "out of memory");
    }
    memcpy(s->name, path, len + 1);
    s->file = src.file;
    s->h = h;
    s->next_row = 0;
    *out = s;
    if (rows != NULL)
        *rows = h.rows;
    if (cols != NULL)
        *cols = h.cols;
    if (dtype != NULL)
        *dtype = h.itemsize == 4 ? CALIB_FLOAT32 : CALIB_FLOAT64;
    return CALIB_OK;
}

calib_status calib_npy_stream_read(calib_npy_stream *s, void *chunk,
                                   size_t max_rows, size_t *rows_read,
                                   calib_error *err)
{
    size_t n, row_bytes, bytes, got;

    if (s == NULL || rows_read == NULL || (chunk == NULL && max_rows > 0))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_npy_stream_read: NULL argument");
    n = s->h.rows - s->next_row;
    if (n > max_rows)
        n = max_rows;
    if (n == 0) {
        *rows_read = 0;
        return CALIB_OK;
    }
    /* no overflow: n * row_bytes <= data_bytes, checked at open */
    row_bytes = s->h.cols * s->h.itemsize;
    bytes = n * row_bytes;
    got = fread(chunk, 1, bytes, s->file);
    if (got != bytes) {
        int64_t row = (int64_t)(s->next_row + got / row_bytes);
        if (ferror(s->file))
            return calib_fail(err, CALIB_E_IO, s->name, row, -1, -1,
                              "cannot read: %s", strerror(errno));
        return calib_fail(err, CALIB_E_FORMAT, s->name, row, -1, -1,
                          "file ends inside the data (it shrank while "
                          "being read?)");
    }
    if (s->h.swap)
        swap_items(chunk, n * s->h.cols, s->h.itemsize);
    s->next_row += n;
    *rows_read = n;
    return CALIB_OK;
}

/*
 * The stream's next rows as a mapping of the file: from the page below
 * the first byte to the last. The file's size is checked first, so rows
 * the file no longer holds fail as they do in calib_npy_stream_read. The
 * FILE moves past the rows too, so reads and maps can be mixed.
 */
calib_status calib_npy_stream_map(calib_npy_stream *s, size_t max_rows,
                                  calib_npy_view *view, calib_error *err)
{
    size_t n, row_bytes, bytes, page, skip;
    off_t start, end;
    struct stat st;
    long pagesize = sysconf(_SC_PAGESIZE);
    void *map;

    if (s == NULL || view == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_npy_stream_map: NULL argument");
    memset(view, 0, sizeof *view);
    n = s->h.rows - s->next_row;
    if (n > max_rows)
        n = max_rows;
    if (n == 0)
        return CALIB_OK;
    row_bytes = s->h.cols * s->h.itemsize;
    bytes = n * row_bytes;
    start = (off_t)(s->h.data_offset + s->next_row * row_bytes);
    if (s->h.swap || pagesize <= 0 || start % (off_t)s->h.itemsize != 0)
        return calib_fail(err, CALIB_E_UNSUPPORTED, s->name, -1, -1, -1,
                          "cannot be mapped: read it instead");
    end = start + (off_t)bytes;
    if (fstat(fileno(s->file), &st) != 0)
        return calib_fail(err, CALIB_E_IO, s->name, -1, -1, -1,
                          "cannot stat: %s", strerror(errno));
    if (st.st_size < end) {
        size_t whole = st.st_size > start
                           ? (size_t)(st.st_size - start) / row_bytes
                           : 0;
        return calib_fail(err, CALIB_E_FORMAT, s->name,
                          (int64_t)(s->next_row + whole), -1, -1,
                          "file ends inside the data (it shrank while "
                          "being read?)");
    }
    page = (size_t)pagesize;
    skip = (size_t)start % page;
    map = mmap(NULL, bytes + skip, PROT_READ, MAP_PRIVATE, fileno(s->file),
               start - (off_t)skip);
    if (map == MAP_FAILED)
        return calib_fail(err, CALIB_E_UNSUPPORTED, s->name, -1, -1, -1,
                          "cannot be mapped (%s): read it instead",
                          strerror(errno));
    if (fseeko(s->file, end, SEEK_SET) != 0) {
        munmap(map, bytes + skip);
        return calib_fail(err, CALIB_E_IO, s->name, -1, -1, -1,
                          "cannot seek: %s", strerror(errno));
    }
    s->next_row += n;
    view->rows = (const unsigned char *)map + skip;
    view->n_rows = n;
    view->map = map;
    view->map_bytes = bytes + skip;
    return CALIB_OK;
}

void calib_npy_view_release(calib_npy_view *view)
{
    if (view == NULL)
        return;
    if (view->map != NULL)
        munmap(view->map, view->map_bytes);
    memset(view, 0, sizeof *view);
}

void calib_npy_stream_close(calib_npy_stream *s)
{
    if (s == NULL)
        return;
    if (s->file != NULL)
        fclose(s->file);
    calib_free(s->name);
    calib_free(s);
}
