#!/usr/bin/python3
"""make_fixtures.py - the small synthetic inputs of tests/cli/eval_*.sh.

Run from the project root: /usr/bin/python3 tests/cli/eval/make_fixtures.py
Writes tiny .npy/.csv files (made up here, seed 7) next to this script:
good inputs for each input kind and one file for each kind of bad input.
"""
import numpy as np

D = "tests/cli/eval/"
rng = np.random.default_rng(7)

logits = rng.normal(0.0, 2.0, size=(12, 3)).astype(np.float32)
labels = rng.integers(0, 3, size=12).astype(np.int64)
np.save(D + "logits.npy", logits)
np.save(D + "labels.npy", labels)

z = logits.astype(np.float64)
e = np.exp(z - z.max(axis=1, keepdims=True))
probs = e / e.sum(axis=1, keepdims=True)
np.save(D + "probs.npy", probs)
with open(D + "probs.csv", "w") as f:
    f.write("p0,p1,label,p2\n")
    for p, y in zip(probs, labels):
        f.write("%.17g,%.17g,%d,%.17g\n" % (p[0], p[1], y, p[2]))

binary = rng.uniform(0.0, 1.0, size=10)
binary_labels = (rng.uniform(size=10) < binary).astype(np.int64)
np.save(D + "binary_probs.npy", binary)
np.save(D + "binary_labels.npy", binary_labels)

with open(D + "toplabel.csv", "w") as f:
    f.write("true_label,pred_label,confidence\n")
    for p, y in zip(probs, labels):
        f.write("%d,%d,%.17g\n" % (y, p.argmax(), p.max()))

# bad inputs, one fault each
bad = logits.copy()
bad[2, 1] = np.nan
bad[5, 0] = np.inf
np.save(D + "logits_nan.npy", bad)
out_of_range = labels.copy()
out_of_range[4] = 3
np.save(D + "labels_range.npy", out_of_range)
negative = labels.copy()
negative[7] = -2
np.save(D + "labels_negative.npy", negative)
np.save(D + "labels_short.npy", labels[:10])
off = probs.copy()
off[3] *= 0.9
np.save(D + "probs_sum.npy", off)
zero_p = probs.copy()
zero_p[1] = 0.0
zero_p[1, (labels[1] + 1) % 3] = 1.0
np.save(D + "probs_zero.npy", zero_p)
np.save(D + "empty.npy", np.zeros((0, 3), dtype=np.float32))
np.save(D + "labels_empty.npy", np.zeros(0, dtype=np.int64))
np.save(D + "noclasses.npy", np.zeros((12, 0), dtype=np.float32))
with open(D + "logits.npy", "rb") as f:
    whole = f.read()
with open(D + "truncated.npy", "wb") as f:
    f.write(whole[:len(whole) - 20])
