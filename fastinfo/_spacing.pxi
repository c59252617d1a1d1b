# Spacing estimators of the differential entropy: Vasicek, van Es,
# Ebrahimi and Correa with SciPy's definitions (scipy.stats.differential_entropy,
# the same padding of the m-spacings at both ends and the same arithmetic order
# per term). Each row is copied into a per-thread buffer, sorted there by an LSD
# radix sort on the order-preserving integer image of the doubles (8 passes of
# 8 bits, histograms in one pass, passes whose byte is constant skipped: ~3x
# NumPy's sort on rows of 10^4 here), and summed in one pass; rows split over
# threads (each row by one thread in order: bitwise the same result for every
# thread count). Included by _core.pyx.
from libc.math cimport fabs, frexp, ldexp


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


cdef inline double _log_spacing(double c, double h, double l) noexcept nogil:
    """log(c (h - l)); for finite h, l whose scaled spacing overflows (fuzzing: [0, 0, 1e308]
    gave inf - inf = NaN, SciPy too), log c + log(h/2 - l/2) + log 2 instead."""
    cdef double t = c * (h - l)
    if t == INFINITY and isfinite(h) and isfinite(l):
        return log(c) + log(0.5 * h - 0.5 * l) + LN2
    return fi_log(t)


# the lane loop of the selected kernel variant (use_row_kernels); this module's own copy,
# compiled for the baseline, until the dispatcher installs it
cdef log_diff_sum_t _lane_lds = _lane_log_diff_sum


def use_row_kernels(table):
    """Install the row kernels of a kernel variant (its row_kernel_table(), a PyCapsule named
    "fastinfo.row_kernels"): the spacing estimators' log sums then run at that variant's SIMD
    level. The dispatcher calls it once, at import, with the selected variant's."""
    global _lane_lds
    _lane_lds = <log_diff_sum_t>PyCapsule_GetPointer(table, b"fastinfo.row_kernels")


cdef double _log_diff_sum(const double* hi, const double* lo, Py_ssize_t cnt, double c) noexcept nogil:
    """sum over k < cnt of log(c (hi[k] - lo[k])): the lanes of the vectorizable fi_log (a sum
    that comes out +inf or NaN is taken again term by term with _log_spacing)."""
    cdef Py_ssize_t i
    cdef double S = _lane_lds(hi, lo, cnt, c)
    if S == INFINITY or S != S:
        S = 0.0
        for i in range(cnt):
            S += _log_spacing(c, hi[i], lo[i])
    return S


cdef double _spacing_row(int method, const double* x, Py_ssize_t n, Py_ssize_t m, fi_stop_t* stop) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef double s = 0.0, c, ci, mean, num, den, d, amax, lo, hi, sc1, sc2, dn = <double>n, dm = <double>m
    cdef int e
    if method == SP_VASICEK:
        # the padded ends, then the interior as a branch-free loop over the vectorizable
        # fi_log (lanes: GL partial sums, combined in order)
        c = dn / (2.0 * dm)
        for i in range(m):
            s += _log_spacing(c, x[i + m], x[0])
        s += _log_diff_sum(x + 2 * m, x, n - 2 * m, c)
        for i in range(n - m, n):
            s += _log_spacing(c, x[n - 1], x[i - m])
        return s / dn
    if method == SP_VAN_ES:
        c = (dn + 1.0) / dm
        s = _log_diff_sum(x + m, x, n - m, c)
        s = s * (1.0 / (dn - dm))
        d = 0.0
        for i in range(m, n + 1):
            d += 1.0 / <double>i
        return s + d + log(dm) - log(dn + 1.0)
    if method == SP_EBRAHIMI:
        for i in range(n):                      # i is 0-based here; SciPy's i = i + 1
            if m <= i < n - m:
                continue                        # the interior (c_i = 2), below
            ci = 2.0
            if i + 1 <= m:
                ci = 1.0 + <double>i / dm
            if i + 1 >= n - m + 1:
                ci = 1.0 + <double>(n - i - 1) / dm
            d = dn * (_xp(x, i + m, n) - _xp(x, i - m, n)) / (ci * dm)
            if d == INFINITY and isfinite(_xp(x, i + m, n)) and isfinite(_xp(x, i - m, n)):
                s += _log_spacing(dn / (ci * dm), _xp(x, i + m, n), _xp(x, i - m, n))
            else:
                s += log(d)
        s += _log_diff_sum(x + 2 * m, x, n - 2 * m, dn / (2.0 * dm))
        return s / dn
    # Correa: a local linear regression of the sample on its rank in windows of 2m+1
    # (2m+1 multiply-adds per term: it polls for Ctrl-C itself). The sample is sorted, so
    # a window ties exactly when its ends are equal: no spread, an infinite density there,
    # -inf as the other methods give for a zero spacing (SciPy divides 0 by 0: NaN; and
    # a mean that rounds leaves +-1 ulp deviations, so testing the sums would not do).
    # A window whose largest magnitude is beyond 2^+-400 is scaled by a power of two
    # (two exact factors) so that neither the mean nor the squares overflow or lose
    # everything to underflow (SciPy's unscaled sums give inf or NaN from about 1e154
    # on); the scale returns as a log. Other windows take SciPy's arithmetic unchanged.
    for i in range(n):
        if stop != NULL and (i & 1023) == 0 and fi_poll(stop, 1024 * (2 * m + 1) * 4):
            break
        lo = _xp(x, i - m, n)
        hi = _xp(x, i + m, n)
        if lo == hi:
            s += INFINITY
            continue
        amax = fabs(lo) if fabs(lo) > fabs(hi) else fabs(hi)
        e = 0
        if isfinite(amax):
            frexp(amax, &e)
            if -400 < e < 400:
                e = 0
        mean = 0.0
        num = 0.0
        den = 0.0
        if e == 0:
            for j in range(-m, m + 1):
                mean += _xp(x, i + j, n)
            mean = mean / <double>(2 * m + 1)
            for j in range(-m, m + 1):
                d = _xp(x, i + j, n) - mean
                num += d * <double>j
                den += d * d
        else:
            sc1 = ldexp(1.0, -e // 2)
            sc2 = ldexp(1.0, -e - (-e // 2))
            for j in range(-m, m + 1):
                mean += (_xp(x, i + j, n) * sc1) * sc2
            mean = mean / <double>(2 * m + 1)
            for j in range(-m, m + 1):
                d = (_xp(x, i + j, n) * sc1) * sc2 - mean
                num += d * <double>j
                den += d * d
        s += log(num / (dn * den)) - e * LN2
    return -(s / dn)


cdef void _radix_sort(double* a, double* tmp, Py_ssize_t n) noexcept nogil:
    """Sort a[0:n] ascending (NaN with the sign bit clear last, as NumPy; -0.0 before 0.0)."""
    cdef unsigned long long* src = <unsigned long long*>a
    cdef unsigned long long* dst = <unsigned long long*>tmp
    cdef unsigned long long* sw
    cdef unsigned long long u, top = 1ULL << 63
    cdef Py_ssize_t cnt[8][256]
    cdef Py_ssize_t i, d, b, tot, c
    cdef int shift
    for d in range(8):
        for b in range(256):
            cnt[d][b] = 0
    for i in range(n):                       # to order-preserving keys, all histograms
        u = src[i]
        u = ~u if (u & top) else (u | top)
        src[i] = u
        for d in range(8):
            cnt[d][(u >> (8 * d)) & 255] += 1
    for d in range(8):
        shift = 8 * <int>d
        if cnt[d][(src[0] >> shift) & 255] == n:
            continue                         # this byte is the same everywhere
        tot = 0
        for b in range(256):
            c = cnt[d][b]
            cnt[d][b] = tot
            tot += c
        for i in range(n):
            u = src[i]
            b = (u >> shift) & 255
            dst[cnt[d][b]] = u
            cnt[d][b] += 1
        sw = src
        src = dst
        dst = sw
    for i in range(n):                       # back to doubles, into a
        u = src[i]
        (<unsigned long long*>a)[i] = (u & ~top) if (u & top) else ~u


cdef double _sorted_spacing_row(int method, const double* x, Py_ssize_t xs, Py_ssize_t n, Py_ssize_t m,
                                double* buf, fi_stop_t* stop) noexcept nogil:
    """Copy the row (stride xs) into buf[0:n], sort it (buf[n:2n] scratch), estimate."""
    cdef Py_ssize_t i
    for i in range(n):
        buf[i] = x[i * xs]
    _radix_sort(buf, buf + n, n)
    return _spacing_row(method, buf, n, m, stop)


def spacing_sort_rows(int method, const double[:, :] x, Py_ssize_t m, double[::1] out, int n_threads):
    """out[r] = the spacing estimate of row x[r] (any strides; sorted in a private buffer)."""
    cdef Py_ssize_t R = x.shape[0], n = x.shape[1], r, xs = x.strides[1] // <Py_ssize_t>sizeof(double)
    cdef int nt
    cdef double* buf
    cdef Py_ssize_t noom = 0
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
    nt = _effective_threads(R * n * 16, n_threads)
    if nt > R:
        nt = <int>R
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    if nt > 1:
        with nogil, parallel(num_threads=nt):
            buf = <double*>malloc(2 * n * sizeof(double))     # one buffer per thread
            for r in prange(R, schedule='static', chunksize=_rows_chunk(n * 16)):
                if stop != NULL and fi_poll(stop, n * 16):
                    continue
                if buf == NULL:
                    out[r] = NAN
                    noom += 1
                else:
                    out[r] = _sorted_spacing_row(method, &x[r, 0], xs, n, m, buf, stop)
            free(buf)
    else:
        with nogil:
            buf = <double*>malloc(2 * n * sizeof(double))
            if buf == NULL:
                noom = 1
            else:
                for r in range(R):
                    if stop != NULL and fi_poll(stop, n * 16):
                        break
                    out[r] = _sorted_spacing_row(method, &x[r, 0], xs, n, m, buf, stop)
                free(buf)
    fi_stop_raise(stop)
    if noom:
        raise MemoryError("no memory for a sample's sort buffer")
