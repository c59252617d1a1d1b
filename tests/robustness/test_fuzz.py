"""Fuzzing: the whole public API under random shapes (0-length axes, 0-d), dtypes
(every integer and float width, bool, complex, object, structured, strings, non-native byte
order), layouts (negative strides, Fortran, read-only, memory-mapped, zero strides) and values
(NaN, +-inf, negatives, subnormals, +-1e308, zeros, huge integers), and odd arguments (axes,
bases, orders, temperatures, labels, k, window lengths, methods). Every call returns the
documented shape and dtype or raises ValueError / TypeError / IndexError / AxisError, never
crashes and never modifies its input; where the documentation promises a number (valid rows,
labels, finite samples) it is not NaN.

Bounded profile here (FASTINFO_FUZZ_EXAMPLES, default 150 per test); the long profile:
``FASTINFO_FUZZ_EXAMPLES=20000 pytest tests/robustness/test_fuzz.py``."""

import atexit
import itertools
import math
import os
import shutil
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import fastinfo as fi

EXAMPLES = int(os.environ.get("FASTINFO_FUZZ_EXAMPLES", "150"))
SET = settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
OK_ERRORS = (ValueError, TypeError, IndexError, np.exceptions.AxisError)

VALUES = st.sampled_from([0.0, 1.0, 0.5, 1e-3, 3.0, -1.0, np.nan, np.inf, -np.inf, 5e-324, 1e-310, 1e308,
                          -1e308, 2.0**-1022, 7.0])
DTYPES = st.sampled_from(["f8", "f4", "f2", "<f8", ">f8", ">f4", "i1", "u1", "i2", "u2", "i4", "i8", "u8", "?",
                          "c16", "O", "g", "V"])
STRUCTURED = np.dtype([("a", "f8"), ("b", "i4")])
MAPS = tempfile.mkdtemp(prefix="fastinfo-fuzz-")
atexit.register(shutil.rmtree, MAPS, True)
_map_names = itertools.count()


def _memmap(a):
    """a copied into a memory-mapped file (read-only map when the copy is done)."""
    if a.size == 0 or a.dtype.hasobject:
        return a
    path = os.path.join(MAPS, f"{next(_map_names)}.bin")
    m = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
    m[...] = a
    m.flush()
    return np.memmap(path, dtype=a.dtype, mode="r", shape=a.shape)


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
        elif dt.kind == "V":
            base = np.zeros(size, dtype=STRUCTURED)
            base["a"] = vals
        else:
            base = np.array(vals).astype(dt)
    a = base.reshape(shape)
    layout = draw(st.sampled_from(["c", "f", "neg", "ro", "bcast", "mmap"]))
    if layout == "f":
        a = np.asfortranarray(a)
    elif layout == "neg" and a.ndim:
        a = a[..., ::-1]
    elif layout == "ro":
        a = a.copy()
        a.flags.writeable = False
    elif layout == "bcast" and a.ndim:
        a = np.broadcast_to(a[..., :1], a.shape) if a.shape[-1] else a
    elif layout == "mmap":
        a = _memmap(a)
    return a


def _unchanged(a, before):
    """Bitwise the same contents (object arrays: the same objects)."""
    a = np.asarray(a)
    if a.dtype.hasobject:
        return all(x is y for x, y in zip(a.ravel(), before.ravel()))
    return a.shape == before.shape and a.tobytes() == before.tobytes()


def _without_axis(shape, axis):
    """The shape of a reduction over `axis` (a 0-d input gives a 0-d result)."""
    if not shape:
        return ()
    ax = axis % len(shape)
    return shape[:ax] + shape[ax + 1:]


def _check_result(r, batch_shape, input_dtypes):
    r = np.asarray(r)
    assert r.shape == batch_shape, (r.shape, batch_shape)
    assert r.dtype in (np.float32, np.float64), r.dtype


def _reduction_or_documented_error(call, x, axis):
    """call() reduces x over `axis` (the result) or raises a documented error (None); either
    way x is left unchanged."""
    before = x.copy()
    try:
        r = call()
    except OK_ERRORS:
        r = None
    else:
        _check_result(r, _without_axis(x.shape, axis), [x.dtype])
    assert _unchanged(x, before)
    return r


ONE = [("entropy", fi.entropy), ("surprisal", fi.surprisal), ("logsumexp", fi.logsumexp),
       ("softmax_entropy", fi.softmax_entropy), ("softmax", fi.softmax), ("log_softmax", fi.log_softmax),
       ("renyi_entropy2", lambda a, **k: fi.renyi_entropy(a, 2.0, **k))]
TWO = [("cross_entropy", fi.cross_entropy), ("kl_divergence", fi.kl_divergence),
       ("js_divergence", fi.js_divergence), ("softmax_kl_divergence", fi.softmax_kl_divergence),
       ("softmax_js_divergence", fi.softmax_js_divergence), ("hellinger_distance", fi.hellinger_distance),
       ("total_variation", fi.total_variation), ("softmax_total_variation", fi.softmax_total_variation)]
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
        _check_result(r, a.shape if name in SAME_SHAPE else _without_axis(a.shape, axis), [a.dtype])
    assert _unchanged(a, before)


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
    assert _unchanged(a, ca) and _unchanged(b, cb)


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
    # the gradient: the logits' shape, NaN exactly in the invalid rows, 0 in the ignored ones
    try:
        r, g = fi.softmax_cross_entropy(x, lab, label_smoothing=smoothing, ignore_index=ignore, invalid="nan",
                                        return_grad=True)
    except OK_ERRORS:
        pass
    else:
        _check_result(r, (rows,), [x.dtype])
        assert g.shape == x.shape and g.dtype == np.float64
        # (a row of only -inf: loss +inf, its softmax and so its gradient undefined, NaN)
        kept = lab != ignore if ignore is not None else np.ones(rows, bool)
        undefined = np.isnan(r) | ((x == -np.inf).all(axis=1) & kept) if k else np.isnan(r)
        assert np.array_equal(undefined, np.isnan(g).all(axis=1) if k else np.isnan(r))
        if ignore is not None:
            assert not g[lab == ignore].any()
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


# --- the rest of the API ----------------------------------------------------------------

BASES = st.sampled_from([None, 2, 2.0, math.e, 10, 0.5, np.float32(2), 1, 1.0, 0, -2, np.nan, np.inf, "2", True])
ORDERS = st.sampled_from([0, 0.5, 1, 1.0, 2, 2.5, 7, np.inf, 1e308, 1e-308, -1, -np.inf, np.nan, True, "2", None,
                          np.float32(0.5)])
TEMPERATURES = st.sampled_from([1.0, 0.5, 2, 1e-300, 1e300, 0, -1, np.nan, np.inf, None, "1"])
KS = st.sampled_from([1, 2, 3, 5, 0, -1, 100, 2.5, True, "3", None, np.int64(3), np.uint8(2)])
LABEL_VALUES = [0, 1, 2, 7, -1, -2**63, 2**62, 2**63 - 1, 3, 3, 0]
LABEL_DTYPES = st.sampled_from(["i8", "i4", "i2", "i1", "u1", "u2", "u4", "u8", ">i8", "?", "f8", "f4", "O", "U3",
                                "V", "c16"])


def _base_ok(base):
    return base is None or (isinstance(base, (int, float, np.floating)) and not isinstance(base, bool)
                            and base > 0 and base != 1 and math.isfinite(base))


@st.composite
def labels(draw, n=None):
    if n is None:
        n = draw(st.integers(0, 12))
    dt = np.dtype(draw(LABEL_DTYPES))
    vals = draw(st.lists(st.sampled_from(LABEL_VALUES), min_size=n, max_size=n))
    if dt.kind in "iu":
        info = np.iinfo(dt)
        a = np.array([min(max(v, info.min), info.max) for v in vals], dtype=object).astype(dt)
    elif dt.kind == "f" and draw(st.booleans()) and n:
        a = np.array(vals, dtype=np.float64).astype(dt)
        a[draw(st.integers(0, n - 1))] = draw(st.sampled_from([np.nan, np.inf, 0.5]))
    elif dt.kind == "V":
        a = np.zeros(n, dtype=STRUCTURED)
    else:
        a = np.array(vals, dtype=object).astype(dt) if dt.kind != "U" else np.array([str(v)[:3] for v in vals])
    if draw(st.booleans()) and n:
        a = a[::-1]
    if draw(st.integers(0, 5)) == 0:
        a = a.reshape(1, -1)           # 2-D labels: an error
    return a


def _float_or_documented_error(calls):
    """Each call gives a float32/float64 result or raises one of the documented exceptions."""
    for call in calls:
        try:
            r = call()
        except OK_ERRORS:
            continue
        assert np.asarray(r).dtype in (np.float32, np.float64)


def _is_real_scalar(r):
    return isinstance(r, (float, np.floating)) and np.ndim(r) == 0


@SET
@given(x=labels(), data=st.data(), base=BASES,
       average=st.sampled_from(["arithmetic", "geometric", "min", "max", "harmonic", 2]),
       sparse=st.sampled_from([None, True, False, 1]))
def test_label_functions(x, data, base, average, sparse):
    y = data.draw(labels(x.shape[-1] if data.draw(st.booleans()) else None))
    cx, cy = x.copy(), y.copy()
    calls = [("contingency_table", lambda: fi.contingency_table(x, y, sparse=sparse)),
             ("mutual_information_score", lambda: fi.mutual_information_score(x, y, base=base)),
             ("normalized_mutual_information_score",
              lambda: fi.normalized_mutual_information_score(x, y, average=average)),
             ("adjusted_mutual_information_score",
              lambda: fi.adjusted_mutual_information_score(x, y, average=average))]
    for name, call in calls:
        try:
            r = call()
        except OK_ERRORS:
            continue
        if name == "contingency_table":
            if isinstance(r, fi.SparseContingency):
                assert sparse in (None, True, 1)
            else:
                assert r.dtype == np.int64 and r.ndim == 2 and r.sum() == x.size
                table = r
                try:
                    e = fi.expected_mutual_information(table)
                except OK_ERRORS:
                    pass
                else:
                    assert _is_real_scalar(e) and not math.isnan(e)
        else:
            # scores of valid labels are numbers (sklearn's conventions for one cluster / no samples)
            assert _is_real_scalar(r) and not math.isnan(r), (name, r)
            if name == "mutual_information_score" and (base is None or base > 1):
                assert r >= 0       # (a base below 1 flips the sign of every logarithm)
    assert _unchanged(x, cx) and _unchanged(y, cy)


@SET
@given(c=arrays(2), estimator=st.sampled_from(["plugin", "miller_madow", "chao_shen", "grassberger", "nsb",
                                               "jackknife", "Plugin", 3]),
       axis=st.integers(-3, 2), base=BASES, invalid=st.sampled_from(["raise", "nan", "ignore"]))
def test_entropy_from_counts(c, estimator, axis, base, invalid):
    _reduction_or_documented_error(
        lambda: fi.entropy_from_counts(c, estimator=estimator, axis=axis, base=base, invalid=invalid), c, axis)


@SET
@given(p=arrays(2), q=arrays(2), data=st.data(), base=BASES, normalize=st.booleans(),
       invalid=st.sampled_from(["raise", "nan"]))
def test_pairwise(p, q, data, base, normalize, invalid):
    cp, cq = p.copy(), q.copy()
    name = data.draw(st.sampled_from(["pairwise_cross_entropy", "pairwise_kl_divergence", "pairwise_js_divergence"]))
    method = data.draw(st.sampled_from([None, "exact", "fast" if name.endswith("js_divergence") else "blas", "bogus"]))
    kw = {} if method is None else {"method": method}
    try:
        r = getattr(fi, name)(p, q, base=base, normalize=normalize, invalid=invalid, **kw)
    except OK_ERRORS:
        pass
    else:
        assert r.dtype == np.float64 and r.shape == (np.atleast_2d(p).shape[0], np.atleast_2d(q).shape[0])
        rows_ok = lambda a: np.all(np.isfinite(a.astype(np.float64)) & (a.astype(np.float64) >= 0), axis=-1)
        if p.dtype.kind in "fiub" and q.dtype.kind in "fiub" and p.ndim == 2 and q.ndim == 2 and not normalize:
            # valid rows give numbers (invalid="nan" marks only the pairs with an invalid row)
            ok = rows_ok(p)[:, None] & rows_ok(q)[None, :]
            with np.errstate(all="ignore"):
                finite = np.all(np.abs(p.astype(np.float64)) < 1e300, axis=-1)[:, None] & \
                    np.all(np.abs(q.astype(np.float64)) < 1e300, axis=-1)[None, :]
            assert not np.isnan(r[ok & finite]).any()
    assert _unchanged(p, cp) and _unchanged(q, cq)


@SET
@given(p=arrays(2), q=arrays(2), order=ORDERS, base=BASES, normalize=st.booleans(),
       name=st.sampled_from(["renyi_entropy", "tsallis_entropy", "renyi_divergence"]))
def test_generalized_orders(p, q, order, base, normalize, name):
    cp, cq = p.copy(), q.copy()
    try:
        if name == "renyi_entropy":
            r = fi.renyi_entropy(p, order, base=base, normalize=normalize, invalid="nan")
        elif name == "tsallis_entropy":
            r = fi.tsallis_entropy(p, order, normalize=normalize, invalid="nan")
        else:
            r = fi.renyi_divergence(p, q, order, base=base, normalize=normalize, invalid="nan")
    except OK_ERRORS:
        pass
    else:
        shape = p.shape if name != "renyi_divergence" else np.broadcast_shapes(p.shape, q.shape)
        _check_result(r, shape[:-1], [p.dtype])
        if name != "renyi_divergence" and p.dtype.kind in "fiub" and p.ndim and p.shape[-1]:
            with np.errstate(all="ignore"):
                pf = p.astype(np.float64)
                ok = np.all(np.isfinite(pf) & (pf >= 0) & (pf < 1e300), axis=-1)
                if normalize:
                    ok &= pf.sum(-1) > 0
            assert not np.isnan(np.asarray(r)[ok]).any()
    assert _unchanged(p, cp) and _unchanged(q, cq)


@SET
@given(x=arrays(2), t=TEMPERATURES, base=BASES, data=st.data())
def test_logit_functions_arguments(x, t, base, data):
    cx = x.copy()
    lab = data.draw(labels(x.shape[0] if x.ndim else 0))
    y = data.draw(arrays(2))
    cl, cy = lab.copy(), y.copy()
    reduction = data.draw(st.sampled_from(["none", "mean", "sum", "bogus"]))
    div_reduction = data.draw(st.sampled_from(["none", "mean", "sum", "batchmean", "bogus"]))
    ignore = data.draw(st.sampled_from([None, -1, 0, 2**70]))
    where = data.draw(st.sampled_from([None, True, np.array([True, False]), np.array([1, 0]), "yes"]))
    calls = [lambda: fi.softmax_cross_entropy(x, lab, temperature=t, base=base, reduction=reduction,
                                              ignore_index=ignore, invalid="nan"),
             lambda: float(np.sum(fi.softmax_cross_entropy(x, lab, temperature=t, base=base, reduction=reduction,
                                                           ignore_index=ignore, invalid="nan", return_grad=True)[1])),
             lambda: float(np.sum(fi.softmax_cross_entropy(x, y, temperature=t, reduction=reduction, invalid="nan",
                                                           return_grad=True)[1])),
             lambda: fi.softmax_cross_entropy(x, y, temperature=t, reduction=reduction, invalid="nan"),
             lambda: fi.softmax_entropy(x, temperature=t, base=base, invalid="nan"),
             lambda: fi.logsumexp(x, invalid="nan", return_grad=True,
                                  grad_output=data.draw(st.sampled_from([None, 2.0, lab])))[1],
             lambda: fi.log_softmax(x, temperature=t, invalid="nan", return_grad=True,
                                    grad_output=data.draw(st.sampled_from([None, y, -1.0])))[1],
             lambda: fi.softmax(x, temperature=t, invalid="nan"),
             lambda: fi.log_softmax(x, temperature=t, invalid="nan"),
             lambda: fi.softmax_kl_divergence(x, y, temperature=t, base=base, reduction=reduction, invalid="nan"),
             lambda: fi.softmax_js_divergence(x, y, temperature=t, beta=data.draw(st.sampled_from([0.0, 0.3, 1.0, 2.0])),
                                              base=base, reduction=reduction, invalid="nan"),
             lambda: fi.softmax_total_variation(x, y, temperature=t, reduction=div_reduction, invalid="nan"),
             # the masks of the divergences: labels == ignore_index or where False leave rows out
             lambda: fi.softmax_kl_divergence(x, y, labels=lab, ignore_index=ignore, where=where,
                                              reduction=div_reduction, invalid="nan"),
             lambda: float(np.sum(fi.softmax_kl_divergence(x, y, temperature=t, labels=lab, ignore_index=ignore,
                                                           where=where, reduction=div_reduction, invalid="nan",
                                                           return_grad=True)[1])),
             lambda: float(np.sum(fi.softmax_js_divergence(x, y, beta=data.draw(st.sampled_from([0.0, 0.5, 0.3, 1.0])),
                                                           temperature=t, labels=lab, ignore_index=ignore,
                                                           where=where, reduction=div_reduction, invalid="nan",
                                                           return_grad=True)[1])),
             lambda: fi.softmax_js_divergence(x, y, beta=data.draw(st.sampled_from([0.5, 0.3, 1.0])), labels=lab,
                                              ignore_index=ignore, where=where, reduction=div_reduction,
                                              invalid="nan"),
             lambda: fi.softmax_total_variation(x, y, labels=lab, ignore_index=ignore, where=where,
                                                reduction=div_reduction, invalid="nan"),
             lambda: fi.sigmoid_cross_entropy(x, y, base=base, reduction=reduction, invalid="nan"),
             lambda: float(np.sum(fi.sigmoid_cross_entropy(x, y, base=base, reduction=reduction, invalid="nan",
                                                           return_grad=True)[1])),
             lambda: fi.perplexity(x, lab, ignore_index=ignore, base=base),
             lambda: fi.softmax_cross_entropy_grad_hess(x, lab, gamma=data.draw(st.sampled_from([0.0, 2.0, -1.0])),
                                                        hessian=data.draw(st.sampled_from(["diagonal",
                                                                                           "upper_bound", "x"])),
                                                        sample_weight=data.draw(st.sampled_from([None, lab])),
                                                        invalid=data.draw(st.sampled_from(["nan", "raise"])))[1],
             lambda: fi.sigmoid_cross_entropy_grad_hess(x, y, gamma=data.draw(st.sampled_from([0.0, 0.5, np.nan])),
                                                        invalid=data.draw(st.sampled_from(["nan", "raise"])))[0]]
    _float_or_documented_error(calls)
    k = data.draw(st.sampled_from([0, 1, 3, -1, 2**70]))
    for lb in (lab, None):
        try:
            s = fi.softmax_stats(x, lb, k=k, temperature=t, ignore_index=ignore, invalid="nan")
        except OK_ERRORS:
            continue
        batch = np.shape(s.entropy)
        if x.ndim == 2 and lb is not None and lb.ndim == 1:
            for call in (lambda: fi.calibration_error(x, lb, from_logits=True, n_bins=3),
                         lambda: fi.calibration_error(x, lb, mode="classwise", norm="max"),
                         lambda: fi.brier_score(x, lb, from_logits=True),
                         lambda: fi.fit_temperature(x, lb, ignore_index=ignore),
                         lambda: float(fi.sequence_scores(x, lb, ignore_index=ignore).tokens),
                         lambda: float(fi.topk_kl_divergence(x[:, :1], lb[:, None], x, reduction="sum")),
                         lambda: float(fi.topk_kl_divergence(x[:, :1], lb[:, None], x, labels=lb, ignore_index=ignore,
                                                             where=where, reduction=div_reduction)),
                         lambda: float(np.min(fi.ensemble_uncertainty(x[None], temperature=t).epistemic,
                                              initial=0.0))):
                try:
                    r = call()
                except (*OK_ERRORS, RuntimeWarning):
                    continue
                assert isinstance(r, float) and (math.isnan(r) or r >= 0)
        for f, v in s._asdict().items():       # every field that applies, of its shape
            if f.startswith("topk") and k == 0 or f in ("nll", "correct", "rank", "label_prob") and lb is None:
                assert v is None, f
            else:
                assert isinstance(v, (np.ndarray, np.generic)), f
                assert np.shape(v) == (batch + (k,) if f.startswith("topk") else batch), f
    assert _unchanged(x, cx) and _unchanged(lab, cl) and _unchanged(y, cy)


@SET
@given(x=arrays(2), data=st.data())
def test_training_functions(x, data):
    """fastinfo.objectives and fastinfo.torch on anything: a float result or a documented error,
    never a crash; the inputs unchanged."""
    from fastinfo import objectives
    cx = x.copy()
    lab = data.draw(labels(x.shape[0] if x.ndim else 0))
    cl = lab.copy()
    k = data.draw(st.sampled_from([2, 3, 5, 0, 2.5]))
    gamma = data.draw(st.sampled_from([0.0, 2.0, -1.0]))
    calls = [lambda: objectives.lightgbm_multiclass(k, gamma=gamma)(lab, x)[1],
             lambda: objectives.xgboost_multiclass(k, gamma=gamma)(lab, x)[0],
             lambda: objectives.lightgbm_binary(gamma=gamma)(lab, x)[1],
             lambda: objectives.xgboost_binary(hess_floor=data.draw(st.sampled_from([0.0, -1.0, 1e-6])))(lab, x)[0]]
    try:
        import torch
        import fastinfo.torch as ft
    except ImportError:
        torch = None
    if torch is not None and x.dtype.kind == "f" and x.dtype.isnative:
        reduction = data.draw(st.sampled_from(["mean", "sum", "none", "batchmean", "avg"]))

        def grad_of(f, *args, **kw):
            X = torch.from_numpy(x.copy()).requires_grad_()
            v = f(X, *args, **kw)
            v.sum().backward()
            return X.grad.numpy()

        try:
            t = torch.from_numpy(lab.astype(np.int64) if lab.dtype.kind in "iub" else lab.astype(np.float64))
        except (TypeError, ValueError, OverflowError):       # labels torch has no dtype for
            t = torch.zeros(0, dtype=torch.int64)
        calls += [lambda: grad_of(ft.cross_entropy, t, reduction=reduction,
                                  label_smoothing=data.draw(st.sampled_from([0.0, 0.2, 2.0]))),
                  lambda: grad_of(ft.kl_div, torch.from_numpy(x.copy()), reduction=reduction,
                                  log_target=data.draw(st.booleans())),
                  lambda: grad_of(ft.binary_cross_entropy_with_logits,
                                  torch.from_numpy(np.nan_to_num(np.abs(x)) % 1.0), reduction=reduction)]
    for call in calls:
        try:
            r = call()
        except OK_ERRORS + (RuntimeError,):
            continue
        assert np.asarray(r).dtype.kind == "f"
    assert _unchanged(x, cx) and _unchanged(lab, cl)


@SET
@given(pxy=arrays(3), base=BASES, normalize=st.booleans(), data=st.data())
def test_joint_functions(pxy, base, normalize, data):
    before = pxy.copy()
    axes = data.draw(st.sampled_from([(-2, -1), (0, 1), (1, 0), (0, 0), (0, 5), (-1, -3), (1,), "01"]))
    for f in (fi.joint_entropy, fi.conditional_entropy, fi.mutual_information, fi.variation_of_information):
        try:
            r = f(pxy, axes=axes, base=base, normalize=normalize, invalid="nan")
        except OK_ERRORS:
            continue
        a, b = (ax % pxy.ndim for ax in axes)
        batch = tuple(n for i, n in enumerate(pxy.shape) if i not in (a, b))
        if f is fi.conditional_entropy and isinstance(r, tuple):
            r = r[0]
        assert np.asarray(r).shape[-len(batch):] == batch if batch else True
    try:
        fi.normalized_mutual_information(pxy, axes=axes, normalize=normalize, invalid="nan",
                                         average=data.draw(st.sampled_from(["arithmetic", "max", "x"])))
    except OK_ERRORS:
        pass
    assert _unchanged(pxy, before)


@SET
@given(cov=arrays(3), mean=arrays(2), base=BASES, diagonal=st.booleans(), data=st.data())
def test_gaussian_functions(cov, mean, base, diagonal, data):
    cc, cm = cov.copy(), mean.copy()
    lv = data.draw(arrays(2))
    clv = lv.copy()
    reduction = data.draw(st.sampled_from(["none", "sum", "x"]))
    _float_or_documented_error([lambda: fi.gaussian_entropy(cov, diagonal=diagonal, base=base),
                                lambda: fi.gaussian_kl_divergence(mean, cov, mean[..., ::-1], cov, base=base),
                                lambda: fi.diagonal_gaussian_kl_divergence(mean, lv, base=base, reduction=reduction)])
    assert _unchanged(cov, cc) and _unchanged(mean, cm) and _unchanged(lv, clv)


@SET
@given(pts=arrays(2), k=KS, base=BASES, metric=st.sampled_from(["euclidean", "chebyshev", "manhattan", 2]),
       data=st.data())
def test_knn_estimators(pts, k, base, metric, data):
    before = pts.copy()
    y = data.draw(arrays(2))
    cy = y.copy()
    try:
        r = fi.knn_entropy(pts, k=k, metric=metric, base=base)
    except OK_ERRORS:
        pass
    else:
        assert _is_real_scalar(r) and not math.isnan(r)       # finite samples: a number
    try:
        r = fi.knn_mutual_information(pts, y, k=k, base=base, clip=data.draw(st.sampled_from([True, False, "no"])))
    except OK_ERRORS:
        pass
    else:
        assert _is_real_scalar(r) and not math.isnan(r)
    assert _unchanged(pts, before) and _unchanged(y, cy)


@SET
@given(x=arrays(2), method=st.sampled_from(["auto", "vasicek", "van es", "ebrahimi", "correa", "Vasicek", "kde", 3]),
       m=st.sampled_from([None, 1, 2, 3, 0, -1, 100, 2.0, True, np.int64(2)]), axis=st.integers(-3, 2), base=BASES)
def test_differential_entropy(x, method, m, axis, base):
    r = _reduction_or_documented_error(
        lambda: fi.differential_entropy(x, method=method, window_length=m, axis=axis, base=base), x, axis)
    if r is not None:
        # NaN only where a sample holds NaN or +-inf (documented, as SciPy: an infinite
        # spacing beside a zero one, or Correa's inf / inf); finite samples give numbers
        with np.errstate(all="ignore"):
            not_finite = ~np.isfinite(np.moveaxis(x.astype(np.float64), axis, -1)).all(-1)
        assert not (np.isnan(np.asarray(r)) & ~not_finite).any()


# Other libraries' arrays: the NumPy path's numbers (or its exception) on the equivalent ndarray
INTEROP_FLOATS = {"numpy": ["float64", "float32"], "torch": ["float64", "float32", "float16", "bfloat16"],
                  "pandas": ["float64", "float32", "Float64"], "jax": ["float32", "float16", "bfloat16"]}
INTEROP_CALLS = [("entropy", lambda x, y, **k: fi.entropy(x, **k)), ("softmax", lambda x, y, **k: fi.softmax(x, **k)),
                 ("log_softmax", lambda x, y, **k: fi.log_softmax(x, axis=0, **k)),
                 ("logsumexp", lambda x, y, **k: fi.logsumexp(x, **k)),
                 ("kl_divergence", lambda x, y, **k: fi.kl_divergence(x, x, **k)),
                 ("softmax_cross_entropy", lambda x, y, **k: fi.softmax_cross_entropy(x, y, **k))]
# mostly ordinary numbers (rows that give results), some of the special values
INTEROP_VALUES = st.one_of(st.floats(0, 1), st.floats(-30, 30), VALUES)


def _interop_kind(a, labels, kind, dtype):
    """a and labels as objects of `kind`, and the ndarrays they stand for (2-byte floats in their own
    dtype, ml_dtypes' bfloat16: the kernels that read them natively sum in another order than a
    float32 copy's, so the reference must be the same bits)."""
    if kind == "numpy":
        x = a.astype(dtype)
        return x, labels, x, labels
    if kind == "torch":
        import torch
        x = torch.tensor(a, dtype=getattr(torch, dtype))
        if dtype == "bfloat16":
            import ml_dtypes
            return x, torch.tensor(labels), x.view(torch.int16).numpy().view(ml_dtypes.bfloat16), labels
        return x, torch.tensor(labels), x.numpy(), labels
    if kind == "jax":
        import jax.numpy as jnp
        x = jnp.asarray(a, dtype=getattr(jnp, dtype))
        return x, jnp.asarray(labels), np.asarray(x), np.asarray(jnp.asarray(labels))
    import pandas as pd
    x = pd.DataFrame(a) if a.ndim == 2 else pd.Series(a)
    x = x.astype(dtype)
    y = pd.Series(labels) if labels.ndim else labels
    return x, y, x.to_numpy(dtype=np.float64 if dtype == "Float64" else None, na_value=np.nan), labels


def _interop_values(r):
    if type(r).__module__.startswith("torch"):
        return r.numpy()
    return np.asarray(r.to_numpy() if hasattr(r, "to_numpy") else r)


@SET
@given(kind=st.sampled_from(sorted(INTEROP_FLOATS)), data=st.data(), case=st.sampled_from(INTEROP_CALLS),
       invalid=st.sampled_from(["raise", "nan"]))
def test_other_libraries_arrays_give_the_numpy_result(kind, data, case, invalid):
    name, call = case
    dtype = data.draw(st.sampled_from(INTEROP_FLOATS[kind]), label="dtype")
    shape = tuple(data.draw(st.lists(st.integers(0 if kind != "pandas" else 1, 4), min_size=1, max_size=2),
                            label="shape"))
    size = int(np.prod(shape))
    a = np.array(data.draw(st.lists(INTEROP_VALUES, min_size=size, max_size=size)), dtype=np.float64).reshape(shape)
    rows = int(np.prod(shape[:-1]))
    labels = np.array(data.draw(st.lists(st.integers(-1, shape[-1]), min_size=rows, max_size=rows)),
                      dtype=np.int64).reshape(shape[:-1])
    import warnings
    with np.errstate(all="ignore"):
        x, y, xe, ye = _interop_kind(a, labels, kind, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = np.asarray(call(xe, ye, invalid=invalid))
        except OK_ERRORS as e:
            ref = e
        try:
            got = call(x, y, invalid=invalid)
        except OK_ERRORS as e:
            got = e
    if isinstance(ref, Exception) or isinstance(got, Exception):
        assert type(got) is type(ref), (name, kind, dtype, got, ref)
        return
    values = _interop_values(got)
    assert values.shape == ref.shape, (name, kind, values.shape, ref.shape)
    if kind != "jax":                     # JAX without x64 holds float64 results in float32
        assert values.dtype == ref.dtype, (name, kind, dtype, values.dtype, ref.dtype)
    np.testing.assert_array_equal(values, ref.astype(values.dtype))
