/*
 * report.c - the self-contained HTML report of `calib run --report`.
 *
 * One file that reads offline with no script and no external resource:
 * inline CSS, inline SVG reliability diagrams (calib_svg_reliability) and
 * every metric and loss written in MathML (MathML Core, rendered natively
 * by current Chromium and Firefox). Sections: inputs, the metrics table
 * on the test split (one row per entry), fit diagnostics, skipped methods
 * with their reasons, a reliability diagram per entry, the conventions
 * used, the caller's extra section (trusted HTML, e.g. the lambda
 * trade-off table), and the formulas. The markup is also well-formed XML
 * (void elements closed, only XML's five named entities) so that it can
 * be checked with an XML parser as well as an HTML one.
 * Numbers show 4 decimals; each table cell keeps the exact double in a
 * data-value attribute (17 significant digits) so that a program can
 * compare them with `calib eval --format json`. The SVGs' element ids are
 * renamed per diagram so that ids stay unique in the page.
 * Formulas: Guo et al. 2017 (ECE, MCE, temperature scaling), Nixon et al.
 * 2019 (equal-mass binning), Kull et al. 2019 (classwise ECE), Brier 1950,
 * Szegedy et al. 2016 (smoothed targets), Lin et al. 2017 and Mukhoti et
 * al. 2020 (focal losses), Kumar et al. 2018 (MMCE), Karandikar et al.
 * 2021 (soft-binned ECE).
 */
#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A growing NUL-terminated string; `failed` latches the first error. */
typedef struct html_buf {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} html_buf;

static void hb_put(html_buf *hb, const char *s, size_t n)
{
    if (hb->failed)
        return;
    if (n > SIZE_MAX - hb->len - 1) {
        hb->failed = 1;
        return;
    }
    if (hb->len + n + 1 > hb->cap) {
        size_t cap = hb->cap == 0 ? 65536 : hb->cap;
        char *p;
        while (cap < hb->len + n + 1)
            cap = cap > SIZE_MAX / 2 ? hb->len + n + 1 : cap * 2;
        p = calib_realloc(hb->data, hb->cap, cap);
        if (p == NULL) {
            hb->failed = 1;
            return;
        }
        hb->data = p;
        hb->cap = cap;
    }
    memcpy(hb->data + hb->len, s, n);
    hb->len += n;
    hb->data[hb->len] = '\0';
}

static void hb_puts(html_buf *hb, const char *s)
{
    hb_put(hb, s, strlen(s));
}

static void hb_printf(html_buf *hb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void hb_printf(html_buf *hb, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof small) {
        hb->failed = 1; /* every caller formats short numbers and words */
        return;
    }
    hb_put(hb, small, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s, or 0 if invalid. */
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
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF ||
        cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return n;
}

/* Text escaped for HTML and XML content and attributes; invalid UTF-8
 * and control characters become U+FFFD. NULL prints nothing. */
static void hb_escape(html_buf *hb, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t left = text != NULL ? strlen(text) : 0;

    while (left > 0) {
        size_t n = utf8_length(s, left);
        if (n == 0) {
            hb_puts(hb, "\xEF\xBF\xBD");
            s++;
            left--;
            continue;
        }
        if (n == 1) {
            switch (s[0]) {
            case '&': hb_puts(hb, "&amp;"); break;
            case '<': hb_puts(hb, "&lt;"); break;
            case '>': hb_puts(hb, "&gt;"); break;
            case '"': hb_puts(hb, "&quot;"); break;
            case '\'': hb_puts(hb, "&#39;"); break;
            default:
                if ((s[0] < 0x20 && s[0] != '\t' && s[0] != '\n' &&
                     s[0] != '\r') || s[0] == 0x7F)
                    hb_puts(hb, "\xEF\xBF\xBD");
                else
                    hb_put(hb, (const char *)s, 1);
            }
        } else {
            hb_put(hb, (const char *)s, n);
        }
        s += n;
        left -= n;
    }
}

/* A table cell with 4 decimals on screen and the exact value kept. */
static void hb_cell(html_buf *hb, double x, int best)
{
    const char *open = best ? "<strong>" : "", *close = best ? "</strong>"
                                                             : "";
    if (isnan(x)) {
        hb_puts(hb, "<td data-value=\"nan\"><abbr title=\"not available "
                "from this input\">n/a</abbr></td>");
        return;
    }
    if (isinf(x)) {
        hb_printf(hb, "<td data-value=\"%s\">%s%s\xE2\x88\x9E%s</td>",
                  x > 0 ? "inf" : "-inf", open, x > 0 ? "" : "\xE2\x88\x92",
                  close);
        return;
    }
    hb_printf(hb, "<td data-value=\"%.17g\">%s%.4f%s</td>", x, open, x,
              close);
}

/* Appends the SVG with its "calib-svg-" ids renamed "calib-svgN-". */
static void hb_svg(html_buf *hb, const char *svg, size_t index)
{
    static const char id[] = "calib-svg-";
    const char *p = svg, *q;
    char renamed[40];

    snprintf(renamed, sizeof renamed, "calib-svg%zu-", index);
    while ((q = strstr(p, id)) != NULL) {
        hb_put(hb, p, (size_t)(q - p));
        hb_puts(hb, renamed);
        p = q + sizeof id - 1;
    }
    hb_puts(hb, p);
}

/* ---- formulas ----------------------------------------------------------
 * Presentation MathML, assembled from small pieces so that each formula
 * reads close to how it is written on paper. */
#define MI(x) "<mi>" x "</mi>"
#define MO(x) "<mo>" x "</mo>"
#define MN(x) "<mn>" x "</mn>"
#define ROW(x) "<mrow>" x "</mrow>"
#define SUB(a, b) "<msub>" a b "</msub>"
#define SUP(a, b) "<msup>" a b "</msup>"
#define SUBSUP(a, b, c) "<msubsup>" a b c "</msubsup>"
#define FRAC(a, b) "<mfrac>" a b "</mfrac>"
#define SQRT(x) "<msqrt>" x "</msqrt>"
#define PAREN(x) ROW(MO("(") x MO(")"))
#define ABS(x) ROW(MO("|") x MO("|"))
#define MINUS MO("\xE2\x88\x92")
#define SUM(v, lo, hi) "<munderover>" MO("\xE2\x88\x91") \
    ROW(MI(v) MO("=") MN(lo)) MI(hi) "</munderover>"
#define SUM_I SUM("i", "1", "N")
#define SUM_J SUM("j", "1", "N")
#define SUM_K SUM("k", "1", "K")
#define SUM_M SUM("m", "1", "M")
#define ONE_N FRAC(MN("1"), MI("N"))
#define IND(x) ROW(MN("1") MO("[") x MO("]"))
#define P_IK SUB(MI("p"), ROW(MI("i") MI("k")))
#define P_IY SUB(MI("p"), ROW(MI("i") SUB(MI("y"), MI("i"))))
#define Q_IK SUB(MI("q"), ROW(MI("i") MI("k")))
#define R_I SUB(MI("r"), MI("i"))
#define C_I SUB(MI("c"), MI("i"))
#define Y_I SUB(MI("y"), MI("i"))
#define B_M SUB(MI("B"), MI("m"))
#define SIZE_BM ABS(B_M)
#define ACC_BM ROW(MI("acc") PAREN(B_M))
#define CONF_BM ROW(MI("conf") PAREN(B_M))
#define LOG MI("log") "<mspace width=\"0.17em\"/>"
#define EPS MI("\xCE\xB5")
#define LAMBDA MI("\xCE\xBB")
#define GAMMA MI("\xCE\xB3")
#define XI_B SUB(MI("\xCE\xBE"), MI("b"))
#define IN MO("\xE2\x88\x88")
#define SPACE "<mspace width=\"1em\"/>"
#define BLOCK(x) "<math xmlns=\"http://www.w3.org/1998/Math/MathML\"" \
    " display=\"block\">" ROW(x) "</math>"

#define U_MINUS "\xE2\x88\x92"
#define SUM_IN(v, set) "<munder>" MO("\xE2\x88\x91") ROW(MI(v) IN set) \
    "</munder>"
#define MATH_NAME(x) "<mi mathvariant=\"normal\">" x "</mi>"

/* Every metric of the table and every loss of `calib loss`, with the
 * objective of temperature scaling. `text` is trusted HTML. */
typedef struct formula {
    const char *id;
    const char *name;
    const char *mathml;
    const char *text;
} formula;

static const formula formulas[] = {
    {"f-notation", "Notation",
     BLOCK(R_I MO("=") SUB(MO("max"), MI("k")) P_IK MO(",") SPACE
           C_I MO("=") IND(SUB(MO("argmax"), MI("k")) P_IK MO("=") Y_I)),
     "N samples, K classes, p<sub>ik</sub> the predicted probability of "
     "class k for sample i (the softmax of its logits, or the given "
     "probabilities), y<sub>i</sub> its label, r<sub>i</sub> the confidence "
     "of the top class and c<sub>i</sub> whether the top class is right "
     "(ties go to the first class). For a binary input (one score column) "
     "r<sub>i</sub> = p<sub>i</sub> and c<sub>i</sub> = y<sub>i</sub>, or, "
     "with the top-label option, the top class of [1 " U_MINUS " p, p]. "
     "Logarithms are natural."},
    {"f-accuracy", "Accuracy",
     BLOCK(MATH_NAME("Accuracy") MO("=") ONE_N SUM_I C_I),
     "The fraction of samples whose top class is the label."},
    {"f-nll", "Negative log-likelihood (NLL)",
     BLOCK(MATH_NAME("NLL") MO("=") MINUS ONE_N SUM_I LOG P_IY),
     "Infinite when some p<sub>iy<sub>i</sub></sub> = 0."},
    {"f-brier", "Brier score",
     BLOCK(MATH_NAME("Brier") MO("=") ONE_N SUM_I SUM_K
           SUP(PAREN(P_IK MINUS IND(Y_I MO("=") MI("k"))), MN("2"))),
     "Brier (1950): the squared distance between the probability vector "
     "and the one-hot label, in [0, 2]. For a binary input (one column) "
     "it is (1/N) \xE2\x88\x91<sub>i</sub> (p<sub>i</sub> " U_MINUS
     " y<sub>i</sub>)<sup>2</sup>, in [0, 1]."},
    {"f-kl", "KL divergence to smoothed targets",
     BLOCK(Q_IK MO("=") PAREN(MN("1") MINUS EPS) IND(Y_I MO("=") MI("k"))
           MO("+") FRAC(EPS, MI("K")) MO(",") SPACE
           MATH_NAME("KL") PAREN(MI("q") MO("\xE2\x80\x96") MI("p"))
           MO("=") ONE_N SUM_I SUM_K Q_IK LOG FRAC(Q_IK, P_IK)),
     "q are the label-smoothed targets of Szegedy et al. (2016) with "
     "weight \xCE\xB5; 0 log 0 = 0."},
    {"f-bins", "Bins",
     BLOCK(B_M MO("=") ROW(MO("{") MI("i") MO(":") R_I IN SUB(MI("I"),
           MI("m")) MO("}")) MO(",") SPACE
           ACC_BM MO("=") FRAC(MN("1"), SIZE_BM) SUM_IN("i", B_M) C_I
           MO(",") SPACE
           CONF_BM MO("=") FRAC(MN("1"), SIZE_BM) SUM_IN("i", B_M) R_I),
     "I<sub>1</sub>, ..., I<sub>M</sub> are the M confidence intervals of "
     "the chosen scheme and bin rule (see Conventions)."},
    {"f-ece", "Expected calibration error (ECE)",
     BLOCK(MATH_NAME("ECE") MO("=") SUM_M FRAC(SIZE_BM, MI("N"))
           ABS(ACC_BM MINUS CONF_BM)),
     "Naeini et al. (2015); Guo et al. (2017), with the bins of the "
     "chosen scheme."},
    {"f-mce", "Maximum calibration error (MCE)",
     BLOCK(MATH_NAME("MCE") MO("=") "<munder>" MO("max")
           ROW(MI("m") MO(":") SIZE_BM MO("&gt;") MN("0")) "</munder>"
           ABS(ACC_BM MINUS CONF_BM)),
     "The largest gap over the non-empty bins."},
    {"f-rmsce", "Root-mean-square calibration error (RMSCE)",
     BLOCK(MATH_NAME("RMSCE") MO("=") SQRT(SUM_M FRAC(SIZE_BM, MI("N"))
           SUP(PAREN(ACC_BM MINUS CONF_BM), MN("2")))),
     "The bins of ECE, squared gaps."},
    {"f-ace", "Equal-mass ECE",
     BLOCK(SUB(MATH_NAME("ECE"), MI("em")) MO("=") SUM_M
           FRAC(SIZE_BM, MI("N")) ABS(ACC_BM MINUS CONF_BM) MO(",") SPACE
           SIZE_BM MO("\xE2\x89\x88") FRAC(MI("N"), MI("M"))),
     "ECE with bins holding (nearly) equal numbers of samples, samples "
     "of equal confidence kept together: the adaptive binning of Nixon et "
     "al. (2019), on the confidence r<sub>i</sub>. The column ACE of the "
     "table."},
    {"f-classwise", "Classwise ECE",
     BLOCK(MATH_NAME("cwECE") MO("=") FRAC(MN("1"), MI("K")) SUM_K SUM_M
           FRAC(ABS(SUB(MI("B"), ROW(MI("m") MI("k")))), MI("N"))
           ABS(ROW(FRAC(MN("1"), ABS(SUB(MI("B"), ROW(MI("m") MI("k")))))
               "<munder>" MO("\xE2\x88\x91") ROW(MI("i") IN SUB(MI("B"),
               ROW(MI("m") MI("k")))) "</munder>"
               PAREN(IND(Y_I MO("=") MI("k")) MINUS P_IK)))),
     "Kull et al. (2019): B<sub>mk</sub> holds the samples whose "
     "probability of class k lies in the equal-width interval "
     "I<sub>m</sub>, whatever the scheme; every class counts, not only "
     "the top one. A binary input has the two classes 1 " U_MINUS
     " p and p."},
    {"f-ce", "Loss: cross-entropy",
     BLOCK(SUB(MI("L"), MATH_NAME("CE")) MO("=") MINUS ONE_N SUM_I LOG
           P_IY MO(",") SPACE P_IK MO("=") SUB(MATH_NAME("softmax"),
           MI("k")) PAREN(SUB(MI("z"), MI("i")))),
     "On logits z; the gradient of every loss is taken with respect to "
     "z."},
    {"f-smoothed", "Loss: cross-entropy with smoothed targets",
     BLOCK(SUB(MI("L"), MATH_NAME("LS")) MO("=") MINUS ONE_N SUM_I SUM_K
           Q_IK LOG P_IK),
     "Label smoothing (Szegedy et al. 2016; M\xC3\xBCller et al. 2019), "
     "q as in the KL divergence above."},
    {"f-joint", "Loss: joint cross-entropy and KL",
     BLOCK(MI("L") MO("=") SUB(MI("L"), MATH_NAME("CE")) MO("+") LAMBDA
           MATH_NAME("KL") PAREN(MI("q") MO("\xE2\x80\x96") MI("p"))),
     "The weight \xCE\xBB trades accuracy of the top class against "
     "calibration to the smoothed targets."},
    {"f-focal", "Loss: focal",
     BLOCK(SUB(MI("L"), MATH_NAME("FL")) MO("=") MINUS ONE_N SUM_I
           SUP(PAREN(MN("1") MINUS P_IY), SUB(GAMMA, MI("i"))) LOG P_IY),
     "Lin et al. (2017) with \xCE\xB3<sub>i</sub> = \xCE\xB3; the adaptive "
     "variant of Mukhoti et al. (2020) takes \xCE\xB3<sub>i</sub> = 5 when "
     "p<sub>iy<sub>i</sub></sub> &lt; 0.2, 3 when it is &lt; 0.5, and "
     "\xCE\xB3 otherwise."},
    {"f-mmce", "Loss: maximum mean calibration error (MMCE)",
     BLOCK(MATH_NAME("MMCE") MO("=") ONE_N SQRT(SUM_I SUM_J
           PAREN(C_I MINUS R_I) PAREN(SUB(MI("c"), MI("j")) MINUS
           SUB(MI("r"), MI("j"))) SUP(MI("e"), ROW(MINUS ABS(R_I MINUS
           SUB(MI("r"), MI("j"))) MO("/") MI("w"))))),
     "Kumar et al. (2018), unweighted, with a Laplacian kernel of width "
     "w."},
    {"f-soft-ece", "Loss: soft-binned ECE",
     BLOCK(MATH_NAME("SB-ECE") MO("=") SQRT(SUM("b", "1", "M")
           FRAC(SUB(MI("n"), MI("b")), MI("N")) SUP(PAREN(SUB(MI("A"),
           MI("b")) MINUS SUB(MI("C"), MI("b"))), MN("2"))) MO(",") SPACE
           SUB(MI("u"), MI("b")) PAREN(MI("r")) MO("=") FRAC(SUP(MI("e"),
           ROW(MINUS SUP(PAREN(MI("r") MINUS XI_B), MN("2")) MO("/")
           MI("T"))), ROW("<munder>" MO("\xE2\x88\x91") MI("b\xE2\x80\xB2")
           "</munder>" SUP(MI("e"), ROW(MINUS SUP(PAREN(MI("r") MINUS
           SUB(MI("\xCE\xBE"), MI("b\xE2\x80\xB2"))), MN("2")) MO("/")
           MI("T")))))),
     "Karandikar et al. (2021), Eq. 11 with p = 2: bin centres "
     "\xCE\xBE<sub>b</sub> = (b " U_MINUS " \xC2\xBD) / M, soft counts "
     "n<sub>b</sub> = \xE2\x88\x91<sub>i</sub> u<sub>b</sub>(r<sub>i"
     "</sub>), soft accuracy A<sub>b</sub> = \xE2\x88\x91<sub>i</sub> "
     "u<sub>b</sub>(r<sub>i</sub>) c<sub>i</sub> / n<sub>b</sub> and soft "
     "confidence C<sub>b</sub> = \xE2\x88\x91<sub>i</sub> u<sub>b</sub>"
     "(r<sub>i</sub>) r<sub>i</sub> / n<sub>b</sub>; temperature T."},
    {"f-temperature", "Temperature scaling",
     BLOCK(SUP(MI("T"), MO("*")) MO("=") "<munder>" MO("argmin")
           ROW(MI("T") MO("&gt;") MN("0")) "</munder>" MINUS ONE_N SUM_I
           LOG SUB(MATH_NAME("softmax"), Y_I) PAREN(FRAC(SUB(MI("z"),
           MI("i")), MI("T")))),
     "Guo et al. (2017). In \xCE\xB2 = 1/T the objective is convex: its "
     "second derivative is the mean over samples of the variance of "
     "z<sub>i</sub> under softmax(\xCE\xB2 z<sub>i</sub>), so the optimum "
     "is found exactly, without a learning rate."},
};

#define N_FORMULAS (sizeof formulas / sizeof formulas[0])

static const char css[] =
    "body{margin:0;background:#ffffff;color:#1a1a1a;"
    "font:16px/1.5 'DejaVu Sans',Verdana,Arial,sans-serif}\n"
    "main{max-width:1120px;margin:0 auto;padding:24px}\n"
    "h1{font-size:28px;margin:0 0 8px}\n"
    "h2{font-size:22px;margin:32px 0 8px;border-bottom:2px solid #0072B2}\n"
    "h3{font-size:17px;margin:20px 0 4px}\n"
    "table{border-collapse:collapse;margin:8px 0;font-size:15px}\n"
    "caption{text-align:left;padding:4px 0;color:#404040}\n"
    "th,td{border:1px solid #b3b3b3;padding:4px 10px}\n"
    "thead th{background:#e8eef4}\n"
    "tbody th{text-align:left;font-weight:normal}\n"
    "td{text-align:right;font-variant-numeric:tabular-nums}\n"
    "td.text{text-align:left}\n"
    "tbody tr:nth-child(even){background:#f5f5f5}\n"
    "dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px}\n"
    "dt{font-weight:bold}dd{margin:0}\n"
    "code{font-family:'DejaVu Sans Mono',monospace;font-size:15px;"
    "word-break:break-all}\n"
    ".figures{display:flex;flex-wrap:wrap;gap:16px}\n"
    "figure{margin:0;border:1px solid #d9d9d9;padding:8px}\n"
    "figure svg{display:block;width:480px;max-width:100%;height:auto}\n"
    "figcaption{font-size:15px;max-width:480px}\n"
    "math{font-family:'DejaVu Math TeX Gyre','STIX Two Math',"
    "'Latin Modern Math','Cambria Math',math}\n"
    "math[display=block]{margin:8px 0;font-size:19px}\n"
    ".formula{margin:0 0 8px}\n"
    ".note{color:#404040}\n";

/* Which entry is best in a column: the smallest value (or the largest
 * for accuracy) among finite ones; SIZE_MAX if none. */
static size_t best_entry(const cli_report *r, size_t column)
{
    size_t best = SIZE_MAX;
    double best_value = 0.0;

    for (size_t i = 0; i < r->n_entries; i++) {
        const calib_metrics *m = r->entries[i].test;
        double v, key;
        if (m == NULL || r->entries[i].skipped != NULL)
            continue;
        switch (column) {
        case 0: v = m->accuracy; break;
        case 1: v = m->nll; break;
        case 2: v = m->brier; break;
        case 3: v = m->ece; break;
        case 4: v = m->mce; break;
        case 5: v = m->ace; break;
        case 6: v = m->classwise_ece; break;
        default: v = m->kl_smoothed; break;
        }
        if (!isfinite(v))
            continue;
        key = column == 0 ? -v : v;
        if (best == SIZE_MAX || key < best_value) {
            best = i;
            best_value = key;
        }
    }
    return best;
}

static void put_inputs(html_buf *hb, const cli_report *r)
{
    static const char *const labels[] = {
        "Validation predictions", "Validation labels", "Test predictions",
        "Test labels"};
    const char *files[4];

    files[0] = r->val_preds;
    files[1] = r->val_labels;
    files[2] = r->test_preds;
    files[3] = r->test_labels;
    hb_puts(hb, "<section id=\"inputs\">\n<h2>Inputs</h2>\n<dl>\n");
    for (size_t i = 0; i < 4; i++) {
        if (files[i] == NULL)
            continue;
        hb_printf(hb, "<dt>%s</dt><dd><code>", labels[i]);
        hb_escape(hb, files[i]);
        hb_puts(hb, "</code></dd>\n");
    }
    hb_printf(hb, "<dt>Predictions are</dt><dd>%s</dd>\n",
              r->input == CALIB_LOGITS
                  ? "logits (softmax, or the logistic function for one "
                    "column)"
                  : "probabilities");
    hb_printf(hb, "<dt>Written by</dt><dd>calib %s</dd>\n</dl>\n"
              "</section>\n", calib_version());
}

static void put_metrics(html_buf *hb, const cli_report *r)
{
    static const char *const heads[] = {
        "Accuracy", "NLL", "Brier", "ECE", "MCE",
        "<abbr title=\"equal-mass ECE\">ACE</abbr>", "Classwise ECE",
        "<abbr title=\"KL divergence from the smoothed targets q to the "
        "predictions p\">KL(q\xE2\x80\x96p)</abbr>"};
    size_t best[8];

    for (size_t c = 0; c < 8; c++)
        best[c] = best_entry(r, c);
    hb_puts(hb, "<section id=\"metrics\">\n<h2>Metrics on the test split"
            "</h2>\n<table>\n<caption>One row per entry, computed on the test "
            "split; the best value of each column is in bold. Formulas "
            "below.</caption>\n<thead><tr><th scope=\"col\">Method</th>"
            "<th scope=\"col\">N</th>");
    for (size_t c = 0; c < 8; c++)
        hb_printf(hb, "<th scope=\"col\">%s</th>", heads[c]);
    hb_puts(hb, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < r->n_entries; i++) {
        const cli_report_entry *e = &r->entries[i];
        const calib_metrics *m = e->test;
        if (m == NULL || e->skipped != NULL)
            continue;
        hb_puts(hb, "<tr data-method=\"");
        hb_escape(hb, e->name);
        hb_puts(hb, "\"><th scope=\"row\">");
        hb_escape(hb, e->name);
        hb_printf(hb, "</th><td data-value=\"%zu\">%zu</td>", m->n, m->n);
        hb_cell(hb, m->accuracy, best[0] == i);
        hb_cell(hb, m->nll, best[1] == i);
        hb_cell(hb, m->brier, best[2] == i);
        hb_cell(hb, m->ece, best[3] == i);
        hb_cell(hb, m->mce, best[4] == i);
        hb_cell(hb, m->ace, best[5] == i);
        hb_cell(hb, m->classwise_ece, best[6] == i);
        hb_cell(hb, m->kl_smoothed, best[7] == i);
        hb_puts(hb, "</tr>\n");
    }
    hb_puts(hb, "</tbody>\n</table>\n</section>\n");
}

static void put_fits(html_buf *hb, const cli_report *r)
{
    int any = 0;

    hb_puts(hb, "<section id=\"fits\">\n<h2>Fit diagnostics</h2>\n");
    for (size_t i = 0; i < r->n_entries; i++)
        any |= r->entries[i].fit != NULL && r->entries[i].skipped == NULL;
    if (!any) {
        hb_puts(hb, "<p>No calibrator was fitted.</p>\n</section>\n");
        return;
    }
    hb_puts(hb, "<table>\n<caption>Each calibrator as fitted on the "
            "validation split: mean NLL before and after, iterations, the "
            "largest magnitude of the final gradient, and how the fit "
            "ended.</caption>\n<thead><tr><th scope=\"col\">Method</th>"
            "<th scope=\"col\">N</th><th scope=\"col\">NLL before</th>"
            "<th scope=\"col\">NLL after</th><th scope=\"col\">Iterations"
            "</th><th scope=\"col\">Final gradient</th><th scope=\"col\">"
            "Status</th><th scope=\"col\">Parameters</th><th scope=\"col\">"
            "Model file</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < r->n_entries; i++) {
        const cli_report_entry *e = &r->entries[i];
        const calib_fit_info *f = e->fit;
        if (f == NULL || e->skipped != NULL)
            continue;
        hb_puts(hb, "<tr data-method=\"");
        hb_escape(hb, e->name);
        hb_puts(hb, "\"><th scope=\"row\">");
        hb_escape(hb, e->name);
        hb_printf(hb, "</th><td data-value=\"%zu\">%zu</td>", f->n, f->n);
        hb_cell(hb, f->nll_before, 0);
        hb_cell(hb, f->nll_after, 0);
        hb_printf(hb, "<td data-value=\"%zu\">%zu</td>", f->iterations,
                  f->iterations);
        if (isfinite(f->gradient))
            hb_printf(hb, "<td data-value=\"%.17g\">%.3e</td>", f->gradient,
                      f->gradient);
        else
            hb_cell(hb, f->gradient, 0);
        hb_puts(hb, "<td class=\"text\">");
        hb_escape(hb, f->status);
        hb_puts(hb, "</td><td class=\"text\">");
        hb_escape(hb, e->parameters != NULL ? e->parameters : "");
        hb_puts(hb, "</td><td class=\"text\">");
        if (e->model_file != NULL) {
            hb_puts(hb, "<code>");
            hb_escape(hb, e->model_file);
            hb_puts(hb, "</code>");
        }
        hb_puts(hb, "</td></tr>\n");
    }
    hb_puts(hb, "</tbody>\n</table>\n</section>\n");
}

static void put_skipped(html_buf *hb, const cli_report *r)
{
    int any = 0;

    hb_puts(hb, "<section id=\"skipped\">\n<h2>Skipped methods</h2>\n");
    for (size_t i = 0; i < r->n_entries; i++) {
        const cli_report_entry *e = &r->entries[i];
        if (e->skipped == NULL)
            continue;
        if (!any)
            hb_puts(hb, "<ul>\n");
        any = 1;
        hb_puts(hb, "<li data-method=\"");
        hb_escape(hb, e->name);
        hb_puts(hb, "\"><strong>");
        hb_escape(hb, e->name);
        hb_puts(hb, "</strong>: ");
        hb_escape(hb, e->skipped);
        hb_puts(hb, "</li>\n");
    }
    hb_puts(hb, any ? "</ul>\n</section>\n"
                    : "<p>No method was skipped.</p>\n</section>\n");
}

static calib_status put_diagrams(html_buf *hb, const cli_report *r,
                                 calib_error *err)
{
    hb_puts(hb, "<section id=\"diagrams\">\n<h2>Reliability diagrams</h2>\n"
            "<p class=\"note\">Bars: accuracy of each confidence bin; "
            "hatched: the gap to the dashed diagonal of perfect calibration "
            "at the bin's mean confidence; beneath: samples per bin. Test "
            "split.</p>\n<div class=\"figures\">\n");
    for (size_t i = 0; i < r->n_entries; i++) {
        const cli_report_entry *e = &r->entries[i];
        char *svg = NULL;
        calib_status st;

        if (e->test == NULL || e->skipped != NULL)
            continue;
        st = calib_svg_reliability(e->test, e->name, NULL, NULL, &svg, err);
        if (st == CALIB_E_NOMEM)
            return st;
        hb_puts(hb, "<figure data-method=\"");
        hb_escape(hb, e->name);
        hb_puts(hb, "\">\n");
        if (st == CALIB_OK) {
            hb_svg(hb, svg, i);
            calib_free(svg);
        } else {
            /* metrics without a table still get their row and caption */
            hb_puts(hb, "<p>No diagram: ");
            hb_escape(hb, err != NULL ? err->message : "no bins");
            hb_puts(hb, "</p>\n");
            calib_error_clear(err);
        }
        hb_puts(hb, "<figcaption>");
        hb_escape(hb, e->name);
        if (isfinite(e->test->ece) && isfinite(e->test->mce))
            hb_printf(hb, ": ECE %.4f, MCE %.4f, N %zu", e->test->ece,
                      e->test->mce, e->test->n);
        hb_puts(hb, "</figcaption>\n</figure>\n");
    }
    hb_puts(hb, "</div>\n</section>\n");
    return CALIB_OK;
}

/* Whether the caller's extra section talks about lambda. */
static int mentions_lambda(const char *html)
{
    return html != NULL &&
           (strstr(html, "lambda") != NULL || strstr(html, "Lambda") != NULL
            || strstr(html, "\xCE\xBB") != NULL ||
            strstr(html, "&lambda;") != NULL ||
            strstr(html, "&#955;") != NULL);
}

static void put_conventions(html_buf *hb, const cli_report *r)
{
    const calib_eval_options *o = r->options;

    hb_puts(hb, "<section id=\"conventions\">\n<h2>Conventions</h2>\n<dl>\n");
    if (o != NULL) {
        hb_printf(hb, "<dt>Bins</dt><dd data-value=\"%zu\">M = %zu</dd>\n",
                  o->n_bins, o->n_bins);
        hb_printf(hb, "<dt>Scheme</dt><dd>%s</dd>\n",
                  o->scheme == CALIB_SCHEME_MASS
                      ? "equal mass: each bin holds (nearly) N / M samples, "
                        "for ECE, MCE, RMSCE and the diagrams"
                      : "equal width: M bins of width 1 / M on [0, 1], for "
                        "ECE, MCE, RMSCE and the diagrams");
        hb_printf(hb, "<dt>Bin rule</dt><dd>%s</dd>\n",
                  o->bin_rule == CALIB_BIN_LEFT
                      ? "left-closed [lo, hi), the last bin [1 " U_MINUS
                        " 1/M, 1] (NumPy, scikit-learn)"
                      : "right-closed (lo, hi], the first bin [0, 1/M] "
                        "(Guo et al. 2017)");
        hb_puts(hb, "<dt>Equal-mass ECE (ACE)</dt><dd>always equal-mass "
                "bins, whatever the scheme above</dd>\n");
        hb_printf(hb, "<dt>Smoothed targets</dt><dd data-value=\"%.17g\">"
                  "\xCE\xB5 = %g</dd>\n", o->smoothing, o->smoothing);
        if (o->clip_eps > 0.0)
            hb_printf(hb, "<dt>Clipping</dt><dd>probabilities clipped to "
                      "[%g, 1] before the metrics</dd>\n", o->clip_eps);
        if (r->input == CALIB_PROBS)
            hb_printf(hb, "<dt>Row sums</dt><dd>%s</dd>\n",
                      o->renormalize ? "each row divided by its sum"
                                     : "must be 1 within the tolerance");
        if (o->top_label)
            hb_puts(hb, "<dt>Binary input</dt><dd>top label: max(p, 1 "
                    U_MINUS " p) against correctness</dd>\n");
    }
    hb_puts(hb, "<dt>Logarithms</dt><dd>natural (NLL and KL in nats)</dd>\n");
    if (mentions_lambda(r->extra_html))
        hb_puts(hb, "<dt>\xCE\xBB</dt><dd>the weight of KL(q\xE2\x80\x96p) in "
                "the joint loss CE + \xCE\xBB KL; its values are those of "
                "the section <a href=\"#extra\">Further results</a></dd>\n");
    hb_puts(hb, "<dt>Calibrators</dt><dd>fitted on the validation split, "
            "measured on the test split</dd>\n</dl>\n</section>\n");
}

static void put_formulas(html_buf *hb)
{
    hb_puts(hb, "<section id=\"formulas\">\n<h2>Formulas</h2>\n");
    for (size_t i = 0; i < N_FORMULAS; i++) {
        const formula *f = &formulas[i];
        hb_printf(hb, "<div class=\"formula\" id=\"%s\">\n<h3>%s</h3>\n",
                  f->id, f->name);
        hb_puts(hb, f->mathml);
        hb_puts(hb, "\n<p>");
        hb_puts(hb, f->text);
        hb_puts(hb, "</p>\n</div>\n");
    }
    hb_puts(hb, "</section>\n");
}

calib_status cli_write_report(const char *path, const cli_report *report,
                              calib_error *err)
{
    html_buf hb = {NULL, 0, 0, 0};
    const char *title;
    calib_status st;

    if (path == NULL || report == NULL ||
        (report->n_entries > 0 && report->entries == NULL)) {
        calib_error_clear(err);
        if (err != NULL) {
            err->status = CALIB_E_ARGUMENT;
            snprintf(err->message, sizeof err->message,
                     "report: no path or no report");
        }
        return CALIB_E_ARGUMENT;
    }
    title = report->title != NULL ? report->title : "Calibration report";

    hb_puts(&hb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
            "<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" "
            "content=\"width=device-width, initial-scale=1\"/>\n"
            "<meta name=\"generator\" content=\"calib ");
    hb_puts(&hb, calib_version());
    hb_puts(&hb, "\"/>\n<title>");
    hb_escape(&hb, title);
    hb_puts(&hb, "</title>\n<style>\n");
    hb_puts(&hb, css);
    hb_puts(&hb, "</style>\n</head>\n<body>\n<main>\n<h1>");
    hb_escape(&hb, title);
    hb_puts(&hb, "</h1>\n<p class=\"note\">Calibration of a classifier "
            "before and after post-hoc calibrators. Every number below is "
            "computed by calib; formulas at the end.</p>\n");

    put_inputs(&hb, report);
    put_metrics(&hb, report);
    put_fits(&hb, report);
    put_skipped(&hb, report);
    st = put_diagrams(&hb, report, err);
    if (st != CALIB_OK)
        goto fail;
    put_conventions(&hb, report);
    if (report->extra_html != NULL) {
        hb_puts(&hb, "<section id=\"extra\">\n<h2>Further results</h2>\n");
        hb_puts(&hb, report->extra_html);
        hb_puts(&hb, "\n</section>\n");
    }
    put_formulas(&hb);
    hb_puts(&hb, "</main>\n</body>\n</html>\n");

    if (hb.failed) {
        calib_error_clear(err);
        if (err != NULL) {
            err->status = CALIB_E_NOMEM;
            snprintf(err->message, sizeof err->message,
                     "%s: out of memory while writing the report", path);
        }
        st = CALIB_E_NOMEM;
        goto fail;
    }
    st = calib_write_file(path, hb.data, hb.len, err);

fail:
    calib_free(hb.data);
    return st;
}
