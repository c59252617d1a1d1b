"""softmax_js_divergence(beta=...): the generalized Jensen-Shannon divergence of distillation losses,
against mpmath and against the mixture formula in PyTorch (TRL's and Liger-Kernel's definition);
beta = 0 and 1 are the forward and reverse KL; the symmetry JSD_b(p, q) = JSD_(1-b)(q, p)."""
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastinfo


def mp_jsd(p, q, beta, temperature=1.0):
    """JSD_beta of softmax(p / T), softmax(q / T) in 50-digit arithmetic (a -inf logit: probability 0)."""
    with mp.workdps(50):
        def probs(x):
            e = [mp.e ** (mp.mpf(float(v)) / temperature) if np.isfinite(v) else mp.mpf(0) for v in x]
            s = sum(e)
            return [v / s for v in e]
        a, b, w = probs(p), probs(q), mp.mpf(beta)
        t = mp.mpf(0)
        for x, y in zip(a, b):
            m = w * x + (1 - w) * y
            if x > 0:
                t += w * x * mp.log(x / m)
            if y > 0:
                t += (1 - w) * y * mp.log(y / m)
        return float(t)


def torch_jsd(p, q, beta, temperature=1.0):
    """The mixture formula as distillation code writes it (float64): log m by logsumexp."""
    torch = pytest.importorskip("torch")
    lp = torch.log_softmax(torch.as_tensor(p, dtype=torch.float64) / temperature, -1)
    lq = torch.log_softmax(torch.as_tensor(q, dtype=torch.float64) / temperature, -1)
    lm = torch.logsumexp(torch.stack([lp + math.log(beta), lq + math.log1p(-beta)]), 0)
    kl = torch.nn.functional.kl_div
    return (beta * kl(lm, lp, reduction="none", log_target=True).sum(-1)
            + (1 - beta) * kl(lm, lq, reduction="none", log_target=True).sum(-1)).numpy()


RNG = np.random.default_rng(17)
P = 2 * RNG.standard_normal((7, 33))
Q = 2 * RNG.standard_normal((7, 33))
Q[1] = P[1] + 1e-7 * RNG.standard_normal(33)      # nearly equal: a tiny divergence
P[2, 4] = -np.inf                                 # masks, in one row and in both
Q[3, :6] = -np.inf
P[4, 7] = Q[4, 7] = -np.inf


@pytest.mark.parametrize("beta", [0.01, 0.1, 0.3, 0.7, 0.99])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_against_mpmath(beta, temperature):
    """Every row to 1e-13 relative, the nearly equal row (JSD ~ 1e-16) to 1e-7."""
    got = fastinfo.softmax_js_divergence(P, Q, beta=beta, temperature=temperature)
    want = np.array([mp_jsd(p, q, beta, temperature) for p, q in zip(P, Q)])
    close = np.ones(len(P), dtype=bool)
    close[1] = False
    np.testing.assert_allclose(got[close], want[close], rtol=1e-13, atol=0)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-7)


@pytest.mark.parametrize("beta", [0.2, 0.8])
def test_against_the_mixture_formula_in_torch(beta):
    """The rows without masks (the formula in PyTorch gives NaN for a -inf logit: 0 * log 0)."""
    rows = [0, 5, 6]
    got = fastinfo.softmax_js_divergence(P[rows], Q[rows], beta=beta)
    np.testing.assert_allclose(got, torch_jsd(P[rows], Q[rows], beta), rtol=1e-12)


def test_beta_ends_are_the_two_kls_and_the_middle_the_js():
    """beta 0: KL(p || q); beta 1: KL(q || p); beta 1/2: the Jensen-Shannon divergence, bit for bit."""
    kl, js = fastinfo.softmax_kl_divergence, fastinfo.softmax_js_divergence
    np.testing.assert_array_equal(js(P, Q, beta=0.0), kl(P, Q))
    np.testing.assert_array_equal(js(P, Q, beta=1.0), kl(Q, P))
    np.testing.assert_array_equal(js(P, Q, beta=0.5), js(P, Q))
    np.testing.assert_array_equal(js(P, Q, beta=0.5, temperature=3.0), js(P, Q, temperature=3.0))


def test_bounds_dtypes_reductions_and_errors():
    b = 0.25
    h = -b * math.log(b) - (1 - b) * math.log(1 - b)
    far = fastinfo.softmax_js_divergence([0.0, -np.inf], [-np.inf, 0.0], beta=b)   # disjoint supports
    assert far == pytest.approx(h, rel=1e-15)
    r32 = fastinfo.softmax_js_divergence(P.astype(np.float32), Q.astype(np.float32), beta=b)
    assert r32.dtype == np.float32
    r = fastinfo.softmax_js_divergence(P, Q, beta=b)
    assert fastinfo.softmax_js_divergence(P, Q, beta=b, reduction="mean") == pytest.approx(r.mean(), rel=1e-15)
    assert fastinfo.softmax_js_divergence(P, Q, beta=b, base=2)[0] == pytest.approx(r[0] / math.log(2), rel=1e-15)
    for bad in (-0.1, 1.5, True, "0.3", math.nan):
        with pytest.raises(ValueError, match="beta"):
            fastinfo.softmax_js_divergence(P, Q, beta=bad)
    bad_row = P.copy()
    bad_row[5, 2] = np.nan
    with pytest.raises(ValueError, match=r"p_logits .* batch index \(5,\)"):
        fastinfo.softmax_js_divergence(bad_row, Q, beta=b)
    assert np.isnan(fastinfo.softmax_js_divergence(bad_row, Q, beta=b, invalid="nan")[5])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=2, max_size=12), st.data(), st.floats(0.001, 0.999))
def test_symmetry_and_range(p, data, beta):
    """JSD_b(p, q) = JSD_(1-b)(q, p), and 0 <= JSD_b <= h(b). The two are equal to the
    documented accuracy: relative 1e-16 / (min(b, 1 - b) |d|), which for nearly equal rows
    (JSD ~ b (1 - b) |d|^2) is an absolute ~1e-16 |d|, d <= 2 max |p - q| a logit's log-ratio."""
    q = data.draw(st.lists(st.floats(-30, 30), min_size=len(p), max_size=len(p)))
    a = fastinfo.softmax_js_divergence(p, q, beta=beta)
    b = fastinfo.softmax_js_divergence(q, p, beta=1 - beta)
    dmax = max(abs(u - v) for u, v in zip(p, q))
    assert a == pytest.approx(b, rel=1e-12, abs=2e-15 * dmax + 1e-300)
    assert 0.0 <= a <= -beta * math.log(beta) - (1 - beta) * math.log1p(-beta) + 1e-15
