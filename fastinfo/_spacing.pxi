# Spacing estimators of the differential entropy (issue 6): Vasicek, van Es,
# Ebrahimi and Correa over rows that are already sorted, with SciPy's
# definitions (scipy.stats.differential_entropy, the same padding of the m-spacings
# at both ends and the same arithmetic order per term), one pass per row, rows
# split over threads (each row summed by one thread in order: bitwise the same
# result for every thread count). Included by _kernels.pxi.

cdef enum:
    SP_VASICEK = 0
    SP_VAN_ES = 1
    SP_EBRAHIMI = 2
    SP_CORREA = 3

SPACING_METHODS = {"vasicek": SP_VASICEK, "van es": SP_VAN_ES, "ebrahimi": SP_EBRAHIMI,
                   "correa": SP_CORREA}


cdef inline double _xp(const double* x, Py_ssize_t k, Py_ssize_t n) noexcept nogil:
    """The padded sample: x[0] repeated before the start, x[n-1] after the end."""
    if k < 0:
        return x[0]
    if k >= n:
        return x[n - 1]
    return x[k]


cdef double _spacing_row(int method, const double* x, Py_ssize_t n, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef double s = 0.0, c, ci, mean, num, den, d, dn = <double>n, dm = <double>m
    if method == SP_VASICEK:
        c = dn / (2.0 * dm)
        for i in range(n):
            s += log(c * (_xp(x, i + m, n) - _xp(x, i - m, n)))
        return s / dn
    if method == SP_VAN_ES:
        c = (dn + 1.0) / dm
        for i in range(n - m):
            s += log(c * (x[i + m] - x[i]))
        s = s * (1.0 / (dn - dm))
        d = 0.0
        for i in range(m, n + 1):
            d += 1.0 / <double>i
        return s + d + log(dm) - log(dn + 1.0)
    if method == SP_EBRAHIMI:
        for i in range(n):                      # i is 0-based here; SciPy's i = i + 1
            ci = 2.0
            if i + 1 <= m:
                ci = 1.0 + <double>i / dm
            if i + 1 >= n - m + 1:
                ci = 1.0 + <double>(n - i - 1) / dm
            s += log(dn * (_xp(x, i + m, n) - _xp(x, i - m, n)) / (ci * dm))
        return s / dn
    # Correa: a local linear regression of the sample on its rank in windows of 2m+1
    for i in range(n):
        mean = 0.0
        for j in range(-m, m + 1):
            mean += _xp(x, i + j, n)
        mean = mean / <double>(2 * m + 1)
        num = 0.0
        den = 0.0
        for j in range(-m, m + 1):
            d = _xp(x, i + j, n) - mean
            num += d * <double>j
            den += d * d
        s += log(num / (dn * den))
    return -(s / dn)


def spacing_rows(int method, const double[:, ::1] x, Py_ssize_t m, double[::1] out, int n_threads):
    """out[r] = the spacing estimate of the sorted row x[r] with window m (nats)."""
    cdef Py_ssize_t R = x.shape[0], n = x.shape[1], r
    cdef int nt
    if out.shape[0] != R:
        raise ValueError(f"out must have length {R}")
    if method < SP_VASICEK or method > SP_CORREA:
        raise ValueError(f"unknown method code {method}")
    if not (2 <= 2 * m < n):
        raise ValueError(f"window length {m} must be positive and less than half the sample size {n}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if R == 0:
        return
    nt = _effective_threads(R * n * (2 * m + 1 if method == SP_CORREA else 8), n_threads)
    if nt > R:
        nt = <int>R
    with nogil:
        if nt > 1:
            for r in prange(R, num_threads=nt, schedule='static'):
                out[r] = _spacing_row(method, &x[r, 0], n, m)
        else:
            for r in range(R):
                out[r] = _spacing_row(method, &x[r, 0], n, m)
