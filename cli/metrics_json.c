/*
 * metrics_json.c - the JSON form of a calib_metrics, shared by `calib
 * eval --format json` and the "test" objects of `calib run`'s
 * summary.json, so that both carry the same keys in the same order.
 * Numbers have 17 significant digits; absent metrics are null and
 * infinities 1e999 (valid JSON that decodes to infinity).
 */
#include "cli.h"

#include <stdio.h>

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one
 * (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_length(const unsigned char *s)
{
    size_t n;
    unsigned long cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2, cp = s[0] & 0x1Fu;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3, cp = s[0] & 0x0Fu;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4, cp = s[0] & 0x07u;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0u) != 0x80u)  /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return n;
}

void cli_json_string(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    /* JSON text is UTF-8: a file name's stray bytes become U+FFFD */
    fputc('"', out);
    while (*p != '\0') {
        size_t n = utf8_length(p);
        if (n == 0) {
            fputs("\\ufffd", out);
            p++;
        } else if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p++);
        } else if (*p < 0x20 || *p == 0x7F) {
            fprintf(out, "\\u%04x", *p++);
        } else {
            fwrite(p, 1, n, out);
            p += n;
        }
    }
    fputc('"', out);
}

static void number(FILE *out, const char *pad, const char *key, double x)
{
    fprintf(out, "%s\"%s\": ", pad, key);
    cli_print_double(out, x, 1);
    fputs(",\n", out);
}

static const char *ece_of(const calib_metrics *m)
{
    return m->binary && !m->top_label ? "positive-class" : "top-label";
}

void cli_print_metrics_json(FILE *out, const calib_metrics *m,
                            const cli_metrics_source *src, int indent)
{
    const calib_eval_options *o = &m->options;
    char pad[48], pad2[48];
    int w = indent < 0 ? 0 : indent > 40 ? 40 : indent;

    snprintf(pad, sizeof pad, "%*s", w + 2, "");
    snprintf(pad2, sizeof pad2, "%*s", w + 4, "");

    /* the metrics */
    fprintf(out, "{\n%s\"n\": %zu,\n", pad, m->n);
    if (m->classes > 0)
        fprintf(out, "%s\"classes\": %zu,\n", pad, m->classes);
    else
        fprintf(out, "%s\"classes\": null,\n", pad);
    number(out, pad, "accuracy", m->accuracy);
    number(out, pad, "nll", m->nll);
    number(out, pad, "brier", m->brier);
    number(out, pad, "ece", m->ece);
    number(out, pad, "mce", m->mce);
    number(out, pad, "rmsce", m->rmsce);
    number(out, pad, "ace", m->ace);
    number(out, pad, "classwise_ece", m->classwise_ece);
    number(out, pad, "kl_smoothed", m->kl_smoothed);
    number(out, pad, "mean_confidence", m->mean_confidence);
    fprintf(out, "%s\"nll_infinite_rows\": %llu,\n", pad,
            (unsigned long long)m->nll_infinite_rows);
    fprintf(out, "%s\"clipped_rows\": %llu,\n", pad,
            (unsigned long long)m->clipped_rows);

    /* the reliability table */
    fprintf(out, "%s\"bins\": [", pad);
    for (size_t b = 0; b < m->n_bins; b++) {
        const calib_bin *bin = &m->bins[b];
        fprintf(out, "%s\n%s{\"lo\": ", b == 0 ? "" : ",", pad2);
        cli_print_double(out, bin->lo, 1);
        fputs(", \"hi\": ", out);
        cli_print_double(out, bin->hi, 1);
        fprintf(out, ", \"count\": %llu, \"confidence\": ",
                (unsigned long long)bin->count);
        cli_print_double(out, bin->confidence, 1);
        fputs(", \"accuracy\": ", out);
        cli_print_double(out, bin->accuracy, 1);
        fputc('}', out);
    }
    if (m->n_bins > 0)
        fprintf(out, "\n%s],\n", pad);
    else
        fputs("],\n", out);

    /* how they were computed */
    fprintf(out, "%s\"conventions\": {\n%s\"n_bins\": %zu,\n", pad, pad2,
            o->n_bins);
    fprintf(out, "%s\"scheme\": \"%s\",\n", pad2,
            o->scheme == CALIB_SCHEME_MASS ? "mass" : "width");
    fprintf(out, "%s\"bin_rule\": \"%s\",\n", pad2,
            o->bin_rule == CALIB_BIN_LEFT ? "left" : "right");
    fprintf(out, "%s\"smoothing\": ", pad2);
    cli_print_double(out, o->smoothing, 1);
    fprintf(out, ",\n%s\"input\": \"%s\",\n", pad2,
            src != NULL && src->input != NULL ? src->input : "probs");
    fprintf(out, "%s\"binary\": %s,\n", pad2, m->binary ? "true" : "false");
    fprintf(out, "%s\"ece_of\": \"%s\",\n", pad2, ece_of(m));
    fprintf(out, "%s\"clip_eps\": ", pad2);
    cli_print_double(out, o->clip_eps, 1);
    fprintf(out, ",\n%s\"renormalize\": %s,\n", pad2,
            o->renormalize ? "true" : "false");
    fprintf(out, "%s\"predictions\": ", pad2);
    if (src != NULL && src->preds_file != NULL)
        cli_json_string(out, src->preds_file);
    else
        fputs("null", out);
    fprintf(out, ",\n%s\"labels\": ", pad2);
    if (src != NULL && src->labels_file != NULL)
        cli_json_string(out, src->labels_file);
    else
        fputs("null", out);
    fprintf(out, "\n%s}\n%*s}", pad, w, "");
}
