"""``fastinfo score --measure softmax_stats`` (several columns from one read of each row, --fields
selectable) and the divergences softmax_js and softmax_tv: the files match the library's calls on
the same rows whatever the chunks (the kernels do not depend on how rows are grouped), in .npy
(a record a row), .parquet (a column a field) and .csv; bad usage is one line and exit status 2."""

import numpy as np
import pytest

import fastinfo
from helpers import cli



@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("stats")
    rng = np.random.default_rng(5)
    x = (2 * rng.standard_normal((203, 17))).astype(np.float32)
    x[:, 4] = x[:, 5]                                      # ties: ranks and top k by the lower index
    q = (2 * rng.standard_normal((203, 17))).astype(np.float32)
    y = rng.integers(0, 17, 203)
    y[rng.random(203) < 0.15] = -100
    for name, a in (("x", x), ("q", q), ("y", y)):
        np.save(d / f"{name}.npy", a)
    return d, x, q, y


def same(got, want):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("chunk", ["1", "50", "1000"])
def test_records_match_softmax_stats(run, tmp_path, chunk):
    d, x, _, y = run
    out = tmp_path / "s.npy"
    rc, _, err = cli("score", d / "x.npy", "--measure", "softmax_stats", "--labels", d / "y.npy",
                     "--ignore-index", "-100", "--k", "3", "--temperature", "1.5", "--chunk-rows", chunk,
                     "-o", out, "--quiet")
    assert rc == 0, err
    r = np.load(out)
    # the default fields, in their order: with labels the label's; with --k the top k
    assert r.dtype.names == ("entropy", "max_prob", "argmax", "nll", "correct", "rank", "topk_logprobs",
                             "topk_indices")
    assert r.dtype["entropy"] == np.float32 and r.dtype["argmax"] == np.int64 and r.dtype["correct"] == np.bool_
    assert r.dtype["topk_indices"].shape == (3,)
    s = fastinfo.softmax_stats(x, y, k=3, temperature=1.5, ignore_index=-100)
    for f in r.dtype.names:
        same(r[f], getattr(s, f))


def test_selected_fields_to_parquet_and_csv(run, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    d, x, _, y = run
    fields = "label_prob,rank,logsumexp,topk_indices"
    rc, _, err = cli("score", d / "x.npy", "--measure", "softmax_stats", "--fields", fields, "--k", "2",
                     "--labels", d / "y.npy", "--ignore-index", "-100", "-o", tmp_path / "s.parquet", "--quiet")
    assert rc == 0, err
    t = pq.read_table(tmp_path / "s.parquet")
    assert t.column_names == fields.split(",")
    s = fastinfo.softmax_stats(x, y, k=2, ignore_index=-100)
    for f in t.column_names:
        col = t.column(f).to_numpy() if f != "topk_indices" else np.array(t.column(f).to_pylist())
        same(col, getattr(s, f))
    assert np.isnan(t.column("label_prob").to_numpy()[y == -100]).all()      # ignored labels: NaN there
    rc, _, err = cli("score", d / "x.npy", "--measure", "softmax_stats", "--fields", "argmax,max_prob",
                     "-o", tmp_path / "s.csv", "--quiet")
    assert rc == 0, err
    c = np.genfromtxt(tmp_path / "s.csv", delimiter=",", names=True)
    s = fastinfo.softmax_stats(x)
    same(c["argmax"], s.argmax)
    np.testing.assert_allclose(c["max_prob"], s.max_prob, rtol=1e-6)


@pytest.mark.parametrize("measure,extra,call", [
    ("softmax_js", ["--beta", "0.2", "--temperature", "2"],
     lambda x, q: fastinfo.softmax_js_divergence(x, q, beta=0.2, temperature=2.0)),
    ("softmax_js", [], lambda x, q: fastinfo.softmax_js_divergence(x, q)),
    ("softmax_tv", [], lambda x, q: fastinfo.softmax_total_variation(x, q)),
])
def test_divergences(run, tmp_path, measure, extra, call):
    d, x, q, _ = run
    rc, _, err = cli("score", d / "x.npy", "--measure", measure, "--q", d / "q.npy", *extra, "--chunk-rows", "64",
                     "-o", tmp_path / "r.npy", "--quiet")
    assert rc == 0, err
    same(np.load(tmp_path / "r.npy"), call(x, q))
    rc, out, _ = cli("score", d / "x.npy", "--measure", measure, "--q", d / "q.npy", *extra, "--reduction", "sum")
    assert rc == 0 and float(out) == pytest.approx(float(np.sum(call(x, q), dtype=np.float64)), rel=1e-6)


def test_an_invalid_row_is_named_and_no_file_is_left(run, tmp_path):
    d, x, _, y = run
    bad = x.copy()
    bad[77, 3] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    out = tmp_path / "s.npy"
    rc, _, err = cli("score", tmp_path / "bad.npy", "--measure", "softmax_stats", "--fields", "argmax",
                     "-o", out, "--quiet")
    assert rc == 2 and "row 77" in err and "NaN" in err and not out.exists()


@pytest.mark.parametrize("args,message", [
    (["--fields", "nll"], "needs the labels"),
    (["--fields", "argmax,bogus"], "not a field of softmax_stats"),
    (["--fields", "argmax,argmax"], "distinct"),
    (["--fields", "topk_indices"], "--k N"),
    (["--k", "2", "--fields", "argmax"], "--k applies"),
    (["--k", "18"], "the input has 17 classes a row"),
    (["--k", "2", "-o", "{tmp}/s.csv"], "lists"),
    (["--reduction", "mean"], "several columns"),
    (["--summary", "-o", "{tmp}/s.npy"], "several columns"),
    (["--base", "2", "-o", "{tmp}/s.npy"], "--base does not apply"),
    (["--targets", "{d}/x.npy", "-o", "{tmp}/s.npy"], "not --targets"),
])
def test_bad_usage(run, tmp_path, args, message):
    d = run[0]
    args = [a.format(tmp=tmp_path, d=d) for a in args]
    if "-o" not in args and "--reduction" not in args:
        args += ["-o", str(tmp_path / "s.npy")]
    rc, _, err = cli("score", d / "x.npy", "--measure", "softmax_stats", *args)
    assert rc == 2 and message in err and err.count("\n") == 1, err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("measure,args,message", [
    ("softmax_kl", ["--beta", "0.3"], "--beta applies"),
    ("softmax_js", ["--beta", "1.5"], "--beta must be"),
    ("softmax_tv", ["--base", "2"], "--base does not apply"),
    ("softmax_kl", ["--fields", "nll"], "--fields applies"),
])
def test_bad_divergence_usage(run, tmp_path, measure, args, message):
    d = run[0]
    rc, _, err = cli("score", d / "x.npy", "--measure", measure, "--q", d / "q.npy", *args, "-o", tmp_path / "r.npy")
    assert rc == 2 and message in err, err
