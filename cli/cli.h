/*
 * cli.h - shared parts of the calib command-line tool. The CLI uses only
 * the public header calib.h; this file holds the option parsing and
 * reporting helpers its commands share.
 */
#ifndef CALIB_CLI_H
#define CALIB_CLI_H

#include "calib.h"

#include <stdio.h>

/*
 * Exit statuses, documented in docs/cli.md. Pinned: only ever appended.
 */
enum {
    EXIT_OK_ = 0,
    EXIT_INTERNAL = 1,     /* a bug in calib */
    EXIT_USAGE = 2,        /* bad command line */
    EXIT_INPUT_IO = 3,     /* an input file cannot be opened or read */
    EXIT_INPUT_FORMAT = 4, /* malformed, unsupported or oversized input */
    EXIT_DATA = 5,         /* invalid values or shapes in the input */
    EXIT_NOMEM = 6,        /* out of memory */
    EXIT_FIT = 7,          /* a calibrator could not be fitted or applied */
    EXIT_OUTPUT = 8,       /* an output file cannot be written */
    EXIT_SIGINT = 130,     /* interrupted by SIGINT */
    EXIT_SIGTERM = 143     /* terminated by SIGTERM */
};

/* A sub-command: argv[0] is the command's own name. */
typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out);
} cli_command;

/* Each command lives in its own file cli/cmd_NAME.c. */
int cmd_eval(int argc, char **argv);
void cmd_eval_help(FILE *out);
int cmd_fit(int argc, char **argv);
void cmd_fit_help(FILE *out);
int cmd_apply(int argc, char **argv);
void cmd_apply_help(FILE *out);
int cmd_run(int argc, char **argv);
void cmd_run_help(FILE *out);
int cmd_loss(int argc, char **argv);
void cmd_loss_help(FILE *out);
int cmd_plot(int argc, char **argv);
void cmd_plot_help(FILE *out);

/*
 * The HTML report of `calib run --report` (cli/report.c): one
 * self-contained file, no script, formulas in MathML.
 */
typedef struct cli_report_entry {
    const char *name;            /* "uncalibrated", "temperature", ... */
    const calib_metrics *test;   /* metrics on the test split */
    const calib_fit_info *fit;   /* NULL for the uncalibrated row */
    const char *model_file;      /* NULL if none was written */
    const char *parameters;      /* short text, e.g. "T = 1.4312"; or NULL */
    const char *skipped;         /* reason the method was skipped, or NULL */
} cli_report_entry;

typedef struct cli_report {
    const char *title;
    const char *val_preds;       /* input file names as given */
    const char *val_labels;
    const char *test_preds;
    const char *test_labels;
    calib_input input;
    const calib_eval_options *options;
    const cli_report_entry *entries;
    size_t n_entries;
    const char *extra_html;      /* an extra section (trusted HTML), or NULL */
} cli_report;

/* Writes the report atomically (temporary file, then rename). */
calib_status cli_write_report(const char *path, const cli_report *report,
                              calib_error *err);

/* Prints "calib: MESSAGE" on stderr as one line. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Prints err's message on stderr and returns the exit status for it;
 * `output` says whether the failing file was one being written. */
int cli_fail(const calib_error *err, int output);

/* Exit status for a library status. */
int cli_exit_status(calib_status status, int output);

/*
 * If argv[*i] is `flag` ("--flag VALUE" or "--flag=VALUE"), returns its
 * value and advances *i past it; a missing or empty value ("--flag",
 * "--flag=", "--flag ''") prints a usage error and returns "", which
 * callers turn into exit 2 without printing more. NULL if argv[*i] is
 * another argument.
 */
const char *cli_flag_value(int argc, char **argv, int *i, const char *flag);

/* Parsers for option values; print a usage error and return -1 on bad
 * input, 0 on success. */
int cli_parse_size(const char *flag, const char *text, size_t *out);
int cli_parse_double(const char *flag, const char *text, double *out);

/* Prints a double so that it reads back to the same bits (17 significant
 * digits), with NaN as null and infinities as "Infinity"/"-Infinity" for
 * JSON when json is true. */
void cli_print_double(FILE *out, double x, int json);

/* Where a calib_metrics came from, for its JSON "conventions". */
typedef struct cli_metrics_source {
    const char *input;        /* "logits", "probs" or "toplabel" */
    const char *preds_file;   /* NULL if none */
    const char *labels_file;  /* NULL when the labels are inside preds */
} cli_metrics_source;

/* The JSON object of `calib eval --format json` (cli/metrics_json.c),
 * without a final newline; `indent` is the column of its closing brace. */
void cli_print_metrics_json(FILE *out, const calib_metrics *m,
                            const cli_metrics_source *src, int indent);

/* A JSON string literal, escaped. */
void cli_json_string(FILE *out, const char *s);

/* True for a CSV or TSV name (.csv, .tsv, any case) and "-" (stdin). */
int cli_is_csv(const char *path);

/*
 * Parses one of the CSV options at argv[*i] into csv: --label-col N|NAME,
 * --delimiter C|tab, --header, --no-header, and --no-label-col (label
 * column 0: predictions alone) when no_label_ok. Returns 1 if it was one
 * (and valid), 0 if argv[*i] is something else, -1 after printing a usage
 * error. Shared by eval, plot, fit, apply and run.
 */
int cli_csv_option(int argc, char **argv, int *i, calib_csv_options *csv,
                   int no_label_ok);

/*
 * The predictions and labels of eval, plot, fit and run: a CSV holding
 * both, or a matrix (.npy, .npz:KEY) with --labels. 0, or the exit status
 * after one line on stderr.
 */
int cli_read_inputs(const char *command, const char *path,
                    const char *labels_path, const calib_csv_options *csv,
                    calib_matrix *preds, int64_t **labels);

/* Installs SIGINT/SIGTERM handlers that remove pending output files and
 * exit with 130 / 143. */
void cli_install_signal_handlers(void);

/* While a file is mapped: a SIGBUS (the file shrank under the mapping)
 * prints "calib: PATH: the file shrank while it was being read" and exits
 * with status 4, as a truncated file does. */
void cli_watch_mapped_file(const char *path);
void cli_unwatch_mapped_file(void);

#endif /* CALIB_CLI_H */
