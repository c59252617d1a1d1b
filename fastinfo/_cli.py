"""The ``fastinfo`` command: score .npy, Parquet, Arrow, .npz, HDF5, Zarr and CSV files in bounded
memory, a demo, the configuration.

    fastinfo score INPUT --measure M [--q Q | --labels Y | --targets T] -o OUT.npy
                   (INPUT: .npy, or Parquet / Arrow IPC with a column of lists, see _tables;
                   --dask or --scheduler ADDRESS: on a Dask cluster, see _cluster)
    fastinfo demo                  generate a classifier workload, score it, print the throughput
    fastinfo info                  the configuration (show_config)

Every error is one line on stderr and an exit status of EXIT_STATUS (below). The
inputs are read with ordinary reads, never memory-mapped (a file truncated while
it is read is a clean error, not SIGBUS), and never written; the result is written
with ordinary writes into a temporary ``.part`` file beside the output, which
takes the output's name only when every row is scored (an exclusive hard link, or
an atomic ``os.replace`` with ``--force``). Any failure or SIGINT, SIGTERM or
SIGHUP removes the ``.part`` file.
"""

import argparse
import ast
import contextlib
import errno
import io
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time

import numpy as np

import fastinfo
from fastinfo import _scoring

PROB_MEASURES = ("entropy", "cross_entropy", "kl", "js")
LOGIT_MEASURES = ("softmax_entropy", "softmax_cross_entropy", "softmax_kl", "softmax_js", "softmax_tv",
                  "sigmoid_cross_entropy", "logsumexp", "softmax_stats")
MEASURES = PROB_MEASURES + LOGIT_MEASURES
NEEDS_Q = ("cross_entropy", "kl", "js", "softmax_kl", "softmax_js", "softmax_tv")
LABELLED = ("softmax_cross_entropy", "softmax_stats")         # the measures that take --labels
# softmax_stats: the fields it can write (a column each), those that need labels, the top k
# softmax_stats' fields, those that need the labels, and the top k's
STATS_FIELDS = _scoring.FIELDS
LABEL_FIELDS = _scoring._LABEL_FIELDS
TOPK_FIELDS = tuple(f for f in STATS_FIELDS if f in _scoring._TOPK_FIELDS)
CHUNK_BYTES = 64 << 20        # default chunk: ~64 MB of input rows

EXIT_STATUS = """\
exit status:
  0        success
  1        failure while scoring: a read or write error (disk full, file size
           limit, read-only file system), an input changed while being read,
           out of memory
  2        bad usage or input: options, a missing, unreadable, truncated or
           invalid .npy file, an invalid row or a label out of range, an output
           that exists (without --force) or is one of the inputs, an output
           folder that cannot be written
  128+N    stopped by signal N: 130 SIGINT (Ctrl-C), 143 SIGTERM, 129 SIGHUP
On any failure no output file is left behind, not even the temporary .part file,
and the inputs are never written."""


class UsageError(Exception):
    """Bad arguments or input files: one line on stderr, exit status 2."""


class RunError(Exception):
    """A failure while scoring (I/O error, an input changed under us): one line, exit status 1."""


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: the run stops as on Ctrl-C, exit status 128 + the signal number."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def same_inode(a, b):
    """Two os.stat results of one file (the same device and inode: a name, a link or a descriptor)."""
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _prod(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


# --- reading ---------------------------------------------------------------------------
class NpyReader:
    """A .npy file, checked when opened and read in slabs with ordinary reads.

    Never memory-mapped: if the file shrinks while it is read, a read comes back short
    and that is an error (RunError), where a memory map would kill the process with
    SIGBUS. The file stays open from the first check to the last read, so renaming
    or replacing its path meanwhile changes nothing.
    """

    MAX_HEADER = 1 << 20        # NumPy refuses headers over 10 000 bytes unless trusted

    def __init__(self, path, what, member=None):
        """member: (name, start, size) of an uncompressed member of a .npz archive at ``path``:
        the .npy bytes from ``start`` on (the reads are the same, at that offset)."""
        self.path, self.what = path if member is None else f"{path}:{member[0]}", what
        self.base, self.limit = (0, None) if member is None else (member[1], member[1] + member[2])
        if not os.path.exists(path):
            raise UsageError(f"{what} {path}: no such file")
        if os.path.isdir(path):
            raise UsageError(f"{what} {path}: is a directory")
        try:
            self.f = open(path, "rb", buffering=0)
        except OSError as e:
            raise UsageError(f"{what} {path}: cannot read ({e.strerror})") from None
        self._buf = np.empty(0, dtype=np.uint8)
        try:
            self._parse()
        except BaseException:
            self.f.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def _bad(self, why):
        return UsageError(f"{self.what} {self.path}: not a valid .npy file ({why})")

    def _read_header_bytes(self, n):
        try:
            data = b""
            while len(data) < n:
                more = self.f.read(n - len(data))
                if not more:
                    break
                data += more
            return data
        except OSError as e:
            raise UsageError(f"{self.what} {self.path}: cannot read ({e.strerror})") from None

    def _parse(self):
        if self.base:
            self.f.seek(self.base)
        magic = self._read_header_bytes(8)
        if magic[:6] != b"\x93NUMPY":
            raise UsageError(f"{self.what} {self.path}: not a .npy file (no NumPy header; fastinfo score "
                             f"reads .npy, Parquet and Arrow IPC files)")
        if len(magic) < 8:
            raise self._bad("the header is cut short")
        major, minor = magic[6], magic[7]
        if major not in (1, 2, 3):
            raise self._bad(f"unknown format version {major}.{minor}")
        width = 2 if major == 1 else 4
        raw = self._read_header_bytes(width)
        if len(raw) < width:
            raise self._bad("the header is cut short")
        hlen = int.from_bytes(raw, "little")
        if hlen > self.MAX_HEADER:
            raise self._bad(f"a header of {hlen} bytes")
        header = self._read_header_bytes(hlen)
        if len(header) < hlen:
            raise self._bad(f"the header is cut short: {hlen} bytes declared, {len(header)} present")
        try:
            text = header.decode("utf-8" if major == 3 else "latin-1")
        except UnicodeDecodeError:
            raise self._bad("unreadable header") from None
        # a plain array's header holds a few brackets; deep nesting is not worth parsing
        if sum(text.count(c) for c in "([{") > 64:
            raise self._bad("unreadable header")
        try:
            d = ast.literal_eval(text)
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            raise self._bad("unreadable header") from None
        if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
            raise self._bad("the header is not a dictionary of descr, fortran_order and shape")
        shape, fortran = d["shape"], d["fortran_order"]
        if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)) \
                or not isinstance(fortran, bool):
            raise self._bad(f"bad shape {shape!r} or fortran_order {fortran!r}")
        try:
            dtype = np.lib.format.descr_to_dtype(d["descr"])
        except Exception:
            raise self._bad(f"unknown dtype {d['descr']!r}") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize == 0:
            raise UsageError(f"{self.what} {self.path}: unsupported dtype {dtype}")
        self.shape, self.ndim, self.fortran = shape, len(shape), fortran
        self.file_dtype = dtype
        self.dtype = dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype
        self.offset = self.base + 8 + width + hlen
        self.nbytes = _prod(shape) * dtype.itemsize
        size = os.fstat(self.f.fileno()).st_size if self.limit is None else self.limit
        if size - self.offset < self.nbytes:
            raise UsageError(f"{self.what} {self.path}: truncated .npy file: shape {shape} of {dtype} needs "
                             f"{self.nbytes} bytes of data, the file holds {max(0, size - self.offset)}")
        if hasattr(os, "posix_fadvise"):
            try:                        # read ahead generously: the file is read front to back
                os.posix_fadvise(self.f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except OSError:
                pass

    def same_file(self, st):
        return same_inode(os.fstat(self.f.fileno()), st)

    def _read_into(self, mv, pos):
        got, n = 0, len(mv)
        while got < n:
            try:
                if hasattr(os, "preadv"):
                    k = os.preadv(self.f.fileno(), [mv[got:]], pos + got)
                else:
                    self.f.seek(pos + got)
                    k = self.f.readinto(mv[got:])
            except OSError as e:
                raise RunError(f"{self.what} {self.path}: read error ({e.strerror})") from None
            if not k:
                raise RunError(f"{self.what} {self.path}: the file ends at byte {pos + got}, before the "
                               f"{self.offset + self.nbytes} bytes its header declares (it was truncated "
                               f"while being read)")
            got += k

    def read(self, axis, lo, hi):
        """Elements lo:hi along ``axis`` (in the array's own axis order), every other axis whole.

        The slab is read into a buffer the next read reuses: a view of it is valid until then.
        """
        Sd = self.shape[::-1] if self.fortran else self.shape        # the layout on disk: C order
        da = self.ndim - 1 - axis if self.fortran else axis
        item = self.file_dtype.itemsize
        n = hi - lo
        outer = _prod(Sd[:da])
        inner = _prod(Sd[da + 1:]) * item
        block = n * inner
        total = outer * block
        if self._buf.size < total:
            self._buf = np.empty(0, dtype=np.uint8)                 # free the old one first
            self._buf = np.empty(total, dtype=np.uint8)
        buf = self._buf
        mv = memoryview(buf)
        if n == Sd[da] or outer <= 1:                                 # one contiguous stretch
            self._read_into(mv[:total], self.offset + lo * inner)
        else:
            for j in range(outer):
                self._read_into(mv[j * block:(j + 1) * block], self.offset + (j * Sd[da] + lo) * inner)
        a = buf[:total].view(self.file_dtype).reshape(Sd[:da] + (n,) + Sd[da + 1:])
        if self.fortran:
            a = a.T
        return a if self.file_dtype.isnative else a.astype(self.dtype)

    def read_all(self):
        """The whole array, in memory of its own (small operands: weights, a reference row)."""
        buf = np.empty(self.nbytes, dtype=np.uint8)
        self._read_into(memoryview(buf), self.offset)
        Sd = self.shape[::-1] if self.fortran else self.shape
        a = buf.view(self.file_dtype).reshape(Sd)
        if self.fortran:
            a = a.T
        return a.astype(self.dtype) if not self.file_dtype.isnative else a


FLOATS = "float16, float32 or float64"


def _check_float(a, what, path, counts=None):
    """A floating operand (2-byte floats are read as stored); ``counts``: the --normalize
    flag of a probability measure, under which integer counts are taken too."""
    dt = a.dtype
    if dt.kind in "iu" and counts is not None:
        if not counts:
            raise UsageError(f"{what} {path}: dtype {dt} (integer counts); pass --normalize to divide each "
                             f"row by its sum")
    elif dt.kind != "f" or dt.itemsize not in (2, 4, 8):
        raise UsageError(f"{what} {path}: dtype {dt}; expected {FLOATS}"
                         + (" (or integer counts with --normalize)" if counts is not None else ""))
    if a.ndim == 0:
        raise UsageError(f"{what} {path}: a scalar; expected an array with a class axis")


def _result_dtype(measure, xdt, qdt, qkind):
    """The dtype of the library's result for these operands: float64 beside a float64 or an
    integer (counts) operand, else float32 (float16 and float32 rows); sigmoid_cross_entropy,
    elementwise NumPy, gives float32 only for float32 logits with float32 targets."""
    dts = [xdt] + ([qdt] if qdt is not None and qkind != "labels" else [])
    if measure == "sigmoid_cross_entropy":
        return np.dtype(np.float32 if all(d == np.float32 for d in dts) else np.float64)
    if any(d.kind in "iu" or d == np.float64 for d in dts):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


# --- writing ---------------------------------------------------------------------------
class NpyWriter:
    """The result, a C-ordered .npy file written with ordinary writes through an open
    descriptor: a full disk or a file size limit is an OSError (ENOSPC, EFBIG), never
    the SIGBUS of a store into a memory-mapped sparse file. The space is reserved up
    front where the file system can (posix_fallocate), so a disk too small fails
    before any scoring."""

    def __init__(self, fd, path, dtype, shape):
        self.fd, self.path, self.dtype, self.shape = fd, path, np.dtype(dtype), tuple(shape)
        hdr = io.BytesIO()
        d = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        np.lib.format.write_array_header_1_0(hdr, d)
        head = hdr.getvalue()
        self.offset = len(head)
        end = self.offset + _prod(self.shape) * self.dtype.itemsize
        if hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, end)
            except OSError as e:
                if e.errno not in (errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL):
                    raise self._error(e) from None
        self._write_at(memoryview(head), 0)

    def _error(self, e):
        return RunError(f"output {self.path}: cannot write the result ({e.strerror or e}); no output written")

    def _write_at(self, mv, pos):
        done = 0
        while done < len(mv):
            try:
                if hasattr(os, "pwrite"):
                    k = os.pwrite(self.fd, mv[done:], pos + done)
                else:
                    os.lseek(self.fd, pos + done, os.SEEK_SET)
                    k = os.write(self.fd, mv[done:])
            except OSError as e:
                raise self._error(e) from None
            if k <= 0:
                raise self._error(OSError(errno.EIO, "short write"))
            done += k

    def write(self, axis, lo, hi, a):
        """Elements lo:hi along ``axis`` of the result (``a``: that slab)."""
        a = np.ascontiguousarray(a, dtype=self.dtype)
        S = self.shape
        item = self.dtype.itemsize
        outer = _prod(S[:axis])
        inner = _prod(S[axis + 1:]) * item
        block = (hi - lo) * inner
        mv = memoryview(a.reshape(-1).view(np.uint8))
        if hi - lo == S[axis] or outer <= 1:
            self._write_at(mv[:outer * block], self.offset + lo * inner)
        else:
            for j in range(outer):
                self._write_at(mv[j * block:(j + 1) * block], self.offset + (j * S[axis] + lo) * inner)

    def write_all(self, a):
        a = np.ascontiguousarray(np.asarray(a, dtype=self.dtype).reshape(self.shape))
        self._write_at(memoryview(a.reshape(-1).view(np.uint8)), self.offset)

    def finish(self):
        try:
            os.fsync(self.fd)
        except OSError as e:
            raise self._error(e) from None


# --- signals ---------------------------------------------------------------------------
class _Signals:
    """While a command runs: SIGTERM and SIGHUP raise Stopped and SIGINT KeyboardInterrupt,
    so the clean-up of an interrupted run is the clean-up of a failed one; inside hold()
    they wait (a commit or a clean-up is not cut in two), inside defer() they take effect
    at its end. A signal the parent set to be ignored (nohup, a background job) stays
    ignored. SIGXFSZ is ignored, so exceeding a file size limit (ulimit -f) is an error
    from write() (EFBIG), not a killed process."""

    def __init__(self):
        self.depth = 0
        self.saved = {}
        self.held = 0
        self.deferred = 0
        self.pending = None

    def _handle(self, signum, frame):
        if self.held:
            return                          # the commit or clean-up goes on; the run ends right after
        if self.deferred:
            self.pending = self.pending or signum
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(signum)

    def __enter__(self):
        self.depth += 1
        if self.depth > 1 or threading.current_thread() is not threading.main_thread():
            return self
        for name in ("SIGTERM", "SIGHUP", "SIGINT"):
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            old = signal.getsignal(sig)
            if old is signal.SIG_IGN or old is None or (sig == signal.SIGINT and old is not signal.default_int_handler):
                continue
            self.saved[sig] = old
            signal.signal(sig, self._handle)
        if hasattr(signal, "SIGXFSZ"):
            self.saved[signal.SIGXFSZ] = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0:
            for sig, old in self.saved.items():
                signal.signal(sig, old)
            self.saved.clear()

    @contextlib.contextmanager
    def defer(self):
        """A few steps that must not be cut in two: a signal meanwhile takes effect after them."""
        self.deferred += 1
        try:
            yield
        finally:
            self.deferred -= 1
        if not self.deferred and self.pending is not None:
            signum, self.pending = self.pending, None
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise Stopped(signum)

    @contextlib.contextmanager
    def hold(self):
        self.held += 1
        try:
            yield
        finally:
            self.held -= 1


_SIGNALS = _Signals()


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
            self.shown = False


# --- score -----------------------------------------------------------------------------
def _call(measure, args, x, q, invalid="nan"):
    """The library call for one chunk of rows (class axis last), reduction='none'."""
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
        return fastinfo.softmax_cross_entropy(x, q, temperature=T, base=base, label_smoothing=args.label_smoothing,
                                              ignore_index=args.ignore_index, weight=args.weight_values, **kw)
    if measure == "softmax_kl":
        return fastinfo.softmax_kl_divergence(x, q, temperature=T, base=base, **kw)
    if measure == "softmax_js":
        return fastinfo.softmax_js_divergence(x, q, temperature=T, beta=args.beta, base=base, **kw)
    if measure == "softmax_tv":
        return fastinfo.softmax_total_variation(x, q, temperature=T, **kw)
    if measure == "softmax_stats":
        return _stats(args, x, q, **kw)
    if measure == "logsumexp":
        return fastinfo.logsumexp(x, **kw)
    return fastinfo.sigmoid_cross_entropy(x, q, base=base, invalid=invalid)


def stats_fields(args, labelled):
    """The fields --measure softmax_stats writes, in order: --fields, or by default the
    entropy, confidence and argmax, with labels the NLL, correct and rank, with --k the top k."""
    if args.fields is None:
        fields = ["entropy", "max_prob", "argmax"] + (["nll", "correct", "rank"] if labelled else []) \
            + (list(TOPK_FIELDS) if args.k else [])
    else:
        fields = [f.strip() for f in args.fields.split(",") if f.strip()]
    for f in fields:
        if f not in STATS_FIELDS:
            raise UsageError(f"--fields {args.fields}: {f!r} is not a field of softmax_stats (one of "
                             f"{', '.join(STATS_FIELDS)})")
    if not fields or len(set(fields)) != len(fields):
        raise UsageError(f"--fields {args.fields}: give distinct field names, comma-separated")
    need = [f for f in fields if f in LABEL_FIELDS]
    if need and not labelled:
        raise UsageError(f"--fields {need[0]} needs the labels: give --labels Y.npy (or --labels-column)")
    top = [f for f in fields if f in TOPK_FIELDS]
    if top and not args.k:
        raise UsageError(f"--fields {top[0]}: give --k N, the number of top classes")
    if args.k and not top:
        raise UsageError("--k applies to the fields topk_logprobs and topk_indices")
    return fields


def stats_dtype(fields, fdt, k):
    """The structured dtype of softmax_stats' rows: the float fields in fdt (the library's:
    float32 for float32 and 2-byte logits), argmax and rank int64, correct bool, the top k
    subarrays."""
    kinds = {"argmax": np.int64, "rank": np.int64, "correct": np.bool_, "topk_indices": (np.int64, (k,)),
             "topk_logprobs": (fdt, (k,))}
    return np.dtype([(f, *kinds[f]) if isinstance(kinds.get(f), tuple) else (f, kinds.get(f, fdt))
                     for f in fields])


def _stats(args, x, labels, invalid="nan", n_threads=None):
    """softmax_stats of a chunk as one structured array, a record a row; invalid rows raise
    InvalidRows (their log-sum-exp, always computed, tells them: an argmax or a rank has no NaN)."""
    fields = args.stats_fields
    s = fastinfo.softmax_stats(x, labels, k=args.k, temperature=args.temperature, ignore_index=args.ignore_index,
                               returns=tuple(dict.fromkeys(fields + ["logsumexp"])), invalid=invalid,
                               n_threads=n_threads)
    lse = np.asarray(s.logsumexp)
    if np.isnan(lse).any():
        raise InvalidRows(np.isnan(lse))
    out = np.empty(lse.shape, dtype=stats_dtype(fields, lse.dtype, args.k))
    for f in fields:
        out[f] = getattr(s, f)
    return out


class InvalidRows(Exception):
    """Rows of a chunk whose records cannot hold a NaN for them (softmax_stats): bad, their mask."""

    def __init__(self, bad):
        super().__init__("invalid rows")
        self.bad = bad


def _where(idx, squeeze, R=None):
    """A batch index of the whole file, in words: 'row 7' for the rows of a 2-D input; of the
    file that holds it when R is several files (a pattern)."""
    if squeeze:
        return "row 0"
    if hasattr(R, "locate"):
        path, r = R.locate(int(idx[0]))
        return f"{_where((r,) + tuple(idx[1:]), False)} of {path}"
    if len(idx) == 1:
        return f"row {idx[0]}"
    return f"batch index {tuple(int(i) for i in idx)}"


def _explain(measure, args, x, q, shared, idx, where):
    """The library's own message for the invalid row idx of a chunk, with the file's row number."""
    qj = q if q is None or shared else q[idx]
    try:
        _call(measure, args, x[idx], qj, invalid="raise")
    except (ValueError, IndexError, TypeError) as e:
        msg = str(e)
        for tail in (" in the distribution at batch index ()", " at batch index ()"):
            msg = msg.replace(tail, "")
        return f"{where}: {msg}"
    return f"{where}: invalid input (the result is NaN)"


def _open_many(spec, what, column=None, role="rows"):
    """_open, or for a pattern (``shards/*.parquet``: a name that exists nowhere but matches
    files) those files in sorted order as one operand (_stores.Concat)."""
    import glob
    from . import _stores
    if os.path.exists(spec) or not any(c in spec for c in "*?["):
        return _open(spec, what, column, role)
    paths = sorted(glob.glob(spec))
    if not paths:
        raise UsageError(f"{what} {spec}: no files match")
    if len(paths) == 1:
        return _open(paths[0], what, column, role)
    with contextlib.ExitStack() as stack:
        readers = [stack.enter_context(_open(p, what, column, role)) for p in paths]
        c = _stores.Concat(readers, what, spec)
        stack.pop_all()
    return c


def _column_of(X, what, column, role):
    """Another column of a Parquet or Arrow input (each file of a pattern), read through its
    own descriptor."""
    from ._stores import Concat, Window
    from ._tables import TableColumn
    if isinstance(X, Window):
        return Window(_column_of(X.R, what, column, role), X.start, X.start + X.shape[0])
    if isinstance(X, Concat):
        with contextlib.ExitStack() as stack:
            cols = [stack.enter_context(TableColumn(r.path, what, r.kind, column, role=role, same_as=r))
                    for r in X.readers]
            c = Concat(cols, what, f"{X.path} column {column}")
            stack.pop_all()
        return c
    return TableColumn(X.path, what, X.kind, column, role=role, same_as=X)


def _open(spec, what, column=None, role="rows"):
    """An operand: a .npy file; a column of a Parquet or Arrow IPC file (_tables); an array in
    a .npz archive, an HDF5 file or a Zarr store, ``PATH:KEY`` naming it (_stores)."""
    from . import _stores, _tables
    path, key = _stores.split(spec)
    table = _tables.sniff(path) if os.path.isfile(path) and key is None else None
    if table is not None:
        return _tables.TableColumn(path, what, table, column, role)
    if column is not None:
        opt = "--labels-column" if role == "labels" else "--column" if isinstance(column, str) else "--columns"
        raise UsageError(f"{opt} applies to Parquet and Arrow files; {what} {spec} is not one")
    kind = _stores.kind_of(path)
    if kind is not None:
        return _stores.open_array(path, key, what, kind)
    if key is None and path.lower().endswith(".csv") and os.path.isfile(path):
        return _stores.read_csv(path, what)
    if key is not None:
        raise UsageError(f"{what} {spec}: {path} is not a .npz archive, an HDF5 file or a Zarr store, so "
                         f"it holds no array {key!r}")
    return NpyReader(path, what)


def _check_labels(L, K, ignore, path, lo, squeeze, R=None):
    """Labels of one chunk in 0..K-1 or equal to ``ignore``; the mask of the ignored ones."""
    info = np.iinfo(L.dtype)
    ign = np.zeros(L.shape, dtype=bool)
    if ignore is not None and info.min <= ignore <= info.max:
        ign = L == L.dtype.type(ignore)
    if K == 0:
        bad = np.ones(L.shape, dtype=bool)
    else:
        bad = np.zeros(L.shape, dtype=bool)
        if info.min < 0:
            bad |= L < 0
        if K - 1 < info.max:
            bad |= L > L.dtype.type(K - 1)
    bad &= ~ign
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad.reshape(-1))), L.shape)
        v = int(L[idx])
        where = _where((idx[0] + lo,) + tuple(idx[1:]), squeeze, R)
        hint = ""
        if v < 0:
            hint = f"; pass --ignore-index {v} to skip the rows labelled {v}"
            if v == -100:
                hint += " (PyTorch's default ignore_index)"
        classes = f"{K} classes (0..{K - 1})" if K else "0 classes"
        raise UsageError(f"{path}: label {v} at {where} is out of range for {classes}{hint}")
    return ign


class _ExactSum:
    """The exactly rounded sum of every value added (what math.fsum gives over all of them),
    in O(1) memory: the exact sum so far is kept as a few non-overlapping float64 terms."""

    BLOCK = 1 << 16

    def __init__(self):
        self.terms = []
        self.special = 0.0          # the sum of the +-inf and NaN values

    def add(self, values):
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        finite = np.isfinite(v)
        if not finite.all():
            self.special += float(np.sum(v[~finite]))
            v = v[finite]
        for lo in range(0, v.size, self.BLOCK):
            vals = v[lo:lo + self.BLOCK].tolist() + self.terms
            terms = []
            try:
                for _ in range(80):                     # the exponent range over 53 bits: ~40 at most
                    t = math.fsum(vals + [-x for x in terms])
                    if t == 0.0:
                        break
                    terms.append(t)
            except OverflowError:                       # the sum overflows float64: +-inf
                with np.errstate(over="ignore"):
                    self.special += float(np.sum(np.array(vals)))
                terms = []
            self.terms = terms

    def merge(self, other):
        """Add everything another _ExactSum was given (a cluster task's), exactly."""
        self.add(other.terms)
        self.special += other.special

    def total(self):
        t = math.fsum(self.terms)
        return self.special + t if self.special != 0.0 or math.isnan(self.special) else t


def _validate(args):
    m = args.measure
    given = [n for n in ("q", "labels", "targets") if getattr(args, n) is not None]
    if len(given) > 1:
        raise UsageError(f"give at most one of --q, --labels, --targets (got {', '.join('--' + g for g in given)})")
    if m in NEEDS_Q and args.q is None:
        raise UsageError(f"--measure {m} needs --q Q.npy")
    if args.labels_column is not None and m not in LABELLED:
        raise UsageError("--labels-column applies to softmax_cross_entropy and softmax_stats only")
    if args.labels_column is not None and args.targets is not None:
        raise UsageError("give --labels-column or --targets, not both")
    if m == "softmax_cross_entropy" and args.labels is None and args.targets is None \
            and args.labels_column is None:
        raise UsageError("--measure softmax_cross_entropy needs --labels Y.npy, --labels-column NAME or "
                         "--targets T.npy")
    if m == "sigmoid_cross_entropy" and args.targets is None:
        raise UsageError("--measure sigmoid_cross_entropy needs --targets T.npy")
    if given and m not in NEEDS_Q + LABELLED + ("sigmoid_cross_entropy",):
        raise UsageError(f"--measure {m} takes no --{given[0]}")
    if args.q is not None and m not in NEEDS_Q:
        raise UsageError(f"--measure {m} takes no --q")
    if args.labels is not None and m not in LABELLED:
        raise UsageError("--labels applies to softmax_cross_entropy and softmax_stats only")
    if m == "softmax_stats" and args.targets is not None:
        raise UsageError("--measure softmax_stats takes integer labels (--labels), not --targets")
    if args.targets is not None and m not in ("softmax_cross_entropy", "sigmoid_cross_entropy"):
        raise UsageError("--targets applies to softmax_cross_entropy and sigmoid_cross_entropy only")
    for opt, val, default in (("--weight", args.weight, None), ("--label-smoothing", args.label_smoothing, 0.0)):
        if val != default and m != "softmax_cross_entropy":
            raise UsageError(f"{opt} applies to softmax_cross_entropy only")
    if args.ignore_index is not None and m not in LABELLED:
        raise UsageError("--ignore-index applies to softmax_cross_entropy and softmax_stats only")
    for opt, val, default, owner in (("--fields", args.fields, None, "softmax_stats"),
                                     ("--k", args.k, 0, "softmax_stats"), ("--beta", args.beta, 0.5, "softmax_js")):
        if val != default and m != owner:
            raise UsageError(f"{opt} applies to --measure {owner} only")
    if not 0.0 <= args.beta <= 1.0:
        raise UsageError(f"--beta must be a number in [0, 1], got {args.beta}")
    if args.k < 0:
        raise UsageError(f"--k must be >= 0, got {args.k}")
    if m == "softmax_stats":
        args.stats_fields = stats_fields(args, args.labels is not None or args.labels_column is not None)
        if args.reduction != "none" or args.summary or args.json or args.report:
            raise UsageError("--measure softmax_stats writes several columns a row (-o OUT); --reduction, "
                             "--summary, --json and --report apply to the one-number measures")
    if args.ignore_index is not None and args.labels is None and args.labels_column is None:
        raise UsageError("--ignore-index applies to integer labels (--labels) only")
    if not 0.0 <= args.label_smoothing <= 1.0:
        raise UsageError(f"--label-smoothing must be a number in [0, 1], got {args.label_smoothing}")
    if args.normalize and m not in PROB_MEASURES:
        raise UsageError(f"--normalize applies to {', '.join(PROB_MEASURES)} only")
    if args.temperature != 1.0 and not m.startswith("softmax_"):
        raise UsageError("--temperature applies to the softmax_* measures only")
    if args.base is not None and m in ("logsumexp", "softmax_tv", "softmax_stats"):
        raise UsageError(f"--base does not apply to {m}")
    if args.base is not None and not (args.base > 0 and args.base != 1 and math.isfinite(args.base)):
        raise UsageError(f"--base must be a positive number other than 1, got {args.base}")
    if not (args.temperature > 0 and math.isfinite(args.temperature)):
        raise UsageError(f"--temperature must be a positive number, got {args.temperature}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    if args.column is not None and args.columns is not None:
        raise UsageError("--column names a column of lists, --columns the columns of the classes: give one")
    if args.dask and args.scheduler is not None:
        raise UsageError("--dask starts a cluster on this machine, --scheduler uses one: give one of them")
    if args.workers is not None and (not args.dask or args.workers < 1):
        raise UsageError(f"--workers {args.workers}: the worker processes of --dask, at least 1")
    if args.chunk_rows is not None and args.chunk_rows < 1:
        raise UsageError(f"--chunk-rows must be >= 1, got {args.chunk_rows}")
    if args.report and not (m == "softmax_cross_entropy" and (args.labels is not None
                                                              or args.labels_column is not None)):
        raise UsageError("--report scores a classifier's logits against integer labels: --measure "
                         "softmax_cross_entropy with --labels (or --labels-column)")
    if args.reduction == "none" and args.output is None and not (args.summary or args.json or args.report):
        raise UsageError("the following argument is required: -o/--output (or --reduction mean or sum "
                         "to print one number, --summary or --json to print the summary)")
    if args.reduction != "none" and args.output is not None:
        raise UsageError(f"--reduction {args.reduction} prints its result; -o applies to --reduction none")


OUTPUTS = {".npy": "npy", ".parquet": "parquet", ".csv": "csv"}


def _check_output(out_path, force):
    if os.path.splitext(out_path)[1].lower() not in OUTPUTS:
        raise UsageError(f"output {out_path}: the output must be a .npy, .parquet or .csv file")
    if STEM in os.path.dirname(out_path):
        raise UsageError(f"output {out_path}: {STEM} stands for each input file's name, so it goes in the "
                         f"output file's name, not in a folder")
    if os.path.isdir(out_path):
        raise UsageError(f"output {out_path}: is a directory")
    if os.path.lexists(out_path) and not force:
        raise UsageError(f"output {out_path} exists (use --force to overwrite)")
    out_dir = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(out_dir):
        raise UsageError(f"output {out_path}: no such directory {out_dir}")
    return out_dir


def _not_an_input(out_path, readers):
    """Refuse an output that is one of the inputs, by its name, a symbolic or a hard link."""
    try:
        st = os.stat(out_path)
    except OSError:
        return
    for r in readers:
        if r.same_file(st):
            raise UsageError(f"output {out_path} is the {r.what} {r.path} (the same file); "
                             f"choose another output (even --force does not overwrite an input)")


def _commit(tmp, out_path, force):
    """Give the finished temporary file the output's name: atomically replacing with --force,
    otherwise only if the name is still free (another run may have taken it meanwhile)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)      # mkstemp made it private; the result is an ordinary file
    if force:
        os.replace(tmp, out_path)
        return
    exists = UsageError(f"output {out_path} exists (created while scoring; use --force to overwrite)")
    try:
        os.link(tmp, out_path)          # fails if the name is taken
    except FileExistsError:
        raise exists from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK,
                           errno.EXDEV, errno.EACCES):
            raise
        try:                            # no hard links here: reserve the name, then rename over it
            os.close(os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~umask))
        except FileExistsError:
            raise exists from None
        os.replace(tmp, out_path)
        return
    os.unlink(tmp)


def _report(args, res_dtype, stats, denom, N, started, out_path):
    """What a successful run prints on stdout: the --reduction number, or the summary (--summary:
    one line; --json: one JSON object, NaN and infinities as null). out_path: the output, or the
    list of them (one a file of the input)."""
    count, lo_val, hi_val = stats.count, stats.lo, stats.hi
    s = stats.total.total()
    n = denom.total() if denom is not None else float(count)
    mean = s / n if n else math.nan
    if not (args.summary or args.json):
        if args.reduction != "none":         # (first, before a report: what the run was asked for)
            print(res_dtype.type(mean if args.reduction == "mean" else s), flush=True)
        if not args.report:
            return
    secs = time.perf_counter() - started
    info = dict(measure=args.measure, input=args.input, rows=N, results=count, mean=mean, sum=s,
                min=lo_val if count else math.nan, max=hi_val if count else math.nan, output=out_path,
                seconds=round(secs, 6), rows_per_second=round(N / secs, 3) if secs > 0 else None)
    if args.reduction != "none":
        info["reduction"] = args.reduction
    if stats.report is not None:
        info["report"] = stats.report.fields()
    if args.json:
        def clean(d):
            return {k: clean(v) if isinstance(v, dict) else None if isinstance(v, float) and not math.isfinite(v)
                    else v for k, v in d.items()}
        print(json.dumps(clean(info)), flush=True)
        return
    def f(v):                                   # in the results' dtype, as --reduction prints
        return str(res_dtype.type(v))
    line = (f"{args.measure}: {N} rows, {count} results: mean {f(mean)}, sum {f(s)}, min {f(info['min'])}, "
            f"max {f(info['max'])}; {secs:.3g} s, {N / secs if secs > 0 else math.inf:.4g} rows/s")
    if isinstance(out_path, list):
        out_path = f"{len(out_path)} files, {args.output}"
    if args.summary or not args.report:
        print(line + (f"; written to {out_path}" if out_path else ""), flush=True)
    if stats.report is not None:
        r = info["report"]
        print(f"report: {r['labelled']} labelled rows: mean NLL {r['nll']:.6g}, perplexity {r['perplexity']:.6g}, "
              f"accuracy {r['accuracy']:.6g}, ECE ({REPORT_BINS} bins) {r['ece']:.6g}, Brier {r['brier']:.6g}"
              + (f"; written to {out_path}" if out_path and not args.summary else ""), flush=True)


def _tables_pa(out_path):
    from ._tables import _pyarrow
    return _pyarrow("output", out_path)


def _operand_column(args, path, X):
    """The column of a second Parquet or Arrow operand: as found by the command (a cluster task),
    or the input's (_same_column)."""
    col = getattr(args, "operand_column", None)
    return col if col is not None else _same_column(path, X)


def _same_column(path, X):
    """The column of a second Parquet or Arrow operand: the input's column of lists, by name."""
    if path is None or not _is_table(X):
        return None
    from . import _stores, _tables
    p, key = _stores.split(path)
    return X.column if key is None and os.path.isfile(p) and _tables.sniff(p) is not None else None


def _is_table(R):
    from ._stores import Concat, Window
    from ._tables import TableColumn
    if isinstance(R, Window):
        return _is_table(R.R)
    return isinstance(R, TableColumn) or isinstance(R, Concat) and all(_is_table(r) for r in R.readers)


def score(args):
    """Run `fastinfo score`; returns the exit status."""
    _validate(args)
    out_path = args.output
    out_dir = None if out_path is None else _check_output(out_path, args.force)
    with contextlib.ExitStack() as files:
        return _score(args, files, out_path, out_dir)


REPORT_BINS = 15               # --report's calibration error: scikit-learn's uniform bins


class _Report:
    """What --report prints of a classifier's logits and labels, gathered chunk by chunk (and
    task by task): over the labelled rows, the exact sums of the plain NLL and of the Brier
    score, the count of correct argmaxes, and the calibration error's bins (count, sum of
    confidences, sum of correct) -- the rows of softmax_stats at the run's temperature."""

    def __init__(self):
        self.n, self.correct = 0, 0
        self.nll, self.brier = _ExactSum(), _ExactSum()
        self.bins = np.zeros((3, REPORT_BINS))

    def add(self, x, labels, temperature, n_threads):
        """Rows x (class axis last) and their labels (ignored ones left out already)."""
        if labels.size == 0:
            return
        K = x.shape[-1]
        x, labels = x.reshape(-1, K), labels.reshape(-1).astype(np.int64)
        s = fastinfo.softmax_stats(x, labels, temperature=temperature, returns=("nll", "max_prob", "correct"),
                                   n_threads=n_threads)
        self.n += labels.size
        self.correct += int(np.count_nonzero(s.correct))
        self.nll.add(s.nll)
        xt = x if temperature == 1.0 else x.astype(np.float64) / temperature
        self.brier.add([fastinfo.brier_score(xt, labels, from_logits=True, n_threads=n_threads) * labels.size])
        conf = s.max_prob.astype(np.float64)
        b = np.searchsorted(np.linspace(0.0, 1.0, REPORT_BINS + 1)[1:-1], conf, side="left")
        for row, w in enumerate((None, conf, s.correct.astype(np.float64))):
            self.bins[row] += np.bincount(b, weights=w, minlength=REPORT_BINS)

    def merge(self, other):
        self.n += other.n
        self.correct += other.correct
        self.nll.merge(other.nll)
        self.brier.merge(other.brier)
        self.bins += other.bins

    def fields(self):
        """The report: mean NLL, perplexity, accuracy, ECE and Brier of the labelled rows."""
        if self.n == 0:
            return dict(labelled=0, nll=math.nan, perplexity=math.nan, accuracy=math.nan, ece=math.nan,
                        brier=math.nan)
        nll = self.nll.total() / self.n
        cnt, conf, hit = self.bins
        full = cnt > 0
        ece = float(np.sum(np.abs(hit[full] - conf[full]))) / self.n    # sum_b (n_b/N) |acc_b - conf_b|
        with np.errstate(over="ignore"):
            ppl = math.exp(nll) if nll < 709.0 else math.inf
        return dict(labelled=self.n, nll=nll, perplexity=ppl, accuracy=self.correct / self.n, ece=ece,
                    brier=self.brier.total() / self.n)


class _Stats:
    """What --reduction, --summary and --json print, gathered chunk by chunk (and task by task
    on a cluster): the exact sum of the results, the sum of the label weights the mean divides
    by, the count, min and max of the results not ignored (and with --report, its sums)."""

    def __init__(self, report=False):
        self.total, self.denom, self.count = _ExactSum(), _ExactSum(), 0
        self.lo, self.hi = math.inf, -math.inf
        self.report = _Report() if report else None

    def add(self, r, ign, qc, weights, K):
        self.total.add(r)
        kept = r if ign is None else r[~ign]
        self.count += kept.size
        if kept.size:
            self.lo, self.hi = min(self.lo, float(kept.min())), max(self.hi, float(kept.max()))
        if ign is not None:
            wy = (~ign).astype(np.float64) if weights is None or K == 0 else \
                np.where(ign, 0.0, weights[np.where(ign, 0, qc).astype(np.intp)])
            self.denom.add(wy)

    def merge(self, other):
        self.total.merge(other.total)
        self.denom.merge(other.denom)
        self.count += other.count
        self.lo, self.hi = min(self.lo, other.lo), max(self.hi, other.hi)
        if self.report is not None and other.report is not None:
            self.report.merge(other.report)


def _prepare(args, files, open_operand=None):
    """Open and check the operands of a run; what the scoring loop needs, as a namespace.
    open_operand(spec, what, column, role): how an operand is opened (a cluster task opens
    only its own rows)."""
    from types import SimpleNamespace
    opener = open_operand or _open_many
    m = args.measure
    column = args.column
    if args.columns is not None:
        from ._tables import ColumnSet
        column = ColumnSet(args.columns)
    X = files.enter_context(opener(args.input, "input", column))
    readers = [X]
    table = _is_table(X)
    counts = args.normalize if m in PROB_MEASURES else None
    _check_float(X, "input", args.input, counts)
    ax = args.axis + X.ndim if args.axis < 0 else args.axis
    if not 0 <= ax < X.ndim:
        raise UsageError(f"--axis {args.axis} is out of range for input of shape {X.shape}")
    if table and ax != X.ndim - 1:
        raise UsageError(f"--axis {args.axis}: the classes of a Parquet or Arrow input are its lists (axis -1)")
    elementwise = m == "sigmoid_cross_entropy"
    squeeze = X.ndim == 1                               # one row
    K = X.shape[ax]
    batch = X.shape[:ax] + X.shape[ax + 1:]
    b0 = None if squeeze else (0 if ax != 0 else 1)     # the row axis of the input
    N = 1 if squeeze else X.shape[b0]
    # the second operand: kind "same" (the input's shape), "ref" (one row for all), "labels"
    Q, qkind, labels_src = None, None, None
    if args.q is not None:
        Q = files.enter_context(opener(args.q, "--q", _operand_column(args, args.q, X)))
        _check_float(Q, "--q", args.q, counts)
        if Q.ndim == 1 and m in PROB_MEASURES:
            if Q.shape[0] != K:
                raise UsageError(f"--q {args.q}: shape {Q.shape} does not match the {K} classes of the input")
            qkind = "ref"
        elif Q.shape != X.shape:
            raise UsageError(f"--q {args.q}: shape {Q.shape} differs from the input's {X.shape}")
        else:
            qkind = "same"
    elif args.labels is not None or args.labels_column is not None:
        if args.labels_column is not None and args.labels is None and not table:
            raise UsageError("--labels-column names a column of a Parquet or Arrow input; the input is a "
                             ".npy file (give --labels Y.npy)")
        src = args.labels if args.labels is not None else args.input
        if args.labels is None:                        # a column of the input: its descriptor
            Q = files.enter_context(_column_of(X, "--labels", args.labels_column, "labels"))
        else:
            Q = files.enter_context(opener(src, "--labels", args.labels_column, role="labels"))
        labels_src = f"--labels {src}" if args.labels_column is None else \
            f"--labels-column {args.labels_column} of {src}"
        if Q.dtype.kind not in "iu":
            raise UsageError(f"{labels_src}: dtype {Q.dtype}; expected integers")
        if Q.shape != batch:
            raise UsageError(f"{labels_src}: shape {Q.shape}; expected {batch} (the input's "
                             f"shape without the class axis)")
        qkind = "labels"
    elif args.targets is not None:
        Q = files.enter_context(opener(args.targets, "--targets", _operand_column(args, args.targets, X)))
        _check_float(Q, "--targets", args.targets)
        if Q.shape != X.shape:
            raise UsageError(f"--targets {args.targets}: shape {Q.shape} differs from the input's {X.shape}")
        qkind = "same"
    if Q is not None:
        readers.append(Q)
        if qkind == "same" and getattr(Q, "_names", None) != getattr(X, "_names", None):
            raise UsageError(f"{Q.what} {Q.path}: its classes' columns are not the input's (in its order: "
                             f"{', '.join(Q._names or [])}; the input's: {', '.join(X._names or [])})")
        if _is_table(Q) and (X.ndim != 2 or ax != 1):
            raise UsageError(f"{Q.what} {Q.path}: a Parquet or Arrow operand is read a row a list, so the input "
                             f"must be 2-D with its classes last (the input is {X.ndim}-D, --axis {args.axis})")
    if args.weight is not None and getattr(args, "weight_values", None) is None:
        W = files.enter_context(_open(args.weight, "--weight"))
        readers.append(W)
        if W.dtype.kind not in "iuf" or W.shape != (K,):
            raise UsageError(f"--weight {args.weight}: dtype {W.dtype} shape {W.shape}; expected {K} numbers "
                             f"(one weight per class)")
        w = W.read_all().astype(np.float64)
        if not np.all(np.isfinite(w)):       # any finite weight, negative too (PyTorch's rule)
            j = int(np.argmax(~np.isfinite(w)))
            raise UsageError(f"--weight {args.weight}: weight {float(w[j])!r} of class {j}; expected finite "
                             f"numbers")
        args.weight_values = w
    elif args.weight is None:
        args.weight_values = None
    out_fmt = None if args.output is None else OUTPUTS[os.path.splitext(args.output)[1].lower()]
    keep = []
    if args.keep:
        if not table:
            raise UsageError("--keep carries columns of a Parquet or Arrow input; the input is not one")
        if out_fmt not in ("parquet", "csv"):
            raise UsageError("--keep applies to a .parquet or .csv output (-o)")
        names = [c.strip() for c in args.keep.split(",") if c.strip()]
        results = args.stats_fields if m == "softmax_stats" else [m]
        if set(names) & set(results) or len(set(names)) != len(names):
            raise UsageError(f"--keep {args.keep}: the names must differ from each other and from the "
                             f"result column{'s' if len(results) > 1 else ''} {', '.join(map(repr, results))}")
        for c in names:
            R = files.enter_context(_column_of(X, "--keep", c, "keep"))
            if out_fmt == "csv" and X.pa.types.is_nested(R.arrow_type):
                raise UsageError(f"--keep {c}: a column of {R.arrow_type} does not fit a CSV cell; write .parquet")
            keep.append(R)
    if out_fmt in ("parquet", "csv") and (X.ndim > 2 or ax != X.ndim - 1):
        raise UsageError(f"a .{out_fmt} output holds a result a row of a 2-D input with its classes last "
                         f"(the input is {X.ndim}-D, --axis {args.axis}): write .npy")
    if m == "softmax_stats" and args.k > K:
        raise UsageError(f"--k {args.k}: the input has {K} classes a row; ask for at most {K}")
    if out_fmt == "csv" and m == "softmax_stats" and args.k:
        raise UsageError("a .csv output holds numbers in its cells; the top-k fields are lists: write .parquet "
                         "or .npy")
    if out_fmt == "csv" and elementwise:
        raise UsageError("a .csv output holds one result a row; sigmoid_cross_entropy gives one an "
                         "element: write .npy or .parquet")
    row_bytes = _prod(X.shape) // max(1, N) * X.dtype.itemsize
    n_inputs = 1 if Q is None or qkind in ("ref", "labels") else 2
    chunk = args.chunk_rows or (X.piece_rows if table else max(1, CHUNK_BYTES // max(1, row_bytes * n_inputs)))
    return SimpleNamespace(
        X=X, Q=Q, qkind=qkind, labels_src=labels_src, keep=keep, readers=readers, table=table, ax=ax, b0=b0,
        K=K, N=N, squeeze=squeeze, elementwise=elementwise, out_fmt=out_fmt,
        res_dtype=_result_dtype(m, X.dtype, None if Q is None else Q.dtype, qkind) if m != "softmax_stats" else
        stats_dtype(args.stats_fields, _result_dtype(m, X.dtype, None, None), args.k),
        out_shape=X.shape if elementwise else batch, out_axis=b0 if elementwise else 0,
        qref=Q.read_all() if qkind == "ref" else None, row_bytes=row_bytes * n_inputs,
        chunk=min(chunk, max(N, 1)))


def _chunks(J, args, stats):
    """Score the rows of a prepared run a chunk at a time: (lo, hi, results, kept columns),
    the results with the class axis last; stats (a _Stats) gathers what the summary prints."""
    m, X, Q, qkind, ax, b0 = args.measure, J.X, J.Q, J.qkind, J.ax, J.b0
    summarize = args.reduction != "none" or args.summary or args.json or args.report

    def rows(R, lo, hi, move=True):
        """Rows lo:hi of an operand; move: class axis last (the library's layout)."""
        if J.squeeze:
            a = R.read(0, 0, R.shape[0]) if R.ndim else R.read_all()
            return a[None] if move else a.reshape(1)
        a = R.read(b0 if move else 0, lo, hi)
        return np.moveaxis(a, ax, -1) if move else a

    for lo in range(0, J.N, J.chunk):
        hi = min(J.N, lo + J.chunk)
        xc = rows(X, lo, hi)
        qc = J.qref if qkind == "ref" else rows(Q, lo, hi) if qkind == "same" else None
        ign = None
        if qkind == "labels":
            qc = rows(Q, lo, hi, move=False)
            ign = _check_labels(qc, J.K, args.ignore_index, J.labels_src, lo, J.squeeze, Q)
        try:
            r = np.asarray(_call(m, args, xc, qc))
            bad = np.isnan(r) if r.dtype.names is None else np.zeros(r.shape, dtype=bool)
        except InvalidRows as e:
            bad = e.bad
        except (ValueError, IndexError, TypeError) as e:    # not expected: the checks come first
            raise UsageError(f"rows {lo}..{hi - 1}: {e}") from None
        if bad.any():
            idx = np.unravel_index(int(np.argmax(bad.reshape(-1))), bad.shape)
            if J.elementwise:
                idx = idx[:-1]
            where = tuple(int(i) for i in (idx[0] + lo,) + tuple(idx[1:]))
            raise UsageError(_explain(m, args, xc, qc, qkind == "ref", idx, _where(where, J.squeeze, X)))
        if summarize:
            stats.add(r, ign, qc, args.weight_values, J.K)
        if stats.report is not None:
            keep = ... if ign is None else ~ign
            stats.report.add(xc[keep], np.asarray(qc)[keep], args.temperature, args.threads)
        yield lo, hi, r, [R.read(0, lo, hi) for R in J.keep]


class _Outputs:
    """Where the results go: the one output file, or with ``{stem}`` in its name one file a file
    of the input (``-o 'scores/{stem}.parquet'``), named after each input file. Each output is
    written into a temporary .part file beside it, in order of rows (one open at a time), and
    takes its name only when every row of the run is scored (commit); discard removes what a
    failed run wrote."""

    def __init__(self, args, J, out_path, out_dir):
        self.args, self.J, self.dir = args, J, out_dir
        self.files = []                    # (name, fd, tmp) of each output begun
        self.writer = None
        if STEM not in out_path:
            self.names, self.starts = [out_path], [0, J.N]
        else:
            self._plan_shards(out_path)
        for name in self.names:
            _not_an_input(name, J.readers)

    def begin(self):
        """Open the first output (apart from __init__: what it creates, discard removes)."""
        self._begin(0)

    def _plan_shards(self, out_path):
        from ._stores import Concat
        J, args = self.J, self.args
        if J.squeeze or J.b0 != 0:
            raise UsageError(f"output {out_path}: one output a file splits the input by rows, so its rows "
                             f"must lead")
        readers = J.X.readers if isinstance(J.X, Concat) else [J.X]
        paths = [r.path for r in readers]
        stems = [os.path.splitext(os.path.basename(_file_of(p)))[0] for p in paths]
        self.names = [out_path.replace(STEM, st) for st in stems]
        seen = {}
        for path, name in zip(paths, self.names):
            if name in seen:
                raise UsageError(f"output {out_path}: {seen[name]} and {path} would both be written to "
                                 f"{name}; give a pattern whose files have different names")
            seen[name] = path
            if os.path.lexists(name) and not args.force:
                raise UsageError(f"output {name} exists (use --force to overwrite)")
            if os.path.isdir(name):
                raise UsageError(f"output {name}: is a directory")
        self.starts = J.X.starts if isinstance(J.X, Concat) else [0, J.N]

    def _begin(self, k):
        """Open the k-th output (the ones before it are finished)."""
        J, args, name = self.J, self.args, self.names[k]
        with _SIGNALS.defer():             # a signal meanwhile would leave a file nobody knows of
            try:
                fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(name) + ".", suffix=".part",
                                           dir=self.dir)
            except OSError as e:
                error = UsageError if k == 0 else RunError      # before scoring: the folder; later: the disk
                raise error(f"output {name}: cannot create a file in {self.dir} ({e.strerror})") from None
            self.files.append([name, fd, tmp])
        n = self.starts[k + 1] - self.starts[k]
        shape = J.out_shape if len(self.names) == 1 else (n,) + tuple(J.out_shape[1:])
        if J.out_fmt == "npy":
            self.writer = NpyWriter(fd, name, J.res_dtype, shape)
        else:
            from ._tables import TableWriter
            self.writer = TableWriter(fd, name, J.out_fmt, args.measure, J.res_dtype, shape, J.keep,
                                      _tables_pa(name))

    def _finish(self):
        self.writer.finish()
        f = self.files[-1]
        fd, f[1] = f[1], None
        os.close(fd)

    def write(self, lo, hi, r, kept):
        """Rows lo:hi of the run: their results r (class axis last) and kept columns."""
        J = self.J
        if J.squeeze:
            self.writer.write_all(r)
            return
        if len(self.names) == 1:
            self._write(lo, hi, r, kept)
            return
        while lo < hi:
            k = len(self.files) - 1
            end = self.starts[k + 1]
            if lo >= end:                  # this output is whole: on to the next
                self._finish()
                self._begin(k + 1)
                continue
            b = min(hi, end)
            n = b - lo
            self._write(lo - self.starts[k], b - self.starts[k], r[:n], [c[:n] for c in kept])
            r, kept, lo = r[n:], [c[n:] for c in kept], b

    def _write(self, lo, hi, r, kept):
        J = self.J
        if J.keep:
            self.writer.write(J.out_axis, lo, hi, r, kept)
        else:
            self.writer.write(J.out_axis, lo, hi, np.moveaxis(r, -1, J.ax) if J.elementwise else r)

    def finish(self):
        """Every row is written: finish the last outputs (the empty ones at the end too)."""
        while True:
            self._finish()
            if len(self.files) == len(self.names):
                return
            self._begin(len(self.files))

    def commit(self):
        """Give every output its name. Should one of several names be taken meanwhile (without
        --force), the outputs named before it are removed again: a run leaves all or none."""
        for name, _, _ in self.files:
            _not_an_input(name, self.J.readers)
        done = []
        try:
            while self.files:
                name, _, tmp = self.files[0]
                _commit(tmp, name, self.args.force)
                done.append(self.files.pop(0)[0])
        except BaseException:
            if not self.args.force:
                for name in done:
                    with contextlib.suppress(OSError):
                        os.unlink(name)
            raise

    def discard(self):
        for name, fd, tmp in self.files:
            with contextlib.suppress(OSError):
                if fd is not None:
                    os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.files = []


STEM = "{stem}"


def _file_of(spec):
    """The file of an operand's name (PATH of PATH:KEY)."""
    from ._stores import split
    return split(spec)[0]


def _score(args, files, out_path, out_dir):
    J = _prepare(args, files)
    cluster = args.dask or args.scheduler is not None
    stats = _Stats(report=args.report)
    started = time.perf_counter()
    progress = Progress(J.N, J.row_bytes, enabled=not args.quiet and sys.stderr.isatty())
    denom = stats.denom if J.qkind == "labels" else None
    outs = None
    try:
        if out_path is not None and args.reduction == "none":
            outs = _Outputs(args, J, out_path, out_dir)
            outs.begin()
        if cluster:
            from ._cluster import scored
            pieces = files.enter_context(contextlib.closing(scored(args, J, stats)))
        else:
            pieces = _chunks(J, args, stats)
        for lo, hi, r, kept in pieces:
            if outs is not None:
                outs.write(lo, hi, r, kept)
            progress.update(hi)
        if outs is None:
            progress.close()
            _report(args, J.res_dtype, stats, denom, J.N, started, None)
            return 0
        outs.finish()
        progress.update(J.N, final=True)
        progress.close()
        # every row is scored: the summary goes out before the outputs take their names, so that a
        # closed stdout (| head) fails the run with no output left, as any other failure does
        _report(args, J.res_dtype, stats, denom, J.N, started, outs.names[0] if len(outs.names) == 1 else outs.names)
        with _SIGNALS.hold():
            outs.commit()
    finally:
        progress.close()
        if outs is not None:
            with _SIGNALS.hold():
                outs.discard()
    return 0


# --- demo ------------------------------------------------------------------------------
def demo(args):
    fastinfo.show_config()
    n, k = args.rows, args.classes
    with tempfile.TemporaryDirectory(prefix="fastinfo-demo-") as d:
        lp, yp = os.path.join(d, "logits.npy"), os.path.join(d, "labels.npy")
        print(f"\ngenerating {n} x {k} float32 classifier logits with labels in {d} ...", flush=True)
        rng = np.random.default_rng(0)
        y = rng.integers(0, k, n)
        step = max(1, (16 << 20) // (4 * max(k, 1)))
        with open(lp, "wb") as f:                         # ordinary writes: a full disk is an OSError
            np.lib.format.write_array_header_1_0(
                f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                    "shape": (n, k)})
            for lo in range(0, n, step):
                hi = min(n, lo + step)
                blk = rng.standard_normal((hi - lo, k), dtype=np.float32)
                blk *= 2.0
                blk[np.arange(hi - lo), y[lo:hi]] += 4.0      # the right class usually wins
                f.write(blk.tobytes())
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
class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (argparse prints the usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    fmt = argparse.RawDescriptionHelpFormatter
    ap = _Parser(prog="fastinfo", description="Information measures of .npy, Parquet and Arrow files: score them in bounded memory "
                 "(score), a demo workload (demo), the configuration (info).", epilog=EXIT_STATUS,
                 formatter_class=fmt)
    ap.add_argument("--version", action="version", version=f"fastinfo {fastinfo.__version__}")
    sub = ap.add_subparsers(dest="command", metavar="{score,demo,info}")
    s = sub.add_parser("score", help="score a .npy, Parquet or Arrow file in row chunks, in bounded memory",
                       description="Score INPUT in chunks of rows, writing OUT.npy (--reduction none) or "
                                   "printing the mean or sum of the rows' results.",
                       epilog=EXIT_STATUS, formatter_class=fmt)
    s.add_argument("input", metavar="INPUT", help="a .npy file; a Parquet or Arrow IPC (Feather) file with "
                   "a column of lists (one row's values a list); PATH:KEY in a .npz, HDF5 or Zarr container; "
                   "a small .csv; or a quoted pattern ('shards/*.parquet') of such files, scored as one")
    s.add_argument("--column", metavar="NAME", help="the column of lists of a Parquet or Arrow INPUT (default: "
                   "its only column of lists); a Parquet or Arrow --q or --targets is read at the same column")
    s.add_argument("--columns", metavar="SPEC", help="the classes as columns of numbers of a Parquet or Arrow "
                   "INPUT, one a class: FIRST:LAST (the columns from FIRST to LAST, in the file's order), a "
                   "pattern ('p*', in the file's order) or names separated by commas")
    s.add_argument("--keep", metavar="COLS", help="columns of a Parquet or Arrow INPUT to carry into a .parquet "
                   "or .csv output beside the result, comma-separated (e.g. an id), so each score stays "
                   "joined to its row")
    s.add_argument("--labels-column", metavar="NAME", help="integer labels from this column of INPUT (or of "
                   "--labels FILE when that is a Parquet or Arrow file) (softmax_cross_entropy)")
    s.add_argument("--measure", required=True, choices=MEASURES)
    s.add_argument("--q", metavar="Q.npy", help="second distribution (cross_entropy, kl, js) or the "
                   "student logits (softmax_kl, softmax_js, softmax_tv); same shape as INPUT, or (K,) for a "
                   "reference distribution")
    s.add_argument("--labels", metavar="Y.npy", help="integer class labels (softmax_cross_entropy, softmax_stats)")
    s.add_argument("--fields", metavar="LIST", help="softmax_stats: the columns to write, comma-separated, of "
                   + ", ".join(STATS_FIELDS) + " (default: entropy,max_prob,argmax; with --labels also "
                   "nll,correct,rank; with --k also the top k); all from one read of each row")
    s.add_argument("--k", type=int, default=0, metavar="N", help="softmax_stats: the top N classes' log-"
                   "probabilities and indices (fields topk_logprobs, topk_indices)")
    s.add_argument("--beta", type=float, default=0.5, metavar="F", help="softmax_js: the generalized "
                   "Jensen-Shannon divergence's weight of INPUT in [0, 1] (0: KL, 1: reverse KL; default 0.5)")
    s.add_argument("--targets", metavar="T.npy", help="probabilities of INPUT's shape (soft targets; "
                   "sigmoid_cross_entropy's targets)")
    s.add_argument("--ignore-index", type=int, default=None, metavar="N",
                   help="rows labelled N contribute 0 and are left out of the mean (softmax_cross_entropy "
                        "and softmax_stats with --labels; default: none, every label must be a class; "
                        "PyTorch's -100 is --ignore-index -100)")
    s.add_argument("--label-smoothing", type=float, default=0.0, metavar="F",
                   help="label smoothing in [0, 1] (softmax_cross_entropy; default 0)")
    s.add_argument("--weight", metavar="W.npy", help="K finite class weights (softmax_cross_entropy; negative allowed, as in PyTorch)")
    s.add_argument("--reduction", choices=("none", "mean", "sum"), default="none",
                   help="none (default): one result per row, written to OUT.npy; mean, sum: print one "
                        "number (no -o); the mean of softmax_cross_entropy with labels divides by the "
                        "weights of the labels not ignored, as PyTorch does")
    s.add_argument("--axis", type=int, default=-1, help="the class axis (default -1)")
    s.add_argument("--base", type=float, default=None, help="logarithm base (default: nats)")
    s.add_argument("--normalize", action="store_true", help="divide each row by its sum (probability measures)")
    s.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (softmax_* measures)")
    s.add_argument("--threads", type=int, default=None, help="threads (default: OpenMP's)")
    s.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: ~64 MB of input)")
    s.add_argument("-o", "--output", metavar="OUT", help="the result file, .npy, .parquet (pyarrow) or .csv: one "
                   "result a row, in a column named after the measure (required with --reduction none, "
                   "unless --summary or --json); {stem} in its name: one output a file of INPUT, named after it "
                   "('scores/{stem}.parquet')")
    s.add_argument("--force", action="store_true", help="overwrite OUT if it exists (atomically; never "
                   "an input)")
    s.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    s.add_argument("--summary", action="store_true", help="print a summary line on stdout when done: results, "
                   "their mean (as --reduction mean), sum, min, max, time; -o is then optional")
    s.add_argument("--json", action="store_true", help="print the summary as one JSON object (NaN and "
                   "infinities as null)")
    s.add_argument("--report", action="store_true", help="softmax_cross_entropy with labels: print a classifier's "
                   "report when done -- over the labelled rows the mean NLL, perplexity, accuracy, calibration "
                   "error (ECE, 15 uniform bins) and Brier score (with --json: its 'report' object); -o is then "
                   "optional")
    s.add_argument("--dask", action="store_true", help="score on a Dask cluster of --workers processes on this "
                   "machine (distributed, the dask extra): one task a file of a pattern, a row group of a Parquet "
                   "file or ~256 MB of rows")
    s.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes of --dask (default: "
                   "the CPUs)")
    s.add_argument("--scheduler", metavar="ADDRESS", help="score on the Dask cluster whose scheduler is at ADDRESS "
                   "(tcp://host:8786), as --dask; the workers read the input files, so they must see the same paths")
    d = sub.add_parser("demo", help="generate a classifier workload, score it, print the throughput")
    d.add_argument("--rows", type=int, default=200_000)
    d.add_argument("--classes", type=int, default=1_000)
    d.add_argument("--threads", type=int, default=None)
    sub.add_parser("info", help="the configuration (OpenMP, SIMD level, threads)")
    return ap


def _signal_name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def main(argv=None):
    """The ``fastinfo`` command; returns the exit status (see EXIT_STATUS)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        # the benchmarks need the rivals, the NumPy baseline and the result files, which live in
        # the source repository, not in an installed package: say where they are
        sys.stderr.write("fastinfo bench: the benchmarks are not installed with the package; "
                         "run them from a source checkout: python bench/run.py\n")
        return 2
    ap = _parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if args.command is None:            # bare `fastinfo`: what it can do
        ap.print_help()
        return 0
    name = f"fastinfo {args.command}"
    with _SIGNALS:
        try:
            if args.command == "score":
                return score(args)
            if args.command == "demo":
                return demo(args)
            fastinfo.show_config()
            return 0
        except UsageError as e:
            sys.stderr.write(f"{name}: error: {e}\n")
            return 2
        except RunError as e:
            sys.stderr.write(f"{name}: error: {e}\n")
            return 1
        except KeyboardInterrupt:
            sys.stderr.write(f"{name}: interrupted; no output written\n")
            return 130
        except Stopped as e:
            sys.stderr.write(f"{name}: stopped by {_signal_name(e.signum)}; no output written\n")
            return 128 + e.signum
        except BrokenPipeError:         # stdout closed early (| head): nothing more to say
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except MemoryError:
            sys.stderr.write(f"{name}: error: out of memory (try a smaller --chunk-rows); no output written\n")
            return 1
        except OSError as e:
            where = f" ({e.filename})" if getattr(e, "filename", None) else ""
            sys.stderr.write(f"{name}: error: {e.strerror or e}{where}\n")
            return 1
        except Exception as e:          # a defect, not bad input: still one line, never a traceback
            sys.stderr.write(f"{name}: internal error: {type(e).__name__}: {e}\n")
            return 1


if __name__ == "__main__":
    sys.exit(main())
