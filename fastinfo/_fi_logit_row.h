/* One row of a logit function, for one storage type (the template: _fi_rows.h includes it once
 * per storage type, after _fi_row_type.h). Everything below is written once for the four types.
 *
 * The passes over a row x of n logits (stride xs; the contiguous case is the fast one):
 *   pass 1: m = max x (+inf: an invalid row);
 *   pass 2: z = (x - m) / T, e = exp(z) <= 1, and the sums of the measure (see the kinds);
 *           a NaN logit makes them NaN: an invalid row;
 *   JS also a pass 3 (in double), softmax / log_softmax a write pass.
 * The lanes accumulate in double; a partial block (the row's tail, or a strided row) is
 * filled with -inf logits (e = 0: they add nothing).
 */

/* The next row a thread reads is prefetched while it works on this one (fi_logit_args.pfx).
 * Pass 2 of LSE and ENT reads its row from cache and is compute-bound; for 4- and 8-byte logits
 * it can be faster than memory delivers the next row. Pass 1 prefetches the next row's first
 * fi_pf_head4 quarters, pass 2 the next fi_pf_rest4 quarters at fi_pf_rest4/4 of its pace, and
 * the rest comes with the next pass 1's own reads: the plan is the CPU's (fi_prefetch_init in
 * _fi_logits.h). 2-byte rows, half the bytes, all in pass 2. A row that carries (FI_FUSES
 * below) fetches the whole next row in pass 2 instead. */
#define FI_PF_HEAD (sizeof(FI_T) == 2 ? 0 : fi_pf_head4)
#define FI_PF_REST (sizeof(FI_T) == 2 ? 4 : fi_pf_rest4)
/* A contiguous row's pass 2 of LSE and ENT (every storage type) also takes the next row's
 * maximum, one FI_BLOCK behind its prefetch of that row (fi_row_carry): it prefetches the whole
 * next row at its own pace, and the next pass 1 reads only the rest (about the last block; rows
 * shorter than a block and a group take no carry). A float64 row of a 128k vocabulary is 1 MB:
 * a separate pass 1 read it from DRAM with little work to hide the misses behind. */
#define FI_FUSES(kind, xs, cy) ((cy) != NULL && (cy)->nxt != 0 && (xs) == 1 \
                                && ((kind) == FI_K_LSE || (kind) == FI_K_ENT))
/* The pass 2 of a pair of contiguous rows (KL, JS) takes both next rows' maxima likewise, for
 * every storage type (cy[0]: x's carry, cy[1]: y's): a pair of float64 rows of a 128k vocabulary
 * is 2 MB, and a separate pass 1 read the next pair from L3 or DRAM after it. */
#define FI_FUSES_PAIR(kind, xs, ys, cy) ((kind) == FI_K_PAIR && (cy) != NULL && (cy)[0].nxt != 0 \
                                         && (cy)[1].nxt != 0 && (xs) == 1 && (ys) == 1)

#ifndef FI_GROUP
#define FI_GROUP 8      /* float vectors of exps added in float before the double sums */
#endif
/* the contiguous rows take whole groups a block: the groups start where those of a strided row do */
_Static_assert(FI_BLOCK % (FI_GROUP * 16) == 0, "a block holds whole groups of the widest float vectors");

/* The next row's maximum as pass 2 sees it, 2 FI_W elements a step: bfloat16 on the bits (as
 * fi_pass1_bits), the other types as floats */
typedef struct {
#ifdef FI_BITS_MAX
    fi_vs hi, lo;
#else
    FI_V m0, m1;
#endif
} FI_NAME(fi_nextmax);

static inline __attribute__((always_inline)) void FI_NAME(fi_nextmax_init)(FI_NAME(fi_nextmax) *t)
{
#ifdef FI_BITS_MAX
    t->hi = (fi_vs){0} + INT16_MIN;
    t->lo = (fi_vs){0} + INT16_MAX;
#else
    t->m0 = t->m1 = FI_SPLAT(-__builtin_inf());
#endif
}

static inline __attribute__((always_inline)) void FI_NAME(fi_nextmax_step)(FI_NAME(fi_nextmax) *t, const FI_T *p)
{
#ifdef FI_BITS_MAX
    fi_vs v;
    memcpy(&v, p, sizeof v);
    t->hi = fi_vmaxs(t->hi, v);
    t->lo = fi_vmins(t->lo, v);
#else
    FI_V a, b;
    FI_LOADV2(p, &a, &b);
    t->m0 = FI_MAX(a, t->m0);
    t->m1 = FI_MAX(b, t->m1);
#endif
}

/* the row begun: its first done elements seen */
static void FI_NAME(fi_nextmax_save)(const FI_NAME(fi_nextmax) *t, fi_row_carry *cy, const FI_T *row,
                                     Py_ssize_t n, Py_ssize_t done)
{
#ifdef FI_BITS_MAX
    memcpy(cy->hi, &t->hi, sizeof t->hi);
    memcpy(cy->lo, &t->lo, sizeof t->lo);
#else
    FI_S lane[FI_W];
    FI_V mx = FI_MAX(t->m0, t->m1);
    int l;
    memcpy(lane, &mx, sizeof lane);
    cy->m = lane[0];
    for (l = 1; l < FI_W; l++)
        cy->m = lane[l] > cy->m ? lane[l] : cy->m;
#if !FI_DBL
    _Static_assert(2 * sizeof t->m0 <= sizeof cy->top, "the lanes of two float vectors");
    memcpy(cy->top, &t->m0, sizeof t->m0);
    memcpy(cy->top + FI_W, &t->m1, sizeof t->m1);
#endif
#endif
    cy->row = (const void *)row;
    cy->n = n;
    cy->done = done;
}


#ifdef FI_BITS_MAX
/* pass 1 of a contiguous row of bfloat16 on the elements' bits, 2 FI_NF of them per instruction
 * instead of FI_NF after two to widen them: as signed 16-bit integers, the bits of the
 * non-negative floats rise with the float, those of the negative ones fall. So the max is the
 * signed max where that is >= 0, else (every element negative) the signed min. A positive NaN
 * is above +inf (the max is NaN: pass 2's sums are NaN); a negative NaN is found by pass 2. */
static double FI_NAME(fi_pass1_bits)(const FI_T *x, Py_ssize_t n, Py_ssize_t pf, fi_row_carry *cy,
                                     fi_stop_t *stop)
{
    const Py_ssize_t w = 2 * FI_NF;                       /* elements per vector */
    const int head = FI_PF_HEAD;
    fi_vs hi0 = (fi_vs){0} + INT16_MIN, hi1 = hi0, lo0 = (fi_vs){0} + INT16_MAX, lo1 = lo0, v, u;
    int16_t hi = INT16_MIN, lo = INT16_MAX, b, hl[2 * FI_NF], ll[2 * FI_NF];
    Py_ssize_t blk, i, end, start;
    int l;
    if (n == 0)
        return -__builtin_inf();
    start = fi_carry_start(cy, x, n);
    if (start > 0) {                                  /* begun in the last pass 2 */
        memcpy(&hi1, cy->hi, sizeof hi1);
        memcpy(&lo1, cy->lo, sizeof lo1);
    }
    for (blk = start; blk < n; blk += FI_BLOCK) {
        if (n > FI_BLOCK && fi_poll_block(stop, FI_BLOCK))
            break;
        end = blk + FI_BLOCK < n ? blk + FI_BLOCK : n;
        for (i = blk; i + 2 * w <= end; i += 2 * w) {
            FI_PF_LINES(x + i, 2 * w * sizeof(FI_T));
            if (head && pf)
                __builtin_prefetch((const char *)(x + pf) + i * (Py_ssize_t)sizeof(FI_T) / 4);
            memcpy(&v, x + i, sizeof v);
            memcpy(&u, x + i + w, sizeof u);
            hi0 = fi_vmaxs(hi0, v);
            lo0 = fi_vmins(lo0, v);
            hi1 = fi_vmaxs(hi1, u);
            lo1 = fi_vmins(lo1, u);
        }
        for (; i < end; i++) {
            b = (int16_t)x[i];
            hi = b > hi ? b : hi;
            lo = b < lo ? b : lo;
        }
    }
    hi0 = fi_vmaxs(hi0, hi1);
    lo0 = fi_vmins(lo0, lo1);
    memcpy(hl, &hi0, sizeof hl);
    memcpy(ll, &lo0, sizeof ll);
    for (l = 0; l < 2 * FI_NF; l++) {
        hi = hl[l] > hi ? hl[l] : hi;
        lo = ll[l] < lo ? ll[l] : lo;
    }
    return (double)FI_LOAD1((FI_T)(hi >= 0 ? hi : lo));
}
#endif

/* pass 1: the row's max. NaN logits are not looked for here: they turn pass 2's sums into
 * NaN, and fi_logit_row checks those (and scans the rare row that has no pass 2). */
static double FI_NAME(fi_pass1)(const FI_T *x, Py_ssize_t xs, Py_ssize_t n, Py_ssize_t pf, fi_row_carry *cy,
                                fi_stop_t *stop)
{
    FI_V mx = FI_SPLAT(-__builtin_inf()), m1 = mx, m2 = mx, m3 = mx;
    FI_T fill = FI_NEGINF;
    Py_ssize_t blk, i, end, start;
    FI_S lane[FI_W];
    int w, l;
    const int head = FI_PF_HEAD;
#ifdef FI_BITS_MAX
    if (xs == 1)
        return FI_NAME(fi_pass1_bits)(x, n, pf, cy, stop);
#endif
    start = fi_carry_start(cy, x, n);          /* a carry begins contiguous rows only */
    if (start > 0)                             /* begun in the last pass 2 */
        mx = FI_SPLAT(cy->m);
    for (blk = start; blk < n; blk += FI_BLOCK) {
        if (n > FI_BLOCK && fi_poll_block(stop, FI_BLOCK))
            break;
        end = blk + FI_BLOCK < n ? blk + FI_BLOCK : n;
        /* four running maxima: one would wait on the latency of each max */
        for (i = blk; i + 4 * FI_W <= end; i += 4 * FI_W) {
            if (xs == 1) {
                /* a max a vector is cheap: one prefetch a line, not one a vector */
                FI_PF_LINES(x + i, 4 * FI_W * sizeof(FI_T));
                if (head && pf)
                    __builtin_prefetch((const char *)(x + pf) + i * (Py_ssize_t)sizeof(FI_T) / 4);
            }
            mx = FI_MAX(FI_NAME(fi_lanes_at)(x, i, xs, FI_W, fill), mx);
            m1 = FI_MAX(FI_NAME(fi_lanes_at)(x, i + FI_W, xs, FI_W, fill), m1);
            m2 = FI_MAX(FI_NAME(fi_lanes_at)(x, i + 2 * FI_W, xs, FI_W, fill), m2);
            m3 = FI_MAX(FI_NAME(fi_lanes_at)(x, i + 3 * FI_W, xs, FI_W, fill), m3);
        }
        for (; i < end; i += FI_W)
            mx = FI_MAX(FI_NAME(fi_lanes)(x, i, xs, end - i, fill), mx);
    }
    mx = FI_MAX(FI_MAX(mx, m1), FI_MAX(m2, m3));
    memcpy(lane, &mx, sizeof lane);
    for (w = FI_W / 2; w >= 1; w /= 2)
        for (l = 0; l < w; l++)
            lane[l] = lane[l + w] > lane[l] ? lane[l + w] : lane[l];
    return lane[0];
}

static int FI_NAME(fi_has_nan)(const FI_T *x, Py_ssize_t xs, Py_ssize_t n)
{
    Py_ssize_t j;
    for (j = 0; j < n; j++) {
        FI_S v = (FI_S)FI_LOAD1(x[j * xs]);
        if (v != v)
            return 1;
    }
    return 0;
}

/* The exp sums of pass 2 (every kind but FI_K_PAIR): with e = exp(z),
 *   s = sum e over the elements with z != 0 (the maximal elements' 1s left out), n: how many,
 *   a = sum e z (FI_K_ENT).
 * Float lanes: FI_GROUP vectors are added in float, then widened into the double sums (the
 * widening costs more than the exp's polynomial). */
typedef struct {
    fi_vd s0, s1, a0, a1;
    FI_M c;                     /* the count of the lanes z != 0 */
    Py_ssize_t nl;              /* the lanes added */
#if !FI_DBL
    FI_V sf, af;                /* float partial sums of a group */
    int grp;
#endif
} FI_NAME(fi_expsums);

/* e = exp(z) into the sums: the float partial sums of a group (float lanes), or one of the
 * two double sums (double lanes: the two vectors of a step, half the terms in each lane) */
static inline __attribute__((always_inline)) void
FI_NAME(fi_expsums_term)(int kind, FI_V z, FI_NAME(fi_expsums) *A, int half)
{
    FI_V zc = FI_EXPCLAMP(z);                             /* -inf -> a z whose exp is 0 */
    FI_V e = FI_EXPC(zc);
    A->nl += FI_W;
#if FI_DBL
    FI_ACC_OFFMAX(half ? &A->s1 : &A->s0, &A->c, z, e);
    if (kind == FI_K_ENT) {
        if (half)
            A->a1 = FI_FMA(e, zc, A->a1);
        else
            A->a0 = FI_FMA(e, zc, A->a0);
    }
#else
    (void)half;
    FI_ACC_OFFMAX(&A->sf, &A->c, z, e);
    if (kind == FI_K_ENT)
        A->af = FI_FMA(e, zc, A->af);
#endif
}

/* the end of a group of FI_GROUP vectors: its float sums widened into the double sums */
static inline __attribute__((always_inline)) void
FI_NAME(fi_expsums_widen)(int kind, FI_NAME(fi_expsums) *A)
{
#if !FI_DBL
    A->s0 += fi_lo(A->sf);
    A->s1 += fi_hi(A->sf);
    A->sf = FI_SPLAT(0);
    if (kind == FI_K_ENT) {
        A->a0 += fi_lo(A->af);
        A->a1 += fi_hi(A->af);
        A->af = FI_SPLAT(0);
    }
#else
    (void)kind;
    (void)A;
#endif
}

/* one vector of a row read vector by vector (a strided row, a row's tail): the same groups,
 * counted from the row's start, as the contiguous rows' whole groups */
static inline __attribute__((always_inline)) void
FI_NAME(fi_expsums_add)(int kind, FI_V z, FI_NAME(fi_expsums) *A, int half)
{
    FI_NAME(fi_expsums_term)(kind, z, A, half);
#if !FI_DBL
    if (++A->grp == FI_GROUP) {
        FI_NAME(fi_expsums_widen)(kind, A);
        A->grp = 0;
    }
#endif
}

#ifdef FI_PAIRED
/* 2 FI_W elements from i on (cnt of them exist; stride xs; the missing ones -inf) in the lanes
 * FI_LOADV2 gives a contiguous step, so that strided rows and a row's tail add as the same
 * row contiguous does */
static inline void FI_NAME(fi_lanes2)(const FI_T *x, Py_ssize_t i, Py_ssize_t xs, Py_ssize_t cnt, FI_V *a, FI_V *b)
{
    FI_T buf[2 * FI_W];
    Py_ssize_t k;
    if (cnt >= 2 * FI_W) {
        if (xs == 1) {
            FI_LOADV2(x + i, a, b);
            return;
        }
        for (k = 0; k < FI_W; k++) {         /* in registers: a vector load of elements just */
            (*a)[k] = FI_LOAD1(x[(i + 2 * k) * xs]);           /* stored one by one stalls */
            (*b)[k] = FI_LOAD1(x[(i + 2 * k + 1) * xs]);
        }
        return;
    }
    for (k = 0; k < 2 * FI_W; k++)
        buf[k] = k < cnt ? x[(i + k) * xs] : FI_NEGINF;
    FI_LOADV2(buf, a, b);
}
#endif

/* The order statistics of softmax_stats, taken in pass 2 while the elements are in registers:
 * the top k (v, jj: a heap of k, fi_topk_* in _fi_logits.h) and a label y's rank,
 * #{j < y: x_j >= x_y} + #{j > y: x_j > x_y}: one compare a vector, >= for the vectors
 * before y and > for those after it (the vector that holds y goes element by element), its
 * lanes counted by a popcount, off the vector pipes that the exps keep busy. For the top k a
 * group of vectors is tested once against the heap's worst kept value (float lanes: on the
 * exps the group sums, fi_order_ethr; float64: the group's maximum; outside the whole groups,
 * a vector's maximum); only a group that may hold an element for the heap is looked at again,
 * a vector at a time, and only its lanes that can enter go, in index order, into the heap
 * (fi_order_push: while it fills, those at or above a floor, fi_carry_floor; then those above
 * its worst). (Pushing a whole group element by element cost 0.13x of a bfloat16 row's time
 * for the top 5.) */
typedef struct {
    Py_ssize_t label, k, filled;        /* label < 0: no rank */
    FI_S xl;                            /* the label's logit */
    FI_S floor;                         /* at most the k-th largest logit (fi_carry_floor), or -inf */
    double *v, *jj;
    Py_ssize_t rank;
} FI_NAME(fi_order);

/* an element e (index j) into the heap if it belongs there so far: while the heap fills, those
 * at or above the floor (no element below it is among the top k), then those above its worst */
static inline void FI_NAME(fi_order_push)(FI_NAME(fi_order) *od, double e, Py_ssize_t j)
{
    if (od->filled < od->k ? e >= (double)od->floor : e > od->v[0])
        fi_topk_push(od->v, od->jj, od->k, &od->filled, e, j);
}

/* the rank's count of elements lo..hi-1 read one by one */
static Py_ssize_t FI_NAME(fi_rank_elems)(const FI_NAME(fi_order) *od, const FI_T *x, Py_ssize_t xs,
                                         Py_ssize_t lo, Py_ssize_t hi)
{
    Py_ssize_t j, c = 0;
    for (j = lo; j < hi; j++) {
        FI_S e = (FI_S)FI_LOAD1(x[j * xs]);
        c += j < od->label ? e >= od->xl : (j > od->label && e > od->xl);
    }
    return c;
}

/* elements lo..hi-1 (read from memory, in index order) into the heap */
static void FI_NAME(fi_order_heap)(FI_NAME(fi_order) *od, const FI_T *x, Py_ssize_t xs, Py_ssize_t lo,
                                   Py_ssize_t hi)
{
    Py_ssize_t j;
    for (j = lo; j < hi; j++)
        FI_NAME(fi_order_push)(od, (double)(FI_S)FI_LOAD1(x[j * xs]), j);
}

/* contiguous elements lo..hi-1 (whole vectors) into the heap: only the lanes that can go in
 * (fi_order_push's test a vector at a time), in index order */
static void FI_NAME(fi_order_heap_above)(FI_NAME(fi_order) *od, const FI_T *x, Py_ssize_t lo, Py_ssize_t hi)
{
    Py_ssize_t i, j;
    unsigned b;
    FI_V e;
    for (i = lo; i < hi; i += FI_W) {
        e = FI_NAME(fi_lanes_at)(x, i, 1, FI_W, FI_NEGINF);
        b = od->filled < od->k ? FI_GEBITS(e, FI_SPLAT(od->floor)) : FI_GTBITS(e, FI_SPLAT((FI_S)od->v[0]));
        for (; b != 0; b &= b - 1) {
            j = i + __builtin_ctz(b);
            FI_NAME(fi_order_push)(od, (double)(FI_S)FI_LOAD1(x[j]), j);
        }
    }
}

static inline FI_V FI_NAME(fi_order_thr)(const FI_NAME(fi_order) *od)
{
    /* until the heap holds k, every step goes into it (its test is filled < k) */
    return FI_SPLAT(od->filled == od->k && od->k > 0 ? (FI_S)od->v[0] : (FI_S)__builtin_inf());
}

#if !FI_DBL
/* The whole groups of float lanes test the top k's threshold on the exps they sum anyway: an
 * element above the heap's worst kept value t has e = exp(z) >= exp(z_t) (z = (x - m) / T is
 * rounded monotonically; the exp is monotonic to an ulp), and a lane's group sum (terms >= 0)
 * is at least each of its terms; the maximal elements, left out of the sums, show in the count
 * of the lanes added. So a group is looked at again only when a lane's sum exceeds exp(z_t),
 * lowered by 2^-12, or when it holds a maximal element -- and every group is when exp(z_t) is
 * below 2^-100 (an element's exp could be 0 there). This replaces a maximum a vector. While
 * the heap fills, t is the floor (elements at it pass: the 2^-12). Returns the threshold;
 * *every: look at every group. */
static inline FI_V FI_NAME(fi_order_ethr)(const FI_NAME(fi_order) *od, int unit, FI_S fm, FI_S sc, int *every)
{
    /* the heap's worst kept value, or while it fills the floor (-inf: every group) */
    FI_V z = FI_SPLAT(od->filled == od->k ? (FI_S)od->v[0] : od->floor) - fm, e;
    FI_S e0;
    e = FI_EXPC(FI_EXPCLAMP(unit ? z : z * sc));
    e0 = e[0];
    *every = !(e0 >= 0x1p-100f);
    return e * (FI_S)(1 - 0x1p-12);
}
#endif

/* the elements lo..hi-1 of a row that the vector steps of pass 2 did not take (a strided row,
 * a row's tail): counts and heap, a vector at a time */
static void FI_NAME(fi_order_range)(FI_NAME(fi_order) *od, const FI_T *x, Py_ssize_t xs, Py_ssize_t lo,
                                    Py_ssize_t hi)
{
    FI_V xlv = FI_SPLAT(od->xl), thr = FI_NAME(fi_order_thr)(od), e;
    Py_ssize_t i;
    for (i = lo; i + FI_W <= hi; i += FI_W) {
        e = FI_NAME(fi_lanes_at)(x, i, xs, FI_W, FI_NEGINF);
        if (od->label >= 0) {
            if (i + FI_W <= od->label)
                od->rank += __builtin_popcount(FI_GEBITS(e, xlv));
            else if (i > od->label)
                od->rank += __builtin_popcount(FI_GTBITS(e, xlv));
            else
                od->rank += FI_NAME(fi_rank_elems)(od, x, xs, i, i + FI_W);
        }
        if (od->k > 0 && (od->filled < od->k || FI_ANY(e > thr))) {
            FI_NAME(fi_order_heap)(od, x, xs, i, i + FI_W);
            thr = FI_NAME(fi_order_thr)(od);
        }
    }
    if (od->label >= 0)
        od->rank += FI_NAME(fi_rank_elems)(od, x, xs, i, hi);
    if (od->k > 0)
        FI_NAME(fi_order_heap)(od, x, xs, i, hi);
}

/* Pass 2 of LSE and ENT over the whole groups of a contiguous row's block from i to at most end
 * (a block holds whole groups, so the group's count is 0 here), two vectors a step (FI_LOADV2:
 * in order, bfloat16 the even and the odd elements), the sums of one vector a step; returns
 * where it stopped. Each step prefetches ahead in this row (pa) and rest quarters of its bytes
 * from the next row (pn, to L2), at rest/4 of this pass's pace. carry (a constant: its own loop): also the next row's maximum, FI_BLOCK elements
 * behind this pass (nx: the next row). */
static inline __attribute__((always_inline)) Py_ssize_t
FI_NAME(fi_pass2_groups)(int kind, int unit, int carry, int order, const FI_T *x, Py_ssize_t i, Py_ssize_t end,
                         FI_S fm, FI_S sc, const char *pa, const char *pn, Py_ssize_t rest,
                         FI_NAME(fi_expsums) *sums, FI_NAME(fi_nextmax) *nm, const FI_T *nx, FI_NAME(fi_order) *od)
{
    const Py_ssize_t step = 2 * FI_W * (Py_ssize_t)sizeof(FI_T), nstep = step * rest / 4;
    /* the sums in a local copy: in registers across the groups (through the caller's, the
     * compiler stored them every group) */
    FI_NAME(fi_expsums) local = *sums, *A = &local;
    Py_ssize_t j, k;
    FI_V thr = FI_SPLAT(0), xlv = FI_SPLAT(0);
#if FI_DBL
    FI_V gm = FI_SPLAT(-__builtin_inf());
#else
    FI_M cg = A->c;             /* the count of the lanes z != 0 before the group */
    int every = 0;
#endif
    Py_ssize_t p, cnt = 0;
    int rank = 0, look;
    if (order) {
#if FI_DBL
        thr = FI_NAME(fi_order_thr)(od);
#else
        thr = FI_NAME(fi_order_ethr)(od, unit, fm, sc, &every);
#endif
        xlv = FI_SPLAT(od->xl);
        rank = od->label >= 0;
    }
    for (; i + FI_GROUP * FI_W <= end; i += FI_GROUP * FI_W) {
        for (j = 0; j < FI_GROUP * FI_W; j += 2 * FI_W) {
            FI_V x0, x1;
            for (k = 0; k < step; k += 64)
                __builtin_prefetch(pa + k);
            for (k = 0; k < nstep; k += 64)
                __builtin_prefetch(pn + k, 0, 2);      /* prefetcht1 */
            pa += step;
            pn += nstep;
            FI_LOADV2(x + i + j, &x0, &x1);
            if (carry)
                FI_NAME(fi_nextmax_step)(nm, nx + (i + j - FI_BLOCK));
            if (order) {        /* (bfloat16's two vectors are the even and odd elements) */
                p = i + j;
                if (rank) {
                    if (p + 2 * FI_W <= od->label)
                        cnt += __builtin_popcount(FI_GEBITS(x0, xlv) | FI_GEBITS(x1, xlv) << FI_W);
                    else if (p > od->label)
                        cnt += __builtin_popcount(FI_GTBITS(x0, xlv) | FI_GTBITS(x1, xlv) << FI_W);
                    else {
                        od->rank += FI_NAME(fi_rank_elems)(od, x, 1, p, p + 2 * FI_W);
                    }
                }
#if FI_DBL
                gm = FI_MAX(gm, FI_MAX(x0, x1));
#endif
            }
            x0 -= fm;
            x1 -= fm;
            FI_NAME(fi_expsums_term)(kind, unit ? x0 : x0 * sc, A, 0);
            FI_NAME(fi_expsums_term)(kind, unit ? x1 : x1 * sc, A, 1);
        }
        /* the top k: a group's maximum (float lanes: its exps, fi_order_ethr) against the
         * heap's worst kept value, once a group */
        if (order && od->k > 0) {
#if FI_DBL
            look = od->filled < od->k || FI_ANY(gm > thr);
            gm = FI_SPLAT(-__builtin_inf());
#else
            look = every || FI_GTBITS(A->sf, thr) != 0 || fi_anynei(A->c, cg + FI_GROUP);
            cg = A->c;
#endif
            if (look) {
                FI_NAME(fi_order_heap_above)(od, x, i, i + FI_GROUP * FI_W);
#if FI_DBL
                thr = FI_NAME(fi_order_thr)(od);
#else
                thr = FI_NAME(fi_order_ethr)(od, unit, fm, sc, &every);
#endif
            }
        }
        FI_NAME(fi_expsums_widen)(kind, A);
    }
    if (order)
        od->rank += cnt;
    *sums = local;
    return i;
}

/* Pass 2 of one kind (a constant: each kind is its own loop). With e = exp(z):
 *   all kinds: s = sum e - (one maximal element's 1), from the number of z == 0 (maximal);
 *   FI_K_ENT:    a = sum e z;
 *   FI_K_SMOOTH: a = sum w z (w != 0), b = sum w  (class weights w);
 *   FI_K_SOFT:   u = w (c1 t + c0) for soft targets t: a = sum u z (u != 0), b = sum u, bad t flagged;
 *   FI_K_PAIR:   a second row y: b = sum e^y less one maximal 1, a = sum e^x (z^x - z^y)
 *                (in double lanes for every storage type).
 * The sums run in double lanes (FI_NH double vectors per compute vector), the counts of
 * elements in integer lanes. */
static inline __attribute__((always_inline)) void
FI_NAME(fi_pass2_kind)(int kind, int unit, int order, const FI_T *x, Py_ssize_t xs, const FI_T *y, Py_ssize_t ys,
                       Py_ssize_t n, double mx, double my, const fi_logit_args *g, fi_logit_sums *out,
                       fi_row_carry *cy, FI_NAME(fi_order) *od, fi_stop_t *stop)
{
    const double *wt = g->wt, scale = g->scale, c1 = g->c1, c0 = g->c0;
    /* the next row's pass 1, FI_BLOCK elements behind this pass: fetched by then (fi_row_carry) */
    const int fuse = FI_FUSES(kind, xs, cy), fusep = FI_FUSES_PAIR(kind, xs, ys, cy);
    const FI_T *nx = fuse || fusep ? x + cy->nxt : x, *ny = fusep ? y + cy[1].nxt : y;
    FI_NAME(fi_nextmax) nm, nmy;
    Py_ssize_t ndone = 0;
    Py_ssize_t pfx = g->pfx, pfy = g->pfy, head = fuse ? 0 : FI_PF_HEAD, rest = fuse ? 4 : FI_PF_REST;
    FI_V z, t;
    FI_NAME(fi_expsums) A;
    fi_vd a0 = fi_splatd(0), a1 = fi_splatd(0);
    fi_vd b0 = fi_splatd(0), b1 = fi_splatd(0), u, zd, zyd, ed, eyd, td;
    fi_vd cx = fi_splatd(0), cyd = fi_splatd(0);          /* FI_K_PAIR: counts of z == 0 */
    FI_V bd = FI_SPLAT(0);
    FI_S fm = (FI_S)mx, sc = (FI_S)scale;
    FI_T fill = FI_NEGINF, zero;
    Py_ssize_t blk, i, end;
    int h;
    FI_I cl[FI_W];
    FI_S bdl[FI_W];
    double csum, off = 0.0, bdsum = 0.0;
    FI_NAME(fi_nextmax_init)(&nm);
    FI_NAME(fi_nextmax_init)(&nmy);
    memset(&A, 0, sizeof A);
    memset(&zero, 0, sizeof zero);
    for (blk = 0; blk < n; blk += FI_BLOCK) {
        if (n > FI_BLOCK && fi_poll_block(stop, FI_BLOCK))
            break;
        end = blk + FI_BLOCK < n ? blk + FI_BLOCK : n;
        i = blk;
        if ((kind == FI_K_LSE || kind == FI_K_ENT) && xs == 1 && end - i >= FI_GROUP * FI_W) {
            /* a contiguous row: whole groups, prefetching rest quarters of each step's bytes
             * from the next row (FI_PF_REST, or 4 when this pass takes the next row's maximum;
             * without a next row, this row) */
            const char *pn = pfx ? (const char *)(x + pfx) + (n * head + i * rest) * (Py_ssize_t)sizeof(FI_T) / 4
                                 : (const char *)(x + i);
            const char *pa = (const char *)(x + i) + FI_PF_BYTES;
            if (fuse && blk >= FI_BLOCK) {       /* the next row's block before this one */
                i = FI_NAME(fi_pass2_groups)(kind, unit, 1, order, x, i, end, fm, sc, pa, pn, 4, &A, &nm, nx, od);
                ndone = i - FI_BLOCK;
            } else {
                i = FI_NAME(fi_pass2_groups)(kind, unit, 0, order, x, i, end, fm, sc, pa, pn, rest, &A, &nm, nx,
                                             od);
            }
        }
        if (order)              /* what the whole groups left: a strided row, the row's tail */
            FI_NAME(fi_order_range)(od, x, xs, i, end);
#ifdef FI_PAIRED
        if (kind == FI_K_LSE || kind == FI_K_ENT)
            for (; i < end; i += 2 * FI_W) {      /* two vectors a step, as the contiguous steps */
                FI_V a, b;
                FI_NAME(fi_lanes2)(x, i, xs, end - i, &a, &b);
                if (pfx)
                    __builtin_prefetch(x + pfx + i);
                FI_NAME(fi_expsums_add)(kind, unit ? a - fm : (a - fm) * sc, &A, 0);
                FI_NAME(fi_expsums_add)(kind, unit ? b - fm : (b - fm) * sc, &A, 1);
            }
#endif
        for (; i < end; i += FI_W) {
            FI_V xv = FI_NAME(fi_lanes)(x, i, xs, end - i, fill);
            /* this pass reads the row from cache and is compute-bound: meanwhile, the next row
             * this thread reads is fetched for pass 1 (a harmless hint past the batch's end) */
            if (pfx)
                __builtin_prefetch(x + pfx + i);
            if (kind == FI_K_PAIR && pfy)
                __builtin_prefetch(y + pfy + i);
            /* both next rows' maxima, a block behind their prefetch, 2 FI_W elements every
             * other step (a partial last block reads on at most FI_W elements of the next
             * rows' block before it: within them) */
            if (kind == FI_K_PAIR && fusep && blk >= FI_BLOCK && ((i - blk) / FI_W) % 2 == 0) {
                FI_NAME(fi_nextmax_step)(&nm, nx + (i - FI_BLOCK));
                FI_NAME(fi_nextmax_step)(&nmy, ny + (i - FI_BLOCK));
                ndone = i - FI_BLOCK + 2 * FI_W;
            }
            if (kind == FI_K_PAIR) {
                /* KL and JS of close distributions are small differences of O(1) sums:
                 * their exps are taken in double whatever the storage type */
                FI_V yv = FI_NAME(fi_lanes)(y, i, ys, end - i, fill);
                for (h = 0; h < FI_NH; h++) {
                    zd = (FI_HALF(xv, h) - mx) * scale;
                    zyd = (FI_HALF(yv, h) - my) * scale;
                    ed = fi_vexp_neg(zd);
                    eyd = fi_vexp_neg(zyd);
                    cx += fi_seld(zd == 0, fi_splatd(1.0), fi_splatd(0.0));
                    cyd += fi_seld(zyd == 0, fi_splatd(1.0), fi_splatd(0.0));
                    if (h == 0) {
                        A.s0 += fi_seld(zd == 0, fi_splatd(0), ed);
                        b0 += fi_seld(zyd == 0, fi_splatd(0), eyd);
                        a0 += fi_seld(ed == 0, fi_splatd(0), ed * (zd - zyd));
                    } else {
                        A.s1 += fi_seld(zd == 0, fi_splatd(0), ed);
                        b1 += fi_seld(zyd == 0, fi_splatd(0), eyd);
                        a1 += fi_seld(ed == 0, fi_splatd(0), ed * (zd - zyd));
                    }
                }
                continue;
            }
            z = unit ? xv - fm : (xv - fm) * sc;
            /* double lanes: the vectors alternate between the two sums as in the two-vector
             * steps, so a strided row adds as the same row contiguous does */
            FI_NAME(fi_expsums_add)(kind, z, &A, (int)((i / FI_W) & 1));
            if (kind == FI_K_SMOOTH || kind == FI_K_SOFT) {
                if (kind == FI_K_SOFT) {
                    t = FI_NAME(fi_lanes)(y, i, ys, end - i, zero);
                    bd += FI_SEL((t >= 0) & (t < (FI_S)__builtin_inf()), FI_SPLAT(0), FI_SPLAT(1));
                }
                for (h = 0; h < FI_NH; h++) {
                    u = FI_NAME(fi_weights)(wt, i + h * FI_ND, end - i - h * FI_ND);
                    if (kind == FI_K_SOFT) {
                        td = FI_HALF(t, h);
                        u = u * (c1 * td + c0);
                    }
                    zd = FI_HALF(z, h);
                    if (h == 0) {
                        a0 += fi_seld(u == 0, fi_splatd(0), u * zd);
                        b0 += u;
                    } else {
                        a1 += fi_seld(u == 0, fi_splatd(0), u * zd);
                        b1 += u;
                    }
                }
            }
        }
    }
#if !FI_DBL
    A.s0 += fi_lo(A.sf);
    A.s1 += fi_hi(A.sf);
    A.a0 += fi_lo(A.af);
    A.a1 += fi_hi(A.af);
#endif
    if (ndone > 0) {
        FI_NAME(fi_nextmax_save)(&nm, cy, nx, n, ndone);
        if (fusep)
            FI_NAME(fi_nextmax_save)(&nmy, cy + 1, ny, n, ndone);
    }
    memcpy(cl, &A.c, sizeof cl);
    memcpy(bdl, &bd, sizeof bdl);
    for (h = 0; h < FI_W; h++) {
        off += (double)cl[h];
        bdsum += bdl[h];
    }
    csum = (double)A.nl - off + fi_hsum(cx);              /* the maximal elements */
    /* one maximal element is the leading 1 of S = 1 + t; the others (ties) are exact integers */
    out->s = fi_hsum(A.s0 + A.s1) + (csum - 1.0);
    out->a = fi_hsum(A.a0 + A.a1 + a0 + a1);
    out->b = kind == FI_K_PAIR ? fi_hsum(b0 + b1) + (fi_hsum(cyd) - 1.0) : fi_hsum(b0 + b1);
    out->bad = bdsum != 0;
}

static void FI_NAME(fi_pass2)(int kind, const FI_T *x, Py_ssize_t xs, const FI_T *y, Py_ssize_t ys,
                              Py_ssize_t n, double mx, double my, const fi_logit_args *g,
                              fi_logit_sums *out, fi_row_carry *cy, fi_stop_t *stop)
{
    int unit = (FI_S)g->scale == (FI_S)1;      /* (x - m) * 1 is x - m */
    switch (kind) {     /* each kind its own specialized loop; temperature 1 its own too */
    case FI_K_ENT:
        if (unit)
            FI_NAME(fi_pass2_kind)(FI_K_ENT, 1, 0, x, xs, y, ys, n, mx, my, g, out, cy, NULL, stop);
        else
            FI_NAME(fi_pass2_kind)(FI_K_ENT, 0, 0, x, xs, y, ys, n, mx, my, g, out, cy, NULL, stop);
        break;
    case FI_K_SMOOTH:
        FI_NAME(fi_pass2_kind)(FI_K_SMOOTH, 0, 0, x, xs, y, ys, n, mx, my, g, out, cy, NULL, stop);
        break;
    case FI_K_SOFT:
        FI_NAME(fi_pass2_kind)(FI_K_SOFT, 0, 0, x, xs, y, ys, n, mx, my, g, out, cy, NULL, stop);
        break;
    case FI_K_PAIR:
        FI_NAME(fi_pass2_kind)(FI_K_PAIR, 0, 0, x, xs, y, ys, n, mx, my, g, out, cy, NULL, stop);
        break;
    default:
        if (unit)
            FI_NAME(fi_pass2_kind)(FI_K_LSE, 1, 0, x, xs, y, ys, n, mx, my, g, out, cy, NULL, stop);
        else
            FI_NAME(fi_pass2_kind)(FI_K_LSE, 0, 0, x, xs, y, ys, n, mx, my, g, out, cy, NULL, stop);
    }
}

/* JS: sum P log(2P/(P+Q)) + Q log(2Q/(P+Q)), P = exp(z^x - log S_x), Q likewise, in double.
 * A pair's term is (M/2) psi(d), M = P + Q, d = log(P/Q), psi(d) = phi(tanh(d/2)),
 * phi(t) = (1+t) log(1+t) + (1-t) log(1-t) >= 0. Nearly equal P and Q (|d| < 1/4) take psi's
 * series in d^2 (8 terms, relative error ~1e-16, no cancellation), with d = (x - y)/T - c
 * from the logits and one constant c a row: an error in c shifts every d alike, and to first
 * order that adds (M/2) psi'(d) = (P - Q)/2 a pair, which sums to 0 over the row. The others
 * take one log a pair: that of the larger one's ratio, L in [0, log 2]; the other's is
 * L + log(Q/P) (or L + log(P/Q)), the difference of the two exps' arguments. */
#define FI_JS_PSI1 0x1p-2
#define FI_JS_PSI2 -0x1p-5
#define FI_JS_PSI3 0.003472222222222222
#define FI_JS_PSI4 -0.0003689236111111111
#define FI_JS_PSI5 3.844246031746032e-05
#define FI_JS_PSI6 -3.967105746619636e-06
#define FI_JS_PSI7 4.0717132110981315e-07
#define FI_JS_PSI8 -4.165175591615634e-08
/* d = (x - y) scale - c for a pair of elements (double lanes) with x - y and its product by scale
 * carried exactly (float64 logits: x - y by TwoSum; the others' is exact in double) until c, whose
 * subtraction is exact where d is small; -inf or NaN logits give a d that is not small (or NaN) */
static inline __attribute__((always_inline)) fi_vd FI_NAME(fi_pair_d)(fi_vd xh, fi_vd yh, double scale, double c)
{
    fi_vd s = xh - yh, e = fi_splatd(0);
    if (sizeof(FI_T) == 8) {
        fi_vd bb = s - xh;
        e = (xh - (s - bb)) - (yh + bb);
    }
    fi_vd sh = s * scale;
    return (sh - c) - (fi_vfnma(s, fi_splatd(scale), sh) - e * scale);
}

static double FI_NAME(fi_js_pass3)(const FI_T *x, Py_ssize_t xs, const FI_T *y, Py_ssize_t ys, Py_ssize_t n,
                                   double mx, double my, double lsx, double lsy, double scale, fi_stop_t *stop)
{
    fi_vd acc = fi_splatd(0), P, Q, M;
    const double c = (mx - my) * scale + (lsx - lsy);     /* d = ax - ay = (x - y) scale - c */
    FI_T fill = FI_NEGINF;
    Py_ssize_t blk, i, end;
    int h;
    for (blk = 0; blk < n; blk += FI_BLOCK) {
        if (n > FI_BLOCK && fi_poll_block(stop, FI_BLOCK))
            break;
        end = blk + FI_BLOCK < n ? blk + FI_BLOCK : n;
        for (i = blk; i < end; i += FI_W) {
            FI_V xv = FI_NAME(fi_lanes)(x, i, xs, end - i, fill);
            FI_V yv = FI_NAME(fi_lanes)(y, i, ys, end - i, fill);
            for (h = 0; h < FI_NH; h++) {
                fi_vd xh = FI_HALF(xv, h), yh = FI_HALF(yv, h);
                fi_vd ax = (xh - mx) * scale - lsx, ay = (yh - my) * scale - lsy;
                P = fi_vexp_neg(ax);
                Q = fi_vexp_neg(ay);
                M = P + Q;
                fi_vl pb = P >= Q;
                fi_vd B = fi_seld(pb, P, Q);
                /* 2B/M in [1, 2]; where P = Q = 0 some number (NaN on AVX-512), selected away */
                fi_vd L = fi_vlog_pos((B + B) / M);
                fi_vd Ls = L + fi_seld(pb, ay - ax, ax - ay);
                fi_vd far = fi_seld(P == 0, fi_splatd(0), P * fi_seld(pb, L, Ls))
                          + fi_seld(Q == 0, fi_splatd(0), Q * fi_seld(pb, Ls, L));
                /* -inf or NaN logits: d is not small, the pair takes the logs */
                fi_vd d = FI_NAME(fi_pair_d)(xh, yh, scale, c), v = d * d, v2 = v * v;
                fi_vd ps = v * ((FI_JS_PSI1 + v * FI_JS_PSI2) + v2 * (FI_JS_PSI3 + v * FI_JS_PSI4)
                                + (v2 * v2) * ((FI_JS_PSI5 + v * FI_JS_PSI6) + v2 * (FI_JS_PSI7 + v * FI_JS_PSI8)));
                acc += fi_seld(v < 0.0625, 0.5 * M * ps, far);
            }
        }
    }
    return fi_hsum(acc);
}

/* Total variation: (1/2) sum |P - Q|, in double, from the same P, Q and d as JS's pass 3, each pair
 * as B g(|d|), B = max(P, Q), g(t) = 1 - e^-t: by its series below t = 1/4 (12 terms, relative
 * error ~1e-16) -- nearly equal P and Q are no difference of two rounded exps -- else as
 * max(P, Q) - min(P, Q), which moves with c as B g(|d|) does, to first order.
 * The error of the row's constant c shifts every d alike by some e, which moves the sum T+ of the
 * pairs with d > 0 by e A+ and that of the others, T-, by -e A- (A+-: their sums of min(P, Q)),
 * while exactly T+ = T- = TV (sum P = sum Q): TV = (A- T+ + A+ T-) / (A+ + A-) is free of it to
 * first order, so a small distance keeps its relative accuracy. */
static double FI_NAME(fi_tv_pass3)(const FI_T *x, Py_ssize_t xs, const FI_T *y, Py_ssize_t ys, Py_ssize_t n,
                                   double mx, double my, double lsx, double lsy, double scale, fi_stop_t *stop)
{
    fi_vd tp = fi_splatd(0), tn = fi_splatd(0), ap = fi_splatd(0), an = fi_splatd(0), P, Q;
    const double c = (mx - my) * scale + (lsx - lsy);     /* d = ax - ay = (x - y) scale - c */
    FI_T fill = FI_NEGINF;
    Py_ssize_t blk, i, end;
    double Tp, Tn, Ap, An;
    int h, j;
    for (blk = 0; blk < n; blk += FI_BLOCK) {
        if (n > FI_BLOCK && fi_poll_block(stop, FI_BLOCK))
            break;
        end = blk + FI_BLOCK < n ? blk + FI_BLOCK : n;
        for (i = blk; i < end; i += FI_W) {
            FI_V xv = FI_NAME(fi_lanes)(x, i, xs, end - i, fill);
            FI_V yv = FI_NAME(fi_lanes)(y, i, ys, end - i, fill);
            for (h = 0; h < FI_NH; h++) {
                fi_vd xh = FI_HALF(xv, h), yh = FI_HALF(yv, h);
                fi_vd ax = (xh - mx) * scale - lsx, ay = (yh - my) * scale - lsy;
                P = fi_vexp_neg(ax);
                Q = fi_vexp_neg(ay);
                fi_vd d = FI_NAME(fi_pair_d)(xh, yh, scale, c);        /* as JS's: exact until c */
                /* d NaN: a -inf logit on one side (or both: the pair adds 0), |d| = inf */
                fi_vl nan = d != d, pos = (nan & (P > Q)) | (~nan & (d > 0.0));
                fi_vd t = fi_seld(nan, fi_splatd(__builtin_inf()), fi_seld(d < 0.0, -d, d)), u = fi_splatd(1);
                fi_vd hi = fi_vmaxd(P, Q), lo = fi_vmind(P, Q);
                /* abs(d) >= 1/4: max - min = max (1 - e^-t) loses at most 2 bits, as 1 - e^-t would
                 * (min / max <= e^-1/4); below, the series keeps the small term's relative accuracy */
                fi_vd term = hi - lo;
                fi_vl small = t < 0.25;
                if (fi_anyl(small)) {
                    /* 1 - e^-t = t (1 - t/2 (1 - t/3 (1 - ... (1 - t/13)))) */
                    for (j = 13; j >= 2; j--)
                        u = 1.0 - (t * (1.0 / j)) * u;
                    term = fi_seld(small, hi * (t * u), term);
                }
                term = fi_seld(hi == 0.0, fi_splatd(0), term);  /* both 0: d is NaN, the pair adds 0 */
                tp += fi_seld(pos, term, fi_splatd(0));
                tn += fi_seld(pos, fi_splatd(0), term);
                ap += fi_seld(pos, lo, fi_splatd(0));
                an += fi_seld(pos, fi_splatd(0), lo);
            }
        }
    }
    Tp = fi_hsum(tp), Tn = fi_hsum(tn), Ap = fi_hsum(ap), An = fi_hsum(an);
    return Ap + An > 0.0 ? (An * Tp + Ap * Tn) / (Ap + An) : 0.5 * (Tp + Tn);
}

/* one vector r of an output row from element i on (cnt of them exist; stride os) */
static inline __attribute__((always_inline)) void FI_NAME(fi_store)(FI_S *o, Py_ssize_t os, Py_ssize_t i,
                                                                    Py_ssize_t cnt, FI_V r)
{
    FI_S buf[FI_W];
    Py_ssize_t k;
    if (os == 1 && cnt >= FI_W) {
        memcpy(o + i, &r, sizeof r);
    } else {
        memcpy(buf, &r, sizeof buf);
        for (k = 0; k < FI_W && k < cnt; k++)
            o[(i + k) * os] = buf[k];
    }
}

/* o = log_softmax (z - log S) or softmax (exp(z) / S), in the compute type */
static void FI_NAME(fi_write_pass)(const FI_T *x, Py_ssize_t xs, FI_S *o, Py_ssize_t os, Py_ssize_t n,
                                   double mx, double scale, double logs, double invs, int log_out,
                                   fi_stop_t *stop)
{
    FI_V z, r;
    FI_S fm = (FI_S)mx, sc = (FI_S)scale, lg = (FI_S)logs, iv = (FI_S)invs;
    FI_T fill = FI_NEGINF;
    Py_ssize_t blk, i, end;
    for (blk = 0; blk < n; blk += FI_BLOCK) {
        if (n > FI_BLOCK && fi_poll_block(stop, FI_BLOCK))
            return;
        end = blk + FI_BLOCK < n ? blk + FI_BLOCK : n;
        for (i = blk; i < end; i += FI_W) {
            z = (FI_NAME(fi_lanes)(x, i, xs, end - i, fill) - fm) * sc;
            r = log_out ? z - lg : FI_EXPV(z) * iv;
            FI_NAME(fi_store)(o, os, i, end - i, r);
        }
    }
}

/* The gradient of a row's cross-entropy with respect to its logits x, written to o (which may be
 * x itself: each vector is read before it is written) once the loss is taken. With z = x / T,
 * p = softmax(z), class weights w, smoothing c1 = 1 - eps, c0 = eps / K and f the row's factor
 * (its upstream gradient, 1/T, the reduction's and the base's scales):
 *   a label y: o_c = f (A p_c - c0 w_c) - [c = y] f c1 w_y,  A = c1 w_y + c0 sum w;
 *   soft targets t (y != NULL): o_c = f (b p_c - w_c (c1 t_c + c0)),  b = sum w (c1 t + c0).
 * The p term is written a vector at a time in the compute type (pscale = f A / sum e, or f b /
 * sum e); the per-class terms follow in a second in-cache pass where they are not one constant,
 * and the label's element is written again from its probability in double. */
static void FI_NAME(fi_grad_pass)(const FI_T *x, Py_ssize_t xs, const FI_T *y, Py_ssize_t ys, Py_ssize_t label,
                                  FI_S *o, Py_ssize_t os, Py_ssize_t n, double mx, double pscale, double f,
                                  double pl, const fi_logit_args *g, fi_stop_t *stop)
{
    FI_V z, r;
    FI_S fm = (FI_S)mx, sc = (FI_S)g->scale, ps = (FI_S)pscale;
    /* the constant per-class term: labels with every weight 1 */
    FI_S sub = (FI_S)(y == NULL && g->wunit ? f * g->c0 : 0.0);
    FI_T fill = FI_NEGINF;
    Py_ssize_t blk, i, end, c;
    for (blk = 0; blk < n; blk += FI_BLOCK) {
        if (n > FI_BLOCK && fi_poll_block(stop, FI_BLOCK))
            return;
        end = blk + FI_BLOCK < n ? blk + FI_BLOCK : n;
        for (i = blk; i < end; i += FI_W) {
            z = (FI_NAME(fi_lanes)(x, i, xs, end - i, fill) - fm) * sc;
            r = FI_EXPV(z) * ps - sub;
            FI_NAME(fi_store)(o, os, i, end - i, r);
        }
        if (y != NULL) {
            for (c = blk; c < end; c++)
                o[c * os] -= (FI_S)(f * g->wt[c] * (g->c1 * (double)FI_LOAD1(y[c * ys]) + g->c0));
        } else if (!g->wunit && g->c0 != 0.0) {
            for (c = blk; c < end; c++)
                o[c * os] -= (FI_S)(f * g->c0 * g->wt[c]);
        }
    }
    if (y == NULL && label >= 0)
        o[label * os] = (FI_S)(pscale * pl - f * g->c0 * g->wt[label] - f * g->c1 * g->wt[label]);
}

/* The gradient of KL(softmax(x/T) || softmax(y/T)) with respect to y, written to o (which may
 * be y itself): o_c = f (b_c - a_c), a = softmax(x/T), b = softmax(y/T), f the row's factor (1/T
 * in it); ivx = f / sum e^x, ivy = f / sum e^y. */
static void FI_NAME(fi_kl_grad_pass)(const FI_T *x, Py_ssize_t xs, const FI_T *y, Py_ssize_t ys, FI_S *o,
                                     Py_ssize_t os, Py_ssize_t n, double mx, double my, double scale, double ivx,
                                     double ivy, fi_stop_t *stop)
{
    FI_V zx, zy, r;
    FI_S fmx = (FI_S)mx, fmy = (FI_S)my, sc = (FI_S)scale, ax = (FI_S)ivx, ay = (FI_S)ivy;
    FI_T fill = FI_NEGINF;
    Py_ssize_t blk, i, end;
    for (blk = 0; blk < n; blk += FI_BLOCK) {
        if (n > FI_BLOCK && fi_poll_block(stop, FI_BLOCK))
            return;
        end = blk + FI_BLOCK < n ? blk + FI_BLOCK : n;
        for (i = blk; i < end; i += FI_W) {
            zx = (FI_NAME(fi_lanes)(x, i, xs, end - i, fill) - fmx) * sc;
            zy = (FI_NAME(fi_lanes)(y, i, ys, end - i, fill) - fmy) * sc;
            r = FI_EXPV(zy) * ay - FI_EXPV(zx) * ax;
            FI_NAME(fi_store)(o, os, i, end - i, r);
        }
    }
}

static void FI_NAME(fi_fill_nan)(FI_S *o, Py_ssize_t os, Py_ssize_t n)
{
    Py_ssize_t j;
    for (j = 0; j < n; j++)
        o[j * os] = __builtin_nan("");
}

/* Pass 2 of softmax_stats: the sums of the entropy kind (ent) or of the log-sum-exp kind -- the s of
 * both is the same sum, bit for bit -- and, with od, the order statistics, always with the entropy
 * kind's sums (one loop less to compile for each type and level: the entropy's FMA is ~5 % of
 * the row's time) */
static void FI_NAME(fi_pass2_stats)(int ent, const FI_T *x, Py_ssize_t xs, Py_ssize_t n, double mx,
                                    const fi_logit_args *g, fi_logit_sums *out, fi_row_carry *cy,
                                    FI_NAME(fi_order) *od, fi_stop_t *stop)
{
    if (od == NULL)
        FI_NAME(fi_pass2)(ent ? FI_K_ENT : FI_K_LSE, x, xs, x, xs, n, mx, 0.0, g, out, cy, stop);
    else if ((FI_S)g->scale == (FI_S)1)
        FI_NAME(fi_pass2_kind)(FI_K_ENT, 1, 1, x, xs, x, xs, n, mx, 0.0, g, out, cy, od, stop);
    else
        FI_NAME(fi_pass2_kind)(FI_K_ENT, 0, 1, x, xs, x, xs, n, mx, 0.0, g, out, cy, od, stop);
}

/* A floor for the top k of a row x whose first elements a carry saw (before its pass 1 spends
 * the carry): the k-th largest of the carry's lane maxima. They are k elements of the row, so
 * it is at most the row's k-th largest logit, and the heap of the top k takes no element below
 * it (fi_order_push): after a few elements at the top of the row, the groups of pass 2 seldom
 * look again (fi_order_ethr). -inf without a carry, for k above the lanes, and for float64. */
static FI_S FI_NAME(fi_carry_floor)(const fi_row_carry *cy, const FI_T *x, Py_ssize_t xs, Py_ssize_t n,
                                    Py_ssize_t k)
{
    FI_S lane[32], t;
    int nl, l, a, b;
    if (FI_DBL || cy == NULL || cy->row != (const void *)x || cy->n != n || xs != 1 || cy->done <= 0)
        return (FI_S)-__builtin_inf();
#ifdef FI_BITS_MAX
    nl = (int)(sizeof(fi_vs) / sizeof(int16_t));
    for (l = 0; l < nl; l++) {        /* the signed max where it is >= 0, else the signed min */
        FI_T bits = (FI_T)(cy->hi[l] >= 0 ? cy->hi[l] : cy->lo[l] == INT16_MAX ? (int16_t)0xff80 : cy->lo[l]);
        lane[l] = (FI_S)FI_LOAD1(bits);
    }
#else
    nl = 2 * FI_W;
    for (l = 0; l < nl && l < 32; l++)
        lane[l] = (FI_S)cy->top[l];
#endif
    if (k > nl)
        return (FI_S)-__builtin_inf();
    for (a = 0; a < k; a++)           /* the k largest first, the k-th at k - 1 */
        for (b = a + 1; b < nl; b++)
            if (lane[b] > lane[a]) {
                t = lane[a];
                lane[a] = lane[b];
                lane[b] = t;
            }
    return lane[k - 1];
}

/* One row of softmax_stats (g->op == FI_L_STATS): r[FI_ST_*], then the top g->k as log-probs
 * (r + FI_ST_N) and their indices (r + FI_ST_N + g->k). The sums are those of softmax_entropy
 * and softmax_cross_entropy, so nll and entropy are theirs bit for bit; the argmax (the top 1),
 * the label's rank -- #{j: x_j > x_y} + #{j < y: x_j == x_y}, its place in the stable
 * descending order, 0 exactly when the label is the first maximal element -- and the top k
 * are taken in the same pass 2 (g->want). NaN (and -1 for the indices) for an invalid row. */
static void FI_NAME(fi_stats_row)(const FI_T *x, Py_ssize_t xs, Py_ssize_t label, Py_ssize_t n,
                                  const fi_logit_args *g, double *r, fi_row_carry *cy, fi_stop_t *stop)
{
    const double nan = __builtin_nan("");
    const Py_ssize_t k = g->k;
    double *tv = r + FI_ST_N, *ti = r + FI_ST_N + k, v1 = 0.0, j1 = -1.0, m, ls, zl;
    FI_S floor;
    fi_logit_sums t = {0.0, 0.0, 0.0, 0};
    FI_NAME(fi_order) od;
    int rank = (g->want & FI_WANT_RANK) && label >= 0, order = rank || (g->want & FI_WANT_ORDER);
    Py_ssize_t j;
    int f;
    for (f = 0; f < FI_ST_N; f++)
        r[f] = nan;
    r[FI_ST_ARGMAX] = r[FI_ST_RANK] = -1.0;
    r[FI_ST_NLL] = label == -2 ? 0.0 : nan;
    for (j = 0; j < k; j++) {
        tv[j] = nan;
        ti[j] = -1.0;
    }
    if (label == -2 || n == 0)
        return;
    floor = order ? FI_NAME(fi_carry_floor)(cy, x, xs, n, k > 0 ? k : 1) : (FI_S)0;
    m = FI_NAME(fi_pass1)(x, xs, n, FI_FUSES(FI_K_ENT, xs, cy) ? 0 : g->pfx, cy, stop);
    if (stop != NULL && stop->flag)
        return;
    if (m == __builtin_inf() || m == -__builtin_inf())        /* +inf; every logit -inf or NaN */
        return;
    memset(&od, 0, sizeof od);
    od.label = rank ? label : -1;
    od.xl = rank ? (FI_S)FI_LOAD1(x[label * xs]) : (FI_S)0;
    od.k = k > 0 ? k : (g->want & FI_WANT_ORDER ? 1 : 0);      /* the argmax is the top 1 */
    od.floor = od.k == 1 ? (FI_S)m : floor;                     /* the top 1 is the maximum */
    od.v = k > 0 ? tv : &v1;
    od.jj = k > 0 ? ti : &j1;
    FI_NAME(fi_pass2_stats)((g->want & FI_WANT_ENT) != 0, x, xs, n, m, g, &t, cy, order ? &od : NULL, stop);
    if (t.s != t.s || (stop != NULL && stop->flag)) {         /* a NaN logit */
        for (j = 0; j < k; j++) {
            tv[j] = nan;
            ti[j] = -1.0;
        }
        return;
    }
    ls = log1p(t.s);
    r[FI_ST_LSE] = m * g->scale + ls;
    r[FI_ST_ENT] = fi_nonneg(ls - t.a / (1.0 + t.s));
    r[FI_ST_MAXP] = 1.0 / (1.0 + t.s);
    r[FI_ST_NLL] = 0.0;
    if (label >= 0) {
        zl = (double)(((FI_S)FI_LOAD1(x[label * xs]) - (FI_S)m) * (FI_S)g->scale);
        r[FI_ST_NLL] = fi_nonneg(ls - zl);
    }
    if (!order)
        return;
    if (rank)
        r[FI_ST_RANK] = (double)od.rank;
    if (od.k > 0) {
        fi_topk_sort(od.v, od.jj, od.k);
        r[FI_ST_ARGMAX] = od.jj[0];
    }
    for (j = 0; j < k; j++)                                   /* the logits as log-probs */
        tv[j] = (double)(((FI_S)tv[j] - (FI_S)m) * (FI_S)g->scale) - ls;
}

/* One row of op g->op (FI_L_* codes); res (and res2) get the row's result, NaN when invalid
 * (NaN or +inf logits, an invalid soft target, or -inf everywhere where that is undefined);
 * NaN, and o partly written, once stop is set. */
/* The gradient of a cross-entropy or KL row from the normalizers a forward pass saved (lse,
 * FI_LSE_SAVE): with L = log sum exp(x/T), p = exp(x/T - L) is exp((x - L T) / T), so the write
 * pass of return_grad runs with L T in place of the row's max and 1 in place of 1 / sum e. A
 * normalizer that is not finite (the forward row was invalid) gives NaN. res: 0. */
static void FI_NAME(fi_grad_from_lse)(const FI_T *x, Py_ssize_t xs, const FI_T *y, Py_ssize_t ys,
                                      Py_ssize_t label, FI_S *o, Py_ssize_t os, Py_ssize_t n,
                                      const fi_logit_args *g, double gf, const double *lse, fi_stop_t *stop)
{
    double L = lse[0], L2 = lse[1], sc = g->scale, A;
    if (!(L > -__builtin_inf() && L < __builtin_inf()) || L2 != L2 || (g->op == FI_L_KL && !(L2 < __builtin_inf()))) {
        FI_NAME(fi_fill_nan)(o, os, n);
        return;
    }
    switch (g->op) {
    case FI_L_CE_LABEL:
        A = g->c1 * g->wt[label] + g->c0 * g->wsum;
        FI_NAME(fi_grad_pass)(x, xs, NULL, 0, label, o, os, n, L / sc, gf * A, gf,
                              exp((double)(FI_S)FI_LOAD1(x[label * xs]) * sc - L), g, stop);
        break;
    case FI_L_CE_SOFT:      /* lse[1]: b, the sum of the weighted smoothed targets */
        FI_NAME(fi_grad_pass)(x, xs, y, ys, -1, o, os, n, L / sc, gf * L2, gf, 0.0, g, stop);
        break;
    default:                /* FI_L_KL, with respect to y: lse[1] is y's */
        FI_NAME(fi_kl_grad_pass)(x, xs, y, ys, o, os, n, L / sc, L2 / sc, sc, gf, gf, stop);
    }
}

static void FI_NAME(fi_logit_row)(const FI_T *x, Py_ssize_t xs, const FI_T *y, Py_ssize_t ys, Py_ssize_t label,
                                  FI_S *o, Py_ssize_t os, Py_ssize_t n, const fi_logit_args *g,
                                  double *res, double *res2, double *lse, fi_row_carry *cy, fi_stop_t *stop)
{
    double m, my = 0.0, ls, lsy, v, gf = g->grad ? res[0] : 0.0;    /* the gradient's row factor */
    fi_logit_sums t = {0.0, 0.0, 0.0, 0};
    int op = g->op, pair = op == FI_L_KL || op == FI_L_JS || op == FI_L_TV, kind, fusep;
    if (op == FI_L_STATS) {
        FI_NAME(fi_stats_row)(x, xs, label, n, g, res, cy, stop);
        return;
    }
    if (g->lse_mode == FI_LSE_FROM) {
        res[0] = 0.0;
        if (n > 0)
            FI_NAME(fi_grad_from_lse)(x, xs, y, ys, label, o, os, n, g, gf, lse, stop);
        return;
    }
    if (g->lse_mode == FI_LSE_SAVE) {   /* NaN until the row's sums are known */
        lse[0] = lse[1] = __builtin_nan("");
    }
    if (n == 0) {
        res[0] = op == FI_L_LSE ? -__builtin_inf() : (op != FI_L_CE_LABEL ? 0.0 : __builtin_nan(""));
        if (op == FI_L_CE_LABEL && g->smooth)
            res2[0] = 0.0;
        return;
    }
    kind = op == FI_L_ENTROPY ? FI_K_ENT : op == FI_L_CE_LABEL ? (g->smooth ? FI_K_SMOOTH : FI_K_LSE)
         : op == FI_L_CE_SOFT ? FI_K_SOFT : pair ? FI_K_PAIR : FI_K_LSE;
    /* a pass 2 that takes the next row's maximum prefetches the whole next row itself */
    fusep = FI_FUSES_PAIR(kind, xs, ys, cy);
    m = FI_NAME(fi_pass1)(x, xs, n, FI_FUSES(kind, xs, cy) || fusep ? 0 : g->pfx, cy, stop);
    if (pair)
        my = FI_NAME(fi_pass1)(y, ys, n, fusep ? 0 : g->pfy, cy != NULL ? cy + 1 : NULL, stop);
    if (stop != NULL && stop->flag) {
        res[0] = __builtin_nan("");
        return;
    }
    if (m == __builtin_inf() || my == __builtin_inf()
            || (m == -__builtin_inf() && FI_NAME(fi_has_nan)(x, xs, n))
            || (pair && my == -__builtin_inf() && FI_NAME(fi_has_nan)(y, ys, n)))
        goto invalid;
    if (m == -__builtin_inf() || my == -__builtin_inf()) {     /* every logit -inf */
        if (op == FI_L_LSE) {
            res[0] = -__builtin_inf();
            if (g->grad)                                         /* softmax undefined */
                FI_NAME(fi_fill_nan)(o, os, n);
        } else if (op == FI_L_CE_LABEL) {
            res[0] = __builtin_inf();                            /* the label's logit is -inf */
            if (g->smooth)
                res2[0] = __builtin_inf();
            if (g->grad)                                         /* softmax undefined */
                FI_NAME(fi_fill_nan)(o, os, n);
        } else {
            res[0] = __builtin_nan("");                          /* softmax undefined */
            if (op == FI_L_SOFTMAX || op == FI_L_LOG_SOFTMAX || g->grad)
                FI_NAME(fi_fill_nan)(o, os, n);
        }
        return;
    }
    FI_NAME(fi_pass2)(kind, x, xs, y, ys, n, m, my, g, &t, cy, stop);
    if (t.s != t.s || t.b != t.b)           /* a NaN logit */
        goto invalid;
    if (g->lse_mode == FI_LSE_SAVE) {
        lse[0] = m * g->scale + log1p(t.s);
        lse[1] = op == FI_L_KL ? my * g->scale + log1p(t.b) : (op == FI_L_CE_SOFT ? t.b : 0.0);
    }
    switch (op) {
    case FI_L_ENTROPY:
        res[0] = fi_nonneg(log1p(t.s) - t.a / (1.0 + t.s));
        break;
    case FI_L_CE_LABEL:
        ls = log1p(t.s);
        v = (double)(((FI_S)FI_LOAD1(x[label * xs]) - (FI_S)m) * (FI_S)g->scale);
        res[0] = fi_nonneg(ls - v);
        if (g->smooth)
            res2[0] = t.b * ls - t.a;
        if (g->grad) {      /* after the label's logit is read: o may be x */
            lsy = g->c1 * g->wt[label] + g->c0 * g->wsum;
            FI_NAME(fi_grad_pass)(x, xs, NULL, 0, label, o, os, n, m, gf * lsy / (1.0 + t.s), gf, exp(v),
                                  g, stop);
        }
        break;
    case FI_L_CE_SOFT:
        t.bad = t.bad && !g->vjp;           /* an upstream gradient may be negative */
        /* (vjp: no loss; its sum of u z may be inf - inf where -inf logits meet u of both signs) */
        res[0] = t.bad ? __builtin_nan("") : (g->vjp ? 0.0 : t.b * log1p(t.s) - t.a);
        if (t.bad && g->lse_mode == FI_LSE_SAVE)
            lse[0] = __builtin_nan("");
        if (g->grad) {
            if (t.bad)
                FI_NAME(fi_fill_nan)(o, os, n);
            else
                FI_NAME(fi_grad_pass)(x, xs, y, ys, -1, o, os, n, m, gf * t.b / (1.0 + t.s), gf, 0.0, g, stop);
        }
        break;
    case FI_L_KL:
        /* KL = sum P (log P - log Q) = (1/S_x) sum e^x (z^x - z^y) - log S_x + log S_y */
        res[0] = fi_nonneg(t.a / (1.0 + t.s) - log1p(t.s) + log1p(t.b));
        if (g->grad)        /* with respect to y (the second row): after its sums, o may be y */
            FI_NAME(fi_kl_grad_pass)(x, xs, y, ys, o, os, n, m, my, g->scale, gf / (1.0 + t.s), gf / (1.0 + t.b),
                                     stop);
        break;
    case FI_L_JS:
        ls = log1p(t.s);
        lsy = log1p(t.b);
        res[0] = fi_nonneg(0.5 * FI_NAME(fi_js_pass3)(x, xs, y, ys, n, m, my, ls, lsy, g->scale, stop));
        if (res[0] > FI_LN2_DBL)
            res[0] = FI_LN2_DBL;
        break;
    case FI_L_TV:
        v = FI_NAME(fi_tv_pass3)(x, xs, y, ys, n, m, my, log1p(t.s), log1p(t.b), g->scale, stop);
        res[0] = v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
        break;
    default:    /* logsumexp, softmax, log_softmax */
        ls = log1p(t.s);
        if (op == FI_L_LSE) {
            res[0] = m * g->scale + ls;
            if (g->grad)    /* its gradient: softmax(x) times the row's factor */
                FI_NAME(fi_write_pass)(x, xs, o, os, n, m, g->scale, ls, gf / (1.0 + t.s), 0, stop);
        } else {
            FI_NAME(fi_write_pass)(x, xs, o, os, n, m, g->scale, ls, 1.0 / (1.0 + t.s), op == FI_L_LOG_SOFTMAX,
                                   stop);
            res[0] = 0.0;
        }
    }
    return;
invalid:        /* NaN or +inf logits */
    res[0] = __builtin_nan("");
    if (op == FI_L_CE_LABEL && g->smooth)
        res2[0] = __builtin_nan("");
    if (op == FI_L_SOFTMAX || op == FI_L_LOG_SOFTMAX || g->grad)
        FI_NAME(fi_fill_nan)(o, os, n);
}
