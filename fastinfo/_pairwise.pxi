# Pairwise matrices: out[i, j] = measure(P[i], Q[j]) with the row
# kernels of _kernels.pxi (same conventions, the same row engine), rows of P
# split over threads, Q walked in blocks of rows that stay in cache while a
# block of P rows is scored against them (included by _kernels.pxi).

from libc.math cimport fabs

cdef enum:
    PAIR_QBLOCK_BYTES = 262144    # Q rows per block: ~256 KB, in L2 beside the P row


def pairwise_rows(int measure_code, cnp.ndarray P, cnp.ndarray Q, double[:, :] out,
                  bint normalize, bint distance, double log_base, int n_threads, bint fast_js=False):
    """out[i, j] = measure(P[i], Q[j]) (MEASURES codes: entropy excluded) -- 2-D float64,
    float32, float16 or bfloat16 arrays of one dtype, read as stored; NaN for an invalid
    pair. ``fast_js`` (JS only): the one-log-per-element path below, the exact kernel where
    it cannot be trusted. Returns the number of NaN entries."""
    cdef Options o
    cdef int fmt = _fmt_of(P)
    cdef Py_ssize_t es = fi_fmt_size(fmt)
    cdef Py_ssize_t N, M, K
    cdef Py_ssize_t i, j, jb, je, qb, nbad = 0
    cdef Py_ssize_t ps, qs, prs, qrs
    cdef Py_ssize_t os = out.strides[1] // <Py_ssize_t>sizeof(double)
    cdef const char* pd
    cdef const char* qd
    cdef int nt
    cdef double* buf
    cdef double[::1] hp, cp, sp, hq, cq, sq
    if cnp.PyArray_TYPE(Q) != cnp.PyArray_TYPE(P):
        raise TypeError(f"P and Q must have one dtype, got {P.dtype} and {Q.dtype}")
    if cnp.PyArray_NDIM(P) != 2 or cnp.PyArray_NDIM(Q) != 2:
        raise ValueError("P and Q must be 2-D")
    for a in (P, Q):
        if cnp.PyArray_STRIDE(<cnp.ndarray>a, 1) % es or not cnp.PyArray_ISALIGNED(<cnp.ndarray>a):
            raise ValueError("P and Q must be aligned, with strides that are multiples of the element size")
    N = cnp.PyArray_DIM(P, 0)
    M = cnp.PyArray_DIM(Q, 0)
    K = cnp.PyArray_DIM(P, 1)
    pd = <const char*>cnp.PyArray_DATA(P)
    qd = <const char*>cnp.PyArray_DATA(Q)
    prs = cnp.PyArray_STRIDE(P, 0)
    qrs = cnp.PyArray_STRIDE(Q, 0)
    ps = cnp.PyArray_STRIDE(P, 1) // es
    qs = cnp.PyArray_STRIDE(Q, 1) // es
    if cnp.PyArray_DIM(Q, 1) != K:
        raise ValueError(f"P and Q must have the same number of columns, got {K} and {cnp.PyArray_DIM(Q, 1)}")
    if out.shape[0] != N or out.shape[1] != M:
        raise ValueError(f"out must have shape {(N, M)}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if measure_code not in (FI_P_CE, FI_P_KL, FI_P_JS):
        raise ValueError(f"unsupported measure code {measure_code}")
    if fast_js and measure_code != FI_P_JS:
        raise ValueError("fast_js is for the JS divergence only")
    if N == 0 or M == 0:
        return 0
    _options(&o, normalize, distance, log_base, K, fmt != FI_FMT_F64)
    if K == 0:
        out[:, :] = 0.0
        return 0
    if fast_js:              # per-row scales, sums and sum x log x, once
        hp, cp, sp = np.empty(N), np.empty(N), np.empty(N)
        hq, cq, sq = np.empty(M), np.empty(M), np.empty(M)
        with nogil:
            buf = <double*> malloc(K * sizeof(double))
            if buf == NULL:              # every pair then takes the exact kernel
                for i in range(N):
                    hp[i] = NAN
                for j in range(M):
                    hq[j] = NAN
            else:
                for i in range(N):
                    _js_row_stats(fmt, pd + i * prs, ps, K, normalize, buf, &hp[i], &cp[i], &sp[i])
                for j in range(M):
                    _js_row_stats(fmt, qd + j * qrs, qs, K, normalize, buf, &hq[j], &cq[j], &sq[j])
                free(buf)
    qb = max(1, PAIR_QBLOCK_BYTES // (K * es))
    nt = _effective_threads(N * M * K, n_threads)
    if nt > N:
        nt = <int>N
    jb = 0
    cdef fi_stop_t st
    o.stop = fi_stop_begin(&st)
    with nogil:
        while jb < M:      # blocks of Q rows (a while loop: Cython needs a literal range step)
            if o.stop != NULL and o.stop.flag:
                break
            je = min(M, jb + qb)
            if nt > 1:
                for i in prange(N, num_threads=nt, schedule='static', chunksize=_rows_chunk((je - jb) * K)):
                    if o.stop != NULL and fi_poll(o.stop, (je - jb) * K):
                        continue
                    if fast_js:
                        nbad += _pair_row_js(fmt, pd + i * prs, ps, qd, qrs, qs, jb, je, K, &out[i, 0],
                                             os, &o, hp[i], cp[i], sp[i], &hq[0], &cq[0], &sq[0])
                    else:
                        nbad += _pair_row(measure_code, fmt, pd + i * prs, ps, qd, qrs, qs,
                                          jb, je, K, &out[i, 0], os, &o)
            else:
                for i in range(N):
                    if o.stop != NULL and fi_poll(o.stop, (je - jb) * K):
                        break
                    if fast_js:
                        nbad += _pair_row_js(fmt, pd + i * prs, ps, qd, qrs, qs, jb, je, K, &out[i, 0],
                                             os, &o, hp[i], cp[i], sp[i], &hq[0], &cq[0], &sq[0])
                    else:
                        nbad += _pair_row(measure_code, fmt, pd + i * prs, ps, qd, qrs, qs,
                                          jb, je, K, &out[i, 0], os, &o)
            jb = je
    fi_stop_raise(o.stop)
    return nbad


cdef Py_ssize_t _pair_row(int code, int fmt, const char* p, Py_ssize_t ps, const char* q0, Py_ssize_t qrs,
                          Py_ssize_t qs, Py_ssize_t jb, Py_ssize_t je, Py_ssize_t K, double* o,
                          Py_ssize_t os, Options* opt) noexcept nogil:
    """Row p against rows jb..je-1 of Q (row stride qrs in bytes; elements stored as fmt); NaN count."""
    cdef Py_ssize_t j, nbad = 0
    cdef double v
    cdef const char* q
    for j in range(jb, je):
        q = q0 + j * qrs
        v = _row_value(code, fmt, p, ps, q, qs, K, opt)
        o[j * os] = v
        if v != v:
            nbad += 1
    return nbad


# --- Jensen-Shannon, fast path --------------------------------------------------
# JS(p, q) = 1/2 sum p log p + 1/2 sum q log q - sum m log m, m = (p + q) / 2:
# the first two sums are computed once per row, so a pair costs one log per
# element (fi_mixlog_block of the row engine: m = p/2 + c q is formed in
# registers, for every storage type of q) instead of the exact kernel's two.
# The difference cancels when the rows are nearly
# equal; a pair whose JS is below 1/JS_FAST_DIV of the magnitude of its three
# sums (where the cancellation could cost more than ~3 digits of the 16) -- and
# any invalid, non-finite or extreme pair, or a row with values above 1 (whose terms
# m log m change sign, so the sums' magnitudes understate the cancellation) -- is
# recomputed by the exact row kernel.

cdef enum:
    JS_FAST_DIV = 500


cdef double _xlogx_sum(const double* m, Py_ssize_t n, int* bad) noexcept nogil:
    """sum m log m (0 log 0 = 0) by the entropy blocks of this SIMD level."""
    cdef Partial t = PROB_ROW[FI_FMT_F64](FI_P_ENT, <const char*>m, 1, <const char*>m, 1, n, 1.0, 1.0, 1, NULL)
    bad[0] = t.bad
    return t.a


cdef void _js_row_stats(int fmt, const char* p, Py_ssize_t ps, Py_ssize_t K, bint normalize, double* buf,
                        double* h, double* c, double* s) noexcept nogil:
    """Scale c (1/sum with normalize), raw sum s and sum x log x of the scaled row (NaN: leave
    this row to the exact kernel)."""
    cdef Py_ssize_t k
    cdef double x, mx, tot = 0.0, scale = 1.0
    cdef int bad = 0
    for k in range(K):
        x = fi_elem(fmt, p, k * ps)
        if not (x >= 0 and x <= DBL_MAX):
            h[0] = NAN
            return
        tot += x
    if normalize:
        scale = 1.0 / tot
        if not (tot > 0 and DBL_MIN <= scale <= DBL_MAX):
            h[0] = NAN
            return
    mx = 0.0
    for k in range(K):
        buf[k] = fi_elem(fmt, p, k * ps) * scale
        mx = buf[k] if buf[k] > mx else mx
    h[0] = _xlogx_sum(buf, K, &bad)
    # values above 1 make terms of both signs, which cancel inside the sums: the
    # cancellation guard (|JS| against the sums' magnitudes) would not see it
    if bad != 0 or not isfinite(h[0]) or mx > 1.0:
        h[0] = NAN
    c[0] = scale
    s[0] = tot


cdef Py_ssize_t _pair_row_js(int fmt, const char* p, Py_ssize_t ps, const char* q0, Py_ssize_t qrs, Py_ssize_t qs,
                             Py_ssize_t jb, Py_ssize_t je, Py_ssize_t K, double* o, Py_ssize_t os,
                             Options* opt, double hp, double cp, double sp, const double* hq,
                             const double* cq, const double* sq) noexcept nogil:
    cdef double* pb = <double*> malloc(K * sizeof(double))
    cdef Py_ssize_t j, k, nbad = 0
    cdef const char* q
    cdef double v, sm, mag, mass
    cdef int bad
    cdef bint fast = pb != NULL and hp == hp
    if fast:
        if fmt == FI_FMT_F64:
            for k in range(K):
                pb[k] = 0.5 * ((<const double*>p)[k * ps] * cp)
        elif fmt == FI_FMT_F32:
            for k in range(K):
                pb[k] = 0.5 * ((<const float*>p)[k * ps] * cp)
        else:
            for k in range(K):
                pb[k] = 0.5 * (fi_elem(fmt, p, k * ps) * cp)
    for j in range(jb, je):
        q = q0 + j * qrs
        if fast and hq[j] == hq[j]:
            sm = fi_mixlog_block(fmt, pb, <const void*>q, qs, K, 0.5 * cq[j], &bad)
            v = 0.5 * (hp + hq[j]) - sm
            mag = fabs(sm) + 0.5 * (fabs(hp) + fabs(hq[j]))
            if bad == 0 and isfinite(v) and v * JS_FAST_DIV > mag:
                mass = 1.0
                if not opt.normalize:
                    mass = 0.5 * sp + 0.5 * sq[j]
                    if _close(mass, 1.0, opt.tol):
                        mass = 1.0
                if v > LN2 * mass:
                    v = LN2 * mass
                o[j * os] = sqrt(v / opt.log_base) if opt.distance else v / opt.log_base + 0.0
                continue
        v = _row_value(FI_P_JS, fmt, p, ps, q, qs, K, opt)
        o[j * os] = v
        if v != v:
            nbad += 1
    free(pb)
    return nbad
