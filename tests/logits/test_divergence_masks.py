"""Row masks and reductions of the logit divergences: softmax_kl_divergence,
softmax_js_divergence (beta 0.5, 0.3, 0 and 1) and softmax_total_variation.

Masks: ``labels`` with ``ignore_index`` (the rows whose label is ignore_index are left out)
and ``where`` (the rows where it is False are left out), alone or together. A row left out
is not read -- it holds NaN, +inf or only -inf here -- and gives exactly 0. Reductions:
'sum', 'mean' (over the rows kept) and 'batchmean' (over the length of the first batch axis,
PyTorch's ``input.size(0)``).

Expected values come from PyTorch in float64 only: ``kl_div(log_softmax(q/T),
log_softmax(p/T), log_target=True)`` for the KL, with its own reduction='sum' and
'batchmean' on 2-D and (B, S, V) logits; the generalized JSD as TRL's distillation loss
writes it (the mixture by logsumexp, the tokens kept by labels != -100, the mean over them);
0.5 * |softmax(p/T) - softmax(q/T)| summed for the TV. fastinfo is compared with itself only
where the contract promises bitwise equality (n_threads, the kept rows of a masked call).
Also: torch tensors in and out, Dask arrays (lazy, the same numbers), float16 and bfloat16
logits, and the errors for masks that do not fit.
"""

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from helpers import run_python

import fastinfo

IGNORE = -100
RTOL, ATOL = 1e-12, 1e-15

MEASURES = {
    "kl": (fastinfo.softmax_kl_divergence, {}),
    "js": (fastinfo.softmax_js_divergence, {}),
    "js_beta0.3": (fastinfo.softmax_js_divergence, {"beta": 0.3}),
    "js_beta0": (fastinfo.softmax_js_divergence, {"beta": 0.0}),
    "js_beta1": (fastinfo.softmax_js_divergence, {"beta": 1.0}),
    "tv": (fastinfo.softmax_total_variation, {}),
}
NAMES = list(MEASURES)
REDUCTIONS = ["sum", "mean", "batchmean"]


# --------------------------------------------------------------------------- helpers
def measure(name, p, q, **kw):
    """fastinfo's measure `name` of p and q."""
    f, extra = MEASURES[name]
    return f(p, q, **extra, **kw)


def t64(torch, a):
    """A float64 CPU tensor (a copy) of a."""
    return torch.as_tensor(np.array(a, dtype=np.float64, copy=True))


def oracle_rows(torch, name, p, q, temperature=1.0):
    """The per-row values of `name` by PyTorch in float64 (a NumPy array of the batch shape)."""
    kl = torch.nn.functional.kl_div
    lp = torch.log_softmax(t64(torch, p) / temperature, -1)
    lq = torch.log_softmax(t64(torch, q) / temperature, -1)
    if name == "kl" or name == "js_beta0":
        r = kl(lq, lp, reduction="none", log_target=True)
    elif name == "js_beta1":
        r = kl(lp, lq, reduction="none", log_target=True)
    elif name == "tv":
        r = 0.5 * (lp.exp() - lq.exp()).abs()
    else:
        beta = 0.3 if name == "js_beta0.3" else 0.5
        lm = torch.logsumexp(torch.stack([lp + math.log(beta), lq + math.log1p(-beta)]), 0)
        r = beta * kl(lm, lp, reduction="none", log_target=True) + (1 - beta) * kl(lm, lq, reduction="none",
                                                                                    log_target=True)
    return r.sum(-1).numpy()


def oracle_reduced(torch, rows, keep, reduction):
    """PyTorch's reduction of the per-row values: the rows left out count as 0 ('sum',
    'batchmean': over the first batch axis), 'mean' averages the rows kept."""
    r = torch.as_tensor(np.asarray(rows, dtype=np.float64))
    k = torch.as_tensor(np.broadcast_to(keep, r.shape).copy())
    if reduction == "sum":
        return float((r * k).sum())
    if reduction == "batchmean":
        return float((r * k).sum() / (r.shape[0] if r.ndim else 1))
    return float(r[k].mean()) if bool(k.any()) else math.nan


def batch(shape, seed, scale=3.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) * scale, rng.normal(size=shape) * scale


def some_labels(batch_shape, classes, seed, frac=0.35):
    """Class labels with IGNORE at a fraction of the rows (at least one of each)."""
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, classes, size=batch_shape)
    out = rng.random(batch_shape) < frac
    out.flat[0], out.flat[-1] = True, False
    lab[out] = IGNORE
    return lab


def spoil(p, q, left_out):
    """Copies of p and q whose rows left out hold what cannot be scored: NaN in p, +inf in q,
    and one row of only -inf."""
    p, q = p.copy(), q.copy()
    idx = np.argwhere(left_out)
    for n, i in enumerate(map(tuple, idx)):
        if n % 3 == 0:
            p[i][-1] = np.nan
        elif n % 3 == 1:
            q[i][0] = np.inf
        else:
            p[i][:] = -np.inf
    return p, q


def close(got, want, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64),
                               rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- masks, reduction='none'
@pytest.mark.parametrize("temperature", [1.0, 2.0])
@pytest.mark.parametrize("name", NAMES)
def test_labels_leave_rows_out(torch, name, temperature):
    """Rows labelled ignore_index give exactly 0 and are not read; the others are the oracle's."""
    p, q = batch((3, 5, 11), 1)
    labels = some_labels((3, 5), 11, 2)
    keep = labels != IGNORE
    ps, qs = spoil(p, q, ~keep)
    want = oracle_rows(torch, name, p, q, temperature)
    for invalid in ("raise", "nan"):
        got = measure(name, ps, qs, temperature=temperature, labels=labels, ignore_index=IGNORE, invalid=invalid)
        assert isinstance(got, np.ndarray) and got.shape == (3, 5) and got.dtype == np.float64
        assert got[~keep].tolist() == [0.0] * int((~keep).sum())
        close(got[keep], want[keep])


@pytest.mark.parametrize("name", NAMES)
def test_where_and_both_masks(torch, name):
    """where alone, broadcast from (S,) and (B, 1); labels broadcast from (S,) with a non-negative
    ignore_index; both together leave out a row when either says so."""
    p, q = batch((4, 6, 9), 3)
    want = oracle_rows(torch, name, p, q)
    rng = np.random.default_rng(4)
    for where in (rng.random((4, 6)) < 0.6, rng.random(6) < 0.5, np.array([[True], [False], [True], [False]])):
        keep = np.broadcast_to(where, (4, 6))
        ps, qs = spoil(p, q, ~keep)
        got = measure(name, ps, qs, where=where)
        assert got.shape == (4, 6)
        assert np.all(got[~keep] == 0.0)
        close(got[keep], want[keep])
    labels = np.array([0, 3, 0, 5, 1, 0], dtype=np.int32)     # broadcast over the 4 sequences
    where = rng.random((4, 6)) < 0.7
    where[0, 1] = True
    keep = (labels != 0) & where
    ps, qs = spoil(p, q, ~keep)
    got = measure(name, ps, qs, labels=labels, ignore_index=0, where=where)
    assert np.all(got[~keep] == 0.0)
    close(got[keep], want[keep])
    # no row kept
    none = measure(name, ps, qs, where=np.zeros((4, 6), dtype=bool))
    assert none.tolist() == [[0.0] * 6] * 4


@pytest.mark.parametrize("name", NAMES)
def test_keepdims_out_and_axis_with_masks(torch, name):
    p, q = batch((5, 8, 4), 5)            # classes along axis 1
    labels = some_labels((5, 4), 8, 6)
    keep = labels != IGNORE
    want = oracle_rows(torch, name, np.moveaxis(p, 1, -1), np.moveaxis(q, 1, -1)) * keep
    got = measure(name, p, q, labels=labels, ignore_index=IGNORE, axis=1, keepdims=True)
    assert got.shape == (5, 1, 4)
    close(got[:, 0], want)
    o = np.full((5, 4), 7.0)
    assert measure(name, p, q, labels=labels, ignore_index=IGNORE, axis=1, out=o) is o
    close(o, want)
    assert np.all(o[~keep] == 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_masks_with_logits_broadcast(torch, name):
    """p of shape (1, S, V) against q of shape (B, S, V): the masks have the broadcast batch shape,
    and batchmean divides by B."""
    p, q = batch((3, 4, 6), 33)
    p = p[:1]
    labels = some_labels((3, 4), 6, 34)
    keep = labels != IGNORE
    want = oracle_rows(torch, name, np.broadcast_to(p, q.shape), q) * keep
    close(measure(name, p, q, labels=labels, ignore_index=IGNORE), want)
    for red in REDUCTIONS:
        close(measure(name, p, q, labels=labels, ignore_index=IGNORE, reduction=red),
              oracle_reduced(torch, want, keep, red))


# --------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("temperature", [1.0, 3.0])
@pytest.mark.parametrize("shape", [(7, 13), (3, 5, 13), (2, 3, 4, 6)])
def test_kl_reductions_are_torch_kl_div(torch, shape, temperature):
    """Without masks: 'sum' and 'batchmean' are kl_div's own (batchmean divides by input.size(0),
    B for (B, S, V) logits); 'mean' is the sum over all rows."""
    F = torch.nn.functional
    p, q = batch(shape, 7)
    lp = torch.log_softmax(t64(torch, p) / temperature, -1)
    lq = torch.log_softmax(t64(torch, q) / temperature, -1)
    kl = fastinfo.softmax_kl_divergence
    for red in ("sum", "batchmean"):
        got = kl(p, q, temperature=temperature, reduction=red)
        assert isinstance(got, np.float64)
        close(got, float(F.kl_div(lq, lp, reduction=red, log_target=True)))
    rows = math.prod(shape[:-1])
    close(kl(p, q, temperature=temperature, reduction="mean"),
          float(F.kl_div(lq, lp, reduction="sum", log_target=True)) / rows)
    if len(shape) == 2:        # for (N, K): kl_div's batchmean is the mean over the rows
        close(kl(p, q, temperature=temperature, reduction="mean"),
              float(F.kl_div(lq, lp, reduction="batchmean", log_target=True)))


@pytest.mark.parametrize("name", NAMES)
def test_one_row_batchmean_is_the_sum(torch, name):
    p, q = batch((17,), 8)
    want = float(oracle_rows(torch, name, p, q))
    for red in ("none", "sum", "mean", "batchmean"):
        got = measure(name, p, q, reduction=red)
        close(got, want)
    if name == "kl":
        lp, lq = torch.log_softmax(t64(torch, p), -1), torch.log_softmax(t64(torch, q), -1)
        close(measure(name, p, q, reduction="batchmean"),
              float(torch.nn.functional.kl_div(lq, lp, reduction="sum", log_target=True)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", NAMES)
def test_masked_reductions(torch, name, reduction):
    """(B, S, V) logits with labels and where: 'sum' and 'batchmean' count the rows left out as 0,
    'mean' averages the rows kept."""
    p, q = batch((4, 7, 10), 9)
    labels = some_labels((4, 7), 10, 10)
    where = np.random.default_rng(11).random((4, 7)) < 0.8
    want_rows = oracle_rows(torch, name, p, q, 1.5)
    for kw, keep in (({"labels": labels, "ignore_index": IGNORE}, labels != IGNORE),
                     ({"where": where}, where),
                     ({"labels": labels, "ignore_index": IGNORE, "where": where}, (labels != IGNORE) & where)):
        ps, qs = spoil(p, q, ~keep)
        got = measure(name, ps, qs, temperature=1.5, reduction=reduction, **kw)
        assert isinstance(got, np.float64)
        close(got, oracle_reduced(torch, want_rows, keep, reduction))


def test_masked_kl_reductions_are_torch_kl_div(torch):
    """The masked KL as PyTorch computes it: 'mean' is kl_div's batchmean over the kept rows,
    'batchmean' and 'sum' are kl_div's on the logits whose left-out rows have q = p (KL 0)."""
    F = torch.nn.functional
    p, q = batch((3, 8, 12), 12)
    labels = some_labels((3, 8), 12, 13)
    keep = labels != IGNORE
    lp, lq = torch.log_softmax(t64(torch, p), -1), torch.log_softmax(t64(torch, q), -1)
    k = torch.as_tensor(keep)
    ps, qs = spoil(p, q, ~keep)
    kl = fastinfo.softmax_kl_divergence
    close(kl(ps, qs, labels=labels, ignore_index=IGNORE, reduction="mean"),
          float(F.kl_div(lq[k], lp[k], reduction="batchmean", log_target=True)))
    lq0 = torch.where(k[..., None], lq, lp)
    for red in ("sum", "batchmean"):
        close(kl(ps, qs, labels=labels, ignore_index=IGNORE, reduction=red),
              float(F.kl_div(lq0, lp, reduction=red, log_target=True)))


@pytest.mark.parametrize("name", NAMES)
def test_no_row_kept(name):
    p, q = batch((3, 4, 5), 14)
    labels = np.full((3, 4), IGNORE)
    ps, qs = spoil(p, q, np.ones((3, 4), dtype=bool))
    assert math.isnan(measure(name, ps, qs, labels=labels, ignore_index=IGNORE, reduction="mean"))
    assert measure(name, ps, qs, labels=labels, ignore_index=IGNORE, reduction="sum") == 0.0
    assert measure(name, ps, qs, labels=labels, ignore_index=IGNORE, reduction="batchmean") == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_float32_results(torch, name):
    p, q = batch((4, 6, 9), 15)
    labels = some_labels((4, 6), 9, 16)
    keep = labels != IGNORE
    ps, qs = spoil(p.astype(np.float32), q.astype(np.float32), ~keep)
    rows = measure(name, ps, qs, labels=labels, ignore_index=IGNORE)
    assert rows.dtype == np.float32
    want = oracle_rows(torch, name, p.astype(np.float32), q.astype(np.float32)) * keep
    close(rows, want, rtol=2e-6, atol=1e-6)
    for red in REDUCTIONS:
        got = measure(name, ps, qs, labels=labels, ignore_index=IGNORE, reduction=red)
        assert isinstance(got, np.float32)
        close(got, oracle_reduced(torch, want, keep, red), rtol=2e-6, atol=1e-6)


# --------------------------------------------------------------------------- TRL's generalized JSD
def trl_generalized_jsd(torch, student_logits, teacher_logits, labels, beta, temperature=1.0):
    """TRL's GKD loss (generalized_jsd_loss, reduction='batchmean'): the token-wise JSD_beta with
    beta weighting the teacher, beta 0 / 1 the forward / reverse KL, the tokens with label -100
    left out, the sum over the number of tokens kept."""
    F = torch.nn.functional
    s = F.log_softmax(t64(torch, student_logits) / temperature, dim=-1)
    t = F.log_softmax(t64(torch, teacher_logits) / temperature, dim=-1)
    if beta == 0:
        jsd = F.kl_div(s, t, reduction="none", log_target=True)
    elif beta == 1:
        jsd = F.kl_div(t, s, reduction="none", log_target=True)
    else:
        b = torch.tensor(beta, dtype=s.dtype)
        m = torch.logsumexp(torch.stack([s + torch.log(1 - b), t + torch.log(b)]), dim=0)
        jsd = b * F.kl_div(m, t, reduction="none", log_target=True) + (1 - b) * F.kl_div(m, s, reduction="none",
                                                                                         log_target=True)
    mask = torch.as_tensor(labels) != -100
    jsd = jsd[mask]
    return float(jsd.sum() / mask.sum())


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.3, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_generalized_jsd_is_trl_gkd_loss(torch, beta, temperature):
    teacher, student = batch((3, 9, 16), 17)
    labels = some_labels((3, 9), 16, 18)
    ts, ss = spoil(teacher, student, labels == IGNORE)
    got = fastinfo.softmax_js_divergence(ts, ss, beta=beta, temperature=temperature, labels=labels,
                                         ignore_index=IGNORE, reduction="mean")
    close(got, trl_generalized_jsd(torch, student, teacher, labels, beta, temperature))


# --------------------------------------------------------------------------- torch in, torch out
@pytest.mark.parametrize("name", NAMES)
def test_torch_tensors_in_and_out(torch, name):
    p, q = batch((3, 5, 7), 19)
    labels = some_labels((3, 5), 7, 20)
    where = np.random.default_rng(21).random((3, 5)) < 0.8
    keep = (labels != IGNORE) & where
    ps, qs = spoil(p, q, ~keep)
    want = oracle_rows(torch, name, p, q) * keep
    tp, tq = torch.from_numpy(ps), torch.from_numpy(qs)
    tl, tw = torch.from_numpy(labels), torch.from_numpy(where)
    got = measure(name, tp, tq, labels=tl, ignore_index=IGNORE, where=tw)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64 and tuple(got.shape) == (3, 5)
    close(got.numpy(), want)
    # labels and where as NumPy arrays with tensor logits, and tensor masks with NumPy logits
    close(measure(name, tp, tq, labels=labels, ignore_index=IGNORE, where=where).numpy(), want)
    close(measure(name, ps, qs, labels=tl, ignore_index=IGNORE, where=tw), want)
    for red in REDUCTIONS:
        r = measure(name, tp, tq, labels=tl, ignore_index=IGNORE, where=tw, reduction=red)
        assert isinstance(r, torch.Tensor) and r.dtype == torch.float64 and r.ndim == 0
        close(float(r), oracle_reduced(torch, want, keep, red))
    r32 = measure(name, tp.float(), tq.float(), labels=tl, ignore_index=IGNORE, where=tw)
    assert isinstance(r32, torch.Tensor) and r32.dtype == torch.float32
    close(r32.numpy(), oracle_rows(torch, name, p.astype(np.float32), q.astype(np.float32)) * keep,
          rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("tdtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", ["kl", "js_beta0.3", "tv"])
def test_torch_two_byte_tensors_with_masks(torch, name, tdtype):
    p, q = batch((2, 5, 12), 35)
    labels = some_labels((2, 5), 12, 36)
    keep = labels != IGNORE
    ps, qs = spoil(p, q, ~keep)
    tp, tq = (torch.from_numpy(a).to(getattr(torch, tdtype)) for a in (ps, qs))
    got = measure(name, tp, tq, labels=torch.from_numpy(labels), ignore_index=IGNORE)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    rounded = [torch.from_numpy(a).to(getattr(torch, tdtype)).double().numpy() for a in (p, q)]
    want = oracle_rows(torch, name, *rounded) * keep
    close(got.numpy(), want, rtol=1e-5, atol=1e-6)
    r = measure(name, tp, tq, labels=torch.from_numpy(labels), ignore_index=IGNORE, reduction="mean")
    assert isinstance(r, torch.Tensor) and r.dtype == torch.float32 and r.ndim == 0
    close(float(r), oracle_reduced(torch, want, keep, "mean"), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- Dask
@pytest.mark.parametrize("reduction", ["none"] + REDUCTIONS)
@pytest.mark.parametrize("name", ["kl", "js", "js_beta0.3", "tv"])
def test_dask_arrays(torch, name, reduction):
    """Every argument may be a Dask array: a lazy result with the oracle's numbers and those of
    the NumPy call."""
    da = pytest.importorskip("dask.array")
    p, q = batch((6, 5, 8), 22)
    labels = some_labels((6, 5), 8, 23)
    where = np.random.default_rng(24).random((6, 5)) < 0.75
    keep = (labels != IGNORE) & where
    ps, qs = spoil(p, q, ~keep)
    rows = oracle_rows(torch, name, p, q) * keep
    want = rows if reduction == "none" else oracle_reduced(torch, rows, keep, reduction)
    kw = {"ignore_index": IGNORE, "reduction": reduction}
    numpy_result = measure(name, ps, qs, labels=labels, where=where, **kw)
    dp, dq = da.from_array(ps, chunks=(2, 3, 8)), da.from_array(qs, chunks=(3, 5, 8))
    dl, dw = da.from_array(labels, chunks=(2, 2)), da.from_array(where, chunks=(4, 5))
    for args in ((dp, dq, dl, dw), (dp, qs, labels, dw), (ps, dq, dl, where), (dp, dq, labels, where)):
        lazy = measure(name, args[0], args[1], labels=args[2], where=args[3], **kw)
        assert isinstance(lazy, da.Array)
        got = lazy.compute()
        assert np.asarray(got).dtype == np.float64
        close(got, want)
        close(got, numpy_result, rtol=1e-14, atol=0)
        if reduction == "none":
            assert np.all(got[~keep] == 0.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dask_without_masks_and_no_row_kept(torch, reduction):
    da = pytest.importorskip("dask.array")
    p, q = batch((6, 4, 5), 25)
    rows = oracle_rows(torch, "kl", p, q)
    dp, dq = da.from_array(p, chunks=(2, 4, 5)), da.from_array(q, chunks=(3, 2, 5))
    got = fastinfo.softmax_kl_divergence(dp, dq, reduction=reduction).compute()
    close(got, oracle_reduced(torch, rows, np.ones((6, 4), dtype=bool), reduction))
    none = fastinfo.softmax_kl_divergence(dp, dq, where=da.zeros((6, 4), dtype=bool, chunks=2),
                                          reduction=reduction).compute()
    if reduction == "mean":
        assert math.isnan(none)
    else:
        assert none == 0.0
    d32 = da.from_array(p.astype(np.float32), chunks=(2, 4, 5))
    r32 = fastinfo.softmax_kl_divergence(d32, d32[::-1], reduction=reduction).compute()
    assert np.asarray(r32).dtype == np.float32
    close(r32, oracle_reduced(torch, oracle_rows(torch, "kl", p.astype(np.float32), p[::-1].astype(np.float32)),
                              np.ones((6, 4), dtype=bool), reduction), rtol=2e-6, atol=1e-6)


def test_dask_mask_type_errors():
    da = pytest.importorskip("dask.array")
    p, q = batch((4, 3, 5), 37)
    dp, dq = da.from_array(p, chunks=(2, 3, 5)), da.from_array(q, chunks=(2, 3, 5))
    with pytest.raises(TypeError, match="labels"):
        fastinfo.softmax_kl_divergence(dp, dq, labels=da.zeros((4, 3), chunks=2), ignore_index=IGNORE).compute()
    with pytest.raises(TypeError, match="where"):
        fastinfo.softmax_total_variation(dp, dq, where=da.ones((4, 3), dtype=int, chunks=2)).compute()


# --------------------------------------------------------------------------- float16 and bfloat16
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", NAMES)
def test_two_byte_logits_with_masks(torch, name, dtype):
    """2-byte logits are read as they are: the float64 oracle of the same rounded values."""
    if dtype == "bfloat16":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        dt = np.dtype(ml_dtypes.bfloat16)
    else:
        dt = np.dtype(np.float16)
    p, q = batch((3, 6, 24), 26)
    p, q = p.astype(dt), q.astype(dt)
    labels = some_labels((3, 6), 24, 27)
    where = np.random.default_rng(28).random((3, 6)) < 0.8
    keep = (labels != IGNORE) & where
    ps, qs = spoil(p, q, ~keep)
    want = oracle_rows(torch, name, p.astype(np.float64), q.astype(np.float64)) * keep
    got = measure(name, ps, qs, labels=labels, ignore_index=IGNORE, where=where)
    assert got.dtype == np.float32
    assert np.all(got[~keep] == 0.0)
    close(got, want, rtol=1e-5, atol=1e-6)
    for red in REDUCTIONS:
        r = measure(name, ps, qs, labels=labels, ignore_index=IGNORE, where=where, reduction=red)
        assert isinstance(r, np.float32)
        close(r, oracle_reduced(torch, want, keep, red), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- invalid rows kept
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", ["nan", "inf", "dead"])
def test_invalid_rows_kept(torch, name, bad):
    """A kept row with a NaN or +inf logit, or only -inf, raises naming its batch index (not a
    left-out row's), or gives NaN with invalid='nan'."""
    p, q = batch((3, 4, 6), 29)
    labels = np.zeros((3, 4), dtype=np.int64)
    labels[0, 1] = labels[2, 3] = IGNORE
    keep = labels != IGNORE
    ps, qs = spoil(p, q, ~keep)
    if bad == "nan":
        ps[1, 2, 3] = np.nan
        match = r"p_logits .*batch index \(1, 2\)"
    elif bad == "inf":
        qs[1, 2, 0] = np.inf
        match = r"q_logits .*batch index \(1, 2\)"
    else:
        ps[1, 2] = -np.inf
        match = r"-inf .*batch index \(1, 2\)"
    with pytest.raises(ValueError, match=match):
        measure(name, ps, qs, labels=labels, ignore_index=IGNORE)
    with pytest.raises(ValueError, match=r"batch index \(1, 2\)"):
        measure(name, ps, qs, labels=labels, ignore_index=IGNORE, reduction="mean")
    got = measure(name, ps, qs, labels=labels, ignore_index=IGNORE, invalid="nan")
    assert math.isnan(got[1, 2])
    assert got[0, 1] == 0.0 and got[2, 3] == 0.0
    ok = keep.copy()
    ok[1, 2] = False
    close(got[ok], oracle_rows(torch, name, p, q)[ok])
    # the same row left out by where: no error
    where = np.ones((3, 4), dtype=bool)
    where[1, 2] = False
    r = measure(name, ps, qs, labels=labels, ignore_index=IGNORE, where=where)
    assert r[1, 2] == 0.0


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", NAMES)
def test_mask_errors(name):
    p, q = batch((3, 4, 5), 30)
    labels = np.zeros((3, 4), dtype=np.int64)
    with pytest.raises(ValueError, match="ignore_index"):
        measure(name, p, q, labels=labels)
    with pytest.raises(TypeError, match="ignore_index"):
        measure(name, p, q, labels=labels, ignore_index=-100.0)
    with pytest.raises(ValueError, match="labels"):
        measure(name, p, q, ignore_index=IGNORE)
    for bad in (labels.astype(np.float64), labels.astype(bool)):
        with pytest.raises(TypeError, match="labels"):
            measure(name, p, q, labels=bad, ignore_index=IGNORE)
    for bad in (np.ones((3, 4), dtype=np.int64), np.ones((3, 4)), [[1, 0, 1, 1]] * 3):
        with pytest.raises(TypeError, match="where"):
            measure(name, p, q, where=bad)
    with pytest.raises(ValueError, match="labels"):
        measure(name, p, q, labels=np.zeros((3, 5), dtype=np.int64), ignore_index=IGNORE)
    with pytest.raises(ValueError, match="labels"):
        measure(name, p, q, labels=np.zeros((3, 4, 5), dtype=np.int64), ignore_index=IGNORE)
    with pytest.raises(ValueError, match="where"):
        measure(name, p, q, where=np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="where"):
        measure(name, p, q, where=np.ones((2, 4), dtype=bool))
    with pytest.raises(ValueError, match="reduction"):
        measure(name, p, q, reduction="batch_mean")
    with pytest.raises(ValueError, match="keepdims"):
        measure(name, p, q, where=np.ones((3, 4), dtype=bool), reduction="batchmean", keepdims=True)


# --------------------------------------------------------------------------- bitwise self-consistency
@pytest.mark.parametrize("name", NAMES)
def test_threads_and_unmasked_rows_bitwise(name):
    """n_threads=1 and 2 give the same bits, masked or not; the kept rows of a masked call are
    the bits of the unmasked call."""
    p, q = batch((24, 40, 48), 31)
    labels = some_labels((24, 40), 48, 32)
    keep = labels != IGNORE
    ps, qs = spoil(p, q, ~keep)
    plain = measure(name, p, q, n_threads=1)
    assert plain.tobytes() == measure(name, p, q, n_threads=2).tobytes()
    one = measure(name, ps, qs, labels=labels, ignore_index=IGNORE, n_threads=1)
    two = measure(name, ps, qs, labels=labels, ignore_index=IGNORE, n_threads=2)
    assert one.tobytes() == two.tobytes()
    assert one[keep].tobytes() == plain[keep].tobytes()
    for red in REDUCTIONS:
        a = measure(name, ps, qs, labels=labels, ignore_index=IGNORE, reduction=red, n_threads=1)
        b = measure(name, ps, qs, labels=labels, ignore_index=IGNORE, reduction=red, n_threads=2)
        assert a.tobytes() == b.tobytes()


# --------------------------------------------------------------------------- random shapes and masks
@st.composite
def masked_cases(draw):
    batch_shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    classes = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    p = rng.normal(size=batch_shape + (classes,)) * draw(st.sampled_from([0.5, 3.0, 20.0]))
    q = rng.normal(size=batch_shape + (classes,)) * draw(st.sampled_from([0.5, 3.0, 20.0]))
    kind = draw(st.sampled_from(["none", "labels", "where", "both"]))
    kw, keep = {}, np.ones(batch_shape, dtype=bool)
    if kind in ("labels", "both"):
        labels = np.where(rng.random(batch_shape) < 0.4, IGNORE, rng.integers(0, classes, size=batch_shape))
        kw.update(labels=labels, ignore_index=IGNORE)
        keep &= labels != IGNORE
    if kind in ("where", "both"):
        # where broadcast from the trailing batch axes, or the full batch shape
        wshape = batch_shape[draw(st.integers(0, len(batch_shape))):]
        where = rng.random(wshape) < 0.6
        kw["where"] = where
        keep &= np.broadcast_to(where, batch_shape)
    return p, q, kw, keep


@settings(max_examples=30, deadline=None)
@given(masked_cases(), st.sampled_from(NAMES), st.sampled_from(["none"] + REDUCTIONS),
       st.sampled_from([1.0, 0.5, 2.5]))
def test_random_shapes_and_masks(torch, case, name, reduction, temperature):
    p, q, kw, keep = case
    ps, qs = spoil(p, q, ~keep)
    rows = oracle_rows(torch, name, p, q, temperature) * keep
    got = measure(name, ps, qs, temperature=temperature, reduction=reduction, **kw)
    if reduction == "none":
        assert np.shape(got) == keep.shape
        assert np.all(np.asarray(got)[~keep] == 0.0)
        close(got, rows, rtol=1e-10, atol=1e-13)
    else:
        want = oracle_reduced(torch, rows, keep, reduction)
        if math.isnan(want):
            assert math.isnan(got)
        else:
            close(got, want, rtol=1e-10, atol=1e-13)


UNREADABLE_ROWS = r"""
import ctypes, mmap, sys
import numpy as np
import fastinfo

K, N = 16384, 3          # rows longer than the kernels' block: a row's pass 2 looks at the next one
libc = ctypes.CDLL(None)


def guarded():
    # three rows of logits whose middle row cannot be read (PROT_NONE): reading it is SIGSEGV
    m = mmap.mmap(-1, N * K * 8)
    a = np.frombuffer(m, np.float64).reshape(N, K)
    a[:] = np.linspace(-2.0, 2.0, K)
    assert libc.mprotect(ctypes.c_void_p(a.ctypes.data + K * 8), ctypes.c_size_t(K * 8), 0) == 0
    return m, a


(mp, P), (mq, Q) = guarded(), guarded()
keep = np.array([True, False, True])
labels = np.array([1, -100, 2])
for name, call in [
        ("kl where", lambda: fastinfo.softmax_kl_divergence(P, Q, where=keep, n_threads=1)),
        ("kl labels", lambda: fastinfo.softmax_kl_divergence(P, Q, labels=labels, ignore_index=-100, n_threads=1)),
        ("js where", lambda: fastinfo.softmax_js_divergence(P, Q, where=keep, n_threads=1)),
        ("tv where", lambda: fastinfo.softmax_total_variation(P, Q, where=keep, n_threads=1)),
        ("stats where", lambda: fastinfo.softmax_stats(P, where=keep, k=2, n_threads=1).entropy),
        ("ce ignore_index", lambda: fastinfo.softmax_cross_entropy(P, labels, ignore_index=-100, n_threads=1))]:
    r = np.asarray(call())
    left_out = np.isnan(r[1]) if name.startswith("stats") else r[1] == 0.0     # softmax_stats: NaN fields
    assert left_out and np.isfinite(r[[0, 2]]).all(), (name, r)
    print(name, "ok", flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect through ctypes: Linux")
def test_rows_left_out_are_never_read():
    """A row left out is not read, not even for the maximum the row before it takes in its
    pass 2: its memory is made unreadable, so a read would kill the child process."""
    r = run_python(["-c", UNREADABLE_ROWS])
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.count(" ok") == 6
