"""Pick the compiled kernel variant for this CPU, once, at import.

setup.py compiles the same kernels (``_kernels.pxi``) for several instruction
set levels. The baseline variant always runs; it asks the CPU (and the OS)
which wider levels are usable, and the best of those is imported. Variants
above the CPU's level are never imported: their module initialisation may
already contain AVX-512 instructions.

``FASTINFO_SIMD=baseline|avx2|avx512`` forces a level (it must be built and
supported by the CPU), e.g. to compare variants or to rule one out.
"""

import importlib
import os

LEVELS = ("baseline", "avx2", "avx512")   # in increasing order of width

_baseline = importlib.import_module("fastinfo._kernels_baseline")
cpu_rank = _baseline.cpu_level()   # 0, 1 or 2: the highest level this CPU (and OS) supports


def _import(level):
    try:
        return importlib.import_module(f"fastinfo._kernels_{level}")
    except ImportError:   # not built here (e.g. non-x86 platform, or FASTINFO_SIMD_LEVELS)
        return None


def available_kernels():
    """{level: module} for every compiled variant this CPU can run, narrowest first."""
    found = {}
    for rank, level in enumerate(LEVELS):
        if rank <= cpu_rank:
            mod = _baseline if level == "baseline" else _import(level)
            if mod is not None:
                found[level] = mod
    return found


def _choose():
    forced = os.environ.get("FASTINFO_SIMD", "").strip().lower()
    if forced:
        if forced not in LEVELS:
            raise ImportError(f"FASTINFO_SIMD={forced!r}: expected one of {', '.join(LEVELS)}")
        if LEVELS.index(forced) > cpu_rank:
            raise ImportError(f"FASTINFO_SIMD={forced!r}: this CPU supports at most "
                              f"{LEVELS[cpu_rank]!r}")
        mod = _baseline if forced == "baseline" else _import(forced)
        if mod is None:
            raise ImportError(f"FASTINFO_SIMD={forced!r}: that variant was not built")
        return forced, mod
    for rank in range(cpu_rank, -1, -1):
        level = LEVELS[rank]
        mod = _baseline if level == "baseline" else _import(level)
        if mod is not None:
            return level, mod
    return "baseline", _baseline


simd_level, kernels = _choose()
