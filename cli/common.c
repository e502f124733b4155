/*
 * common.c - helpers shared by the calib sub-commands: error reporting,
 * exit statuses, option values, round-trip number printing, signals.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("calib: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_exit_status(calib_status status, int output)
{
    switch (status) {
    case CALIB_OK: return 0;
    case CALIB_E_ARGUMENT: return EXIT_USAGE;
    case CALIB_E_NOMEM: return EXIT_NOMEM;
    case CALIB_E_IO: return output ? EXIT_OUTPUT : EXIT_INPUT_IO;
    case CALIB_E_FORMAT:
    case CALIB_E_UNSUPPORTED:
    case CALIB_E_TOO_LARGE: return EXIT_INPUT_FORMAT;
    case CALIB_E_VALUE:
    case CALIB_E_SHAPE: return EXIT_DATA;
    case CALIB_E_NOT_APPLICABLE: return EXIT_FIT;
    case CALIB_E_INTERRUPTED: return EXIT_SIGINT;
    }
    return EXIT_INTERNAL;
}

int cli_fail(const calib_error *err, int output)
{
    cli_error("%s", err->message[0] != '\0' ? err->message
                                            : calib_strerror(err->status));
    return cli_exit_status(err->status, output);
}

const char *cli_flag_value(int argc, char **argv, int *i, const char *flag)
{
    size_t len = strlen(flag);
    const char *a = argv[*i];

    if (strncmp(a, flag, len) != 0)
        return NULL;
    if (a[len] != '\0' && a[len] != '=')
        return NULL;
    if (a[len] == '=' ? a[len + 1] == '\0' : *i + 1 >= argc) {
        cli_error("%s needs a value", flag);
        return "";
    }
    if (a[len] == '=')
        return a + len + 1;
    (*i)++;
    if (argv[*i][0] == '\0') {
        cli_error("%s needs a value, got an empty one", flag);
        return "";
    }
    return argv[*i];
}

int cli_parse_size(const char *flag, const char *text, size_t *out)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    if (text == NULL || text[0] == '\0' || text[0] == '-') {
        cli_error("%s needs a positive whole number, got '%s'", flag,
                  text == NULL ? "" : text);
        return -1;
    }
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > SIZE_MAX) {
        cli_error("%s needs a positive whole number, got '%s'", flag, text);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int cli_parse_double(const char *flag, const char *text, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    if (text == NULL || text[0] == '\0') {
        cli_error("%s needs a number", flag);
        return -1;
    }
    v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v)) {
        cli_error("%s needs a finite number, got '%s'", flag, text);
        return -1;
    }
    *out = v;
    return 0;
}

void cli_print_double(FILE *out, double x, int json)
{
    if (isnan(x))
        fputs(json ? "null" : "nan", out);
    else if (isinf(x))
        /* 1e999 is valid JSON and decodes to infinity in Python and JS */
        fputs(x > 0 ? (json ? "1e999" : "inf") : (json ? "-1e999" : "-inf"),
              out);
    else
        fprintf(out, "%.17g", x);
}

static void on_signal(int sig)
{
    calib_remove_pending_files();
    _exit(sig == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM);
}

/* Installs handler (or SIG_DFL) for sig, nothing blocked while it runs. */
static void set_handler(int sig, void (*handler)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

void cli_install_signal_handlers(void)
{
    set_handler(SIGINT, on_signal);
    set_handler(SIGTERM, on_signal);
}

/* The SIGBUS message, made before the signal can come. */
static char bus_message[1024];
static size_t bus_length;

static void on_bus(int sig)
{
    ssize_t ignored;

    (void)sig;
    ignored = write(STDERR_FILENO, bus_message, bus_length);
    (void)ignored;
    calib_remove_pending_files();
    _exit(EXIT_INPUT_FORMAT);
}

void cli_watch_mapped_file(const char *path)
{
    int len = snprintf(bus_message, sizeof bus_message,
                       "calib: %s: the file shrank while it was being "
                       "read\n", path);

    if (len < 0 || (size_t)len >= sizeof bus_message) {
        /* a name too long for the buffer: keep its end, where the
         * file's own name is */
        const char *tail = path + strlen(path) - 900;
        len = snprintf(bus_message, sizeof bus_message,
                       "calib: ...%s: the file shrank while it was being "
                       "read\n", tail);
    }
    bus_length = len > 0 ? (size_t)len : 0;
    set_handler(SIGBUS, on_bus);
}

void cli_unwatch_mapped_file(void)
{
    set_handler(SIGBUS, SIG_DFL);
}

int cli_is_csv(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    char ext[4];

    if (strcmp(path, "-") == 0)
        return 1;
    if (dot == NULL || (slash != NULL && slash > dot) || strlen(dot) != 4)
        return 0;
    for (size_t i = 0; i < 3; i++)
        ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    ext[3] = '\0';
    return strcmp(ext, "csv") == 0 || strcmp(ext, "tsv") == 0;
}

int cli_csv_option(int argc, char **argv, int *i, calib_csv_options *csv,
                   int no_label_ok)
{
    const char *v;

    if (strcmp(argv[*i], "--header") == 0) {
        csv->header = 1;
        return 1;
    }
    if (strcmp(argv[*i], "--no-header") == 0) {
        csv->header = 0;
        return 1;
    }
    if (no_label_ok && strcmp(argv[*i], "--no-label-col") == 0) {
        csv->label_column = 0;
        csv->label_name = NULL;
        return 1;
    }
    if ((v = cli_flag_value(argc, argv, i, "--delimiter")) != NULL) {
        if (v[0] == '\0')
            return -1;
        if (strcmp(v, "tab") == 0 || strcmp(v, "\\t") == 0)
            csv->delimiter = '\t';
        else if (strlen(v) == 1)
            csv->delimiter = v[0];
        else {
            cli_error("--delimiter needs one character or 'tab', got '%s'",
                      v);
            return -1;
        }
        return 1;
    }
    if ((v = cli_flag_value(argc, argv, i, "--label-col")) != NULL) {
        char *end = NULL;
        long col;

        if (v[0] == '\0')
            return -1;
        errno = 0;
        col = strtol(v, &end, 10);
        if (isdigit((unsigned char)v[0]) && *end == '\0') {
            if (col < 1 || errno != 0) {
                cli_error("--label-col counts from 1, got '%s'", v);
                return -1;
            }
            csv->label_column = col;
            csv->label_name = NULL;
        } else {
            /* not a column number: a header field's name */
            csv->label_name = v;
        }
        return 1;
    }
    return 0;
}

int cli_read_inputs(const char *command, const char *path,
                    const char *labels_path, const calib_csv_options *csv,
                    calib_matrix *preds, int64_t **labels)
{
    calib_error err;
    size_t n = 0;

    calib_error_clear(&err);
    if (cli_is_csv(path)) {
        if (labels_path != NULL) {
            cli_error("%s: %s holds its labels (--label-col); drop "
                      "--labels", command, path);
            return EXIT_USAGE;
        }
        if (calib_read_csv(path, csv, preds, labels, &err) != CALIB_OK)
            return cli_fail(&err, 0);
        return 0;
    }
    if (labels_path == NULL) {
        cli_error("%s: --labels is required with %s", command, path);
        return EXIT_USAGE;
    }
    if (calib_read_matrix(path, preds, &err) != CALIB_OK)
        return cli_fail(&err, 0);
    if (calib_read_labels(labels_path, labels, &n, &err) != CALIB_OK) {
        calib_matrix_free(preds);
        return cli_fail(&err, 0);
    }
    if (n != preds->rows) {
        cli_error("%s: %zu labels, but %s has %zu rows", labels_path, n,
                  path, preds->rows);
        calib_matrix_free(preds);
        calib_free(*labels);
        *labels = NULL;
        return cli_exit_status(CALIB_E_SHAPE, 0);
    }
    return 0;
}
