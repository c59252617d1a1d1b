"""Ctrl-C during a long call: KeyboardInterrupt within about a second, no thread
left running, nothing corrupted.

A child process runs one long call (seconds to tens of seconds) of every kernel family in
turn; the test sends it SIGINT -- what Ctrl-C in a terminal does -- once the call is under
way and measures how long the child takes to report the KeyboardInterrupt. The child then
checks that none of its threads is still running (Linux: the state of every task in
/proc/self/task), that the inputs are unchanged and that a small call of the same function
gives bitwise the result it gave before the interrupt.

The kernels run without the GIL, so they poll: the calling thread runs Python's pending
signal handlers about ten times a second (fastinfo/_fi_platform.h, fi_poll).
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from helpers import run_python

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")

# name: (setup -> tuple of arguments, the long call, the small call, seconds to wait before SIGINT)
CHILD = textwrap.dedent(r'''
    import json, os, signal, sys, threading, time
    import numpy as np
    import fastinfo as fi

    # a process started in the background by a non-interactive shell inherits SIGINT ignored
    # (and Python then installs no handler): Ctrl-C's behaviour is what is under test
    signal.signal(signal.SIGINT, signal.default_int_handler)

    rng = np.random.default_rng(8)
    half = lambda shape, dt=np.float64: np.broadcast_to(dt(0.5), shape)   # zero-stride: no memory
    small = rng.random((3, 50))
    OUT = {}

    def surprisal_setup():       # the output is made (and its pages touched) before the call
        OUT["o"] = np.full((2**7, 2**23), -1.0, np.float32)
        return (half((2**7, 2**23), np.float16),)

    def _t():
        import torch, warnings
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch

    def _ft():
        import fastinfo.torch
        return fastinfo.torch

    def staircase(r):            # cluster i has i + 1 members: r distinct row and column sums
        a = np.repeat(np.arange(r), np.arange(1, r + 1))
        return a, np.random.default_rng(1).permutation(a)

    CASES = {
        # kernel family: rows of a batch (more than 6e10 elements)
        "entropy": (lambda: (half((2**14, 2**22)),), lambda p: fi.entropy(p),
                    lambda: fi.entropy(small)),
        # one row of 2^34 elements, split into blocks over the threads
        "entropy_one_row": (lambda: (half((2**34,), np.float32),), lambda p: fi.entropy(p),
                            lambda: fi.entropy(small[0])),
        # 2-byte input read as it is, one row split over the threads
        "js_divergence_float16_one_row": (lambda: (half((2**34,), np.float16), half((2**34,), np.float16)),
                                          lambda p, q: fi.js_divergence(p, q),
                                          lambda: fi.js_divergence(small[0].astype(np.float16),
                                                                   small[1].astype(np.float16))),
        "kl_divergence": (lambda: (half((2**14, 2**22)), half((2**14, 2**22))),
                          lambda p, q: fi.kl_divergence(p, q, normalize=True),
                          lambda: fi.kl_divergence(small, small[::-1], normalize=True)),
        # elementwise: the output is as large as the input (4 GB of float32), so the run is
        # short (0.3 s on two threads of a Zen 5; two threads on every machine) and SIGINT comes
        # early (0.05 s: thread 0 first looks for it 0.1 s into the call);
        # the output, filled with -1 beforehand, must be left partly unwritten (a call that
        # ran to its end and raised only afterwards would still answer within the second)
        "surprisal_float16": (surprisal_setup, lambda p: fi.surprisal(p, out=OUT["o"], n_threads=2),
                              lambda: fi.surprisal(small.astype(np.float16)),
                              lambda: bool((OUT["o"][:, -1] == -1).any())),
        # thread 0's rows are cheap (ignored labels): the others run on, thread 0 must keep polling
        "softmax_cross_entropy_ignored": (lambda: (half((2**12, 2**22)),
                                                   np.r_[np.full(2**11, -100), np.zeros(2**11, dtype=np.int64)]),
                                          lambda x, y: fi.softmax_cross_entropy(x, y, ignore_index=-100,
                                                                                reduction="none"),
                                          lambda: fi.softmax_cross_entropy(small, np.array([0, -100, 2]),
                                                                           ignore_index=-100, reduction="none")),
        # one long row of Correa's (2m + 1) work per term: it polls within the row
        "differential_entropy_correa": (lambda: (rng.random(400_000),),
                                        lambda x: fi.differential_entropy(x, method="correa", window_length=2000),
                                        lambda: fi.differential_entropy(small, method="correa")),
        "renyi_entropy": (lambda: (half((2**14, 2**22)),), lambda p: fi.renyi_entropy(p, 2.5),
                          lambda: fi.renyi_entropy(small, 2.5)),
        # one row of 2^33 elements: the generalized measures and the logit passes poll between
        # the blocks of a row (a row is one thread's work: no other poll would come)
        "renyi_entropy_one_row": (lambda: (half((2**33,), np.float32),), lambda p: fi.renyi_entropy(p, 2.5),
                                  lambda: fi.renyi_entropy(small[0], 2.5)),
        "renyi_entropy_float16_one_row": (lambda: (half((2**34,), np.float16),),
                                          lambda p: fi.renyi_entropy(p, 2.5),
                                          lambda: fi.renyi_entropy(small[0].astype(np.float16), 2.5)),
        "renyi_divergence_one_row": (lambda: (half((2**33,), np.float32), half((2**33,), np.float32)),
                                     lambda p, q: fi.renyi_divergence(p, q, 0.7),
                                     lambda: fi.renyi_divergence(small[0], small[1], 0.7)),
        "logsumexp_one_row": (lambda: (half((2**33,), np.float32),), lambda x: fi.logsumexp(x),
                              lambda: fi.logsumexp(small[0])),
        # the third pass of the total variation polls between its blocks too
        "softmax_total_variation_one_row": (lambda: (half((2**33,), np.float32), half((2**33,), np.float32)),
                                            lambda p, q: fi.softmax_total_variation(p, q),
                                            lambda: fi.softmax_total_variation(small[0], small[1])),
        # the gradient's write pass polls too (into a zero-stride output: no memory)
        "softmax_cross_entropy_gradient": (lambda: (half((2**14, 2**22), np.float32),
                                                    np.zeros(2**14, dtype=np.int64)),
                                           lambda x, y: fi.softmax_cross_entropy(
                                               x, y, return_grad=True, grad_out=np.lib.stride_tricks.as_strided(
                                                   np.zeros(1, np.float32), x.shape, (0, 0), writeable=True)),
                                           lambda: fi.softmax_cross_entropy(small, np.array([0, 1, 2]),
                                                                            return_grad=True)[1]),
        "softmax_kl_divergence_gradient": (lambda: (half((2**14, 2**22), np.float32),
                                                    half((2**14, 2**22), np.float32)),
                                           lambda p, q: fi.softmax_kl_divergence(
                                               p, q, return_grad=True, grad_out=np.lib.stride_tricks.as_strided(
                                                   np.zeros(1, np.float32), q.shape, (0, 0), writeable=True)),
                                           lambda: fi.softmax_kl_divergence(small, small[::-1],
                                                                            return_grad=True)[1]),
        # short rows, a vector of them at a time, into zero-stride outputs (no memory)
        "softmax_cross_entropy_grad_hess": (lambda: (half((2**24, 2**10)), np.zeros(2**24, dtype=np.int64)),
                                            lambda x, y: fi.softmax_cross_entropy_grad_hess(
                                                x, y, grad_out=np.lib.stride_tricks.as_strided(
                                                    np.zeros(1), x.shape, (0, 0), writeable=True),
                                                hess_out=np.lib.stride_tricks.as_strided(
                                                    np.zeros(1), x.shape, (0, 0), writeable=True)),
                                            lambda: fi.softmax_cross_entropy_grad_hess(small, np.array([0, 1, 2]))[1]),
        # fastinfo.torch: the forward pass (which saves the rows' log-sum-exps) polls as the loss does
        "torch.cross_entropy": (lambda: (half((2**14, 2**22), np.float32), np.zeros(2**14, dtype=np.int64)),
                                lambda x, y: _ft().cross_entropy(_t().from_numpy(x), _t().from_numpy(y)),
                                lambda: float(_ft().cross_entropy(_t().from_numpy(small),
                                                                  _t().from_numpy(np.array([0, 1, 2]))))),
        "softmax_cross_entropy": (lambda: (half((2**14, 2**22)), np.zeros(2**14, dtype=np.int64)),
                                  lambda x, y: fi.softmax_cross_entropy(x, y, reduction="none"),
                                  lambda: fi.softmax_cross_entropy(small, np.array([0, 1, 2]),
                                                                   reduction="none")),
        # the order statistics too (ties everywhere: the heap and the rank's counts)
        "softmax_stats": (lambda: (half((2**14, 2**22)), np.zeros(2**14, dtype=np.int64)),
                          lambda x, y: fi.softmax_stats(x, y, k=5),
                          lambda: fi.softmax_stats(small, np.array([0, 1, 2]), k=5).nll),
        "topk_kl_divergence": (lambda: (np.broadcast_to(np.log(0.5), (2**14, 1)), np.zeros((2**14, 1), np.int64),
                                        half((2**14, 2**22))),
                               lambda lp, i, x: fi.topk_kl_divergence(lp, i, x),
                               lambda: fi.topk_kl_divergence(np.log(small[:, :2] / 2), np.array([[0, 1]] * 3), small)),
        "ensemble_uncertainty": (lambda: (half((2**3, 2**11, 2**22)),),
                                 lambda x: fi.ensemble_uncertainty(x),
                                 lambda: fi.ensemble_uncertainty(small.reshape(3, 5, 10)).total),
        "sequence_scores": (lambda: (half((2**7, 2**7, 2**22)), np.zeros((2**7, 2**7), dtype=np.int64)),
                            lambda x, y: fi.sequence_scores(x, y),
                            lambda: fi.sequence_scores(small.reshape(3, 5, 10),
                                                       np.zeros((3, 5), dtype=np.int64)).perplexity),
        # a search of several reads of the logits: each read polls
        "fit_temperature": (lambda: (half((2**14, 2**22)), np.zeros(2**14, dtype=np.int64)),
                            lambda x, y: fi.fit_temperature(x, y),
                            lambda: fi.fit_temperature(small * 3, np.array([0, 1, 2]))),
        "logsumexp": (lambda: (half((2**14, 2**22)),), lambda x: fi.logsumexp(x),
                      lambda: fi.logsumexp(small)),
        "joint_entropy": (lambda: (half((2**10, 2**12, 2**12)),), lambda p: fi.joint_entropy(p),
                          lambda: fi.joint_entropy(small.reshape(3, 5, 10))),
        "pairwise_js_divergence": (lambda: (half((6000, 300)), half((6000, 300))),
                                   lambda p, q: fi.pairwise_js_divergence(p, q),
                                   lambda: fi.pairwise_js_divergence(small, small)),
        "differential_entropy": (lambda: (np.broadcast_to(rng.random(100_000), (40_000, 100_000)),),
                                 lambda x: fi.differential_entropy(x),
                                 lambda: fi.differential_entropy(small)),
        "knn_entropy": (lambda: (rng.random((6_000_000, 3)),), lambda x: fi.knn_entropy(x),
                        lambda: fi.knn_entropy(small.T)),
        "knn_mutual_information": (lambda: (rng.random((4_000_000, 2)), rng.random((4_000_000, 2))),
                                   lambda x, y: fi.knn_mutual_information(x, y),
                                   lambda: fi.knn_mutual_information(small[0], small[1])),
        "mutual_information_score": (lambda: (np.broadcast_to(np.int64(3), (2**32,)),) * 2,
                                     lambda a, b: fi.mutual_information_score(a, b),
                                     lambda: fi.mutual_information_score([0, 0, 1, 2], [0, 1, 1, 1])),
        # NumPy/LAPACK over 4e6 pairs: answered between the chunks of the batch
        "gaussian_kl_divergence": (lambda: (np.broadcast_to(np.zeros(3), (4_000_000, 3)),
                                            np.broadcast_to(np.eye(3), (4_000_000, 3, 3)),
                                            np.broadcast_to(np.ones(3), (4_000_000, 3)),
                                            np.broadcast_to(2 * np.eye(3), (4_000_000, 3, 3))),
                                   lambda mp, cp, mq, cq: fi.gaussian_kl_divergence(mp, cp, mq, cq),
                                   lambda: fi.gaussian_kl_divergence(np.zeros(2), np.eye(2), np.ones(2),
                                                                     2 * np.eye(2))),
        "adjusted_mutual_information_score": (lambda: staircase(5000),
                                              lambda a, b: fi.adjusted_mutual_information_score(a, b),
                                              lambda: fi.adjusted_mutual_information_score(
                                                  [0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0])),
    }

    def running_threads():
        """Tasks of this process (other than this thread) that are running or runnable."""
        me = threading.get_native_id()
        busy = []
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if int(tid) != me and state == "R":
                busy.append(int(tid))
        return busy

    def settled_threads(timeout=3.0):
        """Worker threads may spin for a few milliseconds before they sleep."""
        end = time.monotonic() + timeout
        while True:
            busy = running_threads()
            if not busy or time.monotonic() > end:
                return busy
            time.sleep(0.05)

    for name in sys.argv[1:]:
        setup, call, check, *unfinished = CASES[name]   # unfinished: the work was cut short
        args = setup()
        copies = [np.array(a, copy=True) if a.strides and 0 not in a.strides else None for a in args]
        before = check()
        sys.stdout.write(f"go {name}\n")
        sys.stdout.flush()
        t0 = time.monotonic()
        try:
            call(*args)
            report = {"name": name, "interrupted": False, "elapsed": time.monotonic() - t0}
        except KeyboardInterrupt:
            t1 = time.monotonic()
            after = check()
            same = all(np.array_equal(x, y, equal_nan=True) for x, y in
                       zip(np.atleast_1d(before), np.atleast_1d(after)))
            unchanged = all(c is None or np.array_equal(c, a) for c, a in zip(copies, args))
            busy = settled_threads() if sys.platform.startswith("linux") else []
            report = {"name": name, "interrupted": True, "t_interrupt": t1, "ran": t1 - t0,
                      "same_after": bool(same), "inputs_unchanged": bool(unchanged), "busy": busy,
                      "unfinished": unfinished[0]() if unfinished else None}
        sys.stdout.write(json.dumps(report) + "\n")
        sys.stdout.flush()
        OUT.clear()              # a case's output is not kept for the next ones
''')

NAMES = ["entropy", "entropy_one_row", "js_divergence_float16_one_row", "kl_divergence", "surprisal_float16",
         "renyi_entropy",
         "renyi_entropy_one_row", "renyi_entropy_float16_one_row", "renyi_divergence_one_row", "softmax_cross_entropy",
         "softmax_cross_entropy_gradient", "softmax_kl_divergence_gradient", "softmax_cross_entropy_grad_hess",
         "torch.cross_entropy", "softmax_cross_entropy_ignored", "softmax_stats", "sequence_scores", "ensemble_uncertainty", "topk_kl_divergence", "fit_temperature", "differential_entropy_correa", "logsumexp",
         "logsumexp_one_row", "softmax_total_variation_one_row", "joint_entropy", "pairwise_js_divergence",
         "differential_entropy", "knn_entropy", "knn_mutual_information", "mutual_information_score",
         "adjusted_mutual_information_score", "gaussian_kl_divergence"]
# seconds between the start of the call and SIGINT: into the compiled kernels, past the
# NumPy passes some functions make first (the symmetry and finiteness checks of 4e6
# covariances take ~1 s; the label ranges of mutual_information_score, ~2 s over 2^32
# labels, run in chunks and answer, so SIGINT lands in them)
DELAY = {"surprisal_float16": 0.05, "gaussian_kl_divergence": 3.5}
LATENCY = 1.0    # "within about a second"


@pytest.fixture(scope="module")
def reports():
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)       # the default team: threads that must stop
    proc = subprocess.Popen([sys.executable, "-c", CHILD] + NAMES, stdout=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    out = {}
    watchdog = threading.Timer(900, proc.kill)     # a call that is never interrupted: fail, not hang
    watchdog.start()
    try:
        for name in NAMES:
            line = proc.stdout.readline()
            assert line == f"go {name}\n", f"child said {line!r} (exit status {proc.poll()})"
            time.sleep(DELAY.get(name, 1.0))
            t_sig = time.monotonic()
            proc.send_signal(signal.SIGINT)
            rep = json.loads(proc.stdout.readline())
            rep["latency"] = rep["t_interrupt"] - t_sig if rep["interrupted"] else None
            out[name] = rep
        proc.wait(timeout=60)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    return out


@pytest.mark.parametrize("name", NAMES)
def test_ctrl_c_interrupts_long_call(reports, name):
    rep = reports[name]
    assert rep["interrupted"], f"{name} ran to completion ({rep['elapsed']:.1f} s) without interruption"
    assert 0 <= rep["latency"] < LATENCY, f"{name}: KeyboardInterrupt {rep['latency']:.3f} s after SIGINT"
    assert rep["busy"] == [], f"{name}: threads {rep['busy']} still running after the interrupt"
    assert rep["inputs_unchanged"], f"{name}: an input was modified"
    assert rep["same_after"], f"{name}: a small call gives another result after the interrupt"
    assert rep["unfinished"] in (None, True), \
        f"{name}: the call ran to its end before raising ({rep['ran']:.2f} s)"


def test_a_handler_that_does_not_raise_lets_the_call_finish():
    """A SIGINT handler that only records the signal: the call completes with the right value."""
    code = textwrap.dedent(r'''
        import os, signal, threading, time
        import numpy as np
        import fastinfo as fi
        seen = []
        signal.signal(signal.SIGINT, lambda s, f: seen.append(time.monotonic()))
        p = np.broadcast_to(np.float64(1.0 / 2**31), (2, 2**31))
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        h = fi.entropy(p)
        print(len(seen), repr(float(h[0])), repr(float(h[1])))
    ''')
    res = run_python(["-c", code])
    assert res.returncode == 0, res.stderr
    n, h0, h1 = res.stdout.split()
    assert int(n) == 1
    assert abs(float(h0) - 31 * 0.6931471805599453) < 1e-9 and h0 == h1
