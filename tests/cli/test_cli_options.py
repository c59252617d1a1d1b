"""``fastinfo score``'s options and input checks, in-process (``fastinfo._cli.main``).

--ignore-index, --label-smoothing, --weight and --reduction against PyTorch's
``cross_entropy``; the reductions of the other measures against SciPy; labels out
of range named by their row in the whole file (not in a chunk); an output that is
an input, by name or by link, refused even with --force; corrupt, truncated,
Fortran-ordered and big-endian .npy files; usage errors in one line; the bare
command and --version.
"""
import os

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings, strategies as st

from helpers import cli

N, K, CHUNK = 203, 11, "17"



def assert_one_line_error(rc, err, status=2, message=""):
    lines = err.strip().splitlines()
    assert rc == status, (rc, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("fastinfo"), lines[0]
    assert message in lines[0], lines[0]


@pytest.fixture(scope="module")
def ce_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("ce")
    rng = np.random.default_rng(11)
    x = 3 * rng.standard_normal((N, K))
    y = rng.integers(0, K, N)
    y_pad = y.copy()
    y_pad[rng.random(N) < 0.2] = -100
    w = rng.random(K) + 0.05
    w_signed = w * np.where(np.arange(K) % 3 == 1, -1.0, 1.0)     # negative weights: PyTorch allows them
    soft = rng.random((N, K))
    soft /= soft.sum(1, keepdims=True)
    for name, a in dict(x64=x, x32=x.astype(np.float32), y=y, y_pad=y_pad, w=w, w_signed=w_signed, soft64=soft,
                        soft32=soft.astype(np.float32)).items():
        np.save(d / f"{name}.npy", a)
    return d, dict(x=x, y=y, y_pad=y_pad, w=w, w_signed=w_signed, soft=soft)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("ignore", [None, -100, 3])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [None, "w", "w_signed"])
@pytest.mark.parametrize("dtype", ["32", "64"])
def test_cross_entropy_options_match_pytorch(torch, ce_data, tmp_path, reduction, ignore, smoothing, weighted,
                                             dtype):
    d, a = ce_data
    labels = "y_pad" if ignore == -100 else "y"
    args = ["score", d / f"x{dtype}.npy", "--measure", "softmax_cross_entropy", "--labels", d / f"{labels}.npy",
            "--reduction", reduction, "--chunk-rows", CHUNK]
    if ignore is not None:
        args += ["--ignore-index", ignore]
    if smoothing:
        args += ["--label-smoothing", smoothing]
    if weighted:
        args += ["--weight", d / f"{weighted}.npy"]
    out = tmp_path / "out.npy"
    if reduction == "none":
        args += ["-o", out]
    rc, stdout, err = cli(*args)
    assert rc == 0 and err == "", err
    tdtype = torch.float32 if dtype == "32" else torch.float64
    want = torch.nn.functional.cross_entropy(
        torch.tensor(a["x"], dtype=tdtype), torch.tensor(a[labels]),
        weight=torch.tensor(a[weighted], dtype=tdtype) if weighted else None,
        ignore_index=-100 if ignore is None else ignore, label_smoothing=smoothing, reduction=reduction).numpy()
    got = np.load(out) if reduction == "none" else np.float64(stdout.strip())
    if reduction == "none":
        assert got.dtype == np.dtype(f"float{dtype}") and got.shape == (N,)
    else:
        assert len(stdout.strip().splitlines()) == 1
    rtol = 3e-6 if dtype == "32" else 1e-12
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_soft_targets_with_weight_and_smoothing_match_pytorch(torch, ce_data, tmp_path, reduction):
    d, a = ce_data
    out = tmp_path / "out.npy"
    args = ["score", d / "x64.npy", "--measure", "softmax_cross_entropy", "--targets", d / "soft64.npy",
            "--weight", d / "w.npy", "--label-smoothing", "0.1", "--reduction", reduction, "--chunk-rows", CHUNK]
    rc, stdout, err = cli(*args, *(["-o", out] if reduction == "none" else []))
    assert rc == 0, err
    want = torch.nn.functional.cross_entropy(torch.tensor(a["x"]), torch.tensor(a["soft"]),
                                             weight=torch.tensor(a["w"]), label_smoothing=0.1,
                                             reduction=reduction).numpy()
    got = np.load(out) if reduction == "none" else float(stdout)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_reductions_of_the_other_measures(ce_data):
    d, a = ce_data
    p = a["soft"]
    h = scipy.stats.entropy(p, axis=1, base=2)
    for reduction, want in (("mean", h.mean()), ("sum", h.sum())):
        rc, stdout, err = cli("score", d / "soft64.npy", "--measure", "entropy", "--base", "2", "--reduction",
                              reduction, "--chunk-rows", CHUNK)
        assert rc == 0, err
        assert float(stdout) == pytest.approx(want, rel=1e-13)
    # float32 input: a float32 number
    rc, stdout, _ = cli("score", d / "soft32.npy", "--measure", "entropy", "--reduction", "mean")
    assert rc == 0 and float(stdout) == pytest.approx(scipy.stats.entropy(p, axis=1).mean(), rel=1e-6)


def test_sum_is_exactly_rounded_over_the_chunks(tmp_path):
    # rows whose float64 sum depends on the order of additions: the exact sum (math.fsum over
    # every row) is the same whatever the chunk size
    rng = np.random.default_rng(5)
    logits = np.zeros((600, 2))
    logits[:, 1] = rng.uniform(-40, 40, 600)        # losses spanning ~18 orders of magnitude
    np.save(tmp_path / "x.npy", logits)
    np.save(tmp_path / "y.npy", np.zeros(600, dtype=np.int64))
    # the oracle: log(1 + exp(z)) per row in mpmath, summed exactly
    import mpmath
    with mpmath.workdps(60):
        exact = float(mpmath.fsum(mpmath.log1p(mpmath.exp(mpmath.mpf(float(z)))) for z in logits[:, 1]))
    for chunk in ("1", "7", "600"):
        rc, stdout, err = cli("score", tmp_path / "x.npy", "--measure", "softmax_cross_entropy", "--labels",
                              tmp_path / "y.npy", "--reduction", "sum", "--chunk-rows", chunk)
        assert rc == 0, err
        assert float(stdout) == pytest.approx(exact, rel=1e-15)


BAD_LABELS = [(2 ** 40, np.int64, ""), (-100, np.int64, "--ignore-index -100"), (-1, np.int64, "--ignore-index -1"),
              (np.iinfo(np.uint64).max, np.uint64, ""), (K, np.int32, ""), (-1, np.int8, "--ignore-index -1")]


@pytest.mark.parametrize("value,dtype,hint", BAD_LABELS, ids=[f"{v}-{np.dtype(t).name}" for v, t, _ in BAD_LABELS])
def test_label_out_of_range_names_its_row_in_the_file(tmp_path, value, dtype, hint):
    rng = np.random.default_rng(3)
    n = 3000
    np.save(tmp_path / "x.npy", rng.standard_normal((n, K)).astype(np.float32))
    y = rng.integers(0, K, n).astype(dtype)
    y[2345] = value
    np.save(tmp_path / "y.npy", y)
    rc, _, err = cli("score", tmp_path / "x.npy", "--measure", "softmax_cross_entropy", "--labels",
                     tmp_path / "y.npy", "--chunk-rows", "1000", "-o", tmp_path / "out.npy")
    assert_one_line_error(rc, err, 2, f"label {int(value)} at row 2345 is out of range for {K} classes")
    assert hint in err
    assert sorted(os.listdir(tmp_path)) == ["x.npy", "y.npy"]


def test_label_out_of_range_in_nd_input_names_its_batch_index(tmp_path):
    x = np.zeros((5, 4, 3))
    y = np.zeros((5, 4), dtype=np.int16)
    y[3, 2] = 3
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    rc, _, err = cli("score", tmp_path / "x.npy", "--measure", "softmax_cross_entropy", "--labels",
                     tmp_path / "y.npy", "--chunk-rows", "2", "--reduction", "sum")
    assert_one_line_error(rc, err, 2, "label 3 at batch index (3, 2) is out of range for 3 classes")


def test_float_labels_are_refused(ce_data, tmp_path):
    d, _ = ce_data
    rc, _, err = cli("score", d / "x64.npy", "--measure", "softmax_cross_entropy", "--labels", d / "soft64.npy",
                     "-o", tmp_path / "o.npy")
    assert_one_line_error(rc, err, 2, "expected integers")


@settings(max_examples=30)
@given(n=st.integers(1, 120), chunk=st.integers(1, 40), data=st.data())
def test_invalid_row_is_named_by_its_row_in_the_file(tmp_path_factory, n, chunk, data):
    bad = data.draw(st.integers(0, n - 1))
    d = tmp_path_factory.mktemp("nan")
    p = np.full((n, 3), 1 / 3)
    p[bad, 1] = np.nan
    np.save(d / "p.npy", p)
    rc, _, err = cli("score", d / "p.npy", "--measure", "entropy", "--chunk-rows", chunk, "-o", d / "o.npy")
    assert_one_line_error(rc, err, 2, f"row {bad}:")
    assert os.listdir(d) == ["p.npy"]


USAGE = [
    (["--measure", "entropy", "--ignore-index", "-100", "-o", "o.npy"], "--ignore-index applies"),
    (["--measure", "softmax_cross_entropy", "--targets", "p.npy", "--ignore-index", "0", "-o", "o.npy"],
     "--ignore-index applies to integer labels"),
    (["--measure", "softmax_cross_entropy", "--labels", "y.npy", "--label-smoothing", "1.5", "-o", "o.npy"],
     "--label-smoothing must be"),
    (["--measure", "softmax_cross_entropy", "--labels", "y.npy", "--label-smoothing", "nan", "-o", "o.npy"],
     "--label-smoothing must be"),
    (["--measure", "entropy", "--weight", "w.npy", "-o", "o.npy"], "--weight applies"),
    (["--measure", "softmax_cross_entropy", "--labels", "y.npy", "--weight", "wshort.npy", "-o", "o.npy"],
     "one weight per class"),
    (["--measure", "softmax_cross_entropy", "--labels", "y.npy", "--weight", "wnan.npy", "-o", "o.npy"],
     "expected finite"),
    (["--measure", "entropy", "--reduction", "mean", "-o", "o.npy"], "-o applies to --reduction none"),
    (["--measure", "entropy"], "-o/--output"),
    (["--measure", "entropy", "--reduction", "median"], "invalid choice"),
    (["--measure", "entropy", "--ignore-index", "x", "-o", "o.npy"], "invalid int value"),
    (["--measure", "entropy", "--frobnicate", "-o", "o.npy"], "unrecognized arguments"),
    (["-o", "o.npy"], "required"),
]


@pytest.mark.parametrize("args,message", USAGE, ids=[m for _, m in USAGE])
def test_usage_errors_are_one_line(tmp_path, args, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("p.npy", np.full((4, 3), 1 / 3))
    np.save("y.npy", np.zeros(4, dtype=np.int64))
    np.save("w.npy", np.ones(3))
    np.save("wshort.npy", np.ones(2))
    np.save("wnan.npy", np.array([1.0, np.nan, 1.0]))
    rc, _, err = cli("score", "p.npy", *args)
    assert_one_line_error(rc, err, 2, message)
    assert not os.path.exists("o.npy")


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink", "symlink-to-labels"])
@pytest.mark.parametrize("force", [False, True])
def test_output_that_is_an_input_is_refused(tmp_path, link, force):
    x = np.random.default_rng(0).standard_normal((50, 4))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.zeros(50, dtype=np.int64))
    before = {n: (tmp_path / n).read_bytes() for n in ("x.npy", "y.npy")}
    out = tmp_path / "out.npy"
    if link == "same":
        out = tmp_path / "x.npy"
    elif link == "symlink":
        out.symlink_to(tmp_path / "x.npy")
    elif link == "hardlink":
        os.link(tmp_path / "x.npy", out)
    else:
        out.symlink_to(tmp_path / "y.npy")
    rc, _, err = cli("score", tmp_path / "x.npy", "--measure", "softmax_cross_entropy", "--labels",
                     tmp_path / "y.npy", "-o", out, *(["--force"] if force else []))
    assert_one_line_error(rc, err, 2, "exists" if not force else "(the same file)")
    assert {n: (tmp_path / n).read_bytes() for n in before} == before
    assert not any(n.endswith(".part") for n in os.listdir(tmp_path))


def _npy(path, header, data=b"", version=b"\x01\x00", length=None):
    h = header.encode("latin-1")
    n = len(h) if length is None else length
    width = 2 if version[0] == 1 else 4
    path.write_bytes(b"\x93NUMPY" + version + n.to_bytes(width, "little") + h + data)
    return path


CORRUPT = {
    "header-0xffff-cut": (dict(header="{'descr': '<f8'", length=0xFFFF), "not a valid .npy file"),
    "header-garbage": (dict(header="{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), ]\n"),
                       "not a valid .npy file"),
    "header-nested": (dict(header="[" * 5000 + "]" * 5000 + "\n"), "not a valid .npy file"),
    "version-9": (dict(header="{}\n", version=b"\x09\x00"), "unknown format version"),
    "negative-shape": (dict(header="{'descr': '<f8', 'fortran_order': False, 'shape': (-2, 3), }\n"),
                       "bad shape"),
    "unknown-dtype": (dict(header="{'descr': '<q9', 'fortran_order': False, 'shape': (2, 3), }\n"),
                      "unknown dtype"),
    "object-dtype": (dict(header="{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }\n"),
                     "unsupported dtype"),
    "data-truncated": (dict(header="{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n",
                            data=bytes(40)), "truncated .npy file"),
    "empty-file": (None, "not a .npy file"),
    "magic-only": (b"\x93NUMPY\x01", "not a valid .npy file"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_npy_is_one_line(tmp_path, case):
    spec, message = CORRUPT[case]
    path = tmp_path / "bad.npy"
    if spec is None:
        path.write_bytes(b"")
    elif isinstance(spec, bytes):
        path.write_bytes(spec)
    else:
        _npy(path, **spec)
    before = path.read_bytes()
    rc, _, err = cli("score", path, "--measure", "entropy", "-o", tmp_path / "out.npy")
    assert_one_line_error(rc, err, 2, message)
    assert "allow_pickle" not in err
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["bad.npy"]


def test_a_long_valid_header_is_read(tmp_path):
    # NumPy refuses a header over 10 000 bytes unless told to trust the file; the format allows
    # 65 535 (version 1.0), and a header is parsed as a literal here, never executed
    text = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }"
    text += " " * (0xFFFF - len(text) - 1) + "\n"
    p = np.random.default_rng(1).dirichlet(np.ones(4), 3)
    path = _npy(tmp_path / "long.npy", text, p.tobytes())
    rc, stdout, err = cli("score", path, "--measure", "entropy", "--reduction", "sum")
    assert rc == 0, err
    assert float(stdout) == pytest.approx(scipy.stats.entropy(p, axis=1).sum(), rel=1e-14)


@pytest.mark.parametrize("layout", ["fortran", "big-endian", "fortran-big-endian"])
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("chunk", ["1", "3", None])
def test_fortran_order_and_byte_order(tmp_path, layout, axis, chunk):
    p = np.random.default_rng(2).random((4, 5, 6)) + 0.01      # normalized along --axis by both sides
    stored = np.asfortranarray(p) if "fortran" in layout else p
    if "big" in layout:
        stored = stored.astype(">f8")
    np.save(tmp_path / "p.npy", stored)
    out = tmp_path / "out.npy"
    rc, _, err = cli("score", tmp_path / "p.npy", "--measure", "entropy", "--normalize", "--axis", axis, "-o", out,
                     *(["--chunk-rows", chunk] if chunk else []))
    assert rc == 0, err
    got = np.load(out)
    assert got.dtype == np.float64 and got.flags.c_contiguous
    np.testing.assert_allclose(got, scipy.stats.entropy(p, axis=axis), rtol=1e-13)


def test_elementwise_output_along_a_leading_class_axis(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 7, 2))
    t = rng.random((3, 7, 2))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    out = tmp_path / "out.npy"
    rc, _, err = cli("score", tmp_path / "x.npy", "--measure", "sigmoid_cross_entropy", "--targets",
                     tmp_path / "t.npy", "--axis", "0", "--chunk-rows", "2", "-o", out)
    assert rc == 0, err
    # the oracle: log(1 + exp(x)) - t x, elementwise
    np.testing.assert_allclose(np.load(out), np.logaddexp(0, x) - t * x, rtol=1e-13, atol=1e-15)


def test_bare_command_prints_help_and_version():
    rc, stdout, err = cli()
    assert rc == 0 and err == ""
    assert stdout.startswith("usage: fastinfo") and "exit status" in stdout and "generating" not in stdout
    rc, stdout, _ = cli("--version")
    import fastinfo
    assert rc == 0 and stdout.strip() == f"fastinfo {fastinfo.__version__}"


def test_help_documents_the_exit_status():
    rc, stdout, _ = cli("score", "--help")
    assert rc == 0
    for text in ("exit status", "130 SIGINT", "143 SIGTERM", "129 SIGHUP", "--ignore-index", "--reduction"):
        assert text in stdout, text


def test_summary_and_json(tmp_path):
    """--summary / --json: the results' count, mean (as --reduction mean, ignored rows left out),
    sum, min and max, against NumPy's over the library's per-row results."""
    import json

    import fastinfo
    rng = np.random.default_rng(8)
    x = (2 * rng.standard_normal((N, K))).astype(np.float32)
    y = rng.integers(0, K, N)
    y[::5] = -100
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    r = fastinfo.softmax_cross_entropy(x, y, ignore_index=-100).astype(np.float64)
    kept = r[y != -100]
    base = ["score", tmp_path / "x.npy", "--measure", "softmax_cross_entropy", "--labels", tmp_path / "y.npy",
            "--ignore-index", "-100", "--chunk-rows", CHUNK]
    rc, out, err = cli(*base, "--json", "-o", tmp_path / "o.npy")
    assert rc == 0, err
    info = json.loads(out)
    assert info["rows"] == N and info["results"] == kept.size and info["output"] == str(tmp_path / "o.npy")
    assert info["mean"] == pytest.approx(kept.mean(), rel=1e-12)
    assert info["sum"] == pytest.approx(r.sum(), rel=1e-12)
    assert (info["min"], info["max"]) == (kept.min(), kept.max())
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), fastinfo.softmax_cross_entropy(x, y, ignore_index=-100))
    rc, mean_out, _ = cli(*base, "--reduction", "mean")
    rc2, line, err = cli(*base, "--summary")              # no -o: prints, writes nothing
    assert rc == rc2 == 0, err
    assert len(line.strip().splitlines()) == 1
    assert f"mean {mean_out.strip()}" in line and f"{kept.size} results" in line
    assert not list(tmp_path.glob("*.part"))
    rc, out, _ = cli("score", tmp_path / "x.npy", "--measure", "softmax_entropy", "--json", "--reduction", "sum")
    assert rc == 0 and json.loads(out)["reduction"] == "sum"


def test_json_over_nothing_is_null(tmp_path):
    import json
    np.save(tmp_path / "x.npy", np.zeros((0, 3)))
    rc, out, err = cli("score", tmp_path / "x.npy", "--measure", "logsumexp", "--json")
    assert rc == 0, err
    info = json.loads(out)
    assert info["results"] == 0 and info["mean"] is None and info["min"] is None
