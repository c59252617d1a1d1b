# k-nearest-neighbour estimators: the Kozachenko-Leonenko entropy and the
# Kraskov-Stoegbauer-Grassberger mutual information, on a compiled k-d tree.
#
# The tree: the points are copied once (row-major, n x d) and reordered in place so that
# every node is a contiguous range of rows; a node [s, e) splits at mid = s + (e - s) // 2
# along the dimension of largest spread (a quickselect with pseudo-random median-of-3
# pivots, deterministic), so the tree is balanced and implicit (children 2i+1, 2i+2; all
# leaves on the last level, at most KT_LEAF points each). Every node keeps the tight
# bounding box of its points. The levels are built one after the other, the nodes of a
# level in parallel (each node by one thread: the tree does not depend on the thread count).
#
# Queries run for every point of the tree, in tree order (neighbours in cache), split over
# threads in static chunks, each thread with its own heap and stack. A box is pruned when
# its lower distance bound is >= the current k-th distance; a count query adds whole boxes
# that lie inside the radius. The bounds are computed with the same floating-point
# operations as the point distances (differences, abs, max; squares summed in the same
# order), so for the Chebyshev metric (no multiplications) the counts are exact: a point is
# counted iff its computed distance satisfies the test, as in scikit-learn's KDTree. For
# squared Euclidean sums the compiler may contract c*c + s into an FMA differently in the
# two places (and per SIMD build), so a bound can exceed a point's distance by an ulp: a
# k-th distance may come out an ulp off, and radii agree across SIMD builds to ~1e-16.
#
# Ties at distance zero (duplicate points) are resolved in the drivers, see knn_radii and
# ksg_counts. Included by _core.pyx (after _spacing.pxi, whose _radix_sort it uses).

from libc.math cimport fabs

cdef enum:
    KNN_EUCLIDEAN = 0
    KNN_CHEBYSHEV = 1
    KT_LEAF = 16
    KT_STACK = 144          # > 2 * (max depth 63) + 2
    KT_SORTED_K = 12        # up to this k a sorted array, above it a binary heap

KNN_METRICS = {"euclidean": KNN_EUCLIDEAN, "chebyshev": KNN_CHEBYSHEV}


cdef struct KTree:
    double* x               # n * d coordinates, tree order
    Py_ssize_t n
    Py_ssize_t d
    Py_ssize_t levels       # leaves are on level `levels` (root: level 0)
    Py_ssize_t first_leaf   # 2**levels - 1
    Py_ssize_t nnodes       # 2**(levels + 1) - 1
    Py_ssize_t* start       # nnodes: the node's rows are [start, end)
    Py_ssize_t* end
    double* lo              # nnodes * d: the bounding boxes
    double* hi


cdef void _kt_init(KTree* t) noexcept nogil:
    t.x = NULL
    t.start = NULL
    t.end = NULL
    t.lo = NULL
    t.hi = NULL


cdef void _kt_free(KTree* t) noexcept nogil:
    free(t.x)
    free(t.start)
    free(t.end)
    free(t.lo)
    free(t.hi)
    t.x = NULL
    t.start = NULL
    t.end = NULL
    t.lo = NULL
    t.hi = NULL


cdef int _kt_alloc(KTree* t, Py_ssize_t n, Py_ssize_t d) noexcept nogil:
    """Shape and memory of the tree for n points in d dimensions; -1 when out of memory."""
    cdef Py_ssize_t size = n, i, mid
    _kt_init(t)
    t.n = n
    t.d = d
    t.levels = 0
    while size > KT_LEAF:
        size = (size + 1) // 2          # the larger child of a node of `size` rows
        t.levels += 1
    t.first_leaf = (<Py_ssize_t>1 << t.levels) - 1
    t.nnodes = 2 * t.first_leaf + 1
    t.x = <double*>malloc(n * d * sizeof(double) + 8)
    t.start = <Py_ssize_t*>malloc(t.nnodes * sizeof(Py_ssize_t))
    t.end = <Py_ssize_t*>malloc(t.nnodes * sizeof(Py_ssize_t))
    t.lo = <double*>malloc(t.nnodes * d * sizeof(double) + 8)
    t.hi = <double*>malloc(t.nnodes * d * sizeof(double) + 8)
    if t.x == NULL or t.start == NULL or t.end == NULL or t.lo == NULL or t.hi == NULL:
        _kt_free(t)
        return -1
    t.start[0] = 0
    t.end[0] = n
    for i in range(t.first_leaf):
        mid = t.start[i] + (t.end[i] - t.start[i]) // 2
        t.start[2 * i + 1] = t.start[i]
        t.end[2 * i + 1] = mid
        t.start[2 * i + 2] = mid
        t.end[2 * i + 2] = t.end[i]
    return 0


cdef void _kt_box(KTree* t, Py_ssize_t node) noexcept nogil:
    cdef Py_ssize_t d = t.d, i, j
    cdef double* lo = t.lo + node * d
    cdef double* hi = t.hi + node * d
    cdef const double* row
    cdef double v
    for j in range(d):
        lo[j] = INFINITY
        hi[j] = -INFINITY
    for i in range(t.start[node], t.end[node]):
        row = t.x + i * d
        for j in range(d):
            v = row[j]
            if v < lo[j]:
                lo[j] = v
            if v > hi[j]:
                hi[j] = v


cdef inline void _kt_swap(double* x, Py_ssize_t d, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t j
    cdef double v
    for j in range(d):
        v = x[a * d + j]
        x[a * d + j] = x[b * d + j]
        x[b * d + j] = v


cdef inline unsigned long long _xorshift(unsigned long long* s) noexcept nogil:
    s[0] ^= s[0] << 13
    s[0] ^= s[0] >> 7
    s[0] ^= s[0] << 17
    return s[0]


cdef void _kt_select(double* x, Py_ssize_t d, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t kth,
                     Py_ssize_t dim, unsigned long long seed) noexcept nogil:
    """Reorder rows lo..hi (inclusive) so that row kth holds the value of rank kth along dim,
    rows before it values <= it and rows after it values >= it (Hoare partitions around the
    median of three pseudo-random rows: expected O(n) for every input, ties split evenly)."""
    cdef Py_ssize_t i, j
    cdef double v, a, b, c
    cdef unsigned long long s = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL
    while hi > lo:
        a = x[(lo + <Py_ssize_t>(_xorshift(&s) % <unsigned long long>(hi - lo + 1))) * d + dim]
        b = x[(lo + <Py_ssize_t>(_xorshift(&s) % <unsigned long long>(hi - lo + 1))) * d + dim]
        c = x[(lo + <Py_ssize_t>(_xorshift(&s) % <unsigned long long>(hi - lo + 1))) * d + dim]
        v = max(min(a, b), min(max(a, b), c))
        i = lo
        j = hi
        while i <= j:
            while x[i * d + dim] < v:
                i += 1
            while x[j * d + dim] > v:
                j -= 1
            if i <= j:
                _kt_swap(x, d, i, j)
                i += 1
                j -= 1
        if kth <= j:
            hi = j
        elif kth >= i:
            lo = i
        else:
            return


cdef void _kt_split(KTree* t, Py_ssize_t node) noexcept nogil:
    cdef Py_ssize_t j, dim = 0, d = t.d
    cdef double spread = -1.0
    _kt_box(t, node)
    for j in range(d):
        if t.hi[node * d + j] - t.lo[node * d + j] > spread:
            spread = t.hi[node * d + j] - t.lo[node * d + j]
            dim = j
    _kt_select(t.x, d, t.start[node], t.end[node] - 1, t.start[2 * node + 2], dim, <unsigned long long>node + 1)


cdef void _kt_build(KTree* t, int nt, fi_stop_t* stop) noexcept nogil:
    """Split the levels in order (the nodes of a level over nt threads), then the leaf boxes.
    A stopped build (fi_poll) leaves the tree unusable: the caller only frees it."""
    cdef Py_ssize_t lev, first, cnt, i
    for lev in range(t.levels):
        if stop != NULL and fi_poll(stop, t.n * t.d * 8):
            return
        first = (<Py_ssize_t>1 << lev) - 1
        cnt = <Py_ssize_t>1 << lev
        if nt > 1 and cnt > 1:
            for i in prange(first, first + cnt, num_threads=nt, schedule='static'):
                _kt_split(t, i)
        else:
            for i in range(first, first + cnt):
                _kt_split(t, i)
    if nt > 1:
        for i in prange(t.first_leaf, t.nnodes, num_threads=nt, schedule='static'):
            _kt_box(t, i)
    else:
        for i in range(t.first_leaf, t.nnodes):
            _kt_box(t, i)


cdef int _kt_from(KTree* t, const double[:, :] pts, Py_ssize_t col0, Py_ssize_t d, double s1, double s2,
                  int nt, fi_stop_t* stop) noexcept nogil:
    """A tree over columns col0 .. col0 + d - 1 of pts times s1 * s2 (powers of two, applied one
    after the other so that neither factor overflows; exact unless a product is subnormal);
    -1 when out of memory."""
    cdef Py_ssize_t n = pts.shape[0], i, j
    if _kt_alloc(t, n, d) != 0:
        return -1
    for i in range(n):
        for j in range(d):
            t.x[i * d + j] = (pts[i, col0 + j] * s1) * s2
    _kt_build(t, nt, stop)
    return 0


# --- distances and box bounds (same operations for points and boxes) --------------------

cdef inline double _kt_dist(const double* a, const double* b, Py_ssize_t d, int metric) noexcept nogil:
    cdef Py_ssize_t j
    cdef double s = 0.0, c
    if metric == KNN_CHEBYSHEV:
        for j in range(d):
            c = fabs(a[j] - b[j])
            if c > s:
                s = c
    else:
        for j in range(d):
            c = a[j] - b[j]
            s = s + c * c
    return s


cdef inline double _kt_boxmin(const KTree* t, Py_ssize_t node, const double* q, int metric) noexcept nogil:
    """A lower bound of _kt_dist(q, x) over the node's points (0 inside the box)."""
    cdef Py_ssize_t j, d = t.d
    cdef const double* lo = t.lo + node * d
    cdef const double* hi = t.hi + node * d
    cdef double s = 0.0, c, e
    for j in range(d):
        c = lo[j] - q[j]
        e = q[j] - hi[j]
        if e > c:
            c = e
        if c < 0.0:
            c = 0.0
        if metric == KNN_CHEBYSHEV:
            if c > s:
                s = c
        else:
            s = s + c * c
    return s


cdef inline double _kt_boxmax(const KTree* t, Py_ssize_t node, const double* q, int metric) noexcept nogil:
    """An upper bound of _kt_dist(q, x) over the node's points."""
    cdef Py_ssize_t j, d = t.d
    cdef const double* lo = t.lo + node * d
    cdef const double* hi = t.hi + node * d
    cdef double s = 0.0, c, e
    for j in range(d):
        c = q[j] - lo[j]
        e = hi[j] - q[j]
        if e > c:
            c = e
        if metric == KNN_CHEBYSHEV:
            if c > s:
                s = c
        else:
            s = s + c * c
    return s


# --- queries ------------------------------------------------------------------------------

cdef inline void _heap_replace_top(double* h, Py_ssize_t k, double v) noexcept nogil:
    """h[0:k] a binary max-heap: replace its largest element by v (<= it) and sift down."""
    cdef Py_ssize_t i = 0, c
    while True:
        c = 2 * i + 1
        if c >= k:
            break
        if c + 1 < k and h[c + 1] > h[c]:
            c += 1
        if h[c] <= v:
            break
        h[i] = h[c]
        i = c
    h[i] = v


cdef double _kt_knn(const KTree* t, const double* q, Py_ssize_t self_row, Py_ssize_t k, int metric,
                    double* heap, Py_ssize_t* stk, double* stkd) noexcept nogil:
    """The k-th smallest distance from q to the points other than row self_row (-1: none
    excluded); heap: k doubles of scratch. The k best distances are kept in a sorted array
    for k <= KT_SORTED_K (a few shifts per accepted candidate), else in a binary max-heap
    (O(log k) per candidate: large k stays O(n k log k) overall)."""
    cdef Py_ssize_t i, j, m, top, node, l, d = t.d
    cdef double bd, dist, dl, dr, worst = INFINITY
    cdef bint sorted_k = k <= KT_SORTED_K
    for i in range(k):
        heap[i] = INFINITY
    stk[0] = 0
    stkd[0] = 0.0
    top = 1
    while top > 0:
        top -= 1
        node = stk[top]
        if stkd[top] >= worst:
            continue
        if node >= t.first_leaf:
            for j in range(t.start[node], t.end[node]):
                dist = _kt_dist(q, t.x + j * d, d, metric)
                if dist < worst and j != self_row:
                    if sorted_k:
                        m = k - 1
                        while m > 0 and heap[m - 1] > dist:
                            heap[m] = heap[m - 1]
                            m -= 1
                        heap[m] = dist
                        worst = heap[k - 1]
                    else:
                        _heap_replace_top(heap, k, dist)
                        worst = heap[0]
        else:
            l = 2 * node + 1
            dl = _kt_boxmin(t, l, q, metric)
            dr = _kt_boxmin(t, l + 1, q, metric)
            if dl <= dr:                       # the nearer child is popped first
                stk[top] = l + 1
                stkd[top] = dr
                stk[top + 1] = l
                stkd[top + 1] = dl
            else:
                stk[top] = l
                stkd[top] = dl
                stk[top + 1] = l + 1
                stkd[top + 1] = dr
            top += 2
    return worst


cdef Py_ssize_t _kt_count(const KTree* t, const double* q, double r, bint inclusive, int metric,
                          Py_ssize_t* stk) noexcept nogil:
    """How many points lie at distance < r from q (<= r when inclusive); q itself counts."""
    cdef Py_ssize_t j, top, node, cnt = 0, d = t.d
    cdef double b
    stk[0] = 0
    top = 1
    while top > 0:
        top -= 1
        node = stk[top]
        b = _kt_boxmin(t, node, q, metric)
        if b > r or (b == r and not inclusive):
            continue
        b = _kt_boxmax(t, node, q, metric)
        if b < r or (b == r and inclusive):
            cnt += t.end[node] - t.start[node]
            continue
        if node >= t.first_leaf:
            if inclusive:
                for j in range(t.start[node], t.end[node]):
                    cnt += _kt_dist(q, t.x + j * d, d, metric) <= r
            else:
                for j in range(t.start[node], t.end[node]):
                    cnt += _kt_dist(q, t.x + j * d, d, metric) < r
        else:
            stk[top] = 2 * node + 1
            stk[top + 1] = 2 * node + 2
            top += 2
    return cnt


cdef double _kt_nearest_distinct(const KTree* t, const double* q, int metric, Py_ssize_t* stk,
                                 double* stkd) noexcept nogil:
    """The smallest nonzero distance from q to a point (inf when every point coincides with q);
    boxes that are the single point q are skipped whole."""
    cdef Py_ssize_t j, top, node, l, d = t.d
    cdef double best = INFINITY, dist, dl, dr
    stk[0] = 0
    stkd[0] = 0.0
    top = 1
    while top > 0:
        top -= 1
        node = stk[top]
        if stkd[top] >= best or _kt_boxmax(t, node, q, metric) == 0.0:
            continue
        if node >= t.first_leaf:
            for j in range(t.start[node], t.end[node]):
                dist = _kt_dist(q, t.x + j * d, d, metric)
                if 0.0 < dist < best:
                    best = dist
        else:
            l = 2 * node + 1
            dl = _kt_boxmin(t, l, q, metric)
            dr = _kt_boxmin(t, l + 1, q, metric)
            if dl <= dr:
                stk[top] = l + 1
                stkd[top] = dr
                stk[top + 1] = l
                stkd[top + 1] = dl
            else:
                stk[top] = l
                stkd[top] = dl
                stk[top + 1] = l + 1
                stkd[top + 1] = dr
            top += 2
    return best


cdef Py_ssize_t _sorted_count(const double* s, Py_ssize_t n, double q, double r, bint inclusive) noexcept nogil:
    """Over an ascending array: how many |s[a] - q| < r (<= r when inclusive), with the
    differences rounded as a point distance is (so the same points as the tree counts)."""
    cdef Py_ssize_t a = 0, b = n, mid, lo_i, hi_i
    # first a with q - s[a] < r (<=): the predicate turns true as s[a] grows
    while a < b:
        mid = a + (b - a) // 2
        if (q - s[mid] < r) or (inclusive and q - s[mid] == r):
            b = mid
        else:
            a = mid + 1
    lo_i = a
    b = n
    # first a with s[a] - q >= r (> r when inclusive)
    while a < b:
        mid = a + (b - a) // 2
        if (s[mid] - q > r) or (not inclusive and s[mid] - q == r):
            b = mid
        else:
            a = mid + 1
    hi_i = a
    return hi_i - lo_i


# --- drivers ------------------------------------------------------------------------------

cdef inline Py_ssize_t _knn_chunk(Py_ssize_t n, int nt) noexcept nogil:
    """Static chunks of tree rows: small enough to balance clustered data over the threads,
    large enough to keep a thread's queries among neighbouring leaves."""
    cdef Py_ssize_t c = n // (16 * <Py_ssize_t>nt)
    if c > 4096:
        c = 4096
    if c < 64:
        c = 64
    return c


def knn_radii(const double[:, :] pts, Py_ssize_t k, int metric, double s1, double s2, double[::1] radius,
              Py_ssize_t[::1] kk,
              int n_threads):
    """For every point (in an order of the tree, not the input's), the distance to its k-th
    nearest other point (radius) and kk = k; where that distance is 0 (k or more other points
    coincide with it), radius = the distance to the nearest point that does not coincide and
    kk = 1 + the number of points that do (the k_i-th neighbour is then that point: the
    estimator stays finite); radius = inf when every point coincides with this one, NaN when
    (Euclidean) distinct points are at a squared distance that underflows to 0. Points
    coincide when their computed distance is 0. Distances are those of the points times
    s1 * s2 (powers of two chosen by the caller: for Euclidean distances so that the largest
    coordinate is ~2^500, where no square of a difference overflows and only differences
    below ~2^-1037 of the largest coordinate underflow); Euclidean radii are distances, not
    squares."""
    cdef Py_ssize_t n = pts.shape[0], d = pts.shape[1], i, ch
    cdef KTree t
    cdef int nt, bad = 0
    cdef Py_ssize_t noom = 0
    cdef double* heap
    cdef Py_ssize_t* stk
    cdef double* stkd
    cdef double r
    if radius.shape[0] != n or kk.shape[0] != n:
        raise ValueError(f"radius and kk must have length {n}")
    if not (1 <= k < n):
        raise ValueError(f"k must satisfy 1 <= k < n = {n}, got {k}")
    if d < 1:
        raise ValueError("points must have at least one coordinate")
    if metric != KNN_EUCLIDEAN and metric != KNN_CHEBYSHEV:
        raise ValueError(f"unknown metric code {metric}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    nt = _effective_threads(n * (k + 8) * d, n_threads)
    ch = _knn_chunk(n, nt)
    heap = NULL
    stk = NULL
    stkd = NULL
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    with nogil:
        if _kt_from(&t, pts, 0, d, s1, s2, nt, stop) != 0:
            bad = 1
        elif stop != NULL and stop.flag:
            _kt_free(&t)
        else:
            with parallel(num_threads=nt):
                heap = <double*>malloc((k + 1) * sizeof(double))
                stk = <Py_ssize_t*>malloc(KT_STACK * sizeof(Py_ssize_t))
                stkd = <double*>malloc(KT_STACK * sizeof(double))
                for i in prange(n, schedule='static', chunksize=ch):
                    if stop != NULL and fi_poll(stop, 256 * (k + d)):
                        continue
                    if heap == NULL or stk == NULL or stkd == NULL:
                        noom += 1
                        radius[i] = NAN
                        kk[i] = 0
                        continue
                    r = _kt_knn(&t, t.x + i * d, i, k, metric, heap, stk, stkd)
                    kk[i] = k
                    if r == 0.0:
                        kk[i] = _kt_count(&t, t.x + i * d, 0.0, True, metric, stk)
                        if metric == KNN_EUCLIDEAN and kk[i] != _kt_count(&t, t.x + i * d, 0.0, True,
                                                                         KNN_CHEBYSHEV, stk):
                            # distinct points whose squared distance underflowed: NaN (caller raises)
                            radius[i] = NAN
                            continue
                        r = _kt_nearest_distinct(&t, t.x + i * d, metric, stk, stkd)
                    if metric == KNN_EUCLIDEAN:
                        r = sqrt(r)
                    radius[i] = r
                free(heap)
                free(stk)
                free(stkd)
            _kt_free(&t)
    fi_stop_raise(stop)
    if bad or noom:
        raise MemoryError("no memory for the k-d tree or its query buffers")


def ksg_counts(const double[:, :] xy, Py_ssize_t dx, Py_ssize_t k, double s1, double s2, Py_ssize_t[::1] kk,
               Py_ssize_t[::1] nx, Py_ssize_t[::1] ny, int n_threads):
    """The counts of the KSG estimator (algorithm 1) for the points xy = [x | y] (x: the first
    dx columns), in an order of the joint tree: eps = the Chebyshev distance to the k-th
    nearest other point in the joint space, nx / ny = how many other points lie strictly
    closer than eps in x / in y (as scikit-learn's radius nextafter(eps, 0), inclusive), kk = k.
    Where eps = 0 (k or more other points coincide in the joint space): kk = how many do,
    nx / ny = how many other points coincide in x / in y (Gao et al. 2017). The points are
    multiplied by s1 * s2 (powers of two; 1 unless a coordinate reaches 2^1022, where a
    difference could overflow) first: the counts do not change."""
    cdef Py_ssize_t n = xy.shape[0], D = xy.shape[1], dy = D - dx, i, ch
    cdef KTree tj, tx, ty
    cdef double* sx = NULL
    cdef double* sy = NULL
    cdef double* tmp = NULL
    cdef int nt, bad = 0
    cdef Py_ssize_t noom = 0
    cdef double* heap
    cdef Py_ssize_t* stk
    cdef double* stkd
    cdef double eps
    cdef const double* q
    if kk.shape[0] != n or nx.shape[0] != n or ny.shape[0] != n:
        raise ValueError(f"kk, nx and ny must have length {n}")
    if not (1 <= dx < D):
        raise ValueError(f"dx must satisfy 1 <= dx < {D}, got {dx}")
    if not (1 <= k < n):
        raise ValueError(f"k must satisfy 1 <= k < n = {n}, got {k}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    nt = _effective_threads(n * (k + 8) * D, n_threads)
    ch = _knn_chunk(n, nt)
    _kt_init(&tj)
    _kt_init(&tx)
    _kt_init(&ty)
    heap = NULL
    stk = NULL
    stkd = NULL
    cdef fi_stop_t st
    cdef fi_stop_t* stop = fi_stop_begin(&st)
    with nogil:
        if _kt_from(&tj, xy, 0, D, s1, s2, nt, stop) != 0:
            bad = 1
        # marginals: a sorted copy in one dimension, else a tree
        if not bad and dx == 1:
            sx = <double*>malloc(2 * n * sizeof(double) + 8)
            if sx == NULL:
                bad = 1
            else:
                for i in range(n):
                    sx[i] = tj.x[i * D]
                _radix_sort(sx, sx + n, n)
        elif not bad and _kt_from(&tx, xy, 0, dx, s1, s2, nt, stop) != 0:
            bad = 1
        if not bad and dy == 1:
            sy = <double*>malloc(2 * n * sizeof(double) + 8)
            if sy == NULL:
                bad = 1
            else:
                for i in range(n):
                    sy[i] = tj.x[i * D + dx]
                _radix_sort(sy, sy + n, n)
        elif not bad and _kt_from(&ty, xy, dx, dy, s1, s2, nt, stop) != 0:
            bad = 1
        if not bad and not (stop != NULL and stop.flag):
            with parallel(num_threads=nt):
                heap = <double*>malloc((k + 1) * sizeof(double))
                stk = <Py_ssize_t*>malloc(KT_STACK * sizeof(Py_ssize_t))
                stkd = <double*>malloc(KT_STACK * sizeof(double))
                for i in prange(n, schedule='static', chunksize=ch):
                    if stop != NULL and fi_poll(stop, 256 * (k + D)):
                        continue
                    if heap == NULL or stk == NULL or stkd == NULL:
                        noom += 1
                        kk[i] = 0
                        nx[i] = 0
                        ny[i] = 0
                        continue
                    q = tj.x + i * D
                    eps = _kt_knn(&tj, q, i, k, KNN_CHEBYSHEV, heap, stk, stkd)
                    if eps > 0.0:
                        kk[i] = k
                        if dx == 1:
                            nx[i] = _sorted_count(sx, n, q[0], eps, False) - 1
                        else:
                            nx[i] = _kt_count(&tx, q, eps, False, KNN_CHEBYSHEV, stk) - 1
                        if dy == 1:
                            ny[i] = _sorted_count(sy, n, q[dx], eps, False) - 1
                        else:
                            ny[i] = _kt_count(&ty, q + dx, eps, False, KNN_CHEBYSHEV, stk) - 1
                    else:
                        kk[i] = _kt_count(&tj, q, 0.0, True, KNN_CHEBYSHEV, stk) - 1
                        if dx == 1:
                            nx[i] = _sorted_count(sx, n, q[0], 0.0, True) - 1
                        else:
                            nx[i] = _kt_count(&tx, q, 0.0, True, KNN_CHEBYSHEV, stk) - 1
                        if dy == 1:
                            ny[i] = _sorted_count(sy, n, q[dx], 0.0, True) - 1
                        else:
                            ny[i] = _kt_count(&ty, q + dx, 0.0, True, KNN_CHEBYSHEV, stk) - 1
                free(heap)
                free(stk)
                free(stkd)
        free(sx)
        free(sy)
        _kt_free(&tj)
        _kt_free(&tx)
        _kt_free(&ty)
    fi_stop_raise(stop)
    if bad or noom:
        raise MemoryError("no memory for the k-d trees or their query buffers")
