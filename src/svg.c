/*
 * svg.c - reliability diagrams drawn as standalone SVG.
 *
 * A reliability diagram (DeGroot and Fienberg 1983; Niculescu-Mizil and
 * Caruana 2005; Guo et al. 2017, fig. 1) plots, for each confidence bin,
 * the fraction of correct predictions (the bin's accuracy) against the
 * diagonal of perfect calibration. Here each non-empty bin is a bar from 0
 * to its accuracy spanning [lo, hi] of the bin; the gap between the bar
 * top and the diagonal evaluated at the bin's mean confidence is a hatched,
 * outlined region, so |confidence - accuracy| is what the ECE averages and
 * the tallest gap is the MCE. Beneath, a histogram of the bin counts on
 * the same confidence axis. Empty bins draw nothing.
 *
 * Conventions: the picture has a natural size equal to its viewBox, text
 * is at least 12 px at that size, and the series are told apart by shape
 * and texture as well as hue (Okabe-Ito blue bars, hatched vermillion
 * gaps, a dashed black diagonal, grey counts), so a grey-scale print or a
 * colour-blind reader loses nothing. Every number is the metrics' own:
 * bars and histogram columns carry data-* attributes and a <title> with
 * the values at 17 significant digits, the legend prints ECE and MCE with
 * 4 decimals and keeps the full value in data-value. Titles are escaped
 * for XML, invalid UTF-8 and control characters become U+FFFD, and long
 * titles are shortened on screen from the left, keeping the file name
 * (the full text stays in <title>). A non-empty bin's count column is at
 * least 1.5 px high so that a small bin next to a huge one stays visible.
 * The output has no XML declaration so that it can be inlined in HTML.
 * Every element id starts with "calib-svg-" so that a page holding several
 * diagrams can rename them.
 */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Panel geometry in px; the plot is a square so the diagonal is at 45
 * degrees. Margins leave room for 5-digit counts and rotated labels. */
#define PANEL_W 480.0
#define PANEL_H 730.0
#define PLOT_X 90.0
#define PLOT_Y 70.0
#define PLOT_SIZE 360.0
#define HIST_Y 450.0
#define HIST_H 100.0
#define LEGEND_Y 625.0
#define LINE_STEP 20.0

/* The least height of a non-empty count column, in px. */
#define MIN_COLUMN_H 1.5

/* Title characters shown on screen: at 16 px bold, about 10 px each, 40
 * fit in the panel when centred over the plot. */
#define TITLE_MAX_CHARS 40

/* Okabe and Ito (2008) colour-blind-safe palette. */
#define COLOR_BAR "#0072B2"
#define COLOR_GAP "#D55E00"
#define COLOR_HIST "#8C8C8C"

/* A growing NUL-terminated string; `failed` latches the first error. */
typedef struct strbuf {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} strbuf;

/* Makes room for `extra` more bytes plus the NUL; 0 on success. */
static int sb_reserve(strbuf *sb, size_t extra)
{
    size_t need, cap;
    char *p;

    if (sb->failed)
        return -1;
    if (extra > SIZE_MAX - sb->len - 1) {
        sb->failed = 1;
        return -1;
    }
    need = sb->len + extra + 1;
    if (need <= sb->cap)
        return 0;
    cap = sb->cap == 0 ? 4096 : sb->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = calib_realloc(sb->data, sb->cap, cap);
    if (p == NULL) {
        sb->failed = 1;
        return -1;
    }
    sb->data = p;
    sb->cap = cap;
    return 0;
}

static void sb_put(strbuf *sb, const char *s, size_t n)
{
    if (sb_reserve(sb, n) != 0)
        return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

static void sb_puts(strbuf *sb, const char *s)
{
    sb_put(sb, s, strlen(s));
}

static void sb_printf(strbuf *sb, const char *fmt, ...) CALIB_PRINTF(2, 3);

static void sb_printf(strbuf *sb, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        sb_put(sb, small, (size_t)n);
        return;
    }
    if (sb_reserve(sb, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (at most `left` bytes), or 0
 * if it is invalid (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_length(const unsigned char *s, size_t left)
{
    size_t n;
    unsigned long cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        cp = s[0] & 0x1Fu;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        cp = s[0] & 0x0Fu;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0u) != 0x80u)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return n;
}

/* Characters in text, an invalid byte counting as one (as sb_escape
 * writes it). */
static size_t utf8_chars(const unsigned char *s, size_t left)
{
    size_t chars = 0;

    while (left > 0) {
        size_t n = utf8_length(s, left);
        n = n == 0 ? 1 : n;
        s += n;
        left -= n;
        chars++;
    }
    return chars;
}

/*
 * Appends text escaped for XML character data and attribute values.
 * Characters XML 1.0 forbids and bytes that are not UTF-8 become U+FFFD.
 * With max_chars > 0 and a longer text, keeps its last max_chars - 1
 * characters after a leading ellipsis: the end of a path names the file.
 */
static void sb_escape(strbuf *sb, const char *text, size_t max_chars)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t left = strlen(text), chars = utf8_chars(s, left);

    if (max_chars > 1 && chars > max_chars) {
        for (size_t skip = chars - max_chars + 1; skip > 0; skip--) {
            size_t n = utf8_length(s, left);
            n = n == 0 ? 1 : n;
            s += n;
            left -= n;
        }
        sb_puts(sb, "\xE2\x80\xA6");
    }
    while (left > 0) {
        size_t n = utf8_length(s, left);

        if (n == 0) {
            sb_puts(sb, "\xEF\xBF\xBD");
            s++;
            left--;
            continue;
        }
        if (n == 1) {
            switch (s[0]) {
            case '&': sb_puts(sb, "&amp;"); break;
            case '<': sb_puts(sb, "&lt;"); break;
            case '>': sb_puts(sb, "&gt;"); break;
            case '"': sb_puts(sb, "&quot;"); break;
            case '\'': sb_puts(sb, "&#39;"); break;
            default:
                if ((s[0] < 0x20 && s[0] != '\t' && s[0] != '\n' &&
                     s[0] != '\r') || s[0] == 0x7F)
                    sb_puts(sb, "\xEF\xBF\xBD");
                else
                    sb_put(sb, (const char *)s, 1);
            }
        } else if (n == 3 && s[0] == 0xEF && s[1] == 0xBF &&
                   (s[2] == 0xBE || s[2] == 0xBF)) {
            /* U+FFFE and U+FFFF are not XML characters */
            sb_puts(sb, "\xEF\xBF\xBD");
        } else {
            sb_put(sb, (const char *)s, n);
        }
        s += n;
        left -= n;
    }
}

/* A number for the legend: 4 decimals, or a word when not finite. */
static void sb_fixed4(strbuf *sb, double x)
{
    if (isnan(x))
        sb_puts(sb, "n/a");
    else if (isinf(x))
        sb_puts(sb, x > 0 ? "inf" : "-inf");
    else
        sb_printf(sb, "%.4f", x);
}

/* A number that reads back to the same double; NaN and infinities as
 * words, for data-* attributes. */
static void sb_exact(strbuf *sb, double x)
{
    if (isnan(x))
        sb_puts(sb, "nan");
    else if (isinf(x))
        sb_puts(sb, x > 0 ? "inf" : "-inf");
    else
        sb_printf(sb, "%.17g", x);
}

static double clamp01(double x)
{
    if (!(x >= 0.0))
        return 0.0;
    return x > 1.0 ? 1.0 : x;
}

static double x_of(double p)
{
    return PLOT_X + PLOT_SIZE * clamp01(p);
}

static double y_of(double p)
{
    return PLOT_Y + PLOT_SIZE * (1.0 - clamp01(p));
}

/* A step of the form 1, 2 or 5 times a power of ten giving about
 * `target` intervals over [0, top]. */
static double nice_step(double top, double target)
{
    double raw = top / target, mag, f;

    if (!(raw > 0.0))
        return 1.0;
    mag = pow(10.0, floor(log10(raw)));
    f = raw / mag;
    if (f <= 1.0)
        f = 1.0;
    else if (f <= 2.0)
        f = 2.0;
    else if (f <= 5.0)
        f = 5.0;
    else
        f = 10.0;
    return fmax(1.0, f * mag);
}

/* The definitions every panel uses: the gap hatch and the clip path. */
static void put_defs(strbuf *sb)
{
    sb_puts(sb, "<defs>\n"
            "<pattern id=\"calib-svg-hatch\" patternUnits=\"userSpaceOnUse\""
            " width=\"8\" height=\"8\" patternTransform=\"rotate(45)\">"
            "<rect width=\"8\" height=\"8\" fill=\"#ffffff\""
            " fill-opacity=\"0.55\"/>"
            "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"" COLOR_GAP
            "\" stroke-width=\"3\"/></pattern>\n"
            "</defs>\n");
}

static void put_text(strbuf *sb, double x, double y, const char *anchor,
                     int size, const char *extra, const char *text)
{
    sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\""
              " font-size=\"%d\"%s>", x, y, anchor, size, extra);
    sb_escape(sb, text, 0);
    sb_puts(sb, "</text>\n");
}

/* Grid, frame, ticks and axis labels of the reliability plot and the
 * histogram; returns nothing, draws beneath the data. */
static void put_axes(strbuf *sb, const calib_metrics *m, double max_count,
                     double count_step)
{
    const char *y_label = m->binary && !m->top_label
                              ? "Accuracy (fraction positive)"
                              : "Accuracy";
    char label[64];

    /* grid and ticks at 0, 0.2, ..., 1 on both axes */
    sb_puts(sb, "<g class=\"grid\" stroke=\"#d9d9d9\" stroke-width=\"1\">\n");
    for (int i = 1; i < 5; i++) {
        double v = 0.2 * i;
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\""
                  " y2=\"%.1f\"/>\n", x_of(v), PLOT_Y, x_of(v),
                  PLOT_Y + PLOT_SIZE);
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\""
                  " y2=\"%.1f\"/>\n", PLOT_X, y_of(v), PLOT_X + PLOT_SIZE,
                  y_of(v));
    }
    sb_puts(sb, "</g>\n");

    sb_puts(sb, "<g class=\"ticks\" font-size=\"13\" fill=\"#000000\">\n");
    for (int i = 0; i <= 5; i++) {
        double v = 0.2 * i;
        snprintf(label, sizeof label, "%.1f", v);
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
                  " stroke=\"#000000\"/>\n", PLOT_X - 5.0, y_of(v), PLOT_X,
                  y_of(v));
        put_text(sb, PLOT_X - 8.0, y_of(v) + 4.5, "end", 13, "", label);
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
                  " stroke=\"#000000\"/>\n", x_of(v), PLOT_Y + PLOT_SIZE,
                  x_of(v), PLOT_Y + PLOT_SIZE + 5.0);
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
                  " stroke=\"#000000\"/>\n", x_of(v), HIST_Y + HIST_H,
                  x_of(v), HIST_Y + HIST_H + 5.0);
        put_text(sb, x_of(v), HIST_Y + HIST_H + 20.0, "middle", 13, "",
                 label);
    }

    /* count ticks: multiples of a 1-2-5 step up to the largest count */
    for (double c = 0.0; max_count > 0.0 && c <= max_count;
         c += count_step) {
        double y = HIST_Y + HIST_H * (1.0 - c / max_count);
        snprintf(label, sizeof label, "%.0f", c);
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
                  " stroke=\"#000000\"/>\n", PLOT_X - 5.0, y, PLOT_X, y);
        put_text(sb, PLOT_X - 8.0, y + 4.5, "end", 13, "", label);
    }
    sb_puts(sb, "</g>\n");

    /* frames */
    sb_printf(sb, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
              " height=\"%.1f\" fill=\"none\" stroke=\"#000000\"/>\n",
              PLOT_X, PLOT_Y, PLOT_SIZE, PLOT_SIZE);
    sb_printf(sb, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
              " height=\"%.1f\" fill=\"none\" stroke=\"#000000\"/>\n",
              PLOT_X, HIST_Y, PLOT_SIZE, HIST_H);

    /* axis labels */
    put_text(sb, PLOT_X + PLOT_SIZE / 2.0, HIST_Y + HIST_H + 42.0, "middle",
             14, " class=\"axis-label\"", "Confidence");
    snprintf(label, sizeof label, " class=\"axis-label\" transform=\"rotate("
             "-90 %.1f %.1f)\"", 28.0, PLOT_Y + PLOT_SIZE / 2.0);
    put_text(sb, 28.0, PLOT_Y + PLOT_SIZE / 2.0, "middle", 14, label,
             y_label);
    snprintf(label, sizeof label, " class=\"axis-label\" transform=\"rotate("
             "-90 %.1f %.1f)\"", 28.0, HIST_Y + HIST_H / 2.0);
    put_text(sb, 28.0, HIST_Y + HIST_H / 2.0, "middle", 14, label, "Count");
}

/* One bar, its gap region and its histogram column. */
static void put_bin(strbuf *sb, const calib_bin *b, size_t index,
                    double max_count)
{
    double x0 = x_of(b->lo), x1 = x_of(b->hi);
    double acc = clamp01(b->accuracy), conf = clamp01(b->confidence);
    double w = fmax(x1 - x0, 0.5);
    double top = fmax(acc, conf), bottom = fmin(acc, conf);
    double h;

    /* accuracy bar */
    sb_printf(sb, "<rect class=\"bar\" data-bin=\"%zu\" data-lo=\"", index);
    sb_exact(sb, b->lo);
    sb_puts(sb, "\" data-hi=\"");
    sb_exact(sb, b->hi);
    sb_printf(sb, "\" data-count=\"%llu\" data-confidence=\"",
              (unsigned long long)b->count);
    sb_exact(sb, b->confidence);
    sb_puts(sb, "\" data-accuracy=\"");
    sb_exact(sb, b->accuracy);
    sb_printf(sb, "\" x=\"%.3f\" y=\"%.3f\" width=\"%.3f\" height=\"%.3f\""
              " fill=\"" COLOR_BAR "\" stroke=\"#ffffff\""
              " stroke-width=\"0.75\"><title>",
              x0, y_of(acc), w, PLOT_SIZE * acc);
    sb_printf(sb, "bin %zu: confidence in [", index);
    sb_exact(sb, b->lo);
    sb_puts(sb, ", ");
    sb_exact(sb, b->hi);
    sb_printf(sb, "], %llu samples, mean confidence ",
              (unsigned long long)b->count);
    sb_exact(sb, b->confidence);
    sb_puts(sb, ", accuracy ");
    sb_exact(sb, b->accuracy);
    sb_puts(sb, "</title></rect>\n");

    /* gap between the bar top and the diagonal at the mean confidence */
    h = PLOT_SIZE * (top - bottom);
    sb_printf(sb, "<rect class=\"gap\" data-bin=\"%zu\" data-gap=\"", index);
    sb_exact(sb, b->confidence - b->accuracy);
    sb_printf(sb, "\" x=\"%.3f\" y=\"%.3f\" width=\"%.3f\" height=\"%.3f\""
              " fill=\"url(#calib-svg-hatch)\" stroke=\"" COLOR_GAP "\""
              " stroke-width=\"1.5\"><title>bin %zu: confidence - accuracy = ",
              x0, y_of(top), w, h, index);
    sb_exact(sb, b->confidence - b->accuracy);
    sb_puts(sb, "</title></rect>\n");

    /* the bar's top drawn over the hatch: when the bin is underconfident
     * the gap lies inside the bar and this line says where the bar ends */
    sb_printf(sb, "<line class=\"bar-top\" x1=\"%.3f\" y1=\"%.3f\""
              " x2=\"%.3f\" y2=\"%.3f\" stroke=\"#000000\""
              " stroke-width=\"2\"/>\n", x0, y_of(acc), x0 + w, y_of(acc));

    /* histogram column */
    h = max_count > 0.0 ? HIST_H * ((double)b->count / max_count) : 0.0;
    h = fmax(h, MIN_COLUMN_H);
    sb_printf(sb, "<rect class=\"hist\" data-bin=\"%zu\" data-count=\"%llu\""
              " x=\"%.3f\" y=\"%.3f\" width=\"%.3f\" height=\"%.3f\""
              " fill=\"" COLOR_HIST "\" stroke=\"#ffffff\""
              " stroke-width=\"0.75\"><title>bin %zu: %llu samples</title>"
              "</rect>\n", index, (unsigned long long)b->count, x0,
              HIST_Y + HIST_H - h, w, h, index,
              (unsigned long long)b->count);
}

/* The key of the series on the left and the numbers on the right. */
static void put_legend(strbuf *sb, const calib_metrics *m)
{
    double y = LEGEND_Y, x2 = PLOT_X + 190.0;
    char line[128];

    sb_puts(sb, "<g class=\"legend\" font-size=\"13\">\n");
    sb_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"22\" height=\"13\""
              " fill=\"" COLOR_BAR "\"/>\n", PLOT_X, y - 11.0);
    sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
              " stroke=\"#000000\" stroke-width=\"2\"/>\n", PLOT_X,
              y - 11.0, PLOT_X + 22.0, y - 11.0);
    put_text(sb, PLOT_X + 30.0, y, "start", 13, "", "Accuracy of bin");
    y += LINE_STEP;
    sb_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"22\" height=\"13\""
              " fill=\"url(#calib-svg-hatch)\" stroke=\"" COLOR_GAP "\""
              " stroke-width=\"1.5\"/>\n", PLOT_X, y - 11.0);
    put_text(sb, PLOT_X + 30.0, y, "start", 13, "", "Gap to diagonal");
    y += LINE_STEP;
    sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
              " stroke=\"#000000\" stroke-width=\"2\""
              " stroke-dasharray=\"6 4\"/>\n", PLOT_X, y - 4.5,
              PLOT_X + 22.0, y - 4.5);
    put_text(sb, PLOT_X + 30.0, y, "start", 13, "", "Perfect calibration");
    y += LINE_STEP;
    sb_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"22\" height=\"13\""
              " fill=\"" COLOR_HIST "\"/>\n", PLOT_X, y - 11.0);
    put_text(sb, PLOT_X + 30.0, y, "start", 13, "", "Samples per bin");

    /* the numbers, full precision kept in data-value */
    y = LEGEND_Y;
    sb_puts(sb, "<text class=\"stat\" data-name=\"ece\" data-value=\"");
    sb_exact(sb, m->ece);
    sb_printf(sb, "\" x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">ECE = ",
              x2, y);
    sb_fixed4(sb, m->ece);
    sb_puts(sb, "</text>\n");
    y += LINE_STEP;
    sb_puts(sb, "<text class=\"stat\" data-name=\"mce\" data-value=\"");
    sb_exact(sb, m->mce);
    sb_printf(sb, "\" x=\"%.1f\" y=\"%.1f\">MCE = ", x2, y);
    sb_fixed4(sb, m->mce);
    sb_puts(sb, "</text>\n");
    y += LINE_STEP;
    sb_printf(sb, "<text class=\"stat\" data-name=\"n\" data-value=\"%zu\""
              " x=\"%.1f\" y=\"%.1f\">N = %zu</text>\n", m->n, x2, y, m->n);
    y += LINE_STEP;
    snprintf(line, sizeof line, "%zu %s bins, %s", m->n_bins,
             m->options.scheme == CALIB_SCHEME_MASS ? "equal-mass"
                                                    : "equal-width",
             m->options.bin_rule == CALIB_BIN_LEFT ? "[lo, hi)"
                                                   : "(lo, hi]");
    sb_printf(sb, "<text class=\"stat\" data-name=\"bins\""
              " data-value=\"%zu\" x=\"%.1f\" y=\"%.1f\">", m->n_bins, x2,
              y);
    sb_escape(sb, line, 0);
    sb_puts(sb, "</text>\n");
    y += LINE_STEP;
    if (m->binary && !m->top_label)
        snprintf(line, sizeof line, "binary: p against y");
    else if (m->binary)
        snprintf(line, sizeof line, "binary, top label");
    else if (m->classes > 0)
        snprintf(line, sizeof line, "top label, %zu classes", m->classes);
    else
        snprintf(line, sizeof line, "top label");
    put_text(sb, x2, y, "start", 13, " class=\"kind\"", line);
    sb_puts(sb, "</g>\n");
}

/* One panel: title, axes, bins, diagonal and legend, at offset dx. */
static void put_panel(strbuf *sb, const calib_metrics *m, const char *title,
                      const char *role, double dx)
{
    double max_count = 0.0, step;

    for (size_t i = 0; i < m->n_bins; i++)
        max_count = fmax(max_count, (double)m->bins[i].count);
    step = nice_step(max_count, 3.0);

    sb_printf(sb, "<g class=\"panel\" data-panel=\"%s\" data-ece=\"", role);
    sb_exact(sb, m->ece);
    sb_puts(sb, "\" data-mce=\"");
    sb_exact(sb, m->mce);
    sb_printf(sb, "\" data-n=\"%zu\" data-bins=\"%zu\""
              " transform=\"translate(%.1f 0)\">\n", m->n, m->n_bins, dx);
    sb_printf(sb, "<rect x=\"0\" y=\"0\" width=\"%.1f\" height=\"%.1f\""
              " fill=\"#ffffff\"/>\n", PANEL_W, PANEL_H);

    sb_printf(sb, "<text class=\"title\" x=\"%.1f\" y=\"%.1f\""
              " text-anchor=\"middle\" font-size=\"16\""
              " font-weight=\"bold\"><title>", PLOT_X + PLOT_SIZE / 2.0,
              PLOT_Y - 30.0);
    sb_escape(sb, title, 0);
    sb_puts(sb, "</title>");
    sb_escape(sb, title, TITLE_MAX_CHARS);
    sb_puts(sb, "</text>\n");

    put_axes(sb, m, max_count, step);

    sb_puts(sb, "<g class=\"bins\">\n");
    for (size_t i = 0; i < m->n_bins; i++)
        if (m->bins[i].count > 0)
            put_bin(sb, &m->bins[i], i, max_count);
    sb_puts(sb, "</g>\n");

    sb_printf(sb, "<line class=\"diagonal\" x1=\"%.1f\" y1=\"%.1f\""
              " x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\""
              " stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n",
              x_of(0.0), y_of(0.0), x_of(1.0), y_of(1.0));

    put_legend(sb, m);
    sb_puts(sb, "</g>\n");
}

static calib_status check_metrics(const calib_metrics *m, const char *what,
                                  calib_error *err)
{
    if (m->n_bins == 0 || m->bins == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "reliability diagram: the %smetrics have no "
                           "bins", what);
    return CALIB_OK;
}

calib_status calib_svg_reliability(const calib_metrics *m, const char *title,
                                   const calib_metrics *after,
                                   const char *after_title, char **svg,
                                   calib_error *err)
{
    strbuf sb = {NULL, 0, 0, 0};
    double width;
    calib_status st;

    if (m == NULL || svg == NULL)
        return calib_failf(err, CALIB_E_ARGUMENT,
                           "reliability diagram: no metrics or no output");
    st = check_metrics(m, after != NULL ? "first " : "", err);
    if (st == CALIB_OK && after != NULL)
        st = check_metrics(after, "second ", err);
    if (st != CALIB_OK)
        return st;
    if (title == NULL)
        title = after != NULL ? "Before calibration" : "Reliability diagram";
    if (after_title == NULL)
        after_title = "After calibration";
    width = after != NULL ? 2.0 * PANEL_W : PANEL_W;

    /* header, with an accessible name and description */
    sb_printf(&sb, "<svg xmlns=\"http://www.w3.org/2000/svg\""
              " width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\""
              " role=\"img\" aria-labelledby=\"calib-svg-title"
              " calib-svg-desc\" font-family=\"DejaVu Sans, Verdana,"
              " Arial, sans-serif\">\n", width, PANEL_H, width, PANEL_H);
    sb_puts(&sb, "<title id=\"calib-svg-title\">Reliability diagram: ");
    sb_escape(&sb, title, 0);
    if (after != NULL) {
        sb_puts(&sb, " (left) and ");
        sb_escape(&sb, after_title, 0);
        sb_puts(&sb, " (right)");
    }
    sb_puts(&sb, "</title>\n<desc id=\"calib-svg-desc\">Bars: accuracy per"
            " confidence bin; hatched: gap to the diagonal; beneath: samples"
            " per bin. ECE ");
    sb_fixed4(&sb, m->ece);
    sb_puts(&sb, ", MCE ");
    sb_fixed4(&sb, m->mce);
    sb_printf(&sb, ", N %zu", m->n);
    if (after != NULL) {
        sb_puts(&sb, "; after: ECE ");
        sb_fixed4(&sb, after->ece);
        sb_puts(&sb, ", MCE ");
        sb_fixed4(&sb, after->mce);
        sb_printf(&sb, ", N %zu", after->n);
    }
    sb_puts(&sb, ".</desc>\n");
    put_defs(&sb);

    put_panel(&sb, m, title, after != NULL ? "before" : "single", 0.0);
    if (after != NULL)
        put_panel(&sb, after, after_title, "after", PANEL_W);
    sb_puts(&sb, "</svg>\n");

    if (sb.failed) {
        calib_free(sb.data);
        return calib_failf(err, CALIB_E_NOMEM,
                           "reliability diagram: out of memory");
    }
    *svg = sb.data;
    return CALIB_OK;
}
