# Generalized entropies and divergences (issue 5): Renyi entropy and divergence,
# Tsallis entropy, Hellinger distance, total variation (included by _kernels.pxi).
#
# One row at a time, in float64 (float32 input is widened on load): a first pass
# checks the row and takes its sums (double-double, TwoSum), the second sums the
# measure's terms. These measures spend their time in pow/exp/log, not in memory,
# so the rows are split over threads (prange, static) and every row is summed by
# one thread in a fixed order: bitwise the same result for every thread count.
#
# Accuracy, where the textbook formulas lose it:
#   * Renyi and Tsallis near alpha = 1: sum p^a = sum p + sum p expm1((a-1) log p)
#     and log(sum) = log(sum p) + log1p(T / sum p): no 1/(1-a) amplification of
#     the rounding of sum p^a (used for |a - 1| <= 1/2, and for the Renyi
#     divergence at every order unless T overflows or sum p + T cancels);
#   * elsewhere the sums are scaled by the largest term (log-sum-exp form), so
#     p^a never overflows or underflows on its own;
#   * Renyi divergence of nearly equal rows: log(q/p) carries the rounding of the
#     ratio (an FMA remainder), the row sums are double-double, so a divergence of
#     1e-12 keeps ~1e-16/1e-6 relative accuracy rather than 1e-4;
#   * Hellinger: (sqrt p - sqrt q)^2 as ((p - q) / (sqrt p + sqrt q))^2, no cancellation.

from libc.math cimport pow, exp, expm1, log1p, fabs

cdef enum:
    G_RENYI_H = 0
    G_TSALLIS = 1
    G_RENYI_D = 2
    G_HELLINGER = 3
    G_TV = 4

GENERAL_MEASURES = {"renyi_entropy": G_RENYI_H, "tsallis_entropy": G_TSALLIS,
                    "renyi_divergence": G_RENYI_D, "hellinger_distance": G_HELLINGER,
                    "total_variation": G_TV}


cdef inline void _tsum(double* hi, double* lo, double x) noexcept nogil:
    """(hi, lo) += x, error-free (Knuth's TwoSum)."""
    cdef double s = hi[0] + x
    cdef double bp = s - hi[0]
    lo[0] += (hi[0] - (s - bp)) + (x - bp)
    hi[0] = s


cdef inline double _lratio(double p, double q) noexcept nogil:
    """log(p / q) for p, q > 0, with the rounding of the ratio carried (~1 ulp of the log even
    when p/q is near 1)."""
    cdef double r = p / q, e
    if r >= DBL_MIN and r <= DBL_MAX:
        e = fi_fnma(r, q, p)          # p - r q, exact
        if isfinite(e):
            return log(r) + e / p
        return log(r)
    return log(p) - log(q)


cdef inline double _lratio_dd(double nh, double nl, double dh, double dl) noexcept nogil:
    """log((nh + nl) / (dh + dl)) for double-double positives (to ~1 ulp of the log)."""
    cdef double r = nh / dh, e
    if r >= DBL_MIN and r <= DBL_MAX:
        e = fi_fnma(r, dh, nh)
        if isfinite(e):
            return log(r) + log1p((e + nl - r * dl) / (r * dh))
        return log(r)
    return log(nh + nl) - log(dh + dl)


cdef double _renyi_h(double a, const real* p, Py_ssize_t ps, Py_ssize_t K, bint normalize,
                     double sh, double sl, double mx, Py_ssize_t support) noexcept nogil:
    cdef Py_ssize_t i
    cdef double x, s = sh + sl, T = 0.0, S = 0.0, L
    if a == 0:
        return log(<double>support)
    if a == INFINITY:
        return -log(mx / s) if normalize else -log(mx)
    if mx == 0:                  # as passed, an all-zero row: the formula's limit
        return -INFINITY / (1.0 - a)
    if fabs(a - 1.0) <= 0.5:
        for i in range(K):
            x = p[i * ps]
            if x > 0:
                T += x * expm1((a - 1.0) * log(x))
        if isfinite(T) and isfinite(s) and s + T >= 0.5 * s:    # else: overflow or cancellation
            if normalize:
                return log(s) + log1p(T / s) / (1.0 - a)
            return (log(sh) + log1p((sl + T) / sh)) / (1.0 - a)
    # log-sum-exp form: sum p^a = mx^a sum (p / mx)^a, every term in [0, 1]
    for i in range(K):
        x = p[i * ps]
        if x > 0:
            S += pow(x / mx, a)
    L = log(S) + a * (log(mx / s) if normalize else log(mx))
    return L / (1.0 - a)


cdef double _tsallis(double t, const real* p, Py_ssize_t ps, Py_ssize_t K, bint normalize,
                     double s) noexcept nogil:
    cdef Py_ssize_t i
    cdef double x, S = 0.0
    cdef bint near = fabs(t - 1.0) <= 0.5
    for i in range(K):
        x = p[i * ps]
        if x > 0:
            if normalize:
                x = x / s
            if near:
                S -= x * expm1((t - 1.0) * log(x))
            else:
                S += x - pow(x, t)
    return S / (t - 1.0)


cdef double _renyi_d(double a, const real* p, Py_ssize_t ps, const real* q, Py_ssize_t qs, Py_ssize_t K,
                     bint normalize, double ph, double pl, double qh, double ql) noexcept nogil:
    cdef Py_ssize_t i
    cdef double x, y, lr, v, th = 0.0, tl = 0.0, M = -INFINITY, S = 0.0, t, L, ls
    cdef double sp = ph + pl, sq = qh + ql
    cdef bint inf_term = False
    if a == 0:
        # -log sum_{p>0} q (normalized: log(sq / s0) = log1p(z / s0), z = q-mass where p = 0)
        for i in range(K):
            if p[i * ps] > 0:
                _tsum(&th, &tl, <double>q[i * qs])
            else:
                S += <double>q[i * qs]
        if th == 0:
            return INFINITY      # q has no mass where p has
        if normalize:
            return log1p(S / (th + tl))
        return -(log(th) + log1p(tl / th))
    if a == INFINITY:
        for i in range(K):
            x = p[i * ps]
            if x > 0:
                y = q[i * qs]
                lr = INFINITY if y == 0 else _lratio(x, y)
                if lr > M:
                    M = lr
        if normalize and M != -INFINITY:
            M += _lratio_dd(qh, ql, ph, pl)
        return M
    if a > 1:
        for i in range(K):
            if p[i * ps] > 0 and q[i * qs] == 0:
                return INFINITY
    if sp == 0:                  # as passed, an all-zero p: the formula's limit
        return -INFINITY / (a - 1.0)
    # sum p^a q^(1-a) = sum p + T, T = sum p expm1((1-a) log(q/p)): every order, so
    # that nearly equal rows keep relative accuracy; the log-sum-exp form below takes
    # over when T overflows or sum p + T cancels (a sum far below sum p)
    for i in range(K):
        x = p[i * ps]
        if x > 0:
            y = q[i * qs]
            lr = -INFINITY if y == 0 else -_lratio(x, y)
            _tsum(&th, &tl, x * expm1((1.0 - a) * lr))
    if isfinite(th) and isfinite(sp) and (ph + th) + (pl + tl) >= 0.5 * sp:
        if normalize:
            return _lratio_dd(qh, ql, ph, pl) + log1p((th + tl) / sp) / (a - 1.0)
        return (log(ph) + log1p((pl + th + tl) / ph)) / (a - 1.0)
    # log-sum-exp form, one pass: terms log p + (1-a) log(q/p), running max
    for i in range(K):
        x = p[i * ps]
        if x > 0:
            y = q[i * qs]
            if y == 0:
                continue         # a < 1 here: the term is 0
            t = log(x) - (1.0 - a) * _lratio(x, y)
            if t > M:
                S = S * exp(M - t) + 1.0
                M = t
            else:
                S += exp(t - M)
    L = M + log(S) if S > 0 else -INFINITY
    if normalize:
        return (L - log(sp)) / (a - 1.0) + _lratio_dd(qh, ql, ph, pl)
    return L / (a - 1.0)


cdef double _general_row(int code, double a, const real* p, Py_ssize_t ps, const real* q, Py_ssize_t qs,
                         Py_ssize_t K, bint normalize, double log_base) noexcept nogil:
    """The measure of one row (NaN if the row is invalid)."""
    cdef Py_ssize_t i, support = 0
    cdef double x, y, ph = 0.0, pl = 0.0, qh = 0.0, ql = 0.0, mx = 0.0, s, d, v, cp, cq
    cdef bint two = code >= G_RENYI_D
    for i in range(K):
        x = p[i * ps]
        if not (x >= 0 and x <= DBL_MAX):
            return NAN
        _tsum(&ph, &pl, x)
        if x > mx:
            mx = x
        if x > 0:
            support += 1
        if two:
            y = q[i * qs]
            if not (y >= 0 and y <= DBL_MAX):
                return NAN
            _tsum(&qh, &ql, y)
    if normalize and (ph == 0 or not isfinite(ph) or (two and (qh == 0 or not isfinite(qh)))):
        return NAN
    if code == G_RENYI_H:
        v = _renyi_h(a, p, ps, K, normalize, ph, pl, mx, support)
    elif code == G_TSALLIS:
        return _tsallis(a, p, ps, K, normalize, ph + pl) + 0.0
    elif code == G_RENYI_D:
        v = _renyi_d(a, p, ps, q, qs, K, normalize, ph, pl, qh, ql)
        if v < 0 and normalize:
            v = 0.0              # rounding only: a divergence of distributions is >= 0
    elif code == G_HELLINGER:
        s = 0.0
        cp = 1.0 / (ph + pl) if normalize else 1.0
        cq = 1.0 / (qh + ql) if normalize else 1.0
        for i in range(K):
            x = p[i * ps] * cp
            y = q[i * qs] * cq
            if x != y:
                d = (x - y) / (sqrt(x) + sqrt(y))
                s += 0.5 * (d * d)       # halved first: no overflow short of the result's
        return sqrt(s)
    else:
        s = 0.0
        cp = 1.0 / (ph + pl) if normalize else 1.0
        cq = 1.0 / (qh + ql) if normalize else 1.0
        for i in range(K):
            s += 0.5 * fabs(p[i * ps] * cp - q[i * qs] * cq)
        return s
    return v / log_base + 0.0


def general_rows(int code, double param, const real[:, :] P, const real[:, :] Q, double[::1] out,
                 bint normalize, double log_base, int n_threads):
    """out[i] = measure(P[i], Q[i]) for the GENERAL_MEASURES codes (Q ignored by the
    entropies: pass P); NaN for an invalid row. Returns the number of NaN rows."""
    cdef Py_ssize_t N = P.shape[0], K = P.shape[1], i, nbad = 0
    cdef Py_ssize_t ps = P.strides[1] // <Py_ssize_t>sizeof(real)
    cdef Py_ssize_t qs = Q.strides[1] // <Py_ssize_t>sizeof(real)
    cdef int nt
    if Q.shape[0] != N or Q.shape[1] != K:
        raise ValueError(f"P and Q must have the same shape, got {(N, K)} and {(Q.shape[0], Q.shape[1])}")
    if out.shape[0] != N:
        raise ValueError(f"out must have length {N}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if code < G_RENYI_H or code > G_TV:
        raise ValueError(f"unsupported measure code {code}")
    if N == 0:
        return 0
    if K == 0:
        # an empty distribution: what the formulas give for an all-zero row
        for i in range(N):
            out[i] = _general_row(code, param, <const real*>NULL, 0, <const real*>NULL, 0, 0, normalize, log_base)
            if out[i] != out[i]:
                nbad += 1
        return nbad
    nt = _effective_threads(N * K * 8, n_threads)     # pow/exp/log per element: ~8x the work of a sum
    if nt > N:
        nt = <int>N
    with nogil:
        if nt > 1:
            for i in prange(N, num_threads=nt, schedule='static'):
                out[i] = _general_row(code, param, &P[i, 0], ps, &Q[i, 0], qs, K, normalize, log_base)
        else:
            for i in range(N):
                out[i] = _general_row(code, param, &P[i, 0], ps, &Q[i, 0], qs, K, normalize, log_base)
        for i in range(N):
            if out[i] != out[i]:
                nbad += 1
    return nbad
