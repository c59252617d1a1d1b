"""The Gaussian closed forms -- gaussian_entropy, gaussian_kl_divergence (full and diagonal
covariances) and diagonal_gaussian_kl_divergence (from log-variances) -- against
torch.distributions and mpmath. Independent oracles only."""
import math

import mpmath
import numpy as np
import pytest

import fastinfo


def spd(rng, batch, d):
    A = rng.standard_normal(batch + (d, d))
    return A @ np.swapaxes(A, -1, -2) + 0.3 * np.eye(d)


@pytest.mark.parametrize("d", [1, 3, 6])
def test_gaussian_entropy_and_kl_vs_torch(torch, d):
    D = torch.distributions
    rng = np.random.default_rng(d)
    Sp, Sq = spd(rng, (4,), d), spd(rng, (4,), d)
    mp_, mq_ = rng.standard_normal((4, d)), rng.standard_normal((4, d))
    P = D.MultivariateNormal(torch.tensor(mp_), covariance_matrix=torch.tensor(Sp))
    Q = D.MultivariateNormal(torch.tensor(mq_), covariance_matrix=torch.tensor(Sq))
    np.testing.assert_allclose(fastinfo.gaussian_entropy(Sp), P.entropy().numpy(), rtol=1e-12)
    np.testing.assert_allclose(fastinfo.gaussian_kl_divergence(mp_, Sp, mq_, Sq),
                               D.kl_divergence(P, Q).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fastinfo.gaussian_entropy(Sp, base=2), P.entropy().numpy() / math.log(2),
                               rtol=1e-12)
    var = rng.random((4, d)) + 0.1
    N = D.Normal(torch.zeros(4, d, dtype=torch.float64), torch.tensor(np.sqrt(var)))
    np.testing.assert_allclose(fastinfo.gaussian_entropy(var, diagonal=True), N.entropy().sum(-1).numpy(),
                               rtol=1e-12)


def test_gaussian_kl_vs_mpmath_and_nearly_equal():
    mpmath.mp.dps = 40
    rng = np.random.default_rng(5)
    S = spd(rng, (), 3)
    Sq = S * (1 + 1e-7)            # KL ~ 3/2 (x - log1p(x)) ~ 2e-14: no cancellation allowed
    mu = rng.standard_normal(3)
    got = fastinfo.gaussian_kl_divergence(mu, S, mu, Sq)
    x = mpmath.mpf(1) / (1 + mpmath.mpf("1e-7")) - 1
    want = mpmath.mpf(3) / 2 * (x - mpmath.log1p(x))
    assert abs(got - want) <= 1e-8 * want
    Sa, Sb = spd(rng, (), 4), spd(rng, (), 4)
    ma, mb = rng.standard_normal(4), rng.standard_normal(4)
    A, B = mpmath.matrix(Sa.tolist()), mpmath.matrix(Sb.tolist())
    Bi = B ** -1
    dm = mpmath.matrix((mb - ma).tolist())
    want = (sum((Bi * A)[i, i] for i in range(4)) - 4 + mpmath.log(mpmath.det(B) / mpmath.det(A))
            + (dm.T * Bi * dm)[0, 0]) / 2
    assert abs(fastinfo.gaussian_kl_divergence(ma, Sa, mb, Sb) - want) <= 1e-12 * abs(want)


def test_diagonal_kl_vs_torch_and_overflow_free(torch):
    D = torch.distributions
    rng = np.random.default_rng(9)
    mu, lv = rng.standard_normal((8, 5)), rng.standard_normal((8, 5)) * 3
    mq, lq = rng.standard_normal((8, 5)), rng.standard_normal((8, 5))
    P = D.Normal(torch.tensor(mu), torch.tensor(np.exp(lv / 2)))
    np.testing.assert_allclose(fastinfo.diagonal_gaussian_kl_divergence(mu, lv),
                               D.kl_divergence(P, D.Normal(0.0, 1.0)).sum(-1).numpy(), rtol=1e-12)
    Q = D.Normal(torch.tensor(mq), torch.tensor(np.exp(lq / 2)))
    np.testing.assert_allclose(fastinfo.diagonal_gaussian_kl_divergence(mu, lv, mq, lq),
                               D.kl_divergence(P, Q).sum(-1).numpy(), rtol=1e-11)
    assert fastinfo.diagonal_gaussian_kl_divergence(mu, lv, reduction="sum") == pytest.approx(
        float(fastinfo.diagonal_gaussian_kl_divergence(mu, lv).sum()), rel=1e-15)
    # log-variances of +-800: exp(800) overflows, the divergence does not
    mpmath.mp.dps = 30
    r = fastinfo.diagonal_gaussian_kl_divergence([[1.0]], [[800.0]], [[0.0]], [[799.0]])
    want = (mpmath.e - 1 - 1 + mpmath.exp(-799)) / 2
    assert abs(r[0] - want) <= 1e-14 * want
    assert fastinfo.diagonal_gaussian_kl_divergence([0.0], [-800.0], [0.0], [-800.0]) == 0.0
    with pytest.raises(ValueError):
        fastinfo.diagonal_gaussian_kl_divergence([np.nan], [0.0])


def test_gaussian_errors_name_the_batch_index():
    good = np.eye(2)
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])          # symmetric, not positive definite
    with pytest.raises(ValueError, match=r"batch index \(1, 0\)"):
        fastinfo.gaussian_entropy(np.stack([np.stack([good, good]), np.stack([bad, good])]))
    with pytest.raises(ValueError, match="not symmetric"):
        fastinfo.gaussian_entropy(np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="cov_q"):
        fastinfo.gaussian_kl_divergence(np.zeros(2), good, np.zeros(2), bad)
    with pytest.raises(ValueError, match="positive"):
        fastinfo.gaussian_entropy(np.array([1.0, -1.0]), diagonal=True)


def test_gaussian_batches_in_chunks_give_the_values_of_one_call(monkeypatch):
    # the Gaussian closed forms factor and solve the batch in chunks (Ctrl-C is
    # answered between them); every matrix is handled on its own, so the values are bitwise
    # those of one LAPACK call over the whole batch, and errors name the global batch index
    import fastinfo._gaussian as g
    rng = np.random.default_rng(3)
    A = rng.random((3, 50, 4, 4))
    C = np.eye(4) + 0.05 * (A + A.transpose(0, 1, 3, 2))
    m = rng.standard_normal((3, 50, 4))
    whole = (fastinfo.gaussian_entropy(C), fastinfo.gaussian_kl_divergence(m, C, 0.5 * m, C[:, ::-1]))
    for chunk in (1, 7, 60):             # slices of the first axis, and of the second
        monkeypatch.setattr(g, "_CHUNK", chunk)
        assert np.array_equal(fastinfo.gaussian_entropy(C), whole[0])
        assert np.array_equal(fastinfo.gaussian_kl_divergence(m, C, 0.5 * m, C[:, ::-1]), whole[1])
        bad = C.copy()
        bad[2, 41] = -np.eye(4)
        with pytest.raises(ValueError, match=r"batch index \(2, 41\)"):
            fastinfo.gaussian_entropy(bad)
