"""The straight page reader of Parquet list columns (fastinfo/_pages.py) against pyarrow:
for every way pyarrow and polars write a list column of floats, the rows it gives are
pyarrow's bitwise, and on the layouts it is for it gives them all without handing over to
pyarrow; on damaged files it gives pyarrow's values or an error naming the file, never other
numbers, a crash or another exception.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import assert_one_line_failure, run_python

from fastinfo import _cli, _core
from fastinfo._pages import Chunk, Fallback, ListColumn
from fastinfo._tables import TableColumn

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

EXAMPLES = int(os.environ.get("FASTINFO_FUZZ_EXAMPLES", "150"))


def _values(rows, K, dtype, seed=0):
    x = 3 * np.random.default_rng(seed).standard_normal((rows, K))
    x[::7, 0] = 0.25                    # repeats: dictionary pages hold fewer values than the rows
    return x.astype(dtype)


def _column(x, kind, nullable=True):
    v = pa.array(x.reshape(-1))
    field = pa.field("item", v.type, nullable=nullable)
    if kind == "fixed":
        return pa.FixedSizeListArray.from_arrays(v, type=pa.list_(field, x.shape[1]))
    offsets = np.arange(0, x.size + 1, max(x.shape[1], 1))
    if kind == "large":
        return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), v, type=pa.large_list(field))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), v, type=pa.list_(field))


def _find(path, column, dtype, K):
    pf = pq.ParquetFile(path)
    with open(path, "rb") as f:
        return ListColumn.find(pf, f.fileno(), column, np.dtype(dtype), K)


def _straight(path, column="logits", piece_rows=37):
    """The rows by the page reader alone (each group's pieces kept up to a hand-over), and
    how many row groups it handed to pyarrow."""
    pf = pq.ParquetFile(path)
    N = pf.metadata.num_rows
    t = pf.schema_arrow.field(column).type
    K = t.list_size if pa.types.is_fixed_size_list(t) else len(pq.read_table(path, columns=[column])[column][0])
    parts, handed = [], 0
    with open(path, "rb") as f:
        lc = ListColumn.find(pf, f.fileno(), column, np.dtype(t.value_type.to_pandas_dtype()), K)
        assert lc is not None
        for g in range(pf.num_row_groups):
            rg = pf.metadata.row_group(g)
            try:
                for a in lc.pieces(f.fileno(), lc.chunks[g], rg.num_rows, piece_rows, pa):
                    parts.append(a.copy())
            except Fallback:
                handed += 1
    return (np.concatenate(parts) if parts else np.empty((0, K))), handed, N


def _via_cli_reader(path, column="logits", piece_rows=7):
    """The rows as fastinfo score reads them: pages, and pyarrow from a hand-over on (small
    pieces, so that a hand-over comes after rows of the group were given)."""
    with TableColumn(str(path), "input", "parquet", column) as c:
        c.piece_rows = piece_rows
        return c.read(0, 0, c.N)


LAYOUTS = [
    dict(compression="none"),
    dict(compression="snappy"),
    dict(compression="zstd"),
    dict(compression="gzip"),
    dict(compression="brotli"),
    dict(compression="lz4"),
    dict(compression="none", use_dictionary=False),
    dict(compression="snappy", use_dictionary=False, data_page_version="2.0"),
    dict(compression="zstd", data_page_version="2.0"),
    dict(compression="none", data_page_version="2.0", use_dictionary=False),
    dict(compression="none", data_page_size=700),                       # rows split across pages
    dict(compression="snappy", data_page_size=300, data_page_version="2.0"),
    dict(compression="none", dictionary_pagesize_limit=512),             # dictionary, then PLAIN
    dict(compression="zstd", write_page_checksum=True, write_statistics=False),
    dict(compression="none", write_page_index=True),
]


@pytest.mark.parametrize("kind", ["fixed", "list", "large"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=[",".join(f"{k}={v}" for k, v in d.items()) for d in LAYOUTS])
def test_every_layout_read_straight_equals_pyarrow(layout, kind, tmp_path):
    rows, K = 157, 23
    for dtype, nullable in ((np.float32, True), (np.float64, False)):
        x = _values(rows, K, dtype)
        path = tmp_path / f"x-{np.dtype(dtype).name}.parquet"
        pq.write_table(pa.table({"id": np.arange(rows), "logits": _column(x, kind, nullable)}), path,
                       row_group_size=60, **layout)
        got, handed, N = _straight(path)
        if layout["compression"] in ("gzip", "brotli", "lz4"):  # codecs left to pyarrow
            assert handed == 3 and len(got) == 0
        else:
            assert handed == 0, (layout, kind, dtype)   # the layouts the reader is for: no hand-over
            assert got.dtype == dtype and N == rows
            np.testing.assert_array_equal(got, x)
        np.testing.assert_array_equal(_via_cli_reader(path), x)


def test_polars_and_pandas_files_read_straight(tmp_path):
    pl = pytest.importorskip("polars")
    pd = pytest.importorskip("pandas")
    x = _values(300, 11, np.float64)
    pl.DataFrame({"logits": x.tolist(), "y": np.arange(300)}).write_parquet(tmp_path / "pl.parquet",
                                                                           row_group_size=128)
    pl.DataFrame({"logits": x.astype(np.float32)}).write_parquet(tmp_path / "pl-array.parquet",
                                                                 compression="zstd")
    pd.DataFrame({"logits": list(x)}).to_parquet(tmp_path / "pd.parquet", row_group_size=100)
    for name, want in (("pl.parquet", x), ("pl-array.parquet", x.astype(np.float32)), ("pd.parquet", x)):
        got, handed, _ = _straight(tmp_path / name)
        assert handed == 0, name
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(_via_cli_reader(tmp_path / name), want)


def test_layouts_it_is_not_for_go_to_pyarrow(tmp_path):
    """Byte-stream-split values, empty rows: handed to pyarrow, which reads the first and
    names the second; other column types are not for the page reader at all."""
    x = _values(90, 13, np.float32)
    pq.write_table(pa.table({"logits": _column(x, "list")}), tmp_path / "bss.parquet",
                   use_byte_stream_split=True, use_dictionary=False, row_group_size=40)
    got, handed, _ = _straight(tmp_path / "bss.parquet")
    assert handed == 3 and got.shape == (0, 13)
    np.testing.assert_array_equal(_via_cli_reader(tmp_path / "bss.parquet"), x)
    rows = [list(r) for r in x]
    rows[50] = []
    pq.write_table(pa.table({"logits": pa.array(rows, pa.list_(pa.float32()))}), tmp_path / "empty.parquet",
                   row_group_size=40)
    got, handed, _ = _straight(tmp_path / "empty.parquet")
    assert handed == 1
    np.testing.assert_array_equal(got, np.r_[x[:40], x[80:]])
    with pytest.raises(_cli.UsageError, match=r"empty.parquet.*row 50 has 0 values"):
        _via_cli_reader(tmp_path / "empty.parquet")
    pq.write_table(pa.table({"h": pa.array(list(x.astype(np.float16)), pa.list_(pa.float16())),
                             "s": pa.array([{"v": list(r)} for r in x])}), tmp_path / "other.parquet")
    assert _find(tmp_path / "other.parquet", "h", np.float16, 13) is None
    assert _find(tmp_path / "other.parquet", "s", np.float32, 13) is None


def test_a_null_in_the_middle_of_a_group_is_named_by_pyarrow(tmp_path):
    """The pages before the null are given straight, the rest of the group through pyarrow,
    which names the row; rows of later groups never come."""
    x = _values(400, 9, np.float32)
    mask = np.zeros(x.size, bool)
    mask[301 * 9 + 4] = True
    v = pa.array(x.reshape(-1), mask=mask)
    pq.write_table(pa.table({"logits": pa.FixedSizeListArray.from_arrays(v, 9)}), tmp_path / "n.parquet",
                   row_group_size=350, data_page_size=2000, use_dictionary=False)
    got, handed, _ = _straight(tmp_path / "n.parquet")
    given = len(got) - 50                               # of the first group, before the null's page
    assert handed == 1 and 37 <= given <= 301
    np.testing.assert_array_equal(got, np.r_[x[:given], x[350:]])
    with pytest.raises(_cli.UsageError, match=r"n.parquet.*row 301 holds a null value \(class 4\)"):
        _via_cli_reader(tmp_path / "n.parquet")


def test_level_runs_against_a_plain_decoder():
    """The hybrid decoders of _core against the format written out by hand: bit-packed groups
    and runs of every width, rows of K values, a section cut short, an index out of range."""
    rng = np.random.default_rng(3)
    for K in (1, 2, 5, 8, 9, 1000):
        reps = np.ones(3 * K, int)
        reps[::K] = 0
        for v0 in (0, K):
            for cut in (0, len(reps) // 2, len(reps)):
                b = _hybrid(reps, 1, cut)
                assert _core.hybrid_rows(b, 0, len(b), 1, len(reps), v0, K) == 0
                if K > 1:
                    bad = reps.copy()
                    bad[rng.integers(1, len(reps))] ^= 1
                    bb = _hybrid(bad, 1, cut)
                    assert _core.hybrid_rows(bb, 0, len(bb), 1, len(bad), v0, K) == -1
                    assert _core.hybrid_rows(b, 0, len(b), 1, len(reps), v0 + 1, K) == -1
                assert _core.hybrid_rows(b, 0, len(b) - 1, 1, len(reps), v0, K) == -1
    for bw in range(0, 33):
        size = 1 << bw
        idx = rng.integers(0, size, 100, dtype=np.int64)
        idx[10:40] = idx[10]
        b = _hybrid(idx, bw, 40) if bw else _hybrid(idx, bw, 100)
        out = np.empty(100, np.intc)
        assert _core.hybrid_indices(b, 0, len(b), bw, out, size) == 0
        np.testing.assert_array_equal(out, idx.astype(np.intc) if bw < 32 else idx.astype(np.uint32).view(np.intc))
        if bw:
            assert _core.hybrid_indices(b, 0, len(b), bw, out, int(idx.max())) == -1
            assert _core.hybrid_indices(b, 0, len(b) - 1, bw, out, size) == -1
        if 1 <= bw <= 8:
            top = np.full(50, size - 1)
            bt = _hybrid(top, bw, 20)
            assert _core.hybrid_all(bt, 0, len(bt), bw, 50, size - 1) == 0
            assert _core.hybrid_all(bt, 0, len(bt), bw, 50, max(size - 2, 0)) == (-1 if size > 1 else 0)
    for args in ((b"\x02\x00", 0, 3, 1, 1, 0, 1), (b"\x02\x00", -1, 2, 1, 1, 0, 1), (b"\xff" * 20, 0, 20, 1, 5, 0, 2)):
        assert _core.hybrid_rows(*args) == -1
    # a page that starts inside a row (value v0 of the group, not a multiple of K)
    for K, v0 in ((5, 3), (9, 1), (1000, 999)):
        reps = np.array([0 if (v0 + i) % K == 0 else 1 for i in range(2 * K + 3)])
        for cut in (0, 4, len(reps)):
            b = _hybrid(reps, 1, cut)
            assert _core.hybrid_rows(b, 0, len(b), 1, len(reps), v0, K) == 0
            assert _core.hybrid_rows(b, 0, len(b), 1, len(reps), 0, K) == -1
    # indices decoded a slice at a time: the same as at once
    idx = rng.integers(0, 1000, 5000)
    idx[100:3000] = 7
    b = _hybrid(idx, 10, 2000)
    for step in (1, 7, 64, 999, 5000):
        parts = []
        for first in range(0, len(idx), step):
            out = np.empty(min(step, len(idx) - first), np.intc)
            assert _core.hybrid_indices(b, 0, len(b), 10, out, 1000, first) == 0
            parts.append(out)
        np.testing.assert_array_equal(np.concatenate(parts), idx)


def test_run_headers_pyarrow_refuses_are_refused():
    """A run header of more than 5 bytes or past 32 bits, or more bit-packed groups than
    pyarrow reads (2^28 - 1), in levels or indices: -1, never values."""
    out = np.empty(8, np.intc)
    body = bytes(4)
    for header in (bytes([0x90, 0x80, 0x80, 0x80, 0x80, 0x00]),      # 6 bytes: a run of 8
                   bytes([0x86, 0x80, 0x80, 0x80, 0x10]),             # 5 bytes, past 2^32
                   _uleb((0x10000000 << 1) | 1)):                     # 2^28 groups
        b = header + body
        assert _core.hybrid_indices(b, 0, len(b), 0, out, 1) == -1
        assert _core.hybrid_all(b, 0, len(b), 1, 8, 0) == -1
    ok = _uleb(8 << 1) + b"\x00"
    assert _core.hybrid_indices(ok, 0, len(ok), 1, out, 1) == 0 and not out.any()


def _hybrid(levels, bw, packed_from):
    """levels in Parquet's hybrid encoding, written out by hand: runs of equal values up to
    packed_from, bit-packed groups of 8 after it."""
    out = bytearray()
    rle = levels[:packed_from]
    i = 0
    while i < len(rle):
        j = i
        while j < len(rle) and rle[j] == rle[i]:
            j += 1
        out += _uleb((j - i) << 1) + int(rle[i]).to_bytes((bw + 7) // 8, "little")
        i = j
    rest = list(levels[packed_from:])
    if rest:
        groups = (len(rest) + 7) // 8
        rest += [0] * (groups * 8 - len(rest))
        bits = "".join(format(v, f"0{bw}b")[::-1] for v in rest) if bw else ""
        out += _uleb((groups << 1) | 1) + bytes(int(bits[k:k + 8][::-1], 2) for k in range(0, len(bits), 8))
    return bytes(out)


def _thrift(fields):
    """A Thrift compact-protocol struct written by hand: fields (id, type, value) of i32 (5),
    binary (8) or struct (12) values, in the order given."""
    out, last = bytearray(), 0
    for fid, t, v in fields:
        if 0 < fid - last <= 15:
            out.append((fid - last) << 4 | t)
        else:
            out += bytes([t]) + _uleb(((fid << 1) ^ (fid >> 15)) & 0xFFFFFFFF)
        last = fid
        if t == 5:
            out += _uleb(((v << 1) ^ (v >> 31)) & 0xFFFFFFFF)
        elif t == 8:
            out += _uleb(len(v)) + v
        else:
            out += _thrift(v)
    return bytes(out) + b"\0"


def _uleb(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


class _Files(dict):
    def __repr__(self):                 # hypothesis prints the fixture with a failing example
        return f"<{len(self)} Parquet files>"


@pytest.fixture(scope="module")
def clean_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("pages")
    x = _values(120, 7, np.float32, seed=5)
    out = _Files()
    for name, layout in (("plain", dict(compression="none", use_dictionary=False, data_page_size=600)),
                         ("dict", dict(compression="none", dictionary_pagesize_limit=256, data_page_size=500)),
                         ("snappy-v2", dict(compression="snappy", data_page_version="2.0", data_page_size=400)),
                         ("zstd-dict", dict(compression="zstd", dictionary_pagesize_limit=256, data_page_size=500)),
                         ("zstd-v2", dict(compression="zstd", data_page_version="2.0", use_dictionary=False,
                                          data_page_size=500))):
        pq.write_table(pa.table({"logits": _column(x, "fixed")}), d / f"{name}.parquet", row_group_size=50,
                       **layout)
        raw = (d / f"{name}.parquet").read_bytes()
        # where damage tells most: the page headers and the levels after them (found with the
        # page walker on the clean file; the outcome is judged by pyarrow, not by it)
        pf = pq.ParquetFile(d / f"{name}.parquet")
        spots = []
        with open(d / f"{name}.parquet", "rb") as f:
            lc = ListColumn.find(pf, f.fileno(), "logits", np.dtype(np.float32), 7)
            for g in range(pf.num_row_groups):
                rg = pf.metadata.row_group(g)
                if lc.chunks[g] is None:        # a codec left to pyarrow
                    continue
                for page in lc._pages(f.fileno(), lc.chunks[g], rg.num_rows):
                    spots += range(max(4, page["body"] - 40), page["body"] + 24)
        out[name] = (raw, sorted(set(spots)))
    return out


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_files_give_pyarrows_values_or_an_error(clean_files, tmp_path, data):
    """Bytes of the pages damaged (the footer intact, so the file still opens): the reader
    gives the values pyarrow reads from the same bytes, or a one-line error naming the file
    when pyarrow cannot read them either; nothing else."""
    name = data.draw(st.sampled_from(sorted(clean_files)))
    raw, spots = clean_files[name]
    raw = bytearray(raw)
    footer = int.from_bytes(raw[-8:-4], "little") + 8
    spots = [i for i in spots if i < len(raw) - footer]
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.sampled_from(spots) | st.integers(4, len(raw) - footer - 1))
        raw[at] = data.draw(st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF, raw[at] ^ 1, raw[at] ^ 0x10]))
    path = tmp_path / "damaged.parquet"
    path.write_bytes(bytes(raw))
    try:
        want = pq.read_table(path)["logits"].combine_chunks()
        # pyarrow skips a page whose type it does not know, rows and all: fewer rows than the
        # metadata declares is a damaged file, which the reader names
        whole = want.null_count == 0 and want.values.null_count == 0 and len(want) == 120
        want = np.asarray(want.values).reshape(len(want), -1) if whole else None
    except (pa.ArrowException, OSError):
        want = None
    try:
        got = _via_cli_reader(path)
    except (_cli.UsageError, _cli.RunError) as e:
        assert "damaged.parquet" in str(e) and "\n" not in str(e)
        assert want is None, f"pyarrow reads the rows, the reader says: {e}"
        return
    assert want is not None, "pyarrow cannot read the rows, the reader gave numbers"
    np.testing.assert_array_equal(got, want)


def test_pages_that_split_rows(tmp_path):
    """Pages that start and end inside a row (format-1 pages may; pyarrow and polars do not
    write them), written by hand with a chunk's metadata stood in: the rows come whole, in
    order, whatever the pieces; a row start out of place hands over."""
    N, K = 6, 5
    x = _values(N, K, np.float32)
    v = x.reshape(-1)

    def page(lo, hi, reps=None):
        reps = [0 if i % K == 0 else 1 for i in range(lo, hi)] if reps is None else reps
        r, d = _hybrid(reps, 1, 3), _hybrid([3] * (hi - lo), 2, hi - lo)
        body = len(r).to_bytes(4, "little") + r + len(d).to_bytes(4, "little") + d + v[lo:hi].tobytes()
        header = _thrift([(1, 5, 0), (2, 5, len(body)), (3, 5, len(body)),
                          (5, 12, [(1, 5, hi - lo), (2, 5, 0), (3, 5, 3), (4, 5, 3)])])
        return header + body

    def read(chunk_bytes, piece_rows):
        path = tmp_path / "chunk.bin"
        path.write_bytes(b"PAR1" + chunk_bytes)
        chunk = Chunk(codec=0, num_values=N * K, total_compressed_size=len(chunk_bytes), data_page_offset=4,
                      dictionary_page_offset=None)
        lc = ListColumn(0, 3, 1, np.dtype(np.float32), K, [chunk])
        with open(path, "rb") as f:
            return [a.copy() for a in lc.pieces(f.fileno(), chunk, N, piece_rows, pa)]

    cuts = [0, 7, 18, 19, 30]
    chunk = b"".join(page(lo, hi) for lo, hi in zip(cuts, cuts[1:]))
    for piece_rows in (1, 2, 4, 6, 100):
        got = read(chunk, piece_rows)
        assert all(len(a) <= piece_rows for a in got)
        np.testing.assert_array_equal(np.concatenate(got), x)
    wrong = page(0, 7) + page(7, 18, [0] + [1] * 10) + page(18, 30)    # row 1 "starting" at value 7
    with pytest.raises(Fallback) as e:
        read(wrong, 1)
    assert e.value.rows == 1                                            # row 0 was given, whole


def test_thrift_headers_read_as_thrift_reads_them():
    """Field ids are 16-bit to Thrift (an id past 32767 would wrap onto another field), a
    field given twice is merged by Thrift, maps and long lists are not in a page header:
    each is refused here (handed over), never read otherwise than pyarrow reads it."""
    from fastinfo._pages import _Refuse, _struct
    dph = [(1, 5, 8), (2, 5, 0), (3, 5, 3), (4, 5, 3)]
    good = _thrift([(1, 5, 0), (2, 5, 40), (3, 5, 40), (5, 12, dph)])
    fields, end = _struct(good, 0)
    assert end == len(good) and fields[5][1][1] == (5, 8)
    for bad in (_thrift([(1, 5, 0), (2, 5, 40), (3, 5, 40), (5, 12, dph), (65541, 12, dph)]),   # wraps to 5
                _thrift([(1, 5, 0), (2, 5, 40), (2, 5, 41)]),                                   # twice
                bytes([0x1B, 0x01, 0x55, 0x02, 0x02, 0x00]),                                   # a map
                bytes([0x19, 0xF5]) + _uleb(2_000_000) + b"\x00" * 64,                          # a long list
                bytes([0x15]) + b"\x80" * 5 + b"\x01\x00"):                                     # a 6-byte i32
        with pytest.raises(_Refuse):
            _struct(bad, 0)


def test_the_chunk_starts_where_pyarrow_starts_it(tmp_path):
    """A dictionary page offset past the first data page's (metadata of some writers, or
    damaged) is not followed: pyarrow starts at the data page, and so does the reader (here
    it hands over, the chunk's length being another column's), never reading the other
    column's pages."""
    x = _values(40, 8, np.float32)
    pq.write_table(pa.table({"logits": _column(x, "fixed"), "b": _column(-x, "fixed")}), tmp_path / "two.parquet",
                   use_dictionary=["b.list.element"], compression="none", write_statistics=False)
    pf = pq.ParquetFile(tmp_path / "two.parquet")
    rg = pf.metadata.row_group(0)
    a, b = rg.column(0), rg.column(1)
    assert b.has_dictionary_page and b.dictionary_page_offset > a.data_page_offset
    with open(tmp_path / "two.parquet", "rb") as f:
        lc = ListColumn.find(pf, f.fileno(), "logits", np.dtype(np.float32), 8)
        # logits' chunk with b's dictionary offset and length
        moved = lc.chunks[0]._replace(dictionary_page_offset=b.dictionary_page_offset,
                                      total_compressed_size=b.total_compressed_size)
        try:
            got = np.concatenate(list(lc.pieces(f.fileno(), moved, 40, 16, pa)))
        except Fallback:
            got = x
    np.testing.assert_array_equal(got, x)


def test_a_snappy_page_that_is_not_snappy_hands_over(tmp_path):
    x = _values(50, 8, np.float32)
    pq.write_table(pa.table({"logits": _column(x, "fixed")}), tmp_path / "s.parquet", compression="snappy",
                   use_dictionary=False)
    pf = pq.ParquetFile(tmp_path / "s.parquet")
    with open(tmp_path / "s.parquet", "rb") as f:
        lc = ListColumn.find(pf, f.fileno(), "logits", np.dtype(np.float32), 8)
        first = next(iter(lc._pages(f.fileno(), lc.chunks[0], 50)))
    raw = bytearray((tmp_path / "s.parquet").read_bytes())
    raw[first["body"]:first["body"] + 10] = b"\xff" * 10
    (tmp_path / "bad.parquet").write_bytes(bytes(raw))
    with pytest.raises(_cli.UsageError, match="bad.parquet.*(?i:snappy)"):
        _via_cli_reader(tmp_path / "bad.parquet")


def test_dictionary_pages_decoded_a_slice_at_a_time(tmp_path, monkeypatch):
    """A dictionary page's indices are decoded SLICE at a time (a page of one repeated value
    may hold millions of values in a few bytes): the same rows whatever the slice."""
    import fastinfo._pages as pages
    x = _values(300, 10, np.float64)
    x[100:250] = 1.5
    pq.write_table(pa.table({"logits": _column(x, "list")}), tmp_path / "d.parquet", row_group_size=120)
    for slice_ in (1, 7, 1000):
        monkeypatch.setattr(pages, "SLICE", slice_)
        got, handed, _ = _straight(tmp_path / "d.parquet", piece_rows=11)
        assert handed == 0
        np.testing.assert_array_equal(got, x)


def test_a_column_after_an_extension_column(tmp_path):
    """Leaves are counted through extension types (their storage): the column read is the
    one named, also beside a column whose name extends it ("x.q")."""
    x = _values(12, 4, np.float32)
    st = pa.struct([("a", pa.float32()), ("b", pa.list_(pa.float32()))])
    ext = pa.ExtensionArray.from_storage(pa.opaque(st, "t", "v"),
                                         pa.array([{"a": 1.0, "b": list(-r - 50)} for r in x], st))
    for names in (("e", "x"), ("x.q", "x")):
        path = tmp_path / f"{names[0]}.parquet"
        pq.write_table(pa.table({names[0]: ext, "x": _column(x, "list")}), path)
        np.testing.assert_array_equal(_via_cli_reader(path, "x"), x)
    pf = pq.ParquetFile(tmp_path / "e.parquet")
    with open(tmp_path / "e.parquet", "rb") as f:
        assert ListColumn.find(pf, f.fileno(), "x", np.dtype(np.float32), 4).leaf == 2


def test_an_encrypted_column_is_one_line(tmp_path):
    """A column encrypted under a plaintext footer, read without keys: pyarrow aborts the
    process when its column metadata is touched, so the page reader never touches it; the
    error is pyarrow's, one line (a child process: an abort would end it, not the tests)."""
    pytest.importorskip("pyarrow.parquet.encryption")
    script = tmp_path / "enc.py"
    script.write_text(f"""
import base64, numpy as np, pyarrow as pa, pyarrow.parquet as pq, pyarrow.parquet.encryption as pe
class Kms(pe.KmsClient):
    def __init__(self, config): pe.KmsClient.__init__(self)
    def wrap_key(self, key, mk): return base64.b64encode(key)
    def unwrap_key(self, key, mk): return base64.b64decode(key)
props = pe.CryptoFactory(lambda c: Kms(c)).file_encryption_properties(pe.KmsConnectionConfig(),
    pe.EncryptionConfiguration(footer_key="f", column_keys={{"c": ["logits"]}}, plaintext_footer=True,
                               double_wrapping=False))
x = np.arange(40, dtype=np.float32).reshape(10, 4)
t = pa.table({{"id": np.arange(10), "logits": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), 4)}})
with pq.ParquetWriter({str(tmp_path / "enc.parquet")!r}, t.schema, encryption_properties=props) as w:
    w.write_table(t)
""")
    r = run_python([str(script)], cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "o.npy"
    r = run_python(["-m", "fastinfo", "score", str(tmp_path / "enc.parquet"), "--measure", "logsumexp", "-o", str(out)],
                   cwd=tmp_path, timeout=120)
    assert_one_line_failure(r, ["enc.parquet"], out)


@pytest.mark.parametrize("codec", ["snappy", "zstd"])
def test_a_page_that_decompresses_to_another_length_hands_over(codec, tmp_path):
    """A header whose uncompressed size is not the page's: pyarrow refuses the page, so the
    reader hands over (pyarrow.Codec would decompress it into the larger buffer silently)."""
    from fastinfo._pages import page_header
    x = _values(50, 8, np.float32)
    pq.write_table(pa.table({"logits": _column(x, "fixed")}), tmp_path / "c.parquet", compression=codec,
                   use_dictionary=False)
    pf = pq.ParquetFile(tmp_path / "c.parquet")
    chunk = pf.metadata.row_group(0).column(0)
    raw = bytearray((tmp_path / "c.parquet").read_bytes())
    with open(tmp_path / "c.parquet", "rb") as f:
        (h, hl) = page_header(f.fileno(), chunk.data_page_offset, chunk.data_page_offset + chunk.total_compressed_size)
    at = chunk.data_page_offset
    assert raw[at:at + 3] == bytes([0x15, 0x00, 0x15])          # type DATA_PAGE, then the uncompressed size
    old = _uleb(h[2][1] << 1)
    new = _uleb((h[2][1] + 8) << 1)
    assert raw[at + 3:at + 3 + len(old)] == old and len(new) == len(old)
    raw[at + 3:at + 3 + len(old)] = new
    (tmp_path / "bad.parquet").write_bytes(bytes(raw))
    with pytest.raises(_cli.UsageError, match="bad.parquet"):
        _via_cli_reader(tmp_path / "bad.parquet")
    got, handed, _ = _straight(tmp_path / "bad.parquet")
    assert handed == 1 and len(got) == 0


def test_chunks_are_taken_from_the_footer_and_refused_where_pyarrow_would_not_read_them(tmp_path):
    """The chunks' offsets come from the footer as read here (pyarrow aborts the process on
    column metadata it cannot build): a chunk marked encrypted, in another file, of a codec
    left to pyarrow or unknown, or in a row group whose row count is not pyarrow's is left
    to pyarrow; the others are as pyarrow's metadata says."""
    from fastinfo._pages import chunks, footer
    x = _values(90, 6, np.float32)
    pq.write_table(pa.table({"id": np.arange(90), "logits": _column(x, "fixed")}), tmp_path / "f.parquet",
                   row_group_size=40, compression="snappy")
    pf = pq.ParquetFile(tmp_path / "f.parquet")
    with open(tmp_path / "f.parquet", "rb") as f:
        fm = footer(f.fileno())
    rows = [40, 40, 10]
    got = chunks(fm, 1, rows)
    for g, c in enumerate(got):
        m = pf.metadata.row_group(g).column(1)
        assert c == (1, m.num_values, m.total_compressed_size, m.data_page_offset, m.dictionary_page_offset)
    assert chunks(fm, 1, [40, 40, 11])[2] is None and chunks(fm, 1, [40, 40])[0] is None

    def edited(group, edit):
        import copy
        fm2 = copy.deepcopy(fm)
        cc = fm2[4][1][group][1][1][1]
        edit(cc)
        return chunks(fm2, 1, rows)

    for edit in (lambda cc: cc.__setitem__(8, (12, {})),                      # crypto_metadata
                 lambda cc: cc.__setitem__(9, (8, b"\0")),                    # encrypted_column_metadata
                 lambda cc: cc.__setitem__(1, (8, b"other.parquet")),          # file_path
                 lambda cc: cc[3][1].__setitem__(4, (5, 99)),                  # an unknown codec
                 lambda cc: cc[3][1].__setitem__(4, (5, 2)),                   # Gzip
                 lambda cc: cc[3][1].pop(9)):                                  # no data_page_offset
        c = edited(1, edit)
        assert c[1] is None and c[0] == got[0] and c[2] == got[2]


def test_values_past_the_row_group_are_never_given(tmp_path):
    """Pages holding more values than the row group's rows or the chunk's count: refused
    before those values are given (pyarrow stops at the count), the rows given all the
    group's; fewer values: refused at the end, the rows given ones pyarrow gives too."""
    N, K = 6, 5
    x = _values(N, K, np.float32)
    v = x.reshape(-1)

    def page(lo, hi):
        reps = [0 if i % K == 0 else 1 for i in range(lo, hi)]
        r, d = _hybrid(reps, 1, 3), _hybrid([3] * (hi - lo), 2, hi - lo)
        body = len(r).to_bytes(4, "little") + r + len(d).to_bytes(4, "little") + d + v[lo:hi].tobytes()
        return _thrift([(1, 5, 0), (2, 5, len(body)), (3, 5, len(body)),
                        (5, 12, [(1, 5, hi - lo), (2, 5, 0), (3, 5, 3), (4, 5, 3)])]) + body

    chunk_bytes = page(0, 10) + page(10, 20) + page(20, 30)
    (tmp_path / "c.bin").write_bytes(b"PAR1" + chunk_bytes)
    lc = ListColumn(0, 3, 1, np.dtype(np.float32), K)
    for rows, count, gives in ((4, 30, 4), (6, 20, 4), (6, 40, 6), (6, 30, None)):
        chunk = Chunk(0, count, len(chunk_bytes), 4, None)
        out = []
        with open(tmp_path / "c.bin", "rb") as f:
            try:
                for a in lc.pieces(f.fileno(), chunk, rows, 1, pa):
                    out.append(a.copy())
            except Fallback as e:
                assert e.rows == len(out) == gives, (rows, count)
            else:
                assert gives is None
        assert len(out) <= min(rows, count // K)
        np.testing.assert_array_equal(np.concatenate(out), x[:len(out)])


def test_format_2_pages_of_old_parquet_cpp():
    """parquet-cpp before 2.0.0 wrote format-2 pages that say "not compressed" when they are;
    pyarrow decompresses them anyway, so such pages are left to it."""
    from fastinfo._pages import _v2_flag_unreliable
    for created_by, unreliable in ((b"parquet-cpp version 1.5.1-SNAPSHOT", True), (b"parquet-cpp version 1.3.0", True),
                                   (b"parquet-cpp version 2.0.0", False),
                                   (b"parquet-cpp-arrow version 26.0.1", False), (b"polars", False),
                                   (b"parquet-mr version 1.12.3 (build abc)", False), (None, False)):
        fm = {6: (8, created_by)} if created_by is not None else {}
        assert _v2_flag_unreliable(fm) is unreliable, created_by


def test_a_long_footer_is_left_to_pyarrow(tmp_path, monkeypatch):
    """A footer longer than MAX_FOOTER (read here in Python, slowly) leaves the file to
    pyarrow: the same rows."""
    import fastinfo._pages as pages
    x = _values(60, 4, np.float32)
    pq.write_table(pa.table({"logits": _column(x, "fixed")}), tmp_path / "f.parquet", row_group_size=2)
    assert _find(tmp_path / "f.parquet", "logits", np.float32, 4) is not None
    monkeypatch.setattr(pages, "MAX_FOOTER", 1000)
    assert _find(tmp_path / "f.parquet", "logits", np.float32, 4) is None
    np.testing.assert_array_equal(_via_cli_reader(tmp_path / "f.parquet"), x)
