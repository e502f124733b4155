#!/usr/bin/python3
"""vexp_poly.py - the coefficients of the polynomial in src/vexp_impl.h.

exp(r) = 1 + r + r^2 Q(r) on |r| <= ln2 / 2, Q of degree 9: a Chebyshev
fit (mpmath.chebyfit, 50 digits) of g(r) = (exp(r) - 1 - r) / r^2, whose
error (about 1.1e-16 on g) is at most r^2 * 1.1e-16 < 1.4e-17 relative on
exp(r). Prints the coefficients rounded to double (C hex literals) and the
largest error, in ulps, of the evaluation in double with Estrin's scheme
exactly as vexp_impl.h does it, over 100 001 points of the interval.

Run with Debian's python3 (mpmath, numpy): /usr/bin/python3 bench/vexp_poly.py
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 50
A = mp.log(2) / 2


def g(r):
    if abs(r) < mp.mpf("1e-30"):
        return mp.mpf(1) / 2 + r / 6
    return (mp.exp(r) - 1 - r) / r ** 2


poly = mp.chebyfit(g, [-A, A], 10)
c = [float(x) for x in poly[::-1]]          # c[0] + c[1] r + ...
for i, x in enumerate(c):
    print("#define VEXP_C%d %s" % (i, x.hex()))

r = np.linspace(-float(A), float(A), 100001)
r2 = r * r
r4 = r2 * r2
r8 = r4 * r4
a = [c[2 * i] + r * c[2 * i + 1] for i in range(5)]
b0 = a[0] + r2 * a[1]
b1 = a[2] + r2 * a[3]
q = (b0 + r4 * b1) + r8 * a[4]
p = 1.0 + (r + r2 * q)
exact = np.array([float(mp.exp(mp.mpf(float(x)))) for x in r])
print("max error %.3f ulp" % np.max(np.abs(p - exact) / np.spacing(exact)))
