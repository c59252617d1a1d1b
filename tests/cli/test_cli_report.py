"""``fastinfo score --report``: a classifier's mean NLL, perplexity, accuracy, calibration error and
Brier score over a run, against the library's functions on the same rows (whatever the chunks)."""
import json
import math

import numpy as np
import pytest

import fastinfo
from fastinfo._cli import _Report
from helpers import cli



@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(3)
    x = (2 * rng.standard_normal((611, 23))).astype(np.float32)
    y = np.argmax(x / 1.5 + rng.gumbel(size=x.shape), axis=1)
    y[rng.random(611) < 0.1] = -100
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    return d, x, y


def expected(x, y, temperature=1.0):
    k = y != -100
    xs, ys = x[k].astype(np.float64) / temperature, y[k]
    nll = float(fastinfo.softmax_cross_entropy(xs, ys, reduction="mean"))
    return dict(labelled=int(k.sum()), nll=nll, perplexity=math.exp(nll),
                accuracy=float(np.mean(np.argmax(xs, 1) == ys)),
                ece=fastinfo.calibration_error(xs, ys, from_logits=True),
                brier=fastinfo.brier_score(xs, ys, from_logits=True))


@pytest.mark.parametrize("chunk", ["1000", "7"])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_report_is_the_library_on_the_whole_file(run, chunk, temperature):
    """The JSON report equals the library's numbers (float64 of the float32 logits) for any chunking."""
    d, x, y = run
    rc, out, err = cli("score", "--measure", "softmax_cross_entropy", d / "x.npy", "--labels", d / "y.npy",
                       "--ignore-index", -100, "--temperature", temperature, "--report", "--json",
                       "--chunk-rows", chunk, "--quiet")
    assert rc == 0, err
    got = json.loads(out)["report"]
    want = expected(x, y, temperature)
    assert got["labelled"] == want["labelled"]
    for key in ("nll", "perplexity", "accuracy", "ece", "brier"):
        assert got[key] == pytest.approx(want[key], rel=2e-6, abs=1e-7), key


def test_report_line_and_summary(run, tmp_path):
    """--report prints one report line (after the summary line with --summary); -o still writes."""
    d, x, y = run
    out_path = tmp_path / "nll.npy"
    rc, out, err = cli("score", "--measure", "softmax_cross_entropy", d / "x.npy", "--labels", d / "y.npy",
                       "--ignore-index", -100, "--report", "--summary", "-o", out_path, "--quiet")
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("softmax_cross_entropy:") and lines[1].startswith("report:")
    assert f"{int((y != -100).sum())} labelled rows" in lines[1]
    np.testing.assert_array_equal(np.load(out_path),
                                  fastinfo.softmax_cross_entropy(x, y, ignore_index=-100))


def test_reduction_then_report(run):
    """--reduction mean with --report: the number asked for first (the weighted, smoothed mean), then the
    report (the plain NLL)."""
    d, x, y = run
    rc, out, err = cli("score", "--measure", "softmax_cross_entropy", d / "x.npy", "--labels", d / "y.npy",
                       "--ignore-index", -100, "--label-smoothing", 0.3, "--reduction", "mean", "--report",
                       "--quiet")
    assert rc == 0, err
    first, second = out.strip().splitlines()
    want = fastinfo.softmax_cross_entropy(x, y, ignore_index=-100, label_smoothing=0.3, reduction="mean")
    assert float(first) == pytest.approx(float(want), rel=1e-6)
    assert second.startswith("report:")


@pytest.mark.parametrize("args", [["--measure", "softmax_entropy"],
                                  ["--measure", "softmax_cross_entropy", "--targets", "x.npy"]])
def test_report_needs_labels(run, args):
    """--report without integer labels: one line of usage error, exit 2."""
    d, _, _ = run
    args = [a if a != "x.npy" else d / "x.npy" for a in args]
    rc, out, err = cli("score", d / "x.npy", *args, "--report")
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--report" in err


def test_reports_merge_exactly():
    """Two halves' reports merged (a cluster's tasks) give the whole's."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((300, 9)), rng.integers(0, 9, 300)
    whole, a, b = _Report(), _Report(), _Report()
    whole.add(x, y, 1.0, 1)
    a.add(x[:123], y[:123], 1.0, 1)
    b.add(x[123:], y[123:], 1.0, 1)
    a.merge(b)
    fw, fa = whole.fields(), a.fields()
    assert fw["labelled"] == fa["labelled"] == 300
    for key in ("nll", "accuracy", "ece"):
        assert fa[key] == pytest.approx(fw[key], rel=1e-13, abs=1e-15), key
    assert fa["brier"] == pytest.approx(fw["brier"], rel=1e-12)


def test_no_labelled_row_gives_nan():
    """Every label ignored: the report's numbers are NaN (null in JSON)."""
    r = _Report()
    r.add(np.zeros((0, 4)), np.zeros(0, dtype=np.int64), 1.0, 1)
    f = r.fields()
    assert f["labelled"] == 0 and all(math.isnan(f[k]) for k in ("nll", "accuracy", "ece", "brier"))
