"""softmax_stats against fastinfo's cross-entropy call and PyTorch, side by side in one interleaved run.

    python bench/scoring_rivals.py                  # 2048 x 128 000, 1 and 2 threads (~3 minutes, 2 cores)
    python bench/scoring_rivals.py --rows 64 --classes 4000 --rounds 2   # a quick check that it runs
    python bench/scoring_rivals.py --json bench/results-<date>-scoring-rivals.json

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

Medians of interleaved rounds; every contender's first call is untimed (the timing helper
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=128_000)
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--torch-rounds", type=int, default=3,
                    help="time PyTorch in the first this many rounds only (default 3)")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if a.torch_rounds < 1 or a.rounds < 1:
        ap.error("--rounds and --torch-rounds must be at least 1")
    print(f"fastinfo {fi.__version__} ({fi.config()['simd']}), torch "
          f"{torch.__version__ if torch else '-'}, {os.cpu_count()} CPUs")
    out: list = []
    scoring(a.rows, a.classes, a.threads, a.rounds, a.torch_rounds, out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
