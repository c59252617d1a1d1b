# Logit-space kernels: log-sum-exp, softmax, and the measures of softmax(x/T),
# fused so that no N x K softmax is ever written (included by _kernels.pxi).
#
# A row of logits x (length K, any stride) takes two passes while it stays in
# cache (a 128k-vocabulary float32 row is 512 KB, well inside L2):
#   pass 1: m = max x, and whether any x is NaN or +inf (invalid);
#   pass 2: with z_i = (x_i - m)/T and e_i = exp(z_i) <= 1:
#           t = S - 1 = sum e_i over all but one maximal element (lse = m/T + log1p t)
#           and the measure's weighted sums.
# Then, e.g., H = log1p t - sum e_i z_i / (1 + t), CE(label y) = log1p t - z_y.
# t is summed without the leading 1 (the maximal terms, e_i = 1, are counted apart),
# so a result as small as t (a confident row: lse([0, -40]) = 4.2e-18, the
# cross-entropy of a label winning by 700 nats) keeps its relative accuracy; the
# log of a rounded 1 + t would give 0.
# -inf logits are masks: e_i = 0 and a term with zero weight is exactly 0
# (never 0 * -inf = NaN). float32 rows compute z and exp in float32 (the
# terms are <= 1 and summed in float64); float64 rows in float64. Sums run in
# LANES accumulators (vectorized) in a fixed order, rows are split over
# threads with prange(schedule='static'): results do not depend on threads.
# Ctrl-C: a pass over a row longer than BLOCK polls between blocks (_lstop, see
# fi_poll); the blocks only split the lane loops' range, so the sums are unchanged.

cdef struct LogitSums:
    double s      # t = sum e_i - 1: the sum without one maximal element (e = 1), first row
    double a      # measure's weighted sum (see _pass2)
    double b      # second sum (see _pass2)
    int bad       # an invalid soft target was seen

# pass-2 tags
cdef struct LseOnly:
    char unused
cdef struct EntSums:          # a = sum e z (e > 0)
    char unused
cdef struct SmoothSums:       # a = sum w z (w != 0), b = sum w
    char unused
cdef struct SoftSums:         # with u = w ((1-eps) t + eps/K): a = sum u z (u > 0), b = sum u
    char unused
cdef struct PairSums:         # second row y: b = sum e^y - 1 (as t), a = sum e^x (z^x - z^y) (e^x > 0)
    char unused

ctypedef fused ltag:
    LseOnly
    EntSums
    SmoothSums
    SoftSums
    PairSums


cdef inline bint _lstop(fi_stop_t* stop, Py_ssize_t n) noexcept nogil:
    """Between two blocks of a pass over a row of n: True once the call is to stop (rows of
    one block never poll here; the row loop does)."""
    return n > BLOCK and fi_poll_block(stop, BLOCK)


cdef inline bint _stopped(fi_stop_t* stop) noexcept nogil:
    return stop != NULL and stop.flag


cdef inline real _rexp(real z) noexcept nogil:
    if real is float:
        return fi_expf(z)
    else:
        return fi_exp(z)


cdef void _pass1(stride_kind* kind, const real* x, Py_ssize_t xs, Py_ssize_t n,
                 double* m, int* bad, fi_stop_t* stop) noexcept nogil:
    """m = max x (-inf for an empty or all -inf row); bad = 1 if some x is NaN or +inf."""
    cdef real mx[LANES]
    cdef real iv[LANES]    # (x, with -inf as 0) * 0: NaN once a NaN or +inf was seen
    cdef Py_ssize_t i, l, w, blk
    cdef Py_ssize_t nv = n - n % LANES
    cdef real v
    cdef real inf = <real>INFINITY
    cdef real zero = 0
    for l in range(LANES):
        mx[l] = -inf
        iv[l] = zero
    for blk in range(0, nv, 8192):     # step = BLOCK
        if _lstop(stop, n):
            break
        for i in range(blk, min(blk + BLOCK, nv), 16):   # step = LANES
            for l in range(LANES):
                v = _load(kind, x, i + l, xs)
                mx[l] = v if v > mx[l] else mx[l]
                iv[l] += (zero if v == -inf else v) * zero
    for i in range(nv, n):
        l = i - nv
        v = _load(kind, x, i, xs)
        mx[l] = v if v > mx[l] else mx[l]
        iv[l] += (zero if v == -inf else v) * zero
    w = LANES
    while w > 1:
        w = w // 2
        for l in range(w):
            mx[l] = mx[l + w] if mx[l + w] > mx[l] else mx[l]
            iv[l] += iv[l + w]
    m[0] = mx[0]
    bad[0] = iv[0] != 0


cdef inline void _p2_step(ltag* tag, stride_kind* kind, const real* x, Py_ssize_t xs, const real* y,
                          Py_ssize_t ys, const double* wt, Py_ssize_t j, real mx, real my, real scale,
                          double c1, double c0, double* s, double* a, double* b, int* bd,
                          double* c, double* cy) noexcept nogil:
    """Element j of pass 2 into one lane's accumulators (c, cy: the maximal elements, z = 0,
    counted apart from the sums s and b)."""
    cdef real z, e, zy, ey, t
    cdef double u
    z = (_load(kind, x, j, xs) - mx) * scale
    e = _rexp(z)
    s[0] += 0.0 if z == 0 else <double>e
    c[0] += 1.0 if z == 0 else 0.0
    if ltag is EntSums:
        a[0] += 0.0 if e == 0 else <double>(e * z)
    elif ltag is SmoothSums:
        u = wt[j]
        a[0] += 0.0 if u == 0 else u * z
        b[0] += u
    elif ltag is SoftSums:
        t = _load(kind, y, j, ys)
        bd[0] = bd[0] | (not (t >= 0 and t < <real>INFINITY))
        u = wt[j] * (c1 * t + c0)
        a[0] += 0.0 if u == 0 else u * z
        b[0] += u
    elif ltag is PairSums:
        zy = (_load(kind, y, j, ys) - my) * scale
        ey = _rexp(zy)
        b[0] += 0.0 if zy == 0 else <double>ey
        cy[0] += 1.0 if zy == 0 else 0.0
        a[0] += 0.0 if e == 0 else <double>e * (<double>z - <double>zy)


cdef void _pass2(ltag* tag, stride_kind* kind, const real* x, Py_ssize_t xs, const real* y, Py_ssize_t ys,
                 const double* wt, Py_ssize_t n, real mx, real my, real scale, double c1, double c0,
                 LogitSums* out, fi_stop_t* stop) noexcept nogil:
    """The sums of pass 2 (see LogitSums and the tags). mx, my: the rows' maxima
    (finite); wt: class weights (SmoothSums, SoftSums); c1 = 1 - eps, c0 = eps/K."""
    cdef double s[LANES]
    cdef double a[LANES]
    cdef double b[LANES]
    cdef double c[LANES]
    cdef double cy[LANES]
    cdef int bd[LANES]
    cdef Py_ssize_t i, l, w, blk
    cdef Py_ssize_t nv = n - n % LANES
    for l in range(LANES):
        s[l] = 0.0
        a[l] = 0.0
        b[l] = 0.0
        c[l] = 0.0
        cy[l] = 0.0
        bd[l] = 0
    for blk in range(0, nv, 8192):     # step = BLOCK
        if _lstop(stop, n):
            break
        for i in range(blk, min(blk + BLOCK, nv), 16):   # step = LANES
            for l in range(LANES):
                _p2_step(tag, kind, x, xs, y, ys, wt, i + l, mx, my, scale, c1, c0, &s[l], &a[l], &b[l], &bd[l],
                         &c[l], &cy[l])
    for i in range(nv, n):
        l = i - nv
        _p2_step(tag, kind, x, xs, y, ys, wt, i, mx, my, scale, c1, c0, &s[l], &a[l], &b[l], &bd[l],
                 &c[l], &cy[l])
    w = LANES
    while w > 1:
        w = w // 2
        for l in range(w):
            s[l] += s[l + w]
            a[l] += a[l + w]
            b[l] += b[l + w]
            c[l] += c[l + w]
            cy[l] += cy[l + w]
            bd[l] = bd[l] | bd[l + w]
    # one maximal element is the leading 1 of S = 1 + t; the others (ties) are exact integers
    out.s = s[0] + (c[0] - 1.0)
    out.a = a[0]
    out.b = b[0] + (cy[0] - 1.0) if ltag is PairSums else b[0]
    out.bad = bd[0]


cdef inline double _js_term(stride_kind* kind, const real* x, Py_ssize_t xs, const real* y, Py_ssize_t ys,
                            Py_ssize_t j, double mx, double my, double lsx, double lsy,
                            double scale) noexcept nogil:
    cdef double P, Q, M
    P = fi_exp((<double>_load(kind, x, j, xs) - mx) * scale - lsx)
    Q = fi_exp((<double>_load(kind, y, j, ys) - my) * scale - lsy)
    M = P + Q
    return (0.0 if P == 0 else P * fi_log((P + P) / M)) + (0.0 if Q == 0 else Q * fi_log((Q + Q) / M))


cdef double _js_pass3(stride_kind* kind, const real* x, Py_ssize_t xs, const real* y, Py_ssize_t ys,
                      Py_ssize_t n, double mx, double my, double lsx, double lsy, double scale,
                      fi_stop_t* stop) noexcept nogil:
    """sum P log(2P/(P+Q)) + Q log(2Q/(P+Q)) with P = exp(z^x - log S_x), Q likewise (in double)."""
    cdef double acc[LANES]
    cdef Py_ssize_t i, l, w, blk
    cdef Py_ssize_t nv = n - n % LANES
    for l in range(LANES):
        acc[l] = 0.0
    for blk in range(0, nv, 8192):     # step = BLOCK
        if _lstop(stop, n):
            break
        for i in range(blk, min(blk + BLOCK, nv), 16):   # step = LANES
            for l in range(LANES):
                acc[l] += _js_term(kind, x, xs, y, ys, i + l, mx, my, lsx, lsy, scale)
    for i in range(nv, n):
        acc[i - nv] += _js_term(kind, x, xs, y, ys, i, mx, my, lsx, lsy, scale)
    w = LANES
    while w > 1:
        w = w // 2
        for l in range(w):
            acc[l] += acc[l + w]
    return acc[0]


cdef void _write_pass(stride_kind* kind, const real* x, Py_ssize_t xs, real* o, Py_ssize_t os, Py_ssize_t n,
                      real mx, real scale, real logs, real invs, bint log_out, fi_stop_t* stop) noexcept nogil:
    """o = log_softmax (z - log S) or softmax (exp(z) / S)."""
    cdef Py_ssize_t j, blk
    cdef real z
    for blk in range(0, n, 8192):    # step = BLOCK
        if _lstop(stop, n):
            return
        if log_out:
            for j in range(blk, min(blk + BLOCK, n)):
                z = (_load(kind, x, j, xs) - mx) * scale
                o[j * os] = z - logs
        else:
            for j in range(blk, min(blk + BLOCK, n)):
                z = (_load(kind, x, j, xs) - mx) * scale
                o[j * os] = _rexp(z) * invs


cdef void _fill_nan(real* o, Py_ssize_t os, Py_ssize_t n, fi_stop_t* stop) noexcept nogil:
    """o = NaN (the softmax of an invalid row)."""
    cdef Py_ssize_t j, blk
    for blk in range(0, n, 8192):    # step = BLOCK
        if _lstop(stop, n):
            return
        for j in range(blk, min(blk + BLOCK, n)):
            o[j * os] = NAN


# --- one row -----------------------------------------------------------------
cdef enum:
    L_LSE = 0
    L_ENTROPY = 1
    L_CE_LABEL = 2      # nll; with smoothing also the smoothing sum (second output)
    L_CE_SOFT = 3
    L_KL = 4
    L_JS = 5
    L_SOFTMAX = 6
    L_LOG_SOFTMAX = 7


cdef struct LogitArgs:
    int op
    double scale        # 1/T
    double c1           # 1 - label_smoothing
    double c0           # label_smoothing / K
    bint smooth         # L_CE_LABEL: also the smoothing sum
    const double* wt    # class weights (length K) for smoothing / soft targets


cdef void _logit_row(stride_kind* kind, const real* x, Py_ssize_t xs, const real* y, Py_ssize_t ys,
                     Py_ssize_t label, real* o, Py_ssize_t os, Py_ssize_t n, LogitArgs* g,
                     double* res, double* res2, fi_stop_t* stop) noexcept nogil:
    """One row of op g.op; res (and res2) get the row's result, NaN when invalid
    (NaN or +inf logits, an invalid soft target, or -inf everywhere where that is
    undefined); NaN, and o partly written, once stop is set."""
    cdef double m, my = 0.0, ls, lsy
    cdef int bad, bady = 0
    cdef LogitSums t
    cdef real scale = <real>g.scale
    cdef Py_ssize_t j
    if n == 0:
        res[0] = -INFINITY if g.op == L_LSE else (0.0 if g.op != L_CE_LABEL else NAN)
        if g.op == L_CE_LABEL and g.smooth:
            res2[0] = 0.0
        return
    cdef double xr[4]
    cdef bint fast = (FI_X512 and stride_kind is UnitStride and
                      (g.op == L_LSE or g.op == L_ENTROPY or g.op == L_SOFTMAX or g.op == L_LOG_SOFTMAX
                       or (g.op == L_CE_LABEL and not g.smooth)))
    if fast:
        # AVX-512 build: both passes hand-vectorized (_fi_x512.h), same sums
        if real is double:
            fi_x512_lse_f64(x, n, g.scale, g.op == L_ENTROPY, xr, stop)
        else:
            fi_x512_lse_f32(x, n, g.scale, g.op == L_ENTROPY, xr, stop)
        m = xr[0]
        bad = xr[3] != 0.0
        t.s = xr[1] - 1.0
        t.a = xr[2]
        # the hand-vectorized sum includes the leading 1: below t = 1 its rounding would cost
        # log1p(t) relative accuracy, so such (confident) rows take the sums of pass 2
        fast = t.s >= 1.0
    else:
        _pass1(kind, x, xs, n, &m, &bad, stop)
    if g.op == L_KL or g.op == L_JS:
        _pass1(kind, y, ys, n, &my, &bady, stop)
    if _stopped(stop):
        res[0] = NAN
        return
    if bad or bady:
        res[0] = NAN
        if g.op == L_CE_LABEL and g.smooth:
            res2[0] = NAN
        if g.op == L_SOFTMAX or g.op == L_LOG_SOFTMAX:
            _fill_nan(o, os, n, stop)
        return
    if m == -INFINITY or my == -INFINITY:      # every logit -inf
        if g.op == L_LSE:
            res[0] = -INFINITY
        elif g.op == L_CE_LABEL:
            res[0] = INFINITY                  # the label's logit is -inf
            if g.smooth:
                res2[0] = INFINITY
        else:
            res[0] = NAN                       # softmax undefined
            if g.op == L_SOFTMAX or g.op == L_LOG_SOFTMAX:
                _fill_nan(o, os, n, stop)
        return
    if g.op == L_ENTROPY:
        if not fast:
            _pass2(<EntSums*>NULL, kind, x, xs, y, ys, g.wt, n, <real>m, 0, scale, 0.0, 0.0, &t, stop)
        res[0] = _nonneg(log1p(t.s) - t.a / (1.0 + t.s))
    elif g.op == L_CE_LABEL:
        if g.smooth:
            _pass2(<SmoothSums*>NULL, kind, x, xs, y, ys, g.wt, n, <real>m, 0, scale, 0.0, 0.0, &t, stop)
        elif not fast:
            _pass2(<LseOnly*>NULL, kind, x, xs, y, ys, g.wt, n, <real>m, 0, scale, 0.0, 0.0, &t, stop)
        ls = log1p(t.s)
        res[0] = _nonneg(ls - <double>((_load(kind, x, label, xs) - <real>m) * scale))
        if g.smooth:
            res2[0] = t.b * ls - t.a
    elif g.op == L_CE_SOFT:
        _pass2(<SoftSums*>NULL, kind, x, xs, y, ys, g.wt, n, <real>m, 0, scale, g.c1, g.c0, &t, stop)
        res[0] = NAN if t.bad else t.b * log1p(t.s) - t.a
    elif g.op == L_KL:
        _pass2(<PairSums*>NULL, kind, x, xs, y, ys, g.wt, n, <real>m, <real>my, scale, 0.0, 0.0, &t, stop)
        # KL = sum P (log P - log Q) = (1/S_x) sum e^x (z^x - z^y) - log S_x + log S_y
        res[0] = _nonneg(t.a / (1.0 + t.s) - log1p(t.s) + log1p(t.b))
    elif g.op == L_JS:
        _pass2(<PairSums*>NULL, kind, x, xs, y, ys, g.wt, n, <real>m, <real>my, scale, 0.0, 0.0, &t, stop)
        ls = log1p(t.s)
        lsy = log1p(t.b)
        res[0] = _nonneg(0.5 * _js_pass3(kind, x, xs, y, ys, n, m, my, ls, lsy, g.scale, stop))
        if res[0] > LN2:
            res[0] = LN2
    else:
        if not fast:
            _pass2(<LseOnly*>NULL, kind, x, xs, y, ys, g.wt, n, <real>m, 0, scale, 0.0, 0.0, &t, stop)
        ls = log1p(t.s)
        if g.op == L_LSE:
            res[0] = m * g.scale + ls
        else:
            _write_pass(kind, x, xs, o, os, n, <real>m, scale, <real>ls, <real>(1.0 / (1.0 + t.s)),
                        g.op == L_LOG_SOFTMAX, stop)
            res[0] = 0.0


cdef inline void _logit_row_any(const real* x, Py_ssize_t xs, const real* y, Py_ssize_t ys,
                                Py_ssize_t label, real* o, Py_ssize_t os, Py_ssize_t n, LogitArgs* g,
                                double* res, double* res2, fi_stop_t* stop) noexcept nogil:
    if xs == 1 and ys == 1:
        _logit_row(<UnitStride*>NULL, x, 1, y, 1, label, o, os, n, g, res, res2, stop)
    else:
        _logit_row(<AnyStride*>NULL, x, xs, y, ys, label, o, os, n, g, res, res2, stop)


cdef Py_ssize_t _logit_driver(const real* kind, const char* xb, Py_ssize_t xrs, Py_ssize_t xs,
                              const char* yb, Py_ssize_t yrs, Py_ssize_t ys, const long long* labels,
                              char* ob, Py_ssize_t ors, Py_ssize_t os, Py_ssize_t N, Py_ssize_t K,
                              double* res, double* res2, LogitArgs* g, int n_threads,
                              fi_stop_t* stop) noexcept nogil:
    """Rows i = 0..N-1 (row strides in bytes, element strides in elements). labels[i] < 0:
    an ignored row (results 0). Returns the number of NaN rows. stop: see fi_poll."""
    cdef Py_ssize_t i, nbad = 0, lab = 0
    cdef int nt = _effective_threads(N * K, n_threads)
    if nt > 1 and N >= nt:
        for i in prange(N, num_threads=nt, schedule='static', chunksize=_rows_chunk(K)):
            if fi_poll_rows(stop, i, K):
                continue
            lab = labels[i] if labels != NULL else 0
            _logit_one(kind, xb, xrs, xs, yb, yrs, ys, lab, ob, ors, os, K, res, res2, g, i, stop)
            if res[i] != res[i]:
                nbad += 1
    else:
        for i in range(N):
            if fi_poll_rows(stop, i, K):
                break
            lab = labels[i] if labels != NULL else 0
            _logit_one(kind, xb, xrs, xs, yb, yrs, ys, lab, ob, ors, os, K, res, res2, g, i, stop)
            if res[i] != res[i]:
                nbad += 1
    return nbad


cdef inline void _logit_one(const real* kind, const char* xb, Py_ssize_t xrs, Py_ssize_t xs,
                            const char* yb, Py_ssize_t yrs, Py_ssize_t ys, Py_ssize_t lab,
                            char* ob, Py_ssize_t ors, Py_ssize_t os, Py_ssize_t K,
                            double* res, double* res2, LogitArgs* g, Py_ssize_t i,
                            fi_stop_t* stop) noexcept nogil:
    """Row i (lab < 0: an ignored row, results 0)."""
    cdef double dummy = 0.0
    if lab < 0:
        res[i] = 0.0
        if g.smooth:
            res2[i] = 0.0
        return
    _logit_row_any(<const real*>(xb + i * xrs), xs, <const real*>(yb + i * yrs), ys, lab,
                   <real*>(ob + i * ors), os, K, g, &res[i], &res2[i] if g.smooth else &dummy, stop)


def logit_rows(int op, const real[:, :] x, const real[:, :] y, const long long[::1] labels,
               real[:, :] o, double[::1] res, double[::1] res2, const double[::1] wt,
               double scale, double label_smoothing, int n_threads):
    """Rows of op (L_* codes, see LOGIT_OPS) over 2-D strided views.

    x: logits (N, K); y: second logits (KL, JS) or soft targets (CE_SOFT), else
    pass x; labels: int64 (N,) for CE_LABEL (negative = ignored), else empty;
    o: (N, K) output for SOFTMAX / LOG_SOFTMAX, else pass a (1, 1) dummy;
    res: (N,) results; res2: (N,) smoothing sums (CE_LABEL with smoothing), else
    empty; wt: class weights (K,) for smoothing / soft targets, else empty.
    Returns the number of NaN (invalid) rows.
    """
    cdef LogitArgs g
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1], nbad
    cdef const long long* lp = NULL
    cdef const char* yb
    cdef char* ob
    if y.shape[0] != N or y.shape[1] != K:
        raise ValueError(f"x and y must have the same 2-D shape, got {(N, K)} and {(y.shape[0], y.shape[1])}")
    if res.shape[0] != N:
        raise ValueError(f"res must have length {N}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if op < L_LSE or op > L_LOG_SOFTMAX:
        raise ValueError(f"unknown op {op}")
    if op == L_CE_LABEL:
        if labels.shape[0] != N:
            raise ValueError(f"labels must have length {N}")
        for i in range(N):
            if labels[i] >= K:
                raise IndexError(f"label {labels[i]} out of range for {K} classes at row {i}")
        if N:
            lp = &labels[0]
    g.op = op
    g.scale = scale
    g.smooth = op == L_CE_LABEL and label_smoothing > 0
    g.c1 = 1.0 - label_smoothing
    g.c0 = label_smoothing / K if K else 0.0
    g.wt = NULL
    if g.smooth or op == L_CE_SOFT:
        if wt.shape[0] != K:
            raise ValueError(f"wt must have length {K}")
        if K:
            g.wt = &wt[0]
    if g.smooth and res2.shape[0] != N:
        raise ValueError(f"res2 must have length {N}")
    if op == L_SOFTMAX or op == L_LOG_SOFTMAX:
        if o.shape[0] != N or o.shape[1] != K:
            raise ValueError(f"o must have shape {(N, K)}")
    if N == 0:
        return 0
    if K == 0:
        yb = NULL
        ob = NULL
        with nogil:
            nbad = _logit_driver(<const real*>NULL, NULL, 0, 1, NULL, 0, 1, lp, NULL, 0, 1, N, 0,
                                 &res[0], &res2[0] if g.smooth else NULL, &g, n_threads, NULL)
        return nbad
    ob = <char*>&o[0, 0]
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    with nogil:
        nbad = _logit_driver(<const real*>NULL, <const char*>&x[0, 0], x.strides[0],
                             x.strides[1] // <Py_ssize_t>sizeof(real),
                             <const char*>&y[0, 0], y.strides[0], y.strides[1] // <Py_ssize_t>sizeof(real),
                             lp, ob, o.strides[0], o.strides[1] // <Py_ssize_t>sizeof(real), N, K,
                             &res[0], &res2[0] if g.smooth else NULL, &g, n_threads, stop)
    fi_stop_raise(stop)
    return nbad


LOGIT_OPS = {"logsumexp": L_LSE, "softmax_entropy": L_ENTROPY, "ce_label": L_CE_LABEL,
             "ce_soft": L_CE_SOFT, "softmax_kl_divergence": L_KL, "softmax_js_divergence": L_JS,
             "softmax": L_SOFTMAX, "log_softmax": L_LOG_SOFTMAX}
