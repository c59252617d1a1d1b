"""Contingency tables and label-pair scores against plain Python counting (collections.Counter)
and mpmath -- an independent code path from fastinfo/_labels.py."""
from collections import Counter

import mpmath
import numpy as np
import pytest
from helpers import traced_peak

import fastinfo

MPMATH_PREC = 80   # bits for the oracle below (tests/conftest.py sets it for this module)


def mp_scores(x, y):
    n = len(x)
    pairs, cx, cy = Counter(zip(x, y)), Counter(x), Counter(y)
    N = mpmath.mpf(n)
    mi = mpmath.fsum((c / N) * mpmath.log(N * c / (cx[a] * cy[b])) for (a, b), c in pairs.items())
    hx = -mpmath.fsum((c / N) * mpmath.log(c / N) for c in cx.values())
    hy = -mpmath.fsum((c / N) * mpmath.log(c / N) for c in cy.values())
    return mi, hx, hy


CASES = [
    (np.array([0, 0, 1, 1, 2, 2, 2]), np.array(["a", "b", "a", "a", "c", "c", "b"])),
    (np.arange(50) % 7, (np.arange(50) * 3) % 5),
    (np.random.default_rng(0).integers(-5, 5, 400).astype(np.int8),
     np.random.default_rng(1).integers(0, 3, 400).astype(np.uint16)),
    (np.random.default_rng(2).integers(0, 10**12, 300), np.random.default_rng(3).integers(0, 4, 300)),
    (np.array([1.5, 2.5, 1.5, 2.5]), np.array([True, False, True, True])),
    (np.array([2**64 - 1, 2**64 - 2, 2**64 - 1], dtype=np.uint64), np.array([0, 1, 0])),
]


@pytest.mark.filterwarnings("ignore:.*continuous values:UserWarning")   # case 4: 1.5, 2.5 as labels
@pytest.mark.parametrize("case", range(len(CASES)))
def test_scores_vs_counting(case):
    x, y = CASES[case]
    mi, hx, hy = mp_scores(x.tolist(), y.tolist())
    got = fastinfo.mutual_information_score(x, y)
    assert abs(mpmath.mpf(got) - mi) <= 1e-13 * abs(mi) + 1e-15
    for avg, den in (("arithmetic", (hx + hy) / 2), ("geometric", mpmath.sqrt(hx * hy)),
                     ("min", min(hx, hy)), ("max", max(hx, hy))):
        want = mi / den if den > 0 else (1 if hx == hy == 0 else 0)
        got = fastinfo.normalized_mutual_information_score(x, y, average=avg)
        assert abs(mpmath.mpf(got) - want) <= 1e-12, (avg, got, want)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_table_dense_and_sparse_agree_with_counter(case):
    x, y = CASES[case]
    ux, uy = sorted(set(x.tolist())), sorted(set(y.tolist()))
    want = np.zeros((len(ux), len(uy)), dtype=np.int64)
    for (a, b), c in Counter(zip(x.tolist(), y.tolist())).items():
        want[ux.index(a), uy.index(b)] = c
    dense = fastinfo.contingency_table(x, y)
    assert dense.dtype == np.int64 and np.array_equal(dense, want)
    sp = fastinfo.contingency_table(x, y, sparse=True)
    rebuilt = np.zeros(sp.shape, dtype=np.int64)
    rebuilt[sp.rows, sp.cols] = sp.counts
    assert np.array_equal(rebuilt, want)


def test_many_labels_stay_sparse_and_small():
    n = 200_000
    rng = np.random.default_rng(5)
    x, y = rng.integers(0, 100_000, n), rng.integers(0, 100_000, n)

    def table_and_score():
        return fastinfo.contingency_table(x, y, sparse=True), fastinfo.mutual_information_score(x, y)

    (t, mi), peak = traced_peak(table_and_score)
    assert isinstance(t, fastinfo._labels.SparseContingency) and t.counts.sum() == n
    assert peak < 100 * n * 8          # O(n), nowhere near a 10^10-cell table
    assert mi > 0
    # the dense default is never swapped for the sparse form: a ~10^10-cell table is refused
    with pytest.raises(ValueError, match=r"sparse=True"):
        fastinfo.contingency_table(x, y)


def test_constant_and_errors():
    assert fastinfo.mutual_information_score([1, 1, 1], [2, 2, 2]) == 0.0
    assert fastinfo.normalized_mutual_information_score([1, 1, 1], [2, 2, 2]) == 1.0
    assert fastinfo.normalized_mutual_information_score([1, 2, 3], [2, 2, 2]) == 0.0
    with pytest.raises(ValueError, match="same length"):
        fastinfo.contingency_table([1, 2], [1])
    with pytest.raises(ValueError, match="NaN"):
        fastinfo.contingency_table([1.0, np.nan], [1, 2])


def test_ami_where_the_formula_is_zero_over_zero():
    # x all distinct: every permutation gives I = H(Y), so I = E[I] and the AMI is 0
    # (chance level); with average="min" scikit-learn's result there is rounding noise.
    x = np.arange(12)
    y = np.arange(12) % 3
    for avg in ("arithmetic", "geometric", "min", "max"):
        assert fastinfo.adjusted_mutual_information_score(x, y, average=avg) == 0.0
    # renamed labels that match exactly: 1.0, also with every label distinct
    assert fastinfo.adjusted_mutual_information_score(np.arange(18), np.arange(18)[::-1] + 100) == 1.0
    assert fastinfo.adjusted_mutual_information_score([0, 0, 1, 1, 2], ["b", "b", "a", "a", "c"]) == 1.0


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint8, np.uint64, np.int32, bool])
def test_direct_counting_over_the_whole_range_of_narrow_types(dtype):
    # labels spanning the full range of the type, same dtype on both sides: counted straight
    # from the labels (the differences to the minimum must not wrap out of the table)
    rng = np.random.default_rng(5)
    if dtype is bool:
        x = rng.random(300) < 0.5
        y = rng.random(300) < 0.3
    else:
        info = np.iinfo(dtype)
        lo, hi = (int(info.min), int(info.max)) if np.dtype(dtype).itemsize <= 2 else (2**31 - 5, 2**31 + 5)
        if dtype is np.int32:
            lo, hi = -5, 5
        if dtype is np.uint64:
            lo, hi = 2**64 - 40, 2**64 - 1
        x = np.concatenate([[lo, hi], rng.integers(lo, hi, 500, endpoint=True, dtype=np.uint64 if dtype is np.uint64 else np.int64)]).astype(dtype)
        y = np.concatenate([[hi, lo], rng.integers(lo, hi, 500, endpoint=True, dtype=np.uint64 if dtype is np.uint64 else np.int64)]).astype(dtype)
    t = fastinfo.contingency_table(x, y)
    ux, uy = sorted(set(x.tolist())), sorted(set(y.tolist()))
    want = np.zeros((len(ux), len(uy)), dtype=np.int64)
    for (a, b), c in Counter(zip(x.tolist(), y.tolist())).items():
        want[ux.index(a), uy.index(b)] = c
    assert np.array_equal(t, want) and t.sum() == x.size


def test_label_ranges_in_chunks_give_the_scores_of_one_pass(monkeypatch):
    # the label ranges of the clustering scores are taken 2^24 labels at a time
    # (Ctrl-C is answered between chunks); the extremes may sit in any chunk, the last one
    # partial, and the scores must not change. Oracle: scikit-learn's formula by hand
    # (contingency table from np.unique, MI = sum n_ij/n log(n n_ij / (a_i b_j))).
    import fastinfo._labels as lab
    rng = np.random.default_rng(5)
    x = rng.integers(-40, 40, 1001)
    y = (x // 3 + rng.integers(0, 4, 1001)).astype(np.int32)
    x[0], x[500], y[1000] = -1000, 2000, -7000            # extremes in the first, middle, last chunk
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    t = np.zeros((xi.max() + 1, yi.max() + 1))
    np.add.at(t, (xi, yi), 1)
    n, a, b = t.sum(), t.sum(1, keepdims=True), t.sum(0, keepdims=True)
    nz = t > 0
    expected = float(np.sum(t[nz] / n * np.log(n * t[nz] / (a @ b)[nz])))
    for chunk in (1, 7, 100, 1 << 24):
        monkeypatch.setattr(lab, "_RANGE_CHUNK", chunk)
        assert lab._range(x) == (int(x.min()), int(x.max()))
        assert lab._range(y) == (int(y.min()), int(y.max()))
        assert fastinfo.mutual_information_score(x, y) == pytest.approx(expected, rel=1e-12)
