# Expected mutual information of two labelings under the permutation
# (hypergeometric) model, the correction term of the adjusted mutual information
# (included by _core.pyx).
#
#   EMI = sum_i sum_j sum_n P(n | a_i, b_j, N) * (n / N) * log(n N / (a_i b_j))
#
# where P is the hypergeometric pmf of the count n in cell (i, j) given the row
# sum a_i, the column sum b_j and N. scikit-learn evaluates every n in
# [max(1, a+b-N), min(a, b)] with three lgamma calls each, and the differences of
# lgamma values of size N log N cost it ~N log N * eps of relative accuracy.
# Here, for each cell:
#   * the pmf comes from its term ratio
#         P(n+1) / P(n) = (a-n)(b-n) / ((n+1)(N-a-b+n+1)),
#     walked from the mode in both directions with unnormalized weights w
#     (w = 1 at the mode) and normalized by their own sum W, so no lgamma at all
#     and only ~(steps * eps) rounding;
#   * the pmf is log-concave, so the walk stops once the rest of the tail (bounded
#     by a geometric series with the current ratio) cannot change the cell's sums
#     in the 17th digit: ~20 standard deviations of n instead of min(a, b) terms;
#   * a cell whose count spreads over more than ~10^4 values (variance > 1e8) or
#     has its mean beyond 2^52 (where n + 1 no longer counts) takes the moment expansion
#     instead: with n = mu (1 + d), (n/N) log(n/mu) = (mu/N) (d + d^2/2 - d^3/6
#     + d^4/12 - ...), and E d = 0, E d^2 = var/mu^2, E d^3 = mu3/mu^3 (exact
#     hypergeometric moments), E d^4 = 3 var^2/mu^4 up to a relative 1/mu; as
#     var <= mu, the terms left out are ~1/mu^2 of the sum (<= 1e-16 there), and
#     a table of 10^30 counts per cell takes microseconds, not hours;
#   * cells with equal (a, b) are computed once: the sums are taken over the
#     distinct row sums x distinct column sums, weighted by their multiplicities.
# Rows of the distinct-row-sum grid run under prange(static, chunksize=1: the
# row sums are sorted, so round-robin balances the work); each row's sum is
# stored and the rows are added in order, so the result is bitwise the same for
# every thread count.

from libc.math cimport floor, fabs, log1p

cdef enum:
    EMI_MIN_WORK = 4096      # distinct cells below which one thread does it all


cdef inline double _emi_f(double n, double mu, double inv_N) noexcept nogil:
    """(n / N) log(n / mu), 0 at n = 0 (mu = a b / N)."""
    cdef double t
    if n == 0:
        return 0.0
    t = (n - mu) / mu
    if fabs(t) < 0.25:
        return n * inv_N * log1p(t)
    return n * inv_N * log(n / mu)


cdef double _emi_cell(double a, double b, double N) noexcept nogil:
    """E[(n/N) log(n N / (a b))] for n ~ Hypergeometric(a, b, N) (a, b >= 1 counts)."""
    cdef double lo = a + b - N, hi = a if a < b else b
    cdef double c = N - a - b, mu = a * b / N, inv_N = 1.0 / N
    cdef double m, n, w, r, W, S, Sabs, t, tail, fb
    cdef double tol = 1e-17
    cdef double var, q, g
    if lo < 0:
        lo = 0
    if N > 2.0:
        mu = a * (b / N)                             # (no overflow for counts near the float range)
        var = mu * ((N - a) / N) * ((N - b) / (N - 1.0))
        if var > 1e8 or mu > 4503599627370496.0:     # 2^52: the mode is beyond it
            q = var / mu                             # <= 1
            g = ((N - 2.0 * a) / N) * ((N - 2.0 * b) / (N - 2.0))    # mu3 = var g
            return (0.5 * q - q * g / (6.0 * mu) + 0.25 * q * q / mu) / N
    m = floor((a + 1.0) * (b + 1.0) / (N + 2.0))   # the mode (a rounding off by one does no harm)
    if m < lo:
        m = lo
    if m > hi:
        m = hi
    W = 1.0
    S = _emi_f(m, mu, inv_N)
    Sabs = fabs(S)
    # upwards from the mode
    n = m
    w = 1.0
    while n < hi:
        r = ((a - n) * (b - n)) / ((n + 1.0) * (c + n + 1.0))
        w *= r
        n += 1.0
        t = w * _emi_f(n, mu, inv_N)
        W += w
        S += t
        Sabs += fabs(t)
        if r < 1.0:
            # ratios only fall from here (log-concave pmf); f only grows above mu
            tail = w * r / (1.0 - r)
            fb = fabs(_emi_f(hi, mu, inv_N))
            if tail < tol * W and tail * fb <= tol * Sabs:
                break
        if w == 0:
            break
    # downwards from the mode
    n = m
    w = 1.0
    while n > lo:
        r = (n * (c + n)) / ((a - n + 1.0) * (b - n + 1.0))
        w *= r
        n -= 1.0
        t = w * _emi_f(n, mu, inv_N)
        W += w
        S += t
        Sabs += fabs(t)
        if r < 1.0:
            tail = w * r / (1.0 - r)
            # below n: |f| <= max(|f(n)|, mu / (e N)) (max of x |log x| on (0, 1] is 1/e)
            fb = fabs(_emi_f(n, mu, inv_N))
            if fb < mu * inv_N * 0.36787944117144233:
                fb = mu * inv_N * 0.36787944117144233
            if tail < tol * W and tail * fb <= tol * Sabs:
                break
        if w == 0:
            break
    return S / W


def expected_mutual_info(const double[::1] a, const double[::1] ca, const double[::1] b,
                         const double[::1] cb, double N, int n_threads):
    """sum_i sum_j ca[i] cb[j] E(a[i], b[j]) over distinct row sums a (multiplicity ca) and
    column sums b (multiplicity cb) of a table of N >= 1 pairs; nats."""
    cdef Py_ssize_t R = a.shape[0], C = b.shape[0], i, j
    cdef double[::1] rows
    cdef double total = 0.0
    cdef int nt = n_threads
    if ca.shape[0] != R or cb.shape[0] != C:
        raise ValueError("sums and multiplicities must have the same lengths")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if R == 0 or C == 0 or not N >= 1:
        return 0.0
    rows = np.zeros(R, dtype=np.float64)
    if R * C < EMI_MIN_WORK or R < 2 or not fi_openmp_enabled():
        nt = 1
    if nt > R:
        nt = <int>R
    nt = fi_resolve_threads(nt)          # 1 in a child forked after a parallel call
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    with nogil:
        if nt > 1:
            for i in prange(R, num_threads=nt, schedule='static', chunksize=1):
                if stop != NULL and stop.flag:
                    continue
                rows[i] = _emi_row(a[i], &b[0], &cb[0], C, N, stop)
        else:
            for i in range(R):
                if stop != NULL and stop.flag:
                    break
                rows[i] = _emi_row(a[i], &b[0], &cb[0], C, N, stop)
    fi_stop_raise(stop)
    with nogil:
        for i in range(R):
            total += ca[i] * rows[i]
    return total


cdef double _emi_row(double ai, const double* b, const double* cb, Py_ssize_t C, double N,
                     fi_stop_t* stop) noexcept nogil:
    cdef Py_ssize_t j
    cdef double s = 0.0
    for j in range(C):
        # a cell's sum runs over up to min(ai, b[j]) counts: poll (fi_poll) every 64 cells
        if stop != NULL and (j & 63) == 0 and fi_poll(stop, 64 * (<long long>(ai if ai < 1e7 else 1e7) + 1)):
            break
        s += cb[j] * _emi_cell(ai, b[j], N)
    return s
