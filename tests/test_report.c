/*
 * test_report.c - the HTML report of `calib run --report` (cli/report.c)
 * on synthetic metrics: self-contained (no script, no remote resource),
 * MathML formulas, the table's exact values, escaping, unique SVG ids,
 * skipped methods, the extra section, failures leave no file.
 *
 * With an argument PATH, writes the report there for tests/cli/
 * plot_report.sh to parse and render.
 */
#include "check.h"
#include "../cli/report.c"

#include <stdlib.h>
#include <unistd.h>

static calib_bin bins_a[4] = {
    {0.0, 0.25, 5, 0.21, 0.4},
    {0.25, 0.5, 40, 0.41, 0.3},
    {0.5, 0.75, 0, 0.0, 0.0},
    {0.75, 1.0, 155, 0.93, 0.8516129032258064},
};
static calib_bin bins_b[4] = {
    {0.0, 0.25, 9, 0.2, 0.2222222222222222},
    {0.25, 0.5, 30, 0.38, 0.4},
    {0.5, 0.75, 21, 0.66, 0.6190476190476191},
    {0.75, 1.0, 140, 0.88, 0.8857142857142857},
};

static void fill(calib_metrics *m, calib_bin *bins, const calib_eval_options
                 *opt, double nll)
{
    double ece = 0.0, mce = 0.0, correct = 0.0;
    size_t n = 0;

    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < 4; i++) {
        double gap = fabs(bins[i].confidence - bins[i].accuracy);
        n += (size_t)bins[i].count;
        ece += (double)bins[i].count * gap;
        correct += (double)bins[i].count * bins[i].accuracy;
        if (bins[i].count > 0 && gap > mce)
            mce = gap;
    }
    m->n = n;
    m->classes = 10;
    m->has_full_probs = 1;
    m->accuracy = correct / (double)n;
    m->nll = nll;
    m->brier = nll / 3.7;
    m->kl_smoothed = nll / 2.3;
    m->ece = ece / (double)n;
    m->mce = mce;
    m->rmsce = m->ece * 1.21;
    m->ace = m->ece * 0.97;
    m->classwise_ece = m->ece / 4.1;
    m->options = *opt;
    m->n_bins = 4;
    m->bins = bins;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)size + 1);
    if (buf != NULL) {
        *len = fread(buf, 1, (size_t)size, f);
        buf[*len] = '\0';
    }
    fclose(f);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t k = 0;
    for (const char *p = strstr(hay, needle); p != NULL;
         p = strstr(p + 1, needle))
        k++;
    return k;
}

/* The data-value of the cell `column` (0 = N) of the row of `method`. */
static double cell(const char *html, const char *method, int column)
{
    char key[128];
    const char *p;

    snprintf(key, sizeof key, "<tr data-method=\"%s\">", method);
    p = strstr(html, key);
    if (p == NULL)
        return NAN;
    for (int c = 0; c <= column; c++) {
        p = strstr(p + 1, "<td data-value=\"");
        if (p == NULL)
            return NAN;
    }
    return strtod(p + strlen("<td data-value=\""), NULL);
}

/* Every "http" in the page is an XML namespace name, never something
 * fetched. */
static int only_namespaces(const char *html)
{
    for (const char *p = strstr(html, "http"); p != NULL;
         p = strstr(p + 1, "http")) {
        if (p - html < 7 || strncmp(p - 7, "xmlns=\"", 7) != 0)
            return 0;
    }
    return 1;
}

static long alloc_calls, fail_at;

static void *t_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return alloc_calls++ >= fail_at ? NULL : malloc(size);
}

static void *t_realloc(void *ctx, void *ptr, size_t old, size_t size)
{
    (void)ctx;
    (void)old;
    return alloc_calls++ >= fail_at ? NULL : realloc(ptr, size);
}

static void t_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

int main(int argc, char **argv)
{
    calib_eval_options opt;
    calib_metrics before, after;
    calib_fit_info fit;
    cli_report_entry entries[3];
    cli_report report;
    calib_error err;
    char dir[] = "/tmp/calib-report-XXXXXX", path[256];
    const char *out = argc > 1 ? argv[1] : path;
    char *html;
    size_t len = 0;

    if (mkdtemp(dir) == NULL) {
        printf("FAIL: mkdtemp\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/report.html", dir);

    calib_eval_options_default(&opt);
    opt.n_bins = 4;
    fill(&before, bins_a, &opt, 0.4127);
    fill(&after, bins_b, &opt, 0.3018);
    memset(&fit, 0, sizeof fit);
    fit.n = 5000;
    fit.nll_before = 0.4279;
    fit.nll_after = 0.3104;
    fit.iterations = 7;
    fit.gradient = 3.1e-13;
    snprintf(fit.status, sizeof fit.status, "converged");

    memset(entries, 0, sizeof entries);
    entries[0].name = "uncalibrated";
    entries[0].test = &before;
    entries[1].name = "temperature";
    entries[1].test = &after;
    entries[1].fit = &fit;
    entries[1].model_file = "out/temperature.json";
    entries[1].parameters = "T = 1.4312";
    entries[2].name = "platt";
    entries[2].skipped = "needs one score column <binary> & got 10";

    memset(&report, 0, sizeof report);
    report.title = "CIFAR-10 <ResNet> & \"focal\"";
    report.val_preds = "data/val_logits.npy";
    report.val_labels = "data/val_labels.npy";
    report.test_preds = "data/test_logits.npy";
    report.test_labels = "data/test_labels.npy";
    report.input = CALIB_LOGITS;
    report.options = &opt;
    report.entries = entries;
    report.n_entries = 3;
    report.extra_html = "<table><caption>lambda trade-off</caption>"
                        "<tr><th scope=\"col\">lambda</th></tr>"
                        "<tr><td>0.1</td></tr></table>";

    CHECK_STATUS(cli_write_report(out, &report, &err), CALIB_OK);
    html = slurp(out, &len);
    CHECK(html != NULL);
    if (html == NULL)
        return check_done("test_report");

    /* self-contained and script-free */
    CHECK(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0);
    CHECK(strstr(html, "<script") == NULL);
    CHECK(strstr(html, "<link") == NULL);
    CHECK(strstr(html, "@import") == NULL);
    CHECK(strstr(html, "src=") == NULL);
    CHECK(only_namespaces(html));
    CHECK(strstr(html, "<style>") != NULL);

    /* formulas of every metric and loss in MathML */
    CHECK(count(html, "<math ") == N_FORMULAS);
    CHECK(count(html, "<math ") >= 18);
    for (size_t i = 0; i < N_FORMULAS; i++)
        CHECK(strstr(html, formulas[i].id) != NULL);
    CHECK(strstr(html, "<mi mathvariant=\"normal\">RMSCE</mi>") != NULL);
    CHECK(strstr(html, "<mi mathvariant=\"normal\">SB-ECE</mi>") != NULL);
    CHECK(strstr(html, "<mi mathvariant=\"normal\">MMCE</mi>") != NULL);
    CHECK(strstr(html, "<mi mathvariant=\"normal\">cwECE</mi>") != NULL);

    /* the table: header cells with scope, the exact values */
    CHECK(count(html, "<th scope=\"col\">") >= 10 + 9);
    CHECK(strstr(html, "<th scope=\"row\">temperature</th>") != NULL);
    CHECK(cell(html, "uncalibrated", 0) == 200.0);
    CHECK(cell(html, "uncalibrated", 1) == before.accuracy);
    CHECK(cell(html, "uncalibrated", 2) == before.nll);
    CHECK(cell(html, "uncalibrated", 3) == before.brier);
    CHECK(cell(html, "uncalibrated", 4) == before.ece);
    CHECK(cell(html, "uncalibrated", 5) == before.mce);
    CHECK(cell(html, "uncalibrated", 6) == before.ace);
    CHECK(cell(html, "uncalibrated", 7) == before.classwise_ece);
    CHECK(cell(html, "uncalibrated", 8) == before.kl_smoothed);
    CHECK(cell(html, "temperature", 4) == after.ece);
    {
        char want[64];
        snprintf(want, sizeof want, "<strong>%.4f</strong>", after.ece);
        CHECK(after.ece < before.ece && strstr(html, want) != NULL);
    }
    /* fit diagnostics, skipped methods, the extra section, conventions */
    CHECK(strstr(html, "<td class=\"text\">converged</td>") != NULL);
    CHECK(strstr(html, "T = 1.4312") != NULL);
    CHECK(strstr(html, ">3.100e-13</td>") != NULL);
    CHECK(strstr(html, "<code>out/temperature.json</code>") != NULL);
    CHECK(strstr(html, "<strong>platt</strong>: needs one score column "
                       "&lt;binary&gt; &amp; got 10</li>") != NULL);
    CHECK(strstr(html, "<tr data-method=\"platt\">") == NULL);
    CHECK(strstr(html, "<section id=\"extra\">") != NULL);
    CHECK(strstr(html, report.extra_html) != NULL);
    CHECK(strstr(html, "<dd data-value=\"4\">M = 4</dd>") != NULL);
    CHECK(strstr(html, "\xCE\xB5 = 0.1</dd>") != NULL);
    CHECK(strstr(html, "the joint loss CE + \xCE\xBB KL") != NULL);
    CHECK(strstr(html, "right-closed (lo, hi]") != NULL);

    /* escaping and one diagram per measured entry, ids unique */
    CHECK(strstr(html, "<h1>CIFAR-10 &lt;ResNet&gt; &amp; &quot;focal&quot;"
                       "</h1>") != NULL);
    CHECK(count(html, "<svg xmlns=") == 2);
    CHECK(count(html, "<figure") == 2);
    CHECK(strstr(html, "id=\"calib-svg0-hatch\"") != NULL);
    CHECK(strstr(html, "url(#calib-svg1-hatch)") != NULL);
    CHECK(strstr(html, "calib-svg-") == NULL);
    CHECK(count(html, "<title id=\"calib-svg") == 2);
    free(html);

    /* without options, entries or extra: still a page */
    report.options = NULL;
    report.extra_html = NULL;
    report.n_entries = 1;
    CHECK_STATUS(cli_write_report(path, &report, &err), CALIB_OK);
    html = slurp(path, &len);
    CHECK(html != NULL && strstr(html, "No calibrator was fitted") != NULL);
    CHECK(html != NULL && strstr(html, "No method was skipped") != NULL);
    CHECK(html != NULL && strstr(html, "id=\"extra\"") == NULL);
    free(html);

    /* metrics without bins: the page says so instead of a diagram */
    {
        calib_metrics nobins = after;
        nobins.n_bins = 0;
        nobins.bins = NULL;
        entries[1].test = &nobins;
        report.n_entries = 2;
        CHECK_STATUS(cli_write_report(path, &report, &err), CALIB_OK);
        html = slurp(path, &len);
        CHECK(html != NULL && strstr(html, "<p>No diagram: ") != NULL);
        CHECK(html != NULL && count(html, "<svg xmlns=") == 1);
        free(html);
        entries[1].test = &after;
        report.n_entries = 1;
        CHECK_STATUS(cli_write_report(path, &report, &err), CALIB_OK);
    }

    /* failures: bad arguments, allocation failures keep the old file */
    CHECK_STATUS(cli_write_report(NULL, &report, &err), CALIB_E_ARGUMENT);
    CHECK_STATUS(cli_write_report(path, NULL, &err), CALIB_E_ARGUMENT);
    {
        calib_allocator a = {t_malloc, t_realloc, t_free, NULL};
        size_t old_len = 0;
        char *old = slurp(path, &old_len);
        int nomem = 0;

        report.n_entries = 3;
        calib_set_allocator(&a);
        for (fail_at = 0; fail_at < 4; fail_at++) {
            alloc_calls = 0;
            if (cli_write_report(path, &report, &err) == CALIB_E_NOMEM)
                nomem++;
        }
        calib_set_allocator(NULL);
        CHECK(nomem == 4);
        html = slurp(path, &len);
        CHECK(old != NULL && html != NULL && len == old_len &&
              memcmp(html, old, len) == 0);
        free(html);
        free(old);
    }
    snprintf(path, sizeof path, "%s/missing/report.html", dir);
    CHECK(cli_write_report(path, &report, &err) != CALIB_OK);
    CHECK(access(path, F_OK) != 0);

    snprintf(path, sizeof path, "%s/report.html", dir);
    unlink(path);
    rmdir(dir);
    return check_done("test_report");
}
