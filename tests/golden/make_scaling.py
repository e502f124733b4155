#!/usr/bin/python3
"""Reference optima of vector, matrix and Dirichlet scaling for calib's tests.

Run from the project root with Debian's Python (numpy, scipy):
    /usr/bin/python3 tests/golden/make_scaling.py

For each validation split below and each method it minimises, with SciPy's
L-BFGS-B and tight tolerances, the same objective as src/scaling.c
(docs/scaling.md):
    L = mean_i -log softmax(W x_i + b)_{y_i} + R(W, b)
    vector:    W = diag(w), R = l2 * (|w - 1|^2 + |b|^2)
    matrix:    R = l2 * (|W - I|_F^2 + |b|^2)
    dirichlet: x = log softmax(logits),
               R = lambda / (k (k - 1)) * sum_{r != c} W_rc^2 + mu / k * |b|^2
starting from the identity map, and writes the optimum's objective, NLL,
largest gradient component and parameters (layout of src/scaling.h) to
tests/golden/scaling_<split>_<method>.json. tests/test_scaling_data.c checks
that calib reaches an objective no worse than this one. The data stays in
../shared/data; only these summaries are stored.
"""
import json
import os
import sys

import numpy as np
import scipy
from scipy.optimize import minimize

DATA = "../shared/data"
SPLITS = ["cifar10-resnet50-ce", "cifar10lt-resnet110"]
METHODS = ["vector", "matrix", "dirichlet"]
# calib_fit_options_default's values
L2 = 1e-4
LAMBDA = 1e-3
MU = 1e-3


def log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))


def unpack(method, theta, k):
    if method == "vector":
        return np.diag(theta[:k]), theta[k:]
    return theta[: k * k].reshape(k, k), theta[k * k:]


def objective(method, theta, x, y, k):
    """Objective, mean NLL and gradient at theta."""
    n = x.shape[0]
    W, b = unpack(method, theta, k)
    z = x @ W.T + b
    logp = log_softmax(z)
    nll = -logp[np.arange(n), y].mean()
    d = np.exp(logp)
    d[np.arange(n), y] -= 1.0
    gW = d.T @ x / n
    gb = d.sum(axis=0) / n
    eye = np.eye(k)
    if method == "dirichlet":
        off = 1.0 - eye
        a_w = LAMBDA / (k * (k - 1))
        a_b = MU / k
        reg = a_w * np.sum((W * off) ** 2) + a_b * np.sum(b * b)
        gW = gW + 2.0 * a_w * W * off
        gb = gb + 2.0 * a_b * b
    else:
        reg = L2 * (np.sum((W - eye) ** 2) + np.sum(b * b))
        gW = gW + 2.0 * L2 * (W - eye)
        gb = gb + 2.0 * L2 * b
        if method == "vector":
            gW = np.diag(gW)
    grad = np.concatenate([gW.ravel(), gb])
    return nll + reg, nll, grad


def fit(method, x, y, k):
    weights = np.eye(k).ravel() if method != "vector" else np.ones(k)
    theta = np.concatenate([weights, np.zeros(k)])
    f0, nll0, _ = objective(method, theta, x, y, k)
    fun = lambda t: objective(method, t, x, y, k)[::2]
    opts = dict(maxiter=100000, maxfun=400000, maxcor=30, ftol=1e-16,
                gtol=1e-12)
    best = None
    iterations = 0
    # restarts from the last optimum squeeze out what one run leaves
    for _ in range(4):
        res = minimize(fun, theta, jac=True, method="L-BFGS-B", options=opts)
        if best is not None and not res.fun < best.fun:
            break
        best = res
        theta = res.x
        iterations += int(res.nit)
    f, nll, g = objective(method, best.x, x, y, k)
    return dict(objective=f, nll=nll, nll_identity=nll0,
                objective_identity=f0, gradient_max=float(np.abs(g).max()),
                iterations=iterations, message=str(best.message),
                params=[float(v) for v in best.x])


def main():
    if not os.path.isdir(DATA):
        sys.exit("make_scaling.py: %s not found (run from the project root)"
                 % DATA)
    for split in SPLITS:
        logits = np.load(os.path.join(DATA, split, "val_logits.npy"))
        labels = np.load(os.path.join(DATA, split, "val_labels.npy"))
        z = logits.astype(np.float64)
        n, k = z.shape
        for method in METHODS:
            x = log_softmax(z) if method == "dirichlet" else z
            ref = fit(method, x, labels, k)
            out = dict(
                split=split,
                logits="val_logits.npy",
                labels="val_labels.npy",
                method=method,
                input="log_softmax(logits)" if method == "dirichlet"
                else "logits",
                n=n, classes=k,
                options=dict(l2=L2, dirichlet_lambda=LAMBDA,
                             dirichlet_mu=MU),
                scipy_version=scipy.__version__,
                numpy_version=np.__version__,
                **ref)
            path = "tests/golden/scaling_%s_%s.json" % (split, method)
            with open(path, "w") as f:
                json.dump(out, f, indent=1)
                f.write("\n")
            print("%s %s: objective %.17g nll %.6f -> %.6f, |g| %.2e, "
                  "%d iterations, %s" % (split, method, ref["objective"],
                                         ref["nll_identity"], ref["nll"],
                                         ref["gradient_max"],
                                         ref["iterations"], ref["message"]))


if __name__ == "__main__":
    main()
