"""The ``fastinfo`` command, driven as a subprocess (``python -m fastinfo``).

Every measure is compared with the library call on the same data (bitwise:
the command calls the same kernels chunk by chunk, and the kernels' results do
not depend on how the rows are grouped); chunk boundaries; every bad input
(one-line message, exit status 2, no output file left); Ctrl-C leaves no
partial file; peak resident memory does not grow with the file.
"""
import os

import numpy as np
import pytest
from helpers import assert_same_result, interrupt_cli, peak_rss_kb, run_python

import fastinfo


def run(args, cwd, timeout=120):
    return run_python(["-m", "fastinfo", *args], cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(7)
    N, K = 101, 37
    p = rng.random((N, K)); p[rng.random((N, K)) < 0.05] = 0; p /= p.sum(1, keepdims=True)
    q = rng.random((N, K)) + 0.01; q /= q.sum(1, keepdims=True)
    x = (3 * rng.standard_normal((N, K))).astype(np.float32)
    x2 = (3 * rng.standard_normal((N, K))).astype(np.float32)
    y = rng.integers(0, K, N).astype(np.int32)
    t = (rng.random((N, K)) > 0.5).astype(np.float32)
    soft = rng.random((N, K)).astype(np.float32); soft /= soft.sum(1, keepdims=True)
    arrays = dict(p=p, q=q, ref=q[3], x=x, x2=x2, y=y, t=t, soft=soft, p3=p.reshape(N, 1, K),
                  pT=np.ascontiguousarray(p.T), p1=p[0])
    for k, v in arrays.items():
        np.save(d / f"{k}.npy", v)
    bad = p.copy(); bad[77, 5] = np.nan; np.save(d / "bad.npy", bad)
    badx = x.copy(); badx[40, 2] = np.inf; np.save(d / "badx.npy", badx)
    (d / "text.npy").write_text("not numpy")
    np.savez(d / "arch.npz", p=p)
    (d / "arch.npy").write_bytes((d / "arch.npz").read_bytes())
    np.save(d / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(d / "short.npy", p[:, :10])
    return d, arrays


CASES = [
    ("entropy", [], lambda a: fastinfo.entropy(a["p"])),
    ("entropy", ["--base", "2", "--normalize"], lambda a: fastinfo.entropy(a["p"], base=2, normalize=True)),
    ("cross_entropy", ["--q", "q.npy"], lambda a: fastinfo.cross_entropy(a["p"], a["q"])),
    ("kl", ["--q", "q.npy"], lambda a: fastinfo.kl_divergence(a["p"], a["q"])),
    ("kl", ["--q", "ref.npy"], lambda a: fastinfo.kl_divergence(a["p"], a["ref"])),
    ("js", ["--q", "q.npy"], lambda a: fastinfo.js_divergence(a["p"], a["q"])),
]
LOGIT_CASES = [
    ("softmax_entropy", ["--temperature", "2"], lambda a: fastinfo.softmax_entropy(a["x"], temperature=2)),
    ("softmax_cross_entropy", ["--labels", "y.npy"], lambda a: fastinfo.softmax_cross_entropy(a["x"], a["y"])),
    ("softmax_cross_entropy", ["--targets", "soft.npy"],
     lambda a: fastinfo.softmax_cross_entropy(a["x"], a["soft"])),
    ("softmax_kl", ["--q", "x2.npy"], lambda a: fastinfo.softmax_kl_divergence(a["x"], a["x2"])),
    ("sigmoid_cross_entropy", ["--targets", "t.npy"], lambda a: fastinfo.sigmoid_cross_entropy(a["x"], a["t"])),
    ("logsumexp", [], lambda a: fastinfo.logsumexp(a["x"])),
]


@pytest.mark.parametrize("chunk", [None, "1", "7", "1000"])
@pytest.mark.parametrize("measure,extra,expect", CASES + LOGIT_CASES,
                         ids=[f"{c[0]}{i}" for i, c in enumerate(CASES + LOGIT_CASES)])
def test_score_matches_the_library(data, measure, extra, expect, chunk, tmp_path):
    d, a = data
    inp = "x.npy" if (measure, extra, expect) in LOGIT_CASES else "p.npy"
    out = tmp_path / "out.npy"
    args = ["score", str(d / inp), "--measure", measure, "-o", str(out)]
    args += [str(d / e) if e.endswith(".npy") else e for e in extra]
    if chunk:
        args += ["--chunk-rows", chunk]
    r = run(args, cwd=d)
    assert r.returncode == 0, r.stderr
    want = np.asarray(expect(a))
    got = np.load(out)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert r.stderr == ""            # no progress line: stderr is not a terminal
    assert [f for f in os.listdir(tmp_path) if f != "out.npy"] == []   # no temporary left


def test_score_axis_and_nd_input(data, tmp_path):
    d, a = data
    for inp, axis, want in (("pT.npy", "0", fastinfo.entropy(a["p"])),
                            ("p3.npy", "-1", fastinfo.entropy(a["p3"])),
                            ("p1.npy", "-1", fastinfo.entropy(a["p1"]))):
        out = tmp_path / f"{inp}.out.npy"
        r = run(["score", str(d / inp), "--measure", "entropy", "--axis", axis, "-o", str(out),
                 "--chunk-rows", "3"], cwd=d)
        assert r.returncode == 0, r.stderr
        # axis 0 reads strided rows (the generic loops, not the AVX-512 blocks): last-bit differences
        np.testing.assert_allclose(np.load(out), want, rtol=1e-14, atol=0)


DTYPE_CASES = [
    # (measure, input, second operand option and array, extra options, the library call)
    ("entropy", "p16", None, ["--chunk-rows", "7"], lambda a: fastinfo.entropy(a["p16"])),
    ("entropy", "c8", None, ["--normalize"], lambda a: fastinfo.entropy(a["c8"], normalize=True)),
    ("entropy", "c64", None, ["--normalize", "--chunk-rows", "10"],
     lambda a: fastinfo.entropy(a["c64"], normalize=True)),
    ("kl", "p16", ("--q", "q32"), [], lambda a: fastinfo.kl_divergence(a["p16"], a["q32"])),
    ("kl", "p16", ("--q", "q"), [], lambda a: fastinfo.kl_divergence(a["p16"], a["q"])),
    ("js", "c64", ("--q", "q16"), ["--normalize"], lambda a: fastinfo.js_divergence(a["c64"], a["q16"], normalize=True)),
    ("cross_entropy", "c8", ("--q", "c64"), ["--normalize"],
     lambda a: fastinfo.cross_entropy(a["c8"], a["c64"], normalize=True)),
    ("softmax_cross_entropy", "x16", ("--labels", "y"), ["--chunk-rows", "7"],
     lambda a: fastinfo.softmax_cross_entropy(a["x16"], a["y"])),
    ("softmax_entropy", "x16", None, ["--temperature", "2"], lambda a: fastinfo.softmax_entropy(a["x16"], temperature=2)),
    ("logsumexp", "x16", None, [], lambda a: fastinfo.logsumexp(a["x16"])),
    ("softmax_kl", "x16", ("--q", "x2"), [], lambda a: fastinfo.softmax_kl_divergence(a["x16"], a["x2"])),
    ("sigmoid_cross_entropy", "x16", ("--targets", "t16"), [],
     lambda a: fastinfo.sigmoid_cross_entropy(a["x16"], a["t16"])),
]


@pytest.mark.parametrize("measure,inp,second,extra,expect", DTYPE_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2][1] if c[2] else ''}" for c in DTYPE_CASES])
def test_score_takes_the_dtypes_of_the_library(data, measure, inp, second, extra, expect, tmp_path):
    """float16 rows as stored, integer counts with --normalize: the library's values and dtype."""
    d, a = data
    more = dict(p16=a["p"].astype(np.float16), q16=a["q"].astype(np.float16), q32=a["q"].astype(np.float32),
                c8=np.random.default_rng(3).integers(0, 200, a["p"].shape).astype(np.uint8),
                c64=np.random.default_rng(4).integers(1, 10**6, a["p"].shape),
                x16=a["x"].astype(np.float16), t16=a["t"].astype(np.float16))
    for k, v in more.items():
        np.save(tmp_path / f"{k}.npy", v)
    a = dict(a, **more)
    out = tmp_path / "out.npy"
    args = ["score", str(tmp_path / f"{inp}.npy"), "--measure", measure, "-o", str(out), *extra]
    if second:
        src = tmp_path if second[1] in more else d
        args += [second[0], str(src / f"{second[1]}.npy")]
    r = run(args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert_same_result(np.load(out), expect(a))


def test_files_are_told_apart_by_their_bytes_not_their_names(data, tmp_path):
    """A .npz archive named .npy is read as the archive (its one array)."""
    d, a = data
    out = tmp_path / "out.npy"
    r = run(["score", str(d / "arch.npy"), "--measure", "entropy", "-o", str(out)], cwd=d)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(out), fastinfo.entropy(a["p"]))


BAD = [
    (["score", "missing.npy", "--measure", "entropy"], "no such file"),
    (["score", "text.npy", "--measure", "entropy"], "not a .npy file"),
    (["score", "obj.npy", "--measure", "entropy"], "obj.npy"),
    (["score", "y.npy", "--measure", "entropy"], "pass --normalize"),
    (["score", "y.npy", "--measure", "logsumexp"], "expected float16, float32 or float64"),
    (["score", "p.npy", "--measure", "kl", "--q", "y.npy"], "pass --normalize"),
    (["score", "p.npy", "--measure", "kl"], "needs --q"),
    (["score", "p.npy", "--measure", "kl", "--q", "short.npy"], "differs from the input"),
    (["score", "p.npy", "--measure", "entropy", "--q", "q.npy"], "takes no --q"),
    (["score", "x.npy", "--measure", "softmax_cross_entropy"], "needs --labels"),
    (["score", "x.npy", "--measure", "softmax_cross_entropy", "--labels", "p.npy"], "expected integers"),
    (["score", "x.npy", "--measure", "softmax_cross_entropy", "--labels", "t.npy"], "expected integers"),
    (["score", "bad.npy", "--measure", "entropy"], "row 77"),
    (["score", "badx.npy", "--measure", "logsumexp"], "row 40"),
    (["score", "p.npy", "--measure", "entropy", "--axis", "5"], "out of range"),
    (["score", "p.npy", "--measure", "entropy", "--base", "1"], "--base"),
    (["score", "p.npy", "--measure", "entropy", "--temperature", "2"], "--temperature"),
    (["score", "x.npy", "--measure", "softmax_entropy", "--temperature", "-1"], "--temperature"),
    (["score", "p.npy", "--measure", "entropy", "--chunk-rows", "0"], "--chunk-rows"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_one_line_and_leaves_no_file(data, args, message, tmp_path):
    d, _ = data
    out = tmp_path / "out.npy"
    r = run(args + ["-o", str(out)], cwd=d)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert message in lines[0], lines[0]
    assert lines[0].startswith("fastinfo score: error:")
    assert os.listdir(tmp_path) == []


def test_existing_output_needs_force(data, tmp_path):
    d, a = data
    out = tmp_path / "out.npy"
    out.write_bytes(b"keep me")
    r = run(["score", str(d / "p.npy"), "--measure", "entropy", "-o", str(out)], cwd=d)
    assert r.returncode == 2 and "exists" in r.stderr and out.read_bytes() == b"keep me"
    r = run(["score", str(d / "p.npy"), "--measure", "entropy", "-o", str(out), "--force"], cwd=d)
    assert r.returncode == 0
    np.testing.assert_array_equal(np.load(out), fastinfo.entropy(a["p"]))


def test_usage_errors_exit_2(tmp_path):
    r = run(["score"], cwd=tmp_path)
    assert r.returncode == 2
    r = run(["frobnicate"], cwd=tmp_path)
    assert r.returncode == 2


def test_info_prints_the_configuration(tmp_path):
    r = run(["info"], cwd=tmp_path)
    assert r.returncode == 0 and "OpenMP" in r.stdout and "SIMD level" in r.stdout


def test_demo_small(tmp_path):
    r = run(["demo", "--rows", "3000", "--classes", "50"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "softmax_cross_entropy" in r.stdout and "rows/s" in r.stdout


def _logits_file(path, rows):
    """rows x 1000 float32 logits on disk, written through a memory map."""
    m = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 1_000))
    m[:, :] = 0
    m[:, 0] = 1
    m.flush()
    del m
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 256 MB float32 input."""
    return _logits_file(tmp_path_factory.mktemp("big") / "big.npy", 64_000)


def test_ctrl_c_leaves_no_partial_file(big, tmp_path):
    # 64 000 one-row chunks take seconds: the signal comes in the middle
    rc, err = interrupt_cli(["score", str(big), "--measure", "softmax_entropy", "--chunk-rows", "1", "--threads",
                             "1", "-o", str(tmp_path / "out.npy")], tmp_path)
    assert rc == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_peak_memory_does_not_grow_with_the_file(big, tmp_path):
    small = _logits_file(tmp_path / "small.npy", 16_000)
    rss = {}
    for name, path in (("64MB", small), ("256MB", big)):
        rss[name] = peak_rss_kb(["score", str(path), "--measure", "softmax_entropy", "--chunk-rows", "4000",
                                  "-o", str(tmp_path / f"{name}.npy")], tmp_path)
    # 4x the file, 192 MB more input: the peak may differ by the output (a few hundred KB) and noise
    assert rss["256MB"] - rss["64MB"] < 32 * 1024, rss


@pytest.mark.parametrize("args", [[], ["--quick"]], ids=["no-options", "old-options"])
def test_bench_points_to_the_benchmark_script(args, tmp_path):
    # the benchmarks live outside the package, in the source tree: the command says where,
    # in one line, whatever options an old invocation passes
    r = run(["bench", *args], cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "bench/run.py" in lines[0], lines[0]
    assert os.listdir(tmp_path) == []
