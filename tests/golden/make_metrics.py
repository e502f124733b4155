#!/usr/bin/python3
"""make_metrics.py - golden values for calib's metrics on the real files in
../shared/data, computed independently with NumPy (and cross-checked with
scikit-learn where its definition is the same).

Run from the project root with Debian's Python (numpy, sklearn):
    /usr/bin/python3 tests/golden/make_metrics.py
It writes tests/golden/metrics_<dataset>.json; tests/test_metrics_golden.c
reads them and compares calib_evaluate within 1e-12 (relative).

Definitions (docs/metrics.md): everything in float64 (float32 inputs are
widened first); softmax and log-softmax with the max subtracted; top label
= first index of the largest probability; equal-width edges k / M with
(lo, hi] bins (first [0, 1/M]) under the "right" rule and [lo, hi) bins
(last [1 - 1/M, 1]) under "left"; equal-mass bins: sorted confidences, bin
b ends at floor(b N / M + 1/2) moved up past ties, empty bins dropped.
"""
import json
import os
import sys

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import log_loss

DATA = "../shared/data"
OUT = "tests/golden"


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def width_bins(conf, m, rule):
    """Bin index of each confidence by comparison with the edges k / M."""
    inner = np.arange(1, m, dtype=np.float64) / m
    side = "left" if rule == "right" else "right"
    return np.searchsorted(inner, conf, side=side)


def table_from(conf, hit, index, n_bins):
    rows = []
    for b in range(n_bins):
        sel = index == b
        count = int(sel.sum())
        rows.append({
            "count": count,
            "confidence": float(conf[sel].mean()) if count else 0.0,
            "accuracy": float(hit[sel].mean()) if count else 0.0,
        })
    return rows


def errors(rows, n):
    ece = mce = sq = 0.0
    for r in rows:
        if r["count"] == 0:
            continue
        gap = abs(r["accuracy"] - r["confidence"])
        ece += r["count"] / n * gap
        sq += r["count"] / n * gap * gap
        mce = max(mce, gap)
    return ece, mce, float(np.sqrt(sq))


def mass_rows(conf, hit, m):
    order = np.argsort(conf, kind="stable")
    c, h = conf[order], hit[order]
    n = len(c)
    rows, start = [], 0
    for b in range(1, m + 1):
        end = min(n, (2 * b * n + m) // (2 * m))
        if end <= start:
            continue
        while end < n and c[end] == c[end - 1]:
            end += 1
        rows.append({
            "count": end - start,
            "confidence": float(c[start:end].mean()),
            "accuracy": float(h[start:end].mean()),
            "lo": float(c[start]),
            "hi": float(c[end - 1]),
        })
        start = end
    return rows


def full_metrics(p, logp, y, m, rule, scheme, eps):
    n, k = p.shape
    top = p.argmax(axis=1)              # first index of the maximum
    conf = p[np.arange(n), top]
    hit = (top == y).astype(np.float64)
    onehot = np.zeros_like(p)
    onehot[np.arange(n), y] = 1.0

    out = {"accuracy": float(hit.mean()),
           "mean_confidence": float(conf.mean()),
           "nll": float(-logp[np.arange(n), y].mean()),
           "brier": float(((p - onehot) ** 2).sum(axis=1).mean())}
    q = (1 - eps) * onehot + eps / k
    with np.errstate(divide="ignore", invalid="ignore"):
        qlogq = np.where(q > 0, q * np.log(q), 0.0)
    out["kl_smoothed"] = float((qlogq - q * logp).sum(axis=1).mean())

    width = table_from(conf, hit, width_bins(conf, m, rule), m)
    mass = mass_rows(conf, hit, m)
    out["ace"] = errors(mass, n)[0]
    rows = mass if scheme == "mass" else width
    out["ece"], out["mce"], out["rmsce"] = errors(rows, n)
    out["bins"] = rows

    cw = 0.0
    for c in range(k):
        pc = p[:, c]
        yc = (y == c).astype(np.float64)
        cw += errors(table_from(pc, yc, width_bins(pc, m, rule), m), n)[0]
    out["classwise_ece"] = cw / k
    return out, conf, hit


def toplabel_metrics(conf, hit, m, rule, scheme):
    n = len(conf)
    out = {"accuracy": float(hit.mean()),
           "mean_confidence": float(conf.mean())}
    width = table_from(conf, hit, width_bins(conf, m, rule), m)
    mass = mass_rows(conf, hit, m)
    out["ace"] = errors(mass, n)[0]
    rows = mass if scheme == "mass" else width
    out["ece"], out["mce"], out["rmsce"] = errors(rows, n)
    out["bins"] = rows
    return out


def cross_check(name, p, y, res, conf, hit, m, rule, scheme):
    """scikit-learn where it computes the same thing."""
    k = p.shape[1]
    if np.all(p[np.arange(len(y)), y] > 1e-15):
        sk = log_loss(y, p, labels=list(range(k)))
        # sklearn renormalises rows; ours are checked to sum to 1 instead
        assert abs(sk - res["nll"]) < 1e-6 * max(1, res["nll"]), (name, sk)
    if rule == "right" and scheme == "width":
        # sklearn 1.2 places values with searchsorted(side="left"): (lo, hi]
        acc, mean_conf = calibration_curve(hit, conf, n_bins=m)
        ours = [r for r in res["bins"] if r["count"] > 0]
        assert len(ours) == len(acc), name
        for r, a, c in zip(ours, acc, mean_conf):
            assert abs(r["accuracy"] - a) < 1e-12, (name, r, a)
            assert abs(r["confidence"] - c) < 1e-12, (name, r, c)


def case_matrix(name, input_kind, preds, labels, m, rule, scheme, eps=0.1):
    z = np.load(os.path.join(DATA, preds.split(":")[0]))
    y = np.load(os.path.join(DATA, labels.split(":")[0]))
    if ":" in preds:
        z = z[preds.split(":")[1]]
    if ":" in labels:
        y = y[labels.split(":")[1]]
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    if input_kind == "logits":
        logp = log_softmax(z)
        # p as exp(z - max) / sum, the definition; not exp(log p)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    else:
        p = z
        assert np.all(np.abs(p.sum(axis=1) - 1) <= 1e-4), name
        with np.errstate(divide="ignore"):
            logp = np.log(p)
    res, conf, hit = full_metrics(p, logp, y, m, rule, scheme, eps)
    cross_check(name, p, y, res, conf, hit, m, rule, scheme)
    return {"name": name, "input": input_kind, "preds": preds,
            "labels": labels, "n_bins": m, "bin_rule": rule,
            "scheme": scheme, "smoothing": eps, "n": int(len(y)),
            "classes": int(p.shape[1]), "expected": res}


def case_toplabel(name, path, m, rule, scheme):
    import csv
    with open(os.path.join(DATA, path)) as f:
        rows = list(csv.DictReader(f))
    conf = np.array([float(r["confidence"]) for r in rows])
    hit = np.array([float(int(r["true_label"]) == int(r["pred_label"]))
                    for r in rows])
    res = toplabel_metrics(conf, hit, m, rule, scheme)
    return {"name": name, "input": "toplabel", "preds": path,
            "labels": None, "n_bins": m, "bin_rule": rule, "scheme": scheme,
            "smoothing": 0.1, "n": len(rows), "classes": None,
            "expected": res}


def write(dataset, cases):
    path = os.path.join(OUT, "metrics_%s.json" % dataset)
    doc = {"made_by": "tests/golden/make_metrics.py",
           "numpy": np.__version__, "data": DATA, "cases": cases}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    print("wrote", path, len(cases), "cases")


def main():
    if not os.path.isdir(DATA):
        sys.exit("no %s: run from the project root" % DATA)
    lg = "cifar10-resnet50-ce/"
    write("cifar10_resnet50_ce", [
        case_matrix("resnet50 logits, right", "logits",
                    lg + "test_logits.npy", lg + "test_labels.npy",
                    15, "right", "width"),
        case_matrix("resnet50 logits, left", "logits",
                    lg + "test_logits.npy", lg + "test_labels.npy",
                    15, "left", "width"),
        case_matrix("resnet50 logits, mass, 10 bins", "logits",
                    lg + "test_logits.npy", lg + "test_labels.npy",
                    10, "right", "mass", eps=0.05),
    ])
    vg = "cifar10-vgg16-probs/"
    write("cifar10_vgg16_probs", [
        case_matrix("vgg16 probs, right", "probs", vg + "test_probs.npy",
                    vg + "test_labels.npy", 15, "right", "width"),
        case_matrix("vgg16 probs, left, 20 bins", "probs",
                    vg + "test_probs.npy", vg + "test_labels.npy",
                    20, "left", "width"),
    ])
    nc = "netcal-probs/wideresnet-16-4-cifar-100.npz"
    write("netcal_wideresnet_cifar100", [
        case_matrix("wideresnet cifar-100 probs, right", "probs",
                    nc + ":predictions", nc + ":ground_truth",
                    15, "right", "width"),
        case_matrix("wideresnet cifar-100 probs, left", "probs",
                    nc + ":predictions", nc + ":ground_truth",
                    15, "left", "width"),
    ])
    tl = "imagenet-toplabel/timm_efficientnet_b1.csv"
    write("imagenet_efficientnet_b1", [
        case_toplabel("efficientnet_b1 top-label, right", tl, 15, "right",
                      "width"),
        case_toplabel("efficientnet_b1 top-label, left", tl, 15, "left",
                      "width"),
        case_toplabel("efficientnet_b1 top-label, mass", tl, 15, "right",
                      "mass"),
    ])


if __name__ == "__main__":
    main()
