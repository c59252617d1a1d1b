"""Stable under load: 16 Python threads call every public function for 10 seconds
and every result is bitwise the result of the same call made alone, before the threads start.

Inputs of two sizes per function: small ones (one OpenMP thread) and ones above the parallel
threshold (each call forms its own OpenMP team while 15 other calls do the same), so the
threads share the kernels' per-call state, the fork bookkeeping, the libgomp pool and the GIL.
``FASTINFO_STRESS_SECONDS`` changes the duration (10 s by default; longer runs find rarer races).
"""

import os
import threading
import time

import numpy as np
from matplotlib.figure import Figure
from helpers import public_functions

import fastinfo as fi
from fastinfo import objectives

SECONDS = float(os.environ.get("FASTINFO_STRESS_SECONDS", "10"))
THREADS = 16
RNG = np.random.default_rng(16)


def _inputs(rows, k):
    p = RNG.random((rows, k))
    q = RNG.random((rows, k))
    return p, q, p / p.sum(1, keepdims=True), q / q.sum(1, keepdims=True)


P, Q, P1, Q1 = _inputs(6, 16)                    # small: serial kernels
BP, BQ, BP1, BQ1 = _inputs(300, 400)             # 120 000 elements: parallel kernels
HP1, HQ1 = BP1.astype(np.float16), BQ1.astype(np.float16)     # 2-byte rows, read as stored
L = RNG.integers(0, 16, 6)
BL = RNG.integers(0, 400, 300)
J = RNG.random((3, 4, 5))
BJ = RNG.random((4, 200, 200))
C = np.array([[2.0, 0.3], [0.3, 1.0]])
A = RNG.random((500, 4, 4))
BC = np.eye(4) + 0.05 * (A + A.transpose(0, 2, 1))       # symmetric positive definite
M = RNG.standard_normal(2)
X = RNG.integers(0, 3, 30)
Y = RNG.integers(0, 4, 30)
BX = RNG.integers(0, 50, 50_000)
BY = (BX + RNG.integers(0, 5, 50_000)) % 60
S = RNG.standard_normal(40)
BS = RNG.standard_normal((40, 2000))
PTS = RNG.standard_normal((5000, 3))
T = fi.contingency_table(X, Y)
BT = fi.contingency_table(BX, BY)

TL = np.array([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])    # 3 of 4 right: T = 2 / log 3
TY = np.array([0, 0, 1, 1])
BTL = np.tile(TL, (500, 1)) * RNG.uniform(0.5, 2.0, (2000, 1))
BTY = np.tile(TY, 500)

CASES = {
    "entropy": [lambda: fi.entropy(P1), lambda: fi.entropy(BP, normalize=True),
                lambda: fi.entropy(BP.astype(np.float16), normalize=True)],
    "cross_entropy": [lambda: fi.cross_entropy(P1, Q1), lambda: fi.cross_entropy(BP1, BQ1)],
    "kl_divergence": [lambda: fi.kl_divergence(P1, Q1), lambda: fi.kl_divergence(BP, BQ, normalize=True),
                      lambda: fi.kl_divergence(BP1.astype(np.float16), BQ1.astype(np.float16))],
    "js_divergence": [lambda: fi.js_divergence(P1, Q1), lambda: fi.js_divergence(BP1, BQ1, distance=True)],
    "surprisal": [lambda: fi.surprisal(P1), lambda: fi.surprisal(BP, normalize=True),
                  lambda: fi.surprisal(BP.astype(np.float16), normalize=True)],
    "logsumexp": [lambda: fi.logsumexp(P), lambda: fi.logsumexp(BP, axis=0),
                  lambda: fi.logsumexp(BP, return_grad=True, grad_output=BL)],
    "log_softmax": [lambda: fi.log_softmax(P), lambda: fi.log_softmax(BP),
                    lambda: fi.log_softmax(BP, temperature=2.0, return_grad=True, grad_output=BQ)],
    "softmax": [lambda: fi.softmax(P), lambda: fi.softmax(BP)],
    "softmax_cross_entropy": [lambda: fi.softmax_cross_entropy(P, L),
                              lambda: fi.softmax_cross_entropy(BP, BL, label_smoothing=0.1,
                                                               reduction="none"),
                              lambda: fi.softmax_cross_entropy(BP, BL, label_smoothing=0.1, reduction="mean",
                                                               return_grad=True)],
    "softmax_entropy": [lambda: fi.softmax_entropy(P), lambda: fi.softmax_entropy(BP)],
    "softmax_kl_divergence": [lambda: fi.softmax_kl_divergence(P, Q),
                              lambda: fi.softmax_kl_divergence(BP, BQ, reduction="none"),
                              lambda: fi.softmax_kl_divergence(BP, BQ, temperature=2.0, reduction="batchmean",
                                                               return_grad=True)],
    "softmax_js_divergence": [lambda: fi.softmax_js_divergence(P, Q),
                              lambda: fi.softmax_js_divergence(BP, BQ, reduction="none"),
                              lambda: fi.softmax_js_divergence(BP, BQ, beta=0.2, reduction="batchmean",
                                                               return_grad=True)],
    "softmax_total_variation": [lambda: fi.softmax_total_variation(P, Q, where=L > 3),
                                lambda: fi.softmax_total_variation(BP, BQ, labels=BL, ignore_index=7)],
    "sigmoid_cross_entropy": [lambda: fi.sigmoid_cross_entropy(P, P1),
                              lambda: fi.sigmoid_cross_entropy(BP, BP1, reduction="none"),
                              lambda: fi.sigmoid_cross_entropy(BP, BP1, reduction="mean", return_grad=True)],
    "softmax_cross_entropy_grad_hess": [lambda: fi.softmax_cross_entropy_grad_hess(P, L),
                                        lambda: fi.softmax_cross_entropy_grad_hess(BP, BL, hessian="upper_bound"),
                                        lambda: fi.softmax_cross_entropy_grad_hess(np.asfortranarray(BP), BL,
                                                                                   sample_weight=BL * 0.5,
                                                                                   gamma=2.0)],
    "sigmoid_cross_entropy_grad_hess": [lambda: fi.sigmoid_cross_entropy_grad_hess(P, P1),
                                        lambda: fi.sigmoid_cross_entropy_grad_hess(BP, BP1 > 0.5, gamma=2.0)],
    "perplexity": [lambda: fi.perplexity(P, L), lambda: fi.perplexity(BP, BL)],
    "softmax_stats": [lambda: fi.softmax_stats(P, L, k=3), lambda: fi.softmax_stats(BP, BL, k=5)],
    "calibration_error": [lambda: fi.calibration_error(P1, L, n_bins=4),
                          lambda: fi.calibration_error(BP, BL, from_logits=True, mode="classwise", norm="l2")],
    "brier_score": [lambda: fi.brier_score(P1, L), lambda: fi.brier_score(BP, BL, from_logits=True)],
    "topk_kl_divergence": [lambda: fi.topk_kl_divergence(np.log(P1[:, :3]), np.argsort(-P)[:, :3], P),
                           lambda: fi.topk_kl_divergence(np.log(BP1[:, :20]), np.argsort(-BP)[:, :20], BP,
                                                         temperature=2.0)],
    "ensemble_uncertainty": [lambda: fi.ensemble_uncertainty(P.reshape(2, -1, P.shape[-1])),
                             lambda: fi.ensemble_uncertainty(BP.reshape(4, -1, BP.shape[-1]))],
    "sequence_scores": [lambda: fi.sequence_scores(P.reshape(-1, 2, P.shape[-1]), L.reshape(-1, 2)),
                        lambda: fi.sequence_scores(BP.reshape(-1, 6, BP.shape[-1]), BL.reshape(-1, 6),
                                                   lengths=np.arange(BL.size // 6) % 7)],
    "fit_temperature": [lambda: fi.fit_temperature(TL, TY), lambda: fi.fit_temperature(BTL, BTY)],
    # each call its own Figure (matplotlib's object API, not pyplot's shared state)
    "reliability_diagram": [lambda: [b.get_height() for b in
                                     fi.reliability_diagram(BP, BL, from_logits=True,
                                                            ax=Figure().add_subplot()).patches]],
    "joint_entropy": [lambda: fi.joint_entropy(J, normalize=True), lambda: fi.joint_entropy(BJ, normalize=True)],
    "entropy_from_counts": [lambda: fi.entropy_from_counts(L + 1, estimator="chao_shen"),
                            lambda: fi.entropy_from_counts(BL + 1, estimator="miller_madow")],
    "contingency_table": [lambda: fi.contingency_table(X, Y), lambda: fi.contingency_table(BX, BY)],
    "mutual_information_score": [lambda: fi.mutual_information_score(X, Y),
                                 lambda: fi.mutual_information_score(BX, BY)],
    "normalized_mutual_information_score": [lambda: fi.normalized_mutual_information_score(X, Y),
                                            lambda: fi.normalized_mutual_information_score(BX, BY)],
    "adjusted_mutual_information_score": [lambda: fi.adjusted_mutual_information_score(X, Y),
                                          lambda: fi.adjusted_mutual_information_score(BX, BY)],
    "expected_mutual_information": [lambda: fi.expected_mutual_information(T),
                                    lambda: fi.expected_mutual_information(BT)],
    "renyi_entropy": [lambda: fi.renyi_entropy(P1, 2.5), lambda: fi.renyi_entropy(BP, 0.5, normalize=True),
                      lambda: fi.renyi_entropy(HP1, 3.5)],
    "tsallis_entropy": [lambda: fi.tsallis_entropy(P1, 2.0), lambda: fi.tsallis_entropy(BP1, 1.5)],
    "renyi_divergence": [lambda: fi.renyi_divergence(P1, Q1, 0.5), lambda: fi.renyi_divergence(BP1, BQ1, 3.0),
                         lambda: fi.renyi_divergence(HP1, HQ1, 0.7, normalize=True)],
    "hellinger_distance": [lambda: fi.hellinger_distance(P1, Q1), lambda: fi.hellinger_distance(BP1, BQ1),
                           lambda: fi.hellinger_distance(HP1, HQ1)],
    "total_variation": [lambda: fi.total_variation(P1, Q1), lambda: fi.total_variation(BP1, BQ1)],
    "differential_entropy": [lambda: fi.differential_entropy(S), lambda: fi.differential_entropy(BS)],
    "gaussian_entropy": [lambda: fi.gaussian_entropy(C), lambda: fi.gaussian_entropy(BC)],
    "gaussian_kl_divergence": [lambda: fi.gaussian_kl_divergence(M, C, -M, C),
                               lambda: fi.gaussian_kl_divergence(np.zeros(4), BC, np.ones(4), BC[::-1])],
    "diagonal_gaussian_kl_divergence": [lambda: fi.diagonal_gaussian_kl_divergence(M, M),
                                        lambda: fi.diagonal_gaussian_kl_divergence(BP, BQ, BQ, BP)],
    "knn_entropy": [lambda: fi.knn_entropy(S), lambda: fi.knn_entropy(PTS, k=4)],
    "knn_mutual_information": [lambda: fi.knn_mutual_information(S[:20], S[20:]),
                               lambda: fi.knn_mutual_information(PTS[:, :2], PTS[:, 2])],
    "pairwise_cross_entropy": [lambda: fi.pairwise_cross_entropy(P1, Q1),
                               lambda: fi.pairwise_cross_entropy(BP1[:60], BQ1[:50])],
    "pairwise_kl_divergence": [lambda: fi.pairwise_kl_divergence(P1, Q1),
                               lambda: fi.pairwise_kl_divergence(BP1[:60], BQ1[:50])],
    "pairwise_js_divergence": [lambda: fi.pairwise_js_divergence(P1, Q1),
                               lambda: fi.pairwise_js_divergence(BP1[:60], BQ1[:50], method="fast"),
                               lambda: fi.pairwise_js_divergence(HP1[:60], HQ1[:50], method="exact")],
    "conditional_entropy": [lambda: fi.conditional_entropy(J, normalize=True),
                            lambda: fi.conditional_entropy(BJ, normalize=True)],
    "mutual_information": [lambda: fi.mutual_information(J, normalize=True),
                           lambda: fi.mutual_information(BJ, normalize=True)],
    "normalized_mutual_information": [lambda: fi.normalized_mutual_information(J, normalize=True),
                                      lambda: fi.normalized_mutual_information(BJ, normalize=True)],
    "variation_of_information": [lambda: fi.variation_of_information(J, normalize=True),
                                 lambda: fi.variation_of_information(BJ, normalize=True)],
    "objectives.lightgbm_multiclass": [lambda: objectives.lightgbm_multiclass(400)(BL, BP)],
    "objectives.xgboost_multiclass": [lambda: objectives.xgboost_multiclass(400, gamma=2.0)(BL, BP)],
    "objectives.lightgbm_binary": [lambda: objectives.lightgbm_binary()(BL % 2, BP[:, 0])],
    "objectives.xgboost_binary": [lambda: objectives.xgboost_binary(gamma=1.0)(BL % 2, BP[:, 0])],
}
try:
    import torch
    import fastinfo.torch as ft

    def _loss_and_grad(f, x, *args, **kw):
        x = torch.tensor(x, requires_grad=True)
        loss = f(x, *args, **kw)
        loss.backward()
        return loss.detach().numpy(), x.grad.numpy()

    CASES.update({
        "torch.cross_entropy": [lambda: _loss_and_grad(ft.cross_entropy, BP, torch.tensor(BL), label_smoothing=0.1),
                                lambda: _loss_and_grad(ft.cross_entropy, P, torch.tensor(P1), reduction="sum")],
        "torch.kl_div": [lambda: _loss_and_grad(ft.kl_div, BP, torch.tensor(BQ), log_target=True,
                                                reduction="batchmean", temperature=2.0)],
        "torch.binary_cross_entropy_with_logits": [lambda: _loss_and_grad(ft.binary_cross_entropy_with_logits, BP,
                                                                          torch.tensor(BP1))],
    })
except ImportError:          # fastinfo.torch needs PyTorch (public_functions() leaves it out then)
    pass
CALLS = [(name, i, f) for name, fs in CASES.items() for i, f in enumerate(fs)]


def _bits(r):
    """The result as comparable bytes (bitwise, NaN payloads included)."""
    if isinstance(r, tuple):
        return tuple(_bits(x) for x in r)
    if isinstance(r, fi.SparseContingency):
        return tuple(_bits(np.asarray(getattr(r, a))) for a in ("rows", "cols", "counts"))
    a = np.asarray(r)
    return (a.dtype.str, a.shape, a.tobytes())


def test_every_public_function_has_a_case():
    funcs = public_functions()
    assert funcs - {"show_config", "config"} <= set(CASES), sorted(funcs - set(CASES))


def test_sixteen_threads_give_the_serial_results():
    reference = {(name, i): _bits(f()) for name, i, f in CALLS}
    stop = time.monotonic() + SECONDS
    calls = {(name, i): 0 for name, i, _ in CALLS}
    failures = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(t):
        done = {}
        order = CALLS[t % len(CALLS):] + CALLS[:t % len(CALLS)]   # threads start on different functions
        start.wait()
        try:
            while time.monotonic() < stop and not failures:
                for name, i, f in order:
                    if _bits(f()) != reference[(name, i)]:
                        with lock:
                            failures.append(f"{name}[{i}] differs in thread {t}")
                    done[(name, i)] = done.get((name, i), 0) + 1
        except BaseException as e:            # pragma: no cover - reported below
            with lock:
                failures.append(f"thread {t}: {e!r}")
        with lock:
            for key, n in done.items():
                calls[key] += n

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not failures, failures[:10]
    # every function was called, by (nearly) every thread, many times over
    least = min(calls, key=calls.get)
    assert calls[least] >= THREADS, (least, calls[least])
