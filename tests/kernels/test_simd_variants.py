"""Every compiled SIMD variant this CPU runs, chosen with FASTINFO_SIMD in a child process:
the probability measures give SciPy's values (row lengths around every vector width, 1 and 2
threads bitwise equal, strided rows bitwise the contiguous ones, the zero / near-equal /
invalid-row conventions); and the default
variant with OMP_NUM_THREADS."""

import json
import math
import textwrap

import numpy as np
import pytest
import scipy.stats
from fastinfo._dispatch import simd_level
from helpers import (KERNEL_LEVELS, OTHER_LEVEL_SUITES, as_bits, assert_close, fastinfo_env, neglog, ref_cross_entropy, ref_entropy,
                     ref_js, ref_js_distance, ref_kl, ref_normalize, run_python)

SIMD_SCRIPT = textwrap.dedent(
    r"""
    import json, sys
    import numpy as np
    import fastinfo

    data = np.load(sys.argv[1])
    res = {}
    for key in data.files:
        if not key.startswith("p_"):
            continue
        k = key[2:]
        p, q = data[key], data["q_" + k]
        for n in (1, 2):
            res[f"H_{k}_{n}"] = fastinfo.entropy(p, n_threads=n)
            res[f"CE_{k}_{n}"] = fastinfo.cross_entropy(p, q, n_threads=n)
            res[f"KL_{k}_{n}"] = fastinfo.kl_divergence(p, q, n_threads=n)
            res[f"JS_{k}_{n}"] = fastinfo.js_divergence(p, q, n_threads=n)
            res[f"JSD_{k}_{n}"] = fastinfo.js_divergence(p, q, distance=True, n_threads=n)
            res[f"S_{k}_{n}"] = fastinfo.surprisal(p, n_threads=n)
            res[f"HN_{k}_{n}"] = fastinfo.entropy(p, normalize=True, base=2, n_threads=n)
            res[f"PJS_{k}_{n}"] = fastinfo.pairwise_js_divergence(p, q, normalize=True, n_threads=n)
            res[f"PJS32_{k}_{n}"] = fastinfo.pairwise_js_divergence(p.astype(np.float32), q.astype(np.float32)[:, ::-1],
                                                                    normalize=True, n_threads=n)
        # the same rows read with a stride (every other element of a wider buffer): bitwise
        # the contiguous results, for every storage type (the strided lane loads)
        for dt in ("float64", "float32", "float16"):
            pc, qc = p.astype(dt), q.astype(dt)
            ps, qs = np.zeros((3, 2 * pc.shape[1]), dt), np.zeros((3, 2 * pc.shape[1]), dt)
            ps[:, ::2], qs[:, ::2] = pc, qc
            ps, qs = ps[:, ::2], qs[:, ::2]
            for name, f in (("H", lambda a, b: fastinfo.entropy(a)),
                            ("KL", lambda a, b: fastinfo.kl_divergence(a, b)),
                            ("JS", lambda a, b: fastinfo.js_divergence(a, b)),
                            ("LSE", lambda a, b: fastinfo.logsumexp(b)),
                            ("SCE", lambda a, b: fastinfo.softmax_cross_entropy(b, np.zeros(3, np.intp)))):
                res[f"strided_{name}_{dt}_{k}"] = f(ps, qs)
                res[f"contig_{name}_{dt}_{k}"] = f(pc, qc)
    res["zeros_kl"] = fastinfo.kl_divergence(data["z_p"], data["z_q"])
    res["zeros_ce"] = fastinfo.cross_entropy(data["z_p"], data["z_q"])
    res["zeros_js"] = fastinfo.js_divergence(data["z_p"], data["z_q"], distance=True)
    res["close_js"] = fastinfo.js_divergence(data["c_p"], data["c_q"], distance=True, normalize=True)
    res["close_kl"] = fastinfo.kl_divergence(data["c_p"], data["c_q"], normalize=True)
    res["nan_rows"] = fastinfo.entropy(data["bad"], invalid="nan")
    # fastinfo._core's spacing estimators sum their logs with the selected variant's lanes
    for method in ("vasicek", "van es", "ebrahimi", "correa"):
        res["de_" + method] = fastinfo.differential_entropy(data["de"], method=method)
    try:
        fastinfo.entropy(data["bad"])
        msg = None
    except ValueError as e:
        msg = str(e)
    np.savez(sys.argv[2], **res)
    print(json.dumps({"config": fastinfo.config(), "msg": msg}, default=str))
    """
)

SIMD_KS = list(range(1, 40)) + [63, 64, 65, 127, 128, 129, 1000, 4097]


def _run_fastinfo_script(script, args, env, cwd):
    proc = run_python(["-c", script, *args], cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def simd_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("simd")
    rng = np.random.default_rng(57)
    arrays = {}
    for k in SIMD_KS:
        p = rng.random((3, k))
        p[rng.random(p.shape) < 0.2] = 0.0
        p[:, 0] += 0.1
        arrays[f"p_{k}"] = p
        arrays[f"q_{k}"] = rng.random((3, k)) + 1e-3
    arrays["z_p"] = np.array([[0.0, 0.5, 0.5], [0.5, 0.5, 0.0], [0.25, 0.75, 0.0]])
    arrays["z_q"] = np.array([[0.0, 0.5, 0.5], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])
    cp = rng.dirichlet(np.ones(37), size=4)
    arrays["c_p"] = cp
    arrays["c_q"] = cp * (1 + 1e-15 * rng.standard_normal(cp.shape))
    bad = rng.random((5, 19))
    bad[3, 17] = np.nan
    arrays["bad"] = bad
    arrays["de"] = rng.standard_normal((4, 1001)) * [[1.0], [1e-3], [1e3], [7.0]]
    path = d / "inputs.npz"
    np.savez(path, **arrays)
    return path, arrays


@pytest.mark.parametrize("level", KERNEL_LEVELS)
def test_every_simd_level(level, simd_inputs, tmp_path):
    in_path, data = simd_inputs
    out_path = tmp_path / "out.npz"
    info = _run_fastinfo_script(SIMD_SCRIPT, [str(in_path), str(out_path)],
                                fastinfo_env(FASTINFO_SIMD=level), cwd=tmp_path)
    assert info["config"]["simd"] == level
    res = np.load(out_path)
    for k in SIMD_KS:
        p, q = data[f"p_{k}"], data[f"q_{k}"]
        for n in (1, 2):
            assert_close(res[f"H_{k}_{n}"], ref_entropy(p))
            assert_close(res[f"CE_{k}_{n}"], ref_cross_entropy(p, q))
            assert_close(res[f"KL_{k}_{n}"], ref_kl(p, q), rtol=1e-12, atol=1e-14)
            assert_close(res[f"JS_{k}_{n}"], ref_js(p, q), rtol=1e-12, atol=1e-14)
            assert_close(res[f"JSD_{k}_{n}"], ref_js_distance(p, q), rtol=1e-12, atol=1e-7)
            assert_close(res[f"S_{k}_{n}"], neglog(p), rtol=1e-14)
            assert_close(res[f"HN_{k}_{n}"], ref_entropy(ref_normalize(p)) / math.log(2))
            # the pairwise JS fast path (one log per element; strided float32 rows too)
            for key, (a, b) in (("PJS", (p, q)),
                                ("PJS32", (p.astype(np.float32), q.astype(np.float32)[:, ::-1]))):
                a, b = ref_normalize(a.astype(np.float64)), ref_normalize(b.astype(np.float64))
                want = ref_js(np.repeat(a, len(b), 0), np.tile(b, (len(a), 1))).reshape(len(a), len(b))
                assert_close(res[f"{key}_{k}_{n}"], want, rtol=1e-11, atol=1e-15)
        for m in ("H", "CE", "KL", "JS", "JSD", "S", "HN", "PJS", "PJS32"):
            assert np.array_equal(as_bits(res[f"{m}_{k}_1"]), as_bits(res[f"{m}_{k}_2"])), (level, m, k)
        for dt in ("float64", "float32", "float16"):
            for m in ("H", "KL", "JS", "LSE", "SCE"):
                got, want = res[f"strided_{m}_{dt}_{k}"], res[f"contig_{m}_{dt}_{k}"]
                assert np.array_equal(as_bits(got), as_bits(want)), (level, m, dt, k)
    np.testing.assert_array_equal(res["zeros_kl"], [0.0, np.inf, np.inf])
    np.testing.assert_array_equal(np.isposinf(res["zeros_ce"]), [False, True, True])
    assert np.all(np.isfinite(res["zeros_js"])) and res["zeros_js"][0] == 0.0
    assert np.all(np.isfinite(res["close_js"])) and np.all(res["close_js"] >= 0) and np.all(res["close_js"] < 1e-6)
    assert np.all(res["close_kl"] >= 0) and np.all(res["close_kl"] < 1e-12)
    for method in ("vasicek", "van es", "ebrahimi", "correa"):
        want = scipy.stats.differential_entropy(data["de"], method=method, axis=-1)
        assert_close(res["de_" + method], want, rtol=1e-12, atol=1e-13)
    nr = res["nan_rows"]
    assert np.isnan(nr[3]) and not np.any(np.isnan(np.delete(nr, 3)))
    assert_close(np.delete(nr, 3), ref_entropy(np.delete(data["bad"], 3, axis=0)))
    assert info["msg"] is not None and "batch index (3,)" in info["msg"]


def test_simd_default_is_an_available_level_and_omp_num_threads_respected(tmp_path):
    script = textwrap.dedent(
        """
        import json
        import numpy as np
        import fastinfo
        p = np.random.default_rng(0).random((64, 1000))
        a = fastinfo.entropy(p)            # n_threads=None: OMP_NUM_THREADS
        b = fastinfo.entropy(p, n_threads=1)
        print(json.dumps({"config": fastinfo.config(), "same": bool(np.array_equal(a, b)),
                          "levels": sorted(fastinfo._dispatch.available_kernels())}))
        """
    )
    for n in ("1", "3"):
        info = _run_fastinfo_script(script, [], fastinfo_env(FASTINFO_SIMD=None, OMP_NUM_THREADS=n), cwd=tmp_path)
        cfg = info["config"]
        assert cfg["simd"] in info["levels"]
        assert info["same"]
        if cfg["openmp"]:
            assert cfg["max_threads"] == int(n)


@pytest.mark.parametrize("level", [lv for lv in KERNEL_LEVELS if lv != simd_level])
def test_row_suites_on_the_other_levels(level):
    """helpers.ROW_SUITES, run whole under another variant by a child pytest (started in the
    background when the tests were collected: see helpers.OtherLevelSuites)."""
    rc, out = OTHER_LEVEL_SUITES.wait(level)
    assert rc == 0, out[-6000:]
