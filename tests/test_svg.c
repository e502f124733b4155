/*
 * test_svg.c - reliability diagrams: bars, gaps, histogram and legend
 * carry the metrics' own numbers; titles are escaped; pair mode; errors
 * and allocation failures.
 *
 * With an argument DIR, also writes the diagrams it draws to DIR as .svg files
 * for tests/cli/plot_svg_xml.sh to check with an XML parser.
 */
#include "check.h"
#include "calib.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_SIZE 360.0

/* Five equal-width bins with two empty ones and high-entropy values. */
static calib_bin five_bins[5] = {
    {0.0, 0.2, 0, 0.0, 0.0},
    {0.2, 0.4, 3, 0.3185, 1.0 / 3.0},
    {0.4, 0.6, 10, 0.5471, 0.7},
    {0.6, 0.8, 0, 0.0, 0.0},
    {0.8, 1.0, 7, 0.9023, 6.0 / 7.0},
};

static void fill_metrics(calib_metrics *m, calib_bin *bins, size_t n_bins)
{
    double ece = 0.0, mce = 0.0;
    uint64_t n = 0;

    memset(m, 0, sizeof *m);
    calib_eval_options_default(&m->options);
    for (size_t i = 0; i < n_bins; i++) {
        double gap = fabs(bins[i].confidence - bins[i].accuracy);
        n += bins[i].count;
        ece += (double)bins[i].count * gap;
        if (bins[i].count > 0 && gap > mce)
            mce = gap;
    }
    m->n = (size_t)n;
    m->classes = 10;
    m->ece = ece / (double)n;
    m->mce = mce;
    m->n_bins = n_bins;
    m->bins = bins;
}

/* The value of attribute `name` inside the tag starting at `tag`, as a
 * double; NAN if absent. */
static double attr(const char *tag, const char *name)
{
    const char *end = strchr(tag, '>');
    char key[64];
    const char *p;

    snprintf(key, sizeof key, " %s=\"", name);
    p = strstr(tag, key);
    if (p == NULL || end == NULL || p > end)
        return NAN;
    return strtod(p + strlen(key), NULL);
}

static size_t count(const char *hay, const char *needle)
{
    size_t k = 0;
    for (const char *p = strstr(hay, needle); p != NULL;
         p = strstr(p + 1, needle))
        k++;
    return k;
}

static const char *write_dir;

static void save(const char *name, const char *svg)
{
    char path[1024];
    FILE *f;

    if (write_dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/%s", write_dir, name);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs(svg, f);
    fclose(f);
}

static void test_bars_and_legend(void)
{
    calib_metrics m;
    calib_error err;
    char *svg = NULL;
    char want[64];
    size_t bars = 0, gaps = 0, hists = 0;

    fill_metrics(&m, five_bins, 5);
    CHECK_STATUS(calib_svg_reliability(&m, "synthetic", NULL, NULL, &svg,
                                       &err), CALIB_OK);
    if (svg == NULL)
        return;
    save("single.svg", svg);

    CHECK(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" ",
                  strlen("<svg xmlns=\"http://www.w3.org/2000/svg\" ")) == 0);
    CHECK(strstr(svg, "viewBox=\"0 0 480 ") != NULL);
    CHECK(strstr(svg, " width=\"480\"") != NULL);
    CHECK(svg[strlen(svg) - 1] == '\n');
    CHECK(strstr(svg, "</svg>\n") != NULL);
    CHECK(strstr(svg, ">Confidence</text>") != NULL);
    CHECK(strstr(svg, ">Accuracy</text>") != NULL);
    CHECK(strstr(svg, ">Count</text>") != NULL);
    CHECK(strstr(svg, "stroke-dasharray") != NULL);
    CHECK(count(svg, "class=\"panel\"") == 1);

    /* one bar per non-empty bin, in order, with the bin's numbers */
    for (const char *p = strstr(svg, "<rect class=\"bar\""); p != NULL;
         p = strstr(p + 1, "<rect class=\"bar\"")) {
        double bin = attr(p, "data-bin");
        size_t i = (size_t)bin;
        const calib_bin *b = &five_bins[i];

        CHECK(bin == 1.0 || bin == 2.0 || bin == 4.0);
        CHECK(attr(p, "data-accuracy") == b->accuracy);
        CHECK(attr(p, "data-confidence") == b->confidence);
        CHECK(attr(p, "data-count") == (double)b->count);
        CHECK(attr(p, "data-lo") == b->lo);
        CHECK(attr(p, "data-hi") == b->hi);
        /* geometry: height and top follow the accuracy on a 360 px axis */
        CHECK_NEAR(attr(p, "height"), PLOT_SIZE * b->accuracy, 1e-3);
        CHECK_NEAR(attr(p, "y") + attr(p, "height"), 70.0 + PLOT_SIZE,
                   2e-3);
        CHECK_NEAR(attr(p, "width"), PLOT_SIZE * (b->hi - b->lo), 1e-3);
        bars++;
    }
    CHECK(bars == 3);

    /* gaps span |confidence - accuracy| and end on the diagonal */
    for (const char *p = strstr(svg, "<rect class=\"gap\""); p != NULL;
         p = strstr(p + 1, "<rect class=\"gap\"")) {
        const calib_bin *b = &five_bins[(size_t)attr(p, "data-bin")];
        double top = fmax(b->confidence, b->accuracy);

        CHECK(attr(p, "data-gap") == b->confidence - b->accuracy);
        CHECK_NEAR(attr(p, "height"),
                   PLOT_SIZE * fabs(b->confidence - b->accuracy), 1e-3);
        CHECK_NEAR(attr(p, "y"), 70.0 + PLOT_SIZE * (1.0 - top), 1e-3);
        gaps++;
    }
    CHECK(gaps == 3);

    /* histogram: the tallest column is the largest count */
    for (const char *p = strstr(svg, "<rect class=\"hist\""); p != NULL;
         p = strstr(p + 1, "<rect class=\"hist\"")) {
        const calib_bin *b = &five_bins[(size_t)attr(p, "data-bin")];

        CHECK(attr(p, "data-count") == (double)b->count);
        CHECK_NEAR(attr(p, "height"),
                   fmax(100.0 * (double)b->count / 10.0, 1.5), 1e-3);
        hists++;
    }
    CHECK(hists == 3);

    /* legend: 4 decimals on screen, the exact value in data-value */
    snprintf(want, sizeof want, "ECE = %.4f</text>", m.ece);
    CHECK(strstr(svg, want) != NULL);
    snprintf(want, sizeof want, "MCE = %.4f</text>", m.mce);
    CHECK(strstr(svg, want) != NULL);
    CHECK(strstr(svg, ">N = 20</text>") != NULL);
    CHECK(strstr(svg, ">5 equal-width bins, (lo, hi]</text>") != NULL);
    CHECK(attr(strstr(svg, "data-name=\"ece\"") - 1, "data-value") ==
          m.ece);
    CHECK(attr(strstr(svg, "data-name=\"mce\"") - 1, "data-value") ==
          m.mce);
    CHECK(attr(strstr(svg, "data-name=\"n\"") - 1, "data-value") == 20.0);
    CHECK(attr(strstr(svg, "<g class=\"panel\""), "data-ece") == m.ece);
    CHECK_NEAR(m.ece, (3 * fabs(0.3185 - 1.0 / 3.0) + 10 * fabs(0.5471 - 0.7)
                       + 7 * fabs(0.9023 - 6.0 / 7.0)) / 20.0, 1e-15);
    calib_free(svg);
}

static void test_escaping(void)
{
    calib_metrics m;
    char *svg = NULL;

    fill_metrics(&m, five_bins, 5);
    CHECK_STATUS(calib_svg_reliability(&m, "a&b <c> \"d\" 'e' \x01\xff.npy",
                                       NULL, NULL, &svg, NULL), CALIB_OK);
    if (svg == NULL)
        return;
    save("escaped.svg", svg);
    CHECK(strstr(svg, "a&amp;b &lt;c&gt; &quot;d&quot; &#39;e&#39; "
                      "\xEF\xBF\xBD\xEF\xBF\xBD.npy") != NULL);
    CHECK(strstr(svg, "<c>") == NULL);
    CHECK(strstr(svg, "\"d\"") == NULL);
    CHECK(strchr(svg, '\x01') == NULL);
    CHECK(strchr(svg, '\xff') == NULL);
    calib_free(svg);

    /* a long title is shortened on screen but kept whole in <title> */
    CHECK_STATUS(calib_svg_reliability(
                     &m, "results/very/long/path/to/a/file/of/predictions/"
                         "from/somewhere/test_logits.npy",
                     NULL, NULL, &svg, NULL), CALIB_OK);
    if (svg == NULL)
        return;
    CHECK(strstr(svg, ">results/very/long/path/to/a/file/of/predictions/"
                      "from/somewhere/test_logits.npy</title>") != NULL);
    CHECK(strstr(svg, "</title>\xE2\x80\xA6") != NULL);
    CHECK(strstr(svg, "/from/somewhere/test_logits.npy</text>") != NULL);
    CHECK(strstr(svg, "results/very/long/path/to/a/file/of/predictions/"
                      "from/somewhere/test_logits.npy</text>") == NULL);
    calib_free(svg);

    /* shortened by characters, not bytes: 60 two-byte letters keep 39 */
    {
        char title[128], shown[128];
        for (int i = 0; i < 60; i++)
            memcpy(title + 2 * i, "\xC3\xA9", 2);
        title[120] = '\0';
        memcpy(shown, "</title>\xE2\x80\xA6", 11);
        memcpy(shown + 11, title, 78);
        memcpy(shown + 89, "</text>", 8);
        CHECK_STATUS(calib_svg_reliability(&m, title, NULL, NULL, &svg,
                                           NULL), CALIB_OK);
        if (svg == NULL)
            return;
        save("utf8.svg", svg);
        CHECK(strstr(svg, shown) != NULL);
        calib_free(svg);
    }
}

static void test_pair(void)
{
    calib_bin after_bins[4] = {
        {0.0, 0.25, 2, 0.2, 0.5},
        {0.25, 0.5, 0, 0.0, 0.0},
        {0.5, 0.75, 5, 0.61, 0.6},
        {0.75, 1.0, 13, 0.87, 0.8461538461538461},
    };
    calib_metrics before, after;
    char *svg = NULL;
    const char *p;
    char want[64];

    fill_metrics(&before, five_bins, 5);
    fill_metrics(&after, after_bins, 4);
    after.options.scheme = CALIB_SCHEME_MASS;
    after.options.bin_rule = CALIB_BIN_LEFT;
    CHECK_STATUS(calib_svg_reliability(&before, "before.npy", &after,
                                       "after: temperature", &svg, NULL),
                 CALIB_OK);
    if (svg == NULL)
        return;
    save("pair.svg", svg);
    CHECK(count(svg, "<g class=\"panel\"") == 2);
    CHECK(strstr(svg, "viewBox=\"0 0 960 ") != NULL);
    p = strstr(svg, "data-panel=\"before\"");
    CHECK(p != NULL);
    p = strstr(svg, "data-panel=\"after\"");
    CHECK(p != NULL);
    if (p == NULL) {
        calib_free(svg);
        return;
    }
    /* the second panel holds the second metrics: 3 bars, its ECE */
    CHECK(count(p, "<rect class=\"bar\"") == 3);
    CHECK(count(svg, "<rect class=\"bar\"") == 6);
    snprintf(want, sizeof want, "ECE = %.4f</text>", after.ece);
    CHECK(strstr(p, want) != NULL);
    CHECK(strstr(p, ">4 equal-mass bins, [lo, hi)</text>") != NULL);
    CHECK(strstr(p, "translate(480.0 0)") != NULL);
    CHECK(strstr(svg, ">after: temperature</text>") != NULL);
    calib_free(svg);
}

static void test_binary(void)
{
    calib_bin bins[2] = {
        {0.0, 0.5, 4, 0.25, 0.5},
        {0.5, 1.0, 6, 0.8, 2.0 / 3.0},
    };
    calib_metrics m;
    char *svg = NULL;

    fill_metrics(&m, bins, 2);
    m.binary = 1;
    m.classes = 2;
    CHECK_STATUS(calib_svg_reliability(&m, NULL, NULL, NULL, &svg, NULL),
                 CALIB_OK);
    if (svg == NULL)
        return;
    save("binary.svg", svg);
    CHECK(strstr(svg, ">binary: p against y</text>") != NULL);
    CHECK(strstr(svg, ">Accuracy (fraction positive)</text>") != NULL);
    CHECK(count(svg, "<rect class=\"bar\"") == 2);
    calib_free(svg);

    m.top_label = 1;
    CHECK_STATUS(calib_svg_reliability(&m, NULL, NULL, NULL, &svg, NULL),
                 CALIB_OK);
    if (svg == NULL)
        return;
    CHECK(strstr(svg, ">binary, top label</text>") != NULL);
    calib_free(svg);
}

static void test_errors(void)
{
    calib_metrics m, bad;
    calib_error err;
    char *svg = (char *)&m;

    fill_metrics(&m, five_bins, 5);
    bad = m;
    bad.n_bins = 0;
    CHECK_STATUS(calib_svg_reliability(&bad, "x", NULL, NULL, &svg, &err),
                 CALIB_E_ARGUMENT);
    CHECK(svg == (char *)&m);
    CHECK(strstr(err.message, "no bins") != NULL);
    CHECK_STATUS(calib_svg_reliability(&m, "x", &bad, "y", &svg, &err),
                 CALIB_E_ARGUMENT);
    CHECK(strstr(err.message, "second") != NULL);
    CHECK_STATUS(calib_svg_reliability(NULL, "x", NULL, NULL, &svg, &err),
                 CALIB_E_ARGUMENT);
    CHECK_STATUS(calib_svg_reliability(&m, "x", NULL, NULL, NULL, &err),
                 CALIB_E_ARGUMENT);
    CHECK(svg == (char *)&m);
}

/* An allocator that fails from the fail_at-th call on and counts what is
 * still allocated. */
static long alloc_calls, fail_at, live;

static void *t_malloc(void *ctx, size_t size)
{
    (void)ctx;
    if (alloc_calls++ >= fail_at)
        return NULL;
    live++;
    return malloc(size);
}

static void *t_realloc(void *ctx, void *ptr, size_t old, size_t size)
{
    void *q;
    (void)ctx;
    (void)old;
    if (alloc_calls++ >= fail_at)
        return NULL;
    q = realloc(ptr, size);
    if (q != NULL && ptr == NULL)
        live++;
    return q;
}

static void t_free(void *ctx, void *ptr)
{
    (void)ctx;
    if (ptr != NULL)
        live--;
    free(ptr);
}

static void test_nomem(void)
{
    calib_allocator a = {t_malloc, t_realloc, t_free, NULL};
    calib_metrics m;
    calib_bin many[200];
    calib_error err;
    int done = 0;

    /* enough bins that the buffer must grow several times */
    for (size_t i = 0; i < 200; i++) {
        many[i].lo = (double)i / 200.0;
        many[i].hi = (double)(i + 1) / 200.0;
        many[i].count = i % 3 == 0 ? 0 : i + 1;
        many[i].confidence = ((double)i + 0.5) / 200.0;
        many[i].accuracy = fmod((double)i * 0.618, 1.0);
    }
    fill_metrics(&m, many, 200);
    calib_set_allocator(&a);
    for (fail_at = 0; fail_at < 100 && !done; fail_at++) {
        char *svg = NULL;
        calib_status st;

        alloc_calls = 0;
        live = 0;
        st = calib_svg_reliability(&m, "t", &m, "u", &svg, &err);
        if (st == CALIB_OK) {
            done = 1;
            CHECK(fail_at > 2);
            CHECK(live == 1);
            calib_free(svg);
        } else {
            CHECK_STATUS(st, CALIB_E_NOMEM);
            CHECK(svg == NULL);
        }
        CHECK(live == 0);
    }
    calib_set_allocator(NULL);
    CHECK(done);
}

int main(int argc, char **argv)
{
    write_dir = argc > 1 ? argv[1] : NULL;
    test_bars_and_legend();
    test_escaping();
    test_pair();
    test_binary();
    test_errors();
    test_nomem();
    return check_done("test_svg");
}
