"""What the label functions accept: continuous labels (a warning, as scikit-learn's
check_clusterings gives), missing labels (an error naming the row), and the one return type
of contingency_table per ``sparse``. Oracles: scikit-learn's metrics and contingency_matrix."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score, mutual_info_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

import fastinfo

SCORES = [(fastinfo.mutual_information_score, mutual_info_score),
          (fastinfo.normalized_mutual_information_score, normalized_mutual_info_score),
          (fastinfo.adjusted_mutual_information_score, adjusted_mutual_info_score)]
SCORE_IDS = ["mi", "nmi", "ami"]
SK_MESSAGE = "Clustering metrics expects discrete values"


def sk_warns(f, x, y):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        f(x, y)
    return any(SK_MESSAGE in str(w.message) for w in rec)


def fi_warns(f, x, y):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        f(x, y)
    found = [w for w in rec if "continuous values" in str(w.message)]
    assert all(w.category is UserWarning for w in found)
    return bool(found)


# --------------------------------------------------------------------------- continuous labels
CONTINUOUS_CASES = [
    (np.array([0.5, 1.5, 0.5, 2.0]), np.array([0, 1, 0, 1])),                # x continuous
    (np.array([0, 1, 0, 1]), np.array([0.0, 1.0, 0.25, 1.0])),                # y continuous
    (np.array([0.1, 0.2, 0.1, 0.3]), np.array([1.5, 2.5, 1.5, 2.5])),         # both
    (np.array([0.0, 1.0, 0.0, 2.0]), np.array([0, 1, 0, 1])),                 # integer-valued floats
    (np.array([-0.0, 3.0, 3.0, 7.0], dtype=np.float32), np.array([1.0, 2.0, 2.0, 2.0])),
    (np.array([1e6, -5.0, 1e6, 2.0]), np.array([0, 0, 1, 1])),
    (np.array([0.5, 0.5, 1.5, 1.5], dtype=np.float16), np.array([0, 0, 1, 1])),
    (np.array(["a", "b", "a", "b"]), np.array([True, False, True, True])),
    (np.array([3, 1, 3, 1]), np.array([2, 2, 1, 1])),
]


@pytest.mark.parametrize("case", range(len(CONTINUOUS_CASES)))
@pytest.mark.parametrize("pair", range(len(SCORES)), ids=SCORE_IDS)
def test_continuous_labels_warn_exactly_where_sklearn_warns(pair, case):
    fi, sk = SCORES[pair]
    x, y = CONTINUOUS_CASES[case]
    expected = sk_warns(sk, x, y)
    assert fi_warns(fi, x, y) == expected
    # the score itself is unchanged (every distinct value a label, as in scikit-learn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fi(x, y) == pytest.approx(sk(x, y), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("pair", range(len(SCORES)), ids=SCORE_IDS)
def test_continuous_warning_names_the_argument_and_suggests_binning(pair):
    fi, _ = SCORES[pair]
    with pytest.warns(UserWarning, match=r"x \(e\.g\. 0\.5 at row 2\) holds continuous values.*Bin "):
        fi(np.array([1.0, 2.0, 0.5, 1.0]), np.array([0, 1, 1, 0]))
    with pytest.warns(UserWarning, match=r"^" + fi.__name__ + r": y \(e\.g\. 0\.25 at row 0\) holds"):
        fi([0, 1, 1, 0], [0.25, 1.0, 1.0, 2.0])
    with pytest.warns(UserWarning, match=r"x \(.*\) and y \(.*\) hold continuous values.*np\.digitize"):
        fi([0.5, 1.0], [0.25, 1.0])


@pytest.mark.parametrize("pair", range(len(SCORES)), ids=SCORE_IDS)
def test_integer_valued_floats_do_not_warn(pair):
    fi, sk = SCORES[pair]
    x = np.array([0.0, 1.0, 2.0, 1.0, 0.0, 2.0])
    y = np.array([1.0, 1.0, 3.0, 3.0, -2.0, -2.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fi(x, y)
        want = sk(x, y)
    assert got == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_contingency_table_counts_floats_without_warning_as_sklearn():
    x, y = np.array([0.5, 1.5, 0.5, 0.5]), np.array([0.25, 0.25, 1.0, 0.25])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fastinfo.contingency_table(x, y)
        want = contingency_matrix(x, y)
    assert np.array_equal(got, want)


def test_warning_points_at_the_caller():
    with pytest.warns(UserWarning) as rec:
        fastinfo.mutual_information_score([0.5, 1.5], [0, 1])
    assert rec[0].filename == __file__


# --------------------------------------------------------------------------- missing labels
MISSING = [
    (np.array([0.0, 1.0, 2.0, np.nan, 1.0]), "NaN", 3),
    (np.array(["a", "b", None, "a", "b"], dtype=object), "None", 2),
    (np.array([1, 2, 3, 4, float("nan")], dtype=object), "NaN", 4),
    (np.array([None, 1, 2, 3, 4], dtype=object), "None", 0),
]


@pytest.mark.parametrize("case", range(len(MISSING)))
@pytest.mark.parametrize("func", ["contingency_table", "mutual_information_score",
                                  "normalized_mutual_information_score", "adjusted_mutual_information_score"])
def test_missing_labels_name_argument_and_row(func, case):
    f = getattr(fastinfo, func)
    labels, shown, row = MISSING[case]
    other = np.array([0, 1, 0, 1, 0])
    msg = rf"x holds a missing value \({shown}\) at row {row}; drop or fill missing labels first"
    with pytest.raises(ValueError, match=msg):
        f(labels, other)
    with pytest.raises(ValueError, match=msg.replace("x holds", "y holds")):
        f(other, labels)
    # scikit-learn refuses them too (as NaN input, or unsortable labels)
    if labels.dtype.kind == "f":
        with pytest.raises(ValueError):
            mutual_info_score(labels, other)


def test_pandas_missing_labels():
    pd = pytest.importorskip("pandas")
    other = np.array([0, 1, 0, 1])
    nullable = pd.array([1, 2, None, 1], dtype="Int64")
    with pytest.raises(ValueError, match=r"x holds a missing value \(NaN\) at row 2"):
        fastinfo.mutual_information_score(np.asarray(nullable), other)
    with pytest.raises(ValueError, match=r"y holds a missing value \(<NA>\) at row 1"):
        fastinfo.contingency_table(other, np.array([3, pd.NA, 3, 4], dtype=object))
    with pytest.raises(ValueError, match=r"x holds a missing value \(NaN\) at row 3"):
        fastinfo.adjusted_mutual_information_score(np.asarray(pd.Series(["a", "b", "a", None])), other)
    # without missing values, nullable integers are ordinary labels
    full = pd.array([1, 2, 2, 1], dtype="Int64")
    assert fastinfo.mutual_information_score(np.asarray(full), other) == pytest.approx(
        mutual_info_score(np.asarray(full), other), rel=1e-12)


def test_inputs_unchanged():
    x = np.array([0.5, 1.0, 0.5, 2.0])
    y = np.array(["a", "b", "a", "b"], dtype=object)
    cx, cy = x.copy(), y.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fastinfo.adjusted_mutual_information_score(x, y)
    fastinfo.contingency_table(x, y, sparse=True)
    assert np.array_equal(x, cx) and np.array_equal(y, cy)


# --------------------------------------------------------------------------- return type
def test_dense_by_default_whatever_the_size():
    # 4000 x 4000 distinct labels (1.6e7 cells) for 4000 pairs: dense, as contingency_matrix
    rng = np.random.default_rng(3)
    x = rng.permutation(4000)
    y = rng.permutation(4000) + 10**9          # beyond the small-range path
    got = fastinfo.contingency_table(x, y)
    assert type(got) is np.ndarray and got.dtype == np.int64 and got.shape == (4000, 4000)
    assert np.array_equal(got, contingency_matrix(x, y))


@pytest.mark.parametrize("n", [0, 1, 5, 300])
def test_sparse_true_is_always_sparse(n):
    rng = np.random.default_rng(n)
    x, y = rng.integers(0, 4, n), rng.integers(-3, 3, n).astype(np.int16)
    t = fastinfo.contingency_table(x, y, sparse=True)
    assert isinstance(t, fastinfo.SparseContingency)
    want = contingency_matrix(x, y, sparse=True).tocoo() if n else None
    if n:
        order = np.lexsort((want.col, want.row))
        assert np.array_equal(t.rows, want.row[order]) and np.array_equal(t.cols, want.col[order])
        assert np.array_equal(t.counts, want.data[order]) and t.shape == want.shape
    else:
        assert t.shape == (0, 0) and t.counts.size == 0
    d = fastinfo.contingency_table(x, y, sparse=False)
    assert type(d) is np.ndarray
    if n:
        assert np.array_equal(d, contingency_matrix(x, y))


@pytest.mark.parametrize("value", [None, 1, 0, "yes", 1.0])
def test_sparse_must_be_a_bool(value):
    with pytest.raises(TypeError, match=r"sparse must be True .* or False"):
        fastinfo.contingency_table([0, 1], [1, 0], sparse=value)
    assert type(fastinfo.contingency_table([0, 1], [1, 0], sparse=np.bool_(False))) is np.ndarray


def test_too_large_dense_table_raises_naming_the_size():
    x = np.arange(20_000)
    y = np.arange(20_000)[::-1] * 7
    with pytest.raises(ValueError, match=r"20000 x 20000 = 4e\+08 cells .*GiB.*pass sparse=True"):
        fastinfo.contingency_table(x, y)
    t = fastinfo.contingency_table(x, y, sparse=True)
    assert t.shape == (20_000, 20_000) and t.counts.sum() == 20_000
    # the scores pick the sparse form themselves
    assert fastinfo.mutual_information_score(x, y) == pytest.approx(np.log(20_000), rel=1e-12)
    assert fastinfo.adjusted_mutual_information_score(x, y) == 1.0


def test_limit_applies_to_string_labels(monkeypatch):
    import fastinfo._labels as lab
    monkeypatch.setattr(lab, "_DENSE_MAX", 11)
    x, y = np.array(list("abcd")), np.array(list("wxyz"))
    with pytest.raises(ValueError, match=r"4 x 4 = 16 cells"):
        fastinfo.contingency_table(x, y)
    with pytest.raises(ValueError, match=r"4 x 4 = 16 cells"):
        fastinfo.contingency_table(np.arange(4), np.arange(4))      # the direct integer path too
    assert fastinfo.normalized_mutual_information_score(x, y) == pytest.approx(
        normalized_mutual_info_score(x, y), rel=1e-12)
