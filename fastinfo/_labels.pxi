# Label counting: contingency tables of two labelings and the mutual-information score
# straight from the labels (included by _core.pyx: integer work, compiled once).

def count_pairs(const long long[::1] cx, const long long[::1] cy, long long[:, ::1] out):
    """out[cx[i], cy[i]] += 1 for every i: the contingency table of two code arrays, one pass
    (codes already checked to lie in range by the caller)."""
    cdef Py_ssize_t i, i0, n = cx.shape[0]
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    if cy.shape[0] != n:
        raise ValueError("cx and cy must have the same length")
    with nogil:
        for i0 in range(0, n, 65536):
            if stop != NULL and fi_poll(stop, 65536):
                break
            for i in range(i0, min(n, i0 + 65536)):
                out[cx[i], cy[i]] += 1
    fi_stop_raise(stop)


ctypedef fused label_t:
    signed char
    unsigned char
    short
    unsigned short
    int
    unsigned int
    long long
    unsigned long long


def count_pairs_offset(const label_t[:] x, const label_t[:] y, label_t lox, label_t loy,
                       long long[:, ::1] out):
    """out[x[i] - lox, y[i] - loy] += 1 for every i: the contingency table of two integer label
    arrays straight from the labels, one pass, no code arrays (the caller took lox, loy as
    the minima and sized out by the ranges). The differences are taken modulo 2^64 on the
    labels converted to unsigned 64-bit (a signed label sign-extends first), which is the
    true, non-negative difference for every label type; a label outside the table (which
    the caller's minima rule out) is skipped, never written."""
    cdef Py_ssize_t i, i0, n = x.shape[0]
    cdef unsigned long long R = out.shape[0], C = out.shape[1], r, c
    cdef unsigned long long ux = <unsigned long long>lox, uy = <unsigned long long>loy
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    if y.shape[0] != n:
        raise ValueError("x and y must have the same length")
    with nogil:
        for i0 in range(0, n, 65536):
            if stop != NULL and fi_poll(stop, 65536):
                break
            for i in range(i0, min(n, i0 + 65536)):
                r = <unsigned long long>x[i] - ux
                c = <unsigned long long>y[i] - uy
                if r < R and c < C:
                    out[<Py_ssize_t>r, <Py_ssize_t>c] += 1
    fi_stop_raise(stop)


def label_scores_offset(const label_t[:] x, const label_t[:] y, label_t lox, label_t loy,
                        Py_ssize_t R, Py_ssize_t C, int n_threads):
    """(I(X;Y), H(X), H(Y)) in nats of two integer label arrays whose ranges span R x C values
    from (lox, loy) on, in one pass over the labels and a few over the table: the pairs are
    counted into int32 tables (one per thread, then added), the marginals summed from the
    table, and I = (1/N) sum n_ij (log n_ij + log N - log a_i - log b_j) over the nonzero cells
    (log n_ij from a table for small counts). None when the tables cannot be allocated, or
    when a label falls outside the ranges (the ranges were a guess: see _labels._scores)."""
    cdef Py_ssize_t n = x.shape[0], i, k, r, c, cells = R * C
    cdef int nt = n_threads
    cdef unsigned long long ux = <unsigned long long>lox, uy = <unsigned long long>loy, dr, dc
    cdef int* t
    cdef long long* a
    cdef long long* b
    cdef double* lb
    cdef double* lg
    cdef Py_ssize_t nlg, chunk, lo, hi, miss = 0
    cdef long long v, N = 0, av
    cdef double mi = 0.0, hx = 0.0, hy = 0.0, la, logN
    cdef double acc[8]
    cdef int tid
    if y.shape[0] != n:
        raise ValueError("x and y must have the same length")
    if n >= 2 ** 31 - 1 or R <= 0 or C <= 0:
        return None
    if nt > 1 and (n < 1 << 18 or cells * 4 * nt > 1 << 28):
        nt = 1                             # small work, or per-thread tables too large
    nt = fi_resolve_threads(nt)
    t = <int*>calloc(cells * nt, sizeof(int))
    a = <long long*>calloc(R, sizeof(long long))
    b = <long long*>calloc(C, sizeof(long long))
    nlg = min(n + 1, 4096)
    lg = <double*>malloc(nlg * sizeof(double))
    lb = <double*>malloc(C * sizeof(double))
    if t == NULL or a == NULL or b == NULL or lg == NULL or lb == NULL:
        free(t); free(a); free(b); free(lg); free(lb)
        return None
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    chunk = (n + nt - 1) // nt
    with nogil:
        if nt > 1:
            for tid in prange(nt, num_threads=nt, schedule='static'):
                miss += _count_labels(&x[0], &y[0], tid * chunk, min(n, (tid + 1) * chunk), ux, uy, R, C,
                                      t + tid * cells, stop)
        elif n:
            miss = _count_labels(&x[0], &y[0], 0, n, ux, uy, R, C, t, stop)
        if not miss:                       # (a label outside the ranges: the caller guessed them)
            for r in range(R):                 # the other threads' tables into the first's, and
                for c in range(C):             # the marginals, in one pass over the table
                    v = t[r * C + c]
                    for k in range(1, nt):
                        v += t[k * cells + r * C + c]
                    t[r * C + c] = <int>v
                    a[r] += v
                    b[c] += v
            for r in range(R):
                N += a[r]
            lg[0] = 0.0
            for k in range(1, nlg):
                lg[k] = log(<double>k)
            for c in range(C):
                lb[c] = log(<double>b[c]) if b[c] > 0 else 0.0
            if N > 0:
                logN = log(<double>N)
                for k in range(8):
                    acc[k] = 0.0
                for r in range(R):
                    if a[r] == 0:
                        continue
                    la = log(<double>a[r])
                    for c in range(C):
                        v = t[r * C + c]
                        if v:
                            acc[c & 7] += <double>v * (((lg[v] if v < nlg else log(<double>v)) + logN) - la - lb[c])
                mi = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
                mi = mi / <double>N
                for r in range(R):
                    if a[r] > 0:
                        hx -= (<double>a[r] / N) * log(<double>a[r] / N)
                for c in range(C):
                    if b[c] > 0:
                        hy -= (<double>b[c] / N) * log(<double>b[c] / N)
    free(t); free(a); free(b); free(lg); free(lb)
    fi_stop_raise(stop)
    if miss:
        return None
    return (mi if mi > 0.0 else 0.0), hx, hy


cdef Py_ssize_t _count_labels(const label_t* x, const label_t* y, Py_ssize_t lo, Py_ssize_t hi,
                              unsigned long long ux, unsigned long long uy, Py_ssize_t R, Py_ssize_t C,
                              int* t, fi_stop_t* stop) noexcept nogil:
    """Pairs lo..hi-1 into t (R x C); returns the number of pairs outside the ranges (skipped).
    (The marginals are summed from the table afterwards: three increments per pair ran at a
    third of the speed.)"""
    cdef Py_ssize_t i, i0, miss = 0
    cdef unsigned long long r, c
    for i0 in range(lo, hi, 65536):
        if stop != NULL and fi_poll(stop, 65536):
            break
        for i in range(i0, min(hi, i0 + 65536)):
            r = <unsigned long long>x[i] - ux
            c = <unsigned long long>y[i] - uy
            if r < <unsigned long long>R and c < <unsigned long long>C:
                t[r * C + c] += 1
            else:
                miss += 1
    return miss


def label_range(const label_t[:] x, int n_threads):
    """(min, max) of a non-empty 1-D integer label array in one pass (split over threads;
    Ctrl-C answered between chunks of 65 536)."""
    cdef Py_ssize_t n = x.shape[0], chunk, i, i0, lo, hi
    cdef int nt = n_threads, tid
    cdef label_t mn[64]
    cdef label_t mx[64]
    cdef label_t a, b, v
    if n == 0:
        raise ValueError("label_range of an empty array")
    if nt > 64:
        nt = 64
    if nt > 1 and n < 1 << 20:
        nt = 1
    nt = fi_resolve_threads(nt)
    chunk = (n + nt - 1) // nt
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    with nogil:
        for tid in prange(nt, num_threads=nt, schedule='static'):
            lo = tid * chunk
            hi = min(n, lo + chunk)
            a = x[lo if lo < n else 0]
            b = a
            for i0 in range(lo, hi, 65536):
                if stop != NULL and fi_poll(stop, 65536):
                    break
                for i in range(i0, min(hi, i0 + 65536)):
                    v = x[i]
                    a = v if v < a else a
                    b = v if v > b else b
            mn[tid] = a
            mx[tid] = b
    fi_stop_raise(stop)
    a = mn[0]
    b = mx[0]
    for tid in range(1, nt):
        a = mn[tid] if mn[tid] < a else a
        b = mx[tid] if mx[tid] > b else b
    return a, b
