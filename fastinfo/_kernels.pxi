# The compiled kernels of fastinfo: where every sum is computed.
#
# Design:
#   * the row engine (_fi_rows.h) sums a row block by block -- the measure's terms and the
#     sums of p and q -- in vector lanes, for every storage type (float64, float32,
#     bfloat16, float16), and recomputes a block on a careful scalar path only when
#     something is off (invalid input, an infinite term, a ratio that lost bits);
#   * a row is the in-order sum of fixed-size blocks, so a long row can be
#     split over threads block by block and give the bitwise-same result (the engine's row
#     does that, and the normalization pass);
#   * this file runs rows under prange(schedule='static', num_threads=...), and `_finish`
#     turns a row's sums into the measure (clamps, base, sqrt).
#
# The measure (FI_P_*) and the storage type (FI_FMT_*) are runtime codes passed down to the
# engine, whose row loop is compiled for each pair.
#
# This file is compiled once per SIMD level (see setup.py); the tiny
# _kernels_<level>.pyx files include it.

include "_common.pxi"

from libc.stdint cimport uint16_t

import functools

cdef extern from "_fi_rows.h" nogil:
    # The row engine: a row of a Shannon measure, for every storage type (see _fi_prob.h)
    enum:
        FI_FMT_F64
        FI_FMT_F32
        FI_FMT_BF16
        FI_FMT_F16
        FI_P_ENT
        FI_P_CE
        FI_P_KL
        FI_P_JS
        FI_P_SUMP
        FI_P_SUMPQ
        FI_P_NORM      # or-ed into a measure: normalize the row first
        FI_BAD_SCALE   # Partial.bad: the normalization factors are out of range
    ctypedef struct Partial "fi_partial":
        double a       # the measure's sum (sum p log p, sum p log q, ...)
        double sp      # sum of p (raw)
        double sq      # sum of q (raw)
        int bad        # 1: invalid p, 2: invalid q
    Partial fi_prob_row_f64(int M, const void* p, Py_ssize_t ps, const void* q, Py_ssize_t qs, Py_ssize_t n,
                            double cp, double cq, int n_threads, fi_stop_t* stop) noexcept
    Partial fi_prob_row_f32(int M, const void* p, Py_ssize_t ps, const void* q, Py_ssize_t qs, Py_ssize_t n,
                            double cp, double cq, int n_threads, fi_stop_t* stop) noexcept
    Partial fi_prob_row_bf16(int M, const void* p, Py_ssize_t ps, const void* q, Py_ssize_t qs, Py_ssize_t n,
                             double cp, double cq, int n_threads, fi_stop_t* stop) noexcept
    Partial fi_prob_row_f16(int M, const void* p, Py_ssize_t ps, const void* q, Py_ssize_t qs, Py_ssize_t n,
                            double cp, double cq, int n_threads, fi_stop_t* stop) noexcept
    double fi_mixlog_block(int fmt, const double* a, const void* b, Py_ssize_t bs, Py_ssize_t n, double c,
                           int* bad) noexcept
    int fi_neglog_block(int fmt, const void* p, Py_ssize_t ps, void* o, Py_ssize_t os, Py_ssize_t n,
                        double d, double lb) noexcept
    double fi_elem(int fmt, const void* p, Py_ssize_t i) noexcept
    void fi_widen_f32(int fmt, const void* p, Py_ssize_t ps, Py_ssize_t n, float* dst) noexcept
    # the generalized measures' blocks (_fi_general_row.h)
    ctypedef struct GStats "fi_gstats":
        double ph, pl, qh, ql      # double-double row sums of p and q
        double mx                  # max p
        double support             # number of p > 0
        int bad                    # a negative, NaN or infinite entry
    void fi_gstats_block(int fmt, int two, int dd, const void* p, Py_ssize_t ps, const void* q, Py_ssize_t qs,
                         Py_ssize_t n, GStats* out) noexcept
    enum:
        FI_DIST_HELLINGER
        FI_DIST_TV
        FI_DIST_CHI2
    double fi_dist_block(int fmt, int mode, const void* p, Py_ssize_t ps, const void* q, Py_ssize_t qs,
                         Py_ssize_t n, double dp, double dq, double* bhat, int* bad) noexcept
    double fi_power_block(int fmt, int kind, int tsallis, const void* p, Py_ssize_t ps, Py_ssize_t n, double d,
                          double a, double* ties, Py_ssize_t pf) noexcept
    void fi_two_sum1(double* hi, double* lo, double x) noexcept     # (hi, lo) += x, error-free
    float fi_bf16_to_f32(uint16_t h) noexcept
    float fi_f16_to_f32(uint16_t h) noexcept
    Py_ssize_t fi_fmt_size(int fmt) noexcept
    enum:
        FI_HOOK_SOFTMAX_EXP
        FI_HOOK_VECTOR_LOG
    void fi_vec_hook(int op, int dbl, const void* x, void* y, Py_ssize_t n) noexcept

cdef enum:
    LANES = 16            # independent accumulators of the loops that gcc vectorizes (_general.pxi, roofline)
    BLOCK = 8192          # elements per block (FI_BLOCK); partial sums are combined per block, in order


cdef inline bint _two_inputs(int M) noexcept nogil:
    """The measure M (FI_P_*) reads q as well as p."""
    return M != FI_P_ENT and M != FI_P_SUMP


cdef extern from "numpy/arrayobject.h":
    enum:
        NPY_HALF        # (not in NumPy's Cython declarations)
        NPY_USERDEF     # the first type number of a user dtype


cdef int _bf16_typenum = -1      # ml_dtypes' bfloat16, once one has come in


cdef inline bint _is_bf16(cnp.ndarray a) noexcept:
    """A 2-byte dtype named bfloat16 (ml_dtypes', a user dtype): by its type number once one
    has been seen, so that a small call pays for no name lookup."""
    global _bf16_typenum
    cdef int t = cnp.PyArray_TYPE(a)
    if t == _bf16_typenum:
        return True
    if t < NPY_USERDEF or cnp.PyArray_ITEMSIZE(a) != 2 or a.dtype.name != "bfloat16":
        return False
    _bf16_typenum = t
    return True


cdef inline int _fmt_of(cnp.ndarray a) except -1:
    """The engine's storage code of an array's dtype (float64, float32, float16, bfloat16)."""
    cdef int t = cnp.PyArray_TYPE(a)
    if t == cnp.NPY_DOUBLE:
        return FI_FMT_F64
    if t == cnp.NPY_FLOAT:
        return FI_FMT_F32
    if t == NPY_HALF:
        return FI_FMT_F16
    if _is_bf16(a):
        return FI_FMT_BF16
    raise TypeError(f"unsupported dtype {a.dtype} (float64, float32, float16 or bfloat16)")


# --- one row ----------------------------------------------------------------
# The engine's row of a Shannon measure for each storage type (_fi_prob_row.h, indexed by FI_FMT_*):
# PROB_ROW[fmt](M, p, ps, q, qs, n, cp, cq, n_threads, stop) -> the row's sums (Partial); M may
# carry FI_P_NORM, and n_threads > 1 splits a long row's blocks over threads (same result).
ctypedef Partial (*prob_row_t)(int M, const void* p, Py_ssize_t ps, const void* q, Py_ssize_t qs, Py_ssize_t n,
                               double cp, double cq, int n_threads, fi_stop_t* stop) noexcept nogil
cdef prob_row_t PROB_ROW[4]
PROB_ROW[FI_FMT_F64] = fi_prob_row_f64
PROB_ROW[FI_FMT_F32] = fi_prob_row_f32
PROB_ROW[FI_FMT_BF16] = fi_prob_row_bf16
PROB_ROW[FI_FMT_F16] = fi_prob_row_f16


cdef struct Options:
    bint normalize
    bint distance
    double tol          # relative tolerance for "these masses are equal / are 1" (rounding of the sums)
    double log_base     # 1.0 for nats
    double sum_tol      # > 0: flag rows (as passed) whose sums differ from 1 by more than this
    fi_stop_t* stop     # Ctrl-C (fi_poll); NULL: never stops


cdef inline bint _close(double a, double b, double tol) noexcept nogil:
    """a and b agree within relative tol (never true for an overflowed, infinite sum)."""
    cdef double d = a - b if a > b else b - a
    return isfinite(a) and isfinite(b) and d <= tol * (a if a > b else b)


cdef double _finish(int M, int fmt, const char* p, Py_ssize_t ps, const char* q, Py_ssize_t qs, Py_ssize_t n,
                    Partial* r, Options* o, int* far) noexcept nogil:
    """The measure, in units of log(base), of the row p (and q) from its sums r (PROB_ROW; NaN:
    invalid). far (may be NULL): set to 1 when o.sum_tol > 0 and a valid row, as passed, sums
    to more than o.sum_tol away from 1 (p, or q for two inputs): the sums come with the terms,
    so the check costs nothing."""
    cdef double v, mass
    cdef Partial t = r[0]
    if t.bad == FI_BAD_SCALE:
        # sums (or their ratio) beyond the range the type scales in: 1/s would overflow or
        # underflow. Rare: a scalar path divides each value by its sum.
        return _finish_extreme(M, _extreme_mass_sum(M, fmt, p, ps, q, qs, n), o)
    if t.bad != 0:
        return NAN
    if n == 0:
        return 0.0
    if far != NULL and o.sum_tol > 0 and not o.normalize:
        if not (fabs(t.sp - 1.0) <= o.sum_tol) or (_two_inputs(M) and not (fabs(t.sq - 1.0) <= o.sum_tol)):
            far[0] = 1
    # With normalize, t.a was summed over the normalized values (FI_P_NORM).
    if M == FI_P_ENT or M == FI_P_CE:
        v = _nonneg(0.0 - t.a) if o.normalize else 0.0 - t.a
    elif M == FI_P_KL:
        if o.normalize:
            v = _nonneg(t.a)
        else:
            v = t.a
            # Log-sum inequality: KL >= sp log(sp/sq), which is 0 when the
            # masses are equal; rows whose sums agree within rounding are
            # taken as equal, so normalized input never gives a negative KL.
            if _close(t.sp, t.sq, o.tol):
                v = _nonneg(v)
    elif M == FI_P_JS:
        if o.normalize:
            mass = 1.0
        else:
            mass = 0.5 * t.sp + 0.5 * t.sq
            if _close(mass, 1.0, o.tol):
                mass = 1.0
        # 0 <= JS <= mass * ln 2 holds termwise for any nonnegative input.
        v = _nonneg(0.5 * t.a)
        if v > LN2 * mass:
            v = LN2 * mass
        if o.distance:
            return sqrt(v / o.log_base)
    else:
        v = t.a
    return v / o.log_base + 0.0    # + 0.0: no -0.0 when log_base < 0


cdef inline double _row_value(int M, int fmt, const char* p, Py_ssize_t ps, const char* q, Py_ssize_t qs,
                              Py_ssize_t n, Options* o) noexcept nogil:
    """The measure of one row on one thread (the pairwise matrices, the C API)."""
    cdef Partial t = PROB_ROW[fmt](M | FI_P_NORM if o.normalize else M, p, ps, q, qs, n, 1.0, 1.0, 1, o.stop)
    return _finish(M, fmt, p, ps, q, qs, n, &t, o, NULL)


cdef double _prescaled_sum(int fmt, const char* x, Py_ssize_t xs, Py_ssize_t n, double* pre) noexcept nogil:
    """Sum of x (stored as fmt), times a power of two (returned in pre) that keeps it finite."""
    cdef Py_ssize_t i
    cdef double s = 0.0
    pre[0] = 1.0
    for i in range(n):
        s += fi_elem(fmt, x, i * xs)
    if s > DBL_MAX:   # overflowed: values * 2^-600 are exact, and the sum fits
        pre[0] = 2.0 ** -600
        s = 0.0
        for i in range(n):
            s += fi_elem(fmt, x, i * xs) * pre[0]
    return s


cdef double _extreme_mass_sum(int M, int fmt, const char* p, Py_ssize_t ps, const char* q, Py_ssize_t qs,
                              Py_ssize_t n) noexcept nogil:
    """Sum of the terms of p/sp (and q/sq) for sums that are subnormal or overflow."""
    cdef Py_ssize_t i
    cdef double a = 0.0, x, y = 0.0, m, sp, sq = 1.0, prep, preq = 1.0
    sp = _prescaled_sum(fmt, p, ps, n, &prep)
    if _two_inputs(M):
        sq = _prescaled_sum(fmt, q, qs, n, &preq)
    for i in range(n):
        x = (fi_elem(fmt, p, i * ps) * prep) / sp
        if _two_inputs(M):
            y = (fi_elem(fmt, q, i * qs) * preq) / sq
        if M == FI_P_ENT:
            a += 0.0 if x == 0 else x * log(x)
        elif M == FI_P_CE:
            a += 0.0 if x == 0 else x * log(y)
        elif M == FI_P_KL:
            a += 0.0 if x == 0 else (INFINITY if y == 0 else x * _log_ratio(x, y))
        elif M == FI_P_JS:
            m = 0.5 * x + 0.5 * y
            a += (0.0 if x == 0 else x * _log_ratio(x, m)) + (0.0 if y == 0 else y * _log_ratio(y, m))
    return a


cdef inline double _log_ratio(double x, double y) noexcept nogil:
    """log(x/y) for x, y > 0, also when x/y over- or underflows."""
    cdef double r = x / y
    if r < DBL_MIN or r > DBL_MAX:
        return log(x) - log(y)
    return log(r)


cdef double _finish_extreme(int M, double a, Options* o) noexcept nogil:
    cdef double v
    if M == FI_P_ENT or M == FI_P_CE:
        v = _nonneg(0.0 - a)
    elif M == FI_P_KL:
        v = _nonneg(a)
    else:
        v = _nonneg(0.5 * a)
        v = LN2 if v > LN2 else v
        if o.distance:
            return sqrt(v / o.log_base)
    return v / o.log_base + 0.0


# --- the batched driver -----------------------------------------------------
cdef Py_ssize_t _reduce_ptr(int M, int fmt, const char* pbase, Py_ssize_t prs, Py_ssize_t ps,
                            const char* qbase, Py_ssize_t qrs, Py_ssize_t qs, Py_ssize_t N, Py_ssize_t K,
                            double* out, Options* o, int n_threads, Py_ssize_t* nfar) noexcept nogil:
    """out[i] = the measure M (FI_P_*) of row i of p (and q), elements stored as fmt; row
    strides in bytes, element strides in elements. Returns the number of NaN (invalid) rows;
    nfar (may be NULL) gets the number of rows flagged by o.sum_tol (see _finish)."""
    cdef Py_ssize_t i, nbad = 0, nf = 0
    cdef int nt, f, mr = M | FI_P_NORM if o.normalize else M
    cdef double v
    cdef Partial t
    cdef prob_row_t row = PROB_ROW[fmt]
    if nfar != NULL:
        nfar[0] = 0
    nt = _effective_threads(N * K, n_threads)
    if nt == 1 or N < nt:
        # one thread, or fewer rows than threads: each row's blocks over the threads
        for i in range(N):
            if fi_poll_rows(o.stop, i, K):
                break
            t = row(mr, pbase + i * prs, ps, qbase + i * qrs, qs, K, 1.0, 1.0, nt, o.stop)
            f = 0
            v = _finish(M, fmt, pbase + i * prs, ps, qbase + i * qrs, qs, K, &t, o, &f)
            out[i] = v
            nf += f
            nbad += v != v
    else:
        for i in prange(N, num_threads=nt, schedule='static', chunksize=_rows_chunk(K)):
            if fi_poll_rows(o.stop, i, K):
                continue
            t = row(mr, pbase + i * prs, ps, qbase + i * qrs, qs, K, 1.0, 1.0, 1, o.stop)
            f = 0
            v = _finish(M, fmt, pbase + i * prs, ps, qbase + i * qrs, qs, K, &t, o, &f)
            out[i] = v
            nf += f
            nbad += v != v
    if nfar != NULL:
        nfar[0] = nf
    return nbad


cdef int _check(Py_ssize_t pn, Py_ssize_t pk, Py_ssize_t qn, Py_ssize_t qk, Py_ssize_t on,
                int n_threads) except -1:
    if pn != qn or pk != qk:
        raise ValueError(f"p and q must have the same 2-D shape, got {(pn, pk)} and {(qn, qk)}")
    if on != pn:
        raise ValueError(f"out must have length {pn}, got {on}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    return 0


cdef inline void _options(Options* o, bint normalize, bint distance, double log_base, Py_ssize_t K,
                         bint single) noexcept nogil:
    o.normalize = normalize
    o.distance = distance
    # Rounding of a sum of K inputs (each rounded when the caller normalized
    # them): "equal masses" / "mass 1" within this relative tolerance.
    o.tol = 16.0 * (FLT_EPSILON if single else DBL_EPSILON) * sqrt(<double>K + 1.0)
    o.log_base = log_base
    o.sum_tol = 0.0
    o.stop = NULL


# The entry point: 2-D (rows x distribution) strided arrays in, one double per row out. The
# argument layer (fastinfo/_args.py) resolves axis, broadcasting, dtypes and threads; this
# checks only what would otherwise crash.

MEASURES = {"entropy": FI_P_ENT, "cross_entropy": FI_P_CE, "kl_divergence": FI_P_KL, "js_divergence": FI_P_JS}


def shannon_rows(int measure, cnp.ndarray p, cnp.ndarray q, double[::1] out, bint normalize, bint distance,
                 double log_base, int n_threads, double sum_tol=0.0, Py_ssize_t[::1] far=None):
    """out[i] = the measure (MEASURES) of row i of p (and q) -- float64, float32, float16 or
    bfloat16 arrays of one dtype; q is ignored (pass p) for entropy. sum_tol > 0: count in
    far[0] the valid rows whose sums are further than sum_tol from 1. Returns the number of
    NaN (invalid) rows."""
    cdef Options o
    cdef Py_ssize_t nbad, N, K, es, nf = 0
    cdef int fmt = _fmt_of(p)
    cdef fi_stop_t st
    if measure < FI_P_ENT or measure > FI_P_JS:
        raise ValueError(f"unknown measure {measure}")
    if measure == FI_P_ENT:
        q = p
    if cnp.PyArray_TYPE(q) != cnp.PyArray_TYPE(p):
        raise TypeError(f"p and q must have one dtype, got {p.dtype} and {q.dtype}")
    if cnp.PyArray_NDIM(p) != 2 or cnp.PyArray_NDIM(q) != 2:
        raise ValueError("p and q must be 2-D")
    N = cnp.PyArray_DIM(p, 0)
    K = cnp.PyArray_DIM(p, 1)
    _check(N, K, cnp.PyArray_DIM(q, 0), cnp.PyArray_DIM(q, 1), out.shape[0], n_threads)
    es = fi_fmt_size(fmt)
    for a in (p, q):
        if cnp.PyArray_STRIDE(<cnp.ndarray>a, 1) % es or not cnp.PyArray_ISALIGNED(<cnp.ndarray>a):
            raise ValueError("p and q must be aligned, with strides that are multiples of the element size")
    _options(&o, normalize, distance, log_base, K, fmt != FI_FMT_F64)
    o.sum_tol = sum_tol
    if N == 0:
        return 0
    o.stop = fi_stop_begin(&st)
    with nogil:
        nbad = _reduce_ptr(measure, fmt, <const char*>cnp.PyArray_DATA(p), cnp.PyArray_STRIDE(p, 0),
                           cnp.PyArray_STRIDE(p, 1) // es, <const char*>cnp.PyArray_DATA(q),
                           cnp.PyArray_STRIDE(q, 0), cnp.PyArray_STRIDE(q, 1) // es, N, K, &out[0], &o,
                           n_threads, &nf)
    fi_stop_raise(o.stop)
    if far is not None and far.shape[0] > 0:
        far[0] += nf
    return nbad


# --- the front: the whole call of a plain request ------------------------------------
# The public functions try this first (fastinfo/_dask.py, dask_aware(front=...)), and so does
# the Python layer once it has checked the options: acquiring the memoryviews of the 2-D
# drivers above, and the Python argument checks, cost more than the arithmetic of a
# 100-element call. It takes the function's own signature, reads the arrays through the NumPy
# C API, and accepts only plain arrays (aligned, C-contiguous, 1-D or 2-D, one float dtype for
# p and q) and the usual spellings of the options; anything else returns None, and the Python
# layer validates, raises or computes as always.
cdef inline bint _plain(object a) noexcept:
    """A 1-D or 2-D, C-contiguous, aligned, native float64/float32/float16/bfloat16 ndarray (not
    a subclass: masked arrays and matrices take the Python layer)."""
    if not cnp.PyArray_CheckExact(a):
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    return ((cnp.PyArray_NDIM(arr) == 1 or cnp.PyArray_NDIM(arr) == 2)
            and cnp.PyArray_ISCARRAY_RO(arr)            # C-contiguous, aligned, native byte order
            and (cnp.PyArray_TYPE(arr) == cnp.NPY_DOUBLE or cnp.PyArray_TYPE(arr) == cnp.NPY_FLOAT
                 or cnp.PyArray_TYPE(arr) == NPY_HALF or _is_bf16(arr)))


cdef extern from "numpy/arrayobject.h":
    object PyArray_Scalar(void* data, cnp.dtype descr, object base)

cdef cnp.dtype _F64_DESCR = np.dtype(np.float64)
cdef cnp.dtype _F32_DESCR = np.dtype(np.float32)
cdef double _front_sum_tol = 0.0      # the Python layer's SUM_TOL (configure_fronts)


def configure_fronts(double sum_tol):
    """The tolerance of normalize=None (fastinfo/_args.py's SUM_TOL)."""
    global _front_sum_tol
    _front_sum_tol = sum_tol


cdef inline double _front_log_base(object base) noexcept:
    """log(base) for None (1.0) or a float/int base > 0, != 1, finite; 0.0: not handled here."""
    cdef double b
    if base is None:
        return 1.0
    if type(base) is float or type(base) is int:
        try:
            b = base
        except OverflowError:
            return 0.0
        if b > 0.0 and b != 1.0 and b <= DBL_MAX:
            return log(b)
    return 0.0


cdef inline int _front_threads(object n_threads) noexcept:
    """The thread count for None or a plain int in [1, cap]; 0: not handled here."""
    cdef long v
    if n_threads is None:
        return fi_max_threads()          # (the kernels cap it: set_thread_cap)
    if type(n_threads) is int:
        try:
            v = n_threads
        except OverflowError:
            return 0
        if v >= 1 and (fi_get_thread_cap() <= 0 or v <= fi_get_thread_cap()):
            return <int>v
    return 0


cdef inline int _front_invalid(object invalid) noexcept:
    """0 for 'raise', 1 for 'nan', -1: not handled here."""
    if type(invalid) is str:
        if invalid == "raise":
            return 0
        if invalid == "nan":
            return 1
    return -1


cdef object _UNSET = object()      # an argument the public function does not have


def shannon_front(int measure, p, q=_UNSET, *, axis=-1, base=None, normalize=None, keepdims=False,
                  invalid="raise", out=None, n_threads=None, distance=_UNSET):
    """entropy (measure FI_P_ENT, no q), cross_entropy, kl_divergence or js_divergence of a
    plain 1-D vector (a NumPy scalar) or of the rows of a plain C-contiguous 2-D batch along
    axis -1 (a new 1-D array) -- or None: take the Python layer, also for an invalid row with
    invalid="raise" (whose message is built there) and for a row that normalize=None finds
    far from summing to 1 (whose warning is raised there). q may be of p's shape or, for a
    batch, one 1-D reference row."""
    cdef Options o
    cdef Py_ssize_t N, K, qrs, nbad = 0, nf = 0
    cdef int typenum, nd, fmt, nt
    cdef bint single
    cdef int nan_mode = _front_invalid(invalid)
    cdef Py_ssize_t es
    cdef double v = 0.0, log_base
    cdef float vf
    cdef const char* pd
    cdef const char* qd
    cdef cnp.ndarray res
    cdef fi_stop_t st
    # the options
    log_base = _front_log_base(base)
    nt = _front_threads(n_threads)
    if log_base == 0.0 or nt == 0 or nan_mode < 0 or out is not None or keepdims is not False:
        return None
    if not (normalize is None or normalize is True or normalize is False):
        return None
    # the public function's own arguments only (its TypeError otherwise): entropy has no q,
    # only js_divergence has distance
    if measure < FI_P_ENT or measure > FI_P_JS:
        raise ValueError(f"unknown measure {measure}")
    if measure == FI_P_JS:
        if distance is _UNSET:
            distance = False
        elif not (distance is False or (distance is True and log_base > 0)):
            return None        # (a distance in a base below 1: the function's own error)
    elif distance is not _UNSET:
        return None
    if (q is _UNSET) != (measure == FI_P_ENT):
        return None
    if q is _UNSET:
        q = None
    # the layout
    if not _plain(p):
        return None
    nd = cnp.PyArray_NDIM(<cnp.ndarray>p)
    if type(axis) is not int or not (axis == -1 or axis == nd - 1):
        return None
    typenum = cnp.PyArray_TYPE(<cnp.ndarray>p)
    K = cnp.PyArray_DIM(<cnp.ndarray>p, nd - 1)
    N = cnp.PyArray_DIM(<cnp.ndarray>p, 0) if nd == 2 else 1
    if q is None:
        q = p
        qrs = K
    elif not _plain(q) or cnp.PyArray_TYPE(<cnp.ndarray>q) != typenum:
        return None
    elif cnp.PyArray_NDIM(<cnp.ndarray>q) == nd and cnp.PyArray_DIM(<cnp.ndarray>q, 0) == cnp.PyArray_DIM(<cnp.ndarray>p, 0) \
            and cnp.PyArray_DIM(<cnp.ndarray>q, nd - 1) == K:
        qrs = K                                # same shape
    elif nd == 2 and cnp.PyArray_NDIM(<cnp.ndarray>q) == 1 and cnp.PyArray_DIM(<cnp.ndarray>q, 0) == K:
        qrs = 0                                # one reference row for the whole batch
    else:
        return None
    fmt = _fmt_of(<cnp.ndarray>p)
    single = fmt != FI_FMT_F64           # float32 results
    es = fi_fmt_size(fmt)
    pd = <const char*>cnp.PyArray_DATA(<cnp.ndarray>p)
    qd = <const char*>cnp.PyArray_DATA(<cnp.ndarray>q)
    _options(&o, normalize is True, distance is True, log_base, K, single)
    o.sum_tol = _front_sum_tol if normalize is None else 0.0
    o.stop = fi_stop_begin(&st)
    if nd == 1:
        with nogil:
            nbad = _reduce_ptr(measure, fmt, pd, 0, 1, qd, 0, 1, 1, K, &v, &o, nt, &nf)
        fi_stop_raise(o.stop)
        if (nbad and not nan_mode) or nf:
            return None
        if single:
            vf = <float>v
            return PyArray_Scalar(&vf, _F32_DESCR, None)
        return PyArray_Scalar(&v, _F64_DESCR, None)
    res = cnp.PyArray_EMPTY(1, [N], cnp.NPY_DOUBLE, 0)
    with nogil:
        nbad = _reduce_ptr(measure, fmt, pd, K * es, 1, qd, qrs * es, 1, N, K, <double*>cnp.PyArray_DATA(res),
                           &o, nt, &nf)
    fi_stop_raise(o.stop)
    if (nbad and not nan_mode) or nf:
        return None
    return res.astype(np.float32) if single else res


# dask_aware(front="entropy") finds entropy_front, ...
entropy_front = functools.partial(shannon_front, FI_P_ENT)
cross_entropy_front = functools.partial(shannon_front, FI_P_CE)
kl_divergence_front = functools.partial(shannon_front, FI_P_KL)
js_divergence_front = functools.partial(shannon_front, FI_P_JS)


# --- surprisal (elementwise) --------------------------------------------------
cdef inline void _store(int fmt, char* o, Py_ssize_t j, double v) noexcept nogil:
    """o[j] = v, o being float64 for float64 input (fmt), else float32."""
    if fmt == FI_FMT_F64:
        (<double*>o)[j] = v
    else:
        (<float*>o)[j] = <float>v


cdef Py_ssize_t _surprisal_row(int fmt, const char* p, Py_ssize_t ps, char* o, Py_ssize_t os, Py_ssize_t n,
                               Options* opt, int n_threads) noexcept nogil:
    """One row: the engine's blocks write the surprisals. A row that is not normalized nor
    split over threads is checked on the way, on its elements' bits (fi_neglog_block), and
    only a row that check refuses is read again by the summing pass, which finds an invalid
    element (the row is then written as NaN) or accepts -0; the others are checked, and
    summed to normalize, by that pass first.
    Strides in elements; o is float64 for float64 input, else float32. Returns 1 for an
    invalid row (written as NaN)."""
    cdef Partial s
    cdef double denom = 1.0, pre = 1.0
    cdef Py_ssize_t j, b, nb
    cdef Py_ssize_t es = fi_fmt_size(fmt), eo = 8 if fmt == FI_FMT_F64 else 4
    cdef int flagged = 0
    cdef bint summed = opt.normalize or n_threads > 1     # checked (and summed) by that pass first
    if summed:
        s = PROB_ROW[fmt](FI_P_SUMP, p, ps, p, ps, n, 1.0, 1.0, n_threads, opt.stop)
        if s.bad != 0 or (opt.normalize and s.sp == 0):
            for j in range(n):
                _store(fmt, o, j * os, NAN)
            return 1
        if opt.normalize:
            denom = s.sp
            if denom > DBL_MAX:   # valid values whose sum overflows: p * 2^-600 / (sum of those)
                denom = _prescaled_sum(fmt, p, ps, n, &pre)
                for j in range(n):
                    _store(fmt, o, j * os, (0.0 - log((fi_elem(fmt, p, j * ps) * pre) / denom)) / opt.log_base)
                return 0
    if n_threads > 1:
        nb = (n + BLOCK - 1) // BLOCK
        for b in prange(nb, num_threads=n_threads, schedule='static'):
            if opt.stop == NULL or not fi_poll(opt.stop, BLOCK):
                fi_neglog_block(fmt, p + b * BLOCK * ps * es, ps, o + b * BLOCK * os * eo, os,
                                min(<Py_ssize_t>BLOCK, n - b * BLOCK), denom, opt.log_base)
        return 0
    for b in range(0, n, 8192):   # step = BLOCK
        if opt.stop != NULL and n > BLOCK and fi_poll(opt.stop, min(<Py_ssize_t>BLOCK, n - b)):
            return 0
        flagged |= fi_neglog_block(fmt, p + b * ps * es, ps, o + b * os * eo, os, min(<Py_ssize_t>BLOCK, n - b),
                                   denom, opt.log_base)
    if summed or not flagged:
        return 0
    s = PROB_ROW[fmt](FI_P_SUMP, p, ps, p, ps, n, 1.0, 1.0, 1, opt.stop)
    if s.bad == 0:              # -0: its surprisal, +inf, is written
        return 0
    for j in range(n):
        _store(fmt, o, j * os, NAN)
    return 1


def surprisal_rows(cnp.ndarray p not None, cnp.ndarray out not None, bint normalize, double log_base, int n_threads):
    """out[i, j] = -log p[i, j] (/ log_base) for 2-D p of float64, float32, float16 or bfloat16
    and out of float64 (float64 p) or float32 (the others); a row with an invalid value is all
    NaN. Returns the number of invalid rows."""
    cdef Options o
    cdef Py_ssize_t N, K, i, nbad = 0, es, eo, prs, ps, ors, os_
    cdef int nt
    cdef int fmt = _fmt_of(p)
    cdef const char* pbase
    cdef char* obase
    cdef fi_stop_t st
    if cnp.PyArray_NDIM(p) != 2 or cnp.PyArray_NDIM(out) != 2:
        raise ValueError("p and out must be 2-D")
    N = cnp.PyArray_DIM(p, 0)
    K = cnp.PyArray_DIM(p, 1)
    if cnp.PyArray_DIM(out, 0) != N or cnp.PyArray_DIM(out, 1) != K:
        raise ValueError(f"out must have shape {(N, K)}, got {(cnp.PyArray_DIM(out, 0), cnp.PyArray_DIM(out, 1))}")
    if cnp.PyArray_TYPE(out) != (cnp.NPY_DOUBLE if fmt == FI_FMT_F64 else cnp.NPY_FLOAT):
        raise TypeError(f"out must be {'float64' if fmt == FI_FMT_F64 else 'float32'} for {p.dtype} p, got {out.dtype}")
    if not cnp.PyArray_ISWRITEABLE(out):
        raise ValueError("out must be writeable")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    es = fi_fmt_size(fmt)
    eo = 8 if fmt == FI_FMT_F64 else 4
    if (cnp.PyArray_STRIDE(p, 1) % es or not cnp.PyArray_ISALIGNED(p)
            or cnp.PyArray_STRIDE(out, 1) % eo or not cnp.PyArray_ISALIGNED(out)):
        raise ValueError("p and out must be aligned, with strides that are multiples of the element size")
    if N == 0 or K == 0:
        return 0
    _options(&o, normalize, False, log_base, K, fmt != FI_FMT_F64)
    o.stop = fi_stop_begin(&st)
    pbase = <const char*>cnp.PyArray_DATA(p)
    obase = <char*>cnp.PyArray_DATA(out)
    prs = cnp.PyArray_STRIDE(p, 0)
    ps = cnp.PyArray_STRIDE(p, 1) // es
    ors = cnp.PyArray_STRIDE(out, 0)
    os_ = cnp.PyArray_STRIDE(out, 1) // eo
    with nogil:
        nt = _effective_threads(N * K, n_threads)
        if nt == 1:
            for i in range(N):
                if fi_poll_rows(o.stop, i, K):
                    break
                nbad += _surprisal_row(fmt, pbase + i * prs, ps, obase + i * ors, os_, K, &o, 1)
        elif N >= nt:
            for i in prange(N, num_threads=nt, schedule='static', chunksize=_rows_chunk(K)):
                if fi_poll_rows(o.stop, i, K):
                    continue
                nbad += _surprisal_row(fmt, pbase + i * prs, ps, obase + i * ors, os_, K, &o, 1)
        else:
            for i in range(N):
                if o.stop != NULL and o.stop.flag:
                    break
                nbad += _surprisal_row(fmt, pbase + i * prs, ps, obase + i * ors, os_, K, &o, nt)
    fi_stop_raise(o.stop)
    return nbad


# --- platform facts, the roofline and test hooks ----------------------------------
def row_kernel_table():
    """The row kernels that fastinfo._core borrows from this variant (its use_row_kernels): a
    PyCapsule named "fastinfo.row_kernels" (the spacing estimators' lane-wise log sum)."""
    return PyCapsule_New(<void*>_lane_log_diff_sum, b"fastinfo.row_kernels", NULL)


cdef double _sum_row(const real* x, Py_ssize_t n) noexcept nogil:
    cdef double acc[LANES]
    cdef Py_ssize_t i, l, nv = n - n % LANES
    for l in range(LANES):
        acc[l] = 0.0
    for i in range(0, nv, 16):   # step = LANES
        for l in range(LANES):
            acc[l] += x[i + l]
    for i in range(nv, n):
        acc[i - nv] += x[i]
    for l in range(1, LANES):
        acc[0] += acc[l]
    return acc[0]


def read_roofline(const real[:, ::1] x, int n_threads=1):
    """Plain vectorized sum of every element: the memory-read roofline of the benchmarks."""
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1], i, b, nb
    cdef double total = 0.0
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if N == 0 or K == 0:
        return 0.0
    n_threads = fi_resolve_threads(n_threads)
    with nogil:
        if N >= n_threads:
            for i in prange(N, num_threads=n_threads, schedule='static'):
                total += _sum_row(&x[i, 0], K)
        else:
            for i in range(N):
                nb = (K + BLOCK - 1) // BLOCK
                for b in prange(nb, num_threads=n_threads, schedule='static'):
                    total += _sum_row(&x[i, b * BLOCK], min(<Py_ssize_t>BLOCK, K - b * BLOCK))
    return total


ctypedef fused outreal:
    float
    double


cdef void _fill_row(outreal* o, Py_ssize_t n, double v) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        o[j] = <outreal>v


def read_write_roofline(const real[:, ::1] x, outreal[:, ::1] out, int n_threads=1):
    """Each row of x summed (read_roofline) and its sum stored in every element of out's row:
    the roofline of a measure that reads x and writes out (out's row count is x's; pass a new
    array to count the faulting-in of a new output's pages, as a call that returns one does).
    The rows are dealt over the threads (a batch of fewer rows than threads leaves some idle)."""
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1], M = out.shape[1], i
    cdef double total = 0.0, s
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if out.shape[0] != N:
        raise ValueError(f"out must have {N} rows, got {out.shape[0]}")
    if N == 0:
        return 0.0
    n_threads = fi_resolve_threads(n_threads)
    with nogil:
        for i in prange(N, num_threads=n_threads, schedule='static'):
            s = _sum_row(&x[i, 0], K) if K > 0 else 0.0
            if M > 0:
                _fill_row(&out[i, 0], M, s)
            total += s
    return total


def elementwise_log(x):
    """fi_log / fi_logf applied to a 1-D contiguous array (test hook for the vector log)."""
    return _elementwise(x, 0)


def elementwise_exp(x):
    """fi_exp / fi_expf applied to a 1-D contiguous array (test hook for the vector exp)."""
    return _elementwise(x, 1)


def elementwise_softmax_exp(x):
    """The softmax passes' vector exp applied to a 1-D contiguous array of z <= 0 (test hook)."""
    return _vec_hook(x, FI_HOOK_SOFTMAX_EXP)


def elementwise_vector_log(x):
    """The row kernels' vector log applied to a 1-D contiguous array (test hook)."""
    return _vec_hook(x, FI_HOOK_VECTOR_LOG)


cdef object _vec_hook(object x, int op):
    x = np.ascontiguousarray(x)
    if x.ndim != 1 or x.dtype not in (np.float32, np.float64):
        raise TypeError("expected a 1-D float32 or float64 array")
    cdef cnp.ndarray xa = x
    cdef cnp.ndarray out = np.empty_like(x)
    fi_vec_hook(op, x.dtype == np.float64, cnp.PyArray_DATA(xa), cnp.PyArray_DATA(out), x.shape[0])
    return out


cdef object _elementwise(object x, int which):
    x = np.ascontiguousarray(x)
    if x.ndim != 1 or x.dtype not in (np.float32, np.float64):
        raise TypeError("expected a 1-D float32 or float64 array")
    out = np.empty_like(x)
    if x.dtype == np.float64:
        _apply_f64(x, out, which)
    else:
        _apply_f32(x, out, which)
    return out


cdef void _apply_f64(const double[::1] x, double[::1] y, int which) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        if which == 0:
            for i in range(n):
                y[i] = fi_log(x[i])
        else:
            for i in range(n):
                y[i] = fi_exp(x[i])


cdef void _apply_f32(const float[::1] x, float[::1] y, int which) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        if which == 0:
            for i in range(n):
                y[i] = fi_logf(x[i])
        else:
            for i in range(n):
                y[i] = fi_expf(x[i])


# --- logit space ---------------------------------------------------
include "_logits.pxi"


# --- joint distributions ---------------------------------------------
include "_joint.pxi"


# --- pairwise matrices ----------------------------------------------
include "_pairwise.pxi"


# --- generalized entropies and divergences ---------------------------
include "_general.pxi"


# --- the row kernels of `cimport fastinfo.capi` -------------------------
include "_capi.pxi"
