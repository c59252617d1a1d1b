# Logit-space kernels: log-sum-exp, softmax, and the measures of softmax(x/T), fused so that
# no N x K softmax is ever written (included by _kernels.pxi). The row is the row engine's
# (_fi_rows.h, _fi_logits.h: the passes, the accuracy of small results, -inf masks, 2-byte logits);
# this file runs rows over threads and answers Ctrl-C. Rows are split over threads with
# prange(schedule='static'): results do not depend on threads.

cdef extern from "_fi_rows.h" nogil:
    enum:
        L_LSE "FI_L_LSE"
        L_ENTROPY "FI_L_ENTROPY"
        L_CE_LABEL "FI_L_CE_LABEL"        # nll; with smoothing also the smoothing sum (res2)
        L_CE_SOFT "FI_L_CE_SOFT"
        L_KL "FI_L_KL"
        L_JS "FI_L_JS"
        L_SOFTMAX "FI_L_SOFTMAX"
        L_LOG_SOFTMAX "FI_L_LOG_SOFTMAX"
        L_STATS "FI_L_STATS"              # softmax_stats: ST_N + 2k results a row
        L_TV "FI_L_TV"                    # total variation of two rows' softmaxes
        ST_N "FI_ST_N"
        WANT_ENT "FI_WANT_ENT"
        WANT_ORDER "FI_WANT_ORDER"
        WANT_RANK "FI_WANT_RANK"
        LSE_NONE "FI_LSE_NONE"
        LSE_SAVE "FI_LSE_SAVE"
        LSE_FROM "FI_LSE_FROM"
    ctypedef struct fi_logit_args:
        int op
        double scale        # 1/T
        double c1           # 1 - label_smoothing
        double c0           # label_smoothing / K
        int smooth          # L_CE_LABEL: also the smoothing sum
        const double* wt    # class weights (length K) for smoothing / soft targets, and the gradient
        int grad            # L_CE_LABEL / L_CE_SOFT: also the gradient (to o; res holds the row factors)
        int lse_mode        # LSE_SAVE: each row's normalizers to lse (2 a row); LSE_FROM: the gradient from them
        int vjp             # CE_SOFT with grad: y is an upstream gradient (log_softmax's vector-Jacobian product)
        int wunit           # the gradient: every class weight 1
        double wsum         # the gradient: the sum of the class weights
        Py_ssize_t k        # L_STATS: the top k
        int want            # L_STATS: WANT_* flags
        Py_ssize_t pfx      # elements from a row of x to the next one the thread reads (0: none)
        Py_ssize_t pfy      # the same for y
    ctypedef struct fi_row_carry:
        Py_ssize_t nxt      # elements to the next row this thread reads, 0: none (set before each row)
    void fi_logit_row(int fmt, const void* x, Py_ssize_t xs, const void* y, Py_ssize_t ys, Py_ssize_t label,
                      void* o, Py_ssize_t os, Py_ssize_t n, const fi_logit_args* g, double* res, double* res2,
                      double* lse, fi_row_carry* cy, fi_stop_t* stop) noexcept
    int fi_pf_head4, fi_pf_rest4
    void fi_prefetch_init()
    Py_ssize_t fi_gh_rows(int fmt, const void* x, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t n, Py_ssize_t K,
                          const long long* lab, const double* sw, double hfac, double gamma, double hfloor,
                          void* go,
                          Py_ssize_t grs, Py_ssize_t gcs, void* ho, Py_ssize_t hrs, Py_ssize_t hcs, int o64,
                          void* buf, Py_ssize_t bufbytes, unsigned char* bad, int stream) noexcept

fi_prefetch_init()      # the next-row prefetch plan of this CPU (_fi_logits.h), at import


def prefetch_plan():
    """The next-row prefetch plan of 4- and 8-byte logit rows that do not carry the next row's
    maximum, in quarters of a row: (in pass 1, in pass 2)."""
    return (fi_pf_head4, fi_pf_rest4)


cdef Py_ssize_t _logit_driver(int fmt, const char* xb, Py_ssize_t xrs, Py_ssize_t xs,
                              const char* yb, Py_ssize_t yrs, Py_ssize_t ys, const long long* labels,
                              char* ob, Py_ssize_t ors, Py_ssize_t os, Py_ssize_t N, Py_ssize_t K,
                              double* res, double* res2, double* lse, fi_logit_args* g, int n_threads,
                              fi_stop_t* stop) noexcept nogil:
    """Rows i = 0..N-1 of logits stored as fmt (row strides in bytes, element strides in
    elements). labels[i] < 0: an ignored row (results 0). Returns the number of NaN rows."""
    cdef Py_ssize_t i, nbad = 0, size = fi_fmt_size(fmt), chunk = _rows_chunk(K)
    cdef int nt = _effective_threads(N * K, n_threads)
    cdef bint par = nt > 1 and N >= nt
    cdef Py_ssize_t stride = ST_N + 2 * g.k if g.op == L_STATS else 1     # of res, a row
    # a thread's next row: nt rows on when the threads take single rows in turn
    cdef Py_ssize_t step = nt if par and chunk == 1 else 1
    # two carries a thread: x's rows and y's (KL, JS)
    cdef fi_row_carry* carry = <fi_row_carry*>calloc(2 * (nt if par else 1), sizeof(fi_row_carry))
    g.pfx = step * (xrs // size) if xs == 1 and xrs % size == 0 and N > 1 else 0
    g.pfy = step * (yrs // size) if ys == 1 and yrs % size == 0 and N > 1 else 0
    if par:
        for i in prange(N, num_threads=nt, schedule='static', chunksize=chunk):
            if fi_poll_rows(stop, i, K):
                continue
            _logit_one(fmt, xb, xrs, xs, yb, yrs, ys, labels, ob, ors, os, K, res, res2, lse, g, i,
                       _next_row(carry, threadid(), g, i, step, chunk, N, labels), stop)
            if res[i * stride] != res[i * stride]:
                nbad += 1
    else:
        for i in range(N):
            if fi_poll_rows(stop, i, K):
                break
            _logit_one(fmt, xb, xrs, xs, yb, yrs, ys, labels, ob, ors, os, K, res, res2, lse, g, i,
                       _next_row(carry, 0, g, i, 1, N, N, labels), stop)
            if res[i * stride] != res[i * stride]:
                nbad += 1
    free(carry)
    return nbad


cdef inline fi_row_carry* _next_row(fi_row_carry* carry, int t, const fi_logit_args* g, Py_ssize_t i,
                                    Py_ssize_t step, Py_ssize_t chunk, Py_ssize_t N,
                                    const long long* labels) noexcept nogil:
    """Thread t's two carries (x's, y's; NULL when none could be allocated), told whether row
    i + step, g.pfx (g.pfy) elements on, is the next row the thread reads: it is unless row i
    ends the thread's chunk (prange's static schedule deals chunks of `chunk` rows in turn) or
    the batch, or row i + step is left out (its label below -1 for softmax_stats, below 0 for
    the other ops), which is never read, not even for its maximum."""
    cdef bint more = i + step < N and (step > 1 or (i + 1) % chunk != 0)
    if more and labels != NULL:
        more = labels[i + step] >= (-1 if g.op == L_STATS else 0)
    if carry == NULL:
        return NULL
    carry[2 * t].nxt = g.pfx if more else 0
    carry[2 * t + 1].nxt = g.pfy if more else 0
    return &carry[2 * t]


cdef inline void _logit_one(int fmt, const char* xb, Py_ssize_t xrs, Py_ssize_t xs,
                            const char* yb, Py_ssize_t yrs, Py_ssize_t ys, const long long* labels,
                            char* ob, Py_ssize_t ors, Py_ssize_t os, Py_ssize_t K,
                            double* res, double* res2, double* lse, fi_logit_args* g, Py_ssize_t i,
                            fi_row_carry* cy, fi_stop_t* stop) noexcept nogil:
    """Row i (a negative label: an ignored row, results 0)."""
    cdef double dummy = 0.0
    cdef Py_ssize_t lab = labels[i] if labels != NULL else 0
    if g.op == L_STATS:     # every row, its results ST_N + 2k apart (labels: -1 none, -2 left out)
        fi_logit_row(fmt, xb + i * xrs, xs, xb, xs, lab if labels != NULL else -1, NULL, 1, K, g,
                     &res[i * (ST_N + 2 * g.k)], &dummy, NULL, cy, stop)
        return
    if lab < 0:
        res[i] = 0.0
        if g.smooth:
            res2[i] = 0.0
        if g.grad:          # an ignored row's gradient is 0
            _zero_row(fmt, ob + i * ors, os, K)
        return
    fi_logit_row(fmt, xb + i * xrs, xs, yb + i * yrs, ys, lab, ob + i * ors if ob != NULL else NULL, os, K,
                 g, &res[i], &res2[i] if g.smooth else &dummy, &lse[2 * i] if lse != NULL else NULL, cy, stop)


cdef inline void _zero_row(int fmt, char* o, Py_ssize_t os, Py_ssize_t K) noexcept nogil:
    """K zeros written to an output row (float64 for float64 logits, else float32)."""
    cdef Py_ssize_t j
    if fmt == FI_FMT_F64:
        for j in range(K):
            (<double*>o)[j * os] = 0.0
    else:
        for j in range(K):
            (<float*>o)[j * os] = 0.0


cdef int _logit_fmt(cnp.ndarray a) noexcept:
    """The storage format of a logit array (-1: not one the kernels read): float64, float32,
    float16, or a 2-byte dtype named bfloat16 (ml_dtypes')."""
    cdef int t = cnp.PyArray_TYPE(a)
    if t == cnp.NPY_DOUBLE:
        return FI_FMT_F64
    if t == cnp.NPY_FLOAT:
        return FI_FMT_F32
    if t == cnp.NPY_FLOAT16:
        return FI_FMT_F16
    if _is_bf16(a):
        return FI_FMT_BF16
    return -1


def logit_rows(int op, int fmt, cnp.ndarray x, cnp.ndarray y, const long long[::1] labels,
               cnp.ndarray o, double[::1] res, double[::1] res2, const double[::1] wt,
               double scale, double label_smoothing, int n_threads, bint grad=False,
               double[:, ::1] lse=None, int lse_mode=0, bint vjp=False):
    """Rows of op (L_* codes, see LOGIT_OPS) over 2-D strided arrays of logits stored as fmt
    (FMT: float64, float32, bfloat16, float16; 2-byte logits may come as uint16 views).

    x: logits (N, K); y: second logits (KL, JS, TV) or soft targets (CE_SOFT) of x's format, else
    pass x; labels: int64 (N,) for CE_LABEL (negative = ignored), for the other ops (but
    SOFTMAX, LOG_SOFTMAX) a row mask (negative = left out, not read; else 0) or empty;
    o: (N, K) output for SOFTMAX / LOG_SOFTMAX (float64 for float64 logits, else float32),
    else None; res: (N,) results; res2: (N,) smoothing sums (CE_LABEL with smoothing), else
    empty; wt: class weights (K,) for smoothing / soft targets, else empty.
    vjp (CE_SOFT with grad): y holds upstream gradients u (any finite values), and the gradient
    written is log_softmax's vector-Jacobian product (u - p sum u) / T for a row factor -1/T.
    grad (CE_LABEL, CE_SOFT, KL, LSE: softmax times the factor): o (as for SOFTMAX; it may be x
    itself, for KL y) also gets the
    gradient of each row's result with respect to x (KL: to y), times res[i] on entry (the row's
    factor: its upstream gradient, 1/T and the reduction's and base's scales); an
    ignored row's is 0, an invalid row's NaN. wt is then required for the cross-entropies (ones
    without class weights).
    lse (N, 2), lse_mode: LSE_SAVE (CE_LABEL, CE_SOFT, KL) writes each row's normalizers
    there (the cross-entropies: log-sum-exp of x/T and, soft targets, the sum b of the weighted
    smoothed targets; KL: x's and y's log-sum-exps; NaN for an invalid row); LSE_FROM (with
    grad) reads them and writes the gradient only (res: 0), the passes over the row that find
    them skipped.
    Returns the number of NaN (invalid) rows.
    """
    cdef fi_logit_args g
    cdef Py_ssize_t N, K, nbad, i, isz, osz = 0
    cdef const long long* lp = NULL
    cdef char* ob = NULL
    cdef Py_ssize_t ors = 0, os = 1
    if fmt < FI_FMT_F64 or fmt > FI_FMT_F16:
        raise ValueError(f"unknown storage format {fmt}")
    isz = 8 if fmt == FI_FMT_F64 else (4 if fmt == FI_FMT_F32 else 2)
    for a, name in ((x, "x"), (y, "y")):
        if cnp.PyArray_NDIM(<cnp.ndarray>a) != 2 or cnp.PyArray_ITEMSIZE(<cnp.ndarray>a) != isz:
            raise ValueError(f"{name} must be 2-D with {isz}-byte elements")
        if cnp.PyArray_STRIDE(<cnp.ndarray>a, 1) % isz or cnp.PyArray_STRIDE(<cnp.ndarray>a, 0) % isz:
            raise ValueError(f"{name} must have strides that are multiples of its element size")
    N = cnp.PyArray_DIM(x, 0)
    K = cnp.PyArray_DIM(x, 1)
    if cnp.PyArray_DIM(y, 0) != N or cnp.PyArray_DIM(y, 1) != K:
        raise ValueError(f"x and y must have the same 2-D shape, got {(N, K)} and {(y.shape[0], y.shape[1])}")
    if res.shape[0] != N:
        raise ValueError(f"res must have length {N}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if (op < L_LSE or op > L_LOG_SOFTMAX) and op != L_TV:
        raise ValueError(f"unknown op {op}")
    if op == L_CE_LABEL:
        if labels.shape[0] != N:
            raise ValueError(f"labels must have length {N}")
        for i in range(N):
            if labels[i] >= K:
                raise IndexError(f"label {labels[i]} out of range for {K} classes at row {i}")
        if N:
            lp = &labels[0]
    elif labels.shape[0]:       # the other ops: a row mask (negative: the row is left out, result 0)
        if labels.shape[0] != N:
            raise ValueError(f"labels must have length {N}")
        if op == L_SOFTMAX or op == L_LOG_SOFTMAX:
            raise ValueError("softmax and log_softmax write every row: no row mask")
        lp = &labels[0]
    g.op = op
    g.scale = scale
    g.smooth = op == L_CE_LABEL and label_smoothing > 0
    g.c1 = 1.0 - label_smoothing
    g.c0 = label_smoothing / K if K else 0.0
    g.wt = NULL
    g.k = 0
    g.want = 0
    g.grad = grad
    g.lse_mode = lse_mode
    if lse_mode != LSE_NONE:
        if op != L_CE_LABEL and op != L_CE_SOFT and op != L_KL:
            raise ValueError("lse applies to the cross-entropy ops and KL only")
        if lse is None or lse.shape[0] != N or lse.shape[1] != 2:
            raise ValueError(f"lse must be a float64 array of shape {(N, 2)}")
        if lse_mode == LSE_FROM and not grad:
            raise ValueError("lse_mode LSE_FROM writes the gradient: pass grad=True")
    g.wunit = True
    g.wsum = 0.0
    if grad and op != L_CE_LABEL and op != L_CE_SOFT and op != L_KL and op != L_LSE:
        raise ValueError("grad applies to the cross-entropy ops, KL and LSE only")
    if vjp and not (grad and op == L_CE_SOFT):
        raise ValueError("vjp applies to CE_SOFT with grad")
    g.vjp = vjp
    if g.smooth or op == L_CE_SOFT or (grad and op != L_KL and op != L_LSE):
        if wt.shape[0] != K:
            raise ValueError(f"wt must have length {K}")
        if K:
            g.wt = &wt[0]
        for i in range(K):
            g.wsum += wt[i]
            g.wunit = g.wunit and wt[i] == 1.0
    if g.smooth and res2.shape[0] != N:
        raise ValueError(f"res2 must have length {N}")
    if op == L_SOFTMAX or op == L_LOG_SOFTMAX or grad:
        osz = 8 if fmt == FI_FMT_F64 else 4
        if (o is None or cnp.PyArray_NDIM(o) != 2 or cnp.PyArray_DIM(o, 0) != N or cnp.PyArray_DIM(o, 1) != K
                or cnp.PyArray_TYPE(o) != (cnp.NPY_DOUBLE if osz == 8 else cnp.NPY_FLOAT)
                or not cnp.PyArray_ISWRITEABLE(o) or cnp.PyArray_STRIDE(o, 1) % osz
                or cnp.PyArray_STRIDE(o, 0) % osz):
            raise ValueError(f"o must be a writeable {'float64' if osz == 8 else 'float32'} array of shape {(N, K)}")
        ob = <char*>cnp.PyArray_DATA(o)
        ors = cnp.PyArray_STRIDE(o, 0)
        os = cnp.PyArray_STRIDE(o, 1) // osz
    if N == 0:
        return 0
    cdef const char* xb = <const char*>cnp.PyArray_DATA(x)
    cdef const char* yb = <const char*>cnp.PyArray_DATA(y)
    cdef Py_ssize_t xrs = cnp.PyArray_STRIDE(x, 0), xs = cnp.PyArray_STRIDE(x, 1) // isz
    cdef Py_ssize_t yrs = cnp.PyArray_STRIDE(y, 0), ys = cnp.PyArray_STRIDE(y, 1) // isz
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    with nogil:
        nbad = _logit_driver(fmt, xb, xrs, xs, yb, yrs, ys, lp, ob, ors, os, N, K,
                             &res[0], &res2[0] if g.smooth else NULL, &lse[0, 0] if lse_mode else NULL, &g,
                             n_threads, stop)
    fi_stop_raise(stop)
    return nbad


def stats_rows(int fmt, cnp.ndarray x, const long long[::1] labels, double[:, ::1] res, Py_ssize_t k,
               bint entropy, bint order, bint rank, double scale, int n_threads):
    """softmax_stats over the rows of x, (N, K) logits stored as fmt: res (N, STATS_FIELDS + 2k)
    gets each row's results (STATS_FIELDS: lse, entropy, nll, max_prob, argmax, rank), its top
    k's log-probs and their indices. labels: int64 (N,), -1 for none, -2 for a row left out, or
    empty (no labels). entropy / order / rank: whether the entropy, the order pass (argmax, top
    k) and the label's rank are wanted. Returns the number of rows with NaN results (invalid,
    or left out)."""
    cdef fi_logit_args g
    cdef Py_ssize_t N, K, i, nbad, isz
    cdef const long long* lp = NULL
    if fmt < FI_FMT_F64 or fmt > FI_FMT_F16:
        raise ValueError(f"unknown storage format {fmt}")
    isz = 8 if fmt == FI_FMT_F64 else (4 if fmt == FI_FMT_F32 else 2)
    if (cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_ITEMSIZE(x) != isz or cnp.PyArray_STRIDE(x, 1) % isz
            or cnp.PyArray_STRIDE(x, 0) % isz):
        raise ValueError(f"x must be 2-D with {isz}-byte elements and strides that are multiples of them")
    N = cnp.PyArray_DIM(x, 0)
    K = cnp.PyArray_DIM(x, 1)
    if k < 0 or k > K:
        raise ValueError(f"k must be in [0, {K}], got {k}")
    if res.shape[0] != N or res.shape[1] != ST_N + 2 * k:
        raise ValueError(f"res must have shape {(N, ST_N + 2 * k)}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if labels.shape[0]:
        if labels.shape[0] != N:
            raise ValueError(f"labels must have length {N}")
        for i in range(N):
            if labels[i] >= K or labels[i] < -2:
                raise IndexError(f"label {labels[i]} out of range for {K} classes at row {i}")
        lp = &labels[0]
    g.op = L_STATS
    g.scale = scale
    g.c1 = 1.0
    g.c0 = 0.0
    g.smooth = False
    g.wt = NULL
    g.k = k
    g.grad = 0
    g.lse_mode = LSE_NONE
    g.vjp = 0
    g.want = (WANT_ENT if entropy else 0) | (WANT_ORDER if order else 0) | (WANT_RANK if rank else 0)
    if N == 0:
        return 0
    cdef const char* xb = <const char*>cnp.PyArray_DATA(x)
    cdef Py_ssize_t xrs = cnp.PyArray_STRIDE(x, 0), xs = cnp.PyArray_STRIDE(x, 1) // isz
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    with nogil:
        nbad = _logit_driver(fmt, xb, xrs, xs, xb, xrs, xs, lp, NULL, 0, 1, N, K,
                             &res[0, 0], NULL, NULL, &g, n_threads, stop)
    fi_stop_raise(stop)
    return nbad


cdef enum:
    GH_ROWS = 256       # rows a call of fi_gh_rows: the unit of threads and of Ctrl-C polling
    GH_STREAM_BYTES = 64 * 1024 * 1024      # the gradient and Hessian beyond it are streamed
    GH_CHUNK_BYTES = 1024 * 1024    # a thread's buffer for column-major rows a chunk at a time


def grad_hess_rows(int fmt, cnp.ndarray x, const long long[::1] labels, const double[::1] sw,
                   cnp.ndarray go, cnp.ndarray ho, double hfac, double gamma, int n_threads,
                   unsigned char[::1] bad, double hfloor=-INFINITY):
    """The softmax cross-entropy's (gamma = 0) or focal loss's gradient and diagonal Hessian with
    respect to x, (N, K) logits stored as fmt (any strides), to go and ho (N, K; float64 or
    float32, any strides; never x): labels int64 (N,) in [0, K) (the caller's check: the kernel
    only compares them with class indices, so one out of range would give its row a wrong
    gradient, never a read or a write out of bounds), sample weights sw (N,) or
    empty, hfac the Hessian's factor (gamma = 0). bad (N,) gets 1 for an invalid row (a NaN or
    +inf logit, or every logit -inf; its g and h are NaN). Rows go a vector's width at a time,
    a row a lane (fi_gh_rows), in chunks of GH_ROWS rows over the threads. Returns the number
    of invalid rows."""
    cdef Py_ssize_t N, K, isz, osz, nb, b, lo, bufbytes, nbad = 0
    cdef int o64, nt, stream
    cdef const long long* lp
    cdef const double* swp = NULL
    cdef char* buf
    if fmt < FI_FMT_F64 or fmt > FI_FMT_F16:
        raise ValueError(f"unknown storage format {fmt}")
    isz = 8 if fmt == FI_FMT_F64 else (4 if fmt == FI_FMT_F32 else 2)
    if (cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_ITEMSIZE(x) != isz or cnp.PyArray_STRIDE(x, 1) % isz
            or cnp.PyArray_STRIDE(x, 0) % isz):
        raise ValueError(f"x must be 2-D with {isz}-byte elements and strides that are multiples of them")
    N = cnp.PyArray_DIM(x, 0)
    K = cnp.PyArray_DIM(x, 1)
    o64 = cnp.PyArray_TYPE(go) == cnp.NPY_DOUBLE
    osz = 8 if o64 else 4
    for a, name in ((go, "go"), (ho, "ho")):
        if (cnp.PyArray_NDIM(<cnp.ndarray>a) != 2 or cnp.PyArray_DIM(<cnp.ndarray>a, 0) != N
                or cnp.PyArray_DIM(<cnp.ndarray>a, 1) != K
                or cnp.PyArray_TYPE(<cnp.ndarray>a) != (cnp.NPY_DOUBLE if o64 else cnp.NPY_FLOAT)
                or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a)
                or cnp.PyArray_STRIDE(<cnp.ndarray>a, 0) % osz or cnp.PyArray_STRIDE(<cnp.ndarray>a, 1) % osz):
            raise ValueError(f"{name} must be a writeable float64 or float32 array of shape {(N, K)}, "
                             f"both of one dtype")
    if labels.shape[0] != N or bad.shape[0] != N or (sw.shape[0] and sw.shape[0] != N):
        raise ValueError(f"labels, bad (and sw) must have length {N}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if N == 0 or K == 0:
        return 0
    lp = &labels[0]
    if sw.shape[0]:
        swp = &sw[0]
    cdef const char* xb = <const char*>cnp.PyArray_DATA(x)
    cdef char* gb = <char*>cnp.PyArray_DATA(go)
    cdef char* hb = <char*>cnp.PyArray_DATA(ho)
    cdef Py_ssize_t xrs = cnp.PyArray_STRIDE(x, 0) // isz, xcs = cnp.PyArray_STRIDE(x, 1) // isz
    cdef Py_ssize_t grs = cnp.PyArray_STRIDE(go, 0) // osz, gcs = cnp.PyArray_STRIDE(go, 1) // osz
    cdef Py_ssize_t hrs = cnp.PyArray_STRIDE(ho, 0) // osz, hcs = cnp.PyArray_STRIDE(ho, 1) // osz
    # outputs larger than a last-level cache go past the caches (a store would first read them in)
    stream = 2 * N * K * osz > GH_STREAM_BYTES
    # chunks of GH_ROWS rows (a multiple of every vector width), dealt to the threads in turn
    nb = (N + GH_ROWS - 1) // GH_ROWS
    nt = _effective_threads(N * K * 4, n_threads)     # an exp and two stores per element
    if nt > nb:
        nt = <int>nb
    # a thread's buffer: a block of rows (2 K doubles a lane, 16 lanes at most), or, up to
    # GH_CHUNK_BYTES, a chunk of GH_ROWS column-major rows (K doubles a row; fi_gh_cols)
    bufbytes = 2 * K * 16 * sizeof(double)
    if K * GH_ROWS * sizeof(double) <= GH_CHUNK_BYTES:
        bufbytes = max(bufbytes, K * GH_ROWS * sizeof(double))
    buf = <char*>malloc(nt * bufbytes)
    if buf == NULL:
        raise MemoryError()
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    with nogil:
        if nt > 1:
            for b in prange(nb, num_threads=nt, schedule='static'):
                if fi_poll(stop, GH_ROWS * K):
                    continue
                lo = b * GH_ROWS
                nbad += fi_gh_rows(fmt, xb + lo * xrs * isz, xrs, xcs, min(GH_ROWS, N - lo), K, lp + lo,
                                   swp + lo if swp != NULL else NULL, hfac, gamma, hfloor, gb + lo * grs * osz,
                                   grs, gcs, hb + lo * hrs * osz, hrs, hcs, o64, buf + threadid() * bufbytes,
                                   bufbytes, &bad[lo], stream)
        else:
            for b in range(nb):
                if fi_poll(stop, GH_ROWS * K):
                    break
                lo = b * GH_ROWS
                nbad += fi_gh_rows(fmt, xb + lo * xrs * isz, xrs, xcs, min(GH_ROWS, N - lo), K, lp + lo,
                                   swp + lo if swp != NULL else NULL, hfac, gamma, hfloor, gb + lo * grs * osz,
                                   grs, gcs, hb + lo * hrs * osz, hrs, hcs, o64, buf, bufbytes, &bad[lo], stream)
    free(buf)
    fi_stop_raise(stop)
    return nbad


STATS_FIELDS = ST_N

LOGIT_OPS = {"logsumexp": L_LSE, "softmax_entropy": L_ENTROPY, "ce_label": L_CE_LABEL,
             "ce_soft": L_CE_SOFT, "softmax_kl_divergence": L_KL, "softmax_js_divergence": L_JS,
             "softmax": L_SOFTMAX, "log_softmax": L_LOG_SOFTMAX, "softmax_total_variation": L_TV}
LSE_MODES = {"none": LSE_NONE, "save": LSE_SAVE, "from": LSE_FROM}
LOGIT_FORMATS = {"float64": FI_FMT_F64, "float32": FI_FMT_F32, "bfloat16": FI_FMT_BF16, "float16": FI_FMT_F16}


# --- fronts (see _kernels.pxi): plain small calls of the logit functions ---------------
cdef object _logit_front(int op, object x, object y, object label, object ignore_index, object temperature,
                         object reduction, object axis, object base, object keepdims, object invalid,
                         object out, object n_threads):
    """The result of one plain call, or None (see the fronts of _kernels.pxi)."""
    cdef double lb = _front_log_base(base)
    cdef int nt = _front_threads(n_threads)
    cdef int nm = _front_invalid(invalid)
    cdef int red, nd, typenum, lt, fmt
    cdef bint single
    cdef Py_ssize_t N, K, i, nbad = 0, kept = 0
    cdef long long ign = 0, v
    cdef bint has_ign = False
    cdef double t, scale
    cdef fi_logit_args g
    cdef long long* lab = NULL
    cdef const char* ld = NULL
    cdef cnp.ndarray xa, ya, o = None, res
    cdef char* ob = NULL
    cdef double total
    if lb == 0.0 or nt == 0 or nm < 0 or out is not None or keepdims is not False:
        return None
    if type(reduction) is not str:
        return None
    red = 0 if reduction == "none" else (1 if reduction == "sum" else (2 if reduction == "mean" else -1))
    if red < 0 or not cnp.PyArray_CheckExact(x):
        return None
    xa = <cnp.ndarray>x
    nd = cnp.PyArray_NDIM(xa)
    fmt = _logit_fmt(xa)
    if fmt < 0 or not (nd == 1 or nd == 2) or not cnp.PyArray_ISCARRAY_RO(xa):
        return None
    if type(axis) is not int or not (axis == -1 or axis == nd - 1):
        return None
    typenum = cnp.PyArray_TYPE(xa)
    single = fmt != FI_FMT_F64             # float32 results (2-byte logits compute in float32)
    K = cnp.PyArray_DIM(xa, nd - 1)
    N = cnp.PyArray_DIM(xa, 0) if nd == 2 else 1
    if K == 0 or N == 0:
        return None
    if not (type(temperature) is float or type(temperature) is int):
        return None
    try:
        t = temperature
    except OverflowError:
        return None
    if not (t > 0.0 and t <= (FLT_MAX if single else DBL_MAX) and 1.0 / t <= (FLT_MAX if single else DBL_MAX)):
        return None
    scale = 1.0 / t
    ya = xa
    if op == L_KL or op == L_JS:
        if not cnp.PyArray_CheckExact(y) or not cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>y):
            return None
        ya = <cnp.ndarray>y
        if (cnp.PyArray_NDIM(ya) != nd or cnp.PyArray_TYPE(ya) != typenum or cnp.PyArray_DIM(ya, nd - 1) != K
                or cnp.PyArray_DIM(ya, 0) != cnp.PyArray_DIM(xa, 0)):
            return None
    if op == L_CE_LABEL:
        if ignore_index is not None:
            if type(ignore_index) is not int:
                return None
            try:
                ign = ignore_index
            except OverflowError:
                return None
            has_ign = True
        if nd == 2:
            if not cnp.PyArray_CheckExact(label):
                return None
            lt = cnp.PyArray_TYPE(<cnp.ndarray>label)
            if (cnp.PyArray_NDIM(<cnp.ndarray>label) != 1 or cnp.PyArray_DIM(<cnp.ndarray>label, 0) != N
                    or not cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>label)
                    or not (lt == cnp.NPY_INT64 or lt == cnp.NPY_INT32)):
                return None
            ld = <const char*>cnp.PyArray_DATA(<cnp.ndarray>label)
        elif type(label) is not int:
            return None
        lab = <long long*>malloc(N * sizeof(long long))
        if lab == NULL:
            return None
        for i in range(N):
            if nd == 1:
                try:
                    v = label
                except OverflowError:
                    free(lab)
                    return None
            elif lt == cnp.NPY_INT64:
                v = (<const long long*>ld)[i]
            else:
                v = (<const int*>ld)[i]
            if has_ign and v == ign:
                v = -1                       # an ignored row (results 0)
            elif v < 0 or v >= K:
                free(lab)
                return None                  # the Python layer names the row
            else:
                kept += 1
            lab[i] = v
    g.op = op
    g.scale = scale
    g.smooth = False
    g.k = 0
    g.want = 0
    g.c1 = 1.0
    g.c0 = 0.0
    g.wt = NULL
    g.grad = 0
    g.lse_mode = LSE_NONE
    g.vjp = 0
    if op == L_SOFTMAX or op == L_LOG_SOFTMAX:
        o = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(xa), cnp.NPY_FLOAT if single else cnp.NPY_DOUBLE, 0)
        ob = <char*>cnp.PyArray_DATA(o)
    res = cnp.PyArray_EMPTY(1, [N], cnp.NPY_DOUBLE, 0)
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(xa)
    cdef const char* xd = <const char*>cnp.PyArray_DATA(xa)
    cdef const char* yd = <const char*>cnp.PyArray_DATA(ya)
    cdef double* rd = <double*>cnp.PyArray_DATA(res)
    with nogil:
        nbad = _logit_driver(fmt, xd, K * isz, 1, yd, K * isz, 1, lab, ob, K * (4 if single else 8), 1, N, K,
                             rd, NULL, NULL, &g, nt, stop)
    free(lab)
    fi_stop_raise(stop)
    if nbad and not nm:
        return None                          # the Python layer names the invalid row
    if op == L_SOFTMAX or op == L_LOG_SOFTMAX:
        return o
    if lb != 1.0:
        for i in range(N):
            rd[i] = rd[i] / lb
    if red == 0:
        if single:
            res = res.astype(np.float32)
        return res[0] if nd == 1 else res
    try:
        total = math.fsum(res.tolist())
    except OverflowError:
        return None
    if red == 2:
        if op == L_CE_LABEL:
            total = total / kept if kept else NAN
        else:
            total = total / N
    return np.float32(total) if single else np.float64(total)


def logsumexp_front(x, *, axis=-1, keepdims=False, invalid="raise", out=None, n_threads=None):
    return _logit_front(L_LSE, x, None, None, None, 1.0, "none", axis, None, keepdims, invalid, out, n_threads)


def softmax_front(x, *, temperature=1.0, axis=-1, invalid="raise", out=None, n_threads=None):
    return _logit_front(L_SOFTMAX, x, None, None, None, temperature, "none", axis, None, False, invalid, out,
                        n_threads)


def log_softmax_front(x, *, temperature=1.0, axis=-1, invalid="raise", out=None, n_threads=None):
    return _logit_front(L_LOG_SOFTMAX, x, None, None, None, temperature, "none", axis, None, False, invalid,
                        out, n_threads)


def softmax_entropy_front(logits, *, temperature=1.0, axis=-1, base=None, keepdims=False, invalid="raise",
                          out=None, n_threads=None):
    return _logit_front(L_ENTROPY, logits, None, None, None, temperature, "none", axis, base, keepdims,
                        invalid, out, n_threads)


def softmax_cross_entropy_front(logits, target, *, temperature=1.0, label_smoothing=0.0, ignore_index=None,
                                weight=None, reduction="none", base=None, axis=-1, keepdims=False,
                                invalid="raise", out=None, n_threads=None):
    if weight is not None or not ((type(label_smoothing) is float or type(label_smoothing) is int)
                                  and label_smoothing == 0):
        return None
    return _logit_front(L_CE_LABEL, logits, None, target, ignore_index, temperature, reduction, axis, base,
                        keepdims, invalid, out, n_threads)


def softmax_kl_divergence_front(p_logits, q_logits, *, temperature=1.0, reduction="none", axis=-1, base=None,
                                keepdims=False, invalid="raise", out=None, n_threads=None):
    return _logit_front(L_KL, p_logits, q_logits, None, None, temperature, reduction, axis, base, keepdims,
                        invalid, out, n_threads)


def softmax_js_divergence_front(p_logits, q_logits, *, temperature=1.0, reduction="none", axis=-1, base=None,
                                keepdims=False, invalid="raise", out=None, n_threads=None):
    return _logit_front(L_JS, p_logits, q_logits, None, None, temperature, reduction, axis, base, keepdims,
                        invalid, out, n_threads)
