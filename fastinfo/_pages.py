"""The pages of a Parquet list column of floats, read straight: the fast path of
``fastinfo score`` over Parquet.

pyarrow decodes a ``list<float>`` column by building list offsets from the repetition and
definition levels one value at a time, some 3x slower than it reads a flat float column,
and slower than the kernels score the rows. When every row has the same length there is
nothing to build: a page's values are the rows' values, in order. This module walks a
column chunk's pages (their headers, Thrift compact protocol), checks the levels run by
run (``_core.hybrid_rows``/``hybrid_all``: no null, every row K values), and copies the
values (PLAIN, or dictionary-encoded) into row pieces; pages compressed with a codec
(Snappy, Zstd, Gzip) are decompressed through
``pyarrow.Codec``.

Anything else — another encoding, a page the checks refuse, a null, a ragged row, a short
or corrupt chunk — raises ``Fallback`` with the rows already given, and the caller reads
the rest of the row group through pyarrow, which decodes it or names the fault in its own
words. The fast path never decides an error, so it cannot report one pyarrow would not.
"""
import os

import numpy as np

from . import _core

# page types, encodings and codecs of the Parquet format (parquet.thrift)
DATA_PAGE, DICTIONARY_PAGE, DATA_PAGE_V2 = 0, 2, 3
PLAIN, PLAIN_DICTIONARY, RLE, RLE_DICTIONARY = 0, 2, 3, 8
# pyarrow's names of the codecs whose pages are read here, and their pyarrow.Codec: those
# whose streams say how long they decompress (pyarrow.Codec.decompress does not, and
# pyarrow's own reader refuses a page that decompresses to another length than its header
# says): Snappy's preamble, Gzip's trailer; Zstd's decompression fails on another length.
# Brotli and LZ4 pages are left to pyarrow.
CODECS = {"UNCOMPRESSED": None, "SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd"}
HEADER_BYTES = 256          # a page header is read this much at a time until it parses


class Fallback(Exception):
    """The page reader stops here: ``rows`` rows of the group were given."""

    def __init__(self, rows):
        super().__init__(rows)
        self.rows = rows


class _Short(Exception):
    """A Thrift struct runs past the bytes read."""


# --- Thrift compact protocol: just enough to read a PageHeader ---------------------------

def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        if c < 0x80:
            return r, i
        s += 7
        if s > 70:
            raise ValueError("varint too long")


def _zigzag(n):
    return (n >> 1) ^ -(n & 1)


def _value(b, i, t, depth):
    """A value of compact type t at b[i]: ints and nested structs are kept, the rest skipped."""
    if t in (1, 2):                     # a bool field: the type is the value
        return t == 1, i
    if t == 3:
        return b[i], i + 1
    if t in (4, 5, 6):
        v, i = _varint(b, i)
        return _zigzag(v), i
    if t == 7:
        if i + 8 > len(b):
            raise IndexError
        return None, i + 8
    if t == 8:
        n, i = _varint(b, i)
        if i + n > len(b):
            raise IndexError
        return None, i + n
    if t in (9, 10):                    # list, set: size and element type in one byte
        h = b[i]
        i += 1
        n, et = h >> 4, h & 0x0F
        if n == 15:
            n, i = _varint(b, i)
        for _ in range(n):              # every element takes a byte at least: bounded by b
            if et in (1, 2):
                if i >= len(b):
                    raise IndexError
                i += 1
            else:
                _, i = _value(b, i, et, depth + 1)
        return None, i
    if t == 11:                         # map
        n, i = _varint(b, i)
        if n:
            kv = b[i]
            i += 1
            for _ in range(n):
                _, i = _value(b, i, kv >> 4, depth + 1)
                _, i = _value(b, i, kv & 0x0F, depth + 1)
        return None, i
    if t == 12:
        return _struct(b, i, depth + 1)
    raise ValueError(f"compact type {t}")


def _struct(b, i, depth=0):
    """The fields of a struct at b[i] as {field id: (compact type, value)}, and the index past it."""
    if depth > 16:
        raise ValueError("structs nested too deep")
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
            v, i = _varint(b, i)
            fid = _zigzag(v)
        last = fid
        v, i = _value(b, i, t, depth)
        fields[fid] = (t, v)


I32, STRUCT, BOOLS = (5,), (12,), (1, 2)


def _field(fields, fid, types, default=None):
    """A field's value, checked to be of its declared type (pyarrow's reader refuses a page
    header whose field is of another: so does this one, by handing over)."""
    if fid not in fields:
        if default is None:
            raise ValueError(f"no field {fid}")
        return default
    t, v = fields[fid]
    if t not in types or (types is I32 and not -(1 << 31) <= v < 1 << 31):
        raise ValueError(f"field {fid} of type {t}")
    return (t == 1) if types is BOOLS else v


def page_header(fd, off, end):
    """The PageHeader at byte off of the file (a chunk ending at end): (fields, length)."""
    size = HEADER_BYTES
    while True:
        b = os.pread(fd, min(size, end - off), off)
        try:
            return _struct(b, 0)
        except IndexError:
            if len(b) >= end - off or size >= 1 << 24:
                raise _Short() from None
            size *= 8
        except (ValueError, RecursionError):
            raise _Short() from None


def _octets(b):
    """Bytes, or a pyarrow Buffer (whose memoryview is of signed chars), as unsigned bytes."""
    return memoryview(b).cast("B")


def _inflate(codec, body, size):
    """A page's bytes decompressed to size bytes (ValueError if they are not that long), or
    as they are without a codec."""
    if codec is None:
        return _octets(body)
    if size < 0:
        raise ValueError("a negative size")
    b = _octets(body)
    if codec.name == "snappy":
        n, _ = _varint(bytes(b[:10]), 0)
        if n != size:
            raise ValueError("Snappy length")
    elif codec.name == "gzip":
        if len(b) < 18 or int.from_bytes(b[-4:], "little") != size & 0xFFFFFFFF:
            raise ValueError("Gzip length")
    return _octets(codec.decompress(b, size))


def _leaves(t):
    """The Parquet leaf columns of an Arrow type."""
    if hasattr(t, "num_fields") and t.num_fields and not hasattr(t, "value_type"):
        return sum(_leaves(t.field(i).type) for i in range(t.num_fields))   # struct
    if hasattr(t, "key_type"):
        return _leaves(t.key_type) + _leaves(t.item_type)                  # map
    if hasattr(t, "value_type") and not hasattr(t, "index_type"):
        return _leaves(t.value_type)                                        # lists
    return 1


# --- the pages of one column chunk --------------------------------------------------------

class ListColumn:
    """How to read the leaf of a list column of one float type, or None when the fast path
    does not apply (the caller keeps to pyarrow)."""

    def __init__(self, leaf, max_def, max_rep, dtype, K):
        self.leaf, self.max_def, self.max_rep, self.dtype, self.K = leaf, max_def, max_rep, dtype, K

    @classmethod
    def find(cls, schema, arrow_schema, column, dtype, K):
        """The leaf of column (a list of float32/float64 values, nested once) in the file's
        ParquetSchema, or None."""
        if K is None or K < 1 or dtype not in (np.float32, np.float64):
            return None
        names = arrow_schema.names
        if names.count(column) != 1:
            return None
        import pyarrow.types as types
        t = arrow_schema.field(column).type
        if not ((types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t))
                and (types.is_float32(t.value_type) or types.is_float64(t.value_type))):
            return None
        leaf = sum(_leaves(arrow_schema.field(i).type) for i in range(names.index(column)))
        if leaf >= len(schema):
            return None
        c = schema.column(leaf)
        want = "FLOAT" if dtype == np.float32 else "DOUBLE"
        if (c.physical_type != want or c.max_repetition_level != 1 or c.max_definition_level < 1
                or c.max_definition_level > 255 or not c.path.startswith(column + ".")):
            return None
        return cls(leaf, c.max_definition_level, c.max_repetition_level, np.dtype(dtype), K)

    def pieces(self, fd, chunk, rows, piece_rows, pa):
        """The rows of one row group's column chunk (ColumnChunkMetaData ``chunk``, ``rows``
        rows), as (≤ piece_rows, K) arrays; Fallback(rows given) where the pages are not for
        this path."""
        given = 0
        try:
            pages = self._pages(fd, chunk, rows)
            codec = pa.Codec(CODECS[chunk.compression]) if CODECS[chunk.compression] else None
            K, dt = self.K, self.dtype
            out = np.empty(piece_rows * K, dt)
            fill = 0                    # values in out
            v0 = 0                      # values of the group before this page
            dictionary = None
            for p in pages:
                body = os.pread(fd, p["csize"], p["body"])
                if len(body) != p["csize"]:
                    raise Fallback(given)
                if p["type"] == DICTIONARY_PAGE:
                    body = _inflate(codec, body, p["usize"])
                    if p["n"] * dt.itemsize > len(body):
                        raise Fallback(given)
                    dictionary = np.frombuffer(body, dt.newbyteorder("<"), count=p["n"])
                    continue
                vals = self._values(p, body, codec, v0, dictionary)
                if vals is None:
                    raise Fallback(given)
                v0 += len(vals)
                j = 0
                while j < len(vals):
                    take = min(len(vals) - j, len(out) - fill)
                    out[fill:fill + take] = vals[j:j + take]
                    fill += take
                    j += take
                    if fill == len(out):
                        yield out.reshape(piece_rows, K)
                        given += piece_rows
                        out = np.empty(piece_rows * K, dt)
                        fill = 0
            if v0 != rows * K or fill % K:
                raise Fallback(given)
            if fill:
                yield out[:fill].reshape(fill // K, K)
        except (_Short, ValueError, KeyError, OSError, pa.ArrowException):
            raise Fallback(given) from None

    def _pages(self, fd, chunk, rows):
        """The chunk's page headers, checked to tile it and to hold rows * K values."""
        start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
        if start is None or start < 4 or chunk.compression not in CODECS:
            raise Fallback(0)
        end = start + chunk.total_compressed_size
        off, pages, n, first = start, [], 0, True
        while off < end:
            h, hl = page_header(fd, off, end)
            t, usize, csize = _field(h, 1, I32), _field(h, 2, I32), _field(h, 3, I32)
            if not (0 <= csize <= end - off - hl and usize >= 0):
                raise Fallback(0)
            p = {"type": t, "body": off + hl, "csize": csize, "usize": usize}
            if t == DICTIONARY_PAGE and first and 7 in h:
                d = _field(h, 7, STRUCT)
                if _field(d, 2, I32) not in (PLAIN, PLAIN_DICTIONARY):
                    raise Fallback(0)
                p["n"] = _field(d, 1, I32)
            elif t == DATA_PAGE and 5 in h:
                d = _field(h, 5, STRUCT)
                if _field(d, 3, I32) != RLE or _field(d, 4, I32) != RLE:
                    raise Fallback(0)
                p.update(n=_field(d, 1, I32), enc=_field(d, 2, I32))
            elif t == DATA_PAGE_V2 and 8 in h:
                d = _field(h, 8, STRUCT)
                if _field(d, 2, I32) != 0:
                    raise Fallback(0)
                p.update(n=_field(d, 1, I32), enc=_field(d, 4, I32), dl=_field(d, 5, I32), rl=_field(d, 6, I32),
                         compressed=_field(d, 7, BOOLS, True))
                # the rows that start in the page (the multiples of K among its values' indices)
                starts = -(-(n + p["n"]) // self.K) - -(-n // self.K)
                if p["dl"] < 0 or p["rl"] < 0 or _field(d, 3, I32) != starts:
                    raise Fallback(0)
            else:
                raise Fallback(0)
            if p["n"] < 0:
                raise Fallback(0)
            if t != DICTIONARY_PAGE:
                if p["enc"] not in (PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY):
                    raise Fallback(0)
                n += p["n"]
            pages.append(p)
            off += hl + csize
            first = False
        if off != end or n != rows * self.K or n != chunk.num_values:
            raise Fallback(0)
        return pages

    def _values(self, p, body, codec, v0, dictionary):
        """A data page's values after its levels are checked, or None."""
        n = p["n"]
        bwr, bwd = self.max_rep.bit_length(), self.max_def.bit_length()
        if p["type"] == DATA_PAGE:
            b = _inflate(codec, body, p["usize"])
            pos = 0
            sections = []
            for _ in range(2):          # repetition, then definition levels: a 4-byte length each
                if pos + 4 > len(b):
                    return None
                L = int.from_bytes(b[pos:pos + 4], "little")
                sections.append((pos + 4, pos + 4 + L))
                pos += 4 + L
            (r0, r1), (d0, d1) = sections
            vals = b
        else:
            rl, dl = p["rl"], p["dl"]
            if rl + dl > len(body):
                return None
            b = _octets(body)
            r0, r1, d0, d1 = 0, rl, rl, rl + dl
            vals = b[rl + dl:]
            pos = 0
            if p["compressed"]:
                vals = _inflate(codec, vals, p["usize"] - rl - dl)
        if r1 > len(b) or d1 > len(b):
            return None
        if _core.hybrid_rows(b, r0, r1, bwr, n, v0, self.K) or _core.hybrid_all(b, d0, d1, bwd, n, self.max_def):
            return None
        dt = self.dtype.newbyteorder("<")
        if p["enc"] == PLAIN:
            if pos + n * dt.itemsize > len(vals):
                return None
            return np.frombuffer(vals, dt, count=n, offset=pos)
        if dictionary is None or pos >= len(vals):
            return None
        idx = np.empty(n, np.intc)
        if _core.hybrid_indices(vals, pos + 1, len(vals), vals[pos], idx, len(dictionary)):
            return None
        return dictionary.take(idx)
