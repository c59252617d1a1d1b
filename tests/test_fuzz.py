"""Fuzzing (issue 8, first part): the distribution and logit measures under random shapes
(0-length axes, 0-d), dtypes (every integer and float width, bool, complex, object,
non-native byte order), layouts (negative strides, Fortran, read-only, zero strides) and values
(NaN, +-inf, negatives, subnormals, +-1e308, zeros), and odd arguments. Every call returns the
documented shape and dtype or raises ValueError / TypeError / IndexError / AxisError, never
crashes and never modifies its input; with invalid="nan" a valid row never comes out NaN.

Bounded profile here (FASTINFO_FUZZ_EXAMPLES, default 150 per test); the long profile:
``FASTINFO_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py``."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fastinfo as fi

EXAMPLES = int(os.environ.get("FASTINFO_FUZZ_EXAMPLES", "150"))
SET = settings(max_examples=EXAMPLES, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
OK_ERRORS = (ValueError, TypeError, IndexError, np.exceptions.AxisError)

VALUES = st.sampled_from([0.0, 1.0, 0.5, 1e-3, 3.0, -1.0, np.nan, np.inf, -np.inf, 5e-324, 1e-310, 1e308,
                          -1e308, 2.0**-1022, 7.0])
DTYPES = st.sampled_from(["f8", "f4", "f2", "<f8", ">f8", ">f4", "i1", "u1", "i2", "u2", "i4", "i8", "u8", "?",
                          "c16", "O", "g"])


@st.composite
def arrays(draw, max_dims=3):
    nd = draw(st.integers(0, max_dims))
    shape = tuple(draw(st.integers(0, 5)) for _ in range(nd))
    size = int(np.prod(shape)) if shape else 1
    vals = draw(st.lists(VALUES, min_size=size, max_size=size))
    dt = np.dtype(draw(DTYPES))
    with np.errstate(all="ignore"):
        if dt.kind in "iub":
            base = np.nan_to_num(np.array(vals, dtype=np.float64), nan=0, posinf=3, neginf=-1)
            base = np.clip(base, -1, 7).astype(dt)
        elif dt.kind == "O":
            base = np.array(vals, dtype=object)
        else:
            base = np.array(vals).astype(dt)
    a = base.reshape(shape)
    layout = draw(st.sampled_from(["c", "f", "neg", "ro", "bcast"]))
    if layout == "f":
        a = np.asfortranarray(a)
    elif layout == "neg" and a.ndim:
        a = a[..., ::-1]
    elif layout == "ro":
        a = a.copy()
        a.flags.writeable = False
    elif layout == "bcast" and a.ndim:
        a = np.broadcast_to(a[..., :1], a.shape) if a.shape[-1] else a
    return a


def _check_result(r, batch_shape, input_dtypes):
    r = np.asarray(r)
    assert r.shape == batch_shape, (r.shape, batch_shape)
    assert r.dtype in (np.float32, np.float64), r.dtype


ONE = [("entropy", fi.entropy), ("surprisal", fi.surprisal), ("logsumexp", fi.logsumexp),
       ("softmax_entropy", fi.softmax_entropy), ("softmax", fi.softmax), ("log_softmax", fi.log_softmax),
       ("renyi_entropy2", lambda a, **k: fi.renyi_entropy(a, 2.0, **k))]
TWO = [("cross_entropy", fi.cross_entropy), ("kl_divergence", fi.kl_divergence),
       ("js_divergence", fi.js_divergence), ("softmax_kl_divergence", fi.softmax_kl_divergence),
       ("softmax_js_divergence", fi.softmax_js_divergence), ("hellinger_distance", fi.hellinger_distance),
       ("total_variation", fi.total_variation)]
SAME_SHAPE = {"surprisal", "softmax", "log_softmax"}


@SET
@given(a=arrays(), case=st.sampled_from(ONE), axis=st.integers(-4, 3), invalid=st.sampled_from(["raise", "nan"]))
def test_one_argument_measures(a, case, axis, invalid):
    name, f = case
    before = a.copy()
    kw = {"axis": axis}
    if name not in ("softmax", "log_softmax", "logsumexp"):
        kw["invalid"] = invalid
    try:
        r = f(a, **kw)
    except OK_ERRORS:
        pass
    else:
        ax = axis % a.ndim if a.ndim else None
        if name in SAME_SHAPE:
            expect = a.shape
        else:
            expect = a.shape[:ax] + a.shape[ax + 1:] if a.ndim else ()
        _check_result(r, expect, [a.dtype])
    assert np.array_equal(a, before, equal_nan=True) if a.dtype.kind != "O" else True


@SET
@given(a=arrays(2), b=arrays(2), case=st.sampled_from(TWO), invalid=st.sampled_from(["raise", "nan"]),
       normalize=st.booleans())
def test_two_argument_measures(a, b, case, invalid, normalize):
    name, f = case
    ca, cb = a.copy(), b.copy()
    kw = {"invalid": invalid}
    if not name.startswith("softmax"):
        kw["normalize"] = normalize
    try:
        r = f(a, b, **kw)
    except OK_ERRORS:
        pass
    else:
        shape = np.broadcast_shapes(a.shape, b.shape)
        _check_result(r, shape[:-1], [a.dtype, b.dtype])
    if a.dtype.kind != "O":
        assert np.array_equal(a, ca, equal_nan=True)
    if b.dtype.kind != "O":
        assert np.array_equal(b, cb, equal_nan=True)


@SET
@given(rows=st.integers(0, 6), k=st.integers(0, 6), labels=st.lists(st.integers(-3, 8), min_size=0, max_size=6),
       vals=st.lists(VALUES, min_size=36, max_size=36), smoothing=st.sampled_from([0.0, 0.1, 1.0, -0.5, 2.0]),
       ignore=st.sampled_from([None, -1, 2]))
def test_softmax_cross_entropy_labels(rows, k, labels, vals, smoothing, ignore):
    x = np.array(vals[:rows * k], dtype=np.float64).reshape(rows, k)
    lab = np.array((labels + [0] * rows)[:rows], dtype=np.int64)
    xc = x.copy()
    try:
        r = fi.softmax_cross_entropy(x, lab, label_smoothing=smoothing, ignore_index=ignore, invalid="nan")
    except OK_ERRORS:
        pass
    else:
        _check_result(r, (rows,), [x.dtype])
    assert np.array_equal(x, xc, equal_nan=True)


@SET
@given(p=st.lists(st.floats(0, 1e300, allow_subnormal=True), min_size=1, max_size=12),
       q=st.lists(st.floats(1e-300, 1e300), min_size=1, max_size=12))
def test_valid_rows_never_nan(p, q):
    n = min(len(p), len(q))
    P = np.array(p[:n])
    Q = np.array(q[:n])
    if P.sum() == 0:
        P[0] = 1.0
    for f in (fi.entropy, lambda a: fi.kl_divergence(a, Q), lambda a: fi.js_divergence(a, Q),
              lambda a: fi.cross_entropy(a, Q)):
        v = f(P)
        assert not np.isnan(v)
        vn = f(P / P.sum()) if np.isfinite(P.sum()) else 0.0
        assert not np.isnan(vn)
