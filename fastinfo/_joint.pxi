# Joint distributions p(x, y): the entropies and the
# mutual information of batches of 2-D tables, each computed directly from its
# own non-negative terms (included by _kernels.pxi; the label counting of contingency
# tables and clustering scores is _labels.pxi).
#
# One table (K x L, any strides) takes two passes: the marginals px (row sums),
# py (column sums) and validity; then, with one log per cell,
#     H(X,Y) = sum -p log p              H(Y|X) = sum p (log px - log p) >= 0
#     H(X|Y) = sum p (log py - log p)    I(X;Y) = sum p (log p - log px - log py)
# so conditional entropies never cancel and I(X;Y) is exactly the sum of its
# terms (clamped at 0: it cannot be negative, rounding aside). H(X), H(Y) come
# from the marginals. With normalize, every cell is divided by the table's sum.

cdef enum:
    J_HXY = 0
    J_HX = 1
    J_HY = 2
    J_HYGX = 3    # H(Y|X)
    J_HXGY = 4    # H(X|Y)
    J_MI = 5
    J_NOUT = 6


cdef inline double _xlogx(double v) noexcept nogil:
    return 0.0 if v == 0 else v * fi_log(v)


cdef void _joint_one(const real* p, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t K, Py_ssize_t L,
                     bint normalize, double* work, double* out, fi_stop_t* stop) noexcept nogil:
    """One K x L table (strides rs, cs in elements); work: K + 2 L doubles (px, py, log py).
    stop: see fi_poll (a stopped table's values are NaN)."""
    cdef double* px = work
    cdef double* py = work + K
    cdef double* lpy = work + K + L
    cdef Py_ssize_t i, j
    cdef double v, s = 0.0, c = 1.0, lpx, lp, hxy = 0.0, hygx = 0.0, hxgy = 0.0, mi = 0.0
    cdef double hx = 0.0, hy = 0.0, rowsum
    cdef bint bad = False
    for j in range(L):
        py[j] = 0.0
    for i in range(K):
        if stop != NULL and fi_poll(stop, L):
            bad = True
            break
        rowsum = 0.0
        for j in range(L):
            v = p[i * rs + j * cs]
            bad = bad or not (v >= 0 and v <= DBL_MAX)
            rowsum += v
            py[j] += v
        px[i] = rowsum
        s += rowsum
    if bad or not (s <= DBL_MAX) or (normalize and not s > 0):
        for i in range(J_NOUT):
            out[i] = NAN
        return
    if normalize:
        c = 1.0 / s
    for j in range(L):
        py[j] *= c
        lpy[j] = 0.0 if py[j] == 0 else fi_log(py[j])
        hy -= _xlogx(py[j])
    for i in range(K):
        if stop != NULL and fi_poll(stop, L):
            break
        px[i] *= c
        hx -= _xlogx(px[i])
        lpx = 0.0 if px[i] == 0 else fi_log(px[i])
        for j in range(L):
            v = p[i * rs + j * cs] * c
            lp = 0.0 if v == 0 else fi_log(v)
            hxy -= 0.0 if v == 0 else v * lp
            hygx += 0.0 if v == 0 else v * (lpx - lp)
            hxgy += 0.0 if v == 0 else v * (lpy[j] - lp)
            mi += 0.0 if v == 0 else v * (lp - lpx - lpy[j])
    out[J_HXY] = _nonneg(hxy)
    out[J_HX] = _nonneg(hx)
    out[J_HY] = _nonneg(hy)
    out[J_HYGX] = _nonneg(hygx)
    out[J_HXGY] = _nonneg(hxgy)
    out[J_MI] = _nonneg(mi)


def joint_rows(const real[:, :, :] p, double[:, ::1] out, bint normalize, int n_threads):
    """out[b] = (H(X,Y), H(X), H(Y), H(Y|X), H(X|Y), I(X;Y)) in nats for each table p[b]
    (X on axis 1, Y on axis 2), NaN for an invalid table; returns the number of those."""
    cdef Py_ssize_t B = p.shape[0], K = p.shape[1], L = p.shape[2], b, nbad = 0
    cdef int nt
    if out.shape[0] != B or out.shape[1] != J_NOUT:
        raise ValueError(f"out must have shape {(B, J_NOUT)}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if B == 0:
        return 0
    if K == 0 or L == 0:
        out[:, :] = 0.0
        return 0
    nt = _effective_threads(B * K * L, n_threads)
    if nt > B:
        nt = <int>B
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    with nogil:
        if nt > 1:
            for b in prange(B, num_threads=nt, schedule='static', chunksize=_rows_chunk(K * L)):
                nbad += _joint_table(&p[b, 0, 0], p.strides[1] // <Py_ssize_t>sizeof(real),
                                     p.strides[2] // <Py_ssize_t>sizeof(real), K, L, normalize, &out[b, 0],
                                     stop)
        else:
            for b in range(B):
                nbad += _joint_table(&p[b, 0, 0], p.strides[1] // <Py_ssize_t>sizeof(real),
                                     p.strides[2] // <Py_ssize_t>sizeof(real), K, L, normalize, &out[b, 0],
                                     stop)
    fi_stop_raise(stop)
    return nbad


cdef Py_ssize_t _joint_table(const real* p, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t K, Py_ssize_t L,
                             bint normalize, double* out, fi_stop_t* stop) noexcept nogil:
    """One table with its own work space; 1 if it is invalid (or out of memory), else 0."""
    cdef double* work = <double*> malloc((K + 2 * L) * sizeof(double))
    cdef Py_ssize_t i
    if work == NULL:
        for i in range(J_NOUT):
            out[i] = NAN
        return 1
    _joint_one(p, rs, cs, K, L, normalize, work, out, stop)
    free(work)
    return 1 if out[0] != out[0] else 0
