#!/usr/bin/python3
"""Golden values of every array in ../shared/data for test_readers_data.c.

Run from the project root: /usr/bin/python3 tests/golden/make_readers.py
One line per array: SPEC ROWS COLS SUM SUMSQ, the sum of all values and of
their squares in float64 (math.fsum: exact, then rounded once), so that no
value of the data itself is copied here. Labels are written the same way.
SPEC is relative to ../shared/data.
"""
import glob
import math
import os

import numpy as np

DATA = "../shared/data"
lines = []


def record(spec, a):
    a = np.asarray(a)
    rows = a.shape[0]
    cols = a.shape[1] if a.ndim == 2 else 1
    flat = a.astype(np.float64).ravel()
    lines.append("%s %d %d %.17g %.17g" % (
        spec, rows, cols, math.fsum(flat), math.fsum(flat * flat)))


for path in sorted(glob.glob(os.path.join(DATA, "*", "*.npy"))):
    record(os.path.relpath(path, DATA), np.load(path))
for path in sorted(glob.glob(os.path.join(DATA, "*", "*.npz"))):
    with np.load(path) as z:
        for key in sorted(z.files):
            record("%s:%s" % (os.path.relpath(path, DATA), key), z[key])

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "readers_data.txt"), "w") as f:
    f.write("# made by make_readers.py: spec rows cols sum sum_of_squares\n")
    f.write("\n".join(lines) + "\n")
