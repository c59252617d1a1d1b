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

from fastinfo import _cli, _core
from fastinfo._pages import Fallback, ListColumn
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


def _straight(path, column="logits", piece_rows=37):
    """The rows by the page reader alone, and how many row groups it handed to pyarrow."""
    pf = pq.ParquetFile(path)
    N, K = pf.metadata.num_rows, None
    t = pf.schema_arrow.field(column).type
    K = t.list_size if pa.types.is_fixed_size_list(t) else len(pq.read_table(path, columns=[column])[column][0])
    lc = ListColumn.find(pf.schema, pf.schema_arrow, column, np.dtype(t.value_type.to_pandas_dtype()), K)
    assert lc is not None
    parts, handed = [], 0
    with open(path, "rb") as f:
        for g in range(pf.num_row_groups):
            rg = pf.metadata.row_group(g)
            try:
                parts += list(lc.pieces(f.fileno(), rg.column(lc.leaf), rg.num_rows, piece_rows, pa))
            except Fallback:
                handed += 1
    return (np.concatenate(parts) if parts else np.empty((0, K))), handed, N


def _via_cli_reader(path, column="logits"):
    with TableColumn(str(path), "input", "parquet", column) as c:
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
        if layout["compression"] in ("brotli", "lz4"):  # codecs left to pyarrow
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
    pf = pq.ParquetFile(tmp_path / "other.parquet")
    assert ListColumn.find(pf.schema, pf.schema_arrow, "h", np.dtype(np.float16), 13) is None
    assert ListColumn.find(pf.schema, pf.schema_arrow, "s", np.dtype(np.float32), 13) is None


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
    assert handed == 1 and len(got) == 50                # the second group, whole
    with pytest.raises(_cli.UsageError, match=r"n.parquet.*row 301 holds a null value \(class 4\)"):
        _via_cli_reader(tmp_path / "n.parquet")


def test_level_runs_against_a_plain_decoder():
    """The hybrid decoders of _core against the format written out by hand: bit-packed groups
    and runs of every width, rows of K values, a section cut short, an index out of range."""
    def runs(levels, bw, packed_from):
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

    rng = np.random.default_rng(3)
    for K in (1, 2, 5, 8, 9, 1000):
        reps = np.ones(3 * K, int)
        reps[::K] = 0
        for v0 in (0, K):
            for cut in (0, len(reps) // 2, len(reps)):
                b = runs(reps, 1, cut)
                assert _core.hybrid_rows(b, 0, len(b), 1, len(reps), v0, K) == 0
                if K > 1:
                    bad = reps.copy()
                    bad[rng.integers(1, len(reps))] ^= 1
                    bb = runs(bad, 1, cut)
                    assert _core.hybrid_rows(bb, 0, len(bb), 1, len(bad), v0, K) == -1
                    assert _core.hybrid_rows(b, 0, len(b), 1, len(reps), v0 + 1, K) == -1
                assert _core.hybrid_rows(b, 0, len(b) - 1, 1, len(reps), v0, K) == -1
    for bw in range(0, 33):
        size = 1 << bw
        idx = rng.integers(0, size, 100, dtype=np.int64)
        idx[10:40] = idx[10]
        b = runs(idx, bw, 40) if bw else runs(idx, bw, 100)
        out = np.empty(100, np.intc)
        assert _core.hybrid_indices(b, 0, len(b), bw, out, size) == 0
        np.testing.assert_array_equal(out, idx.astype(np.intc) if bw < 32 else idx.astype(np.uint32).view(np.intc))
        if bw:
            assert _core.hybrid_indices(b, 0, len(b), bw, out, int(idx.max())) == -1
            assert _core.hybrid_indices(b, 0, len(b) - 1, bw, out, size) == -1
        if 1 <= bw <= 8:
            top = np.full(50, size - 1)
            bt = runs(top, bw, 20)
            assert _core.hybrid_all(bt, 0, len(bt), bw, 50, size - 1) == 0
            assert _core.hybrid_all(bt, 0, len(bt), bw, 50, max(size - 2, 0)) == (-1 if size > 1 else 0)
    for args in ((b"\x02\x00", 0, 3, 1, 1, 0, 1), (b"\x02\x00", -1, 2, 1, 1, 0, 1), (b"\xff" * 20, 0, 20, 1, 5, 0, 2)):
        assert _core.hybrid_rows(*args) == -1


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
                         ("gzip", dict(compression="gzip", data_page_size=500)),
                         ("zstd-v2", dict(compression="zstd", data_page_version="2.0", use_dictionary=False,
                                          data_page_size=500))):
        pq.write_table(pa.table({"logits": _column(x, "fixed")}), d / f"{name}.parquet", row_group_size=50,
                       **layout)
        raw = (d / f"{name}.parquet").read_bytes()
        # where damage tells most: the page headers and the levels after them (found with the
        # page walker on the clean file; the outcome is judged by pyarrow, not by it)
        pf = pq.ParquetFile(d / f"{name}.parquet")
        lc = ListColumn.find(pf.schema, pf.schema_arrow, "logits", np.dtype(np.float32), 7)
        spots = []
        with open(d / f"{name}.parquet", "rb") as f:
            for g in range(pf.num_row_groups):
                rg = pf.metadata.row_group(g)
                for page in lc._pages(f.fileno(), rg.column(0), rg.num_rows):
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
