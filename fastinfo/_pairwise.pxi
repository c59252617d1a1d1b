# Pairwise matrices (issue 5): out[i, j] = measure(P[i], Q[j]) with the row
# kernels of _kernels.pxi (same conventions, same AVX-512 blocks), rows of P
# split over threads, Q walked in blocks of rows that stay in cache while a
# block of P rows is scored against them (included by _kernels.pxi).

cdef enum:
    PAIR_QBLOCK_BYTES = 262144    # Q rows per block: ~256 KB, in L2 beside the P row


def pairwise_rows(int measure_code, const real[:, :] P, const real[:, :] Q, double[:, :] out,
                  bint normalize, bint distance, double log_base, int n_threads):
    """out[i, j] = measure(P[i], Q[j]) (MEASURES codes: entropy excluded); NaN for an invalid
    pair. Returns the number of NaN entries."""
    cdef Options o
    cdef Py_ssize_t N = P.shape[0], M = Q.shape[0], K = P.shape[1]
    cdef Py_ssize_t i, jb, je, qb, nbad = 0
    cdef int nt
    if Q.shape[1] != K:
        raise ValueError(f"P and Q must have the same number of columns, got {K} and {Q.shape[1]}")
    if out.shape[0] != N or out.shape[1] != M:
        raise ValueError(f"out must have shape {(N, M)}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if measure_code not in (M_CROSS_ENTROPY, M_KL, M_JS):
        raise ValueError(f"unsupported measure code {measure_code}")
    if N == 0 or M == 0:
        return 0
    _options(&o, normalize, distance, log_base, K, real is float)
    if K == 0:
        out[:, :] = 0.0
        return 0
    qb = max(1, PAIR_QBLOCK_BYTES // (K * <Py_ssize_t>sizeof(real)))
    nt = _effective_threads(N * M * K, n_threads)
    if nt > N:
        nt = <int>N
    jb = 0
    with nogil:
        while jb < M:      # blocks of Q rows (a while loop: Cython needs a literal range step)
            je = min(M, jb + qb)
            if nt > 1:
                for i in prange(N, num_threads=nt, schedule='static'):
                    nbad += _pair_row(measure_code, &P[i, 0], P.strides[1] // <Py_ssize_t>sizeof(real),
                                      &Q[0, 0], Q.strides[0], Q.strides[1] // <Py_ssize_t>sizeof(real),
                                      jb, je, K, &out[i, 0], out.strides[1] // <Py_ssize_t>sizeof(double), &o)
            else:
                for i in range(N):
                    nbad += _pair_row(measure_code, &P[i, 0], P.strides[1] // <Py_ssize_t>sizeof(real),
                                      &Q[0, 0], Q.strides[0], Q.strides[1] // <Py_ssize_t>sizeof(real),
                                      jb, je, K, &out[i, 0], out.strides[1] // <Py_ssize_t>sizeof(double), &o)
            jb = je
    return nbad


cdef Py_ssize_t _pair_row(int code, const real* p, Py_ssize_t ps, const real* q0, Py_ssize_t qrs,
                          Py_ssize_t qs, Py_ssize_t jb, Py_ssize_t je, Py_ssize_t K, double* o,
                          Py_ssize_t os, Options* opt) noexcept nogil:
    """Row p against rows jb..je-1 of Q (row stride qrs in bytes); NaN count."""
    cdef Py_ssize_t j, nbad = 0
    cdef double v
    cdef const real* q
    for j in range(jb, je):
        q = <const real*>(<const char*>q0 + j * qrs)
        if code == M_KL:
            v = _row_value(<KLTag*>NULL, p, ps, q, qs, K, opt, 1)
        elif code == M_JS:
            v = _row_value(<JSTag*>NULL, p, ps, q, qs, K, opt, 1)
        else:
            v = _row_value(<CrossEntropyTag*>NULL, p, ps, q, qs, K, opt, 1)
        o[j * os] = v
        if v != v:
            nbad += 1
    return nbad
