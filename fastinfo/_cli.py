"""The ``fastinfo`` command: score .npy files in bounded memory, a demo, the configuration.

    fastinfo score INPUT.npy --measure M [--q Q.npy | --labels Y.npy | --targets T.npy] -o OUT.npy
    fastinfo demo                  generate a classifier workload, score it, print the throughput
    fastinfo info                  the configuration (show_config)

Every error is one line on stderr and a non-zero exit status (2: bad usage or
input, 1: failure while scoring, 130: interrupted); the output file appears
only when scoring finished (written to a temporary file beside it, renamed at
the end).
"""

import argparse
import ctypes
import ctypes.util
import math
import mmap
import os
import sys
import tempfile
import time

import numpy as np

import fastinfo

PROB_MEASURES = ("entropy", "cross_entropy", "kl", "js")
LOGIT_MEASURES = ("softmax_entropy", "softmax_cross_entropy", "softmax_kl", "sigmoid_cross_entropy",
                  "logsumexp")
MEASURES = PROB_MEASURES + LOGIT_MEASURES
NEEDS_Q = ("cross_entropy", "kl", "js", "softmax_kl")
CHUNK_BYTES = 64 << 20        # default chunk: ~64 MB of input rows


class UsageError(Exception):
    """Bad arguments or input files: one line on stderr, exit status 2."""


# --- reading ---------------------------------------------------------------------------
def _open_npy(path, what):
    if not os.path.exists(path):
        raise UsageError(f"{what} {path}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"{what} {path}: is a directory")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise UsageError(f"{what} {path}: cannot read ({e.strerror})") from None
    if magic != b"\x93NUMPY":
        raise UsageError(f"{what} {path}: not a .npy file (no NumPy header)")
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as e:   # malformed header, object arrays, truncated data
        raise UsageError(f"{what} {path}: cannot read as .npy ({e})") from None
    if a.dtype.hasobject or a.dtype.fields is not None:
        raise UsageError(f"{what} {path}: unsupported dtype {a.dtype}")
    return a


def _check_float(a, what, path):
    if a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):
        raise UsageError(f"{what} {path}: dtype {a.dtype}; expected float32 or float64")
    if a.ndim == 0:
        raise UsageError(f"{what} {path}: a scalar; expected an array with a class axis")


_libc = None


def _drop_pages(a, lo, hi):
    """Tell the kernel we are done with rows lo:hi of the memory-mapped array a, so the
    pages read so far do not pile up in the resident set (MADV_DONTNEED on a read-only
    file mapping: they are simply re-read if touched again)."""
    global _libc
    if not isinstance(a, np.memmap) or a.ndim == 0 or hi <= lo or not hasattr(mmap, "MADV_DONTNEED"):
        return
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        _libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    page = mmap.PAGESIZE
    row = a.strides[0] if a.ndim else a.itemsize
    start = a.ctypes.data + lo * row
    end = a.ctypes.data + hi * row
    s = (start + page - 1) // page * page
    e = end // page * page
    if e > s:
        _libc.madvise(s, e - s, mmap.MADV_DONTNEED)


# --- the progress line -----------------------------------------------------------------
class Progress:
    def __init__(self, total_rows, bytes_per_row, enabled):
        self.total = total_rows
        self.bpr = bytes_per_row
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.shown = False

    def update(self, done, final=False):
        if not self.enabled:
            return
        now = time.perf_counter()
        el = now - self.t0
        if not final and (el < 0.5 or now - self.last < 0.1):
            return
        self.last = now
        rate = done / el if el > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        pct = 100.0 * done / self.total if self.total else 100.0
        eta_s = "--" if not math.isfinite(eta) else f"{eta:.0f}s"
        sys.stderr.write(f"\r{pct:5.1f}%  {done}/{self.total} rows  {rate:,.0f} rows/s  "
                         f"{rate * self.bpr / 1e9:.2f} GB/s  ETA {eta_s}   ")
        sys.stderr.flush()
        self.shown = True

    def close(self):
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


# --- score -----------------------------------------------------------------------------
def _call(measure, args, x, q, invalid="nan"):
    """The library call for one chunk of rows (class axis last)."""
    kw = dict(n_threads=args.threads, invalid=invalid)
    base, T = args.base, args.temperature
    if measure in PROB_MEASURES:
        f = {"entropy": fastinfo.entropy, "cross_entropy": fastinfo.cross_entropy,
             "kl": fastinfo.kl_divergence, "js": fastinfo.js_divergence}[measure]
        extra = () if measure == "entropy" else (q,)
        return f(x, *extra, base=base, normalize=args.normalize, **kw)
    if measure == "softmax_entropy":
        return fastinfo.softmax_entropy(x, temperature=T, base=base, **kw)
    if measure == "softmax_cross_entropy":
        return fastinfo.softmax_cross_entropy(x, q, temperature=T, base=base, **kw)
    if measure == "softmax_kl":
        return fastinfo.softmax_kl_divergence(x, q, temperature=T, base=base, **kw)
    if measure == "logsumexp":
        return fastinfo.logsumexp(x, **kw)
    return fastinfo.sigmoid_cross_entropy(x, q, base=base, invalid=invalid)


def _explain(measure, args, x, q, j, row0):
    """The library's own message for the invalid row j of a chunk, with the file's row number."""
    shared = q is not None and q.ndim == 1 and q.dtype.kind == "f" and measure in PROB_MEASURES
    qj = q if q is None or shared else q[j]
    try:
        _call(measure, args, x[j], qj, invalid="raise")
    except (ValueError, IndexError) as e:
        msg = str(e)
        for tail in (" in the distribution at batch index ()", " at batch index ()"):
            msg = msg.replace(tail, "")
        return f"row {row0 + j}: {msg}"
    return f"row {row0 + j}: invalid input (the result is NaN)"


def _validate(args):
    m = args.measure
    given = [n for n in ("q", "labels", "targets") if getattr(args, n) is not None]
    if len(given) > 1:
        raise UsageError(f"give at most one of --q, --labels, --targets (got {', '.join('--' + g for g in given)})")
    if m in NEEDS_Q and args.q is None:
        raise UsageError(f"--measure {m} needs --q Q.npy")
    if m == "softmax_cross_entropy" and args.labels is None and args.targets is None:
        raise UsageError("--measure softmax_cross_entropy needs --labels Y.npy or --targets T.npy")
    if m == "sigmoid_cross_entropy" and args.targets is None:
        raise UsageError("--measure sigmoid_cross_entropy needs --targets T.npy")
    if given and m not in NEEDS_Q + ("softmax_cross_entropy", "sigmoid_cross_entropy"):
        raise UsageError(f"--measure {m} takes no --{given[0]}")
    if args.q is not None and m not in NEEDS_Q:
        raise UsageError(f"--measure {m} takes no --q")
    if args.labels is not None and m != "softmax_cross_entropy":
        raise UsageError(f"--labels applies to softmax_cross_entropy only")
    if args.targets is not None and m not in ("softmax_cross_entropy", "sigmoid_cross_entropy"):
        raise UsageError(f"--targets applies to softmax_cross_entropy and sigmoid_cross_entropy only")
    if args.normalize and m not in PROB_MEASURES:
        raise UsageError(f"--normalize applies to {', '.join(PROB_MEASURES)} only")
    if args.temperature != 1.0 and m not in ("softmax_entropy", "softmax_cross_entropy", "softmax_kl"):
        raise UsageError("--temperature applies to the softmax_* measures only")
    if args.base is not None and m == "logsumexp":
        raise UsageError("--base does not apply to logsumexp")
    if args.base is not None and not (args.base > 0 and args.base != 1 and math.isfinite(args.base)):
        raise UsageError(f"--base must be a positive number other than 1, got {args.base}")
    if not (args.temperature > 0 and math.isfinite(args.temperature)):
        raise UsageError(f"--temperature must be a positive number, got {args.temperature}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    if args.chunk_rows is not None and args.chunk_rows < 1:
        raise UsageError(f"--chunk-rows must be >= 1, got {args.chunk_rows}")


def score(args):
    """Run `fastinfo score`; returns the exit status."""
    _validate(args)
    m = args.measure
    out_path = args.output
    if not out_path.endswith(".npy"):
        raise UsageError(f"output {out_path}: the output must be a .npy file")
    if os.path.exists(out_path) and not args.force:
        raise UsageError(f"output {out_path} exists (use --force to overwrite)")
    out_dir = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(out_dir):
        raise UsageError(f"output {out_path}: no such directory {out_dir}")
    X = _open_npy(args.input, "input")
    _check_float(X, "input", args.input)
    ax = args.axis + X.ndim if args.axis < 0 else args.axis
    if not 0 <= ax < X.ndim:
        raise UsageError(f"--axis {args.axis} is out of range for input of shape {X.shape}")
    Xm = np.moveaxis(X, ax, -1)                         # a view: still memory-mapped
    elementwise = m == "sigmoid_cross_entropy"
    if Xm.ndim == 1:
        Xm = Xm[None]                                   # one row
        squeeze = True
    else:
        squeeze = False
    K = Xm.shape[-1]
    batch = Xm.shape[:-1]
    # the second operand
    Q = None
    if args.q is not None:
        Q = _open_npy(args.q, "--q")
        _check_float(Q, "--q", args.q)
        Qm = np.moveaxis(Q, ax, -1) if Q.ndim == X.ndim else Q
        if Q.ndim == 1 and m in PROB_MEASURES:
            if Q.shape[0] != K:
                raise UsageError(f"--q {args.q}: shape {Q.shape} does not match the {K} classes of the input")
            Qm = Q                                      # one reference distribution for every row
        elif Q.shape != X.shape:
            raise UsageError(f"--q {args.q}: shape {Q.shape} differs from the input's {X.shape}")
        elif squeeze:
            Qm = Qm[None]
        Q = Qm
    elif args.labels is not None:
        Q = _open_npy(args.labels, "--labels")
        if Q.dtype.kind not in "iu":
            raise UsageError(f"--labels {args.labels}: dtype {Q.dtype}; expected integers")
        want = X.shape[:ax] + X.shape[ax + 1:]
        if Q.shape != want:
            raise UsageError(f"--labels {args.labels}: shape {Q.shape}; expected {want} (the input's "
                             f"shape without the class axis)")
        if squeeze:
            Q = Q.reshape(1)
    elif args.targets is not None:
        Q = _open_npy(args.targets, "--targets")
        _check_float(Q, "--targets", args.targets)
        if Q.shape != X.shape:
            raise UsageError(f"--targets {args.targets}: shape {Q.shape} differs from the input's {X.shape}")
        Q = np.moveaxis(Q, ax, -1)
        if squeeze:
            Q = Q[None]
    res_dtype = X.dtype if (Q is None or Q.dtype.kind != "f" or Q.dtype == X.dtype) else np.dtype(np.float64)
    out_shape = X.shape if elementwise else (X.shape[:ax] + X.shape[ax + 1:])
    N = batch[0] if batch else 1
    row_bytes = int(np.prod(Xm.shape[1:])) * Xm.itemsize
    n_inputs = 1 if Q is None or Q.ndim == 1 and m in PROB_MEASURES or Q.dtype.kind in "iu" else 2
    chunk = args.chunk_rows or max(1, CHUNK_BYTES // max(1, row_bytes * n_inputs))
    progress = Progress(N, row_bytes * n_inputs,
                        enabled=not args.quiet and sys.stderr.isatty())
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out_path) + ".", suffix=".part", dir=out_dir)
    os.close(fd)
    done = False
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=res_dtype, shape=out_shape)
        Om = out
        if elementwise:
            Om = np.moveaxis(out, ax, -1)
            if squeeze:
                Om = Om[None]
        elif squeeze:
            Om = out.reshape(1)
        for lo in range(0, N, chunk):
            hi = min(N, lo + chunk)
            xc = Xm[lo:hi]
            qc = None if Q is None else (Q if (Q.ndim == 1 and Q.dtype.kind == "f" and not elementwise
                                               and m in PROB_MEASURES) else Q[lo:hi])
            r = np.asarray(_call(m, args, xc, qc))
            bad = np.isnan(r)
            if bad.any():
                flat = int(np.argmax(bad.reshape(bad.shape[0], -1).any(axis=1))) if bad.ndim > 1 else \
                    int(np.argmax(bad))
                raise UsageError(_explain(m, args, xc, qc, flat, lo))
            Om[lo:hi] = r
            if not squeeze and ax == X.ndim - 1:      # rows lo:hi are one slab of each file
                _drop_pages(X, lo, hi)
                if Q is not None and Q.ndim > 1:
                    _drop_pages(Q if Q.base is None else Q.base, lo, hi)
                elif Q is not None and Q.ndim == 1 and Q.dtype.kind in "iu":
                    _drop_pages(Q, lo, hi)
            if isinstance(out, np.memmap) and (hi - lo) * Om.itemsize > (1 << 20):
                out.flush()
            progress.update(hi)
        out.flush()
        del out, Om
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)      # mkstemp made it private; the result is an ordinary file
        os.replace(tmp, out_path)
        done = True
        progress.update(N, final=True)
    finally:
        progress.close()
        if not done:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return 0


# --- demo ------------------------------------------------------------------------------
def demo(args):
    fastinfo.show_config()
    n, k = args.rows, args.classes
    with tempfile.TemporaryDirectory(prefix="fastinfo-demo-") as d:
        lp, yp = os.path.join(d, "logits.npy"), os.path.join(d, "labels.npy")
        print(f"\ngenerating {n} x {k} float32 classifier logits with labels in {d} ...", flush=True)
        rng = np.random.default_rng(0)
        x = np.lib.format.open_memmap(lp, mode="w+", dtype=np.float32, shape=(n, k))
        y = rng.integers(0, k, n)
        step = max(1, (16 << 20) // (4 * k))
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            blk = rng.standard_normal((hi - lo, k), dtype=np.float32)
            blk *= 2.0
            blk[np.arange(hi - lo), y[lo:hi]] += 4.0      # the right class usually wins
            x[lo:hi] = blk
        x.flush()
        del x
        np.save(yp, y)
        gb = n * k * 4 / 1e9
        print(f"{'command':<72}{'time':>8}{'rows/s':>14}{'GB/s':>8}   mean")
        for measure, extra in (("softmax_cross_entropy", ["--labels", yp]), ("softmax_entropy", []),
                               ("logsumexp", [])):
            op = os.path.join(d, f"{measure}.npy")
            argv = ["score", lp, "--measure", measure, *extra, "-o", op, "--quiet"]
            if args.threads:
                argv += ["--threads", str(args.threads)]
            t = time.perf_counter()
            status = main(argv)
            el = time.perf_counter() - t
            if status != 0:
                return status
            r = np.load(op)
            shown = "fastinfo " + " ".join(os.path.basename(a) if os.path.sep in a else a for a in argv)
            print(f"{shown:<72}{el:>7.2f}s{n / el:>14,.0f}{gb / el:>8.2f}   {float(r.mean()):.4f}")
    return 0


# --- entry point -----------------------------------------------------------------------
def _parser():
    ap = argparse.ArgumentParser(prog="fastinfo", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command")
    s = sub.add_parser("score", help="score a .npy file (memory-mapped, in row chunks)",
                       description="Score INPUT.npy row by row in chunks, writing OUT.npy incrementally.")
    s.add_argument("input", metavar="INPUT.npy")
    s.add_argument("--measure", required=True, choices=MEASURES)
    s.add_argument("--q", metavar="Q.npy", help="second distribution (cross_entropy, kl, js) or the "
                   "student logits (softmax_kl); same shape as INPUT, or (K,) for a reference distribution")
    s.add_argument("--labels", metavar="Y.npy", help="integer class labels (softmax_cross_entropy)")
    s.add_argument("--targets", metavar="T.npy", help="probabilities of INPUT's shape (soft targets; "
                   "sigmoid_cross_entropy's targets)")
    s.add_argument("--axis", type=int, default=-1, help="the class axis (default -1)")
    s.add_argument("--base", type=float, default=None, help="logarithm base (default: nats)")
    s.add_argument("--normalize", action="store_true", help="divide each row by its sum (probability measures)")
    s.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (softmax_* measures)")
    s.add_argument("--threads", type=int, default=None, help="threads (default: OpenMP's)")
    s.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: ~64 MB of input)")
    s.add_argument("-o", "--output", required=True, metavar="OUT.npy")
    s.add_argument("--force", action="store_true", help="overwrite OUT.npy if it exists")
    s.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    d = sub.add_parser("demo", help="generate a classifier workload, score it, print the throughput")
    d.add_argument("--rows", type=int, default=200_000)
    d.add_argument("--classes", type=int, default=1_000)
    d.add_argument("--threads", type=int, default=None)
    sub.add_parser("info", help="the configuration (OpenMP, SIMD level, threads)")
    return ap


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        # the benchmarks need the rivals, the NumPy baseline and the result files, which live in
        # the source repository, not in an installed package: say where they are
        sys.stderr.write("fastinfo bench: the benchmarks are not installed with the package; "
                         "run them from a source checkout: python bench/run.py\n")
        return 2
    ap = _parser()
    if not argv:
        argv = ["demo"]
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        if args.command == "score":
            return score(args)
        if args.command == "demo":
            return demo(args)
        if args.command == "info":
            fastinfo.show_config()
            return 0
    except UsageError as e:
        sys.stderr.write(f"fastinfo {args.command}: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"fastinfo {args.command}: interrupted; no output written\n")
        return 130
    except OSError as e:
        sys.stderr.write(f"fastinfo {args.command}: error: {e.strerror or e} "
                         f"({getattr(e, 'filename', '') or ''})\n")
        return 1
    except MemoryError:
        sys.stderr.write(f"fastinfo {args.command}: error: out of memory (try a smaller --chunk-rows)\n")
        return 1
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
