"""Columns of Parquet and Arrow IPC (Feather) files as row slabs for ``fastinfo score``.

A column of lists (``list``, ``large_list`` or ``fixed_size_list`` of floats or integers)
is an (N, K) array, one list a row; a column of integers is an (N,) array (labels). The
file is read front to back in record batches (pyarrow, the ``parquet`` extra), so memory
is bounded by a chunk of rows plus the Parquet row group being decoded, and never
memory-mapped: the reads are ordinary reads of one open descriptor, as for ``.npy``. A
Parquet list column of floats is read page by page where its pages allow (_pages.py), the
rest of a row group through pyarrow.
"""
import os
import queue
import threading

import numpy as np

from ._cli import RunError, UsageError, same_inode
from ._pages import Fallback, ListColumn

PIECE_BYTES = 4 << 20      # a record batch of about this many bytes: decoded while in cache
READ_BYTES = 4 << 20       # a Parquet column chunk is read this much at a time, not whole
DECODERS = 4               # threads decoding the row groups of a Parquet column, at most
AHEAD_BYTES = 64 << 20     # what they may decode ahead of the scoring, together
PARQUET_MAGIC = b"PAR1"
ARROW_MAGIC = b"ARROW1"


def sniff(path):
    """'parquet', 'arrow' or None (anything else: the .npy reader explains)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head[:4] == PARQUET_MAGIC:
        return "parquet"
    if head[:6] == ARROW_MAGIC:
        return "arrow"
    return None


def _pyarrow(what, path):
    try:
        import pyarrow as pa
        import pyarrow.ipc  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UsageError(f"{what} {path}: reading Parquet and Arrow files needs pyarrow: "
                         f"pip install 'fastinfo[parquet]'") from None
    return pa


class TableColumn:
    """One column of a Parquet or Arrow IPC file, read by rows: ``read(0, lo, hi)``, a view valid
    until the next read. Reads in order (each ``lo`` the previous ``hi``, the scoring loop's
    order) stream; any other ``lo`` starts decoding again at the row group holding it."""

    fortran = False

    def __init__(self, path, what, kind, column, role="rows", same_as=None):
        """role: 'rows' (a column of lists: shape (N, K)), 'labels' (integers: shape (N,)) or
        'keep' (any column, carried as Arrow arrays); same_as: another column of the same file,
        whose open descriptor this one reads (the file replaced meanwhile changes nothing)."""
        self.path, self.what, self.column, self.role = path, what, column, role
        self.src = None
        self.pa = _pyarrow(what, path)
        try:
            self.f = os.fdopen(os.dup(same_as.f.fileno()), "rb") if same_as is not None else open(path, "rb")
        except OSError as e:
            raise UsageError(f"{what} {path}: cannot read ({e.strerror})") from None
        try:
            self._open(kind)
            if same_as is not None and getattr(same_as, "_starts", None) is not None:
                self._starts = same_as._starts      # the same file: the same row groups
        except BaseException:
            if self.src is not None:
                self.src.close()
            self.f.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        if getattr(self, "src", None) is not None:
            self.src.close()
        self.f.close()

    def _short(self, row):
        return RunError(f"{self.what} {self.path}: the file ends at row {row}, before the {self.N} rows its "
                        f"metadata declares")

    def _bad(self, why):
        return UsageError(f"{self.what} {self.path}: {why}")

    def _open(self, kind):
        pa = self.pa
        name = "Parquet" if kind == "parquet" else "Arrow IPC"
        try:
            # pyarrow's own file: ordinary reads without the GIL (a Python file object would take
            # it for every read), never a memory map; self.f stays open for same_file
            self.src = pa.OSFile(_fd_path(self.f, self.path), "rb")
            if kind == "parquet":
                self.pf = pa.parquet.ParquetFile(self.src, buffer_size=READ_BYTES, pre_buffer=False)
                schema, self.N = self.pf.schema_arrow, self.pf.metadata.num_rows
            else:
                schema = pa.ipc.open_file(self.src).schema
        except (pa.ArrowException, OSError, ValueError) as e:
            raise self._bad(f"not a valid {name} file ({_first_line(e)})") from None
        self.kind = kind
        lists = [f.name for f in schema if _is_list(pa, f.type)]
        col = self.column
        if isinstance(col, ColumnSet):
            return self._open_set(schema, col, name)
        self._names = None
        if col is None and self.role == "labels":
            ints = [f.name for f in schema if pa.types.is_integer(f.type)]
            raise self._bad(f"give --labels-column: the integer columns are {', '.join(ints) or 'none'}")
        if col is None:
            if len(lists) != 1:
                listed = ", ".join(lists) if lists else "none"
                raise self._bad(f"give --column: the columns of lists are {listed}")
            col = self.column = lists[0]
        if schema.get_field_index(col) < 0:
            raise self._bad(f"no column {col!r} (the columns: {', '.join(schema.names)})")
        t = schema.field(col).type
        self._reopen([col], schema, name)
        if self.role == "keep":
            self.K, vt = None, pa.float64()     # carried as stored: only the row count matters
        elif self.role == "labels":
            if not pa.types.is_integer(t):
                raise self._bad(f"column {col!r} is {t}; expected integer labels")
            self.K, vt = None, t
        else:
            if not _is_list(pa, t):
                raise self._bad(f"column {col!r} is {t}; expected a column of lists, one row a list")
            vt = t.value_type
            self.K = t.list_size if pa.types.is_fixed_size_list(t) else None
        if not (pa.types.is_floating(vt) or pa.types.is_integer(vt)):
            raise self._bad(f"column {col!r} holds {vt}; expected numbers")
        self.dtype = self.file_dtype = np.dtype(vt.to_pandas_dtype())
        self.arrow_type = t
        self._ready()
        if self.role == "rows" and self.K is None:
            try:
                self.K = self._first_length()
            except (pa.ArrowException, OSError) as e:
                raise self._bad(f"cannot read row 0 ({_first_line(e)})") from None
        self._shape()
        if self.kind == "parquet" and self.role == "rows":
            self._pages = ListColumn.find(self.pf, self.f.fileno(), col, self.dtype, self.K)

    def _reopen(self, names, schema, name):
        """An Arrow IPC file opened again to read these columns' buffers only, not whole record
        batches; its row count."""
        if self.kind != "arrow":
            return
        pa = self.pa
        try:
            self.ipc = pa.ipc.open_file(self.src, options=pa.ipc.IpcReadOptions(
                included_fields=[schema.get_field_index(c) for c in names]))
            self.N = self.ipc.count_rows() if hasattr(self.ipc, "count_rows") else sum(
                self.ipc.get_batch(i).num_rows for i in range(self.ipc.num_record_batches))
        except (pa.ArrowException, OSError, ValueError) as e:
            raise self._bad(f"not a valid {name} file ({_first_line(e)})") from None

    def _ready(self):
        self._batches = None
        self._pending = []              # arrays of rows read but not yet handed out
        self.pos = self._first = 0      # the next row handed out; the group decoding starts at
        self._srcs = []                 # the files of the decoders beyond the first
        self._starts = self._stop = None
        self._pages = None              # a list column's pages read straight (_pages.py)

    def _open_set(self, schema, cs, name):
        """--columns: several columns of numbers, one a class, as the rows."""
        pa = self.pa
        if self.role != "rows":
            raise self._bad(f"--columns {cs.spec} names the classes' columns of the rows, not {self.role}")
        try:
            names = cs.resolve(schema.names)
        except ValueError as e:
            listed = ", ".join(schema.names[:20]) + (f", ... ({len(schema.names)} columns)" if len(schema.names) > 20
                                                     else "")
            raise self._bad(f"--columns {cs.spec}: {e} matches no column (the columns: {listed})") from None
        if len(set(names)) != len(names):
            twice = next(c for c in names if names.count(c) > 1)
            raise self._bad(f"--columns {cs.spec}: column {twice!r} is named twice")
        for c in names:
            if len(schema.get_all_field_indices(c)) > 1:
                raise self._bad(f"--columns {cs.spec}: the file has several columns named {c!r}")
        types = [schema.field(c).type for c in names]
        for c, t in zip(names, types):
            if not (pa.types.is_floating(t) or pa.types.is_integer(t)):
                raise self._bad(f"--columns {cs.spec}: column {c!r} is {t}; expected numbers")
            if t != types[0]:
                raise self._bad(f"--columns {cs.spec}: column {c!r} is {t}, column {names[0]!r} {types[0]}; the "
                                f"classes' columns need one type (cast them when writing the file)")
        self._names = names
        self._reopen(names, schema, name)
        self.K = len(names)
        self.dtype = self.file_dtype = np.dtype(types[0].to_pandas_dtype())
        self.arrow_type = types[0]
        self._ready()
        self._shape()

    def _shape(self):
        self.shape = (self.N, self.K) if self.role == "rows" else (self.N,)
        self.ndim = len(self.shape)
        # rows a piece (a record batch decoded at once): the scoring loop's default chunk, so
        # that a chunk is a view of one piece, not a copy of several
        self.piece_rows = max(1, min(PIECE_BYTES // max(1, (self.K or 1) * self.dtype.itemsize), 1 << 16))

    def _iter(self, batch_rows, first=0):
        """The column's record batches from row group (Parquet) or record batch (Arrow) ``first`` on."""
        if self.kind == "parquet":
            end = self.pf.num_row_groups if self._stop is None else self._groups_end()
            groups = range(first, end)
            return self.pf.iter_batches(batch_size=batch_rows, row_groups=groups, columns=self._columns(),
                                        use_threads=False)
        return (self.ipc.get_batch(i).select(self._columns()) for i in range(first, self.ipc.num_record_batches))

    def _columns(self):
        return self._names if self._names is not None else [self.column]

    def group_starts(self):
        """The first row of each row group (Parquet) or record batch (Arrow), and the row count
        (an Arrow file's are counted by reading its batches: once)."""
        if self._starts is None:
            if self.kind == "parquet":
                md = self.pf.metadata
                sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
            else:
                sizes = [self.ipc.get_batch(i).num_rows for i in range(self.ipc.num_record_batches)]
            self._starts = np.cumsum([0] + sizes).tolist()
        return self._starts

    def stop_at(self, stop):
        """Rows from ``stop`` on will not be read (a task's rows end there): no decoding beyond
        the row group holding row stop - 1."""
        self._stop = stop

    def _groups_end(self):
        """One past the last row group or record batch to decode."""
        starts = self.group_starts()
        if self._stop is None:
            return len(starts) - 1
        return max(0, int(np.searchsorted(starts, self._stop, side="left")))

    def _seek(self, lo):
        """Read on from row lo: decode from the start of the row group or record batch holding it,
        the rows before lo dropped a piece at a time."""
        self.close()
        self._batches, self._pending = None, []
        starts = self.group_starts()
        self._first = max(0, min(int(np.searchsorted(starts, lo, side="right")) - 1, len(starts) - 2))
        self.pos = starts[self._first] if len(starts) > 1 else 0
        if lo > self.pos:
            self._batches = self._decoders()
            while self.pos < lo:
                piece = self._batches.next()
                if piece is None:
                    raise self._short(self.pos)
                take = min(len(piece), lo - self.pos)
                if take < len(piece):
                    self._pending.append(piece[take:])
                self.pos += take

    def _first_length(self):
        """K of a column of variable lists: the first row's length (every row is checked)."""
        if self.N == 0:
            return 0
        for b in self._iter(1):
            if b.num_rows:
                a = b.column(0)
                if a.null_count and not a.is_valid()[0].as_py():
                    raise self._bad(f"column {self.column!r}: row 0 is null")
                return len(a[0].values)
        return 0

    def same_file(self, st):
        return same_inode(os.fstat(self.f.fileno()), st)

    def read_all(self):
        raise self._bad("a column of a table cannot be a reference row or weights; pass a .npy file")

    def read(self, axis, lo, hi):
        if axis != 0:
            raise AssertionError("a table column is read by rows")
        if lo != self.pos:              # not where the last read ended (a task of a cluster run)
            self._seek(lo)
        need, got, parts = hi - lo, 0, []
        if self._batches is None:
            self._batches = self._decoders()
        while got < need:
            if not self._pending:
                piece = self._batches.next()
                if piece is None:
                    raise self._short(lo + got)
                self._pending.append(piece)
            a = self._pending.pop(0)
            take = min(len(a), need - got)
            if take < len(a):
                self._pending.insert(0, a[take:])
            parts.append(a[:take])
            got += take
        self.pos = hi
        if hi == self.N or hi == self._stop:   # all read: the decoders' threads and files go
            self.close()
            self._batches = None
        if len(parts) == 1:
            return parts[0]
        if self.role == "keep":
            return self.pa.concat_arrays(parts)
        return np.concatenate(parts) if parts else np.empty((0,) + self.shape[1:], self.dtype)

    def _decoders(self):
        """The read-ahead: one thread, or for the rows of a Parquet file of several row groups
        up to DECODERS, each decoding every W-th row group through a reader of its own
        (pyarrow decodes a column on one core, slower than the kernels score it), together at
        most AHEAD_BYTES ahead."""
        # pyarrow's decoding is slower than the kernels: a decoder a core; the page reader's
        # is not (but where it decompresses Zstd): one a core but the kernels'
        W = min(DECODERS, cores()) if self._pages is None else max(1, min(DECODERS, cores() - 1))
        if self.kind == "parquet" and self.role == "rows" and W > 1:
            starts = self.group_starts()
            groups = list(range(self._first, self._groups_end()))
            W = min(W, len(groups))
            if W > 1:
                aheads = []
                # a decoder waits for the ones before it: it may run ahead by a share of AHEAD_BYTES
                depth = max(2, AHEAD_BYTES // (W * PIECE_BYTES))
                try:
                    for w in range(W):
                        src = self.pa.OSFile(_fd_path(self.f, self.path), "rb")
                        self._srcs.append(src)
                        pf = self.pa.parquet.ParquetFile(src, buffer_size=READ_BYTES, pre_buffer=False,
                                                         metadata=self.pf.metadata)
                        aheads.append(_Ahead(self._group_pieces(pf, groups[w::W], starts), depth=depth))
                except (self.pa.ArrowException, OSError) as e:
                    for a in aheads:
                        a.stop()
                    raise self._bad(f"cannot read rows from {self.pos} on ({_first_line(e)})") from None
                except BaseException:
                    for a in aheads:
                        a.stop()
                    raise
                return _Interleave(aheads)
        return _Ahead(self._pieces(self.pos, self._first))

    def _group_pieces(self, pf, groups, starts):
        """The pieces of these row groups, each group followed by GROUP_END: a list column's
        pages read straight where they allow it (_pages.py), the rest of a group through
        pyarrow."""
        pa = self.pa
        for g in groups:
            row0, skip = starts[g], 0
            if self._pages is not None:
                try:
                    for a in self._pages.pieces(self.f.fileno(), self._pages.chunks[g], starts[g + 1] - starts[g],
                                                self.piece_rows, pa):
                        row0 += len(a)
                        yield a
                    yield GROUP_END
                    continue
                except Fallback as e:
                    row0, skip = starts[g], e.rows
            try:
                for b in pf.iter_batches(batch_size=self.piece_rows, row_groups=[g], columns=self._columns(),
                                         use_threads=False):
                    a = self._batch_rows(b, row0)
                    row0 += len(a)
                    if skip:                    # rows the pages gave already
                        drop = min(skip, len(a))
                        a, skip = a[drop:], skip - drop
                        if not len(a):
                            continue
                    yield a
            except (pa.ArrowException, OSError) as e:
                raise self._bad(f"cannot read rows from {row0} on ({_first_line(e)})") from None
            if skip:                            # the pages gave rows pyarrow does not: never so
                raise self._short(row0)
            yield GROUP_END

    def _pieces(self, row0, first):
        """The rows as ndarrays, a record batch of ~PIECE_BYTES each (decoded and checked on
        the read-ahead thread: pyarrow releases the GIL while it decodes)."""
        pa = self.pa
        if self._pages is not None:
            end = self.pf.num_row_groups if self._stop is None else self._groups_end()
            for a in self._group_pieces(self.pf, range(first, end), self.group_starts()):
                if a is not GROUP_END:
                    yield a
            return
        try:
            for b in self._iter(self.piece_rows, first):
                if self._stop is not None and row0 >= self._stop:
                    return                      # the rows a task reads are all here
                a = self._batch_rows(b, row0)
                row0 += len(a)
                yield a
        except (pa.ArrowException, OSError) as e:
            raise self._bad(f"cannot read rows from {row0} on ({_first_line(e)})") from None

    def close(self):
        if self._batches is not None:
            self._batches.stop()
        for src in self._srcs:
            src.close()
        self._srcs = []

    def _batch_rows(self, b, row0):
        """A record batch's rows as an ndarray: its column, or with --columns its columns side by
        side (one class a column: a copy, from columns to rows)."""
        if self._names is None:
            return self._rows(b.column(0), row0)
        out = np.empty((b.num_rows, self.K), self.dtype)
        for j, c in enumerate(self._names):
            a = b.column(j)
            if a.null_count:
                r = row0 + int(np.argmin(a.is_valid().to_numpy(zero_copy_only=False)))
                raise self._bad(f"column {c!r}: row {r} is null")
            out[:, j] = _numbers(a)
        return out

    def _rows(self, a, row0):
        """An Arrow array of rows (lists, or integers) as an ndarray; nulls and ragged rows are
        errors naming the row in the whole file."""
        pa = self.pa
        col = self.column
        if a.null_count and self.role != "keep":
            r = row0 + int(np.argmin(a.is_valid().to_numpy(zero_copy_only=False)))
            raise self._bad(f"column {col!r}: row {r} is null")
        if self.role == "keep":
            return a
        if self.role == "labels":
            return _numbers(a)
        n, K = len(a), self.K
        # the values as a slice of the child array: a.flatten() would be the same, but its first
        # call loads pyarrow.compute, some 0.4 s
        if pa.types.is_fixed_size_list(a.type):
            v = a.values.slice(a.offset * K, n * K)
        else:
            off = _numbers(a.offsets)
            lens = np.diff(off)
            if n and not (lens == K).all():
                j = int(np.argmax(lens != K))
                raise self._bad(f"column {col!r}: row {row0 + j} has {int(lens[j])} values, row 0 has {K} "
                                f"(every row needs the same number of classes)")
            v = a.values.slice(int(off[0]), int(off[-1] - off[0])) if n else a.values.slice(0, 0)
        if v.null_count:
            j = int(np.argmin(v.is_valid().to_numpy(zero_copy_only=False)))
            raise self._bad(f"column {col!r}: row {row0 + j // max(K, 1)} holds a null value "
                            f"(class {j % max(K, 1)})")
        return _numbers(v).reshape(n, K)


def _numbers(v):
    """An Arrow array of numbers without nulls as an ndarray over its buffer: no copy, and not
    through to_numpy, whose first call in a process costs some 0.4 s (it loads pandas support)."""
    dt = np.dtype(v.type.to_pandas_dtype())
    if len(v) == 0:
        return np.empty(0, dt)
    return np.frombuffer(v.buffers()[1], dtype=dt, count=len(v), offset=v.offset * dt.itemsize)


class ColumnSet:
    """--columns SPEC: the columns that are the classes, one a class, as parts separated by
    commas, each ``FIRST:LAST`` (every column from FIRST to LAST in the file's order), a pattern
    (``p*``, in the file's order) or a name."""

    def __init__(self, spec):
        self.spec = spec

    def __str__(self):
        return self.spec

    def resolve(self, names):
        """The columns, in order; a part that matches none: ValueError naming it."""
        import fnmatch
        out = []
        for part in (p.strip() for p in self.spec.split(",")):
            if part in names:           # a name first: x[0] is that column, not a pattern
                got = [part]
            elif any(ch in part for ch in "*?["):
                got = [c for c in names if fnmatch.fnmatchcase(c, part)]
            elif ":" in part:
                first, last = part.split(":", 1)
                ok = first in names and last in names and names.index(first) <= names.index(last)
                got = names[names.index(first):names.index(last) + 1] if ok else []
            else:
                got = [part] if part in names else []
            if not got:
                raise ValueError(part)
            out += got
        return out


GROUP_END = object()


class _Interleave:
    """The pieces of several _Ahead decoders in row order: decoder k has row groups k, k+W, ...,
    each ended by GROUP_END."""

    def __init__(self, aheads):
        self.aheads, self.k = aheads, 0

    def next(self):
        while True:
            item = self.aheads[self.k].next()
            if item is GROUP_END:
                self.k = (self.k + 1) % len(self.aheads)
                continue
            return item                 # None: this decoder is done, so are the ones after it

    def stop(self):
        for a in self.aheads:           # all told first, then waited for: not one after another
            a.signal()
        for a in self.aheads:
            a.stop()


def cores():
    """The cores this process may run on (its affinity: a container's or taskset's share,
    not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _Ahead:
    """The items of an iterator, produced on a thread of its own one or two ahead of the
    consumer (decoding the next record batch while the kernels score this one); an exception
    of the iterator is raised by the consumer's next()."""

    DONE = object()

    def __init__(self, it, depth=2):
        self.q = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()
        self.t = threading.Thread(target=self._run, args=(it,), daemon=True)
        self.t.start()

    def _put(self, entry):
        """Queue an entry unless told to stop meanwhile (never blocked on a full queue that
        no one reads any more); whether it was queued."""
        while not self.stopped.is_set():
            try:
                self.q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, it):
        try:
            for item in it:
                if not self._put((item, None)):
                    return
            self._put((self.DONE, None))
        except BaseException as e:          # handed to the consumer
            self._put((None, e))

    def next(self):
        item, err = self.q.get()
        if err is not None:
            raise err
        return None if item is self.DONE else item

    def signal(self):
        """Tell the thread to stop (it ends at its next piece)."""
        self.stopped.set()
        try:
            while True:
                self.q.get_nowait()
        except queue.Empty:
            pass

    def stop(self):
        self.signal()
        self.t.join(timeout=5)


def _fd_path(f, path):
    """A path naming f's open file itself where the OS has one (Linux: /proc/self/fd), so that
    pyarrow's own reader opens the file already checked, not whatever the path names now."""
    p = f"/proc/self/fd/{f.fileno()}"
    return p if os.path.exists(p) else path


def _is_list(pa, t):
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _first_line(e):
    s = str(e).strip().splitlines()
    return s[0] if s else type(e).__name__


class TableWriter:
    """The result as a Parquet or CSV file (pyarrow), a chunk of rows at a time, written through
    the scoring loop's temporary file descriptor: the input's ``keep`` columns (Arrow arrays of
    the chunk's rows) and then the result column, named after the measure (per-element results
    of an elementwise measure: a ``fixed_size_list`` column in Parquet; records, as those of
    softmax_stats, give a column a field)."""

    def __init__(self, fd, path, fmt, name, dtype, shape, keep, pa):
        self.path, self.fmt, self.name, self.dtype, self.shape, self.pa = path, fmt, name, dtype, shape, pa
        self.keep_names = [R.column for R in keep]
        self.keep_types = [R.arrow_type for R in keep]
        self.fd = fd
        self.f = os.fdopen(os.dup(fd), "wb")
        self.w = None

    def _error(self, e):
        return RunError(f"output {self.path}: cannot write the result ({_first_line(e)}); no output written")

    def _column(self, a):
        pa = self.pa
        a = np.ascontiguousarray(a)
        return pa.array(a) if a.ndim == 1 else pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), a.shape[1])

    def _table(self, a, keep):
        a = np.asarray(a, dtype=self.dtype)
        if self.dtype.names is None:
            cols, names = [self._column(a)], [self.name]
        else:       # records (softmax_stats): a column a field, a list column for a subarray field
            names = list(self.dtype.names)
            cols = [self._column(a[f]) for f in names]
        return self.pa.table(list(keep) + cols, names=self.keep_names + names)

    def write(self, axis, lo, hi, a, keep=()):
        pa = self.pa
        t = self._table(a, keep)
        try:
            if self.w is None:
                if self.fmt == "parquet":
                    self.w = pa.parquet.ParquetWriter(self.f, t.schema)
                else:
                    import pyarrow.csv
                    self.w = pyarrow.csv.CSVWriter(self.f, t.schema)
            self.w.write_table(t)
        except (pa.ArrowException, OSError) as e:
            raise self._error(e) from None

    def write_all(self, a):
        self.write(0, 0, 1, np.asarray(a).reshape(1), ())

    def finish(self):
        pa = self.pa
        try:
            if self.w is None:                     # no rows: the header / schema alone
                self.write(0, 0, 0, np.empty((0,) + tuple(self.shape[1:]), self.dtype),
                           [pa.array([], type=t) for t in self.keep_types])
            self.w.close()
            self.f.flush()
            os.fsync(self.fd)
        except (pa.ArrowException, OSError) as e:
            raise self._error(e) from None
        finally:
            self.f.close()
