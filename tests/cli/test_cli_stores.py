"""``fastinfo score`` on arrays inside containers: ``.npz`` members (``np.savez``,
``np.savez_compressed``), HDF5 datasets (h5py) and Zarr arrays (a store, or an array of a
group), written by those tools; the scores equal the Python API's bitwise for several chunk
sizes; a missing key, a group without a name, a damaged archive are one line, exit 2."""
import numpy as np
import pytest
from helpers import assert_one_line_failure, assert_same_result, run_python

import fastinfo

N, K = 157, 23


def run(args, cwd):
    return run_python(["-m", "fastinfo", *args], cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("stores")
    rng = np.random.default_rng(5)
    x = (3 * rng.standard_normal((N, K))).astype(np.float32)
    p = rng.random((N, K)); p /= p.sum(1, keepdims=True)
    y = rng.integers(0, K, N)
    q = rng.random((N, K)) + 0.01; q /= q.sum(1, keepdims=True)
    a = dict(x=x, p=p, y=y, x16=x.astype(np.float16), q=q)
    np.savez_compressed(d / "q.npz", q=q)
    np.savez(d / "plain.npz", logits=x, labels=y, probs=np.asfortranarray(p), x16=a["x16"])
    np.savez_compressed(d / "packed.npz", logits=x, labels=y, probsT=np.ascontiguousarray(p.T))
    np.savez(d / "one.npz", x)
    h5py = pytest.importorskip("h5py")
    with h5py.File(d / "data.h5", "w") as f:
        f.create_dataset("model/logits", data=x, chunks=(16, K), compression="gzip")
        f.create_dataset("labels", data=y)
        f.create_dataset("probs", data=p)
        f.create_dataset("q", data=q)
    zarr = pytest.importorskip("zarr")
    z = zarr.open_array(str(d / "logits.zarr"), mode="w", shape=x.shape, dtype=x.dtype, chunks=(20, K))
    z[:] = x
    g = zarr.open_group(str(d / "run.zarr"), mode="w")
    gp = g.create_array("probs", shape=p.shape, dtype=p.dtype, chunks=(30, 7)) if hasattr(g, "create_array") \
        else g.create_dataset("probs", shape=p.shape, dtype=p.dtype, chunks=(30, 7))
    gp[:] = p
    return d, a


CASES = [
    (["plain.npz:logits", "--measure", "softmax_cross_entropy", "--labels", "plain.npz:labels"],
     lambda a: fastinfo.softmax_cross_entropy(a["x"], a["y"])),
    (["plain.npz:probs", "--measure", "entropy"], lambda a: fastinfo.entropy(a["p"])),
    (["plain.npz:x16", "--measure", "logsumexp"], lambda a: fastinfo.logsumexp(a["x16"])),
    (["packed.npz:logits", "--measure", "softmax_cross_entropy", "--labels", "packed.npz:labels"],
     lambda a: fastinfo.softmax_cross_entropy(a["x"], a["y"])),
    (["one.npz", "--measure", "softmax_entropy"], lambda a: fastinfo.softmax_entropy(a["x"])),
    (["data.h5:/model/logits", "--measure", "softmax_cross_entropy", "--labels", "data.h5:labels"],
     lambda a: fastinfo.softmax_cross_entropy(a["x"], a["y"])),
    (["data.h5:probs", "--measure", "kl", "--q", "q.npz:q"], lambda a: fastinfo.kl_divergence(a["p"], a["q"])),
    (["logits.zarr", "--measure", "logsumexp"], lambda a: fastinfo.logsumexp(a["x"])),
    (["run.zarr:probs", "--measure", "js", "--q", "data.h5:q"], lambda a: fastinfo.js_divergence(a["p"], a["q"])),
    (["q.npz:q", "--measure", "cross_entropy", "--q", "run.zarr:probs"],
     lambda a: fastinfo.cross_entropy(a["q"], a["p"])),
]


@pytest.mark.parametrize("chunk", ["1", "33", "1000"])
@pytest.mark.parametrize("args,expect", CASES, ids=[f"{c[0][0]}-{c[0][2]}" for c in CASES])
def test_store_scores_equal_the_library(stores, args, expect, chunk, tmp_path):
    d, a = stores
    out = tmp_path / "out.npy"
    r = run(["score", *args, "-o", str(out), "--chunk-rows", chunk], cwd=d)   # relative paths, in d
    assert r.returncode == 0, r.stderr
    assert_same_result(np.load(out), expect(a))


def test_class_axis_first_from_an_uncompressed_member_and_hdf5(stores, tmp_path):
    """Rows along axis 1: a stored member is read at any offset, HDF5 by slicing; the library
    on the same array with axis=0 is the reference."""
    import h5py
    d, a = stores
    pT = np.ascontiguousarray(a["p"].T)
    np.savez(tmp_path / "t.npz", probsT=pT)
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f.create_dataset("probsT", data=pT, chunks=(5, 16))
    for spec in (str(tmp_path / "t.npz:probsT"), str(tmp_path / "t.h5:probsT")):
        out = tmp_path / "o.npy"
        r = run(["score", spec, "--measure", "entropy", "--axis", "0", "-o", str(out), "--chunk-rows", "10",
                 "--force"], cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        np.testing.assert_array_equal(np.load(out), fastinfo.entropy(pT, axis=0))


BAD = [
    (["plain.npz", "--measure", "logsumexp"], ["plain.npz", "name the array", "logits"]),
    (["plain.npz:nope", "--measure", "logsumexp"], ["plain.npz", "no array 'nope'"]),
    (["packed.npz:probsT", "--measure", "entropy", "--axis", "0"], ["packed.npz:probsT", "front to back",
                                                                     "np.savez"]),
    (["data.h5", "--measure", "logsumexp"], ["data.h5", "name the dataset", "/model/logits"]),
    (["data.h5:/nope", "--measure", "logsumexp"], ["data.h5", "no dataset '/nope'"]),
    (["run.zarr", "--measure", "entropy"], ["run.zarr", "Zarr group", "probs"]),
    (["run.zarr:nope", "--measure", "entropy"], ["run.zarr", "no array 'nope'"]),
    (["cut.npz:logits", "--measure", "logsumexp"], ["cut.npz"]),
    (["damaged.npz:logits", "--measure", "logsumexp"], ["damaged.npz:logits", "damaged member"]),
    (["x.npy:logits", "--measure", "logsumexp"], ["x.npy", "holds no array 'logits'"]),
]


@pytest.mark.parametrize("args,words", BAD, ids=[b[0][0] for b in BAD])
def test_bad_store_is_one_line_and_leaves_no_file(stores, args, words, tmp_path):
    d, a = stores
    raw = (d / "plain.npz").read_bytes()
    (d / "cut.npz").write_bytes(raw[:len(raw) // 2])
    packed = bytearray((d / "packed.npz").read_bytes())
    mid = len(packed) // 4                       # inside the first member's deflate stream
    packed[mid:mid + 64] = bytes(64)
    (d / "damaged.npz").write_bytes(bytes(packed))
    np.save(d / "x.npy", a["x"])
    out = tmp_path / "out.npy"
    r = run(["score", *args, "-o", str(out)], cwd=d)
    assert_one_line_failure(r, words, out)


@pytest.mark.parametrize("module,extra,spec", [("h5py", "hdf5", "data.h5:labels"), ("zarr", "zarr", "logits.zarr")])
def test_without_the_reader_the_error_names_the_extra(stores, module, extra, spec, tmp_path):
    d, _ = stores
    code = (f"import sys; sys.modules[{module!r}] = None; from fastinfo._cli import main; "
            f"sys.exit(main(['score', {str(d / spec)!r}, '--measure', 'logsumexp', '-o', {str(tmp_path / 'o.npy')!r}]))")
    r = run_python(["-c", code], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert f"pip install 'fastinfo[{extra}]'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_csv_input_equals_the_library(stores, tmp_path):
    """A CSV of one distribution a line, written by pandas (a header) and np.savetxt (none)."""
    import pandas as pd
    d, a = stores
    pd.DataFrame(a["p"], columns=[f"p{k}" for k in range(K)]).to_csv(tmp_path / "p.csv", index=False)
    np.savetxt(tmp_path / "x.csv", a["x"].astype(np.float64), delimiter=",", fmt="%.17g")
    for spec, measure, want in (("p.csv", "entropy", fastinfo.entropy(a["p"])),
                                ("x.csv", "softmax_entropy", fastinfo.softmax_entropy(a["x"].astype(np.float64)))):
        out = tmp_path / f"{spec}.npy"
        r = run(["score", str(tmp_path / spec), "--measure", measure, "-o", str(out), "--chunk-rows", "10"],
                cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        np.testing.assert_array_equal(np.load(out), want)


def test_bad_csv_is_one_line(tmp_path, monkeypatch):
    import contextlib
    import io

    from fastinfo import _stores
    from fastinfo._cli import main
    (tmp_path / "ragged.csv").write_text("0.2,0.3,0.5\n0.1,0.9\n")
    (tmp_path / "text.csv").write_text("0.2,0.3,x\n")
    np.savetxt(tmp_path / "big.csv", np.full((100, 10), 0.1), delimiter=",")
    monkeypatch.setattr(_stores, "CSV_LIMIT", 1000)
    for name, words in (("ragged.csv", ["ragged.csv", "changed from 3 to 2"]), ("text.csv", ["text.csv", "'x'"]),
                        ("big.csv", ["big.csv", "convert it to .npy or Parquet"])):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(["score", str(tmp_path / name), "--measure", "entropy", "-o", str(tmp_path / "o.npy")])
        lines = err.getvalue().strip().splitlines()
        assert rc == 2 and len(lines) == 1, err.getvalue()
        assert all(w in lines[0] for w in words), lines[0]
        assert not (tmp_path / "o.npy").exists()
