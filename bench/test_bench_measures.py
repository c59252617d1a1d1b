"""pytest-benchmark suite: every workload x contender of bench/harness.py.

    pytest bench/ --benchmark-only
    pytest bench/ --benchmark-only -k "kl_divergence and float32"
    pytest bench/ --benchmark-only --benchmark-min-rounds=3 --benchmark-max-time=0   # quicker
    pytest bench/ --benchmark-only --benchmark-autosave                             # track over time

Each benchmark is grouped by workload, so pytest-benchmark's table shows the
contenders of one workload together. The ratios (speed-up over NumPy, SciPy,
PyTorch, over one thread, share of the roofline) come from
``python bench/run.py``, which interleaves the contenders in one process;
this suite times them one after the other, which suits tracking a figure
over time (``--benchmark-compare``) better than comparing contenders.
"""

import numpy as np
import pytest

import harness  # bench/ is put on sys.path by bench/conftest.py

CASES = [
    pytest.param(w, key, id=f"{w.name}-{key}")
    for w in harness.workloads()
    for key in harness.contender_keys(w)
]

_baseline_outputs = {}


def _baseline_output(workload, contenders):
    """The NumPy baseline's result for `workload`, computed once (a batch-sized vector)."""
    if workload not in _baseline_outputs:
        _baseline_outputs.clear()
        numpy_fn = next(c.fn for c in contenders if c.family == "numpy")
        _baseline_outputs[workload] = np.asarray(numpy_fn())
    return _baseline_outputs[workload]


@pytest.mark.parametrize("workload, key", CASES)
def test_measure(benchmark, workload, key):
    inputs = harness.make_inputs(workload.shape, workload.dtype, logits=workload.logits)
    contenders = harness.build_contenders(workload, inputs)
    found = {c.key: c for c in contenders}
    if key not in found:
        pytest.skip(f"{key}: not available here (PyTorch not installed, or no read_roofline)")
    contender = found[key]

    if contender.to_baseline is not None and contender.family != "numpy":
        got = contender.to_baseline(contender.fn())
        want = _baseline_output(workload, contenders)
        tol = dict(rtol=1e-3, atol=1e-5) if workload.dtype == "float32" else dict(rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64).reshape(want.shape), want, **tol)

    benchmark.group = workload.name
    benchmark.extra_info.update(
        family=contender.family,
        n_threads=contender.n_threads,
        call=contender.call,
        elements=workload.elements,
        bytes_read=workload.bytes_read,
    )
    benchmark(contender.fn)
