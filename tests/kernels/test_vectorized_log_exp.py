"""Accuracy tests for the vectorized log/exp in fastinfo/_fimath.h.

Every compiled SIMD variant that runs on this CPU (fastinfo._dispatch.available_kernels())
is tested, in float64 and float32, through its elementwise_log / elementwise_exp hooks
(vectorized loops over fi_log / fi_logf / fi_exp / fi_expf).

Oracles, both independent of the code under test:
  * mpmath at 120 bits on a sample (~10k inputs per function and dtype, all regimes);
  * for millions of inputs: np.longdouble (x87 80-bit, glibc logl/expl, ~1e-19
    relative) for float64 results, float64 np.log/np.exp for float32 results.
Error unit: ulp of the exact result in the output dtype, i.e. 2^(floor(log2|ref|) - p + 1)
with the subnormal ulp below the normal range (2^-1074 / 2^-149).  Bound: <= 1 ulp.

Run `python tests/kernels/test_vectorized_log_exp.py` for a per-regime table of the max errors.
"""
import functools

import mpmath
import numpy as np
import pytest

from fastinfo._dispatch import available_kernels

KERNELS = available_kernels()
# np.longdouble is the bulk reference for float64 results: it must be wider than double
# (x87 80-bit on x86-64 Linux; IEEE quad on aarch64 Linux).
LONGDOUBLE_OK = np.finfo(np.longdouble).nmant >= 63
MAX_ULP = 1.0
CASES = [pytest.param(lvl, dt, id=f"{lvl}-{np.dtype(dt).name}")
         for lvl in sorted(KERNELS) for dt in (np.float64, np.float32)]


def test_kernels_available():
    assert KERNELS, "fastinfo._dispatch.available_kernels() returned no kernel for this CPU"


def _fn(level, name):
    return getattr(KERNELS[level], "elementwise_" + name)


def _run(level, name, x):
    x = np.ascontiguousarray(x)
    y = _fn(level, name)(x)
    assert y.dtype == x.dtype and y.shape == x.shape
    return y


# ----------------------------------------------------------------- dtype facts
class _T:
    def __init__(self, dt):
        self.dt = np.dtype(dt)
        fi = np.finfo(dt)
        self.p = fi.nmant + 1            # 53 / 24
        self.emin = fi.minexp            # -1022 / -126
        self.uint = np.uint64 if self.dt == np.float64 else np.uint32
        self.maxbits = 0x7fefffffffffffff if self.dt == np.float64 else 0x7f7fffff
        self.ld = np.longdouble if self.dt == np.float64 else np.float64   # bulk reference
        # smallest value that rounds to +inf in this dtype: (2 - 2^-p) * 2^emax
        self.ovf = mpmath.ldexp(2 - mpmath.ldexp(1, -self.p), fi.maxexp - 1)
        self.ovf_ld = np.ldexp(self.ld(2) - np.ldexp(self.ld(1), -self.p), fi.maxexp - 1)

    def from_bits(self, b):
        return np.asarray(b, dtype=self.uint).view(self.dt)

    def bits(self, x):
        return np.asarray(x, dtype=self.dt).view(self.uint)


def _rng(seed):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ inputs
def _log_inputs(dt, n):
    """dict regime -> float array (dtype dt), n elements per random regime."""
    t = _T(dt)
    g = _rng(1234 if t.dt == np.float64 else 4321)
    mant = t.p - 1
    out = {}
    # whole positive range: uniform bit patterns = log-uniform over the normals
    out["loguniform"] = t.from_bits(g.integers(1, t.maxbits + 1, n, dtype=t.uint))
    # subnormals, log-uniform: random bit length, random mantissa
    bl = g.integers(1, mant + 1, n)
    lo = (np.ones(n, dtype=np.uint64) << (bl - 1).astype(np.uint64))
    m = lo + (g.integers(0, 2**62, n, dtype=np.uint64) % lo)
    out["subnormal"] = t.from_bits(m.astype(t.uint))
    # within 1e-12 .. 1e-3 of 1, both sides, plus the 4000 closest neighbours of 1
    d = 10.0 ** g.uniform(-12, -3, n)
    ones = t.bits(1.0).astype(np.int64)
    nb = t.from_bits((ones + np.arange(-2000, 2000)).astype(t.uint))
    out["near1"] = np.concatenate([(1.0 + d).astype(dt), (1.0 - d).astype(dt), nb])
    out["[0.5,2]"] = g.uniform(0.5, 2.0, n).astype(dt)
    # the largest finite values
    out["largest"] = t.from_bits(t.maxbits - np.arange(min(n, 20000)).astype(t.uint))
    return out


def _exp_inputs(dt, n):
    t = _T(dt)
    g = _rng(99 if t.dt == np.float64 else 77)
    lo, hi = (-745.0, 710.0) if t.dt == np.float64 else (-104.0, 89.0)
    fi, L = np.finfo(dt), np.longdouble
    ovf = float(np.log(L(fi.max)))                         # 709.78 / 88.72
    unf_norm = float(np.log(L(fi.tiny)))                   # results become subnormal
    unf_min = float(np.log(L(fi.smallest_subnormal)))      # result = smallest subnormal
    unf_zero = float(np.log(L(fi.smallest_subnormal) / 2))  # results round to 0 below
    out = {}
    out["uniform"] = g.uniform(lo, hi, n).astype(dt)
    # results in the subnormal range (two roundings there: bound 0.5 + 0.5*normal-range error)
    out["subnormal_out"] = g.uniform(unf_zero - 0.5, unf_norm, n // 4).astype(dt)
    tiny = (10.0 ** g.uniform(-30, -8, n)) * g.choice([-1.0, 1.0], n)
    out["near0"] = np.concatenate([tiny.astype(dt), t.from_bits(np.arange(1, 2000).astype(t.uint)),
                                   -t.from_bits(np.arange(1, 2000).astype(t.uint))])
    parts = []
    for c in (ovf, unf_norm, unf_min, unf_zero):
        parts.append((c + g.uniform(-0.5, 0.5, n // 4)).astype(dt))
        cb = t.bits(abs(c)).astype(np.int64)
        parts.append(t.from_bits((cb + np.arange(-300, 300)).astype(t.uint)) * dt(np.sign(c)))
    out["thresholds"] = np.concatenate(parts).astype(dt)
    # k*ln2 (rounded) and neighbours: r ~ 0 reductions and exact powers of two
    k = np.arange(int(np.floor(lo / np.log(2))), int(np.ceil(hi / np.log(2))) + 1)
    k = k[k != 0]                                              # x = 0: see near0
    kl = (k * np.log(np.longdouble(2))).astype(dt)
    kb = t.bits(np.abs(kl)).astype(np.int64)
    neigh = np.concatenate([t.from_bits((kb + j).astype(t.uint)) * np.sign(kl).astype(dt) for j in range(-3, 4)])
    half = ((k + 0.5) * np.log(np.longdouble(2))).astype(dt)   # where k switches
    out["k*ln2"] = np.concatenate([neigh, half, np.nextafter(half, np.inf, dtype=dt),
                                   np.nextafter(half, -np.inf, dtype=dt)]).astype(dt)
    return out


# ------------------------------------------------------------------ ulp errors
def _ulp_exponent_ld(ref, t):
    """floor(log2|ref|) - p + 1, at least emin - p + 1 (subnormal ulp)."""
    _, e = np.frexp(np.abs(ref))
    e = np.where(ref == 0, t.emin, e.astype(np.int64) - 1)
    return np.maximum(e, t.emin) - t.p + 1


def _bulk_errors(t, y, ref):
    """|y - ref| in ulps of ref (output dtype t); ref in t.ld.  Also returns
    the mask of inputs whose correctly rounded result overflows."""
    ovf = np.abs(ref) >= t.ovf_ld
    q = _ulp_exponent_ld(ref, t)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(np.ldexp(y.astype(t.ld), -q) - np.ldexp(ref, -q))
    err = np.where(ovf, 0.0, err)
    return err.astype(np.float64), ovf


def _check_bulk(t, x, y, ref, what, bound=MAX_ULP):
    err, ovf = _bulk_errors(t, y, ref)
    # results that must overflow to inf, and results that must not
    assert np.all(np.isposinf(y[ovf])), f"{what}: missing overflow to inf"
    assert np.all(np.isfinite(y[~ovf])), f"{what}: non-finite result {x[~ovf][~np.isfinite(y[~ovf])][:5]}"
    i = int(np.argmax(err))
    assert err[i] <= bound, f"{what}: {err[i]:.3f} ulp at x={x[i]!r} y={y[i]!r} ref={ref[i]!r}"
    return float(err.max())


@functools.lru_cache(maxsize=None)
def _mp_reference(fname, dt):
    """mpmath(120 bits) reference on a sample of every regime.
    Returns (x, q, hi, lo, ovf): the exact result is (hi + lo) * 2^q, 2^q its ulp."""
    t = _T(dt)
    gen = _exp_inputs if fname == "exp" else _log_inputs
    regimes = gen(dt, 3000)
    g = _rng(5)
    x = np.concatenate([g.choice(v, min(v.size, 2500), replace=False) for v in regimes.values()]).astype(dt)
    f = mpmath.exp if fname == "exp" else mpmath.log
    q = np.empty(x.size, np.int64)
    hi = np.empty(x.size)
    lo = np.empty(x.size)
    ovf = np.zeros(x.size, bool)
    with mpmath.workprec(120):
        for i, v in enumerate(x.tolist()):
            r = f(mpmath.mpf(v))
            if r == 0:
                q[i], hi[i], lo[i] = t.emin - t.p + 1, 0.0, 0.0
                continue
            if abs(r) >= t.ovf:
                ovf[i] = True
            _, man, ex, bc = r._mpf_          # |r| = man * 2^ex, bc = bit length of man
            qi = max(ex + bc - 1, t.emin) - t.p + 1
            ru = mpmath.ldexp(r, -qi)           # exact result in ulps, |ru| < 2^p
            h = float(ru)
            q[i], hi[i], lo[i] = qi, h, float(ru - h)
    return x, q, hi, lo, ovf


def _mp_errors(level, fname, dt):
    x, q, hi, lo, ovf = _mp_reference("exp" if fname == "exp" else "log", dt)
    y = _run(level, fname, x)
    assert np.all(np.isposinf(y[ovf])) and np.all(np.isfinite(y[~ovf]))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs((np.ldexp(y.astype(np.float64), -q) - hi) - lo)
    return x, y, np.where(ovf, 0.0, err)


def _check_mp(level, fname, dt, bound=MAX_ULP):
    """The largest error against mpmath is at most `bound` ulps."""
    x, y, err = _mp_errors(level, fname, dt)
    i = int(np.argmax(err))
    assert err[i] <= bound, f"{err[i]:.3f} ulp at x={x[i]!r} (y={y[i]!r})"


def _check_bulk_regimes(level, fname, dt, inputs, n, bound=MAX_ULP):
    """Every regime of inputs(dt, n) within `bound` ulps of the bulk reference; the largest error."""
    t = _T(dt)
    if t.dt == np.float64 and not LONGDOUBLE_OK:
        pytest.skip("np.longdouble is not wider than float64 here")
    f = np.exp if fname == "exp" else np.log
    worst = 0.0
    for regime, x in inputs(dt, n).items():
        y = _run(level, fname, x)
        worst = max(worst, _check_bulk(t, x, y, f(x.astype(t.ld)), f"{fname} {regime}", bound))
    return worst


# ====================================================================== log
# "log": fi_log / fi_logf (_fimath.h); "vector_log": fi_vlog / fi_vlogf (_fi_vec.h), the log of
# the Shannon measures' rows, written with vector types (the same steps as fi_log)
LOGS = ["log", "vector_log"]


@pytest.mark.parametrize("fname", LOGS)
@pytest.mark.parametrize("level,dt", CASES)
def test_log_vs_mpmath(level, dt, fname):
    _check_mp(level, fname, dt)


@pytest.mark.parametrize("fname", LOGS)
@pytest.mark.parametrize("level,dt", CASES)
def test_log_bulk(level, dt, fname):
    _check_bulk_regimes(level, fname, dt, _log_inputs, 400_000)


@pytest.mark.parametrize("fname", LOGS)
@pytest.mark.parametrize("level,dt", CASES)
def test_log_special(level, dt, fname):
    t = _T(dt)
    tiny = t.from_bits([1])[0]
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, -1.0, -tiny, -np.finfo(dt).max, 1.0], dtype=dt)
    want = np.array([-np.inf, -np.inf, np.inf, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, 0.0], dtype=dt)
    y = _run(level, fname, x)
    np.testing.assert_array_equal(y, want)
    assert not np.signbit(y[-1])                     # log(1) = +0
    # log(2) is the correctly rounded ln 2 (downstream relies on log(2p/(p+q)) <= log 2)
    y2 = _run(level, fname, np.array([2.0, 0.5, 4.0], dtype=dt))
    assert y2[0] == dt(np.log(2.0))
    assert y2[1] == -y2[0] and y2[2] == dt(np.log(4.0))
    # a special value in the middle of a vector does not disturb its neighbours
    z = np.full(64, 3.0, dtype=dt)
    z[17], z[40] = np.nan, 0.0
    yz = _run(level, fname, z)
    assert np.all(yz[np.isfinite(z) & (z > 0)] == yz[0]) and np.isnan(yz[17]) and yz[40] == -np.inf


@pytest.mark.parametrize("fname", LOGS)
@pytest.mark.parametrize("level,dt", CASES)
def test_log_monotone(level, dt, fname):
    """log must be non-decreasing across dense sorted samples: near 1, across powers of
    two, across the sqrt(2) normalization switch, the subnormal boundary, and random
    sorted points near 1 and 2."""
    t = _T(dt)
    g = _rng(7)
    centers = [1.0, 2.0, 0.5, 4.0, 2.0**50, 2.0**-50, float(np.finfo(dt).tiny), np.sqrt(2.0),
               np.sqrt(0.5), np.sqrt(2.0) * 2.0**40, np.sqrt(2.0) * 2.0**-60]
    if t.dt == np.float64:
        centers += [2.0**-1030, 2.0**1000, np.sqrt(2.0) * 2.0**-1040]
    else:
        centers += [2.0**-135, np.sqrt(2.0) * 2.0**-136]
    for c in centers:
        b = t.bits(c).astype(np.int64)
        x = t.from_bits((b + np.arange(-3000, 3000)).astype(t.uint))
        y = _run(level, fname, x)
        assert np.all(np.isfinite(y))
        bad = np.flatnonzero(np.diff(y) < 0)
        assert bad.size == 0, f"not monotone near {c}: x={x[bad[0]]!r},{x[bad[0] + 1]!r}"
        if t.dt == np.float32 or LONGDOUBLE_OK:       # and accurate in these windows too
            _check_bulk(t, x, y, np.log(x.astype(t.ld)), f"log near {c}")
    for c, w in ((1.0, 1e-3), (2.0, 1e-3), (1.0, 1e-7), (2.0, 1e-7)):
        x = np.sort((c * (1 + g.uniform(-w, w, 100_000))).astype(dt))
        y = _run(level, fname, x)
        assert np.all(np.diff(y) >= 0), f"not monotone in [{c}(1-{w}), {c}(1+{w})]"


# ====================================================================== exp
@pytest.mark.parametrize("level,dt", CASES)
def test_exp_vs_mpmath(level, dt):
    _check_mp(level, "exp", dt)


@pytest.mark.parametrize("level,dt", CASES)
def test_exp_bulk(level, dt):
    _check_bulk_regimes(level, "exp", dt, _exp_inputs, 1_000_000)


@pytest.mark.parametrize("level,dt", CASES)
def test_exp_special(level, dt):
    big = 800.0 if np.dtype(dt) == np.float64 else 120.0
    x = np.array([0.0, -0.0, -np.inf, np.inf, np.nan, big, -big, 1e30, -1e30,
                  np.finfo(dt).max, -np.finfo(dt).max], dtype=dt)
    want = np.array([1.0, 1.0, 0.0, np.inf, np.nan, np.inf, 0.0, np.inf, 0.0, np.inf, 0.0], dtype=dt)
    y = _run(level, "exp", x)
    np.testing.assert_array_equal(y, want)
    assert not np.any(np.signbit(y[~np.isnan(y)]))
    # overflow exactly at the rounding threshold, gradual underflow down to the last subnormal
    t = _T(dt)
    xthr = np.log(t.ovf_ld)                       # exp(x) rounds to inf from here on
    xo = xthr.astype(dt)                           # largest x with finite exp
    xo = np.nextafter(xo, -np.inf, dtype=dt) if xo >= xthr else xo
    yo = _run(level, "exp", np.array([xo, np.nextafter(xo, np.inf, dtype=dt)], dtype=dt))
    assert np.isfinite(yo[0]) and yo[1] == np.inf
    tiny = t.from_bits([1])[0]
    xu = np.log(np.array([tiny], dtype=t.ld)).astype(dt)
    assert _run(level, "exp", xu)[0] == tiny
    z = np.full(64, 1.5, dtype=dt)
    z[5], z[33] = np.nan, np.inf
    yz = _run(level, "exp", z)
    assert np.all(yz[np.isfinite(z)] == yz[0]) and np.isnan(yz[5]) and yz[33] == np.inf


# ================================================= the softmax passes' vector exp
# fi_vexpf_neg / fi_vexp_neg (_fi_vec.h): exp(z) for z <= 0, one rounding less careful than
# fi_expf / fi_exp (about one ulp; every float32 in [-110, 0] measured at most 1.06 ulp on the
# AVX-512 road). Bound 1.1 ulp, subnormal results in ulps of the smallest subnormal.
SOFTMAX_EXP_ULP = 1.1


def _softmax_exp(level, x):
    x = np.ascontiguousarray(x)
    y = KERNELS[level].elementwise_softmax_exp(x)
    assert y.dtype == x.dtype and y.shape == x.shape
    return y


@pytest.mark.parametrize("level,dt", CASES)
def test_softmax_exp_vs_mpmath(level, dt):
    x, q, hi, lo, _ = _mp_reference("exp", dt)
    keep = x <= 0
    x, q, hi, lo = x[keep], q[keep], hi[keep], lo[keep]
    y = _softmax_exp(level, x)
    err = np.abs((np.ldexp(y.astype(np.float64), -q) - hi) - lo)
    i = int(np.argmax(err))
    assert err[i] <= SOFTMAX_EXP_ULP, f"{err[i]:.3f} ulp at z={x[i]!r} (y={y[i]!r})"


@pytest.mark.parametrize("level,dt", CASES)
def test_softmax_exp_bulk(level, dt):
    t = _T(dt)
    if t.dt == np.float64 and not LONGDOUBLE_OK:
        pytest.skip("np.longdouble is not wider than float64 here")
    g = _rng(2024)
    lo = -746.0 if t.dt == np.float64 else -105.0
    # every magnitude of z: cubes of uniforms crowd near 0, where the results are near 1
    x = (-(g.uniform(0, 1, 2_000_000) ** 3) * -lo).astype(dt)
    for regime, xr in _exp_inputs(dt, 200_000).items():
        x = np.concatenate([x, xr[xr <= 0]])
    y = _softmax_exp(level, x)
    _check_bulk(t, x, y, np.exp(x.astype(t.ld)), "softmax exp", SOFTMAX_EXP_ULP)


@pytest.mark.parametrize("level,dt", CASES)
def test_softmax_exp_special(level, dt):
    # 0 and -0 give 1 exactly (the maximal logit), -inf and far below the subnormals 0, NaN NaN
    x = np.array([0.0, -0.0, -np.inf, np.nan, -1e30, -np.finfo(dt).max, -np.finfo(dt).tiny], dtype=dt)
    y = _softmax_exp(level, x)
    np.testing.assert_array_equal(y, np.array([1, 1, 0, np.nan, 0, 0, 1], dtype=dt))
    # any length: the tail of a partial vector
    for n in range(1, 40):
        z = -np.arange(n, dtype=dt) / 4
        np.testing.assert_allclose(_softmax_exp(level, z), np.exp(z), rtol=2 * np.finfo(dt).eps)


# ============================================================ report (manual)

def _report():
    """Max ulp error per level, dtype, function and input regime; for exp also split
    into normal-range and subnormal-range results."""
    print(f"{'level':9s} {'dtype':8s} {'func':4s} {'regime':14s} {'oracle':10s} {'max_ulp':>8s} "
          f"{'normal_out':>10s} {'subn_out':>8s}  n")
    for lvl in sorted(KERNELS):
        for dt in (np.float64, np.float32):
            t = _T(dt)
            dname = np.dtype(dt).name
            tiny = np.finfo(dt).tiny
            for fname, gen in (("log", _log_inputs), ("exp", _exp_inputs)):
                f = np.log if fname == "log" else np.exp
                rows = []
                x, y, err = _mp_errors(lvl, fname, dt)
                rows.append(("sample", "mpmath120", x, y, err))
                for regime, xr in gen(dt, 1_000_000).items():
                    yr = _run(lvl, fname, xr)
                    e, _ = _bulk_errors(t, yr, f(xr.astype(t.ld)))
                    rows.append((regime, "longdouble" if t.dt == np.float64 else "float64", xr, yr, e))
                for regime, orc, xr, yr, e in rows:
                    sub = (np.abs(yr) < tiny) & (yr != 0) if fname == "exp" else np.zeros(yr.shape, bool)
                    nrm = e[~sub].max() if (~sub).any() else float("nan")
                    sbn = f"{e[sub].max():8.4f}" if sub.any() else f"{'-':>8s}"
                    print(f"{lvl:9s} {dname:8s} {fname:4s} {regime:14s} {orc:10s} {e.max():8.4f} "
                          f"{nrm:10.4f} {sbn}  {xr.size}")


if __name__ == "__main__":
    _report()
