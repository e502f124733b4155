/*
 * csv.c - CSV and TSV readers: a label column with prediction columns,
 * and top-label records (true_label, pred_label, confidence).
 *
 * The dialect is the common one of RFC 4180: one record per line, LF or
 * CRLF line ends, a last line with or without its newline, fields split
 * at the delimiter, a field may be quoted with "..." ("" inside is a
 * quote) so that it can hold the delimiter, though not a line end; spaces
 * around a field are dropped. Blank lines are skipped wherever they are,
 * and so is a UTF-8 byte order mark before line 1. The delimiter is a tab
 * when the name ends in .tsv or line 1 holds a tab, else a comma. A header
 * is detected when line 1 has a field that is not a number. Values are
 * parsed by strtod (the C locale's decimal point; its hexadecimal forms
 * are refused) and must be finite; a NUL byte is an error, not an end;
 * labels must be integers in [0, K) ("3" or "3.0"), K being the number of
 * prediction columns, or 2 when there is one (a binary task). These value
 * checks are made here because only the reader knows the line and column;
 * what needs a whole row (probability sums) is left to the metrics, which
 * count data rows from 0. A label column chosen by a name that the header
 * holds twice is refused, not guessed. A line longer than 16 MiB is
 * refused rather than buffered without bound. Errors give the 1-based
 * physical line (header and blank lines counted) and the 1-based field
 * number as the column. Top-label labels are checked for sign only: their
 * class count is not in the file. A file of predictions alone (label
 * column 0, no name) is read the same way with every field a prediction;
 * one column is then a binary task's scores, as with a label column.
 */
#include "io_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A prediction row of even 100000 classes fits in a few MiB; a longer
 * line is a broken or hostile file. */
#define CSV_MAX_LINE ((size_t)16 << 20)

/* 2^63 as a double: labels must stay below it to fit int64. */
#define TWO_POW_63 9223372036854775808.0

/* The label column index of a file without one: matches no field. */
#define NO_LABEL SIZE_MAX

typedef struct csv_reader {
    FILE *file;
    const char *name;           /* for messages: the path or "<stdin>" */
    char *line;
    size_t cap;
    size_t len;
    int64_t line_no;            /* 1-based, of the line in `line` */
    char **fields;
    size_t n_fields;
    size_t fields_cap;
    char delimiter;
    calib_error *err;
} csv_reader;

static calib_status csv_open(csv_reader *r, const char *path,
                             calib_error *err)
{
    memset(r, 0, sizeof *r);
    r->err = err;
    if (strcmp(path, "-") == 0) {
        r->file = stdin;
        r->name = "<stdin>";
        return CALIB_OK;
    }
    r->name = path;
    r->file = fopen(path, "rb");
    if (r->file == NULL)
        return calib_fail(err, CALIB_E_IO, path, -1, -1, -1,
                          "cannot open: %s", strerror(errno));
    return CALIB_OK;
}

static void csv_close(csv_reader *r)
{
    if (r->file != NULL && r->file != stdin)
        fclose(r->file);
    calib_free(r->line);
    calib_free(r->fields);
}

/*
 * Reads the next non-blank line without its line end into r->line.
 * Returns CALIB_OK with r->len > 0, or CALIB_OK with r->line_no set past
 * the end and r->len == 0 at the end of the input.
 */
static calib_status next_line(csv_reader *r)
{
    for (;;) {
        int c = EOF;
        r->len = 0;
        r->line_no++;
        while ((c = getc(r->file)) != EOF && c != '\n') {
            if (r->len >= CSV_MAX_LINE)
                return calib_fail(r->err, CALIB_E_TOO_LARGE, r->name, -1,
                                  r->line_no, -1,
                                  "line is longer than the limit of %zu "
                                  "MiB", CSV_MAX_LINE >> 20);
            if (r->len + 1 >= r->cap) {
                size_t cap = r->cap == 0 ? 256 : r->cap * 2;
                char *bigger;
                bigger = calib_realloc(r->line, r->cap, cap);
                if (bigger == NULL)
                    return calib_fail(r->err, CALIB_E_NOMEM, r->name, -1,
                                      r->line_no, -1, "out of memory");
                r->line = bigger;
                r->cap = cap;
            }
            if (c == '\0')
                return calib_fail(r->err, CALIB_E_FORMAT, r->name, -1,
                                  r->line_no, (int64_t)r->len + 1,
                                  "a NUL byte (not a text file?)");
            r->line[r->len++] = (char)c;
        }
        if (ferror(r->file))
            return calib_fail(r->err, CALIB_E_IO, r->name, -1, r->line_no,
                              -1, "cannot read: %s", strerror(errno));
        if (r->len > 0 && r->line[r->len - 1] == '\r')
            r->len--;
        if (r->line != NULL)
            r->line[r->len] = '\0';
        /* blank lines (spaces only) are skipped */
        {
            size_t i = 0;
            while (i < r->len && (r->line[i] == ' ' || r->line[i] == '\t'))
                i++;
            if (i < r->len)
                return CALIB_OK;
        }
        if (c == EOF) {
            r->len = 0;
            return CALIB_OK;
        }
    }
}

static int is_space(char c, char delimiter)
{
    return c == ' ' || (c == '\t' && delimiter != '\t');
}

static calib_status add_field(csv_reader *r, char *start)
{
    if (r->n_fields == r->fields_cap) {
        size_t cap = r->fields_cap == 0 ? 16 : r->fields_cap * 2;
        char **bigger = calib_realloc(r->fields,
                                      r->fields_cap * sizeof(char *),
                                      cap * sizeof(char *));
        if (bigger == NULL)
            return calib_fail(r->err, CALIB_E_NOMEM, r->name, -1,
                              r->line_no, -1, "out of memory");
        r->fields = bigger;
        r->fields_cap = cap;
    }
    r->fields[r->n_fields++] = start;
    return CALIB_OK;
}

/* Splits r->line into NUL-terminated fields in place, unquoting. */
static calib_status split_line(csv_reader *r)
{
    char *p = r->line, *end = r->line + r->len;
    char d = r->delimiter;

    r->n_fields = 0;
    for (;;) {
        char *start, *out;
        int more;
        calib_status st;

        while (p < end && is_space(*p, d))
            p++;
        start = out = p;
        if (p < end && *p == '"') {
            p++;
            for (;;) {
                if (p >= end)
                    return calib_fail(r->err, CALIB_E_FORMAT, r->name, -1,
                                      r->line_no,
                                      (int64_t)r->n_fields + 1,
                                      "quoted field without its closing "
                                      "quote");
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        *out++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *out++ = *p++;
            }
            while (p < end && is_space(*p, d))
                p++;
            if (p < end && *p != d)
                return calib_fail(r->err, CALIB_E_FORMAT, r->name, -1,
                                  r->line_no, (int64_t)r->n_fields + 1,
                                  "text after a closing quote");
        } else {
            while (p < end && *p != d)
                p++;
            out = p;
            while (out > start && is_space(out[-1], d))
                out--;
        }
        more = p < end && *p == d;
        *out = '\0';
        st = add_field(r, start);
        if (st != CALIB_OK)
            return st;
        if (!more)
            return CALIB_OK;
        p++;
    }
}

/* 1 when s is a whole number as strtod reads it, in decimal: strtod's
 * hexadecimal forms (0x10, 0x1p3) are not numbers in a CSV for NumPy or
 * Python either. */
static int parse_double(const char *s, double *v)
{
    char *end;

    if (*s == '\0' || strpbrk(s, "xX") != NULL)
        return 0;
    errno = 0;
    *v = strtod(s, &end);
    /* underflow to a subnormal or zero is a value, not an error */
    return *end == '\0';
}

/* A label field: 0 ok, else the reason as a message fragment. */
static const char *parse_label(const char *s, int64_t *out)
{
    char *end;
    long long v;
    double d;

    if (*s == '\0')
        return "empty label field";
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end == '\0' && errno == 0) {
        if (v < 0)
            return "is negative";
        *out = (int64_t)v;
        return NULL;
    }
    if (!parse_double(s, &d))
        return "is not a number";
    if (!(d == floor(d)) || !isfinite(d))
        return "is not an integer";
    if (d < 0)
        return "is negative";
    if (d >= TWO_POW_63)
        return "is beyond the int64 range";
    *out = (int64_t)d;
    return NULL;
}

static calib_status label_fail(const csv_reader *r, size_t col,
                               const char *field, const char *why)
{
    calib_status st = strcmp(why, "is not a number") == 0 ||
                              strcmp(why, "empty label field") == 0
                          ? CALIB_E_FORMAT
                          : CALIB_E_VALUE;
    return calib_fail(r->err, st, r->name, -1, r->line_no,
                      (int64_t)col + 1, "label '%.40s' %s", field, why);
}

static int ends_with_tsv(const char *s)
{
    size_t n = strlen(s);
    const char *ext = ".tsv";

    if (n < 4)
        return 0;
    for (size_t i = 0; i < 4; i++) {
        char c = s[n - 4 + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != ext[i])
            return 0;
    }
    return 1;
}

/* Reads line 1 and settles the delimiter; an empty input is an error. */
static calib_status first_line(csv_reader *r, char delimiter)
{
    calib_status st = next_line(r);

    if (st != CALIB_OK)
        return st;
    if (r->len == 0)
        return calib_fail(r->err, CALIB_E_FORMAT, r->name, -1, -1, -1,
                          "the file is empty");
    /* a UTF-8 byte order mark (spreadsheets write one) is not data */
    if (r->len >= 3 && memcmp(r->line, "\xEF\xBB\xBF", 3) == 0) {
        memmove(r->line, r->line + 3, r->len - 3 + 1);
        r->len -= 3;
    }
    if (delimiter != 0)
        r->delimiter = delimiter;
    else if (ends_with_tsv(r->name) || memchr(r->line, '\t', r->len))
        r->delimiter = '\t';
    else
        r->delimiter = ',';
    return split_line(r);
}

static int any_field_not_numeric(const csv_reader *r)
{
    double v;
    for (size_t j = 0; j < r->n_fields; j++)
        if (!parse_double(r->fields[j], &v))
            return 1;
    return 0;
}

static calib_status field_count_fail(const csv_reader *r, size_t want,
                                     int64_t first)
{
    /* the message says the line itself; err->line still carries it */
    calib_fail(r->err, CALIB_E_FORMAT, r->name, -1, -1, -1,
               "line %lld has %zu fields, line %lld has %zu",
               (long long)r->line_no, r->n_fields, (long long)first, want);
    if (r->err != NULL)
        r->err->line = r->line_no;
    return CALIB_E_FORMAT;
}

/* The next record with exactly `want` fields into r->fields; *end is set
 * at the end of the input. */
static calib_status next_record(csv_reader *r, size_t want, int64_t first,
                                int *end)
{
    calib_status st = next_line(r);

    *end = 0;
    if (st != CALIB_OK)
        return st;
    if (r->len == 0) {
        *end = 1;
        return CALIB_OK;
    }
    st = split_line(r);
    if (st != CALIB_OK)
        return st;
    if (r->n_fields != want)
        return field_count_fail(r, want, first);
    return CALIB_OK;
}

/* Grows *p (held `cap` items of `size` bytes) to twice as many. */
static int grow(void **p, size_t *cap, size_t size)
{
    int overflow = 0;
    size_t new_cap = *cap == 0 ? 1024 : *cap * 2;
    size_t old_bytes = calib_mul_size(*cap, size, &overflow);
    size_t new_bytes = calib_mul_size(new_cap, size, &overflow);
    void *bigger;

    if (overflow || new_cap < *cap)
        return -1;
    bigger = calib_realloc(*p, old_bytes, new_bytes);
    if (bigger == NULL)
        return -1;
    *p = bigger;
    *cap = new_cap;
    return 0;
}

void calib_csv_options_default(calib_csv_options *opt)
{
    if (opt == NULL)
        return;
    opt->delimiter = 0;
    opt->header = -1;
    opt->label_column = 1;
    opt->label_name = NULL;
}

/* Finds the label column from the options and line 1; NO_LABEL when
 * the options say there is none. */
static calib_status label_column(const csv_reader *r,
                                 const calib_csv_options *opt, int header,
                                 size_t *col)
{
    if (opt->label_name == NULL && opt->label_column == 0) {
        *col = NO_LABEL;
        return CALIB_OK;
    }
    if (opt->label_name != NULL) {
        if (!header)
            return calib_fail(r->err, CALIB_E_ARGUMENT, r->name, -1, 1, -1,
                              "a label column named '%s' needs a header "
                              "line", opt->label_name);
        size_t found = r->n_fields;
        for (size_t j = 0; j < r->n_fields; j++) {
            if (strcmp(r->fields[j], opt->label_name) != 0)
                continue;
            /* taking the first of two would be a silent guess */
            if (found < r->n_fields)
                return calib_fail(r->err, CALIB_E_ARGUMENT, r->name, -1,
                                  r->line_no, -1,
                                  "the header names two columns '%.40s' "
                                  "(columns %zu and %zu); choose the "
                                  "label column by number",
                                  opt->label_name, found + 1, j + 1);
            found = j;
        }
        if (found < r->n_fields) {
            *col = found;
            return CALIB_OK;
        }
        return calib_fail(r->err, CALIB_E_ARGUMENT, r->name, -1, 1, -1,
                          "no column named '%s' in the header",
                          opt->label_name);
    }
    if (opt->label_column < 1 || (size_t)opt->label_column > r->n_fields)
        return calib_fail(r->err, CALIB_E_ARGUMENT, r->name, -1, 1, -1,
                          "label column %ld does not exist: line 1 has "
                          "%zu fields", opt->label_column, r->n_fields);
    *col = (size_t)opt->label_column - 1;
    return CALIB_OK;
}

/*
 * The fields of the current line into one row of preds and a label.
 * Values must be finite and the label below `classes`: checked here, where
 * the line and column are known, rather than later on the matrix, where
 * only the data row is.
 */
static calib_status parse_row(const csv_reader *r, size_t label_col,
                              size_t classes, double *row, int64_t *label)
{
    size_t k = 0;

    for (size_t j = 0; j < r->n_fields; j++) {
        const char *f = r->fields[j];
        if (j == label_col) {
            const char *why = parse_label(f, label);
            if (why != NULL)
                return label_fail(r, j, f, why);
            if ((uint64_t)*label >= (uint64_t)classes)
                return calib_fail(r->err, CALIB_E_VALUE, r->name, -1,
                                  r->line_no, (int64_t)j + 1,
                                  "label %lld is out of range [0, %zu)%s",
                                  (long long)*label, classes,
                                  classes == 2 && r->n_fields == 2
                                      ? " (one prediction column: a "
                                        "binary task, labels 0 or 1)"
                                      : "");
            continue;
        }
        if (*f == '\0')
            return calib_fail(r->err, CALIB_E_FORMAT, r->name, -1,
                              r->line_no, (int64_t)j + 1, "empty field");
        if (!parse_double(f, &row[k]))
            return calib_fail(r->err, CALIB_E_FORMAT, r->name, -1,
                              r->line_no, (int64_t)j + 1,
                              "'%.40s' is not a number", f);
        if (!isfinite(row[k]))
            return calib_fail(r->err, CALIB_E_VALUE, r->name, -1,
                              r->line_no, (int64_t)j + 1,
                              "value '%.40s' is not finite", f);
        k++;
    }
    return CALIB_OK;
}

calib_status calib_read_csv(const char *path, const calib_csv_options *opt,
                            calib_matrix *preds, int64_t **labels,
                            calib_error *err)
{
    calib_csv_options defaults;
    csv_reader r;
    calib_status st;
    double *data = NULL;
    int64_t *lab = NULL;
    size_t ncols, npred, classes, label_col = 0, rows = 0, cap = 0;
    size_t lab_cap = 0;
    int64_t first_line_no;
    int header, has_label;

    if (opt == NULL) {
        calib_csv_options_default(&defaults);
        opt = &defaults;
    }
    has_label = opt->label_name != NULL || opt->label_column != 0;
    if (path == NULL || preds == NULL || (labels == NULL && has_label))
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_read_csv: NULL argument");
    st = csv_open(&r, path, err);
    if (st == CALIB_OK)
        st = first_line(&r, opt->delimiter);
    if (st != CALIB_OK)
        goto done;

    /* line 1: header or data, the field count, the label column */
    ncols = r.n_fields;
    first_line_no = r.line_no;
    header = opt->header >= 0 ? opt->header : any_field_not_numeric(&r);
    st = label_column(&r, opt, header, &label_col);
    if (st != CALIB_OK)
        goto done;
    if (has_label && ncols < 2) {
        st = calib_fail(err, CALIB_E_SHAPE, r.name, -1, r.line_no, -1,
                        "need a label column and at least one prediction "
                        "column; line %lld has one field",
                        (long long)r.line_no);
        goto done;
    }
    npred = has_label ? ncols - 1 : ncols;
    classes = npred == 1 ? 2 : npred;  /* one column: binary, 0 or 1 */

    for (int use_first = !header;; use_first = 0) {
        if (!use_first) {
            int end;
            st = next_record(&r, ncols, first_line_no, &end);
            if (st != CALIB_OK)
                goto done;
            if (end)
                break;
        } else if (r.n_fields != ncols) {
            st = field_count_fail(&r, ncols, first_line_no);
            goto done;
        }
        if (rows == cap && grow((void **)&data, &cap,
                                npred * sizeof(double)) != 0) {
            st = calib_fail(err, CALIB_E_NOMEM, r.name, -1, r.line_no, -1,
                            "out of memory");
            goto done;
        }
        if (has_label && rows == lab_cap &&
            grow((void **)&lab, &lab_cap, sizeof(int64_t)) != 0) {
            st = calib_fail(err, CALIB_E_NOMEM, r.name, -1, r.line_no, -1,
                            "out of memory");
            goto done;
        }
        st = parse_row(&r, label_col, classes, data + rows * npred,
                       has_label ? lab + rows : NULL);
        if (st != CALIB_OK)
            goto done;
        rows++;
    }
    if (rows == 0) {
        st = calib_fail(err, CALIB_E_SHAPE, r.name, -1, -1, -1,
                        "has a header line but no data rows");
        goto done;
    }

    preds->rows = rows;
    preds->cols = npred;
    preds->dtype = CALIB_FLOAT64;
    preds->data = data;
    if (labels != NULL)
        *labels = lab;  /* NULL without a label column */
    data = NULL;
    lab = NULL;
done:
    calib_free(data);
    calib_free(lab);
    csv_close(&r);
    return st;
}

/* Index of the header field called `name` (ASCII case ignored), -1 when
 * there is none; a second match goes to *again, else it is -1. */
static long find_column(const csv_reader *r, const char *name, long *again)
{
    long found = -1;

    *again = -1;
    for (size_t j = 0; j < r->n_fields; j++) {
        const char *a = r->fields[j], *b = name;
        while (*a != '\0' && *b != '\0' &&
               (*a == *b || (*a >= 'A' && *a <= 'Z' && *a - 'A' + 'a' == *b)))
            a++, b++;
        if (*a != '\0' || *b != '\0')
            continue;
        if (found >= 0) {
            *again = (long)j;
            break;
        }
        found = (long)j;
    }
    return found;
}

void calib_toplabel_free(calib_toplabel *t)
{
    if (t == NULL)
        return;
    calib_free(t->true_label);
    calib_free(t->pred_label);
    calib_free(t->confidence);
    memset(t, 0, sizeof *t);
}

calib_status calib_read_toplabel(const char *path, calib_toplabel *out,
                                 calib_error *err)
{
    static const char *names[3] = {"true_label", "pred_label",
                                   "confidence"};
    csv_reader r;
    calib_status st;
    calib_toplabel t;
    long col[3];
    size_t ncols, cap[3] = {0, 0, 0};
    int64_t first_line_no;

    if (path == NULL || out == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "calib_read_toplabel: NULL argument");
    memset(&t, 0, sizeof t);
    st = csv_open(&r, path, err);
    if (st == CALIB_OK)
        st = first_line(&r, 0);
    if (st != CALIB_OK)
        goto done;

    for (int c = 0; c < 3; c++) {
        long again;
        col[c] = find_column(&r, names[c], &again);
        if (again >= 0) {
            st = calib_fail(err, CALIB_E_FORMAT, r.name, -1, r.line_no, -1,
                            "the header names two columns '%s' (columns "
                            "%ld and %ld)", names[c], col[c] + 1,
                            again + 1);
            calib_error_set_field(err, names[c]);
            goto done;
        }
        if (col[c] < 0) {
            st = calib_fail(err, CALIB_E_FORMAT, r.name, -1, r.line_no, -1,
                            "the header has no column '%s' (need "
                            "true_label, pred_label and confidence)",
                            names[c]);
            calib_error_set_field(err, names[c]);
            goto done;
        }
    }
    ncols = r.n_fields;
    first_line_no = r.line_no;

    for (;;) {
        const char *why;
        const char *f;
        double conf;

        int end;

        st = next_record(&r, ncols, first_line_no, &end);
        if (st != CALIB_OK)
            goto done;
        if (end)
            break;
        if ((t.n == cap[0] &&
             grow((void **)&t.true_label, &cap[0], sizeof(int64_t)) != 0) ||
            (t.n == cap[1] &&
             grow((void **)&t.pred_label, &cap[1], sizeof(int64_t)) != 0) ||
            (t.n == cap[2] &&
             grow((void **)&t.confidence, &cap[2], sizeof(double)) != 0)) {
            st = calib_fail(err, CALIB_E_NOMEM, r.name, -1, r.line_no, -1,
                            "out of memory");
            goto done;
        }
        f = r.fields[col[0]];
        why = parse_label(f, &t.true_label[t.n]);
        if (why != NULL) {
            st = label_fail(&r, (size_t)col[0], f, why);
            goto done;
        }
        f = r.fields[col[1]];
        why = parse_label(f, &t.pred_label[t.n]);
        if (why != NULL) {
            st = label_fail(&r, (size_t)col[1], f, why);
            goto done;
        }
        f = r.fields[col[2]];
        if (!parse_double(f, &conf)) {
            st = calib_fail(err, CALIB_E_FORMAT, r.name, -1, r.line_no,
                            col[2] + 1, "confidence '%.40s' is not a number",
                            f);
            goto done;
        }
        if (!(conf >= 0.0 && conf <= 1.0)) {
            st = calib_fail(err, CALIB_E_VALUE, r.name, -1, r.line_no,
                            col[2] + 1, "confidence %.17g is outside "
                            "[0, 1]", conf);
            goto done;
        }
        t.confidence[t.n++] = conf;
    }
    if (t.n == 0) {
        st = calib_fail(err, CALIB_E_SHAPE, r.name, -1, -1, -1,
                        "has a header line but no data rows");
        goto done;
    }
    *out = t;
    memset(&t, 0, sizeof t);
done:
    calib_toplabel_free(&t);
    csv_close(&r);
    return st;
}
