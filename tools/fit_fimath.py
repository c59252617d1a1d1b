#!/usr/bin/env python3
"""Fit the polynomial coefficients used in fastinfo/_fimath.h.

Method: weighted minimax (Remez exchange) in mpmath at 256 bits, then the
coefficients are rounded to the target precision one at a time, lowest order
first, re-running Remez on the remaining free coefficients after each rounding
(so later coefficients absorb the rounding error of earlier ones).

Functions fitted (see the header for how they are used):

  log:  log(1+f) = 2s + s*R(z),  s = f/(2+f),  z = s^2,
        R(z) = z*P(z),  R(z) = (log((1+s)/(1-s)) - 2s)/s = 2z/3 + 2z^2/5 + ...
        fitted: P(z) on z in [0, zmax],  zmax = ((sqrt2-1)/(sqrt2+1))^2
        (mantissa normalized into [sqrt(1/2), sqrt(2)) -> |s| <= 0.1716).
        Weight: z * s / log1p(f)  i.e. the error of s*R relative to the
        result log(1+f) (for k = 0; it is smaller when k != 0).
  exp:  exp(r) = 1 + r + r^2/2 + r^3*Q(r),  |r| <= ln2/2 (+ 0.2% margin for the
        rounding of k = round(x/ln2)); the r^2/2 term is kept exact in the
        header's evaluation, so only Q is fitted:
        Q(r) = (exp(r) - 1 - r - r^2/2)/r^3.
        Weight: |r|^3 / exp(r)  (error of r^3*Q relative to the result).
  Both weights vanish at 0; a floor of 2^-20 of their maximum keeps the
  Remez system well-posed (it does not change the result measurably).

Degrees: the lowest for which the fit error is a few hundredths of an ulp
(one degree less costs 0.2-1.5 ulp).  Also prints the Cody-Waite ln2 split.

Run:  python tools/fit_fimath.py                       (~30 s, prints the #defines)
      python tools/fit_fimath.py --check fastinfo/_fimath.h   (exit 1 on a mismatch)
      python tools/fit_fimath.py FI_EXPF_Q              (one set only)
"""
import sys
import mpmath as mp

mp.mp.prec = 256


def _round_to(x, bits):
    """Round mpf x to `bits` significant bits (nearest-even), as binary64/32 does
    for normal numbers."""
    if x == 0:
        return mp.mpf(0)
    with mp.workprec(bits):
        return +mp.mpf(x)  # unary plus rounds to working precision


def remez(f, basis, a, b, weight, ngrid=2000, iters=40, tol=1e-6):
    """Minimize max_{x in [a,b]} |weight(x) * (sum c_j basis_j(x) - f(x))|.

    Returns (coefficients, max weighted error).  Dense-grid exchange: the
    local extrema are searched on a Chebyshev-spaced grid and refined by a
    few golden-section steps."""
    n = len(basis)
    a = mp.mpf(a)
    b = mp.mpf(b)
    grid = [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * i / (ngrid - 1)) for i in range(ngrid)]
    fg = [f(x) for x in grid]
    wg = [weight(x) for x in grid]
    bg = [[phi(x) for phi in basis] for x in grid]
    ref = [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * i / n) for i in range(n + 1)]

    def err_at(c, x):
        return weight(x) * (mp.fsum(cj * phi(x) for cj, phi in zip(c, basis)) - f(x))

    last = None
    for _ in range(iters):
        A = mp.matrix(n + 1, n + 1)
        rhs = mp.matrix(n + 1, 1)
        for i, x in enumerate(ref):
            for j, phi in enumerate(basis):
                A[i, j] = phi(x)
            A[i, n] = (-1) ** i / weight(x)
            rhs[i] = f(x)
        sol = mp.lu_solve(A, rhs)
        c = [sol[j] for j in range(n)]
        E = abs(sol[n])
        eg = [wg[i] * (mp.fsum(cj * bj for cj, bj in zip(c, bg[i])) - fg[i]) for i in range(ngrid)]
        # runs of constant sign -> one extremum per run
        runs = []
        for i, e in enumerate(eg):
            s = 1 if e >= 0 else -1
            if runs and runs[-1][0] == s:
                if abs(e) > abs(runs[-1][2]):
                    runs[-1] = [s, i, e]
            else:
                runs.append([s, i, e])
        # refine each extremum between its grid neighbours (golden section)
        for r in runs:
            i = r[1]
            lo = grid[max(i - 1, 0)]
            hi = grid[min(i + 1, ngrid - 1)]
            g = (mp.sqrt(5) - 1) / 2
            for _ in range(30):
                m1 = hi - g * (hi - lo)
                m2 = lo + g * (hi - lo)
                if abs(err_at(c, m1)) > abs(err_at(c, m2)):
                    hi = m2
                else:
                    lo = m1
            xm = (lo + hi) / 2
            em = err_at(c, xm)
            if abs(em) > abs(r[2]):
                r.append(xm)
                r[2] = em
            else:
                r.append(grid[i])
        # reduce to n+1 alternating points
        while len(runs) > n + 1:
            k = min(range(len(runs)), key=lambda j: abs(runs[j][2]))
            if k == 0 or k == len(runs) - 1 or len(runs) - (n + 1) == 1:
                # drop the smaller end
                if abs(runs[0][2]) < abs(runs[-1][2]):
                    runs.pop(0)
                else:
                    runs.pop()
            else:
                left, right = runs[k - 1], runs[k + 1]
                keep = left if abs(left[2]) >= abs(right[2]) else right
                runs[k - 1:k + 2] = [keep]
        maxerr = max(abs(e) for e in eg)
        maxerr = max(maxerr, max(abs(r[2]) for r in runs))
        if len(runs) < n + 1:
            break  # cannot exchange further (degenerate); keep what we have
        ref = [r[3] for r in runs]
        if last is not None and abs(maxerr - E) <= tol * maxerr:
            break
        last = maxerr
    return c, maxerr


def fit_rounded(f, basis, a, b, weight, bits, **kw):
    """Remez, then round coefficients to `bits` one at a time (lowest order
    first), refitting the free ones after each rounding."""
    fixed = []
    for j in range(len(basis)):
        nfixed = len(fixed)

        def g(x, fixed=tuple(fixed)):
            return f(x) - mp.fsum(cv * basis[i](x) for i, cv in enumerate(fixed))

        c, _ = remez(g, basis[nfixed:], a, b, weight, **kw)
        fixed.append(_round_to(c[0], bits))
    # final error with all rounded coefficients
    n = 4000
    err = mp.mpf(0)
    for i in range(n + 1):
        x = mp.mpf(a) + (mp.mpf(b) - a) * i / n
        e = abs(weight(x) * (mp.fsum(cv * phi(x) for cv, phi in zip(fixed, basis)) - f(x)))
        err = max(err, e)
    return fixed, err


# ---------------------------------------------------------------- targets
SMAX = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)
ZMAX = SMAX ** 2


def log_P(z):
    # P(z) = R(z)/z,  R = (log((1+s)/(1-s)) - 2s)/s = 2*sum_{k>=1} z^k/(2k+1)
    if z == 0:
        return mp.mpf(2) / 3
    s = mp.sqrt(z)
    return (mp.log((1 + s) / (1 - s)) - 2 * s) / (s * z)


def log_weight(z):
    # error of s*R = s*z*P relative to the result 2*atanh(s) (k = 0 case)
    if z == 0:
        return mp.mpf(0)
    s = mp.sqrt(z)
    return s * z / (2 * mp.atanh(s))


def log_weight_floor(z):
    return max(log_weight(z), ZMAX * mp.mpf(2) ** -20)


RMAX = mp.log(2) / 2 * mp.mpf("1.002")  # margin: k = round(x/ln2) computed in finite precision


def exp_Q(r):
    """Q(r) = (exp(r) - 1 - r - r^2/2) / r^3."""
    if abs(r) < mp.mpf(2) ** -40:  # avoid cancellation: Taylor, error < r^8
        return mp.fsum(r ** k / mp.factorial(k + 3) for k in range(8))
    with mp.extraprec(300):
        return (mp.expm1(r) - r - r * r / 2) / (r * r * r)


def exp_weight(r):
    # error of r^3*Q relative to the result exp(r); floored near 0 so the
    # Remez reference stays well-posed
    return max(abs(r) ** 3, RMAX ** 3 * mp.mpf(2) ** -20) / mp.exp(r)


def mono(k):
    return lambda x: x ** k


def _hex(x):
    h = x.hex()                      # e.g. 0x1.5555555555500p-3
    mant, exp = h.split("p")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    return mant + "p" + exp


def c_literal(v, bits):
    """C hex-float literal of v, which must be exactly representable."""
    x = float(v)
    assert mp.mpf(x) == v
    if bits == 24:
        assert _round_to(v, 24) == v
        return _hex(x) + "f"
    return _hex(x)


def generate(only=()):
    """Yield the C text (comments and #defines) for every fitted constant."""
    jobs = [
        # title, target, number of coefficients, interval, weight, bits, C name
        ("log f64: P(z), R = z*P", log_P, 7, (0, ZMAX), log_weight_floor, 53, "FI_LOG_P"),
        ("log f32: P(z), R = z*P", log_P, 3, (0, ZMAX), log_weight_floor, 24, "FI_LOGF_P"),
        ("exp f64: Q(r), exp(r) = 1 + r + r^2/2 + r^3*Q", exp_Q, 9, (-RMAX, RMAX), exp_weight, 53, "FI_EXP_Q"),
        ("exp f32: Q(r), exp(r) = 1 + r + r^2/2 + r^3*Q", exp_Q, 4, (-RMAX, RMAX), exp_weight, 24, "FI_EXPF_Q"),
    ]
    for title, f, ncoef, (a, b), w, bits, cname in jobs:
        if only and cname not in only:
            continue
        basis = [mono(k) for k in range(ncoef)]
        coefs, err = fit_rounded(f, basis, a, b, w, bits, ngrid=600)
        ulp_units = err * mp.mpf(2) ** (bits - 1)  # relative error in units of 2^-(bits-1) = ulp at 1
        yield (f"/* {title}; interval [{mp.nstr(a, 6)}, {mp.nstr(b, 6)}]; "
               f"max weighted (relative) error 2^{mp.nstr(mp.log(err, 2), 4)} "
               f"(~{mp.nstr(ulp_units, 3)} ulp of the result at worst) */")
        for k, cv in enumerate(coefs):
            yield f"#define {cname}{k} {c_literal(cv, bits)}  /* {mp.nstr(cv, 20)} */"
        yield ""
    # Cody-Waite constants: LN2HI has 42 significant bits so k*LN2HI is exact for
    # |k| < 2^11 (double); LN2HIF 16 bits, exact for |k| < 2^8 (float).
    ln2 = mp.log(2)
    ln2hi = mp.floor(ln2 * 2 ** 42) / 2 ** 42
    ln2lo = _round_to(ln2 - ln2hi, 53)
    ln2hi_f = mp.floor(ln2 * 2 ** 16) / 2 ** 16
    ln2lo_f = _round_to(ln2 - ln2hi_f, 24)
    if not only:
        yield "/* reduction constants */"
        yield f"#define FI_LN2HI {c_literal(ln2hi, 53)}"
        yield f"#define FI_LN2LO {c_literal(ln2lo, 53)}"
        yield f"#define FI_INVLN2 {c_literal(_round_to(1 / ln2, 53), 53)}"
        yield f"#define FI_LN2HIF {c_literal(ln2hi_f, 24)}"
        yield f"#define FI_LN2LOF {c_literal(ln2lo_f, 24)}"
        yield f"#define FI_INVLN2F {c_literal(_round_to(1 / ln2, 24), 24)}"


def main():
    import argparse
    import re
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="only these coefficient sets, e.g. FI_EXP_Q")
    ap.add_argument("--check", metavar="HEADER",
                    help="compare with the #defines in HEADER (fastinfo/_fimath.h); exit 1 on a mismatch")
    args = ap.parse_args()
    bad = 0
    header = None
    if args.check:
        with open(args.check) as fh:
            header = dict(re.findall(r"#define\s+(FI_\w+)\s+(\S+)", fh.read()))
    for line in generate(set(args.names)):
        print(line, flush=True)
        m = re.match(r"#define (FI_\w+) (\S+)", line)
        if header is not None and m and header.get(m.group(1)) != m.group(2):
            print(f"  ^ MISMATCH: header has {header.get(m.group(1))}", flush=True)
            bad += 1
    if header is not None:
        print(f"/* --check {args.check}: {'all constants match' if not bad else f'{bad} mismatches'} */")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
