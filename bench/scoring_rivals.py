"""softmax_stats against fastinfo's cross-entropy call and PyTorch, side by side in one interleaved run.

    python bench/scoring_rivals.py                  # 2048 x 128 000, 1 and 2 threads (~3 minutes, 2 cores)
    python bench/scoring_rivals.py --rows 64 --classes 4000 --rounds 2   # a quick check that it runs
    python bench/scoring_rivals.py --json bench/results-<date>-scoring-rivals.json
    python bench/scoring_rivals.py --only ensemble temperature   # the other two tables alone

Language-model scoring: per row of 2048 x 128 000 logits (1 GB of float32), the label's
loss, the entropy, the argmax, the label's rank and the top 5 log-probabilities with
their classes. The same values in float32 and in bfloat16 (an ``ml_dtypes.bfloat16``
array for fastinfo, a ``torch.bfloat16`` tensor over the same bytes for PyTorch), timed
together for each thread count:

* stats: ``fastinfo.softmax_stats(x, labels, k=5, returns=FIELDS, n_threads=n)``;
* CE: ``fastinfo.softmax_cross_entropy(x, labels, n_threads=n)``, the one-statistic call
  on the same input (stats / CE: the cost of the other fields; target <= 1.3);
* PyTorch, the fields the way a user computes them, with ``torch.set_num_threads(n)``::

      lp = torch.log_softmax(x, -1)            # bfloat16: on the bf16 tensor, and on x.float()
      nll = -lp.gather(1, lab[:, None])
      entropy = -(lp.exp() * lp).sum(-1)
      top = torch.topk(lp, 5)
      argmax = lp.argmax(-1)
      rank = (x > x.gather(1, lab[:, None])).sum(-1)

  (PyTorch / stats; target >= 8). For bfloat16 both ways are timed and the faster one is
  the PyTorch figure; the table says which;
* the read roofline of the same input (``read_roofline``, as in ``logits_rivals.py``):
  roofline time / stats time is the share of it ``softmax_stats`` reaches.

Two more tables: ``ensemble_uncertainty`` of 10 x 1024 x 32 000 float32 member logits
against PyTorch's way of writing it (``log_softmax`` of every member, the members'
entropies, ``logsumexp`` over the members for the mean prediction; target >= 5), and
``fit_temperature`` on 100 000 x 100 float32 logits against SciPy's bounded scalar
minimizer over PyTorch's ``cross_entropy`` (target >= 10), with both temperatures and the
float64 mean loss at each.

Medians of interleaved rounds; every contender's first call is untimed (the timing function
is ``logits_rivals._interleave``). PyTorch (~3-6 s a call on one thread) is timed in the
first ``--torch-rounds`` rounds only. The default input is 16-32x the last-level cache,
so every call reads its rows from DRAM; a much smaller ``--rows`` x ``--classes`` runs
from cache (the script says so). Before the timings, each contender's fields are checked
against ``softmax_stats``'s on a few rows ("(!)" marks a contender that differs), and the
peak memory one float32 ``softmax_stats`` call allocates is measured with ``tracemalloc``
(NumPy's allocations are traced). Needs the compiled fastinfo and ``ml_dtypes``; PyTorch
is optional.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tracemalloc

import numpy as np

import fastinfo as fi
from fastinfo._dispatch import kernels

from harness import OtherLoad                     # bench/harness.py, beside this script
from logits_rivals import _bits_as_f32, _interleave   # bench/logits_rivals.py, beside this script

try:
    import torch
except ImportError:      # the PyTorch columns show "-"
    torch = None

K = 5
FIELDS = ("nll", "entropy", "argmax", "rank", "topk_logprobs", "topk_indices")
TARGET_STATS_VS_CE = 1.3
TARGET_TORCH_VS_STATS = 8.0
# below this many bytes of logits the rows may stay in the last-level cache between calls
DRAM_BYTES = 256 << 20
CHECK_ROWS = 8
_WAYS = {"torch-bf16": "in bf16", "torch-bf16-up": "upcast"}


def _torch_fields(x, lab, upcast):
    """The fields as a PyTorch user computes them (x: the logits tensor, lab: int64 labels)."""
    lp = torch.log_softmax(x.float() if upcast else x, -1)
    nll = -lp.gather(1, lab[:, None])[:, 0]
    entropy = -(lp.exp() * lp).sum(-1)
    top = torch.topk(lp, K)
    argmax = lp.argmax(-1)
    rank = (x > x.gather(1, lab[:, None])).sum(-1)
    return nll, entropy, argmax, rank, top.values, top.indices


def _check(x, lab, s, fields):
    """Whether PyTorch's fields (on a few rows) match softmax_stats's `s`, where they are meant to.

    The float fields within the tolerance of the dtype they are computed in; the argmax and
    the top-k classes by the logits they point at (ties may be broken either way); the rank
    up to the ties below the label that softmax_stats counts and the user's formula does not.
    """
    nll, ent, amax, rank, top_lp, top_idx = (t.float().numpy() if t.is_floating_point() else t.numpy()
                                             for t in fields)
    xv = x.float().numpy()
    lv = lab.numpy()
    rtol = 2e-2 if fields[0].dtype == torch.bfloat16 else 1e-4
    rows = np.arange(len(lv))
    ties_below = np.array([np.sum(xv[i, :lv[i]] == xv[i, lv[i]]) for i in rows])
    return bool(
        np.allclose(nll, s.nll, rtol=rtol, atol=rtol)
        and np.allclose(ent, s.entropy, rtol=rtol, atol=rtol)
        and np.allclose(top_lp, s.topk_logprobs, rtol=rtol, atol=rtol)
        and np.array_equal(xv[rows, amax], xv.max(-1))
        and np.array_equal(np.sort(np.take_along_axis(xv, top_idx, -1), -1),
                           np.sort(np.take_along_axis(xv, s.topk_indices, -1), -1))
        and np.array_equal(rank + ties_below, s.rank)
    )


def _interleave_some(contenders, rounds, few, few_rounds):
    """``_interleave``, with the contenders named in `few` (PyTorch) in the first `few_rounds`
    rounds only: the others run on alone for the remaining rounds (their first call there is
    untimed again)."""
    _, raw = _interleave(contenders, min(rounds, few_rounds))
    rest = {name: fn for name, fn in contenders.items() if name not in few}
    if rounds > few_rounds and rest:
        for name, t in _interleave(rest, rounds - few_rounds)[1].items():
            raw[name] += t
    return {name: statistics.median(t) for name, t in raw.items()}, raw


def memory(x, labels, n, out):
    """Peak bytes one softmax_stats call allocates (tracemalloc), against its outputs and a logits-sized array."""
    rows, classes = x.shape
    fi.softmax_stats(x, labels, k=K, returns=FIELDS, n_threads=n)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        s = fi.softmax_stats(x, labels, k=K, returns=FIELDS, n_threads=n)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    outputs = sum(a.nbytes for a in s if a is not None)
    values = rows * (2 * K + 4)
    full = rows * classes * x.itemsize
    print(f"\npeak memory of one softmax_stats call ({rows} x {classes} float32, k = {K}, {n} thr; "
          f"tracemalloc): {peak / 1e6:.3f} MB;  its outputs: rows x (2k + 4) = {values} values, "
          f"{outputs / 1e6:.3f} MB ({peak / outputs:.2f}x);  rows x classes x 4 = {full / 1e6:.1f} MB "
          f"({peak / full:.2%})")
    out.append(dict(table="memory", dtype="float32", threads=n, shape=[rows, classes], k=K,
                    peak_bytes=peak, output_bytes=outputs, output_values=values, logits_bytes=full))


def scoring(rows, classes, threads, rounds, torch_rounds, out):
    import ml_dtypes
    rng = np.random.default_rng(1)
    x32 = rng.standard_normal((rows, classes), dtype=np.float32) * np.float32(3)
    xb = x32.astype(ml_dtypes.bfloat16)
    x32 = xb.astype(np.float32)            # the same values in both dtypes
    labels = rng.integers(0, classes, size=rows)
    inputs = {"float32": x32, "bfloat16": xb}
    memory(x32, labels, max(threads), out)

    tensors, variants = {}, {}
    if torch is not None:
        tl = torch.from_numpy(labels)
        tensors = {"float32": torch.from_numpy(x32),
                   "bfloat16": torch.from_numpy(xb.view(np.int16)).view(torch.bfloat16)}
        # (name, dtype, upcast)
        variants = {"torch-f32": ("float32", False), "torch-bf16": ("bfloat16", False),
                    "torch-bf16-up": ("bfloat16", True)}
        agrees = {}
        for name, (dt, up) in variants.items():
            s = fi.softmax_stats(inputs[dt][:CHECK_ROWS], labels[:CHECK_ROWS], k=K, returns=FIELDS)
            agrees[name] = _check(tensors[dt][:CHECK_ROWS], tl[:CHECK_ROWS], s,
                                  _torch_fields(tensors[dt][:CHECK_ROWS], tl[:CHECK_ROWS], up))

    print(f"\n{rows} x {classes} logits, the same values in float32 and bfloat16, k = {K} (ms; "
          f"stats / CE: softmax_stats over softmax_cross_entropy, target <= {TARGET_STATS_VS_CE:g}; "
          f"torch / stats: PyTorch over softmax_stats, target >= {TARGET_TORCH_VS_STATS:g}; "
          "share of the input's read roofline reached by stats and by CE; CPU share of other processes)")
    if x32.nbytes < DRAM_BYTES:
        print(f"  note: {x32.nbytes / 1e6:.1f} MB of float32 logits may stay in cache between calls: "
              "these are not DRAM figures")
    chosen = {}
    for n in threads:
        c = {}
        for dt, x in inputs.items():
            roof = _bits_as_f32(x) if x.dtype.itemsize == 2 else x
            c[f"stats-{dt}"] = lambda x=x: fi.softmax_stats(x, labels, k=K, returns=FIELDS, n_threads=n)
            c[f"ce-{dt}"] = lambda x=x: fi.softmax_cross_entropy(x, labels, n_threads=n)
            c[f"roof-{dt}"] = lambda roof=roof: kernels.read_roofline(roof, n)
        if torch is not None:
            torch.set_num_threads(n)
            for name, (dt, up) in variants.items():
                c[name] = lambda t=tensors[dt], up=up: _torch_fields(t, tl, up)
        with OtherLoad() as other:
            med, raw = _interleave_some(c, rounds, set(variants), torch_rounds)
        for dt in inputs:
            stats, ce, roof = med[f"stats-{dt}"], med[f"ce-{dt}"], med[f"roof-{dt}"]
            t_name = None
            if torch is not None:
                t_name = "torch-f32" if dt == "float32" else min(("torch-bf16", "torch-bf16-up"),
                                                                 key=lambda k: med[k])
                chosen[(dt, n)] = t_name
            mine = [k for k in med if (variants[k][0] == dt if k in variants else k.endswith(dt))]
            row = dict(table="scoring", dtype=dt, threads=n, shape=[rows, classes], k=K, fields=list(FIELDS),
                       stats_vs_ce=stats / ce, roofline_share=roof / stats, ce_roofline_share=roof / ce,
                       other_load=other.share, medians={k: med[k] for k in mine},
                       samples={k: raw[k] for k in mine})
            tor = "  torch -"
            if t_name is not None:
                row.update(torch=t_name, torch_vs_stats=med[t_name] / stats, torch_agrees=agrees[t_name])
                tor = (f"  torch {med[t_name] * 1e3:8.1f}{'' if agrees[t_name] else ' (!)'}"
                       f"  torch/stats {med[t_name] / stats:5.1f}x")
                if dt == "bfloat16":
                    tor += f" ({_WAYS[t_name]}; in bf16 {med['torch-bf16'] * 1e3:.1f}, " \
                           f"upcast {med['torch-bf16-up'] * 1e3:.1f})"
            print(f"  {dt:8s} {n} thr: stats {stats * 1e3:7.1f}  CE {ce * 1e3:7.1f}  stats/CE {stats / ce:4.2f}x"
                  f"{tor}  roofline share stats {roof / stats:.0%} CE {roof / ce:.0%}  "
                  f"others {'-' if other.share is None else f'{other.share:.0%}'}")
            out.append(row)
    if torch is not None:
        ways = {_WAYS[chosen[("bfloat16", n)]] for n in threads}
        print("  bfloat16 PyTorch: the faster of log_softmax on the bf16 tensor ('in bf16') and on "
              "x.float() ('upcast'): "
              + (f"{ways.pop()} at every thread count" if len(ways) == 1 else
                 ", ".join(f"{n} thr {_WAYS[chosen[('bfloat16', n)]]}" for n in threads))
              + f"; PyTorch timed in {min(rounds, torch_rounds)} of the {rounds} rounds")
        if not all(agrees.values()):
            print("  (!) PyTorch's fields differ from softmax_stats's on the first rows: "
                  + ", ".join(k for k, ok in agrees.items() if not ok))


def ensemble(members, rows, classes, threads, rounds, torch_rounds, out):
    """ensemble_uncertainty against PyTorch's way of writing it (log_softmax of every member, then
    the entropies), (members x rows x classes) float32."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((members, rows, classes), dtype=np.float32) * np.float32(2)
    print(f"\nensemble uncertainty, {members} x {rows} x {classes} float32 ({x.nbytes / 1e9:.2f} GB; ms; "
          f"torch / fastinfo, target >= 5)")
    xt = torch.from_numpy(x) if torch is not None else None

    def torch_way():
        lp = torch.log_softmax(xt, -1)
        aleatoric = -(lp.exp() * lp).sum(-1).mean(0)
        lm = torch.logsumexp(lp, 0) - np.log(members)          # log of the mean prediction
        total = -(lm.exp() * lm).sum(-1)
        return total, aleatoric, total - aleatoric

    for n in threads:
        c = {"fastinfo": lambda: fi.ensemble_uncertainty(x, n_threads=n),
             "roofline": lambda: kernels.read_roofline(x.reshape(-1, classes), n)}
        if torch is not None:
            torch.set_num_threads(n)
            c["torch"] = torch_way
        with OtherLoad() as other:
            med, raw = _interleave_some(c, rounds, {"torch"}, torch_rounds)
        row = dict(table="ensemble", threads=n, shape=[members, rows, classes], medians=med, samples=raw,
                   roofline_share=med["roofline"] / med["fastinfo"], other_load=other.share)
        tor = ""
        if torch is not None:
            row["torch_vs_fastinfo"] = med["torch"] / med["fastinfo"]
            tor = f"  torch {med['torch'] * 1e3:8.1f}  torch/fastinfo {med['torch'] / med['fastinfo']:5.1f}x"
        print(f"  {n} thr: fastinfo {med['fastinfo'] * 1e3:8.1f}{tor}  roofline share "
              f"{med['roofline'] / med['fastinfo']:.0%}  others {'-' if other.share is None else f'{other.share:.0%}'}")
        out.append(row)


def temperature(rows, classes, threads, rounds, out):
    """fit_temperature against SciPy's bounded scalar minimizer over PyTorch's cross_entropy (xatol
    1e-6), float32 logits whose labels were drawn at temperature 2."""
    import scipy.optimize
    rng = np.random.default_rng(3)
    x = rng.standard_normal((rows, classes), dtype=np.float32) * np.float32(3)
    y = np.argmax(x / 2 + rng.gumbel(size=x.shape), axis=1)
    print(f"\ntemperature scaling, {rows} x {classes} float32 (ms; scipy+torch / fastinfo, target >= 10)")
    found = {}
    for n in threads:
        c = {"fastinfo": lambda: found.__setitem__("fastinfo", fi.fit_temperature(x, y, n_threads=n))}
        if torch is not None:
            torch.set_num_threads(n)
            xt, yt = torch.from_numpy(x), torch.from_numpy(y)
            nll = lambda t: torch.nn.functional.cross_entropy(xt / t, yt).item()   # noqa: E731
            c["scipy+torch"] = lambda: found.__setitem__(
                "scipy", scipy.optimize.minimize_scalar(nll, bounds=(0.01, 100.0), method="bounded",
                                                        options={"xatol": 1e-6}).x)
        with OtherLoad() as other:
            med, raw = _interleave(c, rounds)
        row = dict(table="temperature", threads=n, shape=[rows, classes], medians=med, samples=raw,
                   T=found, other_load=other.share)
        x64 = x.astype(np.float64)
        losses = {k: float(fi.softmax_cross_entropy(x64, y, temperature=t, reduction="mean"))
                  for k, t in found.items()}
        row["mean_nll_at_T"] = losses
        tor = ""
        if "scipy+torch" in med:
            row["scipy_vs_fastinfo"] = med["scipy+torch"] / med["fastinfo"]
            tor = (f"  scipy+torch {med['scipy+torch'] * 1e3:8.1f}  ratio "
                   f"{med['scipy+torch'] / med['fastinfo']:5.1f}x  (T {found['fastinfo']:.7f} vs "
                   f"{found['scipy']:.7f}; float64 mean NLL there {losses['fastinfo']:.12f} vs {losses['scipy']:.12f})")
        print(f"  {n} thr: fastinfo {med['fastinfo'] * 1e3:8.1f}{tor}  others "
              f"{'-' if other.share is None else f'{other.share:.0%}'}")
        out.append(row)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=128_000)
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--torch-rounds", type=int, default=3,
                    help="time PyTorch in the first this many rounds only (default 3)")
    ap.add_argument("--only", nargs="+", choices=("scoring", "ensemble", "temperature"),
                    default=["scoring", "ensemble", "temperature"])
    ap.add_argument("--members", type=int, default=10, help="ensemble: members (default 10)")
    ap.add_argument("--ensemble-rows", type=int, default=1024,
                    help="ensemble: rows (default 1024; PyTorch's way peaks at ~4x the input, so 4096 rows of "
                         "32 000 classes, 5.2 GB, need ~21 GB)")
    ap.add_argument("--ensemble-classes", type=int, default=32_000)
    ap.add_argument("--temperature-rows", type=int, default=100_000)
    ap.add_argument("--temperature-classes", type=int, default=100)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if a.torch_rounds < 1 or a.rounds < 1:
        ap.error("--rounds and --torch-rounds must be at least 1")
    print(f"fastinfo {fi.__version__} ({fi.config()['simd']}), torch "
          f"{torch.__version__ if torch else '-'}, {os.cpu_count()} CPUs")
    out: list = []
    if "scoring" in a.only:
        scoring(a.rows, a.classes, a.threads, a.rounds, a.torch_rounds, out)
    if "ensemble" in a.only:
        ensemble(a.members, a.ensemble_rows, a.ensemble_classes, a.threads, a.rounds, a.torch_rounds, out)
    if "temperature" in a.only:
        temperature(a.temperature_rows, a.temperature_classes, a.threads, a.rounds, out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
