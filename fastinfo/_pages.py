"""The pages of a Parquet list column of floats, read straight: the fast path of
``fastinfo score`` over Parquet.

pyarrow decodes a ``list<float>`` column by building list offsets from the repetition and
definition levels one value at a time, some 3x slower than it reads a flat float column,
and slower than the kernels score the rows. When every row has the same length there is
nothing to build: a page's values are the rows' values, in order. This module walks a
column chunk's pages (their headers, Thrift compact protocol), checks the levels run by
run (``_core.hybrid_rows``/``hybrid_all``: no null, a row every K values), and copies the
values (PLAIN, or dictionary-encoded) into row pieces; pages compressed with Snappy or Zstd
are decompressed through ``pyarrow.Codec``.

The rule: it gives only numbers pyarrow gives for the same bytes. It reads a page only as
pyarrow's reader would (the same start of the chunk, the same run and header limits, the
same length checks), is stricter wherever that is simpler, and hands over at anything else
— another encoding or codec, an encrypted column, a null, a row of another length, a short
or corrupt chunk — by raising ``Fallback`` with the rows already given; the caller reads
the rest of the row group through pyarrow, which decodes it or names the fault in its own
words. It never reports an error itself.
"""
import collections
import os

import numpy as np

from . import _core

# page types, encodings and codecs of the Parquet format (parquet.thrift)
DATA_PAGE, DICTIONARY_PAGE, DATA_PAGE_V2 = 0, 2, 3
PLAIN, PLAIN_DICTIONARY, RLE, RLE_DICTIONARY = 0, 2, 3, 8
# the codecs whose pages are read here (the format's codec ids) and their pyarrow.Codec:
# those whose streams say how long they decompress (pyarrow.Codec.decompress does not, and
# pyarrow's own reader refuses a page that decompresses to another length than its header
# says): Snappy's preamble; Zstd's decompression fails on another length. Gzip (whose
# pages may hold several streams), Brotli and LZ4 pages are left to pyarrow.
CODECS = {0: None, 1: "snappy", 6: "zstd"}
HEADER_BYTES = 256          # a page header is read this much at a time until it parses
MAX_HEADER = 1 << 24        # ... up to this (pyarrow's limit)
# a longer footer is left to pyarrow: it is read here in Python, at ~1.3 MB/s (a file of
# 2000 row groups of 3 columns has a 0.67 MB footer, 0.5 s), and pyarrow in milliseconds
MAX_FOOTER = 1 << 18
SLICE = 1 << 20             # dictionary indices decoded this many at a time (memory bound)
LEVEL_BYTES = 16 << 10      # an uncompressed page's first bytes read for its levels
MAX_LIST = 1_000_000        # Thrift containers longer than this are refused, as pyarrow does


class Fallback(Exception):
    """The page reader stops here: ``rows`` rows of the group were given."""

    def __init__(self, rows):
        super().__init__(rows)
        self.rows = rows


class _Refuse(ValueError):
    """Not for this path (a page, a header or a chunk): hand over to pyarrow."""


# --- Thrift compact protocol: just enough to read a PageHeader ---------------------------

def _varint(b, i, most=10):
    """An unsigned LEB128 of at most ``most`` bytes at b[i] (Thrift's limit for its type)."""
    r = 0
    for k in range(most):
        c = b[i + k]
        r |= (c & 0x7F) << (7 * k)
        if c < 0x80:
            return r, i + k + 1
    raise _Refuse("varint too long")


def _zigzag(n):
    return (n >> 1) ^ -(n & 1)


_INT_BYTES = {3: 1, 4: 3, 5: 5, 6: 10}     # byte, i16, i32, i64


def _value(b, i, t, depth):
    """A value of compact type t at b[i] (bytes for a binary, a list for a list); maps (not
    in the structs read here) refused."""
    if t in (1, 2):                     # a bool field: the type is the value
        return t == 1, i
    if t == 3:
        return b[i], i + 1
    if t in (4, 5, 6):
        v, i = _varint(b, i, _INT_BYTES[t])
        return _zigzag(v), i
    if t == 7:
        if i + 8 > len(b):
            raise IndexError
        return None, i + 8
    if t == 8:
        n, i = _varint(b, i, 5)
        if i + n > len(b):
            raise IndexError
        return bytes(b[i:i + n]), i + n
    if t in (9, 10):                    # list, set: size and element type in one byte
        h = b[i]
        i += 1
        n, et = h >> 4, h & 0x0F
        if n == 15:
            n, i = _varint(b, i, 5)
        if n > MAX_LIST or depth > 16:
            raise _Refuse("a list too long or too deep")
        items = []
        for _ in range(n):              # every element takes a byte at least: bounded by b
            if et in (1, 2):            # a list's bools are a byte each
                items.append(b[i] == 1)
                i += 1
            else:
                v, i = _value(b, i, et, depth + 1)
                items.append(v)
        return items, i
    if t == 12:
        return _struct(b, i, depth + 1)
    raise _Refuse(f"compact type {t}")


def _struct(b, i, depth=0):
    """The fields of a struct at b[i] as {field id: (compact type, value)}, and the index
    past it. Field ids are Thrift's (16-bit, positive); a field given twice is refused
    (Thrift merges the two)."""
    if depth > 16:
        raise _Refuse("structs nested too deep")
    fields, last = {}, 0
    while True:
        h = b[i]
        i += 1
        if h == 0:
            return fields, i
        t, d = h & 0x0F, h >> 4
        if d:
            fid = last + d
        else:
            v, i = _varint(b, i, 3)
            fid = _zigzag(v)
        if not 0 < fid < 1 << 15 or fid in fields:
            raise _Refuse(f"field id {fid}")
        last = fid
        v, i = _value(b, i, t, depth)
        fields[fid] = (t, v)


I32, I64, BINARY, LIST, STRUCT, BOOLS = (5,), (6,), (8,), (9,), (12,), (1, 2)


def _field(fields, fid, types, default=None):
    """A field's value, checked to be of its declared type. Thrift skips a field of another
    type (and then fails if it was required); this path refuses it instead."""
    if fid not in fields:
        if default is None:
            raise _Refuse(f"no field {fid}")
        return default
    t, v = fields[fid]
    if t not in types or (types is I32 and not -(1 << 31) <= v < 1 << 31):
        raise _Refuse(f"field {fid} of type {t}")
    return (t == 1) if types is BOOLS else v


def page_header(fd, off, end):
    """The PageHeader at byte off of the file (a chunk ending at end): (fields, length).
    Read HEADER_BYTES, then 8 times as many until it parses, up to pyarrow's 16 MiB."""
    size = HEADER_BYTES
    while True:
        b = os.pread(fd, min(size, end - off), off)
        try:
            return _struct(b, 0)
        except IndexError:
            if len(b) >= end - off or size >= MAX_HEADER:
                raise _Refuse("a page header past the chunk, or longer than pyarrow reads") from None
            size = min(size * 8, MAX_HEADER)
        except RecursionError:
            raise _Refuse("a page header nested too deep") from None


def _octets(b):
    """Bytes, or a pyarrow Buffer (whose memoryview is of signed chars), as unsigned bytes."""
    return memoryview(b).cast("B")


def _inflate(codec, body, size):
    """A page's bytes decompressed to size bytes (refused if they are not that long), or as
    they are without a codec."""
    if codec is None:
        return _octets(body)
    if size < 0:
        raise _Refuse("a negative size")
    b = _octets(body)
    if codec.name == "snappy":
        if _varint(b, 0, 5)[0] != size:
            raise _Refuse("a Snappy page of another length")
    return _octets(codec.decompress(b, size))


def _read_into(fd, a, off):
    """Fill the contiguous array a with the file's bytes from off on."""
    mv, done = memoryview(a).cast("B"), 0
    while done < len(mv):
        k = os.preadv(fd, [mv[done:]], off + done)
        if k <= 0:
            raise _Refuse("the file ends inside a page")
        done += k


def _leaves(t):
    """The Parquet leaf columns of an Arrow type."""
    if hasattr(t, "storage_type"):                                          # extension types
        return _leaves(t.storage_type)
    if hasattr(t, "key_type"):
        return _leaves(t.key_type) + _leaves(t.item_type)                  # map
    if hasattr(t, "value_type") and not hasattr(t, "index_type"):
        return _leaves(t.value_type)                                        # lists
    if getattr(t, "num_fields", 0):
        return sum(_leaves(t.field(i).type) for i in range(t.num_fields))   # struct
    return 1


def footer(fd):
    """The file's FileMetaData fields as this module reads them, or None for a footer left to
    pyarrow: one longer than MAX_FOOTER, or not a FileMetaData alone (a file with encrypted
    columns and a plaintext footer has a signature after it). The page reader takes its
    chunks' offsets from here, never from pyarrow's ColumnChunkMetaData: pyarrow aborts the
    process (not raises) on column metadata it cannot build, such as an encrypted column's."""
    size = os.fstat(fd).st_size
    tail = os.pread(fd, 8, size - 8) if size >= 12 else b""
    if len(tail) != 8 or tail[4:] != b"PAR1":
        return None
    length = int.from_bytes(tail[:4], "little")
    if length > MAX_FOOTER or length + 12 > size:
        return None
    b = os.pread(fd, length, size - 8 - length)
    try:
        fm, end = _struct(b, 0)
    except (IndexError, ValueError, RecursionError):
        return None
    return fm if end == length and 8 not in fm else None       # 8: encryption_algorithm


Chunk = collections.namedtuple("Chunk", "codec num_values total_compressed_size data_page_offset "
                                        "dictionary_page_offset")


def _optional(fields, fid, types):
    return _field(fields, fid, types) if fid in fields else None


def chunks(fm, leaf, rows):
    """A Chunk for the leaf in each row group of FileMetaData fm (whose row counts pyarrow
    gave as rows), or None for a group whose chunk is left to pyarrow: encrypted, in another
    file, of another codec, or its row count not pyarrow's."""
    groups = _optional(fm, 4, LIST) or []
    if len(groups) != len(rows):
        return [None] * len(rows)
    out = []
    for rg, n in zip(groups, rows):
        try:
            cc = _field(rg, 1, LIST)[leaf]
            if _field(rg, 3, I64) != n or any(f in cc for f in (1, 8, 9)):  # file_path, crypto
                raise _Refuse("a chunk in another file, or encrypted")
            md = _field(cc, 3, STRUCT)
            codec = _field(md, 4, I32)
            if codec not in CODECS:
                raise _Refuse("another codec")
            out.append(Chunk(codec, _field(md, 5, I64), _field(md, 7, I64), _field(md, 9, I64),
                             _optional(md, 11, I64)))
        except (_Refuse, IndexError, TypeError, AttributeError):
            out.append(None)
    return out


def _v2_flag_unreliable(fm):
    """Whether the file was written by parquet-cpp before 2.0.0, whose format-2 pages say
    "not compressed" when they are (pyarrow decompresses them anyway)."""
    try:
        app, _, version = _field(fm, 6, BINARY).decode().partition(" version ")
    except (_Refuse, UnicodeDecodeError):
        return False
    if app.strip() != "parquet-cpp":
        return False
    major = version.strip().split(".")[0]
    return not (major.isdigit() and int(major) >= 2)


# --- the pages of one column chunk --------------------------------------------------------

class _Pieces:
    """Values gathered into row pieces of piece_rows rows of K: fill(n, put) has put(dst, j)
    write a page's values j, j + 1, ... into dst (a slice of the piece being filled) and yields
    each piece it completes; ``given`` counts the rows of the pieces taken."""

    def __init__(self, piece_rows, K, dt):
        self.rows, self.K, self.dt = piece_rows, K, dt
        self.out, self.at, self.given = np.empty(piece_rows * K, dt), 0, 0

    def fill(self, n, put):
        j = 0
        while j < n:
            take = min(n - j, len(self.out) - self.at)
            put(self.out[self.at:self.at + take], j)
            self.at += take
            j += take
            if self.at == len(self.out):
                yield self.out.reshape(self.rows, self.K)
                self.given += self.rows
                self.out, self.at = np.empty(len(self.out), self.dt), 0

    def rest(self):
        """The last, shorter piece (refused if it ends inside a row)."""
        if self.at % self.K:
            raise _Refuse("the pages end inside a row")
        if self.at:
            yield self.out[:self.at].reshape(self.at // self.K, self.K)


class ListColumn:
    """How to read the leaf of a list column of one float type, or None when the fast path
    does not apply (the caller keeps to pyarrow)."""

    def __init__(self, leaf, max_def, max_rep, dtype, K, chunks=(), v2_flag_unreliable=False):
        self.leaf, self.max_def, self.max_rep, self.dtype, self.K = leaf, max_def, max_rep, dtype, K
        self.chunks, self.v2_flag_unreliable = list(chunks), v2_flag_unreliable

    @classmethod
    def find(cls, pf, fd, column, dtype, K):
        """The leaf of column (a list of float32/float64 values, nested once) in ParquetFile
        pf (open on descriptor fd) and its chunks, or None."""
        import pyarrow.types as types
        if K is None or K < 1 or dtype not in (np.float32, np.float64):
            return None
        schema, arrow_schema = pf.schema, pf.schema_arrow
        names = arrow_schema.names
        # a column named "x" beside one named "x.y" would share the path prefix "x."
        if names.count(column) != 1 or any(n.startswith(column + ".") for n in names):
            return None
        t = arrow_schema.field(column).type
        if not ((types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t))
                and (types.is_float32(t.value_type) or types.is_float64(t.value_type))):
            return None
        if sum(_leaves(f.type) for f in arrow_schema) != len(schema):
            return None                 # a type whose leaves are not counted here
        leaf = sum(_leaves(arrow_schema.field(i).type) for i in range(names.index(column)))
        c = schema.column(leaf)
        want = "FLOAT" if dtype == np.float32 else "DOUBLE"
        if (c.physical_type != want or c.max_repetition_level != 1 or not 1 <= c.max_definition_level <= 255
                or not c.path.startswith(column + ".")):
            return None
        fm = footer(fd)
        if fm is None:
            return None
        rows = [pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups)]
        return cls(leaf, c.max_definition_level, c.max_repetition_level, np.dtype(dtype), K,
                   chunks(fm, leaf, rows), _v2_flag_unreliable(fm))

    def pieces(self, fd, chunk, rows, piece_rows, pa):
        """The rows of a column chunk (a Chunk, or None: left to pyarrow) of ``rows`` rows, as
        (≤ piece_rows, K) arrays; Fallback(rows given) where the pages are not for this path."""
        K, dt = self.K, self.dtype
        rows_out = _Pieces(piece_rows, K, dt)
        try:
            if chunk is None:
                raise _Refuse("a chunk left to pyarrow")
            codec = pa.Codec(CODECS[chunk.codec]) if CODECS[chunk.codec] else None
            v0 = 0                      # values of the group before this page
            dictionary = None
            for p in self._pages(fd, chunk, rows):
                if self._direct(p, codec):
                    # PLAIN values, not compressed: read from the file straight into the pieces
                    at = self._plain_levels(fd, p, v0)
                    if at + p["n"] * dt.itemsize > p["body"] + p["csize"]:
                        raise _Refuse("a short page")
                    v0 += p["n"]
                    yield from rows_out.fill(p["n"], lambda dst, j: _read_into(fd, dst, at + j * dt.itemsize))
                    continue
                body = os.pread(fd, p["csize"], p["body"])
                if len(body) != p["csize"]:
                    raise _Refuse("a page past the end of the file")
                if p["type"] == DICTIONARY_PAGE:
                    body = _inflate(codec, body, p["usize"])
                    if p["n"] * dt.itemsize > len(body):
                        raise _Refuse("a short dictionary page")
                    dictionary = np.frombuffer(body, dt.newbyteorder("<"), count=p["n"])
                    continue
                for vals in self._values(p, body, codec, v0, dictionary):
                    v0 += len(vals)
                    yield from rows_out.fill(len(vals), lambda dst, j: np.copyto(dst, vals[j:j + len(dst)]))
            if v0 != rows * K:
                raise _Refuse("the pages hold other rows than the metadata says")
            yield from rows_out.rest()
        except (ValueError, IndexError, KeyError, OverflowError, MemoryError, OSError, pa.ArrowException):
            raise Fallback(rows_out.given) from None

    def _pages(self, fd, chunk, rows):
        """The chunk's pages, one header at a time, checked to tile it and to hold rows * K
        values. The chunk starts where pyarrow's reader starts it: at the dictionary page
        where its offset is before the first data page's, else at the first data page."""
        dpo, start = chunk.dictionary_page_offset, chunk.data_page_offset
        if dpo is not None and 0 < dpo < start:
            start = dpo
        if start is None or start < 4:
            raise _Refuse("no start")
        end = start + chunk.total_compressed_size
        off, n, first = start, 0, True
        while off < end:
            h, hl = page_header(fd, off, end)
            t, usize, csize = _field(h, 1, I32), _field(h, 2, I32), _field(h, 3, I32)
            if not (0 <= csize <= end - off - hl and usize >= 0):
                raise _Refuse("page sizes")
            p = {"type": t, "body": off + hl, "csize": csize, "usize": usize}
            if t == DICTIONARY_PAGE and first and 7 in h:
                d = _field(h, 7, STRUCT)
                if _field(d, 2, I32) not in (PLAIN, PLAIN_DICTIONARY):
                    raise _Refuse("a dictionary of another encoding")
                p["n"] = _field(d, 1, I32)
            elif t == DATA_PAGE and 5 in h:
                d = _field(h, 5, STRUCT)
                if _field(d, 3, I32) != RLE or _field(d, 4, I32) != RLE:
                    raise _Refuse("levels of another encoding")
                p.update(n=_field(d, 1, I32), enc=_field(d, 2, I32))
            elif t == DATA_PAGE_V2 and 8 in h:
                d = _field(h, 8, STRUCT)
                if _field(d, 2, I32) != 0:
                    raise _Refuse("nulls")
                p.update(n=_field(d, 1, I32), enc=_field(d, 4, I32), dl=_field(d, 5, I32), rl=_field(d, 6, I32),
                         compressed=_field(d, 7, BOOLS, True))
                # the rows that start in the page (the multiples of K among its values' indices)
                starts = -(-(n + p["n"]) // self.K) - -(-n // self.K)
                if p["dl"] < 0 or p["rl"] < 0 or _field(d, 3, I32) != starts:
                    raise _Refuse("a v2 header")
                if self.v2_flag_unreliable and CODECS[chunk.codec] is not None and not p["compressed"]:
                    raise _Refuse("a format-2 page whose writer misreports its compression")
            else:
                raise _Refuse("another page type")
            if p["n"] < 0 or (t != DICTIONARY_PAGE and p["n"] == 0):
                raise _Refuse("a page of no values")
            if t != DICTIONARY_PAGE:
                if p["enc"] not in (PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY):
                    raise _Refuse("values of another encoding")
                n += p["n"]
                # never a value past the group's rows or the chunk's count (pyarrow stops there)
                if n > rows * self.K or n > chunk.num_values:
                    raise _Refuse("more values than the row group holds")
            yield p
            off += hl + csize
            first = False
        if n != rows * self.K or n != chunk.num_values:
            raise _Refuse("fewer values than the row group holds")

    @staticmethod
    def _direct(p, codec):
        """Whether a page's values can be read from the file as they are: PLAIN, not
        compressed, and the machine's byte order little-endian (Parquet's)."""
        return (p["type"] != DICTIONARY_PAGE and p["enc"] == PLAIN and np.little_endian and hasattr(os, "preadv")
                and (codec is None or (p["type"] == DATA_PAGE_V2 and not p["compressed"])))

    @staticmethod
    def _sections(p, b):
        """The repetition and definition levels' sections of a data page's bytes b (its
        decompressed body, or the first bytes of an uncompressed one) and where its values
        start: (r0, r1, d0, d1, values), or the number of bytes b must hold to tell."""
        if p["type"] == DATA_PAGE:      # format 1: each section after its 4-byte length
            pos, cut = 0, []
            for _ in range(2):
                if pos + 4 > len(b):
                    return pos + 4
                L = int.from_bytes(b[pos:pos + 4], "little")
                cut += [pos + 4, pos + 4 + L]
                pos += 4 + L
            return (*cut, pos) if pos <= len(b) else pos
        rl, dl = p["rl"], p["dl"]       # format 2: the lengths in the header
        return (0, rl, rl, rl + dl, rl + dl) if rl + dl <= len(b) else rl + dl

    def _check_levels(self, p, b, cut, v0):
        r0, r1, d0, d1, _ = cut
        n = p["n"]
        if (_core.hybrid_rows(b, r0, r1, self.max_rep.bit_length(), n, v0, self.K)
                or _core.hybrid_all(b, d0, d1, self.max_def.bit_length(), n, self.max_def)):
            raise _Refuse("levels: a null, an empty list or a row of another length")

    def _plain_levels(self, fd, p, v0):
        """Check an uncompressed page's levels, reading only their bytes; the file offset of
        its values."""
        size = LEVEL_BYTES
        while True:
            b = _octets(os.pread(fd, min(size, p["csize"]), p["body"]))
            cut = self._sections(p, b)
            if isinstance(cut, tuple):
                break
            if cut > p["csize"] or len(b) >= p["csize"]:
                raise _Refuse("a short page")
            size = cut
        self._check_levels(p, b, cut, v0)
        return p["body"] + cut[4]

    def _values(self, p, body, codec, v0, dictionary):
        """A data page's values, after its levels are checked: one array, or for a
        dictionary page arrays of at most SLICE values."""
        n = p["n"]
        if p["type"] == DATA_PAGE:
            b = _inflate(codec, body, p["usize"])
            cut = self._sections(p, b)
            if not isinstance(cut, tuple):
                raise _Refuse("a short page")
            vals, pos = b, cut[4]
        else:
            b = _octets(body)
            cut = self._sections(p, b)
            if not isinstance(cut, tuple):
                raise _Refuse("a short page")
            vals, pos = b[cut[4]:], 0
            if p["compressed"]:
                vals = _inflate(codec, vals, p["usize"] - cut[4])
        self._check_levels(p, b, cut, v0)
        dt = self.dtype.newbyteorder("<")
        if p["enc"] == PLAIN:
            if pos + n * dt.itemsize > len(vals):
                raise _Refuse("a short page")
            yield np.frombuffer(vals, dt, count=n, offset=pos)
            return
        if dictionary is None or pos >= len(vals):
            raise _Refuse("dictionary indices without a dictionary")
        resume = np.array([pos + 1, 0], np.intp)
        for first in range(0, n, SLICE):
            idx = np.empty(min(SLICE, n - first), np.intc)
            if _core.hybrid_indices(vals, pos + 1, len(vals), vals[pos], idx, len(dictionary), first, resume):
                raise _Refuse("dictionary indices")
            yield dictionary.take(idx)
