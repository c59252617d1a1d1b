# What every compiled module of fastinfo shares: the C declarations of the math and platform
# headers, the platform state (thread counts, fork safety, Ctrl-C), the helpers that size a
# team of threads, and the functions that report the platform. Included by _kernels.pxi (the
# row kernels, compiled once per SIMD level) and by _core.pyx (everything else, compiled
# once), which holds the one copy of the platform state that the kernel variants adopt.

cimport cython
cimport numpy as cnp
from cython.parallel cimport prange, parallel, threadid
from libc.math cimport log, log1p, sqrt, fabs, isfinite, INFINITY, NAN
from libc.stdlib cimport malloc, calloc, free
from libc.float cimport DBL_MAX, DBL_MIN, DBL_EPSILON, FLT_EPSILON, FLT_MAX, FLT_MIN

import math

import numpy as np

cnp.import_array()

cdef extern from "_fimath.h" nogil:
    double fi_log(double x) noexcept
    float fi_logf(float x) noexcept
    double fi_exp(double x) noexcept
    float fi_expf(float x) noexcept
    double fi_fnma(double a, double b, double c) noexcept

cdef extern from "_fi_platform.h" nogil:
    int fi_openmp_enabled() noexcept
    int fi_max_threads() noexcept
    int fi_cpu_level() noexcept
    int fi_atfork_register() noexcept
    int fi_resolve_threads(int n) noexcept
    int fi_is_forked_serial() noexcept
    int fi_get_last_threads() noexcept
    void fi_set_thread_cap(int n) noexcept
    int fi_get_thread_cap() noexcept
    # Ctrl-C during a kernel call (see _fi_platform.h): fi_poll(stop, work) per unit of work
    ctypedef struct fi_stop_t:
        int flag
    void fi_set_main_thread(unsigned long ident) noexcept
    int fi_poll(fi_stop_t* s, long long work) noexcept
    int fi_poll_rows(fi_stop_t* s, Py_ssize_t i, long long work) noexcept
    int fi_poll_block(fi_stop_t* s, long long work) noexcept

cdef extern from "_fi_platform.h":
    fi_stop_t* fi_stop_begin(fi_stop_t* s) noexcept     # with the GIL, before the work
    int fi_stop_raise(fi_stop_t* s) except -1           # with the GIL, after it: re-raises

cdef extern from "_fi_platform.h":
    void* fi_platform_state() noexcept
    void fi_platform_adopt(void* state) noexcept

from cpython.pycapsule cimport PyCapsule_New, PyCapsule_GetPointer

if __name__ == "fastinfo._core":
    # the one copy of the platform state (threads, fork safety), shared with the kernel variants
    _PLATFORM_STATE = PyCapsule_New(fi_platform_state(), b"fastinfo._core.platform", NULL)
else:
    from fastinfo._core import platform_state as _core_platform_state
    fi_platform_adopt(PyCapsule_GetPointer(_core_platform_state(), b"fastinfo._core.platform"))
fi_atfork_register()     # fork safety: see _fi_platform.h
import threading as _threading
fi_set_main_thread(_threading.main_thread().ident)   # where signal handlers run

# --- row kernels that fastinfo._core borrows from the selected variant ------------------
# _core is compiled for the baseline; its few vectorizable loops are also compiled into every
# kernel variant, and the dispatcher hands _core the selected variant's (row_kernel_table,
# use_row_kernels). The source is this one.
ctypedef double (*log_diff_sum_t)(const double* hi, const double* lo, Py_ssize_t cnt, double c) noexcept nogil

cdef enum:
    LDS_LANES = 8                # independent accumulators the compiler vectorizes


cdef double _lane_log_diff_sum(const double* hi, const double* lo, Py_ssize_t cnt, double c) noexcept nogil:
    """sum over k < cnt of log(c (hi[k] - lo[k])) in LDS_LANES lanes of the vectorizable fi_log,
    in a fixed order (+inf or NaN where a term is; the spacing estimators then take it again
    term by term)."""
    cdef double acc[LDS_LANES]
    cdef Py_ssize_t i, j, nv = cnt - cnt % LDS_LANES
    cdef double S = 0.0
    for j in range(LDS_LANES):
        acc[j] = 0.0
    for i in range(0, nv, 8):      # step = LDS_LANES (Cython needs a literal step)
        for j in range(LDS_LANES):
            acc[j] += fi_log(c * (hi[i + j] - lo[i + j]))
    for i in range(nv, cnt):
        acc[0] += fi_log(c * (hi[i] - lo[i]))
    for j in range(LDS_LANES):
        S += acc[j]
    return S


ctypedef fused real:
    float
    double


cdef enum:
    PARALLEL_MIN_WORK = 32768   # below this many elements a fork/join costs more than it saves

cdef double LN2 = 0.6931471805599453   # fl(ln 2) == fi_log(2.0)


cdef inline double _nonneg(double v) noexcept nogil:
    # also turns -0.0 into +0.0
    return v + 0.0 if v > 0.0 else 0.0


cdef inline int _effective_threads(Py_ssize_t work, int n_threads) noexcept nogil:
    """The team size of a kernel: 1 without OpenMP, for small work, or in a child forked after
    a parallel call (libgomp's pool does not survive fork); else n_threads."""
    if not fi_openmp_enabled() or work < PARALLEL_MIN_WORK:
        return fi_resolve_threads(1)
    return fi_resolve_threads(n_threads)


cdef inline Py_ssize_t _rows_chunk(Py_ssize_t work) noexcept nogil:
    """Rows per chunk of a prange over rows of `work` elements: chunks of ~16 384 elements
    dealt round-robin (schedule='static', chunksize), so thread 0 -- the thread that polls
    for Ctrl-C (fi_poll) -- has work until near the end of the loop, whatever rows are
    cheap (ignored, invalid) and wherever they sit; never below 8 rows for short rows, so
    threads do not write one cache line of results. Each row is computed by one thread
    either way: results do not change."""
    if work >= 2048:
        return max(1, 16384 // work)
    return max(8, 16384 // max(work, 1))


# --- platform facts ---------------------------------------------------------------
def openmp_enabled():
    """True if these kernels were compiled with OpenMP."""
    return bool(fi_openmp_enabled())


def set_thread_cap(int n):
    """No kernel runs more than n threads (n <= 0: no cap)."""
    fi_set_thread_cap(n)


def max_threads():
    """omp_get_max_threads() now (1 without OpenMP, or in a child forked after a parallel
    call): honours OMP_NUM_THREADS and threadpoolctl."""
    return fi_max_threads()


def forked_serial():
    """True in a child forked after this process ran a parallel kernel: every kernel is serial."""
    return bool(fi_is_forked_serial())


def last_threads():
    """The thread count the last kernel asked OpenMP for (debugging aid; 1 for small work)."""
    return fi_get_last_threads()


def cpu_level():
    """0 baseline, 1 x86-64-v3 (AVX2+FMA), 2 x86-64-v4 (AVX-512): what this CPU can run."""
    return fi_cpu_level()


