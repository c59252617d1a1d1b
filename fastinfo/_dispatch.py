"""Pick the compiled kernel variant for this CPU, once, at import.

setup.py compiles the same kernels (``_kernels.pxi``) for several instruction
set levels. The baseline variant always runs; it asks the CPU (and the OS)
which wider levels are usable, and the best of those is imported. Variants
above the CPU's level are never imported: their module initialisation may
already contain AVX-512 instructions.

``FASTINFO_SIMD=baseline|avx2|avx512`` forces a level (it must be built and
supported by the CPU), e.g. to compare variants or to rule one out.
"""

from __future__ import annotations

import glob
import importlib
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

LEVELS = ("baseline", "avx2", "avx512")   # in increasing order of width


KERNEL_SOURCES = ("_core.pyx", "_common.pxi", "_kernels.pxi", "_logits.pxi", "_joint.pxi", "_labels.pxi",
                  "_pairwise.pxi", "_general.pxi", "_emi.pxi", "_spacing.pxi", "_knn.pxi", "_capi.pxi",
                  "_fi_capi.h", "_fimath.h", "_fi_platform.h", "_fi_vec.h", "_fi_rows.h",
                  "_fi_row_type.h", "_fi_row_type_end.h", "_fi_logits.h", "_fi_logit_row.h", "_fi_prob.h",
                  "_fi_prob_row.h")


def _kernel_source(folder: str) -> bytes:
    """The bytes of every source file the compiled kernels are built from."""
    out = []
    for name in KERNEL_SOURCES:
        with open(os.path.join(folder, name), "rb") as f:
            out.append(f.read())
    return b"\0".join(out)


def _use_installed_kernels() -> None:
    """Running from an unbuilt source checkout (e.g. `python -m fastinfo` in the
    repository root after `pip install .`, where the current directory shadows
    the installed package): borrow the compiled kernels of the installed copy,
    provided they were built from this very kernel source."""
    package = sys.modules[__package__]
    here = os.path.dirname(os.path.abspath(__file__))
    source = _kernel_source(here)
    for entry in sys.path:
        cand = os.path.join(os.path.abspath(entry or os.getcwd()), "fastinfo")
        if cand == here or not glob.glob(os.path.join(cand, "_kernels_baseline*.*")):
            continue
        try:
            same = _kernel_source(cand) == source
        except OSError:
            same = False
        if not same:
            raise ImportError(f"fastinfo's kernels are not built in {here}, and the installed copy in "
                              f"{cand} was built from other sources: run `pip install .` again")
        package.__path__.append(cand)
        return
    raise ImportError(f"fastinfo's compiled kernels are missing in {here}: install with `pip install .` "
                      f"(or build in place with `python setup.py build_ext --inplace`)")


try:
    _baseline: ModuleType = importlib.import_module("fastinfo._kernels_baseline")
except ModuleNotFoundError:
    _use_installed_kernels()
    _baseline = importlib.import_module("fastinfo._kernels_baseline")
cpu_rank: int = _baseline.cpu_level()   # 0, 1 or 2: the highest level this CPU (and OS) supports


def _import(level: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"fastinfo._kernels_{level}")
    except ImportError:   # not built here (e.g. non-x86 platform, or FASTINFO_SIMD_LEVELS)
        return None


def available_kernels() -> dict[str, ModuleType]:
    """{level: module} for every compiled variant this CPU can run, narrowest first."""
    found: dict[str, ModuleType] = {}
    for rank, level in enumerate(LEVELS):
        if rank <= cpu_rank:
            mod = _baseline if level == "baseline" else _import(level)
            if mod is not None:
                found[level] = mod
    return found


def _choose() -> tuple[str, ModuleType]:
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
# the code compiled once (label counting, the k-d tree, sorts, the expected mutual information),
# and the platform state that every variant adopted at import
core: ModuleType = importlib.import_module("fastinfo._core")
# the loops of _core that vectorize run at the selected variant's level
core.use_row_kernels(kernels.row_kernel_table())
