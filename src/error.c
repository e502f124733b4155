/*
 * error.c - status strings and the one-line error messages of calib_error.
 *
 * The library never prints: every failure is described in the caller's
 * calib_error as one line that names the file and the position (row for
 * arrays, line and column for text) before what is wrong.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

const char *calib_version(void)
{
    return CALIB_VERSION_STRING;
}

const char *calib_strerror(calib_status status)
{
    switch (status) {
    case CALIB_OK: return "success";
    case CALIB_E_ARGUMENT: return "invalid argument";
    case CALIB_E_NOMEM: return "out of memory";
    case CALIB_E_IO: return "input/output error";
    case CALIB_E_FORMAT: return "malformed file";
    case CALIB_E_UNSUPPORTED: return "unsupported content";
    case CALIB_E_VALUE: return "invalid value";
    case CALIB_E_SHAPE: return "shapes do not match";
    case CALIB_E_NOT_APPLICABLE: return "method does not apply";
    case CALIB_E_TOO_LARGE: return "size beyond limits";
    case CALIB_E_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

void calib_error_clear(calib_error *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof *err);
    err->status = CALIB_OK;
    err->row = -1;
    err->line = -1;
    err->column = -1;
}

static calib_status fail_v(calib_error *err, calib_status status,
                           const char *file, int64_t row, int64_t line,
                           int64_t column, const char *fmt, va_list ap)
{
    size_t used = 0;
    int n;

    if (err == NULL)
        return status;
    calib_error_clear(err);
    err->status = status;
    err->row = row;
    err->line = line;
    err->column = column;

    /* prefix: file, then the position */
    if (file != NULL) {
        snprintf(err->file, sizeof err->file, "%s", file);
        n = snprintf(err->message, sizeof err->message, "%s: ", file);
        used = n > 0 ? (size_t)n : 0;
    }
    if (used < sizeof err->message) {
        char *p = err->message + used;
        size_t left = sizeof err->message - used;
        if (line >= 0 && column >= 0)
            n = snprintf(p, left, "line %lld, column %lld: ",
                         (long long)line, (long long)column);
        else if (line >= 0)
            n = snprintf(p, left, "line %lld: ", (long long)line);
        else if (row >= 0)
            n = snprintf(p, left, "row %lld: ", (long long)row);
        else
            n = 0;
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < sizeof err->message)
        vsnprintf(err->message + used, sizeof err->message - used, fmt, ap);

    /* one line: no newline may come from a file name or a value */
    for (char *c = err->message; *c != '\0'; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    return status;
}

calib_status calib_fail(calib_error *err, calib_status status,
                        const char *file, int64_t row, int64_t line,
                        int64_t column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status = fail_v(err, status, file, row, line, column, fmt, ap);
    va_end(ap);
    return status;
}

calib_status calib_failf(calib_error *err, calib_status status,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status = fail_v(err, status, NULL, -1, -1, -1, fmt, ap);
    va_end(ap);
    return status;
}

void calib_error_set_field(calib_error *err, const char *field)
{
    if (err != NULL && field != NULL)
        snprintf(err->field, sizeof err->field, "%s", field);
}
