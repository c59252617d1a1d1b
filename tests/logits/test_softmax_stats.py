"""softmax_stats: the per-row statistics of p = softmax(logits / T) in one call -- nll,
logsumexp, entropy, max_prob, argmax, correct, rank, the top-k log-probabilities and
indices, label_prob.

Expected values come from independent computations only: PyTorch in float64 on the CPU for
the floating-point fields, NumPy's argmax and stable argsort for the orders (torch.topk
promises no order among ties, so only its values are used), the rank formula in NumPy, and
mpmath for rows with extreme values. fastinfo's results are compared with each other only
where the contract promises equality: nll, entropy and logsumexp bit for bit against
softmax_cross_entropy, softmax_entropy and logsumexp, one thread against two, torch tensors
against NumPy arrays, and the orders of 2-byte logits against float64 logits of the same
values.
"""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastinfo

FIELDS = ("nll", "logsumexp", "entropy", "max_prob", "argmax", "correct", "rank", "topk_logprobs",
          "topk_indices", "label_prob")
LABEL_FIELDS = ("nll", "correct", "rank", "label_prob")
TOPK_FIELDS = ("topk_logprobs", "topk_indices")
INT_FIELDS = ("argmax", "rank", "topk_indices")
FLOAT_FIELDS = ("nll", "logsumexp", "entropy", "max_prob", "topk_logprobs", "label_prob")

EPS64 = np.finfo(np.float64).eps
RTOL, ATOL = 1e-12, 1e-12
RTOL32, ATOL32 = 2e-6, 1e-6
MP_DPS = 50

SETTINGS = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------- data and oracles
def bf16():
    """NumPy's bfloat16 (ml_dtypes), or the test is skipped."""
    return np.dtype(pytest.importorskip("ml_dtypes").bfloat16)


def as_dtype(name):
    return bf16() if name == "bfloat16" else np.dtype(name)


def logits(shape, seed=0, scale=3.0, dtype=np.float64):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


def ties_and_masks(x, seed=0, axis=-1):
    """x (float64) with some rows rounded to integers (ties, the maximum among them) and some
    logits set to -inf (never a whole row), the class axis being `axis`."""
    rng = np.random.default_rng(seed)
    xm = np.moveaxis(x, axis, -1)
    rows = xm.reshape(-1, xm.shape[-1]).copy()
    K = rows.shape[1]
    for r in range(rows.shape[0]):
        if r % 3 == 1:
            rows[r] = np.round(rows[r] / 2)
        if r % 4 == 2 and K > 1:
            keep = rng.integers(K)
            drop = rng.random(K) < 0.4
            drop[keep] = False
            rows[r, drop] = -np.inf
    return np.moveaxis(rows.reshape(xm.shape), -1, axis).copy()


def tol(dtype):
    return (RTOL, ATOL) if np.dtype(dtype) == np.float64 else (RTOL32, ATOL32)


def stable_order(x):
    """Indices of the last axis in descending order of x, ties in increasing index order."""
    return np.argsort(-x, axis=-1, kind="stable")


def rank_of(x, y):
    """#{j : x_j > x_y} + #{j < y : x_j == x_y} along the last axis."""
    xy = np.take_along_axis(x, y[..., None], -1)
    j = np.arange(x.shape[-1])
    return (x > xy).sum(-1) + ((x == xy) & (j < y[..., None])).sum(-1)


def oracle(torch, x, labels=None, k=0, temperature=1.0, axis=-1):
    """Every field that applies, from PyTorch in float64 (the floats) and NumPy (the orders) on
    the float64 values of x with the class axis moved last. labels: valid classes only."""
    xd = np.moveaxis(np.asarray(x).astype(np.float64), axis, -1)
    z = torch.from_numpy(xd.copy()) / temperature
    lp = torch.log_softmax(z, -1)
    p = lp.exp()
    want = {
        "logsumexp": torch.logsumexp(z, -1).numpy(),
        # 0 log 0 = 0 on the -inf logits (PyTorch's product is NaN there)
        "entropy": -torch.where(p > 0, p * lp, torch.zeros_like(p)).sum(-1).numpy(),
        "max_prob": p.max(-1).values.numpy(),
        "argmax": np.argmax(xd, axis=-1),
    }
    if k:
        want["topk_indices"] = stable_order(xd)[..., :k]
        want["topk_logprobs"] = torch.topk(lp, k, dim=-1).values.numpy()
    if labels is not None:
        y = np.asarray(labels, dtype=np.int64)
        lpy = torch.gather(lp, -1, torch.from_numpy(y[..., None].copy()))[..., 0]
        want["nll"] = (-lpy).numpy()
        want["label_prob"] = lpy.exp().numpy()
        want["correct"] = want["argmax"] == y
        want["rank"] = rank_of(xd, y)
    return want


def scale_of(x, temperature=1.0):
    """max(1, the largest |logit / T|): log-probabilities are exact to a few ulp of it."""
    xd = np.asarray(x).astype(np.float64) / temperature
    finite = xd[np.isfinite(xd)]
    return max(1.0, float(np.abs(finite).max())) if finite.size else 1.0


def assert_matches(got, want, dtype, scale=1.0):
    """Every field of want in got: orders exactly, floats within the dtype's tolerance (the
    log-probabilities with an absolute part scaled by the size of the logits)."""
    rtol, atol = tol(dtype)
    for name, w in want.items():
        g = getattr(got, name)
        assert g is not None, name
        g = np.asarray(g)
        assert g.shape == np.shape(w), (name, g.shape, np.shape(w))
        if name in INT_FIELDS or name == "correct":
            np.testing.assert_array_equal(g, w, err_msg=name)
        else:
            a = atol * scale if name in ("nll", "topk_logprobs") else atol
            np.testing.assert_allclose(g.astype(np.float64), w, rtol=rtol, atol=a, err_msg=name)


def numpy_of(t):
    """A tensor's values as a NumPy array (bfloat16 as ml_dtypes.bfloat16)."""
    import torch
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().view(bf16())
    return t.numpy()


def tensor_of(torch, a):
    """A CPU tensor of a NumPy array's values (ml_dtypes.bfloat16 as torch.bfloat16)."""
    a = np.ascontiguousarray(a)
    if a.dtype == bf16():
        return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(a.copy())


def fields_of(r):
    return {f: getattr(r, f) for f in FIELDS if getattr(r, f) is not None}


SHAPES = [((7,), -1), ((5, 7), -1), ((5, 7), 0), ((3, 4, 6), -1), ((3, 4, 6), 1), ((3, 4, 6), 0)]
SHAPE_IDS = [f"{'x'.join(map(str, s))}-ax{a}" for s, a in SHAPES]


# =========================================================================== the result
def test_result_is_a_named_tuple_of_the_fields_in_order():
    """SoftmaxStats has the ten fields in the documented order; the call returns one."""
    assert tuple(fastinfo.SoftmaxStats._fields) == FIELDS
    r = fastinfo.softmax_stats(logits((3, 4)), np.array([0, 1, 2]), k=2)
    assert isinstance(r, fastinfo.SoftmaxStats) and isinstance(r, tuple) and len(r) == len(FIELDS)
    for i, f in enumerate(FIELDS):
        assert r[i] is getattr(r, f)


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("shape,axis", SHAPES, ids=SHAPE_IDS)
def test_every_field_vs_torch(torch, shape, axis, dtype, temperature):
    """Every field against PyTorch float64 and NumPy's orders on the same values, with ties,
    -inf masks and a label on a masked logit, over batch shapes, axes and temperatures."""
    K = shape[axis]
    batch = tuple(int(n) for n in np.delete(np.array(shape), axis))
    xm = ties_and_masks(logits(batch + (K,), seed=1), seed=2)
    rows = xm.reshape(-1, K)
    labels = np.random.default_rng(3).integers(0, K, size=rows.shape[0])
    rows[0, 1] = -np.inf  # and the first row's label on it
    labels[0] = 1
    x = np.moveaxis(xm, -1, axis).astype(dtype)
    labels = labels.reshape(batch) if batch else np.int64(labels[0])
    k = min(3, K)
    got = fastinfo.softmax_stats(x, labels, k=k, temperature=temperature, axis=axis)
    want = oracle(torch, x, labels, k=k, temperature=temperature, axis=axis)
    assert set(fields_of(got)) == set(FIELDS)
    assert_matches(got, want, dtype, scale_of(x, temperature))
    # the masked label: probability 0, nll +inf
    assert np.asarray(got.nll).reshape(-1)[0] == np.inf and np.asarray(got.label_prob).reshape(-1)[0] == 0.0


def test_ties_break_toward_the_lower_index():
    """argmax is the first maximal logit, the top k and the rank follow the stable descending
    order (a tied label counts the tied classes before it)."""
    x = np.array([[1.0, 3.0, 3.0, 0.0, 3.0]] * 4)
    labels = np.array([1, 2, 4, 3])
    r = fastinfo.softmax_stats(x, labels, k=5)
    np.testing.assert_array_equal(r.argmax, [1, 1, 1, 1])
    np.testing.assert_array_equal(r.rank, [0, 1, 2, 4])
    np.testing.assert_array_equal(r.correct, [True, False, False, False])
    np.testing.assert_array_equal(r.topk_indices, [[1, 2, 4, 0, 3]] * 4)
    lp = x[0] - np.log(np.exp(x[0]).sum())
    np.testing.assert_allclose(r.topk_logprobs, [lp[[1, 2, 4, 0, 3]]] * 4, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(r.max_prob, np.exp(lp[1]), rtol=RTOL)
    # a row of equal logits: every class ties, the order is the index order
    r = fastinfo.softmax_stats(np.zeros(6), np.int64(4), k=6)
    assert r.argmax == 0 and r.rank == 4 and not r.correct
    np.testing.assert_array_equal(r.topk_indices, np.arange(6))
    np.testing.assert_allclose(r.entropy, math.log(6), rtol=RTOL)


def test_minus_inf_logits_are_masks():
    """-inf logits have probability 0: they come last in the order, log-probability -inf, no
    entropy; a label on one has nll +inf and label_prob 0."""
    x = np.array([[0.0, -np.inf, 1.0, -np.inf]] * 3)
    labels = np.array([1, 3, 2])
    r = fastinfo.softmax_stats(x, labels, k=4)
    p2 = 1.0 / (1.0 + math.exp(-1.0))
    np.testing.assert_array_equal(r.topk_indices, [[2, 0, 1, 3]] * 3)
    np.testing.assert_allclose(r.topk_logprobs[:, :2], [[math.log(p2), math.log(1 - p2)]] * 3, rtol=RTOL)
    assert np.all(r.topk_logprobs[:, 2:] == -np.inf)
    np.testing.assert_array_equal(r.nll[:2], [np.inf, np.inf])
    np.testing.assert_array_equal(r.label_prob[:2], [0.0, 0.0])
    np.testing.assert_allclose(r.nll[2], -math.log(p2), rtol=RTOL)
    np.testing.assert_allclose(r.label_prob[2], p2, rtol=RTOL)
    np.testing.assert_array_equal(r.rank, [2, 3, 0])
    np.testing.assert_array_equal(r.correct, [False, False, True])
    np.testing.assert_array_equal(r.argmax, [2, 2, 2])
    h = -(p2 * math.log(p2) + (1 - p2) * math.log(1 - p2))
    np.testing.assert_allclose(r.entropy, [h] * 3, rtol=RTOL)
    np.testing.assert_allclose(r.max_prob, [p2] * 3, rtol=RTOL)
    np.testing.assert_allclose(r.logsumexp, [math.log(1 + math.e)] * 3, rtol=RTOL)


def test_empty_batch_gives_empty_fields():
    """A batch of no rows: every field empty, of the batch shape (plus k for the top k)."""
    r = fastinfo.softmax_stats(np.zeros((0, 5)), np.zeros(0, np.int64), k=2)
    for f in FIELDS:
        assert np.shape(getattr(r, f)) == ((0, 2) if f in TOPK_FIELDS else (0,)), f


# =========================================================================== returns, k
@pytest.mark.parametrize("with_labels", [False, True], ids=["nolabels", "labels"])
@pytest.mark.parametrize("k", [0, 2])
def test_returns_none_gives_every_field_that_applies(with_labels, k):
    """returns=None: the label fields only with labels, the top-k fields only for k > 0, the
    rest None."""
    x = logits((4, 5), seed=4)
    r = fastinfo.softmax_stats(x, np.array([0, 1, 2, 3]) if with_labels else None, k=k)
    for f in FIELDS:
        applies = (with_labels or f not in LABEL_FIELDS) and (k > 0 or f not in TOPK_FIELDS)
        assert (getattr(r, f) is not None) == applies, f


@pytest.mark.parametrize("returns", ["entropy", "nll", ["rank", "max_prob"], ("topk_indices",),
                                     ["label_prob", "topk_logprobs", "argmax", "correct"]],
                         ids=["str", "label-str", "list", "tuple", "mixed"])
def test_returns_selects_the_fields(returns):
    """returns names the fields computed: exactly those are set, with the full call's values;
    the others are None."""
    x = ties_and_masks(logits((6, 9), seed=5), seed=6)
    labels = np.array([0, 1, 8, 3, 4, 5])
    full = fastinfo.softmax_stats(x, labels, k=3, temperature=0.5)
    r = fastinfo.softmax_stats(x, labels, k=3, temperature=0.5, returns=returns)
    names = [returns] if isinstance(returns, str) else list(returns)
    for f in FIELDS:
        if f not in names:
            assert getattr(r, f) is None, f
            continue
        g, w = getattr(r, f), getattr(full, f)
        assert np.asarray(g).dtype == np.asarray(w).dtype and np.shape(g) == np.shape(w), f
        if f in INT_FIELDS or f == "correct":
            np.testing.assert_array_equal(g, w, err_msg=f)
        else:
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f)


@pytest.mark.parametrize("returns,with_labels,k,name", [
    ("nll", False, 2, "nll"),
    (["entropy", "rank"], False, 0, "rank"),
    ("label_prob", False, 0, "label_prob"),
    ("correct", False, 1, "correct"),
    ("topk_logprobs", True, 0, "topk_logprobs"),
    (["argmax", "topk_indices"], True, 0, "topk_indices"),
    ("perplexity", True, 2, "perplexity"),
    (["entropy", "top_k"], False, 2, "top_k"),
])
def test_returns_of_a_field_that_does_not_apply_raises(returns, with_labels, k, name):
    """A label field without labels, a top-k field with k = 0 or an unknown name: ValueError
    naming the field."""
    x = logits((3, 4), seed=7)
    labels = np.array([0, 1, 2]) if with_labels else None
    with pytest.raises(ValueError) as exc:
        fastinfo.softmax_stats(x, labels, k=k, returns=returns)
    assert name in str(exc.value), str(exc.value)


def test_k_from_zero_to_the_number_of_classes():
    """k = K gives the whole stable order; k > K raises ValueError; a negative or non-integer k
    is refused."""
    x = ties_and_masks(logits((4, 6), seed=8), seed=9)
    r = fastinfo.softmax_stats(x, k=6)
    np.testing.assert_array_equal(r.topk_indices, stable_order(x))
    assert r.topk_logprobs.shape == (4, 6)
    for k in (7, 100):
        with pytest.raises(ValueError):
            fastinfo.softmax_stats(x, k=k)
    with pytest.raises(ValueError):
        fastinfo.softmax_stats(x[0], k=7)
    for k in (-1, 1.5):
        with pytest.raises((ValueError, TypeError)):
            fastinfo.softmax_stats(x, k=k)


def long_rows(kind, K, rows=5, seed=0):
    """float64 rows of K logits (several blocks of the kernels, so that a thread's pass over a
    row also begins the next one) whose top k are placed to test the order statistics' pruning:
    at random, tied, at the end of the row, all in one lane of the vectors, among -inf, or far
    below a single huge maximum."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, K)) * 3.0
    if kind == "ties":              # few distinct values: the maximum is shared by many classes
        x = np.round(x / 3.0)
    elif kind == "rising":          # the largest logits last
        x = np.sort(x, axis=-1)
    elif kind == "one-lane":        # the largest logits on every 32nd class only
        x[:, ::32] += 40.0
    elif kind == "masked":          # three finite logits a row, the rest -inf
        x[:] = -np.inf
        for r in range(rows):
            x[r, rng.choice(K, 3, replace=False)] = rng.normal(size=3)
    elif kind == "far":             # one logit far above the others: their exps underflow
        x[:, 1234] = 1000.0
    return x


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("kind", ["normal", "ties", "rising", "one-lane", "masked", "far"])
def test_top_k_of_long_rows_vs_numpy(dtype, kind):
    """The top k, argmax and rank of rows several blocks long, every k from 1 to past the
    vector lanes, one thread and two, at two temperatures: NumPy's stable order of the same
    values and the rank formula."""
    K = 3 * 8192 + 37
    x = long_rows(kind, K).astype(as_dtype(dtype))
    xd = x.astype(np.float64)
    labels = np.random.default_rng(1).integers(0, K, size=x.shape[0])
    order = stable_order(xd)
    for k in (1, 2, 5, 17, 32, 33, 40):
        for n_threads in (1, 2):
            for temperature in (1.0, 0.7):
                r = fastinfo.softmax_stats(x, labels, k=k, temperature=temperature, n_threads=n_threads,
                                           returns=("argmax", "rank", "topk_indices", "topk_logprobs"))
                np.testing.assert_array_equal(r.topk_indices, order[:, :k], err_msg=f"k={k}")
                np.testing.assert_array_equal(r.argmax, order[:, 0])
                np.testing.assert_array_equal(r.rank, rank_of(xd, labels))
                z = xd / temperature
                m = z.max(axis=-1, keepdims=True)
                lp = z - (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))
                want = np.take_along_axis(lp, order[:, :k], -1)
                rtol, atol = tol(as_dtype(dtype))
                np.testing.assert_allclose(r.topk_logprobs, want, rtol=max(rtol, 1e-6), atol=max(atol, 1e-6))


# =========================================================================== shapes, dtypes
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("shape,axis", [((6,), 0), ((4, 6), -1), ((4, 6), 0), ((2, 3, 6), 1)],
                         ids=["1d", "2d", "2d-ax0", "3d-ax1"])
def test_shapes_and_dtypes(dtype, shape, axis):
    """Per-row fields have the batch shape, the top-k fields the batch shape plus (k,); floats
    are float64 for float64 logits and float32 otherwise, the orders int64, correct bool. 1-D
    logits give 0-d values."""
    dt = as_dtype(dtype)
    x = logits(shape, seed=10).astype(dt)
    batch = tuple(int(n) for n in np.delete(np.array(shape), axis))
    labels = np.random.default_rng(11).integers(0, shape[axis], size=batch)
    if labels.ndim == 0:
        labels = np.int64(labels)
    r = fastinfo.softmax_stats(x, labels, k=3, axis=axis)
    fdt = np.float64 if dt == np.float64 else np.float32
    for f in FIELDS:
        v = getattr(r, f)
        assert np.shape(v) == (batch + (3,) if f in TOPK_FIELDS else batch), (f, np.shape(v))
        want = fdt if f in FLOAT_FIELDS else (np.int64 if f in INT_FIELDS else np.bool_)
        assert np.asarray(v).dtype == want, (f, np.asarray(v).dtype)
        if len(shape) == 1 and f not in TOPK_FIELDS:
            assert np.ndim(v) == 0 and (isinstance(v, np.generic) or isinstance(v, np.ndarray)), f


# =========================================================================== ignore_index, where
@pytest.mark.parametrize("ignore_index", [-100, 3])
def test_ignored_rows(torch, ignore_index):
    """A label equal to ignore_index: nll 0.0, label_prob NaN, correct False, rank -1; the
    label-free fields as for any row."""
    x = ties_and_masks(logits((8, 6), seed=12), seed=13)
    labels = np.array([0, ignore_index, 2, 5, ignore_index, 1, 4, ignore_index])
    ign = labels == ignore_index
    r = fastinfo.softmax_stats(x, labels, k=2, ignore_index=ignore_index)
    np.testing.assert_array_equal(r.nll[ign], 0.0)
    assert np.all(np.isnan(r.label_prob[ign]))
    assert not np.any(r.correct[ign])
    np.testing.assert_array_equal(r.rank[ign], -1)
    safe = np.where(ign, 0, labels)
    want = oracle(torch, x, safe, k=2)
    for f in LABEL_FIELDS:
        want[f] = want[f][~ign]
    got = r._replace(**{f: getattr(r, f)[~ign] for f in LABEL_FIELDS})
    assert_matches(got, want, np.float64)


@pytest.mark.parametrize("where_shape", [(4, 5), (4, 1), (5,), ()], ids=["full", "4x1", "5", "scalar"])
def test_where_false_rows_are_not_read(torch, where_shape):
    """where broadcasts to the batch shape; its False rows are not read (NaN and +inf there
    raise nothing): nll 0.0, the other floats NaN, the orders -1, correct False. The True rows
    are as without where."""
    x = ties_and_masks(logits((4, 5, 7), seed=14).reshape(20, 7), seed=15).reshape(4, 5, 7)
    labels = np.random.default_rng(16).integers(0, 7, size=(4, 5))
    rng = np.random.default_rng(17)
    where = rng.random(where_shape) < 0.5 if where_shape else np.bool_(False)
    if where_shape:
        where.flat[0] = True
        where.flat[-1] = False
    off = ~np.broadcast_to(where, (4, 5))
    x[off, 2] = np.nan
    x[off, 4] = np.inf
    r = fastinfo.softmax_stats(x, labels, k=3, where=where, temperature=2.0)
    np.testing.assert_array_equal(r.nll[off], 0.0)
    for f in ("logsumexp", "entropy", "max_prob", "label_prob", "topk_logprobs"):
        assert np.all(np.isnan(getattr(r, f)[off])), f
    for f in ("argmax", "rank", "topk_indices"):
        assert np.all(getattr(r, f)[off] == -1), f
    assert not np.any(r.correct[off])
    if off.all():
        return
    on = ~off
    want = oracle(torch, x[on], labels[on], k=3, temperature=2.0)
    got = r._replace(**{f: getattr(r, f)[on] for f in FIELDS})
    assert_matches(got, want, np.float64, scale_of(x[on], 2.0))
    # no labels: the same rows
    r2 = fastinfo.softmax_stats(x, k=3, where=where, temperature=2.0)
    assert r2.nll is None
    assert np.all(np.isnan(r2.entropy[off])) and np.all(r2.argmax[off] == -1)
    np.testing.assert_allclose(r2.entropy[on], want["entropy"], rtol=RTOL, atol=ATOL)


def test_where_all_true_is_no_where():
    """where=True everywhere changes nothing."""
    x = ties_and_masks(logits((5, 8), seed=18), seed=19)
    labels = np.array([0, 7, 3, 3, 1])
    a = fastinfo.softmax_stats(x, labels, k=2)
    b = fastinfo.softmax_stats(x, labels, k=2, where=np.ones(5, bool))
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


# =========================================================================== invalid rows, labels
def _spoil(x, index, kind):
    if kind == "nan":
        x[index + (1,)] = np.nan
    elif kind == "+inf":
        x[index + (0,)] = np.inf
    else:
        x[index] = -np.inf


@pytest.mark.parametrize("kind", ["nan", "+inf", "all-inf"])
def test_invalid_rows_raise_naming_the_batch_index(kind):
    """A NaN or +inf logit, or a row of -inf logits: ValueError naming its batch index, on
    every axis and for 1-D logits."""
    x = logits((4, 5), seed=20)
    _spoil(x, (2,), kind)
    for labels in (None, np.array([0, 1, 2, 3])):
        with pytest.raises(ValueError, match=r"batch index \(2,\)"):
            fastinfo.softmax_stats(x, labels, k=2)
    x3 = logits((2, 3, 5), seed=21)
    x3m = np.moveaxis(x3, 1, -1)
    _spoil(x3m, (1, 4), kind)
    with pytest.raises(ValueError, match=r"batch index \(1, 4\)"):
        fastinfo.softmax_stats(x3, axis=1)
    x1 = logits((5,), seed=22)
    _spoil(x1, (), kind)
    with pytest.raises(ValueError, match=r"batch index \(\)"):
        fastinfo.softmax_stats(x1, np.int64(0))


def test_invalid_nan_fills_the_invalid_rows(torch):
    """invalid="nan": the invalid rows get NaN floats, -1 orders and correct False; the other
    rows are computed as usual."""
    x = ties_and_masks(logits((7, 6), seed=23), seed=24)
    bad = [1, 3, 4]
    _spoil(x, (1,), "nan")
    _spoil(x, (3,), "+inf")
    _spoil(x, (4,), "all-inf")
    labels = np.array([0, 1, 2, 3, 4, 5, 0])
    r = fastinfo.softmax_stats(x, labels, k=3, invalid="nan")
    for f in FLOAT_FIELDS:
        assert np.all(np.isnan(getattr(r, f)[bad])), f
    for f in INT_FIELDS:
        assert np.all(getattr(r, f)[bad] == -1), f
    assert not np.any(r.correct[bad])
    good = [0, 2, 5, 6]
    want = oracle(torch, x[good], labels[good], k=3)
    assert_matches(r._replace(**{f: getattr(r, f)[good] for f in FIELDS}), want, np.float64, scale_of(x[good]))


def test_labels_are_validated_as_by_cross_entropy():
    """A label outside [0, K) that is not ignore_index: IndexError naming the batch index;
    float labels: TypeError."""
    x = logits((4, 5), seed=25)
    with pytest.raises(IndexError, match=r"batch index \(1,\)"):
        fastinfo.softmax_stats(x, np.array([0, 5, 1, 2]))
    with pytest.raises(IndexError, match=r"batch index \(2,\)"):
        fastinfo.softmax_stats(x, np.array([0, 4, -1, 2]))
    with pytest.raises(IndexError, match=r"batch index \(2,\)"):
        fastinfo.softmax_stats(x, np.array([0, 4, -100, 2]), ignore_index=-1)
    with pytest.raises(IndexError, match=r"batch index \(3,\)"):
        fastinfo.softmax_stats(x, np.array([0, 4, 3, 2**64 - 1], dtype=np.uint64))
    x3 = logits((2, 3, 5), seed=26)
    lab = np.zeros((2, 3), dtype=np.int32)
    lab[1, 2] = 7
    with pytest.raises(IndexError, match=r"batch index \(1, 2\)"):
        fastinfo.softmax_stats(x3, lab)
    with pytest.raises(IndexError, match=r"batch index \(\)"):
        fastinfo.softmax_stats(x[0], np.int64(5))
    for labels in (np.array([0.0, 1.0, 2.0, 3.0]), np.array([0, 1, 2, 3], dtype=np.float32)):
        with pytest.raises(TypeError):
            fastinfo.softmax_stats(x, labels)


# =========================================================================== bitwise promises
@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("shape,axis", [((6, 37), -1), ((5, 7, 4), 1), ((9,), 0)], ids=["2d", "3d-ax1", "1d"])
def test_bitwise_equal_to_the_existing_functions(shape, axis, dtype, temperature):
    """nll is softmax_cross_entropy's (ignore_index too), entropy softmax_entropy's and, at
    T = 1, logsumexp logsumexp's, bit for bit."""
    x = ties_and_masks(logits(shape, seed=27, scale=4.0), seed=28, axis=axis).astype(as_dtype(dtype))
    batch = tuple(int(n) for n in np.delete(np.array(shape), axis))
    labels = np.random.default_rng(29).integers(0, shape[axis], size=batch)
    if labels.ndim:
        labels.reshape(-1)[::4] = -100
    else:
        labels = np.int64(labels)
    r = fastinfo.softmax_stats(x, labels, k=2, temperature=temperature, ignore_index=-100, axis=axis)
    ce = fastinfo.softmax_cross_entropy(x, labels, temperature=temperature, ignore_index=-100, axis=axis)
    h = fastinfo.softmax_entropy(x, temperature=temperature, axis=axis)
    for got, want in ((r.nll, ce), (r.entropy, h)):
        assert np.asarray(got).dtype == np.asarray(want).dtype
        np.testing.assert_array_equal(got, want)
    if temperature == 1.0:
        lse = fastinfo.logsumexp(x, axis=axis)
        assert np.asarray(r.logsumexp).dtype == np.asarray(lse).dtype
        np.testing.assert_array_equal(r.logsumexp, lse)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_one_thread_and_two_agree_bitwise(dtype):
    """n_threads=1 and n_threads=2 give the same bits in every field."""
    x = logits((64, 3000), seed=30, scale=4.0)
    x[5, ::7] = -np.inf
    x[9] = np.round(x[9])
    x = x.astype(dtype)
    labels = np.random.default_rng(31).integers(0, 3000, size=64)
    labels[[3, 40]] = -100
    kw = dict(k=5, ignore_index=-100, temperature=0.7)
    a = fastinfo.softmax_stats(x, labels, n_threads=1, **kw)
    b = fastinfo.softmax_stats(x, labels, n_threads=2, **kw)
    for f in FIELDS:
        assert np.asarray(getattr(a, f)).dtype == np.asarray(getattr(b, f)).dtype, f
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16", "float16"])
def test_torch_tensors_in_give_tensors_out(torch, dtype):
    """torch logits (and int64 labels) give a torch tensor in every field, of the matching
    dtype, holding the NumPy call's values on the same values."""
    x = ties_and_masks(logits((6, 11), seed=32), seed=33).astype(as_dtype(dtype))
    labels = np.array([0, 10, -100, 3, 3, 7])
    ref = fastinfo.softmax_stats(x, labels, k=4, ignore_index=-100, temperature=2.0)
    r = fastinfo.softmax_stats(tensor_of(torch, x), torch.from_numpy(labels), k=4, ignore_index=-100,
                               temperature=2.0)
    fdt = torch.float64 if dtype == "float64" else torch.float32
    for f in FIELDS:
        v = getattr(r, f)
        assert isinstance(v, torch.Tensor), (f, type(v))
        want = fdt if f in FLOAT_FIELDS else (torch.int64 if f in INT_FIELDS else torch.bool)
        assert v.dtype == want, (f, v.dtype)
        assert np.asarray(getattr(ref, f)).dtype == numpy_of(v).dtype, f
        np.testing.assert_array_equal(numpy_of(v), getattr(ref, f), err_msg=f)


# =========================================================================== 2-byte logits
@pytest.mark.parametrize("temperature", [1.0, 2.0])
@pytest.mark.parametrize("K", [1, 17, 1000])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_two_byte_logits_against_float64(torch, dtype, K, temperature):
    """float16 and bfloat16 logits: nll, entropy and logsumexp within 1e-6 relative of PyTorch
    float64 on the same values, the other floats within float32's tolerance; argmax, rank,
    correct and the top k exactly as for float64 logits of the same values (the coarse values
    tie often)."""
    x = ties_and_masks(logits((5, K), seed=34, scale=4.0), seed=35).astype(as_dtype(dtype))
    xd = x.astype(np.float64)
    labels = np.random.default_rng(36).integers(0, K, size=5)
    k = min(K, 5)
    r = fastinfo.softmax_stats(x, labels, k=k, temperature=temperature)
    r64 = fastinfo.softmax_stats(xd, labels, k=k, temperature=temperature)
    want = oracle(torch, xd, labels, k=k, temperature=temperature)
    for f in ("nll", "entropy", "logsumexp"):
        assert getattr(r, f).dtype == np.float32, f
        np.testing.assert_allclose(getattr(r, f).astype(np.float64), want[f], rtol=1e-6, atol=1e-12, err_msg=f)
    scale = scale_of(xd, temperature)
    for f in ("max_prob", "label_prob", "topk_logprobs"):
        np.testing.assert_allclose(getattr(r, f).astype(np.float64), want[f], rtol=RTOL32,
                                   atol=ATOL32 * (scale if f == "topk_logprobs" else 1.0), err_msg=f)
    for f in ("argmax", "rank", "correct", "topk_indices"):
        np.testing.assert_array_equal(getattr(r, f), getattr(r64, f), err_msg=f)
        np.testing.assert_array_equal(getattr(r, f), want[f], err_msg=f)


# =========================================================================== extremes vs mpmath
def mp_row(row, temperature=1.0):
    """(log-sum-exp, log-probabilities (None for -inf), entropy) of softmax(row / T) in mpmath."""
    with mpmath.workdps(MP_DPS):
        z = [mpmath.mpf(float(v)) / mpmath.mpf(float(temperature)) if v != -np.inf else None for v in row]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in z if v is not None))
        lp = [v - lse if v is not None else None for v in z]
        h = -mpmath.fsum(mpmath.exp(v) * v for v in lp if v is not None)
        return lse, lp, h


def rel_err(got, ref):
    with mpmath.workdps(MP_DPS):
        ref = mpmath.mpf(ref)
        err = abs(mpmath.mpf(float(got)) - ref)
        return float(err / abs(ref)) if ref != 0 else float(err)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_confident_row_keeps_its_relative_accuracy(temperature):
    """A row whose winner has p = 1 - 1e-30: nll, logsumexp, entropy and the top log-probability
    (all ~1e-30 or ~1e-28) and every other field to 1e-13 relative of mpmath."""
    row = np.array([0.0, -69.0, -70.0, -75.0]) * temperature
    lse, lp, h = mp_row(row, temperature)
    K = len(row)
    r = fastinfo.softmax_stats(np.tile(row, (K, 1)), np.arange(K), k=K, temperature=temperature)
    assert 0 < float(-lp[0]) < 1e-29
    for y in range(K):
        assert rel_err(r.nll[y], -lp[y]) <= 1e-13, (y, r.nll[y], -lp[y])
        with mpmath.workdps(MP_DPS):
            py = mpmath.exp(lp[y])
        assert rel_err(r.label_prob[y], py) <= 1e-13, (y, r.label_prob[y], py)
        assert rel_err(r.logsumexp[y], lse) <= 1e-13, (r.logsumexp[y], lse)
        assert rel_err(r.entropy[y], h) <= 1e-13, (r.entropy[y], h)
        with mpmath.workdps(MP_DPS):
            assert rel_err(r.max_prob[y], mpmath.exp(lp[0])) <= 1e-13
        for j in range(K):
            assert rel_err(r.topk_logprobs[y, j], lp[j]) <= 1e-13, (j, r.topk_logprobs[y, j], lp[j])
    np.testing.assert_array_equal(r.topk_indices, np.tile(np.arange(K), (K, 1)))
    np.testing.assert_array_equal(r.rank, np.arange(K))
    np.testing.assert_array_equal(r.correct, np.arange(K) == 0)


EXTREME_ROWS = [
    [1e4, -1e4, 0.0, 1e4 - 2.0],
    [-1e4, 1e4 - 0.5, 1e4, -np.inf, -1e4 + 3.0],
    [-1e4, -1e4 - 1.0, -1e4 - 700.0, -1e4],
    [5e3, -5e3, 5e3, 5e3 - 40.0, -np.inf],
]


@pytest.mark.parametrize("row", EXTREME_ROWS, ids=[str(i) for i in range(len(EXTREME_ROWS))])
def test_extreme_rows_vs_mpmath(row):
    """Logits 1e4 apart: the log-probabilities to a few ulp of the logits' size, the
    probabilities to as many ulp relative, logsumexp and the large nll to 1e-13 relative, the
    orders exact."""
    x = np.array(row)
    K = len(row)
    lse, lp, h = mp_row(row)
    scale = scale_of(x)
    slack = 8 * EPS64 * scale
    r = fastinfo.softmax_stats(np.tile(x, (K, 1)), np.arange(K), k=K)
    order = stable_order(x)
    for y in range(K):
        assert rel_err(r.logsumexp[y], lse) <= 1e-13
        assert abs(r.entropy[y] - float(h)) <= 1e-12 * float(h) + slack, (r.entropy[y], h)
        if lp[y] is None:
            assert r.nll[y] == np.inf and r.label_prob[y] == 0.0
        else:
            ref = float(-lp[y])
            assert abs(r.nll[y] - ref) <= 1e-13 * ref + slack, (y, r.nll[y], ref)
            with mpmath.workdps(MP_DPS):
                py = float(mpmath.exp(lp[y]))
            assert abs(r.label_prob[y] - py) <= (1e-13 + slack) * py + 1e-320, (y, r.label_prob[y], py)
        with mpmath.workdps(MP_DPS):
            pmax = float(mpmath.exp(lp[int(order[0])]))
        assert abs(r.max_prob[y] - pmax) <= (1e-13 + slack) * pmax, (r.max_prob[y], pmax)
        for j, c in enumerate(order):
            if lp[c] is None:
                assert r.topk_logprobs[y, j] == -np.inf
            else:
                ref = float(lp[c])
                assert abs(r.topk_logprobs[y, j] - ref) <= 1e-13 * abs(ref) + slack, (j, r.topk_logprobs[y, j], ref)
    np.testing.assert_array_equal(r.topk_indices, np.tile(order, (K, 1)))
    np.testing.assert_array_equal(r.argmax, np.full(K, np.argmax(x)))
    np.testing.assert_array_equal(r.rank, rank_of(np.tile(x, (K, 1)), np.arange(K)))
    np.testing.assert_array_equal(r.correct, np.arange(K) == np.argmax(x))


# =========================================================================== properties
@st.composite
def tied_masked_rows(draw):
    """(logits with many ties and some -inf, labels, k, T, dtype): values from a small set, at
    least one finite logit per row."""
    B = draw(st.integers(1, 5))
    K = draw(st.integers(1, 9))
    values = st.one_of(st.sampled_from([-np.inf, -3.0, -1.0, 0.0, 0.5, 2.0, 2.0]),
                       st.floats(-30.0, 30.0, allow_nan=False, allow_infinity=False))
    x = np.array(draw(st.lists(values, min_size=B * K, max_size=B * K)), dtype=np.float64).reshape(B, K)
    live = np.array(draw(st.lists(st.integers(0, K - 1), min_size=B, max_size=B)))
    rows = np.arange(B)
    x[rows, live] = np.where(x[rows, live] == -np.inf, 1.0, x[rows, live])
    labels = np.array(draw(st.lists(st.integers(0, K - 1), min_size=B, max_size=B)), dtype=np.int64)
    k = draw(st.integers(0, K))
    temperature = draw(st.sampled_from([0.5, 1.0, 2.0]))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return x.astype(dtype), labels, k, temperature, dtype


@SETTINGS
@given(tied_masked_rows())
def test_properties_on_tied_and_masked_rows(case):
    """On rows full of ties and -inf masks: rank == 0 exactly when correct, correct is argmax ==
    label, the orders are NumPy's, the top log-probabilities descend and sum (as probabilities)
    to at most 1, max_prob is the first of them, label_prob is exp(-nll), 0 <= entropy <= log of
    the number of live classes, masks have probability 0."""
    x, labels, k, temperature, dtype = case
    xd = x.astype(np.float64)
    rtol, atol = tol(dtype)
    r = fastinfo.softmax_stats(x, labels, k=k, temperature=temperature)
    np.testing.assert_array_equal(r.rank == 0, r.correct)
    np.testing.assert_array_equal(r.correct, r.argmax == labels)
    np.testing.assert_array_equal(r.argmax, np.argmax(xd, axis=-1))
    np.testing.assert_array_equal(r.rank, rank_of(xd, labels))
    on_mask = xd[np.arange(len(labels)), labels] == -np.inf
    assert np.all(r.nll[on_mask] == np.inf) and np.all(r.label_prob[on_mask] == 0.0)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(r.label_prob, np.exp(-r.nll.astype(np.float64)), rtol=rtol, atol=atol)
    live = np.isfinite(xd).sum(-1)
    assert np.all(r.entropy >= 0.0)
    assert np.all(r.entropy <= np.log(live) + 1e-12 + rtol * np.log(live))
    assert np.all(r.max_prob <= 1.0) and np.all(r.max_prob >= 1.0 / live - atol)
    if k == 0:
        assert r.topk_logprobs is None and r.topk_indices is None
        return
    np.testing.assert_array_equal(r.topk_indices, stable_order(xd)[:, :k])
    tl = r.topk_logprobs.astype(np.float64)
    assert np.all(tl[:, :-1] >= tl[:, 1:])
    assert np.all(np.exp(tl).sum(-1) <= 1.0 + (1e-12 if dtype == np.float64 else 2e-6))
    np.testing.assert_allclose(r.max_prob, np.exp(tl[:, 0]), rtol=rtol, atol=atol)
    masked = np.take_along_axis(xd, r.topk_indices, -1) == -np.inf
    assert np.all(tl[masked] == -np.inf) and np.all(np.isfinite(tl[~masked]))


def test_labelled_inputs_keep_their_rows_and_give_the_top_k_as_numpy():
    """pandas / xarray input: per-row fields carry the rows' labels; the top-k fields (ranks, not the
    input's classes) are NumPy arrays, never labelled with the classes."""
    pd = pytest.importorskip("pandas")
    xr = pytest.importorskip("xarray")
    x = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]))
    df = pd.DataFrame(x, index=["a", "b"], columns=["cat", "dog", "eel"])
    s = fastinfo.softmax_stats(df, np.array([0, 2]), k=3)
    assert list(s.nll.index) == ["a", "b"]
    assert type(s.topk_logprobs) is np.ndarray and type(s.topk_indices) is np.ndarray
    da = xr.DataArray(x, dims=("row", "cls"), coords={"cls": ["cat", "dog", "eel"]})
    s = fastinfo.softmax_stats(da, np.array([0, 2]), k=3)
    assert s.nll.dims == ("row",)
    assert type(s.topk_logprobs) is np.ndarray
    np.testing.assert_allclose(s.topk_logprobs[0], np.log([0.7, 0.2, 0.1]), rtol=1e-12)


def test_one_row_of_torch_gives_a_bool_correct():
    torch = pytest.importorskip("torch")
    s = fastinfo.softmax_stats(torch.tensor([1.0, 2.0, 3.0]), torch.tensor(2))
    assert s.correct.dtype == torch.bool and s.correct.shape == () and bool(s.correct)


def test_labels_of_rows_left_out_are_not_read():
    """where=False rows: their labels may be padding (-100, out of range) without ignore_index."""
    x = np.zeros((3, 4))
    s = fastinfo.softmax_stats(x, np.array([1, -100, 99]), where=np.array([True, False, False]))
    np.testing.assert_array_equal(s.rank, [1, -1, -1])
    with pytest.raises(IndexError, match="batch index"):
        fastinfo.softmax_stats(x, np.array([1, -100, 99]), where=np.array([True, True, False]))
