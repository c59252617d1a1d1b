"""`cimport fastinfo.capi`: a tiny external Cython extension is built against the
installed package in a temporary folder (as SciPy's test_extending.py does) and its loops over
the row kernels are compared with the Python API."""

import sys
import textwrap

import numpy as np
import pytest
from helpers import run_python

import fastinfo as fi

pytest.importorskip("Cython")
pytest.importorskip("setuptools")

PYX = textwrap.dedent('''
    # cython: language_level=3, boundscheck=False, wraparound=False
    import numpy as np
    from cython.parallel cimport prange
    from fastinfo.capi cimport (entropy, entropy_f32, cross_entropy, kl_divergence, kl_divergence_f32,
                                js_divergence, logsumexp, logsumexp_f32, softmax_cross_entropy)

    def rows(str what, const double[:, :] p, const double[:, :] q, bint normalize):
        """One measure per row of p (and q), in a nogil prange loop: no Python per row."""
        cdef Py_ssize_t i, n = p.shape[0], K = p.shape[1]
        cdef Py_ssize_t ps = p.strides[1] // 8, qs = q.strides[1] // 8
        out = np.empty(n)
        cdef double[::1] o = out
        cdef int w = ["entropy", "cross_entropy", "kl_divergence", "js_divergence", "logsumexp"].index(what)
        with nogil:
            for i in prange(n, schedule="static"):
                if w == 0:
                    o[i] = entropy(&p[i, 0], K, ps, normalize)
                elif w == 1:
                    o[i] = cross_entropy(&p[i, 0], ps, &q[i, 0], qs, K, normalize)
                elif w == 2:
                    o[i] = kl_divergence(&p[i, 0], ps, &q[i, 0], qs, K, normalize)
                elif w == 3:
                    o[i] = js_divergence(&p[i, 0], ps, &q[i, 0], qs, K, normalize)
                else:
                    o[i] = logsumexp(&p[i, 0], K, ps)
        return out

    def rows_f32(const float[:, ::1] p, const float[:, ::1] q):
        cdef Py_ssize_t i, n = p.shape[0], K = p.shape[1]
        out = np.empty((3, n))
        cdef double[:, ::1] o = out
        with nogil:
            for i in range(n):
                o[0, i] = entropy_f32(&p[i, 0], K, 1, True)
                o[1, i] = kl_divergence_f32(&p[i, 0], 1, &q[i, 0], 1, K, True)
                o[2, i] = logsumexp_f32(&q[i, 0], K, 1)
        return out

    def ce(const double[:, ::1] logits, const long long[::1] labels):
        cdef Py_ssize_t i, n = logits.shape[0], K = logits.shape[1]
        out = np.empty(n)
        cdef double[::1] o = out
        with nogil:
            for i in range(n):
                o[i] = softmax_cross_entropy(&logits[i, 0], K, 1, labels[i])
        return out
''')

SETUP = textwrap.dedent('''
    from setuptools import setup, Extension
    from Cython.Build import cythonize
    import numpy as np
    setup(ext_modules=cythonize([Extension("fi_ext", ["fi_ext.pyx"], include_dirs=[np.get_include()])],
                                quiet=True), script_args=["build_ext", "--inplace", "-q"])
''')


@pytest.fixture(scope="module")
def ext(tmp_path_factory):
    d = tmp_path_factory.mktemp("extending")
    (d / "fi_ext.pyx").write_text(PYX)
    (d / "setup.py").write_text(SETUP)
    # the installed fastinfo (and its .pxd files) must be what Cython and the import find
    r = run_python(["setup.py"], cwd=d, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    sys.path.insert(0, str(d))
    try:
        import fi_ext
        yield fi_ext
    finally:
        sys.path.remove(str(d))


RNG = np.random.default_rng(31)
P = RNG.random((300, 77))
Q = RNG.random((300, 77))


@pytest.mark.parametrize("what", ["entropy", "cross_entropy", "kl_divergence", "js_divergence"])
@pytest.mark.parametrize("normalize", [True, False])
def test_row_kernels_match_the_python_api(ext, what, normalize):
    p = P / P.sum(1, keepdims=True) if not normalize else P
    q = Q / Q.sum(1, keepdims=True) if not normalize else Q
    ref = getattr(fi, what)(p, normalize=normalize) if what == "entropy" else getattr(fi, what)(p, q, normalize=normalize)
    got = ext.rows(what, p, q, normalize)
    np.testing.assert_array_equal(got, ref)          # the same kernels: bitwise


def test_strided_rows_logsumexp_and_invalid_rows(ext):
    F = np.asfortranarray(P)                          # element stride 300
    # strided rows take the kernels' any-stride loop: the same sums up to the last bit
    np.testing.assert_allclose(ext.rows("entropy", F, F, True), fi.entropy(P, normalize=True), rtol=1e-14)
    np.testing.assert_array_equal(ext.rows("logsumexp", P, P, False), fi.logsumexp(P))
    bad = P.copy()
    bad[7, 3] = -1.0
    bad[9, 0] = np.nan
    got = ext.rows("entropy", bad, bad, True)         # no exception in nogil code: NaN
    assert np.isnan(got[7]) and np.isnan(got[9])
    np.testing.assert_array_equal(np.delete(got, [7, 9]), np.delete(fi.entropy(P, normalize=True), [7, 9]))


def test_float32_and_softmax_cross_entropy(ext):
    p32, q32 = P.astype(np.float32), Q.astype(np.float32)
    got = ext.rows_f32(p32, q32)
    np.testing.assert_array_equal(got[0].astype(np.float32), fi.entropy(p32, normalize=True))
    np.testing.assert_array_equal(got[1].astype(np.float32), fi.kl_divergence(p32, q32, normalize=True))
    np.testing.assert_allclose(got[2], fi.logsumexp(q32), rtol=1e-6)
    labels = RNG.integers(0, 77, 300).astype(np.int64)
    np.testing.assert_array_equal(ext.ce(P, labels), fi.softmax_cross_entropy(P, labels))
    labels[5] = 77                                     # out of range: NaN, not a crash
    labels[6] = -1
    got = ext.ce(P, labels)
    assert np.isnan(got[5]) and np.isnan(got[6])
