/*
 * train_mlp.c - trains a small multilayer perceptron on Fashion-MNIST with
 * calib's training losses and writes its validation and test logits.
 *
 * The network is 784-128-10 with ReLU: logits = W2 relu(W1 x + b1) + b2,
 * x the 28 x 28 image scaled to [0, 1]. The loss and its gradient with
 * respect to the logits come from calib_loss (cross-entropy, or the joint
 * loss CE + lambda KL(q || p) of the label-smoothed targets q, or another
 * per-sample loss); backpropagation through the two layers is written out
 * below. Adam (Kingma & Ba 2015; betas 0.9 / 0.999, eps 1e-8) with the
 * learning rate decayed from 2e-3 to 0 along a half cosine over the run
 * (Loshchilov & Hutter 2017), no weight decay, mini-batches of 64, He
 * initialisation. With plain cross-entropy this fits the training split
 * closely in 20 epochs and becomes overconfident on the test split: the
 * demo's starting point.
 *
 * Data: the IDX files of Xiao, Rasul & Vollgraf 2017 ("Fashion-MNIST"), as
 * Debian's dataset-fashion-mnist installs them, read through zlib with
 * their magic numbers and sizes checked. The 60000 training images are
 * split by a fixed seeded permutation into 55000 for training and 5000 for
 * validation; the 10000 test images are the test split.
 *
 * The network computes in float (the loss in double, inside calib): the
 * layer products are the whole cost and float halves it. Threads own
 * disjoint outputs (rows of the batch going forward, rows of W1 going
 * backward) and every sum runs in a fixed order, so a given seed gives the
 * same bits with any number of threads.
 *
 * Writes DIR/{val,test}_{logits,labels}.npy (logits as float64 N x 10,
 * labels as int64). Progress goes to stderr, one line per epoch.
 */
#include "calib.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define PIXELS 784
#define HIDDEN 128
#define CLASSES 10
#define N_TRAIN_ALL 60000
#define N_VAL 5000
#define N_TEST 10000
#define MAX_THREADS 64
/* samples that share one pass over W1 going forward (W1 stays in cache) */
#define FORWARD_BLOCK 8
/* rows of W1's gradient accumulated together going backward */
#define BACKWARD_BLOCK 8
/* the train / validation split does not depend on --seed */
#define SPLIT_SEED 20240611u

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

typedef struct options {
    const char *data_dir;
    const char *out_dir;
    calib_loss_kind loss;
    calib_loss_options loss_opt;
    size_t epochs;
    size_t batch;
    double lr;
    uint64_t seed;
    unsigned threads;
} options;

typedef struct dataset {
    size_t n;
    uint8_t *images; /* n x PIXELS */
    int64_t *labels;
} dataset;

/* Parameters, and Adam's moments in the same layout. */
typedef struct params {
    float *w1; /* PIXELS x HIDDEN, input-major: row i feeds every unit */
    float *b1; /* HIDDEN */
    float *w2; /* HIDDEN x CLASSES */
    float *b2; /* CLASSES */
} params;

typedef struct network {
    params p, grad, m, v;
    float *block; /* one allocation behind the four */
    size_t adam_step;
} network;

/* Per-batch buffers. */
typedef struct workspace {
    size_t capacity;
    float *x;       /* batch x PIXELS */
    float *hidden;  /* batch x HIDDEN, after ReLU */
    float *dhidden; /* batch x HIDDEN */
    double *logits; /* batch x CLASSES */
    double *dlogits;
    int64_t *labels;
} workspace;

/* ---- small helpers --------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64 (Steele, Lea & Flood 2014) */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *state)
{
    return ((double)(next_random(state) >> 11) + 0.5) * 0x1.0p-53;
}

static double gaussian(uint64_t *state)
{
    double u1 = uniform01(state), u2 = uniform01(state);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void shuffle(size_t *a, size_t n, uint64_t *state)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(next_random(state) % i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ---- Fashion-MNIST IDX files ----------------------------------------- */

static int read_exact(gzFile f, void *buf, size_t size, const char *path)
{
    int got = gzread(f, buf, (unsigned)size);
    if (got < 0 || (size_t)got != size) {
        int zerr = 0;
        const char *msg = gzerror(f, &zerr);
        fprintf(stderr, "train_mlp: %s: %s\n", path,
                got >= 0 ? "file is truncated" : msg);
        return -1;
    }
    return 0;
}

static uint32_t big_endian32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
           (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/*
 * Reads an IDX file: magic 0x00000803 (images, n x 28 x 28 bytes) or
 * 0x00000801 (labels, n bytes), sizes checked against what we expect.
 */
static uint8_t *read_idx(const char *dir, const char *name, int images,
                         size_t want_n)
{
    char path[4096];
    unsigned char head[16];
    size_t head_size = images ? 16 : 8, size;
    uint32_t magic = images ? 0x803u : 0x801u;
    uint8_t *data = NULL;
    gzFile f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = gzopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "train_mlp: %s: %s (install dataset-fashion-mnist "
                "or pass --data DIR)\n", path, strerror(errno));
        return NULL;
    }
    if (read_exact(f, head, head_size, path) != 0)
        goto fail;
    if (big_endian32(head) != magic) {
        fprintf(stderr, "train_mlp: %s: not an IDX %s file (magic 0x%08x)\n",
                path, images ? "image" : "label",
                (unsigned)big_endian32(head));
        goto fail;
    }
    if (big_endian32(head + 4) != want_n ||
        (images && (big_endian32(head + 8) != 28 ||
                    big_endian32(head + 12) != 28))) {
        fprintf(stderr, "train_mlp: %s: expected %zu %s\n", path, want_n,
                images ? "images of 28 x 28" : "labels");
        goto fail;
    }
    size = images ? want_n * PIXELS : want_n;
    data = malloc(size);
    if (data == NULL) {
        fprintf(stderr, "train_mlp: out of memory\n");
        goto fail;
    }
    if (read_exact(f, data, size, path) != 0)
        goto fail;
    gzclose(f);
    return data;

fail:
    free(data);
    gzclose(f);
    return NULL;
}

static int load_split(const char *dir, const char *prefix, size_t n,
                      dataset *out)
{
    char images[64], labels[64];
    uint8_t *raw;

    snprintf(images, sizeof images, "%s-images-idx3-ubyte.gz", prefix);
    snprintf(labels, sizeof labels, "%s-labels-idx1-ubyte.gz", prefix);
    out->n = n;
    out->images = read_idx(dir, images, 1, n);
    raw = read_idx(dir, labels, 0, n);
    out->labels = malloc(n * sizeof *out->labels);
    if (out->images == NULL || raw == NULL || out->labels == NULL) {
        free(raw);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (raw[i] >= CLASSES) {
            fprintf(stderr, "train_mlp: %s: label %u at row %zu\n", labels,
                    (unsigned)raw[i], i);
            free(raw);
            return -1;
        }
        out->labels[i] = raw[i];
    }
    free(raw);
    return 0;
}

/* Moves the rows listed in idx[0..n) of src into a new dataset. */
static int take_rows(const dataset *src, const size_t *idx, size_t n,
                     dataset *out)
{
    out->n = n;
    out->images = malloc(n * PIXELS);
    out->labels = malloc(n * sizeof *out->labels);
    if (out->images == NULL || out->labels == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        memcpy(out->images + i * PIXELS, src->images + idx[i] * PIXELS,
               PIXELS);
        out->labels[i] = src->labels[idx[i]];
    }
    return 0;
}

static void dataset_free(dataset *d)
{
    free(d->images);
    free(d->labels);
    d->images = NULL;
    d->labels = NULL;
}

/* ---- threads ----------------------------------------------------------- */

typedef void (*parallel_fn)(void *ctx, unsigned t, unsigned nt);

typedef struct job {
    parallel_fn fn;
    void *ctx;
    unsigned t, nt;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    j->fn(j->ctx, j->t, j->nt);
    return NULL;
}

/* Runs fn(ctx, t, nt) for t = 0..nt-1, part 0 on the calling thread. A
 * thread that cannot start leaves its part to the caller. */
static void parallel(unsigned nt, parallel_fn fn, void *ctx)
{
    pthread_t tid[MAX_THREADS];
    job jobs[MAX_THREADS];
    int started[MAX_THREADS];

    for (unsigned t = 1; t < nt; t++) {
        jobs[t] = (job){fn, ctx, t, nt};
        started[t] = pthread_create(&tid[t], NULL, run_job, &jobs[t]) == 0;
    }
    fn(ctx, 0, nt);
    for (unsigned t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            fn(ctx, t, nt);
    }
}

static size_t part_start(size_t n, unsigned t, unsigned nt)
{
    return n * t / nt;
}

/* ---- the network --------------------------------------------------- */

static int network_alloc(network *net, uint64_t seed)
{
    size_t per = (size_t)PIXELS * HIDDEN + HIDDEN + HIDDEN * CLASSES +
                 CLASSES;
    params *sets[4] = {&net->p, &net->grad, &net->m, &net->v};
    uint64_t state = seed;
    float *base = calloc(4 * per, sizeof *base);

    if (base == NULL)
        return -1;
    net->block = base;
    net->adam_step = 0;
    for (size_t s = 0; s < 4; s++) {
        float *q = base + s * per;
        sets[s]->w1 = q;
        sets[s]->b1 = q + (size_t)PIXELS * HIDDEN;
        sets[s]->w2 = sets[s]->b1 + HIDDEN;
        sets[s]->b2 = sets[s]->w2 + HIDDEN * CLASSES;
    }
    /* He et al. 2015: N(0, 2 / fan_in) before a ReLU; 1 / fan_in after */
    for (size_t i = 0; i < (size_t)PIXELS * HIDDEN; i++)
        net->p.w1[i] = (float)(gaussian(&state) * sqrt(2.0 / PIXELS));
    for (size_t i = 0; i < HIDDEN * CLASSES; i++)
        net->p.w2[i] = (float)(gaussian(&state) * sqrt(1.0 / HIDDEN));
    return 0;
}

static int workspace_alloc(workspace *ws, size_t capacity)
{
    ws->capacity = capacity;
    ws->x = malloc(capacity * PIXELS * sizeof *ws->x);
    ws->hidden = malloc(capacity * HIDDEN * sizeof *ws->hidden);
    ws->dhidden = malloc(capacity * HIDDEN * sizeof *ws->dhidden);
    ws->logits = malloc(capacity * CLASSES * sizeof *ws->logits);
    ws->dlogits = malloc(capacity * CLASSES * sizeof *ws->dlogits);
    ws->labels = malloc(capacity * sizeof *ws->labels);
    return ws->x && ws->hidden && ws->dhidden && ws->logits &&
                   ws->dlogits && ws->labels
               ? 0 : -1;
}

static void workspace_free(workspace *ws)
{
    free(ws->x);
    free(ws->hidden);
    free(ws->dhidden);
    free(ws->logits);
    free(ws->dlogits);
    free(ws->labels);
}

/* Copies rows idx[0..n) of d into the workspace as floats in [0, 1]. */
static void load_batch(const dataset *d, const size_t *idx, size_t first,
                       size_t n, workspace *ws)
{
    for (size_t b = 0; b < n; b++) {
        size_t row = idx != NULL ? idx[first + b] : first + b;
        const uint8_t *src = d->images + row * PIXELS;
        float *dst = ws->x + b * PIXELS;
        for (size_t i = 0; i < PIXELS; i++)
            dst[i] = (float)src[i] * (1.0f / 255.0f);
        ws->labels[b] = d->labels[row];
    }
}

typedef struct forward_ctx {
    const params *p;
    workspace *ws;
    size_t n;
} forward_ctx;

/* acc[h] += x * w[h] over one hidden layer's width */
static void axpy_hidden(float *restrict acc, float x,
                        const float *restrict w)
{
    for (size_t h = 0; h < HIDDEN; h++)
        acc[h] += x * w[h];
}

/* Forward pass of this thread's rows: hidden activations and logits. */
static void forward_part(void *vctx, unsigned t, unsigned nt)
{
    forward_ctx *c = vctx;
    const params *p = c->p;
    size_t lo = part_start(c->n, t, nt), hi = part_start(c->n, t + 1, nt);

    for (size_t s0 = lo; s0 < hi; s0 += FORWARD_BLOCK) {
        size_t s1 = s0 + FORWARD_BLOCK < hi ? s0 + FORWARD_BLOCK : hi;

        for (size_t s = s0; s < s1; s++)
            memcpy(c->ws->hidden + s * HIDDEN, p->b1,
                   HIDDEN * sizeof *p->b1);
        /* each row of W1 is read once for the whole block; zero pixels
         * (about half of Fashion-MNIST) are skipped */
        for (size_t i = 0; i < PIXELS; i++) {
            const float *w = p->w1 + i * HIDDEN;
            for (size_t s = s0; s < s1; s++) {
                float x = c->ws->x[s * PIXELS + i];
                if (x != 0.0f)
                    axpy_hidden(c->ws->hidden + s * HIDDEN, x, w);
            }
        }
        for (size_t s = s0; s < s1; s++) {
            float *hid = c->ws->hidden + s * HIDDEN;
            double out[CLASSES];
            for (size_t h = 0; h < HIDDEN; h++)
                hid[h] = hid[h] > 0.0f ? hid[h] : 0.0f;
            for (size_t k = 0; k < CLASSES; k++)
                out[k] = (double)p->b2[k];
            for (size_t h = 0; h < HIDDEN; h++) {
                const float *w = p->w2 + h * CLASSES;
                if (hid[h] == 0.0f)
                    continue;
                for (size_t k = 0; k < CLASSES; k++)
                    out[k] += (double)(hid[h] * w[k]);
            }
            memcpy(c->ws->logits + s * CLASSES, out, sizeof out);
        }
    }
}

static void forward(const params *p, workspace *ws, size_t n, unsigned nt)
{
    forward_ctx c = {p, ws, n};
    parallel(nt, forward_part, &c);
}

typedef struct backward_ctx {
    network *net;
    workspace *ws;
    size_t n;
    float lr_t; /* Adam's step with its bias corrections */
} backward_ctx;

static void adam_update(float *restrict w, const float *restrict g,
                        float *restrict m, float *restrict v, size_t n,
                        float lr_t)
{
    for (size_t i = 0; i < n; i++) {
        m[i] = 0.9f * m[i] + 0.1f * g[i];
        v[i] = 0.999f * v[i] + 0.001f * g[i] * g[i];
        w[i] -= lr_t * m[i] / (sqrtf(v[i]) + 1e-8f);
    }
}

/* Gradient of this thread's rows of W1, then their Adam step. */
static void backward_part(void *vctx, unsigned t, unsigned nt)
{
    backward_ctx *c = vctx;
    network *net = c->net;
    size_t lo = part_start(PIXELS, t, nt), hi = part_start(PIXELS, t + 1, nt);

    for (size_t i0 = lo; i0 < hi; i0 += BACKWARD_BLOCK) {
        size_t i1 = i0 + BACKWARD_BLOCK < hi ? i0 + BACKWARD_BLOCK : hi;
        float *g = net->grad.w1 + i0 * HIDDEN;

        memset(g, 0, (i1 - i0) * HIDDEN * sizeof *g);
        for (size_t b = 0; b < c->n; b++) {
            const float *x = c->ws->x + b * PIXELS;
            const float *dh = c->ws->dhidden + b * HIDDEN;
            for (size_t i = i0; i < i1; i++)
                if (x[i] != 0.0f)
                    axpy_hidden(net->grad.w1 + i * HIDDEN, x[i], dh);
        }
        adam_update(net->p.w1 + i0 * HIDDEN, g, net->m.w1 + i0 * HIDDEN,
                    net->v.w1 + i0 * HIDDEN, (i1 - i0) * HIDDEN, c->lr_t);
    }
}

/* One step of Adam on the batch in ws (already forwarded); the gradient of
 * the mean loss w.r.t. the logits is in ws->dlogits. */
static void backward(network *net, workspace *ws, size_t n, double lr,
                     unsigned nt)
{
    backward_ctx c;
    double step;

    /* the small layer and the hidden gradient, on this thread */
    memset(net->grad.w2, 0, HIDDEN * CLASSES * sizeof *net->grad.w2);
    memset(net->grad.b2, 0, CLASSES * sizeof *net->grad.b2);
    memset(net->grad.b1, 0, HIDDEN * sizeof *net->grad.b1);
    for (size_t b = 0; b < n; b++) {
        const float *hid = ws->hidden + b * HIDDEN;
        const double *dz = ws->dlogits + b * CLASSES;
        float *dh = ws->dhidden + b * HIDDEN;
        float dzf[CLASSES];

        for (size_t k = 0; k < CLASSES; k++) {
            dzf[k] = (float)dz[k];
            net->grad.b2[k] += dzf[k];
        }
        for (size_t h = 0; h < HIDDEN; h++) {
            const float *w = net->p.w2 + h * CLASSES;
            float *gw = net->grad.w2 + h * CLASSES, sum = 0.0f;
            if (hid[h] == 0.0f) {
                dh[h] = 0.0f;
                continue;
            }
            for (size_t k = 0; k < CLASSES; k++) {
                gw[k] += hid[h] * dzf[k];
                sum += w[k] * dzf[k];
            }
            dh[h] = sum;
            net->grad.b1[h] += sum;
        }
    }

    net->adam_step++;
    step = lr * sqrt(1.0 - pow(0.999, (double)net->adam_step)) /
           (1.0 - pow(0.9, (double)net->adam_step));
    c = (backward_ctx){net, ws, n, (float)step};
    adam_update(net->p.w2, net->grad.w2, net->m.w2, net->v.w2,
                HIDDEN * CLASSES, c.lr_t);
    adam_update(net->p.b2, net->grad.b2, net->m.b2, net->v.b2, CLASSES,
                c.lr_t);
    adam_update(net->p.b1, net->grad.b1, net->m.b1, net->v.b1, HIDDEN,
                c.lr_t);
    parallel(nt, backward_part, &c);
}

/* Logits of a whole dataset, in batches. */
static void predict(const params *p, const dataset *d, workspace *ws,
                    unsigned nt, double *logits)
{
    for (size_t first = 0; first < d->n; first += ws->capacity) {
        size_t n = d->n - first < ws->capacity ? d->n - first : ws->capacity;
        load_batch(d, NULL, first, n, ws);
        forward(p, ws, n, nt);
        memcpy(logits + first * CLASSES, ws->logits,
               n * CLASSES * sizeof *logits);
    }
}

static size_t count_right(const double *logits, const int64_t *labels,
                          size_t n)
{
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        size_t top = 0;
        for (size_t k = 1; k < CLASSES; k++)
            if (logits[i * CLASSES + k] > logits[i * CLASSES + top])
                top = k;
        right += (int64_t)top == labels[i];
    }
    return right;
}

static double accuracy(const double *logits, const int64_t *labels,
                       size_t n)
{
    return (double)count_right(logits, labels, n) / (double)n;
}

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
        "usage: train_mlp --out DIR [--loss ce|joint|smoothed|focal|"
        "focal-adaptive|kl]\n"
        "                 [--lambda L] [--smoothing EPS] [--gamma G]\n"
        "                 [--epochs N] [--batch N] [--lr R] [--seed S]\n"
        "                 [--threads N] [--data DIR]\n"
        "\n"
        "Trains a 784-128-10 ReLU network on Fashion-MNIST with calib's\n"
        "losses and writes DIR/{val,test}_{logits,labels}.npy.\n"
        "Defaults: --loss ce, --lambda 0.1, --smoothing 0.1, --gamma 3,\n"
        "--epochs 20, --batch 64, --lr 0.002 (peak of a cosine decay),\n"
        "--seed 1, --threads: all\n"
        "cores (at most %d), --data %s\n", MAX_THREADS, DEFAULT_DATA);
}

static int parse_number(const char *flag, const char *text, double lo,
                        double hi, double *out)
{
    char *end = NULL;
    double v;
    errno = 0;
    v = text != NULL ? strtod(text, &end) : (double)NAN;
    if (text == NULL || errno != 0 || end == text || *end != '\0' ||
        !(v >= lo && v <= hi)) {
        fprintf(stderr, "train_mlp: %s needs a number in [%g, %g]\n", flag,
                lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    o->data_dir = DEFAULT_DATA;
    o->out_dir = NULL;
    o->loss = CALIB_LOSS_CE;
    calib_loss_options_default(&o->loss_opt);
    o->epochs = 20;
    o->batch = 64;
    o->lr = 2e-3;
    o->seed = 1;
    o->threads = cpus < 1 ? 1u : cpus > MAX_THREADS ? MAX_THREADS
                                                      : (unsigned)cpus;
    for (int a = 1; a < argc; a++) {
        const char *f = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
        double x;
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (val == NULL) {
            fprintf(stderr, "train_mlp: unknown flag or missing value: %s\n",
                    f);
            return -1;
        }
        a++;
        if (strcmp(f, "--out") == 0) {
            o->out_dir = val;
        } else if (strcmp(f, "--data") == 0) {
            o->data_dir = val;
        } else if (strcmp(f, "--loss") == 0) {
            if (calib_loss_from_name(val, &o->loss) != 0 ||
                o->loss == CALIB_LOSS_MMCE || o->loss == CALIB_LOSS_SOFT_ECE) {
                fprintf(stderr, "train_mlp: --loss must be ce, joint, "
                        "smoothed, kl, focal or focal-adaptive\n");
                return -1;
            }
        } else if (strcmp(f, "--lambda") == 0) {
            if (parse_number(f, val, 0.0, 1e6, &o->loss_opt.lambda) != 0)
                return -1;
        } else if (strcmp(f, "--smoothing") == 0) {
            if (parse_number(f, val, 0.0, 1.0, &o->loss_opt.smoothing) != 0)
                return -1;
        } else if (strcmp(f, "--gamma") == 0) {
            if (parse_number(f, val, 0.0, 100.0, &o->loss_opt.gamma) != 0)
                return -1;
        } else if (strcmp(f, "--epochs") == 0) {
            if (parse_number(f, val, 1.0, 10000.0, &x) != 0)
                return -1;
            o->epochs = (size_t)x;
        } else if (strcmp(f, "--batch") == 0) {
            if (parse_number(f, val, 1.0, 55000.0, &x) != 0)
                return -1;
            o->batch = (size_t)x;
        } else if (strcmp(f, "--lr") == 0) {
            if (parse_number(f, val, 1e-9, 10.0, &o->lr) != 0)
                return -1;
        } else if (strcmp(f, "--seed") == 0) {
            if (parse_number(f, val, 0.0, 9007199254740992.0, &x) != 0)
                return -1;
            o->seed = (uint64_t)x;
        } else if (strcmp(f, "--threads") == 0) {
            if (parse_number(f, val, 1.0, MAX_THREADS, &x) != 0)
                return -1;
            o->threads = (unsigned)x;
        } else {
            fprintf(stderr, "train_mlp: unknown flag %s\n", f);
            return -1;
        }
    }
    if (o->out_dir == NULL) {
        fprintf(stderr, "train_mlp: --out DIR is required\n");
        return -1;
    }
    return 0;
}

static int write_outputs(const char *dir, const char *split,
                         const double *logits, const dataset *d)
{
    char path[4096];
    calib_error err;

    snprintf(path, sizeof path, "%s/%s_logits.npy", dir, split);
    if (calib_write_npy_f64(path, logits, d->n, CLASSES, &err) != CALIB_OK)
        goto fail;
    snprintf(path, sizeof path, "%s/%s_labels.npy", dir, split);
    if (calib_write_npy_i64(path, d->labels, d->n, &err) != CALIB_OK)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "train_mlp: %s\n", err.message);
    return -1;
}

int main(int argc, char **argv)
{
    options o;
    dataset all = {0}, train = {0}, val = {0}, test = {0};
    network net = {0};
    workspace ws = {0};
    size_t *order = NULL;
    double *val_logits = NULL, *test_logits = NULL, start;
    size_t steps_per_epoch, total_steps, step = 0;
    uint64_t state;
    int rc = 1;
    calib_error err;

    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    if (mkdir(o.out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "train_mlp: %s: %s\n", o.out_dir, strerror(errno));
        return 1;
    }

    /* data: the fixed split of the training file, and the test file */
    if (load_split(o.data_dir, "train", N_TRAIN_ALL, &all) != 0 ||
        load_split(o.data_dir, "t10k", N_TEST, &test) != 0)
        goto done;
    order = malloc(N_TRAIN_ALL * sizeof *order);
    if (order == NULL)
        goto done;
    for (size_t i = 0; i < N_TRAIN_ALL; i++)
        order[i] = i;
    state = SPLIT_SEED;
    shuffle(order, N_TRAIN_ALL, &state);
    if (take_rows(&all, order, N_VAL, &val) != 0 ||
        take_rows(&all, order + N_VAL, N_TRAIN_ALL - N_VAL, &train) != 0)
        goto done;
    dataset_free(&all);

    if (network_alloc(&net, o.seed * 2 + 1) != 0 ||
        workspace_alloc(&ws, o.batch) != 0)
        goto done;
    val_logits = malloc(N_VAL * CLASSES * sizeof *val_logits);
    test_logits = malloc(N_TEST * CLASSES * sizeof *test_logits);
    if (val_logits == NULL || test_logits == NULL)
        goto done;
    for (size_t i = 0; i < train.n; i++)
        order[i] = i;

    fprintf(stderr, "train_mlp: %s loss", calib_loss_name(o.loss));
    if (o.loss == CALIB_LOSS_JOINT)
        fprintf(stderr, " (lambda %g, smoothing %g)", o.loss_opt.lambda,
                o.loss_opt.smoothing);
    fprintf(stderr, ", %zu train / %zu val / %zu test, %zu epochs, "
            "%u threads, seed %llu\n", train.n, val.n, test.n, o.epochs,
            o.threads, (unsigned long long)o.seed);

    state = o.seed;
    start = now_seconds();
    steps_per_epoch = (train.n + o.batch - 1) / o.batch;
    total_steps = steps_per_epoch * o.epochs;
    for (size_t epoch = 1; epoch <= o.epochs; epoch++) {
        double loss_sum = 0.0, val_nll = NAN;
        size_t right = 0;

        shuffle(order, train.n, &state);
        for (size_t first = 0; first < train.n; first += o.batch) {
            size_t n = train.n - first < o.batch ? train.n - first : o.batch;
            double loss;
            load_batch(&train, order, first, n, &ws);
            forward(&net.p, &ws, n, o.threads);
            if (calib_loss(o.loss, ws.logits, CALIB_FLOAT64, n, CLASSES,
                           ws.labels, &o.loss_opt, &loss, ws.dlogits,
                           &err) != CALIB_OK) {
                fprintf(stderr, "train_mlp: %s\n", err.message);
                goto done;
            }
            loss_sum += loss * (double)n;
            right += count_right(ws.logits, ws.labels, n);
            /* half-cosine decay of the learning rate over the run */
            backward(&net, &ws, n,
                     o.lr * 0.5 * (1.0 + cos(3.141592653589793 *
                                             (double)step /
                                             (double)total_steps)),
                     o.threads);
            step++;
        }
        predict(&net.p, &val, &ws, o.threads, val_logits);
        if (calib_loss(CALIB_LOSS_CE, val_logits, CALIB_FLOAT64, val.n,
                       CLASSES, val.labels, NULL, &val_nll, NULL, &err) !=
            CALIB_OK) {
            fprintf(stderr, "train_mlp: %s\n", err.message);
            goto done;
        }
        fprintf(stderr, "epoch %3zu/%zu  loss %.4f  train acc %.4f  "
                "val acc %.4f  val nll %.4f  %.1f s\n", epoch, o.epochs,
                loss_sum / (double)train.n,
                (double)right / (double)train.n,
                accuracy(val_logits, val.labels, val.n), val_nll,
                now_seconds() - start);
    }

    predict(&net.p, &test, &ws, o.threads, test_logits);
    fprintf(stderr, "train_mlp: test accuracy %.4f; writing %s\n",
            accuracy(test_logits, test.labels, test.n), o.out_dir);
    if (write_outputs(o.out_dir, "val", val_logits, &val) != 0 ||
        write_outputs(o.out_dir, "test", test_logits, &test) != 0)
        goto done;
    rc = 0;

done:
    free(order);
    free(val_logits);
    free(test_logits);
    free(net.block);
    workspace_free(&ws);
    dataset_free(&all);
    dataset_free(&train);
    dataset_free(&val);
    dataset_free(&test);
    return rc;
}
