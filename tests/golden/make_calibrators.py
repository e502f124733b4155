#!/usr/bin/python3
"""Independent reference values for calib's post-hoc calibrators.

Run from the project root with Debian's Python (numpy, scipy, sklearn):
    /usr/bin/python3 tests/golden/make_calibrators.py

Writes tests/golden/calibrators.json, read by tests/test_calibrators_data.c,
and the small synthetic fixtures of tests/cli/run_*.sh in
tests/fixtures/calibrators/ (with their exact temperature).
Only summaries and sampled predictions are stored; the data stays in
../shared/data.

- temperature: on every validation split with logits, the T = 1 / beta that
  zeroes d/dbeta mean NLL(softmax(beta z)), found by scipy.optimize.brentq
  on the derivative in float64 (xtol 1e-15, rtol 4 eps), and cross-checked
  with minimize_scalar(method="bounded") on the NLL itself.
- Platt: binary score s = val_logits[:, 3] of cifar10-resnet50-ce (float32
  values read as float64), label (y == 3); and the same scores times 1e5.
  Reference: sklearn.calibration._sigmoid_calibration (which returns A, B of
  P = 1 / (1 + exp(A s + B)); calib's a, b are -A, -B), plus a tight
  Newton solve of the same objective with scipy (trust-exact) as a second,
  independent answer.
- beta: the same scores, features [ln p, -ln(1 - p)] with p = sigmoid(s)
  clipped to [eps, 1 - eps] (eps = 2^-52), unregularised logistic
  regression (sklearn LogisticRegression(penalty=None, lbfgs, tol 1e-12)),
  then refined by scipy trust-exact; a negative coefficient drops its
  feature as in Kull et al. 2017.
- isotonic: cifar10-vgg16-probs test_probs (float32) column 3 against
  (y == 3): sklearn IsotonicRegression(out_of_bounds="clip") fitted on rows
  0..4999 and predicting rows 5000..9999; and one-vs-rest on all 10 columns
  with rows renormalised (a zero row becomes uniform). Every 10th
  prediction and the sum of all are stored.
- histogram: the same column, 15 equal-width right-closed bins fitted on
  rows 0..4999 (numpy), predictions sampled the same way.
"""
import json
import os
import sys

import numpy as np
from scipy.optimize import brentq, minimize, minimize_scalar
from sklearn.calibration import _sigmoid_calibration
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

DATA = "../shared/data"
OUT = "tests/golden/calibrators.json"
FIXTURES = "tests/fixtures/calibrators"
VAL_SPLITS = ["cifar10-resnet50-ce", "cifar10-resnet50-focal",
              "cifar10lt-densenet40", "cifar10lt-resnet110",
              "cifar10lt-resnet110sd", "cifar10lt-wrn28"]
EPS = np.finfo(np.float64).eps


def temperature_reference(z, y):
    z = z - z.max(axis=1, keepdims=True)
    n = len(y)
    zy = z[np.arange(n), y]

    def nll(beta):
        u = beta * z
        m = u.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(u - m).sum(axis=1))
        return np.mean(lse - beta * zy)

    def d1(beta):
        u = beta * z
        e = np.exp(u - u.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return np.mean((p * z).sum(axis=1) - zy)

    lo, hi = 0.01, 100.0
    assert d1(lo) < 0 < d1(hi)
    beta = brentq(d1, lo, hi, xtol=1e-15, rtol=4 * EPS, maxiter=500)
    check = minimize_scalar(nll, bounds=(beta * 0.5, beta * 2),
                            method="bounded",
                            options={"xatol": 1e-12})
    assert abs(check.x - beta) < 1e-6 * beta, (check.x, beta)
    return {"temperature": 1.0 / beta, "nll_before": nll(1.0),
            "nll_after": nll(beta), "gradient": abs(d1(beta))}


def softplus(u):
    return np.logaddexp(0.0, u)


def logistic_tight(x, t, w0):
    """Minimises sum softplus(x w) - t (x w) by scipy trust-exact."""
    scale = np.abs(x).max(axis=0)
    xs = x / scale

    def f(w):
        u = xs @ w
        return np.sum(softplus(u) - t * u)

    def g(w):
        u = xs @ w
        p = 0.5 * (1 + np.tanh(0.5 * u))
        return xs.T @ (p - t)

    def h(w):
        u = xs @ w
        p = 0.5 * (1 + np.tanh(0.5 * u))
        return (xs * (p * (1 - p))[:, None]).T @ xs

    w = np.asarray(w0, dtype=np.float64) * scale
    for _ in range(3):   # restart: trust-exact stops on its own criteria
        r = minimize(f, w, jac=g, hess=h, method="trust-exact",
                     options={"gtol": 1e-10})
        w = r.x
    return w / scale, np.abs(g(w) / scale).max() / len(t)


def platt_reference(s, y):
    a_skl, b_skl = _sigmoid_calibration(s, y)
    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    x = np.column_stack([s, np.ones_like(s)])
    w, grad = logistic_tight(x, t, [0.0, np.log((n_pos + 1) / (n_neg + 1))])
    return {"sklearn_a": -a_skl, "sklearn_b": -b_skl,
            "a": w[0], "b": w[1], "gradient": grad}


def beta_features(s):
    s_max = np.log1p(-EPS) - np.log(EPS)
    s = np.clip(s, -s_max, s_max)
    return -softplus(-s), softplus(s)


def beta_reference(s, y):
    f1, f2 = beta_features(s)
    feats = np.column_stack([f1, f2])
    use = [0, 1]
    lr = LogisticRegression(penalty=None, solver="lbfgs", tol=1e-12,
                            max_iter=100000).fit(feats, y)
    coef = list(lr.coef_[0])
    if coef[0] < 0 or coef[1] < 0:
        use = [1] if coef[0] < 0 else [0]
        lr = LogisticRegression(penalty=None, solver="lbfgs", tol=1e-12,
                                max_iter=100000).fit(feats[:, use], y)
    x = np.column_stack([feats[:, use], np.ones(len(y))])
    w, grad = logistic_tight(x, y.astype(float), np.zeros(x.shape[1]))
    abc = [0.0, 0.0, w[-1]]
    for i, f in enumerate(use):
        abc[f] = w[i]
    skl = [0.0, 0.0, lr.intercept_[0]]
    for i, f in enumerate(use):
        skl[f] = lr.coef_[0][i]
    return {"a": abc[0], "b": abc[1], "c": abc[2], "gradient": grad,
            "sklearn": skl}


def sample(pred):
    return {"every10": [float(v) for v in pred[::10]],
            "sum": float(np.sum(pred))}


def histogram_fit_predict(p_fit, y_fit, p_new, m):
    edges = np.arange(m + 1) / m   # correctly rounded k / m
    # right-closed (lo, hi], p = 0 in the first bin
    b_fit = np.clip(np.searchsorted(edges, p_fit, side="left") - 1, 0, m - 1)
    b_new = np.clip(np.searchsorted(edges, p_new, side="left") - 1, 0, m - 1)
    values = np.empty(m)
    for b in range(m):
        sel = b_fit == b
        values[b] = y_fit[sel].mean() if sel.any() else 0.5 * (
            edges[b] + edges[b + 1])
    return values[b_new], values


def make_fixtures():
    """Small synthetic inputs for tests/cli/run_*.sh (no data needed):
    4-class logits of an overconfident classifier (300 validation rows,
    200 test rows), one-column binary scores, and the exact temperature of
    the validation split."""
    rng = np.random.default_rng(20240607)
    os.makedirs(FIXTURES, exist_ok=True)

    def logits(n):
        y = rng.integers(0, 4, n)
        z = rng.normal(0.0, 1.0, (n, 4)) * 3.0
        z[np.arange(n), y] += 3.0
        return z, y

    zv, yv = logits(300)
    zt, yt = logits(200)
    np.save(f"{FIXTURES}/val_logits.npy", zv)
    np.save(f"{FIXTURES}/val_labels.npy", yv.astype(np.int64))
    np.save(f"{FIXTURES}/test_logits.npy", zt)
    np.save(f"{FIXTURES}/test_labels.npy", yt.astype(np.int64))
    yb = rng.integers(0, 2, 250)
    sb = rng.normal(0.0, 2.0, 250) + 2.5 * yb - 1.0
    np.save(f"{FIXTURES}/binary_scores.npy", sb)
    np.save(f"{FIXTURES}/binary_labels.npy", yb.astype(np.int64))
    ref = temperature_reference(zv, yv)
    with open(f"{FIXTURES}/expected_temperature.txt", "w") as f:
        f.write("%.17g\n" % ref["temperature"])
    print("fixtures: T =", ref["temperature"])


def main():
    make_fixtures()
    if not os.path.exists(os.path.join(DATA, "README.md")):
        sys.exit("../shared/data not found: run from the project root")
    out = {"temperature": {}}

    for split in VAL_SPLITS:
        z = np.load(f"{DATA}/{split}/val_logits.npy").astype(np.float64)
        y = np.load(f"{DATA}/{split}/val_labels.npy")
        out["temperature"][split] = temperature_reference(z, y)
        print(split, out["temperature"][split])

    z = np.load(f"{DATA}/cifar10-resnet50-ce/val_logits.npy")
    y = np.load(f"{DATA}/cifar10-resnet50-ce/val_labels.npy")
    s = z[:, 3].astype(np.float64)
    yb = (y == 3).astype(np.int64)
    out["platt"] = platt_reference(s, yb)
    out["platt_1e5"] = platt_reference(s * 1e5, yb)
    out["beta"] = beta_reference(s, yb)
    print("platt", out["platt"])
    print("platt_1e5", out["platt_1e5"])
    print("beta", out["beta"])

    p = np.load(f"{DATA}/cifar10-vgg16-probs/test_probs.npy").astype(
        np.float64)
    y = np.load(f"{DATA}/cifar10-vgg16-probs/test_labels.npy")
    fit, new = slice(0, 5000), slice(5000, 10000)
    iso = IsotonicRegression(out_of_bounds="clip").fit(
        p[fit, 3], (y[fit] == 3).astype(float))
    out["isotonic_binary"] = sample(iso.predict(p[new, 3]))
    out["isotonic_binary"]["knots"] = len(iso.X_thresholds_)

    k = p.shape[1]
    q = np.empty((5000, k))
    for j in range(k):
        r = IsotonicRegression(out_of_bounds="clip").fit(
            p[fit, j], (y[fit] == j).astype(float))
        q[:, j] = r.predict(p[new, j])
    sums = q.sum(axis=1, keepdims=True)
    q = np.where(sums > 0, q / np.where(sums > 0, sums, 1), 1.0 / k)
    out["isotonic_ovr"] = sample(q.reshape(-1))

    pred, values = histogram_fit_predict(p[fit, 3], (y[fit] == 3).astype(
        float), p[new, 3], 15)
    out["histogram_binary"] = sample(pred)
    out["histogram_binary"]["values"] = [float(v) for v in values]

    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
