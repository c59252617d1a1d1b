# Generalized entropies and divergences: Renyi entropy and divergence,
# Tsallis entropy, Hellinger distance, total variation (included by _kernels.pxi).
#
# One row at a time, in float64 (float32 elements widened on load; a row of bfloat16 or
# float16 widened into a float32 scratch row in cache, or, when longer than WIDEN_MAX, read
# as stored element by element: no copy of the input): a first pass
# checks the row and takes its sums (double-double, TwoSum), the second sums the
# measure's terms. The rows are split over threads (prange, static) in chunks of about
# 16 384 elements (fewer where that would leave fewer than 4 chunks a thread), as the other
# row kernels' rows are (with chunks of 2 rows of 1 000, the threads wrote into one cache
# line of results and read in 16 KB bursts, and the orders 2 and total variation ran no
# faster on two threads than on one), and every row is summed by one thread in a fixed
# order: bitwise the same result for every thread count.
#
# Accuracy, where the textbook formulas lose it:
#   * Renyi and Tsallis near alpha = 1: sum p^a = sum p + sum p expm1((a-1) log p)
#     and log(sum) = log(sum p) + log1p(T / sum p): no 1/(1-a) amplification of
#     the rounding of sum p^a (used for |a - 1| <= 1/8, and for the Renyi
#     divergence at every order unless T overflows or sum p + T cancels);
#   * elsewhere the sums are scaled by the largest term (log-sum-exp form), so
#     p^a never overflows or underflows on its own;
#   * Renyi divergence of nearly equal rows: log(q/p) carries the rounding of the
#     ratio (an FMA remainder), the row sums are double-double, so a divergence of
#     1e-12 keeps ~1e-16/1e-6 relative accuracy rather than 1e-4;
#   * Hellinger: (sqrt p - sqrt q)^2 as ((p - q) / (sqrt p + sqrt q))^2, no cancellation;
#     the Renyi divergence of order 1/2 from the same sum (Bhattacharyya), of order 2
#     from the chi^2 sum sum (p - q)^2 / q: cheap and exact for nearly equal rows.
#
# Speed: the first pass (_gstats), the Hellinger, total variation and chi^2 sums (_dist_sum)
# and the Renyi and Tsallis power sums (_power_sum; powers other than 2, 1/2, 3 are
# exp(a log y)) are the row engine's blocks (_fi_general_row.h: vector code for every
# storage type and SIMD level). The general Renyi divergence (expm1 of log ratios, for
# relative accuracy at every order), its orders 0 and infinity, and the orders within 1/8
# of 1 (expm1 forms) are scalar loops here that call libm per element: the slow cases.
#
# Ctrl-C: every pass over a row longer than BLOCK runs block after block and polls
# between blocks (_gstop, see fi_poll), so one long row answers too. The blocks only
# split the range of the lane loops: every lane sums the same terms in the same order.

from libc.math cimport pow, exp, expm1, log1p, fabs


# The storage types the measures read: the engine's four (FI_FMT_*). A 2-byte float is its
# bits in a struct, so that the fused type tells bfloat16 from float16.
cdef struct BF16:
    uint16_t bits
cdef struct F16:
    uint16_t bits

ctypedef fused stored:
    double
    float
    BF16
    F16


cdef inline double _v(const stored* p, Py_ssize_t i) noexcept nogil:
    """Element i of p, as a double (exact for every storage type)."""
    if stored is BF16:
        return fi_bf16_to_f32((<const uint16_t*>p)[i])
    elif stored is F16:
        return fi_f16_to_f32((<const uint16_t*>p)[i])
    else:
        return p[i]


cdef inline int _stored_fmt(const stored* p) noexcept nogil:
    """The engine's storage code (FI_FMT_*) of the type."""
    if stored is double:
        return FI_FMT_F64
    elif stored is float:
        return FI_FMT_F32
    elif stored is BF16:
        return FI_FMT_BF16
    else:
        return FI_FMT_F16


cdef inline bint _far(double sp, double sq, double sum_tol) noexcept nogil:
    """A sum (sp; sq too for a pair) further than sum_tol from 1."""
    return not (fabs(sp - 1.0) <= sum_tol and fabs(sq - 1.0) <= sum_tol)


cdef inline bint _far_pair(const stored* p, Py_ssize_t ps, const stored* q, Py_ssize_t qs, Py_ssize_t K,
                           double sum_tol, fi_stop_t* stop) noexcept nogil:
    """A valid pair of rows whose sums are further than sum_tol from 1, for the distances taken
    as passed (which have no pass of sums of their own): the engine's sums, in one vector pass
    that leaves the rows in cache for the distance's pass (polling between the blocks of a long
    row)."""
    cdef Partial t = PROB_ROW[_stored_fmt(p)](FI_P_SUMPQ, <const char*>p, ps, <const char*>q, qs, K, 1.0, 1.0,
                                              1, stop)
    return t.bad == 0 and _far(t.sp, t.sq, sum_tol)


cdef enum:
    G_RENYI_H = 0
    G_TSALLIS = 1
    G_RENYI_D = 2
    G_HELLINGER = 3
    G_TV = 4

GENERAL_MEASURES = {"renyi_entropy": G_RENYI_H, "tsallis_entropy": G_TSALLIS,
                    "renyi_divergence": G_RENYI_D, "hellinger_distance": G_HELLINGER,
                    "total_variation": G_TV}


cdef inline double _lratio(double p, double q) noexcept nogil:
    """log(p / q) for p, q > 0, with the rounding of the ratio carried (~1 ulp of the log even
    when p/q is near 1)."""
    cdef double r = p / q, e
    if r >= DBL_MIN and r <= DBL_MAX:
        e = fi_fnma(r, q, p)          # p - r q, exact
        if isfinite(e):
            return fi_log(r) + e / p
        return fi_log(r)
    return fi_log(p) - fi_log(q)


cdef inline double _lratio_dd(double nh, double nl, double dh, double dl) noexcept nogil:
    """log((nh + nl) / (dh + dl)) for double-double positives (to ~1 ulp of the log)."""
    cdef double r = nh / dh, e
    if r >= DBL_MIN and r <= DBL_MAX:
        e = fi_fnma(r, dh, nh)
        if isfinite(e):
            return log(r) + log1p((e + nl - r * dl) / (r * dh))
        return log(r)
    return log(nh + nl) - log(dh + dl)


cdef enum:
    NEAR_ONE_INV = 8             # |order - 1| <= 1/8: the expm1 forms


cdef inline bint _gstop(fi_stop_t* stop, Py_ssize_t K) noexcept nogil:
    """Between two blocks of a pass over a row of K: True once the call is to stop (rows of
    one block never poll here; the row loop does). A block of pow/exp/log terms counts as
    8 BLOCK units of work, as a row counts 8 K."""
    return K > BLOCK and fi_poll_block(stop, 8 * BLOCK)


cdef void _gstats(const stored* p, Py_ssize_t ps, const stored* q, Py_ssize_t qs, Py_ssize_t K,
                  bint two, bint dd, GStats* st, fi_stop_t* stop) noexcept nogil:
    """One pass over the row(s): validity, sums (double-double by TwoSum per lane when dd),
    max, support -- the engine's blocks (fi_gstats_block), added in order."""
    cdef GStats b
    cdef Py_ssize_t blk
    cdef double s
    cdef int fmt = _stored_fmt(p)
    st.ph = 0.0
    st.pl = 0.0
    st.qh = 0.0
    st.ql = 0.0
    st.mx = 0.0
    st.support = 0.0
    st.bad = 0
    for blk in range(0, K, 8192):   # step = BLOCK
        if _gstop(stop, K):
            break
        fi_gstats_block(fmt, two, dd, <const void*>(p + blk * ps), ps, <const void*>(q + blk * qs), qs,
                        min(<Py_ssize_t>BLOCK, K - blk), &b)
        fi_two_sum1(&st.ph, &st.pl, b.ph)
        st.pl += b.pl
        fi_two_sum1(&st.qh, &st.ql, b.qh)
        st.ql += b.ql
        st.mx = b.mx if b.mx > st.mx else st.mx
        st.support += b.support
        st.bad |= b.bad
    s = st.ph + st.pl            # renormalize the double-doubles (Fast2Sum)
    st.pl = st.pl - (s - st.ph)
    st.ph = s
    s = st.qh + st.ql
    st.ql = st.ql - (s - st.qh)
    st.qh = s


cdef inline int _pkind(double a) noexcept nogil:
    return 2 if a == 2.0 else (1 if a == 0.5 else (3 if a == 3.0 else 0))


cdef double _power_sum(double a, bint tsallis, const stored* p, Py_ssize_t ps, Py_ssize_t K, double d,
                       double* ties, Py_ssize_t pf, fi_stop_t* stop) noexcept nogil:
    """The engine's power sums (fi_power_block), block by block in order: the Renyi entropy's
    sum over p < d = mx of (p / mx)^a (a > 0) and the number of p == mx (each term 1) in
    ties, or the Tsallis entropy's sum over p > 0 of x - x^a, x = p / d; NaN once stopped."""
    cdef int kind = _pkind(a)
    cdef Py_ssize_t blk
    cdef double S = 0.0, c = 0.0, t
    ties[0] = 0.0
    for blk in range(0, K, 8192):   # step = BLOCK
        if _gstop(stop, K):
            return NAN
        S += fi_power_block(_stored_fmt(p), kind, tsallis, <const void*>(p + blk * ps), ps,
                            min(<Py_ssize_t>BLOCK, K - blk), d, a, &t, pf)
        c += t
    ties[0] = c
    return S


cdef double _dist_sum(int mode, const stored* p, Py_ssize_t ps, const stored* q, Py_ssize_t qs, Py_ssize_t K,
                      double dp, double dq, double* bhat, int* bad, fi_stop_t* stop) noexcept nogil:
    """Sums over x = p / dp, y = q / dq (no division when both are 1), by mode (FI_DIST_*):
    Hellinger 1/2 ((x - y)/(sqrt x + sqrt y))^2 (also sum sqrt(x y) into bhat), total
    variation 1/2 |x - y|, or chi^2 (x - y)^2 / y over y > 0 -- the engine's blocks
    (fi_dist_block), added in order; bad: an invalid entry."""
    cdef Py_ssize_t blk
    cdef double S = 0.0, B = 0.0, b
    cdef int bd, fmt = _stored_fmt(p)
    bad[0] = 0
    for blk in range(0, K, 8192):   # step = BLOCK
        if _gstop(stop, K):
            break
        S += fi_dist_block(fmt, mode, <const void*>(p + blk * ps), ps, <const void*>(q + blk * qs), qs,
                           min(<Py_ssize_t>BLOCK, K - blk), dp, dq, &b, &bd)
        B += b
        bad[0] |= bd
    bhat[0] = B
    return S


cdef double _renyi_h(double a, const stored* p, Py_ssize_t ps, Py_ssize_t K, bint normalize,
                     GStats* st, Py_ssize_t pf, fi_stop_t* stop) noexcept nogil:
    cdef Py_ssize_t i, blk
    cdef double x, sh = st.ph, sl = st.pl, s = st.ph + st.pl, mx = st.mx, T = 0.0, S, c, L
    if a == 0:
        return log(st.support)
    if a == INFINITY:
        return -log(mx / s) if normalize else -log(mx)
    if mx == 0:                  # as passed, an all-zero row: the formula's limit
        return -INFINITY / (1.0 - a)
    if fabs(a - 1.0) * NEAR_ONE_INV <= 1.0:
        # sum x^a = sum x + T, T = sum x expm1((a-1) log x); normalized on x = p/s (sum 1)
        for blk in range(0, K, 8192):    # step = BLOCK
            if _gstop(stop, K):
                return NAN
            for i in range(blk, min(blk + BLOCK, K)):
                x = _v(p, i * ps) / s if normalize else _v(p, i * ps)
                if x > 0:
                    T += x * expm1((a - 1.0) * log(x))
        if normalize:
            if isfinite(T) and 1.0 + T >= 0.5:
                return log1p(T) / (1.0 - a)
        elif isfinite(T) and isfinite(s) and s + T >= 0.5 * s:    # else: overflow or cancellation
            return (log(sh) + log1p((sl + T) / sh)) / (1.0 - a)
    # scaled by the largest: sum p^a = mx^a (c + S), S = sum_{p < mx} (p/mx)^a, c ties at 1,
    # so log(c + S) = log c + log1p(S / c) keeps nearly deterministic rows accurate
    S = _power_sum(a, False, p, ps, K, mx, &c, pf, stop)
    L = log(c) + log1p(S / c) + a * (log(mx / s) if normalize else log(mx))
    return L / (1.0 - a)


cdef double _tsallis(double t, const stored* p, Py_ssize_t ps, Py_ssize_t K, bint normalize,
                     double s, Py_ssize_t pf, fi_stop_t* stop) noexcept nogil:
    cdef Py_ssize_t i, blk
    cdef double x, ties, S = 0.0, dv = s if normalize else 1.0      # a divisor (see _dist_sum)
    if fabs(t - 1.0) * NEAR_ONE_INV <= 1.0:
        for blk in range(0, K, 8192):    # step = BLOCK
            if _gstop(stop, K):
                return NAN
            for i in range(blk, min(blk + BLOCK, K)):
                x = _v(p, i * ps)
                if x > 0:
                    x = x / dv
                    S -= x * expm1((t - 1.0) * log(x))
        return S / (t - 1.0)
    return _power_sum(t, True, p, ps, K, dv, &ties, pf, stop) / (t - 1.0)


cdef double _renyi2(const stored* p, Py_ssize_t ps, const stored* q, Py_ssize_t qs, Py_ssize_t K,
                    bint normalize, double ph, double pl, double qh, double ql,
                    fi_stop_t* stop) noexcept nogil:
    """D_2 = log sum p^2/q, with sum p^2/q = 2 sp - sq + X, X = sum (p - q)^2/q (chi^2):
    as passed log1p((2 sp - sq - 1) + X) from the double-double sums (nearly equal rows
    keep relative accuracy); normalized, X of x = p/sp, y = q/sq and log1p(X) (the sums of
    x and y are 1 but for rounding: ~1e-16 absolute). q = 0 < p was answered (+inf) before."""
    cdef double X, B, h, l = 0.0, h2, l2 = 0.0, sp = ph + pl, sq = qh + ql
    cdef double dp = sp if normalize else 1.0, dq = sq if normalize else 1.0
    cdef int bad
    X = _dist_sum(FI_DIST_CHI2, p, ps, q, qs, K, dp, dq, &B, &bad, stop)
    if normalize:
        return log1p(X)
    h = 2.0 * ph
    fi_two_sum1(&h, &l, -qh)
    l += 2.0 * pl - ql
    h2 = h
    fi_two_sum1(&h2, &l2, -1.0)
    return log1p(h2 + (l2 + l + X))


cdef double _bhattacharyya(const stored* p, Py_ssize_t ps, const stored* q, Py_ssize_t qs, Py_ssize_t K,
                           bint normalize, double ph, double pl, double qh, double ql,
                           fi_stop_t* stop) noexcept nogil:
    """D_1/2 = -2 log sum sqrt(p q). sum sqrt(pq) = (sp + sq)/2 - H, H = 1/2 sum (sqrt p -
    sqrt q)^2 summed as ((p - q)/(sqrt p + sqrt q))^2: near 1 (nearly equal rows) the form
    log1p((sp + sq)/2 - 1 - H) has no cancellation; far from 1 the direct sum is used."""
    cdef double B, H, u, s2, e2 = 0.0, sp = ph + pl, sq = qh + ql
    cdef double dp = sp if normalize else 1.0, dq = sq if normalize else 1.0
    cdef int bad
    H = _dist_sum(FI_DIST_HELLINGER, p, ps, q, qs, K, dp, dq, &B, &bad, stop)
    if normalize:                                     # on x = p/sp, y = q/sq: sum sqrt(xy) = 1 - H
        if B < 0.5:
            return -2.0 * log(B)
        return -2.0 * log1p(-H)
    if B < 0.5:
        return -2.0 * log(B)
    s2 = ph
    fi_two_sum1(&s2, &e2, qh)                               # ph + qh exactly, as s2 + e2
    u = (0.5 * s2 - 1.0) + 0.5 * (e2 + pl + ql) - H
    return -2.0 * log1p(u)


cdef double _renyi_d(double a, const stored* p, Py_ssize_t ps, const stored* q, Py_ssize_t qs, Py_ssize_t K,
                     bint normalize, double ph, double pl, double qh, double ql,
                     fi_stop_t* stop) noexcept nogil:
    cdef Py_ssize_t i, blk
    cdef double x, y, lr, v, th = 0.0, tl = 0.0, M = -INFINITY, S = 0.0, t, L, ls
    cdef double sp = ph + pl, sq = qh + ql, dp, dq
    if a == 0:
        # -log sum_{p>0} q (normalized: log(sq / s0) = log1p(z / s0), z = q-mass where p = 0)
        for blk in range(0, K, 8192):    # step = BLOCK
            if _gstop(stop, K):
                return NAN
            for i in range(blk, min(blk + BLOCK, K)):
                if _v(p, i * ps) > 0:
                    fi_two_sum1(&th, &tl, _v(q, i * qs))
                else:
                    S += _v(q, i * qs)
        if th == 0:
            return INFINITY      # q has no mass where p has
        if normalize:
            return log1p(S / (th + tl))
        return -(log(th) + log1p(tl / th))
    if a == INFINITY:
        for blk in range(0, K, 8192):    # step = BLOCK
            if _gstop(stop, K):
                return NAN
            for i in range(blk, min(blk + BLOCK, K)):
                x = _v(p, i * ps)
                if x > 0:
                    y = _v(q, i * qs)
                    lr = INFINITY if y == 0 else _lratio(x, y)
                    if lr > M:
                        M = lr
        if normalize and M != -INFINITY:
            M += _lratio_dd(qh, ql, ph, pl)
        return M
    if a > 1:
        for blk in range(0, K, 8192):    # step = BLOCK
            if _gstop(stop, K):
                return NAN
            for i in range(blk, min(blk + BLOCK, K)):
                if _v(p, i * ps) > 0 and _v(q, i * qs) == 0:
                    return INFINITY
    if sp == 0:                  # as passed, an all-zero p: the formula's limit
        return -INFINITY / (a - 1.0)
    if a == 0.5:
        return _bhattacharyya(p, ps, q, qs, K, normalize, ph, pl, qh, ql, stop)
    if a == 2.0:
        return _renyi2(p, ps, q, qs, K, normalize, ph, pl, qh, ql, stop)
    # sum x^a y^(1-a) = sum x + T, T = sum x expm1((1-a) log(y/x)) at every order, so that
    # nearly equal rows keep relative accuracy (as passed: x = p, y = q and the double-double
    # sum of p; normalized: x = p/sp, y = q/sq, whose sum is 1 but for ~1e-16); the
    # log-sum-exp form below takes over when T overflows or sum x + T cancels
    dp = sp if normalize else 1.0
    dq = sq if normalize else 1.0
    for blk in range(0, K, 8192):    # step = BLOCK
        if _gstop(stop, K):
            return NAN
        for i in range(blk, min(blk + BLOCK, K)):
            x = _v(p, i * ps) / dp
            if x > 0:
                y = _v(q, i * qs) / dq
                lr = -INFINITY if y == 0 else -_lratio(x, y)
                fi_two_sum1(&th, &tl, x * expm1((1.0 - a) * lr))
    if normalize:
        if isfinite(th) and 1.0 + th >= 0.5:
            return log1p(th + tl) / (a - 1.0)
    elif isfinite(th) and isfinite(sp) and (ph + th) + (pl + tl) >= 0.5 * sp:
        return (log(ph) + log1p((pl + th + tl) / ph)) / (a - 1.0)
    # log-sum-exp form, one pass: terms log x + (1-a) log(y/x), running max
    for blk in range(0, K, 8192):    # step = BLOCK
        if _gstop(stop, K):
            return NAN
        for i in range(blk, min(blk + BLOCK, K)):
            x = _v(p, i * ps) / dp
            if x > 0:
                y = _v(q, i * qs) / dq
                if y == 0:
                    continue         # a < 1 here: the term is 0
                t = log(x) - (1.0 - a) * _lratio(x, y)
                if t > M:
                    S = S * exp(M - t) + 1.0
                    M = t
                else:
                    S += exp(t - M)
    L = M + log(S) if S > 0 else -INFINITY
    return L / (a - 1.0)


cdef double _general_row(int code, double a, const stored* p, Py_ssize_t ps, const stored* q, Py_ssize_t qs,
                         Py_ssize_t K, bint normalize, double log_base, double sum_tol, char* far,
                         Py_ssize_t pf, fi_stop_t* stop) noexcept nogil:
    """The measure of one row (NaN if the row is invalid; any value once stop is set); sum_tol
    > 0 (rows as passed): far[0] = 1 if the row is valid and its sums are further than sum_tol
    from 1 (from the first pass's sums, or a pass of sums for the distances). pf: elements
    from p to the next row this thread reads (0: none), fetched by the power sums' pass."""
    cdef GStats st
    cdef double v, B, cp = 1.0, cq = 1.0
    cdef int bad = 0
    cdef bint two = code >= G_RENYI_D
    if (code == G_HELLINGER or code == G_TV) and not normalize:
        if sum_tol > 0:
            far[0] = _far_pair(p, ps, q, qs, K, sum_tol, stop)
        v = _dist_sum(FI_DIST_TV if code == G_TV else FI_DIST_HELLINGER, p, ps, q, qs, K, 1.0, 1.0, &B, &bad,
                      stop)     # one pass, checks included
        return NAN if bad else (sqrt(v) if code == G_HELLINGER else v)
    if two:
        _gstats(p, ps, q, qs, K, True, True, &st, stop)
    else:       # the Renyi entropy near order 1 needs the exact sum
        _gstats(p, ps, p, ps, K, False, code == G_RENYI_H and fabs(a - 1.0) * NEAR_ONE_INV <= 1.0, &st, stop)
    if sum_tol > 0 and not st.bad:
        far[0] = _far(st.ph + st.pl, st.qh + st.ql if two else 1.0, sum_tol)
    if st.bad or (normalize and (st.ph == 0 or not isfinite(st.ph) or
                                 (two and (st.qh == 0 or not isfinite(st.qh))))):
        return NAN
    if code == G_RENYI_H:
        v = _renyi_h(a, p, ps, K, normalize, &st, pf, stop)
    elif code == G_TSALLIS:
        return _tsallis(a, p, ps, K, normalize, st.ph + st.pl, pf, stop) + 0.0
    elif code == G_RENYI_D:
        v = _renyi_d(a, p, ps, q, qs, K, normalize, st.ph, st.pl, st.qh, st.ql, stop)
        if v < 0 and normalize:
            v = 0.0              # rounding only: a divergence of distributions is >= 0
    else:
        cp = st.ph + st.pl        # divisors
        cq = st.qh + st.ql
        v = _dist_sum(FI_DIST_TV if code == G_TV else FI_DIST_HELLINGER, p, ps, q, qs, K, cp, cq, &B, &bad,
                      stop)
        return sqrt(v) if code == G_HELLINGER else v
    return v / log_base + 0.0


cdef enum:
    WIDEN_MAX = 32768        # 2-byte rows up to this long are widened into float32 scratch (L2)


cdef inline double _general_row_at(int code, double param, const stored* p, Py_ssize_t ps, const stored* q,
                                   Py_ssize_t qs, Py_ssize_t K, bint normalize, double log_base, double sum_tol,
                                   char* far, float* scratch, Py_ssize_t pf, fi_stop_t* stop) noexcept nogil:
    """One row. Where a scalar pass will read the row element by element -- the Renyi
    divergence, and the Renyi and Tsallis entropies of orders within 1/8 of 1 -- a 2-byte row
    (when scratch is given: K <= WIDEN_MAX) is widened once into scratch (2 K floats) by the
    engine's vector loads and measured as float32: the same values, so the same result, and
    the passes that follow read it from cache. The other orders and measures run on the
    engine's blocks, which read 2-byte floats as they are (in the same lanes: bitwise the
    same result)."""
    cdef int fmt
    if (stored is BF16 or stored is F16) and scratch != NULL and (
            code == G_RENYI_D or ((code == G_RENYI_H or code == G_TSALLIS)
                                  and fabs(param - 1.0) * NEAR_ONE_INV <= 1.0)):
        fmt = FI_FMT_BF16 if stored is BF16 else FI_FMT_F16
        fi_widen_f32(fmt, <const void*>p, ps, K, scratch)
        if code < G_RENYI_D:
            return _general_row(code, param, <const float*>scratch, 1, <const float*>scratch, 1, K, normalize,
                                log_base, sum_tol, far, 0, stop)
        fi_widen_f32(fmt, <const void*>q, qs, K, scratch + K)
        return _general_row(code, param, <const float*>scratch, 1, <const float*>(scratch + K), 1, K, normalize,
                            log_base, sum_tol, far, 0, stop)
    return _general_row(code, param, p, ps, q, qs, K, normalize, log_base, sum_tol, far, pf, stop)


cdef inline float* _scratch(const stored* p, Py_ssize_t K) noexcept nogil:
    """The float32 scratch of a 2-byte row (NULL: read as stored)."""
    if (stored is BF16 or stored is F16) and K <= WIDEN_MAX:
        return <float*>malloc(2 * K * sizeof(float))
    return NULL


cdef Py_ssize_t _general_all(int code, double param, const stored* P, Py_ssize_t prs, Py_ssize_t ps,
                             const stored* Q, Py_ssize_t qrs, Py_ssize_t qs, Py_ssize_t N, Py_ssize_t K,
                             double* out, bint normalize, double log_base, int nt, double sum_tol,
                             char* far, fi_stop_t* stop) noexcept nogil:
    """The rows of one storage type (row strides prs, qrs in bytes; element strides ps, qs);
    sum_tol > 0: far[i] = 1 for a valid row i whose sums are further than sum_tol from 1."""
    cdef Py_ssize_t i
    cdef const char* pb = <const char*>P
    cdef const char* qb = <const char*>Q
    cdef float* scratch
    # contiguous rows: the next row of a thread is the row after but at the ends of its chunks
    # (a harmless hint past the batch's end)
    cdef Py_ssize_t pf = prs // <Py_ssize_t>sizeof(stored) if (
        ps == 1 and N > 1 and prs % <Py_ssize_t>sizeof(stored) == 0) else 0
    # at least 4 chunks a thread where there are rows enough: the rows of the element-by-element
    # paths (orders near 1, the Renyi divergence) cost ~20x a vectorized row
    cdef Py_ssize_t chunk = max(1, min(_rows_chunk(K), N // (4 * nt)))
    if nt > 1:
        with parallel(num_threads=nt):
            scratch = _scratch(P, K)                     # one per thread
            for i in prange(N, schedule='static', chunksize=chunk):
                if fi_poll_rows(stop, i, 8 * K):
                    continue
                out[i] = _general_row_at(code, param, <const stored*>(pb + i * prs), ps,
                                         <const stored*>(qb + i * qrs), qs, K, normalize, log_base, sum_tol,
                                         far + i if sum_tol > 0 else NULL, scratch, pf, stop)
            free(scratch)
    else:
        scratch = _scratch(P, K)
        for i in range(N):
            if fi_poll_rows(stop, i, 8 * K):
                break
            out[i] = _general_row_at(code, param, <const stored*>(pb + i * prs), ps,
                                     <const stored*>(qb + i * qrs), qs, K, normalize, log_base, sum_tol,
                                     far + i if sum_tol > 0 else NULL, scratch, pf, stop)
        free(scratch)
    return 0


def general_rows(int code, double param, cnp.ndarray P, cnp.ndarray Q, double[::1] out,
                 bint normalize, double log_base, int n_threads, double sum_tol=0.0, Py_ssize_t[::1] far=None):
    """out[i] = measure(P[i], Q[i]) for the GENERAL_MEASURES codes (Q ignored by the
    entropies: pass P) -- 2-D float64, float32, float16 or bfloat16 arrays of one dtype, read
    as stored; NaN for an invalid row. sum_tol > 0 (rows as passed): count in far[0] the valid
    rows whose sums are further than sum_tol from 1. Returns the number of NaN rows."""
    cdef int fmt = _fmt_of(P)
    cdef Py_ssize_t N, K, i, nbad = 0, es, prs, qrs, ps, qs
    cdef const char* pd
    cdef const char* qd
    cdef int nt
    cdef char* flags = NULL
    if cnp.PyArray_TYPE(Q) != cnp.PyArray_TYPE(P):
        raise TypeError(f"P and Q must have one dtype, got {P.dtype} and {Q.dtype}")
    if sum_tol > 0 and (normalize or far is None or far.shape[0] < 1):
        raise ValueError("sum_tol is for rows as passed (normalize=False), with a far array of length >= 1")
    if cnp.PyArray_NDIM(P) != 2 or cnp.PyArray_NDIM(Q) != 2:
        raise ValueError("P and Q must be 2-D")
    N = cnp.PyArray_DIM(P, 0)
    K = cnp.PyArray_DIM(P, 1)
    if cnp.PyArray_DIM(Q, 0) != N or cnp.PyArray_DIM(Q, 1) != K:
        raise ValueError(f"P and Q must have the same shape, got {(N, K)} and "
                         f"{(cnp.PyArray_DIM(Q, 0), cnp.PyArray_DIM(Q, 1))}")
    if out.shape[0] != N:
        raise ValueError(f"out must have length {N}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if code < G_RENYI_H or code > G_TV:
        raise ValueError(f"unsupported measure code {code}")
    es = fi_fmt_size(fmt)
    for a in (P, Q):
        if cnp.PyArray_STRIDE(<cnp.ndarray>a, 1) % es or not cnp.PyArray_ISALIGNED(<cnp.ndarray>a):
            raise ValueError("P and Q must be aligned, with strides that are multiples of the element size")
    if N == 0:
        return 0
    if K == 0:
        # an empty distribution: 0, as entropy(), js_divergence() and the order-1 limits give
        for i in range(N):
            out[i] = 0.0
        return 0
    nt = _effective_threads(N * K * 8, n_threads)     # pow/exp/log per element: ~8x the work of a sum
    if nt > N:
        nt = <int>N
    pd = <const char*>cnp.PyArray_DATA(P)
    qd = <const char*>cnp.PyArray_DATA(Q)
    prs = cnp.PyArray_STRIDE(P, 0)
    qrs = cnp.PyArray_STRIDE(Q, 0)
    ps = cnp.PyArray_STRIDE(P, 1) // es
    qs = cnp.PyArray_STRIDE(Q, 1) // es
    if sum_tol > 0:
        flags = <char*>calloc(N, 1)
        if flags == NULL:
            raise MemoryError()
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    with nogil:
        if fmt == FI_FMT_F64:
            _general_all(code, param, <const double*>pd, prs, ps, <const double*>qd, qrs, qs, N, K, &out[0],
                         normalize, log_base, nt, sum_tol, flags, stop)
        elif fmt == FI_FMT_F32:
            _general_all(code, param, <const float*>pd, prs, ps, <const float*>qd, qrs, qs, N, K, &out[0],
                         normalize, log_base, nt, sum_tol, flags, stop)
        elif fmt == FI_FMT_BF16:
            _general_all(code, param, <const BF16*>pd, prs, ps, <const BF16*>qd, qrs, qs, N, K, &out[0],
                         normalize, log_base, nt, sum_tol, flags, stop)
        else:
            _general_all(code, param, <const F16*>pd, prs, ps, <const F16*>qd, qrs, qs, N, K, &out[0],
                         normalize, log_base, nt, sum_tol, flags, stop)
    if flags != NULL:
        for i in range(N):
            far[0] += flags[i]
        free(flags)
    fi_stop_raise(stop)
    for i in range(N):
        if out[i] != out[i]:
            nbad += 1
    return nbad
