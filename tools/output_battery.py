"""A battery of calls to fastinfo's public API, recorded and compared: proof that every number
a user computes is unchanged by a change that should not touch them (a refactoring, a move,
a rename, a rebuild).

    python tools/output_battery.py record OUT.pkl
    python tools/output_battery.py compare BEFORE.pkl AFTER.pkl [--rtol 1e-14] [--atol 1e-14]
    python tools/output_battery.py list        # the number of cases per function

``record`` calls every public function of whatever ``fastinfo`` is importable (run it with
``PYTHONPATH`` pointing at another checkout to record that one) on a table of some four
thousand cases -- dtypes, shapes, strides, broadcasting, axes, every option, zeros,
infinities, NaN, negative entries and wrong arguments -- and pickles, per case, either the
result (every array part with its type, dtype and shape) or the exception (type and
message). The inputs come from fixed seeds, so two recordings of the same code are
bitwise identical, whatever the thread count. Different SIMD levels (``FASTINFO_SIMD``) round
differently: compare recordings made at the same level (``compare`` prints both).

``compare`` checks each case of AFTER against BEFORE: a value against a value, an exception
against an exception of the same type. Values must have the same type, dtype, shape, NaN
and +-inf positions; finite numbers must agree to ``rtol`` (|a - b| <= rtol max(|a|, |b|))
or, where one of the two is exactly 0, to the absolute ``atol``. Cases are reported as
bitwise identical, within tolerance (with the largest differences seen) or mismatched;
different exception messages and warnings are listed for information. The exit status is
1 on any mismatch or any case present on one side only; ``--rtol 0 --atol 0`` asks for equal
values (only the sign of a zero may then differ, and is counted). A recording takes seconds.
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
import time
import warnings

import numpy as np

SKIP = {"show_config", "config", "reference", "__version__"}
F64, F32, F16, I64, BOOL = np.float64, np.float32, np.float16, np.int64, np.bool_
FLOAT_DTYPES = (F64, F32, F16)
ALL_DTYPES = (F64, F32, F16, I64, BOOL)
INF, NAN = math.inf, math.nan
BIG = (200, 256)           # above the kernels' parallel threshold: n_threads really splits it


class Out:
    """An ``out=`` argument, allocated fresh for each call (the call writes into it)."""

    def __init__(self, shape, dtype=F64, strided=False, readonly=False):
        self.shape, self.dtype, self.strided, self.readonly = shape, dtype, strided, readonly

    def make(self, fi):
        if self.strided:
            a = np.full(self.shape + (2,), -7.0, dtype=self.dtype)[..., 0]
        else:
            a = np.full(self.shape, -7.0, dtype=self.dtype)
        a.flags.writeable = not self.readonly
        return a


class Call:
    """An argument made by a public function at run time (a SparseContingency, say)."""

    def __init__(self, fn, *args, **kw):
        self.fn, self.args, self.kw = fn, args, kw

    def make(self, fi):
        return getattr(fi, self.fn)(*self.args, **self.kw)


CASES: dict[str, tuple[str, tuple, dict]] = {}


def case(key, fn, *args, **kw):
    key = f"{fn}/{key}"
    assert key not in CASES, key
    CASES[key] = (fn, args, kw)


# --- inputs ------------------------------------------------------------------------
def rng(*seed):
    return np.random.default_rng(list(seed))


def probs(shape, seed=0, zeros=0.0, dtype=F64):
    """Rows that sum to 1 along the last axis (before the dtype cast), a fraction `zeros` of 0s."""
    g = rng(seed, *shape)
    a = g.random(shape) + 0.05
    if zeros:
        a[g.random(shape) < zeros] = 0.0
    s = a.sum(axis=-1, keepdims=True)
    a = np.divide(a, s, out=np.zeros_like(a), where=s > 0)
    if dtype in (I64, BOOL):
        a = g.integers(0, 4, shape) if dtype is I64 else g.random(shape) < 0.6
    return a.astype(dtype)


def logits(shape, seed=0, dtype=F64, scale=3.0):
    return (rng(seed, 7, *shape).normal(size=shape) * scale).astype(dtype)


def spd(batch, d, seed=0):
    """Symmetric positive definite (..., d, d) matrices."""
    a = rng(seed, d).normal(size=batch + (d, d))
    return a @ np.swapaxes(a, -1, -2) + d * np.eye(d)


def poison(a, value, where=(1, 2)):
    a = np.array(a, dtype=F64 if a.dtype.kind != "f" else a.dtype)
    a[where if a.ndim > 1 else where[-1]] = value
    return a


# --- the common batched signature: f(p[, q], *extra, axis, base, normalize, keepdims, ...) ---
def batched(fn, nq, extra=(), tag="", full=True, base=True, normalize=True, keepdims=True, out=True,
            data=probs):
    """Cases of a batched reduction with `nq` second arguments and the positional `extra`;
    `data(shape, seed, zeros, dtype)` makes the rows. `full=False` keeps the numerical core
    (dtypes, zeros, axes, options, threads) and leaves out layouts, bad values and bad arguments."""
    def c(key, arrays, **kw):
        case(tag + key, fn, *arrays, *extra, **kw)

    def ins(shape, dtype=F64, zeros=0.0, seed=0):
        return [data(shape, seed + i, zeros=zeros, dtype=dtype) for i in range(1 + nq)]

    for dt in ALL_DTYPES if full else (F64, F32):
        for shape in [(7,), (4, 6), (2, 3, 5)]:
            c(f"{np.dtype(dt).name}/{shape}", ins(shape, dt))
        if normalize:
            c(f"{np.dtype(dt).name}/normalize", ins((4, 6), dt), normalize=True)
    for z in (0.3, 0.8):
        c(f"zeros{z}", ins((6, 8), zeros=z))
        c(f"zeros{z}/f32", ins((6, 8), F32, zeros=z))
    zero_row = ins((3, 5))
    zero_row[0][1] = 0
    c("zero-row", zero_row)
    if normalize:
        c("zero-row/normalize", zero_row, normalize=True)
        c("zero-row/normalize/nan", zero_row, normalize=True, invalid="nan")
        c("weights/normalize", [a * 37.5 for a in ins((4, 6))], normalize=True)
    for ax in (0, 1, -2, -3, 2):
        c(f"3d/axis{ax}", ins((3, 4, 5)), axis=ax)
    c("2d/axis0", ins((5, 4)), axis=0)
    if keepdims:
        c("keepdims", ins((4, 6)), keepdims=True)
        c("keepdims/axis0", ins((3, 4, 5)), axis=0, keepdims=True)
        c("keepdims/1d", ins((6,)), keepdims=True)
    if base:
        for b in (2, 10, math.e, 0.5, 7.25):
            c(f"base{b}", ins((4, 6)), base=b)
    big = ins(BIG, zeros=0.1)
    for nt in (1, 2, None):
        c(f"threads{nt}", big, n_threads=nt)
        c(f"threads{nt}/f32", [a.astype(F32) for a in big], n_threads=nt)
    if not full:
        return
    c("f32xf64", [data((4, 6), 0, dtype=F32)] + ins((4, 6), seed=1)[:nq])
    c("list", [a.tolist() for a in ins((3, 4))])
    for shape in [(0, 5), (3, 0), (0,), (1,), (1, 1), (1, 0), (2, 0, 3)]:
        c(f"empty-or-one/{shape}", ins(shape))
    # layouts: strides, transposes, Fortran order, negative strides, broadcasting
    c("strided", [a[:, ::2] for a in ins((4, 12))])
    c("strided/f32", [a[:, ::3] for a in ins((4, 12), F32)])
    c("transposed/axis0", [a.T for a in ins((4, 6))], axis=0)
    c("fortran", [np.asfortranarray(a) for a in ins((5, 6))])
    c("reversed", [a[::-1, ::-1] for a in ins((4, 6))])
    c("3d/noncollapsible", [np.moveaxis(a, 0, 1) for a in ins((3, 4, 5))])
    c("threads2/strided", [a[:, ::2] for a in big], n_threads=2)
    if nq:
        p, q = ins((4, 6))[0], ins((6,), seed=5)[0]
        c("broadcast/q1d", [p] + [q] * nq)
        c("broadcast/p1d", [q] + [p] * nq)
        c("broadcast/3d", [ins((2, 1, 6))[0]] + [ins((3, 6), seed=3)[0]] * nq)
        c("broadcast/to", [p] + [np.broadcast_to(q, (4, 6))] * nq)
        c("broadcast/axis0", [p.T] + [q[:, None]] * nq, axis=0)
        c("identical", [p] * (1 + nq))
        c("bad/length", [p] + [ins((4, 5))[0]] * nq)
        c("bad/batch", [p] + [ins((3, 6))[0]] * nq)
    # bad values: raise, or NaN for that row
    for v in (INF, -INF, NAN, -0.25, 1e308, 5e-324):
        bad = ins((4, 6))
        bad[0] = poison(bad[0], v)
        c(f"value{v}/raise", bad)
        c(f"value{v}/nan", bad, invalid="nan")
        if nq:
            c(f"value{v}/q/nan", [bad[1], bad[0]] + bad[2:], invalid="nan")
    if normalize:
        c("huge-rows/normalize", [a * 1e300 for a in ins((4, 6))], normalize=True)
    # bad arguments
    if base:
        for b in (1, 0, -2, "two", NAN, INF, True):
            c(f"bad-base/{b}", ins((4, 6)), base=b)
    for v in ("ignore", None, "NAN", 1):
        c(f"bad-invalid/{v}", ins((4, 6)), invalid=v)
    for nt in (0, -1, 1.5, "2", True):
        c(f"bad-threads/{nt!r}", ins((4, 6)), n_threads=nt)
    for ax in (2, -3, 1.5, None):
        c(f"bad-axis/{ax}", ins((4, 6)), axis=ax)
    c("bad/complex", [a.astype(complex) for a in ins((4, 6))])
    c("bad/strings", [a.astype(str) for a in ins((2, 3))])
    c("bad/scalar", [0.5] * (1 + nq))
    c("bad/object", [np.array([[0.5, None]], dtype=object)] * (1 + nq))
    if out:
        c("out", ins((4, 6)), out=Out((4,)))
        c("out/f32", ins((4, 6), F32), out=Out((4,), F32))
        c("out/strided", ins((4, 6)), out=Out((4,), strided=True))
        c("out/3d", ins((2, 3, 5)), out=Out((2, 3)))
        c("out/1d", ins((6,)), out=Out(()))
        c("out/threads2", big, out=Out(BIG[:1]), n_threads=2)
        if keepdims:
            c("out/keepdims", ins((4, 6)), out=Out((4, 1)), keepdims=True)
        c("bad-out/shape", ins((4, 6)), out=Out((5,)))
        c("bad-out/dtype", ins((4, 6)), out=Out((4,), F32))
        c("bad-out/readonly", ins((4, 6)), out=Out((4,), readonly=True))
        c("bad-out/list", ins((4, 6)), out=[0.0] * 4)


def elementwise_batched(fn):
    """surprisal: the result has the input's shape."""
    batched(fn, 0, out=False, keepdims=True)
    p = probs((4, 6), 1, zeros=0.3)
    case("out", fn, p, out=Out((4, 6)))
    case("out/strided", fn, p, out=Out((4, 6), strided=True))
    case("out/f32", fn, p.astype(F32), out=Out((4, 6), F32))
    case("bad-out/shape", fn, p, out=Out((4,)))


def probability_measures():
    batched("entropy", 0)
    batched("cross_entropy", 1)
    batched("kl_divergence", 1)
    batched("js_divergence", 1)
    elementwise_batched("surprisal")
    p, q = probs((4, 6), 1, zeros=0.3), probs((4, 6), 2)
    for b in (None, 2, 0.5):
        case(f"distance/base{b}", "js_divergence", p, q, distance=True, base=b)
    case("distance/threads2", "js_divergence", probs(BIG, 3), probs(BIG, 4), distance=True, n_threads=2)
    case("distance/keepdims", "js_divergence", p, q, distance=True, keepdims=True, normalize=True)
    case("distance/disjoint", "js_divergence", [1.0, 0.0], [0.0, 1.0], distance=True, base=2)


def generalized_measures():
    for alpha in (0, 0.5, 1, 2, INF, 1 + 1e-9, 3.7, 0.999):
        batched("renyi_entropy", 0, (alpha,), f"alpha{alpha}/", full=alpha == 2)
        batched("renyi_divergence", 1, (alpha,), f"alpha{alpha}/", full=alpha == 0.5)
    for qq in (0, 0.5, 1, 2, -1, 1 - 1e-9, 3.5):
        batched("tsallis_entropy", 0, (qq,), f"q{qq}/", full=qq == 0.5, base=False)
    batched("hellinger_distance", 1, base=False)
    batched("total_variation", 1, base=False)
    p, q = probs((4, 6), 1), probs((4, 6), 2, zeros=0.4)
    for bad in (-1, NAN, -INF, "2", None, True, 1j):
        case(f"bad-alpha/{bad!r}", "renyi_entropy", p, bad)
        case(f"bad-alpha/{bad!r}", "renyi_divergence", p, q, bad)
        case(f"bad-q/{bad!r}", "tsallis_entropy", p, bad)
    case("bad-q/inf", "tsallis_entropy", p, INF)
    case("disjoint-support/alpha0.5", "renyi_divergence", [1.0, 0.0], [0.0, 1.0], 0.5)
    case("disjoint-support/alpha2", "renyi_divergence", [1.0, 0.0], [0.0, 1.0], 2)
    case("near-equal/alpha2", "renyi_divergence", p, p * (1 + 1e-12), 2)
    case("near-equal/alpha0.5", "renyi_divergence", p, p * (1 + 1e-12), 0.5)


def logit_measures():
    lg = lambda shape, seed=0, zeros=0.0, dtype=F64: logits(shape, seed, dtype)   # noqa: E731
    batched("logsumexp", 0, data=lg, base=False, normalize=False)
    batched("softmax_entropy", 0, data=lg, normalize=False)
    batched("softmax_kl_divergence", 1, data=lg, normalize=False)
    batched("softmax_js_divergence", 1, data=lg, normalize=False)
    for fn in ("log_softmax", "softmax"):
        batched(fn, 0, data=lg, base=False, normalize=False, keepdims=False, out=False)
        x = logits((4, 6), 1)
        case("out", fn, x, out=Out((4, 6)))
        case("out/f32", fn, x.astype(F32), out=Out((4, 6), F32))
        case("out/strided", fn, x, out=Out((4, 6), strided=True))
        case("bad-out/shape", fn, x, out=Out((4,)))
    x, y = logits((5, 7), 1), logits((5, 7), 2)
    masked = x.copy()
    masked[:, 0] = -INF
    masked[2, :] = -INF
    for fn, args in [("logsumexp", (x,)), ("log_softmax", (x,)), ("softmax", (x,)), ("softmax_entropy", (x,)),
                     ("softmax_kl_divergence", (x, y)), ("softmax_js_divergence", (x, y))]:
        for t in (0.5, 2.0, 1e-3, 1e300):
            if fn != "logsumexp":
                case(f"temperature{t}", fn, *args, temperature=t)
        for t in (0, -1, INF, NAN, "1", True, 1e-310):
            if fn != "logsumexp":
                case(f"bad-temperature/{t!r}", fn, *args, temperature=t)
        case("mask/raise", fn, *((masked,) + args[1:]))
        case("mask/nan", fn, *((masked,) + args[1:]), invalid="nan")
        case("mask-row1/nan", fn, *((masked[1:2],) + args[1:]), invalid="nan")
        case("huge", fn, *[a * 1e300 for a in args])
        if len(args) == 2:
            case("mask-q/nan", fn, x, masked, invalid="nan")
            for red in ("none", "sum", "mean", "Mean", None):
                case(f"reduction/{red}", fn, *args, reduction=red)
            case("reduction-sum/f32", fn, *[a.astype(F32) for a in args], reduction="sum")
            case("reduction-mean/empty", fn, logits((0, 4)), logits((0, 4)), reduction="mean")
            case("reduction-mean/keepdims", fn, *args, reduction="mean", keepdims=True)
            case("reduction-sum/base2", fn, *args, reduction="sum", base=2)


def cross_entropy_losses():
    fn = "softmax_cross_entropy"
    x = logits((6, 5), 1)
    lab = rng(3).integers(0, 5, 6)
    soft = probs((6, 5), 4)
    w = np.array([0.5, 1.0, 2.0, 0.0, 1.5])
    for name, t in [("labels", lab), ("labels-int32", lab.astype(np.int32)), ("labels-uint8", lab.astype(np.uint8)),
                    ("soft", soft), ("soft-f32", soft.astype(F32)), ("soft-1d", soft[0])]:
        for red in ("none", "sum", "mean"):
            case(f"{name}/{red}", fn, x, t, reduction=red)
            case(f"{name}/{red}/f32", fn, x.astype(F32), t, reduction=red)
            case(f"{name}/{red}/smooth0.1", fn, x, t, reduction=red, label_smoothing=0.1)
            case(f"{name}/{red}/weight", fn, x, t, reduction=red, weight=w)
            case(f"{name}/{red}/weight+smooth", fn, x, t, reduction=red, weight=w, label_smoothing=0.2)
        case(f"{name}/base2", fn, x, t, base=2)
        case(f"{name}/temperature3", fn, x, t, temperature=3.0)
        case(f"{name}/smooth1", fn, x, t, label_smoothing=1.0)
    ign = lab.copy()
    ign[[1, 4]] = -100
    for red in ("none", "sum", "mean"):
        case(f"ignore/{red}", fn, x, ign, ignore_index=-100, reduction=red)
        case(f"ignore/{red}/weight", fn, x, ign, ignore_index=-100, reduction=red, weight=w)
        case(f"ignore/{red}/smooth", fn, x, ign, ignore_index=-100, reduction=red, label_smoothing=0.3)
        case(f"ignore-all/{red}", fn, x, np.full(6, 2), ignore_index=2, reduction=red)
    case("ignore/inrange", fn, x, lab, ignore_index=int(lab[0]), reduction="mean")
    case("axis0", fn, x.T, lab, axis=0)
    case("3d", fn, logits((2, 3, 5)), rng(5).integers(0, 5, (2, 3)))
    case("3d/axis1", fn, logits((2, 5, 3)), rng(5).integers(0, 5, (2, 3)), axis=1)
    case("3d/soft-broadcast", fn, logits((2, 3, 5)), probs((5,), 6))
    case("1d/label", fn, x[0], np.int64(2))
    case("keepdims", fn, x, lab, keepdims=True)
    case("out", fn, x, lab, out=Out((6,)))
    case("out/f32", fn, x.astype(F32), lab, out=Out((6,), F32))
    case("bad-out/reduction", fn, x, lab, reduction="mean", out=Out(()))
    case("bad-keepdims/reduction", fn, x, lab, reduction="sum", keepdims=True)
    big_x, big_l = logits(BIG, 9), rng(9).integers(0, BIG[1], BIG[0])
    for nt in (1, 2, None):
        case(f"threads{nt}", fn, big_x, big_l, n_threads=nt)
        case(f"threads{nt}/soft", fn, big_x, probs(BIG, 9), n_threads=nt, reduction="mean")
    masked = x.copy()
    masked[:, 0] = -INF
    case("mask/label-on-mask", fn, masked, np.array([0, 1, 2, 3, 4, 0]))
    case("mask/label-off-mask", fn, masked, np.array([1, 1, 2, 3, 4, 2]), reduction="mean")
    case("mask/soft", fn, masked, soft)
    case("mask/soft-zero-there", fn, masked, np.where(np.arange(5) == 0, 0.0, soft))
    for v in (NAN, INF):
        for inv in ("raise", "nan"):
            case(f"logit{v}/{inv}", fn, poison(x, v), lab, invalid=inv, reduction="mean")
            case(f"soft-target{v}/{inv}", fn, x, poison(soft, v), invalid=inv)
    case("soft-target-negative/raise", fn, x, poison(soft, -0.5))
    for bad in (5, -1, 99):
        case(f"bad-label/{bad}", fn, x, np.where(np.arange(6) == 3, bad, lab))
    case("bad-label/uint64-huge", fn, x, np.full(6, 2 ** 64 - 1, dtype=np.uint64))
    for eps in (-0.1, 1.5, NAN, "0.1", True):
        case(f"bad-smoothing/{eps!r}", fn, x, lab, label_smoothing=eps)
    case("bad-weight/shape", fn, x, lab, weight=w[:3])
    case("bad-weight/negative", fn, x, lab, weight=-w)
    case("bad-weight/nan", fn, x, lab, weight=poison(w[None], NAN, (0, 1))[0])
    case("bad-target/shape", fn, x, lab[:4])
    case("bad-target/bool", fn, x, lab > 2)
    case("bad-target/strings", fn, x, lab.astype(str))
    case("bad-target/soft-shape", fn, x, soft[:, :3])
    case("bad-reduction", fn, x, lab, reduction="avg")

    fn = "perplexity"
    for name, kw in [("plain", {}), ("base2", {"base": 2}), ("ignore", {"ignore_index": -100}),
                     ("ignore-all", {"ignore_index": 1})]:
        labs = ign if name == "ignore" else (np.ones(6, dtype=np.int64) if name == "ignore-all" else lab)
        case(name, fn, x, labs, **kw)
        case(f"{name}/f32", fn, x.astype(F32), labs, **kw)
    case("axis0", fn, x.T, lab, axis=0)
    case("threads2", fn, big_x, big_l, n_threads=2)
    case("threads1", fn, big_x, big_l, n_threads=1)
    case("bad-labels/float", fn, x, lab.astype(F64))
    case("bad-labels/range", fn, x, lab + 5)
    case("bad-base", fn, x, lab, base=1)

    fn = "sigmoid_cross_entropy"
    z = rng(11).integers(0, 2, (6, 5)).astype(F64)
    zs = rng(12).random((6, 5))
    pw = np.array([1.0, 2.0, 0.5, 3.0, 0.0])
    wt = rng(13).random((6, 1))
    for xn, xx in [("f64", x), ("f32", x.astype(F32)), ("f16", x.astype(F16)), ("int", np.round(x).astype(I64))]:
        for zn, zz in [("hard", z), ("soft", zs), ("bool", z > 0), ("f32", zs.astype(F32))]:
            case(f"{xn}/{zn}", fn, xx, zz)
    for red in ("none", "sum", "mean"):
        case(f"reduction/{red}", fn, x, zs, reduction=red)
        case(f"reduction/{red}/pos_weight", fn, x, z, pos_weight=pw, reduction=red)
        case(f"reduction/{red}/weight", fn, x, zs, weight=wt, reduction=red)
        case(f"reduction/{red}/both", fn, x, zs, weight=wt, pos_weight=pw, reduction=red, base=2)
    case("reduction-mean/empty", fn, np.zeros((0, 3)), np.zeros((0, 3)), reduction="mean")
    case("scalar", fn, 40.0, 1.0)
    case("scalar-neg", fn, -40.0, 0.0)
    case("large", fn, np.array([-800.0, -40.0, 0.0, 40.0, 800.0]), np.array([1.0, 1.0, 0.5, 0.0, 0.0]))
    case("broadcast", fn, x, zs[0])
    case("mask", fn, np.array([-INF, -INF, 1.0]), np.array([0.0, 1.0, 0.5]))
    for v in (NAN, INF):
        for inv in ("raise", "nan"):
            case(f"logit{v}/{inv}", fn, poison(x, v), zs, invalid=inv)
    for v in (-0.1, 1.5, NAN):
        for inv in ("raise", "nan"):
            case(f"target{v}/{inv}", fn, x, poison(zs, v), invalid=inv, reduction="sum")
    case("bad/complex", fn, x.astype(complex), zs)
    case("bad/strings", fn, x, zs.astype(str))
    case("bad/shape", fn, x, zs[:, :3])
    case("bad-reduction", fn, x, zs, reduction="total")
    case("bad-base", fn, x, zs, base=-1)
    case("bad-invalid", fn, x, zs, invalid="skip")


def joint_measures():
    for fn in ("joint_entropy", "conditional_entropy", "mutual_information", "variation_of_information",
               "normalized_mutual_information"):
        kw0 = {} if fn == "normalized_mutual_information" else {"base": 2}
        for dt in ALL_DTYPES:
            for shape in [(4, 5), (3, 4, 5), (2, 2, 3, 4)]:
                t = probs(shape, 1, dtype=dt)
                t = t / t.sum(axis=(-2, -1), keepdims=True) if dt in FLOAT_DTYPES else t
                case(f"{np.dtype(dt).name}/{shape}", fn, t.astype(dt))
            case(f"{np.dtype(dt).name}/normalize", fn, probs((3, 4, 5), 2, dtype=dt), normalize=True)
        t = probs((3, 4, 5), 3, zeros=0.3)
        for axes in [(0, 1), (1, 0), (-1, -2), (0, 2), (2, 0), (-3, -1)]:
            case(f"axes{axes}", fn, t, axes=axes)
        for axes in [(0, 0), (1, -2), (0, 3), (0,), (0, 1, 2), "ab", (0.5, 1)]:
            case(f"bad-axes/{axes}", fn, t, axes=axes)
        case("zeros", fn, probs((3, 4, 5), 4, zeros=0.6))
        case("independent", fn, np.outer([0.2, 0.3, 0.5], [0.1, 0.9]))
        case("diagonal", fn, np.eye(4) / 4)
        case("single", fn, np.ones((1, 1)))
        case("single-row", fn, probs((1, 6), 5))
        case("empty-batch", fn, np.zeros((0, 3, 4)))
        case("empty-table", fn, np.zeros((2, 0, 4)))
        case("zero-table", fn, np.zeros((2, 3, 4)))
        case("zero-table/normalize", fn, np.zeros((2, 3, 4)), normalize=True)
        case("zero-table/normalize/nan", fn, np.zeros((2, 3, 4)), normalize=True, invalid="nan")
        case("counts/normalize", fn, rng(6).integers(0, 9, (3, 4, 5)), normalize=True)
        case("strided", fn, probs((3, 8, 10), 7)[:, ::2, ::2], normalize=True)
        case("transposed", fn, np.swapaxes(t, -1, -2))
        case("fortran", fn, np.asfortranarray(t[0]))
        case("list", fn, t[0].tolist())
        if fn != "normalized_mutual_information":
            for b in (2, 10, 0.5, 1):
                case(f"base{b}", fn, t, base=b)
        for v in (INF, NAN, -0.1):
            for inv in ("raise", "nan"):
                case(f"value{v}/{inv}", fn, poison(t, v, (1, 2, 3)), invalid=inv)
        case("huge/normalize", fn, t * 1e306, normalize=True)
        case("bad-invalid", fn, t, invalid="zero")
        case("bad/1d", fn, t[0, 0])
        case("bad/complex", fn, t.astype(complex))
        big = probs((50, 30, 30), 8, zeros=0.2)
        for nt in (1, 2, None):
            case(f"threads{nt}", fn, big, n_threads=nt, **kw0)
        case("bad-threads", fn, t, n_threads=0)
    fn = "normalized_mutual_information"
    t = probs((3, 4, 5), 3, zeros=0.3)
    for avg in ("arithmetic", "geometric", "min", "max"):
        case(f"average/{avg}", fn, t, average=avg)
        case(f"average/{avg}/independent", fn, np.outer([0.2, 0.8], [0.5, 0.5]), average=avg)
        case(f"average/{avg}/point-mass", fn, np.array([[1.0, 0.0], [0.0, 0.0]]), average=avg)
    case("average/bad", fn, t, average="mean")


def count_estimators():
    fn = "entropy_from_counts"
    ints = rng(20, 1).integers(0, 6, (5, 8))
    ints[0] = 0
    ints[1] = [1] * 8
    ints[2] = [0, 0, 0, 9, 0, 0, 0, 0]
    ints[3, :4] = 1
    for est in ("plugin", "miller_madow", "grassberger", "chao_shen", "james_stein"):
        for dt in (I64, F64, F32, np.int32, np.uint8, BOOL, F16):
            case(f"{est}/{np.dtype(dt).name}", fn, ints.astype(dt), estimator=est)
        case(f"{est}/1d", fn, ints[4], estimator=est)
        case(f"{est}/3d/axis0", fn, rng(20, 2).integers(0, 4, (6, 3, 2)), estimator=est, axis=0)
        case(f"{est}/3d/axis-2", fn, rng(20, 3).integers(0, 4, (3, 6, 2)), estimator=est, axis=-2)
        case(f"{est}/transposed", fn, ints.T, estimator=est, axis=0)
        case(f"{est}/strided", fn, rng(20, 4).integers(0, 50, (4, 20))[:, ::3], estimator=est)
        case(f"{est}/large-counts", fn, rng(20, 5).integers(0, 10 ** 9, (3, 7)), estimator=est)
        case(f"{est}/non-integer", fn, ints + 0.5, estimator=est)
        case(f"{est}/empty", fn, np.zeros((3, 0), dtype=I64), estimator=est)
        case(f"{est}/empty-batch", fn, np.zeros((0, 4), dtype=I64), estimator=est)
        case(f"{est}/single", fn, np.array([5]), estimator=est)
        case(f"{est}/base2", fn, ints, estimator=est, base=2)
        case(f"{est}/base10", fn, ints, estimator=est, base=10)
        for v in (-1, NAN, INF):
            for inv in ("raise", "nan"):
                case(f"{est}/value{v}/{inv}", fn, poison(ints, v), estimator=est, invalid=inv)
        big = rng(20, 6).integers(0, 5, BIG)
        for nt in (1, 2, None):
            case(f"{est}/threads{nt}", fn, big, estimator=est, n_threads=nt)
    for bad in ("mle", "Plugin", None, 1):
        case(f"bad-estimator/{bad}", fn, ints, estimator=bad)
    case("bad-base", fn, ints, base=0)
    case("bad-axis", fn, ints, axis=2)
    case("bad-invalid", fn, ints, invalid="nope")
    case("bad-threads", fn, ints, n_threads=-3)
    case("bad/complex", fn, ints.astype(complex))
    case("bad/scalar", fn, 3)


def label_scores():
    a, b = rng(30, 1).integers(0, 5, 200), rng(30, 2).integers(0, 7, 200)
    b[:50] = a[:50]
    labelings = {
        "int": (a, b),
        "int32-uint8": (a.astype(np.int32), b.astype(np.uint8)),
        "negative": (a - 3, b * 1000 - 5),
        "wide-range": (a * 10 ** 12, b),
        "uint64": (a.astype(np.uint64) + 2 ** 63, b),
        "strings": (np.array(list("abcde"))[a], np.array(["x", "yy", "z", "w", "v", "u", "t"])[b]),
        "float": (a * 0.5, b.astype(F64)),
        "bool": (a > 2, b > 3),
        "list": (a[:30].tolist(), b[:30].tolist()),
        "identical": (a, a),
        "constant": (np.zeros(200, dtype=I64), b),
        "both-constant": (np.zeros(9, dtype=I64), np.ones(9, dtype=I64)),
        "single": ([4], [7]),
        "all-distinct": (np.arange(60), rng(30, 3).permutation(60)),
        "strided": (rng(30, 4).integers(0, 9, 400)[::2], rng(30, 5).integers(0, 4, 400)[::-2]),
        "many-classes": (rng(30, 6).integers(0, 300, 3000), rng(30, 7).integers(0, 200, 3000)),
    }
    errors = {
        "empty": ([], []),
        "length": (a, b[:-1]),
        "2d": (a.reshape(20, 10), b.reshape(20, 10)),
        "nan": (np.where(a == 1, NAN, a), b),
        "mixed-objects": (np.array([1, "a", 2.5], dtype=object), [0, 1, 0]),
    }
    for name, (x, y) in {**labelings, **errors}.items():
        case(name, "contingency_table", x, y)
        case(f"{name}/sparse", "contingency_table", x, y, sparse=True)
        case(f"{name}/dense", "contingency_table", x, y, sparse=False)
        case(name, "mutual_information_score", x, y)
        case(f"{name}/base2", "mutual_information_score", x, y, base=2)
        for avg in ("arithmetic", "geometric", "min", "max"):
            case(f"{name}/{avg}", "normalized_mutual_information_score", x, y, average=avg)
            case(f"{name}/{avg}", "adjusted_mutual_information_score", x, y, average=avg)
    for fn in ("normalized_mutual_information_score", "adjusted_mutual_information_score"):
        case("bad-average", fn, a, b, average="harmonic")
        case("bad-average/none", fn, a, b, average=None)
    case("bad-base", "mutual_information_score", a, b, base=1)
    x, y = rng(30, 8).integers(0, 40, 5000), rng(30, 9).integers(0, 30, 5000)
    for nt in (1, 2, None):
        case(f"threads{nt}", "adjusted_mutual_information_score", x, y, n_threads=nt)
        case(f"threads{nt}", "expected_mutual_information", np.bincount(x * 30 + y, minlength=1200).reshape(40, 30),
             n_threads=nt)
    case("bad-threads", "adjusted_mutual_information_score", a, b, n_threads=0)
    case("bad-sparse", "contingency_table", a, b, sparse="yes")

    fn = "expected_mutual_information"
    t = np.bincount(a * 7 + b, minlength=35).reshape(5, 7)
    for name, tab in [("dense", t), ("int32", t.astype(np.int32)), ("uint16", t.astype(np.uint16)),
                      ("float-integral", t.astype(F64)), ("transposed", t.T), ("strided", t[::2]),
                      ("empty-row-col", np.pad(t, 1)), ("single", np.array([[5]])),
                      ("one-row", t[:1]), ("zeros", np.zeros((3, 3), dtype=I64)), ("list", t.tolist()),
                      ("large", rng(31).integers(0, 400, (25, 20)))]:
        case(name, fn, tab)
    case("from-sparse-table", fn, Call("contingency_table", a, b, sparse=True))
    case("from-sparse-table/threads2", fn, Call("contingency_table", x, y, sparse=True), n_threads=2)
    rows, cols, counts = np.array([0, 0, 1, 2, 2]), np.array([0, 2, 1, 0, 2]), np.array([3, 1, 4, 1, 5])
    case("SparseContingency", fn, Call("SparseContingency", rows, cols, counts, (3, 3)))
    case("SparseContingency/empty-row", fn, Call("SparseContingency", rows, cols, counts, (5, 3)))
    case("SparseContingency/zero-count", fn, Call("SparseContingency", rows, cols, counts * (rows != 1), (3, 3)))
    case("fields", "SparseContingency", rows, cols, counts, (3, 3))
    for name, tab in [("negative", t - 3), ("non-integer", t + 0.5), ("nan", poison(t, NAN)), ("1d", t[0]),
                      ("3d", t[None]), ("complex", t.astype(complex)), ("strings", t.astype(str)),
                      ("bool", t > 2)]:
        case(f"bad/{name}", fn, tab)
    case("bad-threads", fn, t, n_threads="x")


def continuous_estimators():
    fn = "differential_entropy"
    for n in (5, 11, 50, 1001, 2000):
        x = rng(40, 1).normal(size=n)
        for m in ("auto", "vasicek", "van es", "ebrahimi", "correa", "Vasicek", "VAN ES"):
            case(f"n{n}/{m}", fn, x, method=m)
        case(f"n{n}/base2", fn, x, base=2)
        case(f"n{n}/f32", fn, x.astype(F32))
        case(f"n{n}/int", fn, np.round(x * 10).astype(I64))
    x = rng(40, 2).normal(size=(3, 40))
    for m in ("vasicek", "van es", "ebrahimi", "correa"):
        for wl in (1, 2, 5, 19, 20, 0, 2.0):
            case(f"window{wl!r}/{m}", fn, x, method=m, window_length=wl)
        case(f"batch/{m}", fn, x, method=m)
        case(f"batch/{m}/f32", fn, x.astype(F32), method=m)
        case(f"batch/{m}/axis0", fn, x.T, method=m, axis=0)
        case(f"batch/{m}/3d-axis1", fn, rng(40, 3).normal(size=(2, 30, 3)), method=m, axis=1)
        case(f"batch/{m}/strided", fn, rng(40, 4).normal(size=(3, 80))[:, ::2], method=m)
        case(f"ties/{m}", fn, np.repeat(np.arange(10.0), 4), method=m)
        case(f"all-equal/{m}", fn, np.ones(20), method=m)
        for v in (INF, -INF, NAN):
            case(f"value{v}/{m}", fn, poison(x, v, (1, 3)), method=m)
        case(f"inf-and-ties/{m}", fn, np.r_[np.ones(12), INF], method=m)
        big = rng(40, 5).normal(size=(20, 200))
        for nt in (1, 2, None):
            case(f"threads{nt}/{m}", fn, big, method=m, n_threads=nt)
    for bad in ("kde", None, 3):
        case(f"bad-method/{bad}", fn, x, method=bad)
    case("bad/complex", fn, x.astype(complex))
    case("bad/scalar", fn, 1.0)
    case("bad/too-short", fn, [1.0, 2.0])
    case("bad-axis", fn, x, axis=3)
    case("bad-base", fn, x, base=1)
    case("bad-threads", fn, x, n_threads=0)

    fn = "knn_entropy"
    for d, n in [(1, 50), (2, 80), (3, 60), (5, 40)]:
        pts = rng(40, 6).normal(size=(n, d))
        for k in (1, 3, 7):
            for metric in ("euclidean", "chebyshev"):
                case(f"d{d}/k{k}/{metric}", fn, pts, k=k, metric=metric)
        case(f"d{d}/base2", fn, pts, base=2)
        case(f"d{d}/f32", fn, pts.astype(F32))
    case("1d-vector", fn, rng(40, 7).normal(size=30))
    case("int", fn, rng(40, 8).integers(0, 1000, (50, 2)))
    case("duplicates", fn, np.repeat(rng(40, 9).normal(size=(10, 2)), 4, axis=0), k=3)
    case("duplicates/chebyshev", fn, np.repeat(rng(40, 10).normal(size=(10, 2)), 4, axis=0), k=5, metric="chebyshev")
    case("scaled-huge", fn, rng(40, 11).normal(size=(30, 2)) * 1e300)
    case("scaled-tiny", fn, rng(40, 12).normal(size=(30, 2)) * 1e-300)
    case("strided", fn, rng(40, 13).normal(size=(60, 4))[::2, ::2])
    case("Chebyshev-case", fn, rng(40, 14).normal(size=(30, 2)), metric="Chebyshev")
    case("all-coincide", fn, np.ones((10, 2)))
    case("underflow-merge", fn, np.array([[0.0], [1e-320], [2e-320], [1.0], [3.0]]) * 1e10, k=1)
    big = rng(40, 15).normal(size=(2000, 2))
    for nt in (1, 2, None):
        case(f"threads{nt}", fn, big, n_threads=nt)
        case(f"threads{nt}/chebyshev", fn, big, n_threads=nt, metric="chebyshev")
    pts = rng(40, 16).normal(size=(20, 2))
    for k in (0, 20, 2.0, "3", True):
        case(f"bad-k/{k!r}", fn, pts, k=k)
    case("bad-metric", fn, pts, metric="manhattan")
    case("bad/inf", fn, poison(pts, INF, (3, 1)))
    case("bad/nan", fn, poison(pts, NAN, (3, 1)))
    case("bad/3d", fn, pts[None])
    case("bad/no-coords", fn, np.zeros((5, 0)))
    case("bad/complex", fn, pts.astype(complex))
    case("bad-base", fn, pts, base=-1)

    fn = "knn_mutual_information"
    for dx, dy, n in [(1, 1, 100), (2, 1, 80), (2, 3, 60)]:
        x = rng(40, 17).normal(size=(n, dx))
        y = x[:, :1] * 0.8 + 0.6 * rng(40, 18).normal(size=(n, dy))
        for k in (1, 3, 6):
            case(f"{dx}x{dy}/k{k}", fn, x, y, k=k)
            case(f"{dx}x{dy}/k{k}/noclip", fn, x, y, k=k, clip=False)
        case(f"{dx}x{dy}/base2", fn, x, y, base=2)
        case(f"{dx}x{dy}/f32", fn, x.astype(F32), y.astype(F32))
    x = rng(40, 19).normal(size=100)
    case("1d-vectors", fn, x, x ** 2)
    case("independent/noclip", fn, x, rng(40, 20).normal(size=100), clip=False)
    case("independent/clip", fn, x, rng(40, 21).normal(size=100))
    dx = rng(40, 22).integers(0, 4, 200).astype(F64)
    case("discrete-self", fn, dx, dx)
    case("discrete-mixed", fn, dx, dx + rng(40, 23).normal(size=200))
    case("int", fn, rng(40, 24).integers(0, 10, 100), rng(40, 25).integers(0, 10, 100))
    case("strided", fn, rng(40, 26).normal(size=200)[::2], rng(40, 27).normal(size=(100, 3))[:, ::2])
    bx, by = rng(40, 28).normal(size=(2000, 2)), rng(40, 29).normal(size=(2000, 1))
    for nt in (1, 2, None):
        case(f"threads{nt}", fn, bx, bx[:, :1] + by, n_threads=nt)
    for k in (0, 100, 1.5):
        case(f"bad-k/{k!r}", fn, x, x, k=k)
    case("bad/length", fn, x, x[:-1])
    case("bad/nan", fn, poison(x[:, None], NAN, (3, 0)), x)
    case("bad-clip", fn, x, x, clip="yes")
    case("bad-clip/none", fn, x, x, clip=None)
    case("bad-base", fn, x, x, base=0)


def gaussians():
    fn = "gaussian_entropy"
    for d in (1, 2, 5):
        for batch in ((), (3,), (2, 2)):
            S = spd(batch, d, d)
            case(f"full/d{d}/batch{batch}", fn, S)
            case(f"full/d{d}/batch{batch}/f32", fn, S.astype(F32))
            case(f"diagonal/d{d}/batch{batch}", fn, np.diagonal(S, axis1=-2, axis2=-1).copy(), diagonal=True)
    S = spd((3,), 4)
    for b in (2, 10):
        case(f"full/base{b}", fn, S, base=b)
        case(f"diagonal/base{b}", fn, np.diagonal(S, axis1=-2, axis2=-1).copy(), diagonal=True, base=b)
    case("full/list", fn, np.eye(3).tolist())
    case("full/int", fn, np.eye(3, dtype=I64) * 2)
    case("full/ill-conditioned", fn, np.diag([1e-300, 1.0, 1e300]))
    case("full/fortran", fn, np.asfortranarray(S[0]))
    case("full/empty-batch", fn, np.zeros((0, 3, 3)))
    case("full/d0", fn, np.zeros((2, 0, 0)))
    case("bad/not-symmetric", fn, S + np.triu(np.ones(4), 1))
    case("bad/not-pd", fn, np.array([[1.0, 2.0], [2.0, 1.0]]))
    case("bad/batch-not-pd", fn, np.stack([np.eye(2), -np.eye(2)]))
    case("bad/nan", fn, poison(S, NAN, (1, 2, 2)))
    case("bad/inf", fn, poison(S, INF, (0, 0, 0)))
    case("bad/not-square", fn, np.ones((3, 2)))
    case("bad/1d-full", fn, np.ones(3))
    case("bad/complex", fn, S.astype(complex))
    case("bad-diagonal/zero", fn, np.array([1.0, 0.0, 2.0]), diagonal=True)
    case("bad-diagonal/negative", fn, np.array([[1.0, 2.0], [1.0, -2.0]]), diagonal=True)
    case("bad-diagonal/scalar", fn, 2.0, diagonal=True)
    case("bad-diagonal/inf", fn, np.array([1.0, INF]), diagonal=True)
    case("bad-base", fn, S, base=1)

    fn = "gaussian_kl_divergence"
    for d in (1, 3):
        for batch in ((), (4,)):
            mp, mq = rng(50, 1).normal(size=batch + (d,)), rng(50, 2).normal(size=batch + (d,))
            Sp, Sq = spd(batch, d, 1), spd(batch, d, 2)
            case(f"d{d}/batch{batch}", fn, mp, Sp, mq, Sq)
            case(f"d{d}/batch{batch}/base2", fn, mp, Sp, mq, Sq, base=2)
            case(f"d{d}/batch{batch}/f32", fn, mp.astype(F32), Sp.astype(F32), mq.astype(F32), Sq.astype(F32))
            case(f"d{d}/batch{batch}/self", fn, mp, Sp, mp, Sp)
    mp, Sp = rng(50, 3).normal(size=(4, 3)), spd((4,), 3, 1)
    mq, Sq = rng(50, 4).normal(size=3), spd((), 3, 2)
    case("broadcast/q", fn, mp, Sp, mq, Sq)
    case("broadcast/p", fn, mq, Sq, mp, Sp)
    case("broadcast/2x3", fn, rng(50, 5).normal(size=(2, 1, 3)), spd((2, 1), 3, 4), rng(50, 6).normal(size=(3, 3)), spd((3,), 3, 5))
    case("nearly-equal", fn, mq, Sq, mq + 1e-9, Sq * (1 + 1e-12))
    case("bad/dims", fn, mp, Sp, rng(50, 7).normal(size=2), spd((), 2))
    case("bad/mean-dim", fn, mp[:, :2], Sp, mq, Sq)
    case("bad/not-pd", fn, mq, Sq, mq, -Sq)
    case("bad/nan-mean", fn, poison(mp, NAN), Sp, mq, Sq)
    case("bad/batch", fn, mp, Sp, rng(50, 8).normal(size=(3, 3)), spd((3,), 3))
    case("bad-base", fn, mq, Sq, mq, Sq, base=0)

    fn = "diagonal_gaussian_kl_divergence"
    mu, lv = rng(50, 9).normal(size=(6, 4)), rng(50, 10).normal(size=(6, 4))
    mu2, lv2 = rng(50, 11).normal(size=(6, 4)), rng(50, 12).normal(size=(6, 4))
    for red in ("none", "sum", "mean"):
        case(f"prior/{red}", fn, mu, lv, reduction=red)
        case(f"pq/{red}", fn, mu, lv, mu2, lv2, reduction=red)
        case(f"pq/{red}/base2", fn, mu, lv, mu2, lv2, reduction=red, base=2)
        case(f"pq/{red}/f32", fn, mu.astype(F32), lv.astype(F32), mu2.astype(F32), lv2.astype(F32), reduction=red)
        case(f"pq/{red}/axis0", fn, mu, lv, mu2, lv2, axis=0, reduction=red)
    case("1d", fn, mu[0], lv[0])
    case("3d/axis1", fn, rng(50, 13).normal(size=(2, 3, 4)), rng(50, 14).normal(size=(2, 3, 4)), axis=1)
    case("3d/axis-3", fn, rng(50, 15).normal(size=(2, 3, 4)), rng(50, 16).normal(size=(2, 3, 4)), axis=-3)
    case("broadcast-prior", fn, mu, lv, mu2[0], lv2[0])
    case("scalar-prior", fn, mu, lv, 1.5, -0.5)
    case("extreme", fn, np.array([0.0, 1e200, 0.0]), np.array([800.0, 0.0, -800.0]))
    case("self", fn, mu, lv, mu, lv)
    case("int", fn, np.arange(6).reshape(2, 3), np.zeros((2, 3), dtype=I64))
    case("empty-batch", fn, np.zeros((0, 3)), np.zeros((0, 3)), reduction="mean")
    case("bad/nan", fn, poison(mu, NAN), lv)
    case("bad/inf", fn, mu, poison(lv, INF))
    case("bad/scalar", fn, 1.0, 0.0)
    case("bad/shapes", fn, mu, lv[:, :3])
    case("bad-reduction", fn, mu, lv, reduction="max")
    case("bad-axis", fn, mu, lv, axis=2)
    case("bad-base", fn, mu, lv, base=1)


def pairwise_matrices():
    for fn, methods in [("pairwise_cross_entropy", ("blas", "exact")), ("pairwise_kl_divergence", ("blas", "exact")),
                        ("pairwise_js_divergence", ("fast", "exact"))]:
        P, Q = probs((5, 8), 1, zeros=0.3), probs((4, 8), 2, zeros=0.2)
        for m in methods:
            c = lambda key, *a, **kw: case(f"{m}/{key}", fn, *a, method=m, **kw)   # noqa: E731
            c("plain", P, Q)
            c("dense", probs((5, 8), 3), probs((4, 8), 4))
            c("self", P, P)
            c("f32", P.astype(F32), Q.astype(F32))
            c("f16", P.astype(F16), Q.astype(F16))
            c("int/normalize", rng(60, 1).integers(0, 5, (3, 6)), rng(60, 2).integers(1, 5, (2, 6)), normalize=True)
            c("bool", P > 0.1, Q > 0.1)
            c("weights/normalize", P * 3, Q * 0.1, normalize=True)
            c("zero-row/normalize", np.vstack([P, np.zeros(8)]), Q, normalize=True)
            c("zero-row/normalize/nan", np.vstack([P, np.zeros(8)]), Q, normalize=True, invalid="nan")
            for b in (2, 10, 0.5):
                c(f"base{b}", P, Q, base=b)
            c("strided", probs((5, 16), 5)[:, ::2], probs((8, 8), 6)[::2])
            c("transposed", np.asfortranarray(P), Q.T.copy().T)
            c("empty", np.zeros((0, 8)), Q)
            c("empty-K", np.zeros((3, 0)), np.zeros((2, 0)))
            c("single", [[1.0]], [[1.0]])
            c("list", P.tolist(), Q.tolist())
            for v in (INF, NAN, -0.1):
                c(f"value{v}/raise", poison(P, v), Q)
                c(f"value{v}/nan", poison(P, v), Q, invalid="nan")
                c(f"value{v}/q/nan", P, poison(Q, v, (0, 3)), invalid="nan")
            c("out", P, Q, out=Out((5, 4)))
            c("out/strided", P, Q, out=Out((5, 4), strided=True))
            c("bad-out/shape", P, Q, out=Out((4, 5)))
            c("bad-out/dtype", P, Q, out=Out((5, 4), F32))
            c("bad-out/readonly", P, Q, out=Out((5, 4), readonly=True))
            BP, BQ = probs((40, 32), 7, zeros=0.1), probs((40, 32), 8)
            for nt in (1, 2, None):
                c(f"threads{nt}", BP, BQ, n_threads=nt)
            c("bad-threads", P, Q, n_threads=0)
            c("bad/columns", P, Q[:, :5])
            c("bad/1d", P[0], Q[0])
            c("bad/3d", P[None], Q[None])
            c("bad/complex", P.astype(complex), Q)
            c("bad-base", P, Q, base=1)
            c("bad-invalid", P, Q, invalid="omit")
            if fn == "pairwise_js_divergence":
                for b in (None, 2, 0.5):
                    c(f"distance/base{b}", P, Q, distance=True, base=b)
                c("distance/threads2", BP, BQ, distance=True, n_threads=2)
        case("bad-method", fn, P, Q, method="fastest")
        case("default-method", fn, P, Q)


FAMILIES = [probability_measures, generalized_measures, logit_measures, cross_entropy_losses, joint_measures,
            count_estimators, label_scores, continuous_estimators, gaussians, pairwise_matrices]


# --- recording -------------------------------------------------------------------------
def _resolve(fi, a):
    return a.make(fi) if isinstance(a, (Out, Call)) else a


def _parts(r, path="", into=None):
    """Every array part of a result: {path: (python type name, numpy array)}."""
    into = {} if into is None else into
    if isinstance(r, dict):
        for k, v in r.items():
            _parts(v, f"{path}.{k}", into)
    elif isinstance(r, (tuple, list)) and not isinstance(r, np.ndarray):
        names = getattr(r, "_fields", range(len(r)))
        into[path + "#"] = (type(r).__name__, np.asarray(len(r)))
        for k, v in zip(names, r):
            _parts(v, f"{path}.{k}", into)
    else:
        a = np.array(r, copy=True) if r is not None else np.array(None, dtype=object)
        into[path] = (type(r).__name__, a)
    return into


def run_case(fi, fn, args, kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            args = [_resolve(fi, a) for a in args]
            kw = {k: _resolve(fi, v) for k, v in kw.items()}
            r = getattr(fi, fn)(*args, **kw)
            out = kw.get("out")
            if isinstance(out, np.ndarray):   # what the caller sees: the result and the array passed
                r = {"result": r, "out": out, "result_is_out": r is out}
            rec = {"kind": "value", "parts": _parts(r)}
        except Exception as e:   # noqa: BLE001 -- every exception is an outcome to record
            rec = {"kind": "error", "type": type(e).__name__, "message": str(e)}
    rec["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return rec


def build_cases():
    CASES.clear()
    for family in FAMILIES:
        family()
    return CASES


def record(path):
    import fastinfo as fi
    cases = build_cases()
    missing = [n for n in getattr(fi, "__all__", []) if n not in SKIP and not any(k.startswith(n + "/")
                                                                                 for k in cases)]
    if missing:
        print("public names without cases:", ", ".join(missing), file=sys.stderr)
    t0 = time.perf_counter()
    results = {key: run_case(fi, fn, args, kw) for key, (fn, args, kw) in cases.items()}
    meta = {"fastinfo": fi.__file__, "config": fi.config() if hasattr(fi, "config") else None,
            "numpy": np.__version__, "seconds": time.perf_counter() - t0}
    with open(path, "wb") as f:
        pickle.dump({"meta": meta, "cases": results}, f, protocol=4)
    n_err = sum(r["kind"] == "error" for r in results.values())
    print(f"recorded {len(results)} cases ({len(results) - n_err} values, {n_err} exceptions) from "
          f"{meta['fastinfo']} in {meta['seconds']:.1f} s -> {path}")


# --- comparing --------------------------------------------------------------------------
def compare_arrays(a, b, rtol, atol):
    """(why they differ or None, largest relative difference, largest |a - b| where one side is
    exactly 0, number of zeros whose sign differs)."""
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} != {b.dtype}", 0.0, 0.0, 0
    if a.shape != b.shape:
        return f"shape {a.shape} != {b.shape}", 0.0, 0.0, 0
    if a.tobytes() == b.tobytes():
        return None, 0.0, 0.0, 0
    if a.dtype.kind not in "fc":
        return (None if np.array_equal(a, b) else "values differ"), 0.0, 0.0, 0
    a, b = a.astype(np.float64), b.astype(np.float64)   # float16/32 convert exactly
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return "NaN positions differ", 0.0, 0.0, 0
    for sign in (1, -1):
        if not np.array_equal(a == sign * INF, b == sign * INF):
            return f"{'+' if sign > 0 else '-'}inf positions differ", 0.0, 0.0, 0
    fin = np.isfinite(a)
    a, b = a[fin], b[fin]
    d = np.abs(a - b)
    zero = (a == 0) | (b == 0)
    rel = np.divide(d, np.maximum(np.abs(a), np.abs(b)), out=np.zeros_like(d), where=~zero)
    stats = float(rel.max(initial=0.0)), float(d[zero].max(initial=0.0)), \
        int(np.sum((a == 0) & (b == 0) & (np.signbit(a) != np.signbit(b))))
    if stats[0] > rtol:
        i = int(np.argmax(rel))
        return f"relative difference {rel[i]:.3g} > rtol ({a[i]!r} vs {b[i]!r})", *stats
    if stats[1] > atol:
        return f"exactly 0 against a nonzero beyond atol: max |a - b| = {stats[1]:.3g}", *stats
    return None, *stats


def compare_case(before, after, rtol, atol):
    """('identical' | 'close' | 'mismatch', detail, (max relative, max |a - b| at 0, signed zeros))."""
    none = (0.0, 0.0, 0)
    if before["kind"] != after["kind"]:
        what = lambda r: f"{r['type']}: {r['message']}" if r["kind"] == "error" else "a value"   # noqa: E731
        return "mismatch", f"{what(before)} became {what(after)}", none
    if before["kind"] == "error":
        if before["type"] != after["type"]:
            return "mismatch", f"{before['type']} became {after['type']}: {after['message']}", none
        return "identical", None, none
    pb, pa = before["parts"], after["parts"]
    if pb.keys() != pa.keys():
        return "mismatch", f"result structure {sorted(pb)} became {sorted(pa)}", none
    worst = none
    for k in pb:
        (tb, ab), (ta, aa) = pb[k], pa[k]
        if tb != ta:
            return "mismatch", f"{k or 'result'}: type {tb} became {ta}", none
        why, *stats = compare_arrays(ab, aa, rtol, atol)
        if why:
            return "mismatch", f"{k or 'result'}: {why}", none
        worst = (max(worst[0], stats[0]), max(worst[1], stats[1]), worst[2] + stats[2])
    bitwise = all(pb[k][1].tobytes() == pa[k][1].tobytes() for k in pb)
    return ("identical" if bitwise else "close"), None, worst


def compare(before_path, after_path, rtol, atol):
    with open(before_path, "rb") as f:
        before = pickle.load(f)
    with open(after_path, "rb") as f:
        after = pickle.load(f)
    for name, rec in (("before", before), ("after", after)):
        m = rec["meta"]
        cfg = m["config"] or {}
        print(f"{name}: {m['fastinfo']} (simd {cfg.get('simd')}, {cfg.get('max_threads')} threads, "
              f"numpy {m['numpy']})")
    levels = {(r["meta"]["config"] or {}).get("simd") for r in (before, after)}
    if len(levels) > 1:
        print("note: recorded at different SIMD levels, which round differently")
    B, A = before["cases"], after["cases"]
    only_b, only_a = sorted(B.keys() - A.keys()), sorted(A.keys() - B.keys())
    worst = (0.0, 0.0, 0)
    verdicts = {"identical": [], "close": [], "mismatch": []}
    messages, warns = [], []
    for key in sorted(B.keys() & A.keys()):
        v, detail, stats = compare_case(B[key], A[key], rtol, atol)
        verdicts[v].append((key, detail if v == "mismatch" else stats))
        worst = (max(worst[0], stats[0]), max(worst[1], stats[1]), worst[2] + stats[2])
        if B[key]["kind"] == A[key]["kind"] == "error" and B[key]["message"] != A[key]["message"]:
            messages.append((key, B[key]["message"], A[key]["message"]))
        if B[key]["warnings"] != A[key]["warnings"]:
            warns.append((key, B[key]["warnings"], A[key]["warnings"]))
    n = len(B.keys() & A.keys())
    print(f"\ncases compared: {n}")
    print(f"  bitwise identical (values) / same exception type: {len(verdicts['identical'])}")
    print(f"  within rtol={rtol:g} (atol={atol:g} where one side is exactly 0): {len(verdicts['close'])}"
          f"  [largest relative difference {worst[0]:.3g}, largest |a - b| where one side is 0 "
          f"{worst[1]:.3g}, zeros of different sign {worst[2]}]")
    for key, (rel, at0, sz) in verdicts["close"]:
        print(f"    close: {key} (relative {rel:.3g}, |a - b| at 0 {at0:.3g}, signed zeros {sz})")
    print(f"  mismatches: {len(verdicts['mismatch'])}")
    for key, detail in verdicts["mismatch"]:
        print(f"    MISMATCH {key}: {detail}")
    print(f"  missing in after: {len(only_b)}" + "".join(f"\n    {k}" for k in only_b))
    print(f"  missing in before: {len(only_a)}" + "".join(f"\n    {k}" for k in only_a))
    print(f"informational: exception messages that differ: {len(messages)}")
    for key, mb, ma in messages:
        print(f"    {key}:\n      before: {mb}\n      after:  {ma}")
    print(f"informational: warnings that differ: {len(warns)}")
    for key, wb, wa in warns:
        print(f"    {key}: {wb} -> {wa}")
    return 1 if verdicts["mismatch"] or only_a or only_b else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="run every case and pickle the outcomes")
    r.add_argument("out")
    c = sub.add_parser("compare", help="compare two recordings")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--rtol", type=float, default=1e-14)
    c.add_argument("--atol", type=float, default=1e-14, help="where one side is exactly 0 (default 1e-14)")
    sub.add_parser("list", help="print the number of cases per function")
    args = ap.parse_args(argv)
    if args.command == "record":
        record(args.out)
    elif args.command == "compare":
        return compare(args.before, args.after, args.rtol, args.atol)
    else:
        counts: dict[str, int] = {}
        for key in build_cases():
            counts[key.split("/")[0]] = counts.get(key.split("/")[0], 0) + 1
        for fn, n in counts.items():
            print(f"{n:5d}  {fn}")
        print(f"{sum(counts.values()):5d}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
