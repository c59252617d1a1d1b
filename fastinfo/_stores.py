"""Arrays inside containers for ``fastinfo score``: a member of a ``.npz`` archive
(``file.npz:key``), an HDF5 dataset (``file.h5:/group/name``, h5py: the ``hdf5`` extra)
and a Zarr array (a store folder, or ``store:path`` inside a group; the ``zarr`` extra).

Each is read in slabs of rows, never whole: an uncompressed ``.npz`` member (``np.savez``)
by the ``.npy`` reader at its offset in the archive (ordinary reads at any row); a
compressed one (``np.savez_compressed``) front to back, as the deflate stream allows; HDF5
and Zarr by slicing, which reads the chunks a slab touches.
"""
import os
import struct
import warnings
import zipfile

import numpy as np

from ._cli import NpyReader, RunError, UsageError, same_inode

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def split(spec):
    """(path, key): ``spec`` itself when it names a file or folder, else split at its last
    ':' when the part before it does (``file.npz:logits``, ``file.h5:/a/b``)."""
    if os.path.exists(spec) or ":" not in spec:
        return spec, None
    path, key = spec.rsplit(":", 1)
    return (path, key) if os.path.exists(path) else (spec, None)


def kind_of(path):
    """'npz', 'hdf5', 'zarr' or None."""
    if os.path.isdir(path):
        names = set(os.listdir(path))
        return "zarr" if names & {"zarr.json", ".zarray", ".zgroup"} else None
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head == HDF5_MAGIC:
        return "hdf5"
    if head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path):
        return "npz"
    return None


def open_array(path, key, what, kind):
    if kind == "npz":
        return _npz(path, key, what)
    if kind == "hdf5":
        return _hdf5(path, key, what)
    return _zarr(path, key, what)


def _npz(path, key, what):
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise UsageError(f"{what} {path}: not a valid .npz archive ({e})") from None
    with z:
        names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
        if key is None:
            if len(names) != 1:
                raise UsageError(f"{what} {path}: name the array as {path}:KEY (the archive holds "
                                 f"{', '.join(names) or 'no arrays'})")
            key = names[0]
        if key not in names:
            raise UsageError(f"{what} {path}: no array {key!r} (the archive holds {', '.join(names) or 'none'})")
        info = z.getinfo(key + ".npy")
        if info.flag_bits & 0x1:
            raise UsageError(f"{what} {path}:{key}: an encrypted member")
        if info.compress_type == zipfile.ZIP_STORED:
            with open(path, "rb") as f:                   # the member's data follows its local header
                f.seek(info.header_offset)
                head = f.read(30)
            if len(head) < 30 or head[:4] != b"PK\x03\x04":
                raise UsageError(f"{what} {path}: not a valid .npz archive (a bad local header)")
            n, m = struct.unpack("<HH", head[26:30])
            return NpyReader(path, what, (key, info.header_offset + 30 + n + m, info.file_size))
        return NpzStream(path, key, what)


class NpzStream:
    """A compressed .npz member, read front to back through the deflate stream: its rows must
    lead on disk (C order, the row axis first)."""

    def __init__(self, path, key, what):
        self.path, self.what = f"{path}:{key}", what
        self.z = zipfile.ZipFile(path)
        try:
            self.f = self.z.open(key + ".npy")
            fmt = np.lib.format
            try:
                version = fmt.read_magic(self.f)
                shape, fortran, dtype = (fmt.read_array_header_1_0 if version == (1, 0)
                                         else fmt.read_array_header_2_0)(self.f)
            except Exception as e:          # zlib.error, tokenize errors of a damaged header, ...
                raise UsageError(f"{what} {self.path}: not a valid .npy member ({type(e).__name__}: {e})") from None
            if dtype.hasobject or dtype.fields is not None or dtype.itemsize == 0:
                raise UsageError(f"{what} {self.path}: unsupported dtype {dtype}")
        except BaseException:
            self.z.close()
            raise
        self.shape, self.ndim, self.fortran, self.file_dtype = tuple(shape), len(shape), fortran, dtype
        self.dtype = dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype
        self.pos = 0
        self._zipfd = os.open(path, os.O_RDONLY)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()
        self.z.close()
        os.close(self._zipfd)

    def same_file(self, st):
        return same_inode(os.fstat(self._zipfd), st)

    def _take(self, nbytes):
        try:
            data = self.f.read(nbytes)
        except OSError as e:
            raise RunError(f"{self.what} {self.path}: read error ({e})") from None
        except Exception as e:              # zlib.error, BadZipFile (a bad CRC): a damaged member
            raise UsageError(f"{self.what} {self.path}: a damaged member ({type(e).__name__}: {e})") from None
        if len(data) < nbytes:
            raise RunError(f"{self.what} {self.path}: the member ends before the data its header declares")
        return data

    def read(self, axis, lo, hi):
        if self.fortran or (self.ndim and axis != 0) or lo != self.pos:
            raise UsageError(f"{self.what} {self.path}: a compressed member is read front to back, so its "
                             f"rows must lead (C order, --axis -1); save it with np.savez (uncompressed) "
                             f"or as a .npy file")
        inner = self.shape[1:]
        row = int(np.prod(inner, dtype=np.int64)) * self.file_dtype.itemsize
        a = np.frombuffer(self._take((hi - lo) * row), dtype=self.file_dtype).reshape((hi - lo,) + inner)
        self.pos = hi
        return a.astype(self.dtype) if not self.file_dtype.isnative else a

    def read_all(self):
        if self.pos:
            raise AssertionError("read_all after read")
        n = int(np.prod(self.shape, dtype=np.int64)) * self.file_dtype.itemsize
        a = np.frombuffer(self._take(n), dtype=self.file_dtype)
        a = a.reshape(self.shape[::-1]).T if self.fortran else a.reshape(self.shape)
        return a.astype(self.dtype) if not self.file_dtype.isnative else a


class ArrayReader:
    """An HDF5 dataset or a Zarr array, read in slabs by slicing."""

    fortran = False

    def __init__(self, path, label, what, arr, close, fd_path):
        self.path, self.what, self.arr, self._close = label, what, arr, close
        self.shape = tuple(int(n) for n in arr.shape)
        self.ndim = len(self.shape)
        dt = np.dtype(arr.dtype)
        if dt.hasobject or dt.fields is not None or dt.kind not in "biuf":
            close()
            raise UsageError(f"{what} {label}: unsupported dtype {dt}")
        self.file_dtype = dt
        self.dtype = dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt
        self._st = os.stat(fd_path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._close()

    def same_file(self, st):
        return same_inode(self._st, st)

    def _get(self, idx):
        try:
            a = np.asarray(self.arr[idx])
        except Exception as e:          # a damaged chunk or file: one line, not a traceback
            raise RunError(f"{self.what} {self.path}: read error ({type(e).__name__}: {e})") from None
        return a.astype(self.dtype) if a.dtype != self.dtype else a

    def read(self, axis, lo, hi):
        idx = [slice(None)] * self.ndim
        idx[axis] = slice(lo, hi)
        return self._get(tuple(idx))

    def read_all(self):
        return self._get(Ellipsis)


def _need(module, extra, what, path):
    try:
        return __import__(module)
    except ImportError:
        raise UsageError(f"{what} {path}: reading it needs {module}: pip install 'fastinfo[{extra}]'") from None


def _hdf5(path, key, what):
    h5py = _need("h5py", "hdf5", what, path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise UsageError(f"{what} {path}: not a valid HDF5 file ({e})") from None
    try:
        datasets = []
        f.visititems(lambda n, o: datasets.append("/" + n) if isinstance(o, h5py.Dataset) else None)
        if key is None:
            if len(datasets) != 1:
                raise UsageError(f"{what} {path}: name the dataset as {path}:/NAME (the file holds "
                                 f"{', '.join(datasets) or 'no datasets'})")
            key = datasets[0]
        obj = f.get(key)
        if not isinstance(obj, h5py.Dataset):
            raise UsageError(f"{what} {path}: no dataset {key!r} (the datasets: {', '.join(datasets) or 'none'})")
        return ArrayReader(path, f"{path}:{key}", what, obj, f.close, path)
    except BaseException:
        f.close()
        raise


def _zarr(path, key, what):
    zarr = _need("zarr", "zarr", what, path)
    try:
        node = zarr.open(path, mode="r") if key is None else zarr.open_group(path, mode="r")[key]
    except KeyError:
        raise UsageError(f"{what} {path}: no array {key!r} in the Zarr group") from None
    except Exception as e:
        raise UsageError(f"{what} {path}: not a valid Zarr store ({type(e).__name__}: {e})") from None
    if not hasattr(node, "shape") or not hasattr(node, "dtype"):
        names = ", ".join(sorted(getattr(node, "array_keys", lambda: [])()))
        raise UsageError(f"{what} {path}: a Zarr group; name the array as {path}:NAME (its arrays: "
                         f"{names or 'none'})")
    label = path if key is None else f"{path}:{key}"
    return ArrayReader(path, label, what, node, lambda: None, path)


CSV_LIMIT = 256 << 20       # a CSV file is parsed whole: larger ones belong in .npy or Parquet


def read_csv(path, what):
    """A small CSV file as a float64 array, a line a row (a first line that is not numbers is a
    header, skipped); every column is a class."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise UsageError(f"{what} {path}: cannot read ({e.strerror})") from None
    from ._tables import _first_line
    if size > CSV_LIMIT:
        raise UsageError(f"{what} {path}: a CSV file of {size / 2**20:.0f} MB; CSV input is parsed whole and "
                         f"limited to {CSV_LIMIT >> 20} MB: convert it to .npy or Parquet")
    try:
        with open(path, newline="") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{what} {path}: cannot read as text ({e})") from None
    def number(v):
        try:
            float(v)
            return True
        except ValueError:
            return False
    tokens = [v for v in first.strip().split(",") if v.strip()]
    skip = 1 if tokens and not any(number(v) for v in tokens) else 0      # a header: names only
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                 # "input contained no data": 0 rows
            a = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2, dtype=np.float64, encoding="utf-8")
    except (ValueError, UnicodeDecodeError) as e:
        why = _first_line(e).split("; use `usecols`")[0]
        raise UsageError(f"{what} {path}: not a CSV file of numbers ({why})") from None
    return ArrayReader(path, path, what, a, lambda: None, path)


class Concat:
    """Several operands of the same row shape and dtype as one, their rows in turn: the files a
    glob names, in sorted order. Read in order of rows; an error names the file and its row."""

    fortran = False

    def __init__(self, readers, what, spec):
        # an empty file continues any rows of its dtype (an empty list column has no row length)
        first = next((r for r in readers if r.shape[0]), readers[0])
        for r in readers:
            if r.ndim != first.ndim or r.dtype != first.dtype or r.shape[0] and r.shape[1:] != first.shape[1:]:
                raise UsageError(f"{what} {r.path}: shape {r.shape} of {r.dtype} does not continue "
                                 f"{first.path}'s rows (shape {first.shape} of {first.dtype})")
            if getattr(r, "_names", None) != getattr(first, "_names", None):     # --columns, file by file
                raise UsageError(f"{what} {r.path}: its classes' columns are {', '.join(r._names or [])}, those "
                                 f"of {first.path} {', '.join(first._names or [])}; the classes must be in one order")
        self.readers, self.what, self.path = list(readers), what, spec
        self.starts = np.cumsum([0] + [r.shape[0] for r in readers]).tolist()
        self.shape = (self.starts[-1],) + tuple(first.shape[1:])
        self.ndim, self.dtype, self.file_dtype = first.ndim, first.dtype, getattr(first, "file_dtype", first.dtype)
        for name in ("column", "kind", "piece_rows", "pa", "arrow_type"):
            if hasattr(first, name):
                setattr(self, name, getattr(first, name))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for r in self.readers:
            r.__exit__(*exc)

    def same_file(self, st):
        return any(r.same_file(st) for r in self.readers)

    def stop_at(self, stop):
        """Rows from ``stop`` on will not be read (see TableColumn.stop_at)."""
        for r, s, e in zip(self.readers, self.starts, self.starts[1:]):
            if hasattr(r, "stop_at"):
                r.stop_at(max(0, min(stop, e) - s))

    def locate(self, row):
        """(the file, the row in it) of a row of the whole."""
        j = int(np.searchsorted(self.starts, row, side="right")) - 1
        return self.readers[j].path, row - self.starts[j]

    def read(self, axis, lo, hi):
        if axis != 0:
            raise UsageError(f"{self.what} {self.path}: the files of a pattern follow each other a row at a "
                             f"time, so their rows must lead (--axis -1 with 2-D files)")
        parts = []
        for r, s, e in zip(self.readers, self.starts, self.starts[1:]):
            a, b = max(lo, s), min(hi, e)
            if a < b:
                parts.append(r.read(0, a - s, b - s))
        if len(parts) == 1:
            return parts[0]
        if getattr(self, "arrow_type", None) is not None and not isinstance(parts[0], np.ndarray):
            return self.pa.concat_arrays(parts)
        return np.concatenate(parts)

    def read_all(self):
        return np.concatenate([r.read_all() for r in self.readers])


class Window:
    """Rows start:stop of an operand as an operand of its own (the rows of one task of a
    cluster run); every other attribute is the operand's. Errors name the operand's rows."""

    def __init__(self, R, start, stop):
        self.R, self.start = R, start
        if not 0 <= start <= stop <= R.shape[0]:
            raise RunError(f"{R.what} {R.path}: has {R.shape[0]} rows, fewer than when the run began "
                           f"(rows {start}..{stop - 1} were to be read); no output written")
        self.shape = (stop - start,) + tuple(R.shape[1:])
        if hasattr(R, "stop_at"):
            R.stop_at(stop)

    def __getattr__(self, name):
        if name == "R":                 # not yet set: no recursion
            raise AttributeError(name)
        return getattr(self.R, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.R.__exit__(*exc)

    def locate(self, row):
        if hasattr(self.R, "locate"):
            return self.R.locate(self.start + row)
        return self.R.path, self.start + row

    def read(self, axis, lo, hi):
        if axis != 0:
            raise AssertionError("a window is read by rows")
        return self.R.read(0, self.start + lo, self.start + hi)
