"""Logit functions against their rivals, side by side in one interleaved run.

    python bench/logits_rivals.py                # all five tables (~3 minutes on 2 cores)
    python bench/logits_rivals.py --only distill  # one table: distill, bf16, small
    python bench/logits_rivals.py --json bench/results-<date>-logits-rivals.json

* distill: distillation KL at temperature 2 (1024 x 32 000 float32, the teacher's and the
  student's logits): fastinfo, PyTorch (``kl_div`` of two ``log_softmax``), and a numba
  ``prange`` kernel of the kind a performance-minded user writes (two passes per row:
  the max and the log-sum-exps, then the KL sum; float64 accumulation).
* grad: cross-entropy forward and backward (2048 x 32 000 float32): the loss and its
  gradient in one call, and ``fastinfo.torch.cross_entropy(...).backward()`` (the forward
  keeps each row's log-sum-exp, the backward writes the gradient from it), against
  PyTorch's ``cross_entropy(...).backward()``, with the read + write roofline and
  fastinfo's peak extra memory.
* bf16: softmax cross-entropy, softmax entropy and logsumexp of 2048 x 128 000 logits,
  the same values in bfloat16 and in float32, with PyTorch on each, and the read
  roofline of each input (the share of it the kernel reaches).
* masks: the distillation KL with a quarter of the rows padding (labels + ignore_index,
  reduction batchmean) and the softmax total variation (1024 x 32 000 float32), against
  PyTorch's masked ``kl_div`` and ``0.5 * abs(softmax(p) - softmax(q)).sum(-1)``.
* small: the latency of one 1 x 100 call of every reduction and logit function against
  PyTorch's call (one thread each).

Medians of interleaved rounds; every contender's first call is untimed. PyTorch runs on
the same threads as fastinfo (``torch.set_num_threads``); numba is optional (``pip
install numba``). Needs the compiled fastinfo.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import timeit

import numpy as np

import fastinfo as fi
from fastinfo._dispatch import kernels

try:
    import torch
    import torch.nn.functional as F
except ImportError:      # the PyTorch columns show "-"
    torch = None

try:
    import numba
except ImportError:
    numba = None


def _numba_kl():
    """What a performance-minded user writes: one row per prange iteration."""
    if numba is None:
        return None
    import math

    @numba.njit(parallel=True, fastmath=False, cache=False)
    def kl_rows(p, q, inv_t, out):
        n, k = p.shape
        for i in numba.prange(n):
            mp = -np.inf
            mq = -np.inf
            for j in range(k):
                if p[i, j] > mp:
                    mp = p[i, j]
                if q[i, j] > mq:
                    mq = q[i, j]
            sp = 0.0
            sq = 0.0
            for j in range(k):
                sp += math.exp((p[i, j] - mp) * inv_t)
                sq += math.exp((q[i, j] - mq) * inv_t)
            lp = math.log(sp)
            lq = math.log(sq)
            acc = 0.0
            for j in range(k):
                a = (p[i, j] - mp) * inv_t - lp
                b = (q[i, j] - mq) * inv_t - lq
                acc += math.exp(a) * (a - b)
            out[i] = acc
        return out

    return kl_rows


def _interleave(contenders, rounds):
    """{name: median seconds}, the contenders timed in turn, round after round."""
    times = {name: [] for name in contenders}
    for fn in contenders.values():
        fn()
    for _ in range(rounds):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}, times


def _bits_as_f32(a):
    return a.view(np.uint16).reshape(a.shape[0], -1).view(np.float32)


def distill(threads, rounds, out):
    rng = np.random.default_rng(0)
    p = (rng.standard_normal((1024, 32_000), dtype=np.float32) * 3)
    q = (rng.standard_normal((1024, 32_000), dtype=np.float32) * 3)
    print("\ndistillation KL, T = 2, 1024 x 32 000 float32 (ms; ratios: rival / fastinfo)")
    kl_numba = _numba_kl()
    for n in threads:
        c = {"fastinfo": lambda: fi.softmax_kl_divergence(p, q, temperature=2.0, n_threads=n),
             "roofline": lambda: (kernels.read_roofline(p, n), kernels.read_roofline(q, n))}
        if torch is not None:
            torch.set_num_threads(n)
            tp, tq = torch.from_numpy(p), torch.from_numpy(q)
            c["torch"] = lambda: F.kl_div(F.log_softmax(tq / 2.0, -1), F.log_softmax(tp / 2.0, -1),
                                          log_target=True, reduction="none").sum(-1)
        if kl_numba is not None:
            numba.set_num_threads(n)
            res = np.empty(1024)
            c["numba"] = lambda: kl_numba(p, q, 0.5, res)
        med, raw = _interleave(c, rounds)
        f = med["fastinfo"]
        row = "  ".join(f"{k} {v * 1e3:7.1f}" + ("" if k == "fastinfo" else f" ({v / f:.2f}x)")
                        for k, v in med.items())
        print(f"  {n} thread(s): {row}   roofline share {med['roofline'] / f:.0%}")
        out.append(dict(table="distill", threads=n, medians=med, samples=raw))


def masks(threads, rounds, out):
    """Masked distillation (a quarter of the tokens padding, reduction batchmean) and the
    total variation, fastinfo against PyTorch written the usual way."""
    rng = np.random.default_rng(2)
    p = (rng.standard_normal((1024, 32_000), dtype=np.float32) * 3)
    q = (rng.standard_normal((1024, 32_000), dtype=np.float32) * 3)
    labels = rng.integers(0, 32_000, 1024)
    labels[rng.random(1024) < 0.25] = -100
    print("\nmasked KL (batchmean, 25 % padding) and total variation, 1024 x 32 000 float32 "
          "(ms; ratios: PyTorch / fastinfo)")
    for n in threads:
        c = {"kl masked": lambda: fi.softmax_kl_divergence(p, q, labels=labels, ignore_index=-100,
                                                           reduction="batchmean", n_threads=n),
             "tv": lambda: fi.softmax_total_variation(p, q, n_threads=n),
             "roofline": lambda: (kernels.read_roofline(p, n), kernels.read_roofline(q, n))}
        if torch is not None:
            torch.set_num_threads(n)
            tp, tq, keep = torch.from_numpy(p), torch.from_numpy(q), torch.from_numpy(labels != -100)
            c["torch kl masked"] = lambda: (F.kl_div(F.log_softmax(tq, -1), F.log_softmax(tp, -1), log_target=True,
                                                     reduction="none").sum(-1) * keep).sum() / tp.shape[0]
            c["torch tv"] = lambda: 0.5 * (F.softmax(tp, -1) - F.softmax(tq, -1)).abs().sum(-1)
        med, raw = _interleave(c, rounds)
        row = "  ".join(f"{k} {v * 1e3:7.1f}" for k, v in med.items())
        ratios = ""
        if torch is not None:
            ratios = (f"   PyTorch / fastinfo: kl masked {med['torch kl masked'] / med['kl masked']:.2f}x, "
                      f"tv {med['torch tv'] / med['tv']:.2f}x")
        print(f"  {n} thread(s): {row}{ratios}   roofline share: kl masked (of the rows read) "
              f"{0.75 * med['roofline'] / med['kl masked']:.0%}, tv {med['roofline'] / med['tv']:.0%}")
        out.append(dict(table="masks", threads=n, medians=med, samples=raw))


def grad(threads, rounds, out):
    """Cross-entropy forward and backward: fastinfo's loss and gradient in one call (into a new
    array, and into a preallocated one as a trainer reuses it) against PyTorch's
    ``cross_entropy(...).backward()``; peak extra memory of each (tracemalloc; PyTorch's
    allocator is not traced, so its arrays are counted from their sizes)."""
    import tracemalloc
    if torch is not None:
        import fastinfo.torch as ft
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2048, 32_000), dtype=np.float32) * np.float32(3)
    y = rng.integers(0, 32_000, 2048)
    g = np.empty_like(x)
    tracemalloc.start()
    fi.softmax_cross_entropy(x, y, reduction="mean", return_grad=True, grad_out=g)
    peak_inplace = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"\ncross-entropy forward + backward, 2048 x 32 000 float32, reduction mean (ms; ratios: rival / "
          f"fastinfo into a given array); peak extra memory with grad_out: {peak_inplace / 1e3:.1f} KB "
          f"(the logits: {x.nbytes / 1e6:.0f} MB)")
    for n in threads:
        c = {"fastinfo grad_out": lambda: fi.softmax_cross_entropy(x, y, reduction="mean", return_grad=True,
                                                                   grad_out=g, n_threads=n),
             "fastinfo new": lambda: fi.softmax_cross_entropy(x, y, reduction="mean", return_grad=True,
                                                              n_threads=n),
             "roofline r+w": lambda: kernels.read_write_roofline(x, g, n)}
        if torch is not None:
            torch.set_num_threads(n)
            tx, ty = torch.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(y)

            def torch_fb():
                tx.grad = None
                F.cross_entropy(tx, ty).backward()
            c["torch"] = torch_fb

            def fastinfo_torch_fb():      # the same autograd call through fastinfo.torch
                tx.grad = None
                ft.cross_entropy(tx, ty).backward()
            c["fastinfo.torch"] = fastinfo_torch_fb
        med, raw = _interleave(c, rounds)
        f = med["fastinfo grad_out"]
        row = "  ".join(f"{k} {v * 1e3:7.1f}" + ("" if k == "fastinfo grad_out" else f" ({v / f:.2f}x)")
                        for k, v in med.items())
        print(f"  {n} thread(s): {row}   roofline share {med['roofline r+w'] / f:.0%}")
        out.append(dict(table="grad", threads=n, medians=med, samples=raw, peak_bytes_grad_out=peak_inplace))


def bf16(threads, rounds, out):
    import ml_dtypes
    rng = np.random.default_rng(1)
    x32 = rng.standard_normal((2048, 128_000), dtype=np.float32) * np.float32(3)
    xb = x32.astype(ml_dtypes.bfloat16)
    x32 = xb.astype(np.float32)            # the same values in both dtypes
    labels = rng.integers(0, 128_000, size=2048)
    print("\n2048 x 128 000 logits, the same values in bfloat16 and float32 (ms; "
          "speed-up of bfloat16 over float32; share of each input's read roofline)")
    cases = {"softmax_cross_entropy": lambda x, n: fi.softmax_cross_entropy(x, labels, n_threads=n),
             "softmax_entropy": lambda x, n: fi.softmax_entropy(x, n_threads=n),
             "logsumexp": lambda x, n: fi.logsumexp(x, n_threads=n)}
    for name, call in cases.items():
        for n in threads:
            c = {"bf16": lambda: call(xb, n), "f32": lambda: call(x32, n),
                 "roof-bf16": lambda: kernels.read_roofline(_bits_as_f32(xb), n),
                 "roof-f32": lambda: kernels.read_roofline(x32, n)}
            if torch is not None and name == "softmax_cross_entropy":
                torch.set_num_threads(n)
                tb, tl = torch.from_numpy(x32).to(torch.bfloat16), torch.from_numpy(labels)
                c["torch-bf16"] = lambda: F.cross_entropy(tb, tl, reduction="none")
            med, raw = _interleave(c, rounds)
            extra = f"  torch-bf16 {med['torch-bf16'] * 1e3:7.1f}" if "torch-bf16" in med else ""
            print(f"  {name:22s} {n} thr: bf16 {med['bf16'] * 1e3:7.1f}  f32 {med['f32'] * 1e3:7.1f}  "
                  f"bf16 speed-up {med['f32'] / med['bf16']:.2f}x  roofline share bf16 "
                  f"{med['roof-bf16'] / med['bf16']:.0%} f32 {med['roof-f32'] / med['f32']:.0%}{extra}")
            out.append(dict(table="bf16", measure=name, threads=n, medians=med, samples=raw))


def small(rounds, out):
    rng = np.random.default_rng(2)
    p = rng.random(100)
    p /= p.sum()
    q = rng.random(100)
    q /= q.sum()
    x = rng.standard_normal((1, 100))
    y = rng.standard_normal((1, 100))
    lab = np.array([3])
    calls = {
        "entropy": (lambda: fi.entropy(p), None),
        "cross_entropy": (lambda: fi.cross_entropy(p, q), None),
        "kl_divergence": (lambda: fi.kl_divergence(p, q), None),
        "js_divergence": (lambda: fi.js_divergence(p, q), None),
        "logsumexp": (lambda: fi.logsumexp(x), "torch.logsumexp(x, -1)"),
        "softmax": (lambda: fi.softmax(x), "torch.softmax(x, -1)"),
        "log_softmax": (lambda: fi.log_softmax(x), "torch.log_softmax(x, -1)"),
        "softmax_entropy": (lambda: fi.softmax_entropy(x), "torch.distributions.Categorical(logits=x).entropy()"),
        "softmax_cross_entropy": (lambda: fi.softmax_cross_entropy(x, lab), "F.cross_entropy(x, y, reduction='none')"),
        "softmax_cross_entropy mean": (lambda: fi.softmax_cross_entropy(x, lab, reduction="mean"),
                                       "F.cross_entropy(x, y)"),
        "softmax_kl_divergence": (lambda: fi.softmax_kl_divergence(x, y),
                                  "F.kl_div(log_softmax(y), log_softmax(x), log_target=True).sum(-1)"),
    }
    torch_calls = {}
    if torch is not None:
        torch.set_num_threads(1)
        tx, ty, tl = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(lab)
        torch_calls = {
            "logsumexp": lambda: torch.logsumexp(tx, -1),
            "softmax": lambda: torch.softmax(tx, -1),
            "log_softmax": lambda: torch.log_softmax(tx, -1),
            "softmax_entropy": lambda: torch.distributions.Categorical(logits=tx).entropy(),
            "softmax_cross_entropy": lambda: F.cross_entropy(tx, tl, reduction="none"),
            "softmax_cross_entropy mean": lambda: F.cross_entropy(tx, tl),
            "softmax_kl_divergence": lambda: F.kl_div(F.log_softmax(ty, -1), F.log_softmax(tx, -1),
                                                      log_target=True, reduction="none").sum(-1),
        }
    # the same fastinfo calls on the tensors (torch in, torch out)
    tensor_calls = {}
    if torch is not None:
        tp, tq = torch.from_numpy(p), torch.from_numpy(q)
        tensor_calls = {
            "entropy": lambda: fi.entropy(tp),
            "kl_divergence": lambda: fi.kl_divergence(tp, tq),
            "logsumexp": lambda: fi.logsumexp(tx),
            "log_softmax": lambda: fi.log_softmax(tx),
            "softmax_cross_entropy": lambda: fi.softmax_cross_entropy(tx, tl),
            "softmax_cross_entropy mean": lambda: fi.softmax_cross_entropy(tx, tl, reduction="mean"),
            "softmax_kl_divergence": lambda: fi.softmax_kl_divergence(tx, ty),
        }
    print("\none 1 x 100 call, 1 thread (microseconds, median of the rounds; fastinfo on NumPy arrays, "
          "on torch tensors, and torch's own call on the tensors)")
    for name, (fn, _) in calls.items():
        fns = {"fastinfo": fn}
        if name in tensor_calls:
            fns["fastinfo on tensors"] = tensor_calls[name]
        if name in torch_calls:
            fns["torch"] = torch_calls[name]
        res = {}
        for k, f in fns.items():
            f()
            res[k] = statistics.median(timeit.repeat(f, number=2000, repeat=max(rounds, 5))) / 2000
        t = f"  torch {res['torch'] * 1e6:6.2f} ({res['torch'] / res['fastinfo']:.1f}x)" if "torch" in res else ""
        if "fastinfo on tensors" in res:
            t = f"  on tensors {res['fastinfo on tensors'] * 1e6:6.2f}" + t
        print(f"  {name:28s} fastinfo {res['fastinfo'] * 1e6:6.2f}{t}")
        out.append(dict(table="small", call=name, seconds=res))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", choices=["distill", "masks", "grad", "bf16", "small"],
                    default=["distill", "masks", "grad", "bf16", "small"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    print(f"fastinfo {fi.__version__} ({fi.config()['simd']}), torch "
          f"{torch.__version__ if torch else '-'}, numba {numba.__version__ if numba else '-'}, "
          f"{os.cpu_count()} CPUs")
    out: list = []
    if "distill" in a.only:
        distill(a.threads, a.rounds, out)
    if "masks" in a.only:
        masks(a.threads, a.rounds, out)
    if "grad" in a.only:
        grad(a.threads, a.rounds, out)
    if "bf16" in a.only:
        bf16(a.threads, a.rounds, out)
    if "small" in a.only:
        small(a.rounds, out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
