"""topk_kl_divergence: the KL of a teacher known by its top-k log-probabilities, against the KL of the
(k + 1)-bucket distributions written out in NumPy (float64 and mpmath), always >= 0 where the
truncated sum is not; renormalized; its checks."""
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastinfo


def buckets(teacher_logits, idx, student_logits, temperature=1.0, tail="bucket"):
    """The oracle: teacher and student as distributions over the k classes (+ the rest), in mpmath."""
    with mp.workdps(40):
        out = []
        for t, i, s in zip(teacher_logits, idx, student_logits):
            pt = [mp.e ** mp.mpf(float(v)) for v in t]
            st_ = [mp.e ** (mp.mpf(float(v)) / temperature) for v in s]
            P = [v / sum(pt) for v in pt]
            Q = [v / sum(st_) for v in st_]
            p = [P[j] for j in i]
            q = [Q[j] for j in i]
            if tail == "bucket" and len(i) < len(t):
                p.append(1 - sum(p))
                q.append(1 - sum(q))
            else:
                p = [v / sum(p) for v in p]
                q = [v / sum(q) for v in q]
            out.append(float(sum(a * mp.log(a / b) for a, b in zip(p, q) if a > 0)))
        return np.array(out)


RNG = np.random.default_rng(23)
T_LOGITS = 2 * RNG.standard_normal((9, 40))
S_LOGITS = 2 * RNG.standard_normal((9, 40))
LP = T_LOGITS - np.logaddexp.reduce(T_LOGITS, axis=1, keepdims=True)


@pytest.mark.parametrize("k", [1, 5, 39, 40])
@pytest.mark.parametrize("tail", ["bucket", "renormalize"])
@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_against_the_bucket_distributions(k, tail, temperature):
    idx = np.argsort(-T_LOGITS, axis=1)[:, :k]
    got = fastinfo.topk_kl_divergence(np.take_along_axis(LP, idx, 1), idx, S_LOGITS, tail=tail,
                                      temperature=temperature)
    np.testing.assert_allclose(got, buckets(T_LOGITS, idx, S_LOGITS, temperature, tail), rtol=1e-9, atol=1e-14)


def test_all_classes_give_the_full_kl():
    idx = np.argsort(-T_LOGITS, axis=1)
    got = fastinfo.topk_kl_divergence(np.take_along_axis(LP, idx, 1), idx, S_LOGITS)
    np.testing.assert_allclose(got, fastinfo.softmax_kl_divergence(T_LOGITS, S_LOGITS), rtol=1e-9, atol=1e-14)


def test_the_truncated_sum_goes_negative_the_bucket_does_not():
    """A student with more mass on the teacher's top classes: the truncated sum is < 0."""
    teacher = np.log([[0.5, 0.3, 0.1, 0.1]])
    student = np.log([[0.7, 0.25, 0.03, 0.02]])
    idx = np.array([[0, 1]])
    truncated = np.sum(np.exp(teacher[:, :2]) * (teacher[:, :2] - student[:, :2]))
    assert truncated < 0
    got = fastinfo.topk_kl_divergence(teacher[:, :2], idx, student)
    assert got[0] > 0
    assert got[0] == pytest.approx(buckets(teacher, idx, student)[0], rel=1e-12)


def test_tail_of_zero_and_a_student_without_the_tail():
    """No teacher mass left: no tail term; teacher mass left where the student has none: +inf."""
    idx = np.array([[0, 1]])
    assert fastinfo.topk_kl_divergence(np.log([[0.5, 0.5]]), idx, [[0.0, 0.0, -np.inf]])[0] == 0.0
    assert fastinfo.topk_kl_divergence(np.log([[0.5, 0.4]]), idx, [[0.0, 0.0, -np.inf]])[0] == np.inf


def test_reductions_dtypes_and_torch():
    idx = np.argsort(-T_LOGITS, axis=1)[:, :4]
    lp = np.take_along_axis(LP, idx, 1)
    r = fastinfo.topk_kl_divergence(lp, idx, S_LOGITS)
    assert fastinfo.topk_kl_divergence(lp, idx, S_LOGITS, reduction="mean") == pytest.approx(r.mean(), rel=1e-14)
    assert fastinfo.topk_kl_divergence(lp, idx, S_LOGITS.astype(np.float32)).dtype == np.float32
    torch = pytest.importorskip("torch")
    t = fastinfo.topk_kl_divergence(torch.from_numpy(lp), torch.from_numpy(idx), torch.from_numpy(S_LOGITS))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_array_equal(t.numpy(), r)


def test_checks():
    idx = np.array([[0, 1]])
    with pytest.raises(ValueError, match="log_softmax"):
        fastinfo.topk_kl_divergence([[2.0, 1.0]], idx, [[0.0, 0.0, 0.0]])           # logits, not log-probs
    with pytest.raises(ValueError, match="log_softmax"):
        fastinfo.topk_kl_divergence(np.log([[0.7, 0.6]]), idx, [[0.0, 0.0, 0.0]])   # sums above 1
    with pytest.raises(ValueError, match="repeats"):
        fastinfo.topk_kl_divergence(np.log([[0.5, 0.2]]), [[1, 1]], [[0.0, 0.0, 0.0]])
    with pytest.raises(IndexError, match="outside"):
        fastinfo.topk_kl_divergence(np.log([[0.5, 0.2]]), [[0, 3]], [[0.0, 0.0, 0.0]])
    with pytest.raises(TypeError, match="integers"):
        fastinfo.topk_kl_divergence(np.log([[0.5, 0.2]]), [[0.0, 1.0]], [[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="tail"):
        fastinfo.topk_kl_divergence(np.log([[0.5, 0.2]]), idx, [[0.0, 0.0, 0.0]], tail="drop")
    with pytest.raises(ValueError, match="batch index"):
        fastinfo.topk_kl_divergence(np.log([[0.5, 0.2]]), idx, [[0.0, np.nan, 0.0]])


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 30), st.integers(1, 30), st.integers(0, 2**32 - 1), st.floats(0.3, 4.0))
def test_never_negative(V, k, seed, scale):
    """>= 0 for any student and any top k of any teacher."""
    k = min(k, V)
    rng = np.random.default_rng(seed)
    t, s = scale * rng.standard_normal((3, V)), scale * rng.standard_normal((3, V))
    lp = t - np.logaddexp.reduce(t, axis=1, keepdims=True)
    idx = np.argsort(-t, axis=1)[:, :k]
    for tail in ("bucket", "renormalize"):
        r = fastinfo.topk_kl_divergence(np.take_along_axis(lp, idx, 1), idx, s, tail=tail)
        assert np.all(r >= 0) and np.all(np.isfinite(r))
        assert not math.isnan(float(r.sum()))


def test_a_student_tail_below_rounding_is_summed_from_its_classes():
    """The student's rest is 4e-18 of its mass (1 - sum q is 0 in float64), the teacher's 0.2: the
    tail term (~7.8) is still finite and right, for a batch and for one row."""
    teacher = np.log([0.5, 0.3])
    student = np.array([30.0, 0.0, -10.0])
    with mp.workdps(50):
        e = [mp.e ** mp.mpf(v) for v in student]
        q = [v / sum(e) for v in e]
        p = [mp.e ** mp.mpf(float(v)) for v in teacher]
        r = 1 - sum(p)
        want = float(sum(a * mp.log(a / b) for a, b in zip(p, q[:2])) + r * mp.log(r / q[2]))
    got1 = fastinfo.topk_kl_divergence(teacher, [0, 1], student)
    got2 = fastinfo.topk_kl_divergence(teacher[None], [[0, 1]], student[None])
    assert np.ndim(got1) == 0 and float(got1) == pytest.approx(want, rel=1e-12)
    assert got2[0] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("shift", [0.0, 1000.0])
def test_float32_students_keep_their_tail(shift):
    """float32 student logits (a tail of ~2e-6, far from the maximum): the log-sum-exp is the
    kernel's float64 one, not a float32 result, so the tail term keeps its bits."""
    teacher = np.log([[0.6, 0.3]])
    student = np.array([[30.0, 29.5, 16.2, 15.0, 14.0, 13.0]]) + shift
    want = buckets(teacher, [[0, 1]], student.astype(np.float32).astype(np.float64))
    with mp.workdps(50):
        e = [mp.e ** mp.mpf(float(v)) for v in student.astype(np.float32)[0]]
        q = [v / sum(e) for v in e]
        p = [mp.mpf(0.6), mp.mpf(0.3)]
        r = 1 - sum(p)
        want = float(sum(a * mp.log(a / b) for a, b in zip(p, q[:2])) + r * mp.log(r / (1 - q[0] - q[1])))
    got = fastinfo.topk_kl_divergence(teacher, [[0, 1]], student.astype(np.float32))
    assert float(got[0]) == pytest.approx(want, rel=1e-5)
