#!/usr/bin/python3
"""Reference values and gradients of calib's training losses, from PyTorch.

Run with Debian's Python (python3-torch): /usr/bin/python3 make_losses.py
Writes losses.json next to this script: for each case the inputs (logits,
labels, options, dtype), the mean loss and its gradient with respect to the
logits computed by autograd in float64. MMCE (Kumar et al. 2018) and the
soft-binned ECE (Karandikar et al. 2021) are written here from the papers'
formulas, as the O(N^2) / O(N M) expressions, so that autograd checks the
C code's O(N log N) form and its hand-derived gradients.
"""
import json
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

DEFAULTS = dict(smoothing=0.1, lambda_=0.1, gamma=3.0, mmce_width=0.4,
                soft_ece_bins=15, soft_ece_temperature=0.01)


def smoothed_targets(y, k, eps):
    q = torch.full((y.shape[0], k), eps / k)
    q[torch.arange(y.shape[0]), y] += 1.0 - eps
    return q


def loss_value(kind, z, y, o):
    n, k = z.shape
    logp = torch.log_softmax(z, dim=1)
    p = logp.exp()
    rows = torch.arange(n)
    ce = -logp[rows, y]
    q = smoothed_targets(y, k, o["smoothing"])
    safe_q = torch.where(q > 0, q, torch.ones_like(q))
    kl = (q * (torch.log(safe_q) - logp)).sum(dim=1)
    if kind == "ce":
        return ce.mean()
    if kind == "smoothed":
        return (-(q * logp).sum(dim=1)).mean()
    if kind == "kl":
        return kl.mean()
    if kind == "joint":
        return (ce + o["lambda_"] * kl).mean()
    if kind in ("focal", "focal-adaptive"):
        p_y = p[rows, y]
        if kind == "focal":
            g = torch.full((n,), o["gamma"])
        else:
            pd = p_y.detach()
            g = torch.where(pd < 0.2, torch.full((n,), 5.0),
                            torch.where(pd < 0.5, torch.full((n,), 3.0),
                                        torch.full((n,), o["gamma"])))
        return (-(1.0 - p_y) ** g * logp[rows, y]).mean()
    conf, top = p.max(dim=1)
    correct = (top == y).to(z.dtype)
    if kind == "mmce":
        a = correct - conf
        kern = torch.exp(-(conf[:, None] - conf[None, :]).abs()
                         / o["mmce_width"])
        s = (a[:, None] * a[None, :] * kern).sum()
        return torch.sqrt(s) / n
    if kind == "soft-ece":
        m = o["soft_ece_bins"]
        centres = (torch.arange(m) + 0.5) / m
        u = torch.softmax(-(conf[:, None] - centres[None, :]) ** 2
                          / o["soft_ece_temperature"], dim=1)
        count = u.sum(dim=0)
        acc = (u * correct[:, None]).sum(dim=0) / count
        cnf = (u * conf[:, None]).sum(dim=0) / count
        return torch.sqrt(((count / n) * (acc - cnf) ** 2).sum())
    raise ValueError(kind)


INPUTS = {}


def add_input(name, logits, labels, dtype="float64"):
    logits = np.asarray(logits, dtype=np.float64)
    if dtype == "float32":
        logits = logits.astype(np.float32).astype(np.float64)
    INPUTS[name] = {"dtype": dtype, "n": logits.shape[0],
                    "k": logits.shape[1],
                    "logits": [float(v) for v in logits.ravel()],
                    "labels": [int(v) for v in labels]}


def case(name, kind, input_name, **opts):
    o = dict(DEFAULTS)
    o.update(opts)
    inp = INPUTS[input_name]
    logits = np.array(inp["logits"]).reshape(inp["n"], inp["k"])
    z = torch.tensor(logits, requires_grad=True)
    y = torch.tensor(inp["labels"], dtype=torch.int64)
    value = loss_value(kind, z, y, o)
    value.backward()
    return {
        "name": name, "loss": kind, "input": input_name,
        "options": {"smoothing": o["smoothing"], "lambda": o["lambda_"],
                    "gamma": o["gamma"], "mmce_width": o["mmce_width"],
                    "soft_ece_bins": o["soft_ece_bins"],
                    "soft_ece_temperature": o["soft_ece_temperature"]},
        "value": float(value.item()),
        "grad": [float(v) for v in z.grad.numpy().ravel()],
    }


def main():
    rng = np.random.default_rng(20240611)
    n, k = 12, 5
    logits = rng.normal(0.0, 2.5, size=(n, k))
    labels = rng.integers(0, k, size=n)
    # make about two thirds of the rows predict their label, so MMCE and
    # soft-ECE see both correct and wrong rows
    for i in range(0, n, 3):
        logits[i, labels[i]] += 4.0
    for i in range(1, n, 3):
        logits[i, labels[i]] += 2.0
    add_input("small", logits, labels)
    add_input("small-float32", logits, labels, dtype="float32")
    # ten classes, a larger batch and bigger logits
    big = rng.normal(0.0, 6.0, size=(20, 10))
    big_labels = rng.integers(0, 10, size=20)
    for i in range(0, 20, 2):
        big[i, big_labels[i]] += 5.0
    add_input("k10", big, big_labels)

    cases = []
    for kind in ("ce", "smoothed", "kl", "joint", "focal", "focal-adaptive",
                 "mmce", "soft-ece"):
        cases.append(case(kind + "-default", kind, "small"))
        cases.append(case(kind + "-float32", kind, "small-float32"))
    cases.append(case("smoothed-eps0.3", "smoothed", "small", smoothing=0.3))
    cases.append(case("kl-eps0", "kl", "small", smoothing=0.0))
    cases.append(case("kl-eps1", "kl", "small", smoothing=1.0))
    cases.append(case("joint-l0.5-eps0.2", "joint", "small", lambda_=0.5,
                      smoothing=0.2))
    cases.append(case("joint-l0", "joint", "small", lambda_=0.0))
    cases.append(case("focal-g0", "focal", "small", gamma=0.0))
    cases.append(case("focal-g0.5", "focal", "small", gamma=0.5))
    cases.append(case("focal-g2", "focal", "small", gamma=2.0))
    cases.append(case("focal-adaptive-g1", "focal-adaptive", "small",
                      gamma=1.0))
    cases.append(case("mmce-w0.1", "mmce", "small", mmce_width=0.1))
    cases.append(case("mmce-w2", "mmce", "small", mmce_width=2.0))
    cases.append(case("soft-ece-5-0.05", "soft-ece", "small",
                      soft_ece_bins=5, soft_ece_temperature=0.05))
    cases.append(case("soft-ece-20-0.002", "soft-ece", "small",
                      soft_ece_bins=20, soft_ece_temperature=0.002))
    for kind in ("ce", "joint", "focal", "focal-adaptive", "mmce",
                 "soft-ece"):
        cases.append(case(kind + "-k10", kind, "k10"))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "losses.json")
    with open(out, "w") as f:
        # one input or case per line keeps the file small, diffs readable
        f.write('{"made_by": "tests/golden/make_losses.py", "torch": %s,\n'
                % json.dumps(torch.__version__))
        f.write(' "inputs": {\n')
        f.write(",\n".join("%s: %s" % (json.dumps(name), json.dumps(v))
                           for name, v in INPUTS.items()))
        f.write('},\n "cases": [\n')
        f.write(",\n".join(json.dumps(c) for c in cases))
        f.write("\n]}\n")


def cli_fixture():
    """A small input for tests/cli/loss_*.sh: loss_logits.npy (6 x 3,
    float64, one row at logits 1e4), loss_labels.npy, and loss_expected.txt
    with one line "NAME VALUE" per loss and the joint loss's gradient as
    "grad VALUE..." (row-major)."""
    here = os.path.dirname(os.path.abspath(__file__))
    logits = np.array([[1e4, 1e4, -1e4],
                       [2.5, 0.3, -1.1],
                       [0.2, 1.7, 0.4],
                       [-0.6, 0.1, 3.2],
                       [1.1, 1.0, 0.9],
                       [4.0, -2.0, 0.5]])
    labels = np.array([0, 0, 2, 2, 1, 1], dtype=np.int64)
    np.save(os.path.join(here, "loss_logits.npy"), logits)
    np.save(os.path.join(here, "loss_labels.npy"), labels)
    add_input("cli", logits, labels)
    lines = []
    for kind in ("ce", "smoothed", "kl", "joint", "focal", "focal-adaptive",
                 "mmce", "soft-ece"):
        c = case(kind, kind, "cli")
        lines.append("%s %r" % (kind, c["value"]))
        if kind == "joint":
            grad = c["grad"]
    c = case("joint-l0.5", "joint", "cli", lambda_=0.5, smoothing=0.2)
    lines.append("joint-l0.5-eps0.2 %r" % c["value"])
    lines.append("grad " + " ".join(repr(g) for g in grad))
    with open(os.path.join(here, "loss_expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
    cli_fixture()
