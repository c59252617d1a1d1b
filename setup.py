"""Build script for fastinfo's compiled kernels.

What it decides, and prints while building:

* OpenMP: probed by compiling a tiny program with the compiler's OpenMP flag.
  If the probe fails (or ``FASTINFO_DISABLE_OPENMP=1``) the kernels are built
  serial, with a warning; ``fastinfo.show_config()`` reports it.
* SIMD: the same row-kernel source (``fastinfo/_kernels.pxi``) is compiled once per
  instruction-set level -- ``baseline`` (the platform default), and on x86-64
  also ``avx2`` (x86-64-v3: AVX2 + FMA) and ``avx512`` (x86-64-v4). The best
  level the CPU supports is chosen at import time (``fastinfo/_dispatch.py``).
  No native-CPU tuning flag: the wheel runs on any x86-64 CPU. The code that gains
  nothing from wide vectors (``fastinfo/_core.pyx``: label counting, the k-d tree,
  sorts, the expected mutual information, the platform state) is compiled once.
* Never gcc's fast-math mode: it drops inf/NaN semantics (the 0*log 0 = 0 convention
  and +inf results depend on them) and links crtfastmath.o, which turns on
  flush-to-zero for the whole Python process. ``-fno-trapping-math`` is what
  lets gcc turn ``p == 0 ? 0 : p*log(p)`` into a vector select; it changes no
  result.

Environment variables:

* ``FASTINFO_DISABLE_OPENMP=1`` -- build without OpenMP.
* ``FASTINFO_SIMD_LEVELS=baseline`` -- comma-separated subset of levels to build
  (default: every level the compiler can target).
* ``FASTINFO_DEBUG=1`` -- turn Cython's bounds/wraparound/initialization checks
  back on and compile with ``-O0 -g``.
* ``FASTINFO_SANITIZE=1`` -- the memory-safety build: AddressSanitizer and
  UndefinedBehaviorSanitizer (plus float-to-integer cast overflow), ``-O1 -g``,
  Cython's bounds/wraparound/initialization checks on. Python itself is not
  instrumented, so load the runtime first: ``.ci/sanitize`` does all of it.
"""

import glob
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

# level name -> extra compiler flags (gcc/clang syntax)
SIMD_LEVELS = {
    "baseline": [],
    "avx2": ["-march=x86-64-v3"],
    # gcc's generic tuning may prefer 256-bit vectors on AVX-512 parts; the
    # log/exp-bound kernels do twice the work per instruction with full 512-bit vectors.
    "avx512": ["-march=x86-64-v4", "-mprefer-vector-width=512"],
}

DEBUG = os.environ.get("FASTINFO_DEBUG", "") not in ("", "0")
SANITIZE = os.environ.get("FASTINFO_SANITIZE", "") not in ("", "0")
SANITIZE_FLAGS = ["-fsanitize=address,undefined,float-cast-overflow", "-fno-omit-frame-pointer"]


def _log(msg):
    print(f"fastinfo build: {msg}", file=sys.stderr, flush=True)


def _compiler_cmd():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return cc.split()


def _try_compile(flags, source, link=True):
    """Return True if ``source`` compiles (and links) with ``flags``."""
    cc = _compiler_cmd()
    if shutil.which(cc[0]) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(source)
        out = os.path.join(tmp, "probe.out" if link else "probe.o")
        cmd = cc + flags + ([src, "-o", out] if link else ["-c", src, "-o", out])
        if link:
            cmd += flags  # link flags (e.g. -fopenmp) after the sources as well
        try:
            res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        except (OSError, subprocess.SubprocessError):
            return False
        return res.returncode == 0


OPENMP_PROBE = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel num_threads(2) reduction(+:n)
    n += 1;
    printf("%d %d\n", n, omp_get_max_threads());
    return 0;
}
"""


def openmp_flags():
    """(compile_flags, link_flags) for OpenMP, or ([], []) with a warning."""
    if os.environ.get("FASTINFO_DISABLE_OPENMP", "") not in ("", "0"):
        _log("OpenMP disabled by FASTINFO_DISABLE_OPENMP: building serial kernels")
        return [], []
    if sys.platform == "win32":
        return ["/openmp"], []
    candidates = [(["-fopenmp"], ["-fopenmp"])]
    if sys.platform == "darwin":  # Apple clang needs the preprocessor spelling and libomp
        candidates.append((["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
    for cflags, lflags in candidates:
        if _try_compile(cflags + lflags, OPENMP_PROBE):
            _log(f"OpenMP enabled ({' '.join(cflags)})")
            return cflags, lflags
    _log("WARNING: the compiler does not support OpenMP; building SERIAL kernels "
         "(fastinfo.show_config() will say so)")
    return [], []


def simd_levels():
    wanted = os.environ.get("FASTINFO_SIMD_LEVELS")
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64") and sys.platform != "win32":
        levels = [lv for lv in SIMD_LEVELS
                  if lv == "baseline" or _try_compile(SIMD_LEVELS[lv], "int f(void){return 0;}\n", link=False)]
    else:
        levels = ["baseline"]
    if wanted:
        req = [w.strip() for w in wanted.split(",") if w.strip()]
        unknown = [w for w in req if w not in SIMD_LEVELS]
        if unknown:
            raise SystemExit(f"FASTINFO_SIMD_LEVELS: unknown level(s) {unknown}; known: {list(SIMD_LEVELS)}")
        levels = [lv for lv in levels if lv in req]
        if "baseline" not in levels:
            levels.insert(0, "baseline")  # the always-runnable fallback
    _log(f"SIMD levels built: {', '.join(levels)}")
    return levels


CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG or SANITIZE,
    "wraparound": DEBUG or SANITIZE,
    "initializedcheck": DEBUG or SANITIZE,
    "cdivision": True,
    "embedsignature": True,
}


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:  # the three SIMD variants compile concurrently
            self.parallel = os.cpu_count() or 1

    def run(self):
        # Cython runs when the extensions are built, not when setup.py is read: an sdist and
        # the metadata need no generated C. C that this Cython generated from the current sources
        # is kept (see _generated_c), so a second `pip install .` of one tree compiles nothing.
        stale = [e for e in self.extensions if _generated_c(e) is None]
        generated = {e.name: e for e in cythonize(stale, compiler_directives=CYTHON_DIRECTIVES,
                                                  nthreads=os.cpu_count() or 1)} if stale else {}
        for ext in self.extensions:
            ext.sources = generated[ext.name].sources if ext.name in generated else [_generated_c(ext)]
        super().run()


def _generated_c(ext):
    """The C file of ext if this Cython wrote it after the last change to any of fastinfo's
    Cython sources and headers, else None. (cythonize's own check also counts Cython's bundled
    .pxd files, which a fresh isolated build environment stamps anew: it would regenerate and
    recompile everything on every install.)"""
    import Cython
    pyx = ext.sources[0]
    c = os.path.splitext(pyx)[0] + ".c"
    if not pyx.endswith(".pyx") or not os.path.exists(c):
        return None
    with open(c, encoding="utf-8", errors="replace") as f:
        if f"Generated by Cython {Cython.__version__} " not in f.readline():
            return None
    sources = [p for pat in ("*.pyx", "*.pxi", "*.pxd", "*.h") for p in glob.glob(os.path.join("fastinfo", pat))]
    sources.append(__file__)        # the directives and macros live here
    c_time = os.path.getmtime(c)
    return c if all(os.path.getmtime(p) < c_time for p in sources) else None


def extensions():
    omp_c, omp_l = openmp_flags()
    link = []
    if sys.platform == "win32":
        base = ["/O2"]
    elif SANITIZE:
        base = ["-O1", "-g"] + SANITIZE_FLAGS
        link = SANITIZE_FLAGS
        _log("sanitizer build: " + " ".join(SANITIZE_FLAGS) + ", Cython bounds checks on")
    elif DEBUG:
        base = ["-O0", "-g"]
    else:
        base = ["-O3", "-fno-trapping-math", "-fno-math-errno"]
    depends = sorted(glob.glob("fastinfo/*.pxi") + glob.glob("fastinfo/*.h"))
    # everything but the row kernels (label counting, the k-d tree, sorts, the expected mutual
    # information) and the platform state: compiled once, for the baseline (its one vectorizable
    # loop, the spacing estimators' log sum, is borrowed from the selected variant at import)
    exts = [Extension("fastinfo._core", ["fastinfo/_core.pyx"], include_dirs=[np.get_include(), "fastinfo"],
                      depends=depends, define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                      extra_compile_args=base + omp_c, extra_link_args=omp_l + link)]
    for level in simd_levels():
        exts.append(Extension(
            f"fastinfo._kernels_{level}",
            [f"fastinfo/_kernels_{level}.pyx"],
            include_dirs=[np.get_include(), "fastinfo"],
            # every included .pxi and C header (a header change must recompile: Cython does not
            # track the headers of `cdef extern from`)
            depends=depends,
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=base + omp_c + SIMD_LEVELS[level],
            extra_link_args=omp_l + link,
        ))
    # the C-level API (cimport fastinfo.capi): calls through the kernel variant's table,
    # so it needs neither SIMD flags nor OpenMP itself
    exts.append(Extension("fastinfo.capi", ["fastinfo/capi.pyx"], include_dirs=["fastinfo"],
                          depends=["fastinfo/capi.pxd", "fastinfo/_fi_capi.h"], extra_compile_args=base,
                          extra_link_args=link))
    return exts


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
