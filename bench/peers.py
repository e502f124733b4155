"""peers.py - the bench's peers: the same computations in NumPy, PyTorch and
scikit-learn, timed on data already in memory.

    /usr/bin/python3 bench/peers.py TASK DIR REPS

TASK is one of
  eval-numpy, eval-torch     all metrics of `calib eval` on DIR/logits.npy
                             and DIR/labels.npy, in float64 like calib:
                             softmax with the max subtracted, accuracy, NLL,
                             Brier, KL to label-smoothed targets (eps 0.1),
                             top-label ECE / MCE / RMSCE and the reliability
                             table with 15 right-closed bins (lo, hi], the
                             first [0, 1/15], equal-mass ECE (15 bins of
                             nearly equal counts) and classwise ECE;
  temperature-torch          the common PyTorch recipe: T = nn.Parameter(1.5),
                             optim.LBFGS([T], lr=0.01, max_iter=50), one
                             step() with a closure on
                             cross_entropy(logits / T) in float32;
  temperature-exact          the optimum of the NLL over T, by Newton's
                             method on beta = 1/T in float64 NumPy to a
                             relative step of 1e-13 (not timed for the
                             table: it is the reference);
  isotonic-sklearn           IsotonicRegression(out_of_bounds="clip").fit on
                             DIR/probs.npy and DIR/blabels.npy;
  platt-sklearn              sklearn.calibration._sigmoid_calibration on
                             DIR/scores.npy and DIR/blabels.npy;
  isotonic-sklearn-full,     the same fits followed by what calib_fit also
  platt-sklearn-full         does: the fitted map applied to every sample
                             (predict, or expit(-(A s + B))) and the mean
                             NLL before and after, so that the row that
                             times calib_fit compares the same work.

Prints one line of key=value pairs: time_s (median of REPS runs, wall clock,
loading excluded, the float32 -> float64 conversion included), best_s, and
the results to compare with calib's. A peer that cannot be imported prints
"skipped=REASON" and exits 0. Conversion to float64, loading and the
computations follow the published formulas (Guo et al. 2017 for ECE and
temperature scaling; Nixon et al. 2019 for classwise and adaptive ECE);
nothing here is copied from another project.
"""
import os
import statistics
import sys
import time

N_BINS = 15
SMOOTHING = 0.1


def timed(fn, reps):
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), out


def report(median, best, extra):
    fields = ["time_s=%.6f" % median, "best_s=%.6f" % best]
    fields += ["%s=%s" % (k, v) for k, v in extra.items()]
    print(" ".join(fields))


def skipped(reason):
    print("skipped=%s" % reason.replace(" ", "_"))
    sys.exit(0)


# ---------------------------------------------------------------- NumPy


def eval_numpy(np, logits32, labels):
    z = logits32.astype(np.float64)
    n, k = z.shape
    rows = np.arange(n)
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    p = e / s
    logp_y = z[rows, labels] - m[:, 0] - np.log(s[:, 0])
    nll = -logp_y.mean()
    p_y = p[rows, labels]
    brier = ((p * p).sum(axis=1) - 2.0 * p_y + 1.0).mean()
    # KL(q || p) = sum_k q_k log q_k - sum_k q_k log p_k, log p = z - lse
    lse = m[:, 0] + np.log(s[:, 0])
    off, on = SMOOTHING / k, 1.0 - SMOOTHING + SMOOTHING / k
    entropy_term = (k - 1) * off * np.log(off) + on * np.log(on)
    cross = off * (z.sum(axis=1) - k * lse) + (on - off) * logp_y
    kl = (entropy_term - cross).mean()
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == labels).astype(np.float64)
    accuracy = correct.mean()
    edges = np.arange(N_BINS + 1) / N_BINS
    # right-closed bins: b such that edges[b] < c <= edges[b+1]; 0 in bin 0
    b = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, N_BINS - 1)
    cnt = np.bincount(b, minlength=N_BINS)
    sc = np.bincount(b, weights=conf, minlength=N_BINS)
    sa = np.bincount(b, weights=correct, minlength=N_BINS)
    gap = np.abs(sa - sc) / np.maximum(cnt, 1)
    ece = (cnt * gap).sum() / n
    mce = gap[cnt > 0].max()
    rmsce = np.sqrt((cnt * gap * gap).sum() / n)
    # equal-mass: sort by confidence, split into N_BINS nearly equal parts
    order = np.argsort(conf, kind="stable")
    ace = 0.0
    for part in np.array_split(order, N_BINS):
        if part.size:
            ace += abs(correct[part].sum() - conf[part].sum())
    ace /= n
    # classwise: every p_k against 1[label == k], same bins, mean over k
    bk = np.clip(np.searchsorted(edges, p, side="left") - 1, 0, N_BINS - 1)
    idx = (np.arange(k)[None, :] * N_BINS + bk).ravel()
    ccnt = np.bincount(idx, minlength=k * N_BINS)
    cconf = np.bincount(idx, weights=p.ravel(), minlength=k * N_BINS)
    hit = np.zeros(n * k)
    hit[rows * k + labels] = 1.0
    chit = np.bincount(idx, weights=hit, minlength=k * N_BINS)
    classwise = (np.abs(chit - cconf).reshape(k, N_BINS).sum(axis=1)
                 / n).mean()
    return dict(accuracy=accuracy, nll=nll, brier=brier, kl_smoothed=kl,
                ece=ece, mce=mce, rmsce=rmsce, ace=ace,
                classwise_ece=classwise)


# ---------------------------------------------------------------- PyTorch


def eval_torch(torch, logits32, labels):
    z = logits32.to(torch.float64)
    n, k = z.shape
    rows = torch.arange(n)
    logp = torch.log_softmax(z, dim=1)
    p = logp.exp()
    logp_y = logp[rows, labels]
    nll = -logp_y.mean()
    p_y = p[rows, labels]
    brier = ((p * p).sum(dim=1) - 2.0 * p_y + 1.0).mean()
    off, on = SMOOTHING / k, 1.0 - SMOOTHING + SMOOTHING / k
    q = torch.full_like(p, off)
    q[rows, labels] = on
    kl = (q * (q.log() - logp)).sum(dim=1).mean()
    conf, pred = p.max(dim=1)
    correct = (pred == labels).to(torch.float64)
    accuracy = correct.mean()
    edges = torch.arange(N_BINS + 1, dtype=torch.float64) / N_BINS
    # bucketize(right=False) gives i with edges[i-1] < x <= edges[i]
    b = (torch.bucketize(conf, edges) - 1).clamp(0, N_BINS - 1)
    cnt = torch.bincount(b, minlength=N_BINS).to(torch.float64)
    sc = torch.bincount(b, weights=conf, minlength=N_BINS)
    sa = torch.bincount(b, weights=correct, minlength=N_BINS)
    gap = (sa - sc).abs() / cnt.clamp(min=1)
    ece = (cnt * gap).sum() / n
    mce = gap[cnt > 0].max()
    rmsce = ((cnt * gap * gap).sum() / n).sqrt()
    order = torch.argsort(conf, stable=True)
    ace = torch.zeros((), dtype=torch.float64)
    for part in torch.tensor_split(order, N_BINS):
        if part.numel():
            ace += (correct[part].sum() - conf[part].sum()).abs()
    ace /= n
    bk = (torch.bucketize(p, edges) - 1).clamp(0, N_BINS - 1)
    idx = (torch.arange(k)[None, :] * N_BINS + bk).reshape(-1)
    ccnt = torch.bincount(idx, minlength=k * N_BINS)
    cconf = torch.bincount(idx, weights=p.reshape(-1), minlength=k * N_BINS)
    hit = torch.zeros(n * k, dtype=torch.float64)
    hit[rows * k + labels] = 1.0
    chit = torch.bincount(idx, weights=hit, minlength=k * N_BINS)
    del ccnt
    classwise = ((chit - cconf).abs().reshape(k, N_BINS).sum(dim=1)
                 / n).mean()
    out = dict(accuracy=accuracy, nll=nll, brier=brier, kl_smoothed=kl,
               ece=ece, mce=mce, rmsce=rmsce, ace=ace,
               classwise_ece=classwise)
    return {key: float(v) for key, v in out.items()}


def temperature_torch(torch, logits32, labels):
    nn, optim = torch.nn, torch.optim
    t = nn.Parameter(torch.ones(1) * 1.5)
    opt = optim.LBFGS([t], lr=0.01, max_iter=50)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(logits32 / t, labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(t.detach()[0])


def temperature_exact(np, logits32, labels):
    """Newton on beta = 1/T with a backtracking line search: NLL(beta) =
    mean(lse(beta z) - beta z_y) is convex in beta, with derivative
    mean(E_p[z] - z_y) and second derivative mean(Var_p[z]) under
    p = softmax(beta z). Stops when the step is below 1e-13 relative."""
    z = logits32.astype(np.float64)
    n = z.shape[0]
    z_y = z[np.arange(n), labels]

    def nll_grad_hess(beta):
        s = beta * z
        m = s.max(axis=1, keepdims=True)
        w = np.exp(s - m)
        tot = w.sum(axis=1, keepdims=True)
        nll = (m[:, 0] + np.log(tot[:, 0]) - beta * z_y).mean()
        w /= tot
        mean_z = (w * z).sum(axis=1)
        var_z = (w * z * z).sum(axis=1) - mean_z * mean_z
        return nll, (mean_z - z_y).mean(), var_z.mean()

    beta = 1.0
    f, g, h = nll_grad_hess(beta)
    for _ in range(200):
        step = g / h if h > 0 else g
        while True:
            trial = beta - step
            if trial > 0:
                ft, gt, ht = nll_grad_hess(trial)
                if ft <= f:
                    break
            step *= 0.5
            if abs(step) <= 1e-16 * beta:
                return 1.0 / beta
        beta, f, g, h = trial, ft, gt, ht
        if abs(step) <= 1e-13 * beta:
            break
    return 1.0 / beta


# ------------------------------------------------- binary calibrators


def mean_nll_binary(np, q, y):
    """Mean -log of the probability given to the label, q = P(y = 1)."""
    with np.errstate(divide="ignore"):
        return -np.log(np.where(y == 1, q, 1.0 - q)).mean()


def isotonic_full(np, isotonic_regression, p, y):
    ir = isotonic_regression(out_of_bounds="clip").fit(p, y)
    q = ir.predict(p)
    return dict(nll_before=mean_nll_binary(np, p, y),
                nll_after=mean_nll_binary(np, q, y))


def platt_full(np, sigmoid_calibration, expit, s, y):
    a, b = sigmoid_calibration(s, y)
    q = expit(-(a * s + b))
    # the scores are log-odds: -log sigmoid(+-s) = logaddexp(0, -+s)
    before = np.where(y == 1, np.logaddexp(0.0, -s),
                      np.logaddexp(0.0, s)).mean()
    return dict(a=a, b=b, nll_before=before,
                nll_after=mean_nll_binary(np, q, y))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: peers.py TASK DIR REPS")
    task, data, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        import numpy as np
    except ImportError:
        skipped("numpy not installed")

    if task in ("eval-numpy", "eval-torch", "temperature-torch",
                "temperature-exact"):
        logits = np.load(data + "/logits.npy")
        labels = np.load(data + "/labels.npy").astype(np.int64)
    if task == "eval-numpy":
        med, best, out = timed(lambda: eval_numpy(np, logits, labels), reps)
        report(med, best, {k: "%.17g" % v for k, v in out.items()})
    elif task in ("eval-torch", "temperature-torch"):
        try:
            import torch
        except ImportError:
            skipped("torch not installed")
        # all cores, as calib uses by default (torch 1.13 here starts
        # with one thread on this machine)
        torch.set_num_threads(os.cpu_count() or 1)
        zt = torch.from_numpy(logits)
        yt = torch.from_numpy(labels)
        if task == "eval-torch":
            med, best, out = timed(lambda: eval_torch(torch, zt, yt), reps)
            out = {k: "%.17g" % v for k, v in out.items()}
        else:
            med, best, t = timed(lambda: temperature_torch(torch, zt, yt),
                                 reps)
            out = {"temperature": "%.17g" % t}
        out["threads"] = torch.get_num_threads()
        report(med, best, out)
    elif task == "temperature-exact":
        med, best, t = timed(lambda: temperature_exact(np, logits, labels), 1)
        report(med, best, {"temperature": "%.17g" % t})
    elif task == "isotonic-sklearn":
        try:
            from sklearn.isotonic import IsotonicRegression
        except ImportError:
            skipped("sklearn not installed")
        p = np.load(data + "/probs.npy")
        y = np.load(data + "/blabels.npy").astype(np.float64)
        med, best, _ = timed(
            lambda: IsotonicRegression(out_of_bounds="clip").fit(p, y), reps)
        report(med, best, {})
    elif task == "isotonic-sklearn-full":
        try:
            from sklearn.isotonic import IsotonicRegression
        except ImportError:
            skipped("sklearn not installed")
        p = np.load(data + "/probs.npy")
        y = np.load(data + "/blabels.npy").astype(np.float64)
        med, best, out = timed(lambda: isotonic_full(np, IsotonicRegression,
                                                     p, y), reps)
        report(med, best, {k: "%.17g" % v for k, v in out.items()})
    elif task == "platt-sklearn-full":
        try:
            from sklearn.calibration import _sigmoid_calibration
            from scipy.special import expit
        except ImportError:
            skipped("sklearn not installed")
        s = np.load(data + "/scores.npy")
        y = np.load(data + "/blabels.npy")
        med, best, out = timed(lambda: platt_full(np, _sigmoid_calibration,
                                                  expit, s, y), reps)
        report(med, best, {k: "%.17g" % v for k, v in out.items()})
    elif task == "platt-sklearn":
        try:
            from sklearn.calibration import _sigmoid_calibration
        except ImportError:
            skipped("sklearn not installed")
        s = np.load(data + "/scores.npy")
        y = np.load(data + "/blabels.npy")
        med, best, ab = timed(lambda: _sigmoid_calibration(s, y), reps)
        report(med, best, {"a": "%.17g" % ab[0], "b": "%.17g" % ab[1]})
    else:
        sys.exit("peers.py: unknown task " + task)


if __name__ == "__main__":
    main()
