"""``fastinfo score`` on Parquet and Arrow IPC (Feather) files, written by the tools users
have (pyarrow, pandas, polars): the scores equal the Python API's on the same values,
bitwise, for several chunk sizes and row-group / record-batch layouts; every bad file or
column is one line naming the file, the column and the row, exit status 2, no output.
"""
import numpy as np
import pytest
from helpers import assert_one_line_failure, assert_same_result, interrupt_cli, peak_rss_kb, run_python

import fastinfo

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
feather = pytest.importorskip("pyarrow.feather")

N, K = 203, 29


def run(args, cwd):
    return run_python(["-m", "fastinfo", *args], cwd=cwd, timeout=120)


def _fixed(a):
    return pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), a.shape[1])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tables")
    rng = np.random.default_rng(11)
    x = (3 * rng.standard_normal((N, K))).astype(np.float32)
    x2 = (3 * rng.standard_normal((N, K))).astype(np.float32)
    p = rng.random((N, K)); p[rng.random((N, K)) < 0.05] = 0; p /= p.sum(1, keepdims=True)
    y = rng.integers(0, K, N).astype(np.int64)
    a = dict(x=x, x2=x2, p=p, y=y, x16=x.astype(np.float16), c=rng.integers(0, 50, (N, K)).astype(np.int32))
    # the writers users have, and layouts of several row groups / record batches
    pq.write_table(pa.table({"id": np.arange(N), "logits": _fixed(x), "label": y}), d / "fixed.parquet",
                   row_group_size=50)
    pq.write_table(pa.table({"logits": _fixed(x2)}), d / "student.parquet", row_group_size=64)
    pq.write_table(pa.table({"logits": pa.array(list(x)), "label": y}), d / "lists.parquet",
                   row_group_size=77, compression="zstd")
    feather.write_feather(pa.table({"logits": pa.array(list(x)), "label": y}), d / "lists.feather",
                          chunksize=40)
    pq.write_table(pa.table({"probs": pa.array(list(p)), "x16": _fixed(a["x16"]), "counts": _fixed(a["c"])}),
                   d / "probs.parquet", row_group_size=100)
    import pandas as pd
    pd.DataFrame({"probs": list(p), "label": y}).to_parquet(d / "pandas.parquet")
    pl = pytest.importorskip("polars")
    pl.DataFrame({"logits": [list(map(float, r)) for r in x], "label": y}).write_parquet(d / "polars.parquet")
    return d, a


CASES = [
    ("fixed.parquet", ["--measure", "softmax_cross_entropy", "--labels-column", "label"],
     lambda a: fastinfo.softmax_cross_entropy(a["x"], a["y"])),
    ("lists.parquet", ["--measure", "softmax_cross_entropy", "--labels-column", "label"],
     lambda a: fastinfo.softmax_cross_entropy(a["x"], a["y"])),
    ("lists.feather", ["--measure", "softmax_entropy", "--temperature", "2"],
     lambda a: fastinfo.softmax_entropy(a["x"], temperature=2)),
    ("fixed.parquet", ["--measure", "softmax_kl", "--q", "student.parquet", "--column", "logits"],
     lambda a: fastinfo.softmax_kl_divergence(a["x"], a["x2"])),
    ("fixed.parquet", ["--measure", "logsumexp"], lambda a: fastinfo.logsumexp(a["x"])),
    ("probs.parquet", ["--measure", "entropy", "--column", "probs"], lambda a: fastinfo.entropy(a["p"])),
    ("probs.parquet", ["--measure", "logsumexp", "--column", "x16"], lambda a: fastinfo.logsumexp(a["x16"])),
    ("probs.parquet", ["--measure", "entropy", "--column", "counts", "--normalize"],
     lambda a: fastinfo.entropy(a["c"], normalize=True)),
    ("pandas.parquet", ["--measure", "entropy", "--base", "2"], lambda a: fastinfo.entropy(a["p"], base=2)),
    ("polars.parquet", ["--measure", "softmax_cross_entropy", "--labels-column", "label"],
     lambda a: fastinfo.softmax_cross_entropy(a["x"].astype(np.float64), a["y"])),
]


@pytest.mark.parametrize("chunk", ["1", "33", "1000"])
@pytest.mark.parametrize("inp,extra,expect", CASES, ids=[f"{c[0]}-{c[1][1]}-{i}" for i, c in enumerate(CASES)])
def test_table_scores_equal_the_library(files, inp, extra, expect, chunk, tmp_path):
    d, a = files
    out = tmp_path / "out.npy"
    args = ["score", str(d / inp), "-o", str(out), "--chunk-rows", chunk]
    args += [str(d / e) if e.endswith((".parquet", ".feather")) else e for e in extra]
    r = run(args, cwd=d)
    assert r.returncode == 0, r.stderr
    assert_same_result(np.load(out), expect(a))


def test_table_mean_equals_the_library(files, tmp_path):
    d, a = files
    r = run(["score", str(d / "lists.parquet"), "--measure", "softmax_cross_entropy", "--labels-column", "label",
             "--reduction", "mean", "--chunk-rows", "10"], cwd=d)
    assert r.returncode == 0, r.stderr
    want = fastinfo.softmax_cross_entropy(a["x"], a["y"], reduction="mean")
    assert float(r.stdout) == pytest.approx(float(want), rel=1e-6)   # float32 digits printed


@pytest.fixture(scope="module")
def bad_files(files):
    d, a = files
    x = a["x"]
    mask = np.zeros(20 * K, bool); mask[13 * K + 4] = True
    pq.write_table(pa.table({"logits": pa.FixedSizeListArray.from_arrays(pa.array(x[:20].reshape(-1), mask=mask), K)}),
                   d / "null_value.parquet")
    rows = [list(r) for r in x[:20]]
    rows[9] = None
    pq.write_table(pa.table({"logits": pa.array(rows, type=pa.list_(pa.float32()))}), d / "null_row.parquet")
    rows = [list(r) for r in x[:20]]
    rows[17] = rows[17][:-1]
    pq.write_table(pa.table({"logits": pa.array(rows)}), d / "ragged.parquet", row_group_size=6)
    pq.write_table(pa.table({"logits": pa.array([["a", "b"]] * 3)}), d / "strings.parquet")
    pq.write_table(pa.table({"a": _fixed(x[:5]), "b": _fixed(x[:5])}), d / "two.parquet")
    pq.write_table(pa.table({"logits": _fixed(x[:20]), "label": np.r_[np.zeros(11, int), 99, np.zeros(8, int)]}),
                   d / "badlabel.parquet")
    pq.write_table(pa.table({"logits": _fixed(x[:20]), "label": x[:20, 0]}), d / "floatlabel.parquet")
    good = (d / "fixed.parquet").read_bytes()
    (d / "corrupt.parquet").write_bytes(good[:4] + b"\0" * 64 + good[68:len(good) // 2] + good[-8:])
    (d / "cut.parquet").write_bytes(good[:len(good) // 3])
    return d


BAD = [
    (["null_value.parquet", "--measure", "logsumexp"], ["null_value.parquet", "logits", "row 13", "null"]),
    (["null_row.parquet", "--measure", "logsumexp"], ["null_row.parquet", "logits", "row 9", "null"]),
    (["ragged.parquet", "--measure", "logsumexp"], ["ragged.parquet", "logits", "row 17", "28 values"]),
    (["strings.parquet", "--measure", "logsumexp"], ["strings.parquet", "logits", "expected numbers"]),
    (["two.parquet", "--measure", "logsumexp"], ["two.parquet", "give --column", "a, b"]),
    (["fixed.parquet", "--measure", "logsumexp", "--column", "nope"], ["fixed.parquet", "no column 'nope'"]),
    (["fixed.parquet", "--measure", "logsumexp", "--column", "id"], ["fixed.parquet", "'id'", "column of lists"]),
    (["badlabel.parquet", "--measure", "softmax_cross_entropy", "--labels-column", "label"],
     ["label", "badlabel.parquet", "label 99", "row 11", "out of range"]),
    (["floatlabel.parquet", "--measure", "softmax_cross_entropy", "--labels-column", "label"],
     ["floatlabel.parquet", "expected integer labels"]),
    (["fixed.parquet", "--measure", "softmax_cross_entropy", "--labels-column", "nope"], ["no column 'nope'"]),
    (["fixed.parquet", "--measure", "entropy", "--axis", "0"], ["--axis", "Parquet"]),
    (["corrupt.parquet", "--measure", "logsumexp"], ["corrupt.parquet"]),
    (["cut.parquet", "--measure", "logsumexp"], ["cut.parquet", "not a valid Parquet file"]),
    (["probs.parquet", "--measure", "entropy", "--column", "counts"], ["counts", "pass --normalize"]),
]


@pytest.mark.parametrize("args,words", BAD, ids=[b[0][0] + "-" + b[1][-1] for b in BAD])
def test_bad_table_is_one_line_and_leaves_no_file(bad_files, args, words, tmp_path):
    d = bad_files
    out = tmp_path / "out.npy"
    r = run(["score", str(d / args[0]), *args[1:], "-o", str(out)], cwd=d)
    assert_one_line_failure(r, words, out)


def test_a_table_input_with_a_second_operand_of_another_kind(files, tmp_path):
    """A Parquet input with a .npy, an .npz or an Arrow --q: each read as its own kind."""
    d, a = files
    np.save(tmp_path / "x2.npy", a["x2"])
    np.savez(tmp_path / "x2.npz", s=a["x2"])
    feather.write_feather(pa.table({"logits": _fixed(a["x2"])}), tmp_path / "x2.arrow", chunksize=30)
    want = fastinfo.softmax_kl_divergence(a["x"], a["x2"])
    for q in ("x2.npy", "x2.npz:s", "x2.arrow"):
        out = tmp_path / f"{q.replace(':', '_')}.out.npy"
        r = run(["score", str(d / "lists.parquet"), "--measure", "softmax_kl", "--q", str(tmp_path / q),
                 "--chunk-rows", "17", "-o", str(out)], cwd=tmp_path)
        assert r.returncode == 0, (q, r.stderr)
        np.testing.assert_array_equal(np.load(out), want)


def test_keep_from_an_arrow_file(files, tmp_path):
    d, a = files
    r = run(["score", str(d / "lists.feather"), "--measure", "softmax_cross_entropy", "--labels-column", "label",
             "--keep", "label", "-o", str(tmp_path / "o.parquet"), "--chunk-rows", "33"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    t = pq.read_table(tmp_path / "o.parquet")
    np.testing.assert_array_equal(t["label"].to_numpy(), a["y"])
    np.testing.assert_array_equal(t["softmax_cross_entropy"].to_numpy(), fastinfo.softmax_cross_entropy(a["x"], a["y"]))


def test_a_damaged_page_is_one_line(files, tmp_path):
    """Bytes damaged inside the data pages (the footer intact): a decoding error on the read-ahead
    thread, or at the first row, is one line naming the file, exit 2, no output."""
    d, a = files
    x = np.asarray(a["x"], np.float32)
    pq.write_table(pa.table({"logits": pa.array(list(x))}), tmp_path / "z.parquet", compression="zstd",
                   row_group_size=40, use_dictionary=False)
    raw = bytearray((tmp_path / "z.parquet").read_bytes())
    for at in (len(raw) // 3, 8):                 # a middle page; the first page
        bad = bytearray(raw)
        bad[at:at + 256] = bytes(range(256))
        (tmp_path / "bad.parquet").write_bytes(bytes(bad))
        out = tmp_path / "o.npy"
        r = run(["score", str(tmp_path / "bad.parquet"), "--measure", "logsumexp", "-o", str(out)], cwd=tmp_path)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and "bad.parquet" in lines[0], (at, r.returncode, r.stderr)
        assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_labels_column_needs_a_table_input(files, tmp_path):
    d, a = files
    np.save(tmp_path / "x.npy", a["x"])
    r = run(["score", str(tmp_path / "x.npy"), "--measure", "softmax_cross_entropy", "--labels-column", "label",
             "-o", str(tmp_path / "o.npy")], cwd=tmp_path)
    assert r.returncode == 2 and "--labels-column" in r.stderr and "Traceback" not in r.stderr


def test_labels_from_another_table(files, tmp_path):
    d, a = files
    np.save(tmp_path / "x.npy", a["x"])
    out = tmp_path / "o.npy"
    r = run(["score", str(tmp_path / "x.npy"), "--measure", "softmax_cross_entropy", "--labels",
             str(d / "lists.parquet"), "--labels-column", "label", "-o", str(out), "--chunk-rows", "50"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(out), fastinfo.softmax_cross_entropy(a["x"], a["y"]))


def test_without_pyarrow_the_error_names_the_extra(files, tmp_path):
    d, _ = files
    code = ("import sys; sys.modules['pyarrow'] = None; from fastinfo._cli import main; "
            f"sys.exit(main(['score', {str(d / 'fixed.parquet')!r}, '--measure', 'logsumexp', "
            f"'-o', {str(tmp_path / 'o.npy')!r}]))")
    r = run_python(["-c", code], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "pip install 'fastinfo[parquet]'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.npy").exists()


def _parquet_logits(path, rows, K=1000, row_group=4096):
    """rows x K float32 logits in a fixed_size_list column, written a row group at a time; the
    values all differ (a column chunk of many equal values would be a few KB, whatever its rows)."""
    schema = pa.schema([("logits", pa.list_(pa.float32(), K))])
    block = (np.arange(row_group * K, dtype=np.float32) * np.float32(1e-6)).reshape(row_group, K)
    with pq.ParquetWriter(path, schema, compression="none", use_dictionary=False) as w:
        for lo in range(0, rows, row_group):
            n = min(row_group, rows - lo)
            w.write_table(pa.table({"logits": _fixed(block[:n])}, schema=schema))
    return path


def test_ctrl_c_on_a_table_leaves_no_partial_file(tmp_path_factory, tmp_path):
    """SIGINT while the read-ahead thread decodes: exit 130, no output, no traceback."""
    import os
    big = _parquet_logits(tmp_path_factory.mktemp("bigtable") / "big.parquet", 40_000)
    rc, err = interrupt_cli(["score", str(big), "--measure", "softmax_entropy", "--chunk-rows", "1", "--threads",
                             "1", "-o", str(tmp_path / "out.npy")], tmp_path)
    assert rc == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("layout", ["row groups of 16 MB", "one row group"])
def test_peak_memory_of_a_table_does_not_grow_with_the_file(tmp_path, layout):
    """4x the rows (64 MB -> 256 MB of float32): the peak stays within 64 MB (the decoders of
    several row groups may run up to _tables.AHEAD_BYTES ahead, however long the file), in row
    groups of 16 MB and in one row group a file (what pyarrow and pandas write for up to 1 Mi
    rows: the column chunk is read a few MB at a time, not whole)."""
    rss = {}
    for name, rows in (("64MB", 16_000), ("256MB", 64_000)):
        path = _parquet_logits(tmp_path / f"{name}.parquet", rows, row_group=4096 if "16" in layout else rows)
        rss[name] = peak_rss_kb(["score", str(path), "--measure", "softmax_entropy", "-o",
                                 str(tmp_path / f"{name}.npy")], cwd=tmp_path)
    assert rss["256MB"] - rss["64MB"] < 64 * 1024, rss


@pytest.mark.parametrize("chunk", ["7", "1000"])
def test_parquet_and_csv_outputs_keep_the_rows_joined(files, chunk, tmp_path):
    """--keep carries the input's columns beside the result, row for row; CSV round-trips the
    float32 results exactly."""
    import pandas as pd
    d, a = files
    want = fastinfo.softmax_cross_entropy(a["x"], a["y"])
    base = ["score", str(d / "fixed.parquet"), "--measure", "softmax_cross_entropy", "--labels-column", "label",
            "--chunk-rows", chunk]
    r = run(base + ["--keep", "id,label", "-o", str(tmp_path / "o.parquet")], cwd=d)
    assert r.returncode == 0, r.stderr
    t = pq.read_table(tmp_path / "o.parquet")
    assert t.column_names == ["id", "label", "softmax_cross_entropy"]
    np.testing.assert_array_equal(t["id"].to_numpy(), np.arange(N))
    np.testing.assert_array_equal(t["label"].to_numpy(), a["y"])
    out = t["softmax_cross_entropy"].to_numpy()
    assert out.dtype == want.dtype
    np.testing.assert_array_equal(out, want)
    r = run(base + ["--keep", "id", "-o", str(tmp_path / "o.csv")], cwd=d)
    assert r.returncode == 0, r.stderr
    c = pd.read_csv(tmp_path / "o.csv")
    assert list(c.columns) == ["id", "softmax_cross_entropy"]
    np.testing.assert_array_equal(c["id"].to_numpy(), np.arange(N))
    np.testing.assert_array_equal(c["softmax_cross_entropy"].to_numpy().astype(np.float32), want)


def test_parquet_output_of_npy_and_of_elementwise_results(files, tmp_path):
    d, a = files
    np.save(tmp_path / "x.npy", a["x"])
    t01 = (a["x"] > 0).astype(np.float32)
    np.save(tmp_path / "t.npy", t01)
    r = run(["score", str(tmp_path / "x.npy"), "--measure", "logsumexp", "-o", str(tmp_path / "l.parquet")],
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(pq.read_table(tmp_path / "l.parquet")["logsumexp"].to_numpy(),
                                  fastinfo.logsumexp(a["x"]))
    r = run(["score", str(tmp_path / "x.npy"), "--measure", "sigmoid_cross_entropy", "--targets",
             str(tmp_path / "t.npy"), "--chunk-rows", "50", "-o", str(tmp_path / "s.parquet")], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    col = pq.read_table(tmp_path / "s.parquet")["sigmoid_cross_entropy"]
    got = np.stack(col.to_numpy(zero_copy_only=False))
    np.testing.assert_array_equal(got, fastinfo.sigmoid_cross_entropy(a["x"], t01))


OUT_BAD = [
    (["fixed.parquet", "--measure", "logsumexp", "--keep", "id", "-o", "OUT.npy"], "--keep applies to a .parquet"),
    (["fixed.parquet", "--measure", "logsumexp", "--keep", "nope", "-o", "OUT.parquet"], "no column 'nope'"),
    (["fixed.parquet", "--measure", "logsumexp", "--keep", "logsumexp", "-o", "OUT.parquet"], "result column"),
    (["fixed.parquet", "--measure", "logsumexp", "-o", "OUT.txt"], "must be a .npy, .parquet or .csv"),
    (["x.npy", "--measure", "logsumexp", "--keep", "id", "-o", "OUT.csv"], "Parquet or Arrow input"),
    (["x.npy", "--measure", "sigmoid_cross_entropy", "--targets", "x.npy", "-o", "OUT.csv"], "one result a row"),
    (["x.npy", "--measure", "logsumexp", "--axis", "0", "-o", "OUT.parquet"], "classes last"),
]


@pytest.mark.parametrize("args,message", OUT_BAD, ids=[b[1] for b in OUT_BAD])
def test_bad_output_options_are_one_line(files, args, message, tmp_path):
    d, a = files
    np.save(d / "x.npy", a["x"])
    out = [str(tmp_path / ("o" + x[3:])) if x.startswith("OUT.") else x for x in args]
    r = run(["score", str(d / out[0]), *out[1:]], cwd=d)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_closed_stdout_leaves_no_output(files, tmp_path):
    """--summary into a pipe closed early: the run fails (exit 1) and leaves no output, as any
    failure does (the summary goes out before the output takes its name)."""
    import subprocess
    import sys

    from helpers import fastinfo_env
    d, _ = files
    out = tmp_path / "o.npy"
    proc = subprocess.Popen([sys.executable, "-m", "fastinfo", "score", str(d / "fixed.parquet"), "--measure",
                             "logsumexp", "--summary", "-o", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=fastinfo_env(), cwd=tmp_path)
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (proc.returncode, err)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_a_pattern_scores_its_files_in_order_into_one_output(tmp_path):
    """'shards/part-*.parquet': the files in sorted order as one input, labels and kept ids from
    each; a bad row is named by its file; shards of another width are refused."""
    rng = np.random.default_rng(2)
    xs, ys = [], []
    for i, n in enumerate((50, 7, 120, 33)):
        x = (3 * rng.standard_normal((n, K))).astype(np.float32)
        y = rng.integers(0, K, n)
        xs.append(x)
        ys.append(y)
        pq.write_table(pa.table({"id": np.arange(n) + 1000 * i, "logits": _fixed(x), "label": y}),
                       tmp_path / f"part-{i}.parquet", row_group_size=20)
        np.save(tmp_path / f"x-{i}.npy", x)
    X, Y = np.concatenate(xs), np.concatenate(ys)
    for chunk in ("5", "1000"):
        out = tmp_path / f"o{chunk}.parquet"
        r = run(["score", str(tmp_path / "part-*.parquet"), "--measure", "softmax_cross_entropy", "--labels-column",
                 "label", "--keep", "id", "--chunk-rows", chunk, "-o", str(out)], cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        t = pq.read_table(out)
        np.testing.assert_array_equal(t["softmax_cross_entropy"].to_numpy(), fastinfo.softmax_cross_entropy(X, Y))
        np.testing.assert_array_equal(t["id"].to_numpy(), np.concatenate([np.arange(n) + 1000 * i for i, n in
                                                                           enumerate((50, 7, 120, 33))]))
    out = tmp_path / "o.npy"
    r = run(["score", str(tmp_path / "x-*.npy"), "--measure", "logsumexp", "--chunk-rows", "9", "-o", str(out)],
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(out), fastinfo.logsumexp(X))
    bad = xs[2].copy()
    bad[17, 3] = np.nan
    np.save(tmp_path / "x-2.npy", bad)
    np.save(tmp_path / "x-9.npy", np.zeros((3, K + 1), np.float32))
    for pattern, words in (("x-[0-3].npy", ["row 17 of", "x-2.npy"]), ("x-*.npy", ["x-9.npy", "does not continue"]),
                           ("y-*.npy", ["no files match"])):
        r = run(["score", str(tmp_path / pattern), "--measure", "logsumexp", "-o", str(tmp_path / "bad.npy")],
                cwd=tmp_path)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and all(w in lines[0] for w in words), r.stderr
        assert not (tmp_path / "bad.npy").exists()


def test_one_output_a_file_of_the_pattern(tmp_path):
    """-o 'out/{stem}.parquet': each file's results in an output named after it, chunks that
    straddle two files split between their outputs, an empty file an empty output; a bad row in
    a later file leaves no output at all, an existing one is refused before any scoring."""
    rng = np.random.default_rng(3)
    sizes = (40, 0, 95, 13)
    xs = []
    for i, n in enumerate(sizes):
        x = (3 * rng.standard_normal((n, K))).astype(np.float32)
        xs.append(x)
        t = pa.table({"id": np.arange(n) + 100 * i, "logits": pa.array(list(x), pa.list_(pa.float32()))})
        pq.write_table(t, tmp_path / f"part-{i}.parquet", row_group_size=30)
        np.save(tmp_path / f"x-{i}.npy", x)
    (tmp_path / "out").mkdir()
    for chunk in ("7", "1000"):
        r = run(["score", "part-*.parquet", "--measure", "softmax_entropy", "--keep", "id", "--chunk-rows", chunk,
                 "-o", "out/{stem}.parquet", "--force", "--summary"], cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "written to 4 files, out/{stem}.parquet" in r.stdout
        for i, x in enumerate(xs):
            t = pq.read_table(tmp_path / "out" / f"part-{i}.parquet")
            np.testing.assert_array_equal(t["softmax_entropy"].to_numpy(), fastinfo.softmax_entropy(x))
            np.testing.assert_array_equal(t["id"].to_numpy(), np.arange(len(x)) + 100 * i)
    r = run(["score", "x-*.npy", "--measure", "logsumexp", "--chunk-rows", "11", "-o", "out/{stem}.lse.npy"],
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(np.load(tmp_path / "out" / f"x-{i}.lse.npy"), fastinfo.logsumexp(x))
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    bad = xs[3].copy()
    bad[5, 0] = np.nan
    np.save(tmp_path / "x-3.npy", bad)
    r = run(["score", "x-*.npy", "--measure", "logsumexp", "--chunk-rows", "11", "-o", "out/{stem}.new.npy"],
            cwd=tmp_path)
    assert r.returncode == 2 and "row 5 of x-3.npy" in r.stderr, r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before      # none of the four, no .part
    for args, words in ((["-o", "out/{stem}.lse.npy"], ["out/x-0.lse.npy exists", "--force"]),
                        (["-o", "{stem}/x.npy"], ["{stem}", "file's name"]),
                        (["-o", "out/same.npy"], None)):
        r = run(["score", "x-[0-2].npy", "--measure", "logsumexp", *args], cwd=tmp_path)
        if words is None:
            assert r.returncode == 0, r.stderr
            continue
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and all(w in lines[0] for w in words), r.stderr
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    np.save(tmp_path / "a" / "x.npy", xs[0])
    np.save(tmp_path / "b" / "x.npy", xs[2])
    r = run(["score", "*/x.npy", "--measure", "logsumexp", "-o", "out/{stem}.npy"], cwd=tmp_path)
    assert r.returncode == 2 and "a/x.npy and b/x.npy would both be written to out/x.npy" in r.stderr, r.stderr


@pytest.mark.parametrize("decoders", [1, 3])
def test_row_groups_decoded_on_several_threads_come_back_in_order(tmp_path, monkeypatch, decoders):
    """Pieces of a few rows, row groups of odd sizes decoded by one or three threads: the scores
    in row order, bitwise; a null value in a later row group named by its row in the file."""
    from fastinfo import _cli, _tables
    monkeypatch.setattr(_tables, "PIECE_BYTES", 7 * K * 4)         # seven rows a piece
    monkeypatch.setattr(_tables, "DECODERS", decoders)
    monkeypatch.setattr(_tables, "cores", lambda: 4)
    rng = np.random.default_rng(4)
    x = (3 * rng.standard_normal((500, K))).astype(np.float32)
    pq.write_table(pa.table({"logits": _fixed(x)}), tmp_path / "x.parquet", row_group_size=37)
    assert _cli.main(["score", str(tmp_path / "x.parquet"), "--measure", "logsumexp", "-o",
                      str(tmp_path / "o.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), fastinfo.logsumexp(x))
    rows = [list(map(float, r)) for r in x]
    rows[401][5] = None
    pq.write_table(pa.table({"logits": pa.array(rows, pa.list_(pa.float32()))}), tmp_path / "n.parquet",
                   row_group_size=37)
    with pytest.raises(_cli.UsageError, match="row 401 holds a null value"):
        _cli.score(_cli._parser().parse_args(["score", str(tmp_path / "n.parquet"), "--measure", "logsumexp",
                                              "-o", str(tmp_path / "n.npy")]))
    assert not (tmp_path / "n.npy").exists()


def test_columns_of_classes(tmp_path):
    """--columns: one column a class, as pandas, polars and pyarrow write a DataFrame of
    probabilities or logits: the rows those columns make, in the order the spec gives them."""
    import pandas as pd
    pl = pytest.importorskip("polars")
    rng = np.random.default_rng(8)
    n, k = 230, 11
    x = (3 * rng.standard_normal((n, k))).astype(np.float32)
    p = rng.random((n, k))
    p /= p.sum(1, keepdims=True)
    c = rng.integers(0, 20, (n, k)).astype(np.int32)
    y = rng.integers(0, k, n)
    names = [f"p{j}" for j in range(k)]
    df = pd.DataFrame(x, columns=names)
    df.insert(0, "id", np.arange(n))
    df["label"] = y
    df.to_parquet(tmp_path / "pandas.parquet", row_group_size=64)
    pl.DataFrame({**{m: p[:, j] for j, m in enumerate(names)}}).write_parquet(tmp_path / "polars.parquet")
    pl.DataFrame({**{m: p[::-1, j].copy() for j, m in enumerate(names)}}).write_parquet(tmp_path / "q.parquet")
    import pyarrow.feather as feather
    feather.write_feather(pa.table({m: c[:, j] for j, m in enumerate(names)}), tmp_path / "counts.arrow",
                          chunksize=50)
    order = [3, 0, 1, 2] + list(range(4, k))
    cases = [
        (["pandas.parquet", "--columns", f"p0:p{k - 1}", "--measure", "softmax_cross_entropy", "--labels-column",
          "label"], fastinfo.softmax_cross_entropy(x, y)),
        (["pandas.parquet", "--columns", "p*", "--measure", "softmax_entropy"], fastinfo.softmax_entropy(x)),
        (["pandas.parquet", "--columns", "p3,p0:p2,p4:p10", "--measure", "logsumexp"],
         fastinfo.logsumexp(x[:, order])),
        (["polars.parquet", "--columns", "p*", "--measure", "kl", "--q", "q.parquet"],
         fastinfo.kl_divergence(p, p[::-1])),
        (["counts.arrow", "--columns", "p*", "--measure", "entropy", "--normalize"],
         fastinfo.entropy(c, normalize=True)),
    ]
    for i, (args, want) in enumerate(cases):
        for chunk in ("7", "1000") if i == 0 else ("7",):
            r = run(["score", *args, "--chunk-rows", chunk, "-o", "o.npy", "--force"], cwd=tmp_path)
            assert r.returncode == 0, (args, r.stderr)
            np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), want)
    rows = df.copy()
    rows["p3"] = rows["p3"].astype("float32").where(np.arange(n) != 57)        # a null in row 57
    rows.to_parquet(tmp_path / "null.parquet", row_group_size=64)
    for args, words in (
            (["pandas.parquet", "--columns", "id:p3"], ["column 'p0' is float", "int64", "one type"]),
            (["pandas.parquet", "--columns", "p*,q*"], ["q* matches no column"]),
            (["pandas.parquet", "--columns", "p1,p1"], ["'p1' is named twice"]),
            (["pandas.parquet", "--columns", "p*", "--column", "p0"], ["--column", "--columns", "give one"]),
            (["null.parquet", "--columns", "p*"], ["null.parquet", "column 'p3': row 57 is null"])):
        r = run(["score", *args, "--measure", "logsumexp", "-o", "bad.npy"], cwd=tmp_path)
        assert_one_line_failure(r, words, tmp_path / "bad.npy")
    np.save(tmp_path / "x.npy", x)
    r = run(["score", "x.npy", "--columns", "p*", "--measure", "logsumexp", "-o", "bad.npy"], cwd=tmp_path)
    assert_one_line_failure(r, ["--columns applies to Parquet and Arrow files"], tmp_path / "bad.npy")


def test_columns_of_classes_in_another_order_are_refused(tmp_path):
    """--columns 'p*' picks each file's columns in its own order: a file (or a --q) whose
    classes come in another order is refused, never read with its classes swapped; a column
    named like a pattern is that column."""
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    pq.write_table(pa.table({"p0": x[:, 0], "p1": x[:, 1], "p2": x[:, 2]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"p2": x[:, 2], "p1": x[:, 1], "p0": x[:, 0]}), tmp_path / "b.parquet")
    for args in (["?.parquet"], ["a.parquet", "--q", "b.parquet"]):
        r = run(["score", *args, "--columns", "p*", "--measure", "softmax_kl" if "--q" in args else "logsumexp",
                 "-o", "bad.npy"], cwd=tmp_path)
        assert_one_line_failure(r, ["b.parquet", "p2, p1, p0", "p0, p1, p2"], tmp_path / "bad.npy")
    pq.write_table(pa.table({"x[0]": x[:, 0], "x0": x[:, 1]}), tmp_path / "brackets.parquet")
    r = run(["score", "brackets.parquet", "--columns", "x[0]", "--measure", "logsumexp", "-o", "one.npy"],
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "one.npy"), x[:, 0])


def test_a_table_read_to_its_end_lets_its_decoders_go(tmp_path, monkeypatch):
    """The decoding threads and their files end with the last row, not with the run (a pattern of
    many files would otherwise hold every file's descriptors to the end)."""
    from fastinfo import _tables
    monkeypatch.setattr(_tables, "cores", lambda: 4)
    x = np.ones((300, K), np.float32)
    pq.write_table(pa.table({"logits": _fixed(x)}), tmp_path / "x.parquet", row_group_size=40)
    with _tables.TableColumn(str(tmp_path / "x.parquet"), "input", "parquet", None) as R:
        R.read(0, 0, 100)
        assert isinstance(R._batches, _tables._Interleave) and R._srcs     # several decoders, their files
        threads = [a.t for a in R._batches.aheads]     # (a decoder done with its row groups may end early)
        R.read(0, 100, 300)
        assert R._srcs == [] and R._batches is None and not any(t.is_alive() for t in threads)
