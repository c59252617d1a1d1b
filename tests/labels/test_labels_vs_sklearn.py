"""Label-pair scores, contingency tables, expected and adjusted mutual information against
scikit-learn (an independent implementation), plus exact mpmath / brute-force oracles for the
expected mutual information of tiny tables, and hypothesis properties of the table-based
measures over random labelings.

scikit-learn's expected MI sums exp(lgamma differences) and is itself accurate to
~1e-12 relative (checked against mpmath while writing these tests), hence rtol 1e-9
for EMI and atol 1e-9 for AMI. Labelings in which one side has all labels distinct
are kept out of the AMI comparison: there MI = EMI exactly for every permutation,
AMI is 0/0, and scikit-learn's value is whatever its eps-clamping gives (e.g. 0.5
for arange(10) against arange(10) % 2 with average_method="min").
"""
import itertools
import math
from collections import Counter
from fractions import Fraction

import mpmath
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

sklearn = pytest.importorskip("sklearn")
from sklearn.metrics import (adjusted_mutual_info_score, mutual_info_score,  # noqa: E402
                             normalized_mutual_info_score)
from sklearn.metrics.cluster import contingency_matrix  # noqa: E402
from sklearn.metrics.cluster._expected_mutual_info_fast import \
    expected_mutual_information as sk_emi  # noqa: E402

import fastinfo  # noqa: E402

AVERAGES = ["arithmetic", "geometric", "min", "max"]
DPS = 50
SETTINGS = settings(max_examples=40)


def labeling(n, k, seed, kind="int"):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, k, n)
    if kind == "int8":
        return (a - k // 2).astype(np.int8)
    if kind == "neg":
        return -3 * a - 10 ** 9
    if kind == "big":
        return a * 10 ** 12 + 7
    if kind == "uint64":
        return (np.uint64(2 ** 64 - 1) - a.astype(np.uint64) * np.uint64(2 ** 40))
    if kind == "str":
        return np.array([f"c{v:03d}" for v in a])
    if kind == "obj":
        return [f"lab-{v}" for v in a.tolist()]
    if kind == "float":
        return a * 0.37 - 1.5
    if kind == "bool":
        return a % 2 == 0
    return a


def sk_table_dict(x, y):
    c = contingency_matrix(x, y, sparse=True).tocoo()
    return {(int(r), int(s)): int(v) for r, s, v in zip(c.row, c.col, c.data) if v}, c.shape


# --------------------------------------------------------------------------- contingency tables
KINDS = [("int", "int"), ("int8", "str"), ("neg", "uint64"), ("big", "float"), ("str", "obj"),
         ("float", "bool"), ("uint64", "int8")]


@pytest.mark.parametrize("kx,ky", KINDS)
@pytest.mark.parametrize("n,classes", [(1, 1), (37, 3), (500, 40)])
def test_contingency_table_vs_sklearn(kx, ky, n, classes):
    x = labeling(n, classes, 1, kx)
    y = labeling(n, classes + 2, 2, ky)
    want = contingency_matrix(x, y)
    got = fastinfo.contingency_table(x, y)
    assert isinstance(got, np.ndarray) and got.dtype == np.int64 and np.array_equal(got, want)
    assert np.array_equal(fastinfo.contingency_table(x, y, sparse=False), want)
    sp = fastinfo.contingency_table(x, y, sparse=True)
    assert isinstance(sp, fastinfo.SparseContingency)
    cells, shape = sk_table_dict(x, y)
    assert tuple(sp.shape) == tuple(shape)
    mine = Counter()
    for r, c, v in zip(np.asarray(sp.rows).tolist(), np.asarray(sp.cols).tolist(), np.asarray(sp.counts).tolist()):
        mine[(r, c)] += v
    assert {k: v for k, v in mine.items() if v} == cells
    assert int(np.sum(sp.counts)) == n


# --------------------------------------------------------------------------- MI, NMI
def score_cases():
    cases = []
    for n, kx, ky in [(2, 2, 2), (10, 2, 3), (64, 4, 4), (300, 3, 9), (2000, 12, 7), (2000, 150, 200)]:
        cases.append((labeling(n, kx, n + kx, "int"), labeling(n, ky, n + ky + 1, "int")))
    x = labeling(120, 5, 3)
    cases += [
        (x, x),                                        # identical
        (x, (x * 7 + 3) % 5 + 100),                    # a relabeling (bijection)
        (x, np.zeros(120, dtype=int)),                 # one side constant
        (np.ones(9), np.full(9, 4)),                   # both constant
        (np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])),   # independent: MI = 0 exactly
        (labeling(300, 6, 4, "str"), labeling(300, 4, 5, "neg")),
    ]
    return cases


SCORE_CASES = score_cases()


@pytest.mark.parametrize("case", range(len(SCORE_CASES)))
def test_mi_and_nmi_vs_sklearn(case):
    x, y = SCORE_CASES[case]
    want = mutual_info_score(x, y)
    got = fastinfo.mutual_information_score(x, y)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert fastinfo.mutual_information_score(x, y, base=2) == pytest.approx(want / math.log(2), rel=1e-12,
                                                                          abs=1e-15)
    for avg in AVERAGES:
        w = normalized_mutual_info_score(x, y, average_method=avg)
        g = fastinfo.normalized_mutual_information_score(x, y, average=avg)
        assert g == pytest.approx(w, rel=1e-12, abs=1e-14), (avg, g, w)


# --------------------------------------------------------------------------- AMI
def ami_cases():
    out = []
    for n in (3, 5, 10, 50, 200, 2000):
        for kx, ky in ((2, 2), (3, 5), (max(2, n // 4), max(2, n // 3))):
            x, y = labeling(n, kx, 10 * n + kx, "int"), labeling(n, ky, 10 * n + ky + 1, "int")
            nx, ny = len(np.unique(x)), len(np.unique(y))
            if 1 < nx < n and 1 < ny < n:        # AMI well defined (see the module docstring)
                out.append((x, y))
    out.append((np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])))           # independent: AMI < 0
    out.append((np.array([0, 0, 1, 1, 1]), np.array([5, 5, 2, 2, 9])))
    out.append((labeling(400, 3, 7, "str"), labeling(400, 8, 8, "float")))
    return out


AMI_CASES = ami_cases()


@pytest.mark.parametrize("case", range(len(AMI_CASES)))
def test_ami_vs_sklearn(case):
    x, y = AMI_CASES[case]
    for avg in AVERAGES:
        # (float labels with fractions: both libraries warn that they look continuous)
        with warnings.catch_warnings(record=True) as sk_rec:
            warnings.simplefilter("always")
            want = adjusted_mutual_info_score(x, y, average_method=avg)
        with warnings.catch_warnings(record=True) as fi_rec:
            warnings.simplefilter("always")
            got = fastinfo.adjusted_mutual_information_score(x, y, average=avg)
        assert any("continuous" in str(w.message) for w in sk_rec) == \
            any("continuous" in str(w.message) for w in fi_rec)
        assert isinstance(got, float)
        assert got == pytest.approx(want, abs=1e-9), (avg, got, want)


def test_ami_special_cases():
    x = labeling(200, 4, 9)
    for avg in AVERAGES:
        f = lambda a, b: fastinfo.adjusted_mutual_information_score(a, b, average=avg)  # noqa: E731
        assert f(x, x) == pytest.approx(1.0, abs=1e-12)
        assert f(x, (x + 1) % 4) == pytest.approx(1.0, abs=1e-12)      # relabeling
        assert f(["a", "b", "a"], [1, 2, 1]) == pytest.approx(1.0, abs=1e-12)
        assert f(np.zeros(10), np.ones(10)) == 1.0                      # both single-class
        assert f([3], [4]) == 1.0                                       # n = 1
        assert f(x, np.zeros(200)) == 0.0                               # one single-class
        assert f(np.zeros(200), x) == 0.0
        assert f([], []) == 1.0                                         # empty, as scikit-learn
    with pytest.raises(ValueError):
        fastinfo.adjusted_mutual_information_score(x, x, average="mean")
    with pytest.raises(ValueError):
        fastinfo.adjusted_mutual_information_score([1, 2, 3], [1, 2])


@pytest.mark.parametrize("avg", AVERAGES)
def test_ami_identical_partitions_with_all_labels_distinct(avg):
    """Identical labelings (and relabelings of one another) score 1.0 -- also when every
    label is distinct, where MI = EMI = H and the quotient is 0/0: scikit-learn returns 1.0
    there for every n, and so must the contract's "identical labelings -> 1.0"."""
    for n in range(2, 21):
        x = np.arange(n)
        for y in (x, x[::-1].copy(), x * 10 + 3):
            want = adjusted_mutual_info_score(x, y, average_method=avg)
            assert want == 1.0
            got = fastinfo.adjusted_mutual_information_score(x, y, average=avg)
            assert got == pytest.approx(1.0, abs=1e-12), (n, avg, got)


def test_ami_threads_bitwise():
    x, y = labeling(20_000, 300, 11), labeling(20_000, 250, 12)
    a1 = fastinfo.adjusted_mutual_information_score(x, y, n_threads=1)
    a2 = fastinfo.adjusted_mutual_information_score(x, y, n_threads=2)
    assert a1 == a2
    assert a1 == pytest.approx(adjusted_mutual_info_score(x, y), abs=1e-9)


# --------------------------------------------------------------------------- expected MI
def mp_emi_exact(table):
    """sum_ij sum_nij (nij/N) log(N nij / (a_i b_j)) P(nij), the hypergeometric pmf in exact binomials."""
    t = np.asarray(table, dtype=np.int64)
    a, b, N = [int(v) for v in t.sum(1)], [int(v) for v in t.sum(0)], int(t.sum())
    terms = []
    with mpmath.workdps(DPS):
        for ai in a:
            for bj in b:
                for nij in range(max(1, ai + bj - N), min(ai, bj) + 1):
                    pmf = Fraction(math.comb(ai, nij) * math.comb(N - ai, bj - nij), math.comb(N, bj))
                    terms.append(mpmath.mpf(nij) / N * mpmath.log(mpmath.mpf(N * nij) / (ai * bj))
                                 * (mpmath.mpf(pmf.numerator) / pmf.denominator))
        return mpmath.fsum(terms)


def mp_mi_of_table(t):
    t = np.asarray(t)
    N = int(t.sum())
    a, b = t.sum(1), t.sum(0)
    with mpmath.workdps(DPS):
        return mpmath.fsum(mpmath.mpf(int(v)) / N * mpmath.log(mpmath.mpf(N * int(v)) / (int(a[i]) * int(b[j])))
                           for (i, j), v in np.ndenumerate(t) if v)


def brute_force_emi(x, y):
    """The definition: the mean MI over all n! permutations of y against x."""
    ux, uy = sorted(set(x)), sorted(set(y))
    tables = Counter()
    for perm in itertools.permutations(y):
        t = [[0] * len(uy) for _ in ux]
        for a, b in zip(x, perm):
            t[ux.index(a)][uy.index(b)] += 1
        tables[tuple(map(tuple, t))] += 1
    total = math.factorial(len(x))
    with mpmath.workdps(DPS):
        return mpmath.fsum(mp_mi_of_table(np.array(t)) * c for t, c in tables.items()) / total


TINY_TABLES = [
    [[1, 1], [1, 1]],
    [[3, 0, 1], [0, 2, 2], [1, 1, 0]],
    [[5, 1], [2, 7], [0, 4], [3, 3]],
    [[1, 2, 3, 4, 5]],                                 # one row: EMI = 0
    [[2], [3], [4]],                                   # one column: EMI = 0
    [[4, 0, 0], [0, 0, 0], [1, 2, 6]],                 # an empty row and column
    [[10, 1], [1, 10]],
    [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 27]],
]


@pytest.mark.parametrize("i", range(len(TINY_TABLES)))
def test_emi_exact_on_tiny_tables(i):
    t = np.array(TINY_TABLES[i], dtype=np.int64)
    assert t.sum() <= 30
    want = mp_emi_exact(t)
    got = fastinfo.expected_mutual_information(t)
    assert isinstance(got, float)
    assert abs(mpmath.mpf(got) - want) <= 1e-13 * abs(want) + 1e-16, (got, want)
    nz = t[t.sum(1) > 0][:, t.sum(0) > 0]
    if nz.shape[0] > 1 and nz.shape[1] > 1:
        assert got == pytest.approx(sk_emi(nz, int(t.sum())), rel=1e-9)
    # sparse form of the same table
    r, c = np.nonzero(t)
    sp = fastinfo.SparseContingency(r.astype(np.int64), c.astype(np.int64), t[r, c], t.shape)
    assert fastinfo.expected_mutual_information(sp) == pytest.approx(got, rel=1e-14, abs=1e-17)


@pytest.mark.parametrize("x,y", [
    ([0, 0, 1, 1, 2, 2, 2], [0, 1, 0, 1, 0, 1, 1]),
    ([0, 1, 1, 1, 2, 2], [0, 0, 0, 1, 1, 1]),
    (["a", "a", "a", "b", "b"], [1, 2, 2, 3, 3]),
])
def test_emi_is_the_mean_mi_over_permutations(x, y):
    want = brute_force_emi(x, y)
    t = fastinfo.contingency_table(np.array(x), np.array(y))
    got = fastinfo.expected_mutual_information(t)
    assert abs(mpmath.mpf(got) - want) <= 1e-13 * abs(want), (got, want)


@pytest.mark.parametrize("n,kx,ky", [(40, 3, 4), (500, 5, 30), (2000, 60, 40), (3000, 300, 2), (30000, 8, 9)])
def test_emi_vs_sklearn(n, kx, ky):
    x, y = labeling(n, kx, n + 1), labeling(n, ky, n + 2)
    dense = fastinfo.contingency_table(x, y, sparse=False)
    want = sk_emi(contingency_matrix(x, y, sparse=True), n)
    got = fastinfo.expected_mutual_information(dense)
    assert got == pytest.approx(want, rel=1e-9)
    got_sp = fastinfo.expected_mutual_information(fastinfo.contingency_table(x, y, sparse=True))
    assert got_sp == pytest.approx(want, rel=1e-9)
    # EMI <= min(H(X), H(Y)) and MI - EMI is the AMI numerator
    hx = fastinfo.entropy(dense.sum(1), normalize=True)
    hy = fastinfo.entropy(dense.sum(0), normalize=True)
    assert 0 < got <= min(hx, hy)


def test_emi_large_problem_vs_sklearn():
    # 2 * 10^5 pairs, 700 x 500 classes: the truncated walk from the mode against
    # scikit-learn's full lgamma sum (whose own error here is ~1e-11 relative)
    rng = np.random.default_rng(11)
    x, y = rng.integers(0, 700, 200_000), rng.integers(0, 500, 200_000)
    want = sk_emi(contingency_matrix(x, y, sparse=True), x.size)
    got = fastinfo.expected_mutual_information(fastinfo.contingency_table(x, y))
    assert abs(got - want) <= 1e-9 * want


def test_emi_threads_bitwise():
    x, y = labeling(20_000, 300, 13), labeling(20_000, 300, 14)
    t = fastinfo.contingency_table(x, y, sparse=False)
    assert t.shape == (300, 300)
    e1 = fastinfo.expected_mutual_information(t, n_threads=1)
    e2 = fastinfo.expected_mutual_information(t, n_threads=2)
    assert e1 == e2
    assert e1 == pytest.approx(sk_emi(contingency_matrix(x, y, sparse=True), 20_000), rel=1e-9)
    sp = fastinfo.contingency_table(x, y, sparse=True)
    assert fastinfo.expected_mutual_information(sp, n_threads=1) == fastinfo.expected_mutual_information(
        sp, n_threads=2)


# --------------------------------------------------------------------------- properties over labelings
@st.composite
def labelings(draw, m=3):
    n = draw(st.integers(1, 200))
    out = []
    for _ in range(m):
        k = draw(st.integers(1, 6))
        seed = draw(st.integers(0, 2 ** 32 - 1))
        out.append(np.random.default_rng(seed).integers(0, k, n))
    return out


def counts(x):
    return np.unique(x, return_counts=True)[1]


def vi(a, b):
    return float(fastinfo.variation_of_information(fastinfo.contingency_table(a, b), normalize=True))


@SETTINGS
@given(labelings())
def test_information_identities_over_labelings(xyz):
    x, y, z = xyz
    t = fastinfo.contingency_table(x, y)
    mi = float(fastinfo.mutual_information(t, normalize=True))
    hx = float(fastinfo.entropy(counts(x), normalize=True))
    hy = float(fastinfo.entropy(counts(y), normalize=True))
    hxy = float(fastinfo.joint_entropy(t, normalize=True))
    assert mi >= 0.0
    assert abs(mi - (hx + hy - hxy)) <= 1e-12
    assert float(fastinfo.conditional_entropy(t, normalize=True)) <= hy + 1e-12
    assert fastinfo.mutual_information_score(x, y) == pytest.approx(mi, rel=1e-12, abs=1e-14)
    assert mi == pytest.approx(mutual_info_score(x, y), rel=1e-12, abs=1e-14)
    # VI is a metric over labelings
    assert abs(vi(x, x)) <= 1e-15
    assert vi(x, y) == pytest.approx(vi(y, x), rel=1e-12, abs=1e-14)
    assert vi(x, z) <= vi(x, y) + vi(y, z) + 1e-12
    assert vi(x, y) == pytest.approx(2 * hxy - hx - hy, abs=1e-12)


@SETTINGS
@given(labelings(m=2), st.sampled_from(AVERAGES))
def test_ami_vs_sklearn_over_labelings(xy, avg):
    x, y = xy
    n, nx, ny = len(x), len(np.unique(x)), len(np.unique(y))
    if nx > 1 and ny > 1 and (nx == n or ny == n):
        return                                   # 0/0 (module docstring)
    want = adjusted_mutual_info_score(x, y, average_method=avg)
    got = fastinfo.adjusted_mutual_information_score(x, y, average=avg)
    assert got == pytest.approx(want, abs=1e-9), (got, want)
    t = fastinfo.contingency_table(x, y)
    if nx > 1 and ny > 1:
        assert fastinfo.expected_mutual_information(t) == pytest.approx(sk_emi(t, n), rel=1e-9, abs=1e-15)


def test_emi_parallel_path_threads_bitwise():
    # all class sizes distinct: enough distinct row x column sums (> 4096 cells of the distinct
    # grid) that the expected-MI kernel really runs on 2 threads
    rng = np.random.default_rng(21)
    sizes = np.arange(1, 101)                       # 100 classes of sizes 1..100 on each side
    x = rng.permutation(np.repeat(np.arange(100), sizes))
    y = rng.permutation(np.repeat(np.arange(100), sizes))
    t = fastinfo.contingency_table(x, y, sparse=False)
    a, b = t.sum(1), t.sum(0)
    assert np.unique(a[a > 0]).size * np.unique(b[b > 0]).size > 4096
    e1 = fastinfo.expected_mutual_information(t, n_threads=1)
    e2 = fastinfo.expected_mutual_information(t, n_threads=2)
    assert e1 == e2
    assert e1 == pytest.approx(sk_emi(contingency_matrix(x, y, sparse=True), x.size), rel=1e-9)
