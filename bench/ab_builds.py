"""Two builds of fastinfo side by side: each case timed in fresh processes that alternate
between the builds (A B A B ...), medians of per-round ratios, so drift of a shared machine
hits both alike.

    python bench/ab_builds.py OLD_TREE NEW_TREE [--rounds 7]
    FI_AB_ONLY='renyi|bf16' python bench/ab_builds.py ...   # only the cases whose names contain one
    FI_AB_ONLY='x128000' python bench/ab_builds.py ...      # the logit rows from DRAM (1.6 GB per process)

OLD_TREE and NEW_TREE are source trees with in-place builds (``python setup.py build_ext
--inplace``), e.g. a ``git worktree`` of an older commit; each run puts its tree first on
PYTHONPATH, and runs outside every tree (``python -P``, working directory /), so the
current directory cannot shadow it; the child checks which tree it imported. One thread
(OMP_NUM_THREADS=1). The read roofline of the same run is printed
beside, as a floor for the memory-bound cases.
"""
import json
import os
import statistics
import subprocess
import sys

CHILD = r'''
import json, os, time, numpy as np, fastinfo
assert fastinfo.__file__.startswith(os.environ["FI_AB_TREE"]), (fastinfo.__file__, os.environ["FI_AB_TREE"])
from fastinfo._dispatch import kernels as k
rng = np.random.default_rng(0)
v = rng.random(100); v /= v.sum()
P = rng.random((2000, 10000)); P /= P.sum(1, keepdims=True)
X64 = rng.standard_normal((20000, 1000)); X32 = X64.astype(np.float32)
L = rng.integers(0, 1000, 20000)
S = rng.random((250, 1000)); S /= S.sum(1, keepdims=True); S32 = S.astype(np.float32)
PA = rng.random((400, 1000)); PA /= PA.sum(1, keepdims=True)
QA = rng.random((300, 1000)); QA /= QA.sum(1, keepdims=True)
PA32, QA32 = PA.astype(np.float32), QA.astype(np.float32)
D = rng.standard_normal((1000, 10000))
import ml_dtypes
XB = (rng.standard_normal((64, 128000), dtype=np.float32) * 3).astype(ml_dtypes.bfloat16)
LB = rng.integers(0, 128000, 64)
XF = XB.astype(np.float32)
G = P[:1000]; GQ = P[1000:]
GB, GQB = G.astype(ml_dtypes.bfloat16), GQ.astype(ml_dtypes.bfloat16)
G32, GQ32 = G.astype(np.float32), GQ.astype(np.float32)
PAB, QAB = PA.astype(ml_dtypes.bfloat16), QA.astype(ml_dtypes.bfloat16)
# strided rows: every other element of a wider buffer, and a broadcast (stride 0) row
NS = 1 << 22
W = rng.random(2 * NS); W /= W[::2].sum()
W32, W16, WB = W.astype(np.float32), (W * NS).astype(np.float16), (W * NS).astype(ml_dtypes.bfloat16)
WQ = rng.random(2 * NS); WQ /= WQ[::2].sum()
ZERO = np.broadcast_to(0.0, (NS,))
_BIG = {}
LD = rng.integers(0, 128000, 1024)
def big(dtype):
    # 1024 x 128 000 logits (512 MB in float32): rows from DRAM; built only when asked for
    if dtype not in _BIG:
        x = (np.random.default_rng(0).standard_normal((1024, 128000), dtype=np.float32) * 3)
        x = x.astype(ml_dtypes.bfloat16)
        _BIG["bf16"], _BIG["f32"] = x, x.astype(np.float32)
    if dtype == "f64" and dtype not in _BIG:
        _BIG["f64"] = big("f32").astype(np.float64)
    return _BIG[dtype]
def t(f, n, reps=5):
    r = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        r.append((time.perf_counter() - t0) / n)
    return float(np.median(r))
CASES = {
    "entropy 1x100 (us)": lambda: t(lambda: fastinfo.entropy(v), 20000) * 1e6,
    "kl_divergence 1x100 (us)": lambda: t(lambda: fastinfo.kl_divergence(v, v), 20000) * 1e6,
    "entropy 2000x10000 f64 (ms)": lambda: t(lambda: fastinfo.entropy(P, n_threads=1), 3) * 1e3,
    "entropy 1000x10000 f32 (ms)": lambda: t(lambda: fastinfo.entropy(G32, n_threads=1), 3) * 1e3,
    "kl_divergence 1000x10000 f64 (ms)": lambda: t(lambda: fastinfo.kl_divergence(G, GQ, n_threads=1), 3) * 1e3,
    "kl_divergence 1000x10000 f32 (ms)": lambda: t(lambda: fastinfo.kl_divergence(G32, GQ32, n_threads=1), 3) * 1e3,
    "js_divergence 1000x10000 f64 (ms)": lambda: t(lambda: fastinfo.js_divergence(G, GQ, n_threads=1), 3) * 1e3,
    "cross_entropy 1000x10000 f32 (ms)": lambda: t(lambda: fastinfo.cross_entropy(G32, GQ32, n_threads=1), 3) * 1e3,
    "read roofline 2000x10000 f64 (ms)": lambda: t(lambda: k.read_roofline(P, 1), 3) * 1e3,
    "logsumexp 20000x1000 f64 (ms)": lambda: t(lambda: fastinfo.logsumexp(X64, n_threads=1), 3) * 1e3,
    "logsumexp 20000x1000 f32 (ms)": lambda: t(lambda: fastinfo.logsumexp(X32, n_threads=1), 3) * 1e3,
    "softmax_entropy 20000x1000 f32 (ms)": lambda: t(lambda: fastinfo.softmax_entropy(X32, n_threads=1), 3) * 1e3,
    "softmax_cross_entropy 20000x1000 f32 (ms)": lambda: t(lambda: fastinfo.softmax_cross_entropy(X32, L, n_threads=1), 3) * 1e3,
    # long rows in cache (16 MB of bfloat16): pass 2's compute per logit
    "logsumexp 64x128000 bf16, in cache (ms)": lambda: t(lambda: fastinfo.logsumexp(XB, n_threads=1), 5) * 1e3,
    "softmax_entropy 64x128000 bf16, in cache (ms)": lambda: t(lambda: fastinfo.softmax_entropy(XB, n_threads=1), 5) * 1e3,
    "softmax_cross_entropy 64x128000 bf16, in cache (ms)": lambda: t(lambda: fastinfo.softmax_cross_entropy(
        XB, LB, n_threads=1), 5) * 1e3,
    "logsumexp 64x128000 f32, in cache (ms)": lambda: t(lambda: fastinfo.logsumexp(XF, n_threads=1), 5) * 1e3,
    "softmax_cross_entropy 64x128000 f32, in cache (ms)": lambda: t(lambda: fastinfo.softmax_cross_entropy(
        XF, LB, n_threads=1), 5) * 1e3,
    "softmax_kl_divergence 20000x1000 f32 (ms)": lambda: t(lambda: fastinfo.softmax_kl_divergence(X32, X32[::-1], n_threads=1), 3) * 1e3,
    "softmax_js_divergence 20000x1000 f32 (ms)": lambda: t(lambda: fastinfo.softmax_js_divergence(X32, X32[::-1], n_threads=1), 3) * 1e3,
    "softmax_js_divergence 20000x1000 f64 (ms)": lambda: t(lambda: fastinfo.softmax_js_divergence(X64, X64[::-1], n_threads=1), 3) * 1e3,
    "logsumexp 1024x128000 f32, from DRAM (ms)": lambda: t(lambda: fastinfo.logsumexp(big("f32"), n_threads=1), 1) * 1e3,
    "logsumexp 1024x128000 f64, from DRAM (ms)": lambda: t(lambda: fastinfo.logsumexp(big("f64"), n_threads=1), 1) * 1e3,
    "logsumexp 1024x128000 bf16, from DRAM (ms)": lambda: t(lambda: fastinfo.logsumexp(big("bf16"), n_threads=1), 1) * 1e3,
    "softmax_entropy 1024x128000 f32, from DRAM (ms)": lambda: t(lambda: fastinfo.softmax_entropy(
        big("f32"), n_threads=1), 1) * 1e3,
    "softmax_cross_entropy 1024x128000 f32, from DRAM (ms)": lambda: t(lambda: fastinfo.softmax_cross_entropy(
        big("f32"), LD, n_threads=1), 1) * 1e3,
    "softmax_entropy 1024x128000 f64, from DRAM (ms)": lambda: t(lambda: fastinfo.softmax_entropy(
        big("f64"), n_threads=1), 1) * 1e3,
    "softmax_cross_entropy 1024x128000 f64, from DRAM (ms)": lambda: t(lambda: fastinfo.softmax_cross_entropy(
        big("f64"), LD, n_threads=1), 1) * 1e3,
    "logsumexp 4x128000 f64, in cache (ms)": lambda: t(lambda: fastinfo.logsumexp(
        big("f64")[:4], n_threads=1), 50) * 1e3,
    "softmax 256x128000 f64, from DRAM (ms)": lambda: t(lambda: fastinfo.softmax(
        big("f64")[:256], n_threads=1), 1) * 1e3,
    "log_softmax 256x128000 f64, from DRAM (ms)": lambda: t(lambda: fastinfo.log_softmax(
        big("f64")[256:512], n_threads=1), 1) * 1e3,
    "softmax 256x128000 f32, from DRAM (ms)": lambda: t(lambda: fastinfo.softmax(
        big("f32")[:256], n_threads=1), 1) * 1e3,
    "softmax_entropy 1024x128000 bf16, from DRAM (ms)": lambda: t(lambda: fastinfo.softmax_entropy(
        big("bf16"), n_threads=1), 1) * 1e3,
    "softmax_kl_divergence 512x128000 f64, from DRAM (ms)": lambda: t(lambda: fastinfo.softmax_kl_divergence(
        big("f64")[:512], big("f64")[512:], n_threads=1), 1) * 1e3,
    "softmax_kl_divergence 2x128000 f64, in cache (ms)": lambda: t(lambda: fastinfo.softmax_kl_divergence(
        big("f64")[:2], big("f64")[2:4], n_threads=1), 50) * 1e3,
    "softmax_kl_divergence 512x128000 f32, from DRAM (ms)": lambda: t(lambda: fastinfo.softmax_kl_divergence(
        big("f32")[:512], big("f32")[512:], n_threads=1), 1) * 1e3,
    "surprisal 250x1000 f64, in cache (ms)": lambda: t(lambda: fastinfo.surprisal(S, n_threads=1), 100) * 1e3,
    "surprisal 250x1000 f32, in cache (ms)": lambda: t(lambda: fastinfo.surprisal(S32, n_threads=1), 100) * 1e3,
    "pairwise_js_divergence 400x300x1000 f64 (ms)": lambda: t(lambda: fastinfo.pairwise_js_divergence(PA, QA, n_threads=1), 1) * 1e3,
    "pairwise_js_divergence 400x300x1000 f32 (ms)": lambda: t(lambda: fastinfo.pairwise_js_divergence(PA32, QA32, n_threads=1), 1) * 1e3,
    "differential_entropy 1000x10000 vasicek (ms)": lambda: t(lambda: fastinfo.differential_entropy(D, n_threads=1), 1) * 1e3,
    # the generalized measures, 1000x10000, as passed (the kernel only) and with the default sum check
    "renyi_entropy a=2 f64 (ms)": lambda: t(lambda: fastinfo.renyi_entropy(G, 2.0, normalize=False, n_threads=1), 2) * 1e3,
    "tsallis_entropy q=2 f64 (ms)": lambda: t(lambda: fastinfo.tsallis_entropy(G, 2.0, normalize=False, n_threads=1), 2) * 1e3,
    "renyi_entropy a=1.7 f64 (ms)": lambda: t(lambda: fastinfo.renyi_entropy(G, 1.7, normalize=False, n_threads=1), 2) * 1e3,
    "renyi_entropy a=1.7 f32 (ms)": lambda: t(lambda: fastinfo.renyi_entropy(G32, 1.7, normalize=False, n_threads=1), 2) * 1e3,
    "tsallis_entropy q=1.7 f32 (ms)": lambda: t(lambda: fastinfo.tsallis_entropy(G32, 1.7, normalize=False, n_threads=1), 2) * 1e3,
    "tsallis_entropy q=2 f32 (ms)": lambda: t(lambda: fastinfo.tsallis_entropy(G32, 2.0, normalize=False, n_threads=1), 2) * 1e3,
    "tsallis_entropy q=2 bf16 (ms)": lambda: t(lambda: fastinfo.tsallis_entropy(GB, 2.0, normalize=False, n_threads=1), 2) * 1e3,
    "renyi_divergence a=2 f64 (ms)": lambda: t(lambda: fastinfo.renyi_divergence(G, GQ, 2.0, normalize=False, n_threads=1), 2) * 1e3,
    "renyi_divergence a=2 f32 (ms)": lambda: t(lambda: fastinfo.renyi_divergence(G32, GQ32, 2.0, normalize=False, n_threads=1), 2) * 1e3,
    "hellinger_distance f64 (ms)": lambda: t(lambda: fastinfo.hellinger_distance(G, GQ, normalize=False, n_threads=1), 2) * 1e3,
    "total_variation f64 (ms)": lambda: t(lambda: fastinfo.total_variation(G, GQ, normalize=False, n_threads=1), 2) * 1e3,
    "renyi_entropy a=2 f64, sum check (ms)": lambda: t(lambda: fastinfo.renyi_entropy(G, 2.0, n_threads=1), 2) * 1e3,
    "renyi_entropy a=2 bf16, sum check (ms)": lambda: t(lambda: fastinfo.renyi_entropy(GB, 2.0, n_threads=1), 2) * 1e3,
    "total_variation bf16, sum check (ms)": lambda: t(lambda: fastinfo.total_variation(GB, GQB, n_threads=1), 2) * 1e3,
    "pairwise_js_divergence 400x300x1000 bf16 (ms)": lambda: t(lambda: fastinfo.pairwise_js_divergence(
        PAB, QAB, n_threads=1), 1) * 1e3,
    "strided entropy f64 2^22 (ms)": lambda: t(lambda: fastinfo.entropy(W[::2], n_threads=1), 3) * 1e3,
    "strided entropy f64 contiguous copy 2^22 (ms)": lambda: t(lambda: fastinfo.entropy(
        np.ascontiguousarray(W[::2]), n_threads=1), 3) * 1e3,
    "strided entropy f32 2^22 (ms)": lambda: t(lambda: fastinfo.entropy(W32[::2], n_threads=1), 3) * 1e3,
    "strided kl_divergence f64 2^22 (ms)": lambda: t(lambda: fastinfo.kl_divergence(W[::2], WQ[::2], n_threads=1), 3) * 1e3,
    "strided logsumexp f64 stride 0 2^22 (ms)": lambda: t(lambda: fastinfo.logsumexp(ZERO, n_threads=1), 3) * 1e3,
    "strided logsumexp f32 2^22 (ms)": lambda: t(lambda: fastinfo.logsumexp(W32[::2], n_threads=1), 3) * 1e3,
    "strided entropy f16 normalize 2^22 (ms)": lambda: t(lambda: fastinfo.entropy(W16[::2], normalize=True, n_threads=1), 3) * 1e3,
    "strided logsumexp bf16 2^22 (ms)": lambda: t(lambda: fastinfo.logsumexp(WB[::2], n_threads=1), 3) * 1e3,
}
only = os.environ.get("FI_AB_ONLY", "").split("|")
print(json.dumps({k: f() for k, f in CASES.items() if any(o in k for o in only)}))
'''


def main() -> None:
    a, b = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 7
    res: dict[str, list[dict[str, float]]] = {a: [], b: []}
    for _ in range(rounds):
        for tree in (a, b):
            root = os.path.abspath(tree)
            env = dict(os.environ, PYTHONPATH=root, FI_AB_TREE=os.path.join(root, ""), OMP_NUM_THREADS="1")
            out = subprocess.run([sys.executable, "-P", "-c", CHILD], capture_output=True, text=True, env=env,
                                 cwd="/", check=False)
            if out.returncode != 0:
                sys.exit(f"the run of {tree} failed:\n{out.stderr}")
            res[tree].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'case':44s} {'A':>10s} {'B':>10s}   B/A (median of rounds)")
    for key in res[a][0]:
        ma = statistics.median(r[key] for r in res[a])
        mb = statistics.median(r[key] for r in res[b])
        ratio = statistics.median(rb[key] / ra[key] for ra, rb in zip(res[a], res[b]))
        print(f"{key:44s} {ma:10.3f} {mb:10.3f}   {ratio:.3f}")


if __name__ == "__main__":
    main()
