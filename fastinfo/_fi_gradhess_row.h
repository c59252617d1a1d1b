/* The gradient and the diagonal Hessian of the softmax cross-entropy (gamma = 0) and of the
 * focal loss (gamma > 0) with respect to the logits, for the short rows gradient boosting
 * keeps (n_samples x n_classes raw predictions): a row a lane, FI_W rows at once, so the max,
 * the exps and the sums of a row are one vector operation each whatever the number of classes.
 * Instantiated for each storage type by _fi_rows.h (FI_* from _fi_row_type.h).
 *
 * With z = x - max x, e = exp(z), S = sum e, p = e / S, label y, sample weight w:
 *   gamma = 0:  g_c = w (p_c - [c = y]),  h_c = hfac w p_c (1 - p_c)
 *   gamma > 0:  the loss -(1 - p_y)^gamma log p_y; with q = 1 - p_y,
 *               A = q^gamma (gamma p_y log(p_y) / q - 1)          (A = -1 at gamma = 0),
 *               B = gamma p_y q^gamma ((1 - gamma p_y) log p_y + 2 q),
 *               g_c = w A ([c = y] - p_c),
 *               h_c = w (B r_c^2 - A p_c (1 - p_c)),  r_y = 1, r_c = p_c / q (c != y).
 * 1 - p_c is taken as (S - e_c) / S, and for a maximal element (z = 0, e = 1) as t / S, t = S - 1
 * summed as the e of the other elements plus the other maximal elements' 1s: a confident row's
 * small Hessians and gradients keep their relative accuracy (p (1 - p) ~ 1e-30 is not rounded
 * to 0). */

#ifndef FI_GH_FOCAL
#define FI_GH_FOCAL
/* The focal coefficients of one row (doubles): zy = z_y, logs1 = log S (S = 1 + t), q = 1 - p_y */
static inline void fi_gh_focal(double gamma, double zy, double logs1, double q, double *A, double *B)
{
    double lp = zy - logs1, p = exp(lp), qg, r;
    if (q <= 0.0) {             /* p_y = 1: the loss and its derivatives are 0 */
        *A = 0.0;
        *B = 0.0;
        return;
    }
    if (!(lp > -__builtin_inf())) {     /* p_y = 0 (a -inf label logit): the limits, q = 1 */
        *A = -1.0;
        *B = 0.0;
        return;
    }
    qg = exp(gamma * log(q));
    r = lp / q;                 /* log(p) / (1 - p): -1 as p -> 1 */
    *A = qg * (gamma * p * r - 1.0);
    *B = gamma * p * qg * ((1.0 - gamma * p) * lp + 2.0 * q);
}
#endif

/* FI_W elements p[0], p[rs], ... (float64 and float32 storage) */
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__x86_64__)
#define FI_GH_GATHER 1
static inline __attribute__((always_inline)) FI_V FI_NAME(fi_gh_gather)(const FI_T *p, Py_ssize_t rs)
{
#if FI_DBL
    __m512i idx = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi64(rs));
    return (FI_V)_mm512_i64gather_pd(idx, (const void *)p, 8);
#else
    __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                     _mm512_set1_epi32((int)rs));
    return (FI_V)_mm512_i32gather_ps(idx, (const void *)p, 4);
#endif
}
static inline __attribute__((always_inline)) void FI_NAME(fi_gh_scatter)(FI_S *p, Py_ssize_t rs, FI_V v)
{
#if FI_DBL
    __m512i idx = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi64(rs));
    _mm512_i64scatter_pd((void *)p, idx, (__m512d)v, 8);
#else
    __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                     _mm512_set1_epi32((int)rs));
    _mm512_i32scatter_ps((void *)p, idx, (__m512)v, 4);
#endif
}
#else
#define FI_GH_GATHER 0
static inline __attribute__((always_inline)) void FI_NAME(fi_gh_scatter)(FI_S *p, Py_ssize_t rs, FI_V v)
{
    (void)p;
    (void)rs;
    (void)v;
}
static inline __attribute__((always_inline)) FI_V FI_NAME(fi_gh_gather)(const FI_T *p, Py_ssize_t rs)
{
    (void)p;
    (void)rs;
    return FI_SPLAT(0);
}
#endif

/* A vector to dst: past the caches where stream (outputs larger than the caches, which a
 * store would first read in) and dst is aligned to a vector */
static inline __attribute__((always_inline)) void FI_NAME(fi_gh_put)(FI_S *dst, FI_V v, int stream)
{
#if defined(__x86_64__) && FI_VBYTES == 64
    if (stream && ((uintptr_t)dst & 63) == 0) {
#if FI_DBL
        _mm512_stream_pd((double *)dst, (__m512d)v);
#else
        _mm512_stream_ps((float *)dst, (__m512)v);
#endif
        return;
    }
#elif defined(__x86_64__) && FI_VBYTES == 32
    if (stream && ((uintptr_t)dst & 31) == 0) {
#if FI_DBL
        _mm256_stream_pd((double *)dst, (__m256d)v);
#else
        _mm256_stream_ps((float *)dst, (__m256)v);
#endif
        return;
    }
#endif
    (void)stream;
    memcpy(dst, &v, sizeof v);
}

/* The same into an output of the other float type (float32 from float64 lanes, or float64 from
 * float32 lanes): converted, stored past the caches where stream and dst is aligned to its size */
static inline __attribute__((always_inline)) void FI_NAME(fi_gh_put_cvt)(void *dst, FI_V v, int stream)
{
#if FI_DBL
    typedef float vo_t __attribute__((vector_size(FI_W * 4)));
#else
    typedef double vo_t __attribute__((vector_size(FI_W * 8)));
#endif
    vo_t o = __builtin_convertvector(v, vo_t);
#if defined(__x86_64__) && FI_VBYTES == 64 && FI_DBL
    if (stream && ((uintptr_t)dst & 31) == 0) {
        _mm256_stream_ps((float *)dst, (__m256)o);
        return;
    }
#endif
    (void)stream;
    memcpy(dst, &o, sizeof o);
}

/* Rows whose classes are contiguous (row-major), FI_W of them, go through tiles of FI_W rows and
 * FI_H = FI_W / 2 classes transposed in registers: FI_H vectors, vector i holding row i's and
 * row i + FI_H's classes c0..c0+FI_H-1, two FI_H x FI_H squares side by side that
 * FI_TRANSPOSE_HALVES turns into the class vectors (and back). The tiles start at classes 0,
 * FI_H, ...; the last ends at the row's end, overlapping the one before where FI_H does not
 * divide K (values loaded or stored twice). K >= FI_H. A gather a class and a scatter for each
 * output instead had cost ~1 ns an element on a Zen 4, more than the rest of the kernel's work
 * on it; square tiles of FI_W classes (a shuffle stage more) measured 10-15 % slower than these
 * at 10 classes. */
#define FI_H (FI_W / 2)
/* whether rows (class stride cs) and outputs (class strides gcs, hcs) of K classes go in tiles */
#define FI_GH_TILED_IN(K, cs) ((K) >= FI_H && (cs) == 1 && sizeof(FI_T) == sizeof(FI_S))
#define FI_GH_TILED_OUT(K, gcs, hcs) ((K) >= FI_H && (gcs) == 1 && (hcs) == 1)
#define FI_GH_TILES(c, t, K) for ((c) = 0; (c) < (K) && ((t) = (c) + FI_H <= (K) ? (c) : (K) - FI_H, 1); (c) += FI_H)
typedef FI_S FI_NAME(fi_gh_half_t) __attribute__((vector_size(sizeof(FI_V) / 2)));

/* The tile at class c0 of rows x, x + rs, ... into buf as class vectors (buf[c * FI_W + l]: row
 * l's class c), their max into m (a NaN left out). FI_T is FI_S (the caller's condition). */
static inline __attribute__((always_inline)) void FI_NAME(fi_gh_tile_in)(const FI_T *x, Py_ssize_t rs,
                                                                         Py_ssize_t c0, FI_S *buf, FI_V *m)
{
    FI_V r[FI_H];
    FI_NAME(fi_gh_half_t) a, b;
    int l;
    for (l = 0; l < FI_H; l++) {
        memcpy(&a, x + l * rs + c0, sizeof a);
        memcpy(&b, x + (l + FI_H) * rs + c0, sizeof b);
        r[l] = __builtin_shufflevector(a, b, FI_ALL_IDX);
    }
    FI_TRANSPOSE_HALVES(r);
    for (l = 0; l < FI_H; l++) {
        memcpy(buf + (c0 + l) * FI_W, &r[l], sizeof r[l]);
        *m = FI_MAX(r[l], *m);
    }
}

/* What the gradient and Hessian of FI_W rows' elements need once their exps are known */
typedef struct {
    FI_V inv, tinv, A, Ah, B, q1;   /* 1/S, 1 - p of a maximal element, the factors, 1 - p_y */
    FI_M ylv, nok;                  /* the labels, the invalid rows */
} FI_NAME(fi_gh_state);

/* The labels and sample weights (NULL: 1) of rows 0..nr-1 (nr <= FI_W) as lanes */
static inline __attribute__((always_inline)) void
FI_NAME(fi_gh_lanes)(const long long *lab, const double *sw, Py_ssize_t nr, FI_M *ylv, FI_V *w)
{
    typedef long long vq_t __attribute__((vector_size(FI_W * 8)));
    typedef double vw_t __attribute__((vector_size(FI_W * 8)));
    FI_I yl[FI_W];
    FI_S wl[FI_W];
    Py_ssize_t l;
    if (nr == FI_W) {           /* whole vectors of labels and weights */
        vq_t lq;
        memcpy(&lq, lab, sizeof lq);
        *ylv = __builtin_convertvector(lq, FI_M);
        if (sw != NULL) {
            vw_t wd;
            memcpy(&wd, sw, sizeof wd);
            *w = __builtin_convertvector(wd, FI_V);
        } else {
            *w = FI_SPLAT((FI_S)1);
        }
        return;
    }
    for (l = 0; l < FI_W; l++) {
        yl[l] = l < nr ? (FI_I)lab[l] : 0;
        wl[l] = l < nr && sw != NULL ? (FI_S)sw[l] : (FI_S)1;
    }
    memcpy(ylv, yl, sizeof *ylv);
    memcpy(w, wl, sizeof *w);
}

/* The exps of FI_W rows (nr of them real) in place -- xe[c * es] holds class c's logits on
 * entry, e = exp(x - m) on exit (m: the rows' max) -- and the rows' state */
static inline __attribute__((always_inline)) void
FI_NAME(fi_gh_exps)(FI_S *xe, Py_ssize_t es, Py_ssize_t K, Py_ssize_t nr, FI_V m, FI_M ylv, FI_V w, double hfac,
                    double gamma, FI_NAME(fi_gh_state) *st)
{
    const FI_S ninf = (FI_S)-__builtin_inf();
    FI_V v, e, S, t, A, B, zy, ey, om, one = FI_SPLAT((FI_S)1);
    FI_M isy, nmax;
    FI_S al[FI_W], bl[FI_W], zl[FI_W], sl[FI_W], tl[FI_W], ql[FI_W];
    Py_ssize_t c, l;
    /* e, t = S - 1: the e of the non-maximal elements (a masked sum, as the softmax passes') and
     * the maximal elements' count nmax, less 1; the label's z and e (the focal loss's) */
    t = FI_SPLAT(0);
    zy = FI_SPLAT(0);
    ey = FI_SPLAT(0);
    nmax = ylv - ylv;
    for (c = 0; c < K; c++) {
        memcpy(&v, xe + c * es, sizeof v);
        v = v - m;
        e = FI_EXPV(v);
        memcpy(xe + c * es, &e, sizeof e);
        FI_ACC_OFFMAX(&t, &nmax, v, e);   /* nmax so far counts the lanes z != 0 (NaN too) */
        if (gamma != 0.0) {
            isy = ylv == (FI_I)c;
            zy = FI_SEL(isy, v, zy);
            ey = FI_SEL(isy, e, ey);
        }
    }
    nmax = (FI_I)K - nmax;                            /* the lanes z == 0 */
    /* invalid: a NaN logit (t is NaN: the max leaves it out, its z is NaN), +inf (inf - inf),
     * every logit -inf (m = -inf: z NaN) */
    st->nok = (t != t) | (m == FI_SPLAT(ninf));
    t += __builtin_convertvector(nmax, FI_V) - one;
    S = t + one;
    st->inv = one / S;
    /* 1 - p_y, times S */
    om = FI_SEL(zy == FI_SPLAT(0), t, S - ey);
    if (gamma == 0.0) {
        A = FI_SPLAT((FI_S)-1);
        B = FI_SPLAT(0);
    } else {
        memcpy(zl, &zy, sizeof zl);
        memcpy(sl, &om, sizeof sl);
        memcpy(tl, &t, sizeof tl);
        memcpy(ql, &st->inv, sizeof ql);
        for (l = 0; l < FI_W; l++) {
            double a = 0.0, b = 0.0;
            if (l < nr)
                fi_gh_focal(gamma, (double)zl[l], log1p((double)tl[l]), (double)sl[l] * (double)ql[l], &a, &b);
            al[l] = (FI_S)a;
            bl[l] = (FI_S)b;
        }
        memcpy(&A, al, sizeof A);
        memcpy(&B, bl, sizeof B);
    }
    st->q1 = om * st->inv;                           /* 1 - p_y */
    st->tinv = t * st->inv;                          /* 1 - p of a maximal element */
    /* an invalid row: A NaN makes its g and h NaN */
    st->A = FI_SEL(st->nok, FI_SPLAT(__builtin_nanf("")), A * w);
    st->B = B * w;
    st->Ah = gamma != 0.0 ? -st->A : -st->A * (FI_S)hfac;
    st->ylv = ylv;
}

/* The gradient g and the Hessian h of class c's elements e of FI_W rows */
static inline __attribute__((always_inline)) void
FI_NAME(fi_gh_elem)(FI_V e, Py_ssize_t c, const FI_NAME(fi_gh_state) *st, double gamma, double hfloor, FI_V *g,
                    FI_V *h)
{
    const FI_V one = FI_SPLAT((FI_S)1);
    FI_M isy = st->ylv == (FI_I)c;
    FI_V p = e * st->inv, r;
    /* 1 - p_c: 1 - p is exact for p <= 1/2, which every element but a maximal one has */
    r = FI_SEL(e == one, st->tinv, one - p);
    /* g = A ([c = y] - p): at the label A (1 - p_y) */
    *g = st->A * FI_SEL(isy, r, -p);
    *h = st->Ah * p * r;
    if (gamma != 0.0) {
        FI_V rc = FI_SEL(isy, one, FI_SEL(st->q1 > FI_SPLAT(0), p / st->q1, FI_SPLAT(0)));
        *h += st->B * rc * rc;
    }
    if (hfloor > -__builtin_inf())
        *h = FI_MAX(FI_SPLAT((FI_S)hfloor), *h); /* the floor; a NaN h stays NaN (the second operand) */
}

/* The tile at class c0 of a row-major output o (row stride ors, in its elements: float64 where
 * o64, else float32) from its class vectors r (transposed here) */
static inline __attribute__((always_inline)) void FI_NAME(fi_gh_tile_put)(FI_V *r, Py_ssize_t c0, void *o,
                                                                          Py_ssize_t ors, int o64)
{
#if FI_DBL
    typedef float vo_t __attribute__((vector_size(FI_W * 4)));
#else
    typedef double vo_t __attribute__((vector_size(FI_W * 8)));
#endif
    typedef __typeof__(((vo_t){0})[0]) so_t;
    typedef so_t vho_t __attribute__((vector_size(sizeof(vo_t) / 2)));
    FI_NAME(fi_gh_half_t) a;
    vo_t cv;
    vho_t ao;
    int l;
    FI_TRANSPOSE_HALVES(r);
    for (l = 0; l < FI_H; l++)  /* vector l: row l's classes, then row l + FI_H's */
        if (o64 == FI_DBL) {
            a = __builtin_shufflevector(r[l], r[l], FI_LO_HALF_IDX);
            memcpy((FI_S *)o + l * ors + c0, &a, sizeof a);
            a = __builtin_shufflevector(r[l], r[l], FI_HI_HALF_IDX);
            memcpy((FI_S *)o + (l + FI_H) * ors + c0, &a, sizeof a);
        } else {
            cv = __builtin_convertvector(r[l], vo_t);
            ao = __builtin_shufflevector(cv, cv, FI_LO_HALF_IDX);
            memcpy((so_t *)o + l * ors + c0, &ao, sizeof ao);
            ao = __builtin_shufflevector(cv, cv, FI_HI_HALF_IDX);
            memcpy((so_t *)o + (l + FI_H) * ors + c0, &ao, sizeof ao);
        }
}

/* The gradient and Hessian of the tile at class c0 (exps e: class vectors) to row-major outputs */
static inline __attribute__((always_inline)) void
FI_NAME(fi_gh_tile_out)(const FI_S *e, Py_ssize_t c0, const FI_NAME(fi_gh_state) *st, double gamma, double hfloor,
                        void *go, Py_ssize_t grs, void *ho, Py_ssize_t hrs, int o64)
{
    FI_V g[FI_H], h[FI_H], v;
    int l;
    for (l = 0; l < FI_H; l++) {
        memcpy(&v, e + (c0 + l) * FI_W, sizeof v);
        FI_NAME(fi_gh_elem)(v, c0 + l, st, gamma, hfloor, &g[l], &h[l]);
    }
    FI_NAME(fi_gh_tile_put)(g, c0, go, grs, o64);
    FI_NAME(fi_gh_tile_put)(h, c0, ho, hrs, o64);
}

/* bad[l] = 1 for the invalid rows of the state's first nr; returns how many */
static inline Py_ssize_t FI_NAME(fi_gh_bad)(const FI_NAME(fi_gh_state) *st, Py_ssize_t nr, unsigned char *bad)
{
    FI_I yl[FI_W];
    Py_ssize_t l, nbad = 0;
    memcpy(yl, &st->nok, sizeof yl);
    for (l = 0; l < nr; l++) {
        bad[l] = yl[l] != 0;
        nbad += yl[l] != 0;
    }
    return nbad;
}

/* Rows 0..nr-1 (nr <= FI_W) of x (row stride rs, class stride cs, in elements), K >= 1 classes:
 * labels lab, sample weights sw (NULL: 1), the gradient to go and the Hessian, floored at hfloor
 * (-inf: not), to ho (strides in their elements; float64 where o64, else float32). buf: 2 K
 * FI_W compute values. bad[l] = 1 for a row that is invalid (a NaN or +inf logit, or every
 * logit -inf: its g and h are NaN), else 0; returns how many are. */
static inline __attribute__((always_inline)) Py_ssize_t
FI_NAME(fi_gh_block)(const FI_T *x, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t nr, Py_ssize_t K,
                     const long long *lab, const double *sw, double hfac, double gamma, double hfloor,
                     void *go, Py_ssize_t grs, Py_ssize_t gcs, void *ho, Py_ssize_t hrs, Py_ssize_t hcs,
                     int o64, FI_S *buf, unsigned char *bad, int stream)
{
    FI_V v, e, m = FI_SPLAT((FI_S)-__builtin_inf()), w, g, h;
    FI_M ylv;
    FI_NAME(fi_gh_state) st;
    FI_S *hb = buf + K * FI_W;
    Py_ssize_t c, l, t;
    const int direct = nr == FI_W && grs == 1 && hrs == 1 && o64 == FI_DBL;
    const int direct_cvt = nr == FI_W && grs == 1 && hrs == 1 && o64 != FI_DBL;
    const Py_ssize_t osz = o64 ? 8 : 4;
    /* row-major outputs (a row's classes contiguous): in tiles */
    const int tiles = !direct && !direct_cvt && nr == FI_W && FI_GH_TILED_OUT(K, gcs, hcs);
    const int scatter = FI_GH_GATHER && !direct && !direct_cvt && !tiles && nr == FI_W && o64 == FI_DBL
                        && grs * FI_W < INT32_MAX && hrs * FI_W < INT32_MAX;
    FI_NAME(fi_gh_lanes)(lab, sw, nr, &ylv, &w);
    /* the rows' elements into buf, a class (FI_W lanes) after another: a vector a class where
     * a class's rows are contiguous (column-major raw predictions), else element by element
     * (a vector load of lanes just stored one by one would stall: all of them are stored first);
     * the max leaves a NaN out (its z and e are NaN in fi_gh_exps) */
    if (nr == FI_W && FI_GH_TILED_IN(K, cs)) {
        FI_GH_TILES(c, t, K)    /* row-major rows: in tiles */
            FI_NAME(fi_gh_tile_in)(x, rs, t, buf, &m);
    } else if (rs == 1 && nr == FI_W) {
        for (c = 0; c < K; c++) {
            v = FI_NAME(fi_lanes_at)(x, c * cs, 1, FI_W, FI_NEGINF);
            memcpy(buf + c * FI_W, &v, sizeof v);
            m = FI_MAX(v, m);
        }
    } else if (FI_GH_GATHER && nr == FI_W && sizeof(FI_T) == sizeof(FI_S) && rs * FI_W < INT32_MAX) {
        /* a class's FI_W elements, rs apart: one gather (float64, float32 on AVX-512) */
        for (c = 0; c < K; c++) {
            v = FI_NAME(fi_gh_gather)(x + c * cs, rs);
            memcpy(buf + c * FI_W, &v, sizeof v);
            m = FI_MAX(v, m);
        }
    } else {
        for (l = 0; l < FI_W; l++)
            for (c = 0; c < K; c++)
                buf[c * FI_W + l] = l < nr ? (FI_S)FI_LOAD1(x[l * rs + c * cs]) : (FI_S)0;
        for (c = 0; c < K; c++) {
            memcpy(&v, buf + c * FI_W, sizeof v);
            m = FI_MAX(v, m);
        }
    }
    FI_NAME(fi_gh_exps)(buf, FI_W, K, nr, m, ylv, w, hfac, gamma, &st);
    if (tiles)
        FI_GH_TILES(c, t, K)
            FI_NAME(fi_gh_tile_out)(buf, t, &st, gamma, hfloor, go, grs, ho, hrs, o64);
    for (c = 0; c < K && !tiles; c++) {
        memcpy(&e, buf + c * FI_W, sizeof e);
        FI_NAME(fi_gh_elem)(e, c, &st, gamma, hfloor, &g, &h);
        if (direct) {             /* the outputs' rows of a class are contiguous */
            FI_NAME(fi_gh_put)((FI_S *)go + c * gcs, g, stream);
            FI_NAME(fi_gh_put)((FI_S *)ho + c * hcs, h, stream);
        } else if (direct_cvt) {  /* the same, in the other float type */
            FI_NAME(fi_gh_put_cvt)((char *)go + c * gcs * osz, g, stream);
            FI_NAME(fi_gh_put_cvt)((char *)ho + c * hcs * osz, h, stream);
        } else if (scatter) {
            FI_NAME(fi_gh_scatter)((FI_S *)go + c * gcs, grs, g);
            FI_NAME(fi_gh_scatter)((FI_S *)ho + c * hcs, hrs, h);
        } else {
            memcpy(buf + c * FI_W, &g, sizeof g);
            memcpy(hb + c * FI_W, &h, sizeof h);
        }
    }
    if (!direct && !direct_cvt && !scatter && !tiles) {       /* row by row from the class vectors */
        if (o64) {
            for (l = 0; l < nr; l++)
                for (c = 0; c < K; c++) {
                    ((double *)go)[l * grs + c * gcs] = (double)buf[c * FI_W + l];
                    ((double *)ho)[l * hrs + c * hcs] = (double)hb[c * FI_W + l];
                }
        } else {
            for (l = 0; l < nr; l++)
                for (c = 0; c < K; c++) {
                    ((float *)go)[l * grs + c * gcs] = (float)buf[c * FI_W + l];
                    ((float *)ho)[l * hrs + c * hcs] = (float)hb[c * FI_W + l];
                }
        }
    }
    return FI_NAME(fi_gh_bad)(&st, nr, bad);
}

/* A column of an output streamed past the caches where it is off a vector's alignment by s
 * elements (AVX-512; as NumPy's large arrays are): each aligned line joins the previous vector's
 * last s lanes and the next vector's first (vpermt2pd); the first line, which begins before the
 * column's rows, and the s elements after the last vector are stored as usual, masked (their
 * other lanes are other rows', perhaps another thread's). */
#if defined(__x86_64__) && defined(__AVX512F__) && FI_VBYTES == 64
#define FI_GH_JOIN 1
typedef struct {
    FI_V prev;                  /* the last vector put */
    FI_M idx;                   /* lane i: FI_W - s + i (prev's lanes, then the next vector's) */
    FI_S *line;                 /* the next aligned line */
    int s, open;                /* open: a line is stored before */
} FI_NAME(fi_gh_join_t);

static inline __attribute__((always_inline)) void FI_NAME(fi_gh_join_init)(FI_NAME(fi_gh_join_t) *wr, FI_S *o)
{
    FI_I id[FI_W];
    int i;
    wr->s = (int)(((uintptr_t)o / sizeof(FI_S)) % FI_W);
    for (i = 0; i < FI_W; i++)
        id[i] = (FI_I)(FI_W - wr->s + i);
    memcpy(&wr->idx, id, sizeof wr->idx);
    wr->line = o - wr->s;
    wr->open = 0;
    wr->prev = FI_SPLAT(0);
}

static inline __attribute__((always_inline)) FI_V FI_NAME(fi_gh_join)(FI_V a, FI_M idx, FI_V b)
{
#if FI_DBL
    return (FI_V)_mm512_permutex2var_pd((__m512d)a, (__m512i)idx, (__m512d)b);
#else
    return (FI_V)_mm512_permutex2var_ps((__m512)a, (__m512i)idx, (__m512)b);
#endif
}

static inline __attribute__((always_inline)) void FI_NAME(fi_gh_join_masked)(FI_S *p, unsigned mask, FI_V v)
{
#if FI_DBL
    _mm512_mask_storeu_pd(p, (__mmask8)mask, (__m512d)v);
#else
    _mm512_mask_storeu_ps(p, (__mmask16)mask, (__m512)v);
#endif
}

static inline __attribute__((always_inline)) void FI_NAME(fi_gh_join_put)(FI_NAME(fi_gh_join_t) *wr, FI_V v)
{
    FI_V out = FI_NAME(fi_gh_join)(wr->prev, wr->idx, v);
    if (wr->open) {
#if FI_DBL
        _mm512_stream_pd((double *)wr->line, (__m512d)out);
#else
        _mm512_stream_ps((float *)wr->line, (__m512)out);
#endif
    } else {                    /* lanes s.. are the column's first rows */
        FI_NAME(fi_gh_join_masked)(wr->line, ((1u << FI_W) - 1u) & ~((1u << wr->s) - 1u), out);
        wr->open = 1;
    }
    wr->line += FI_W;
    wr->prev = v;
}

static inline __attribute__((always_inline)) void FI_NAME(fi_gh_join_end)(FI_NAME(fi_gh_join_t) *wr)
{
    if (wr->open && wr->s)
        FI_NAME(fi_gh_join_masked)(wr->line, (1u << wr->s) - 1u, FI_NAME(fi_gh_join)(wr->prev, wr->idx, wr->prev));
}
#else
#define FI_GH_JOIN 0
#endif

/* Column-major rows (x, the gradient and the Hessian: a class's rows contiguous) nb FI_W at a
 * time (nb <= FI_GH_CHUNK / FI_W blocks), in three passes over the chunk so that each pass over
 * memory runs along one column at a time: the rows' logits into buf (K nb FI_W compute
 * values), a column after another, with their max; the exps and the rows' state, a block
 * after another (in cache; meanwhile the next chunk's columns are prefetched, and the outputs'
 * lines where they are stored through the caches: all at once while the columns load, the
 * prefetches had waited on each other); the gradient and Hessian, a class's column after
 * another (joined into aligned lines where streamed: fi_gh_join_put). A block a pass would keep
 * 3K streams in flight (K columns read, 2K written): past the caches, their misses measured ~2x
 * the time in cache at K = 10 (K = 3: the same). Arguments as fi_gh_block's (grs = hrs = 1). */
#ifndef FI_GH_CHUNK
#define FI_GH_CHUNK 256
#endif
static Py_ssize_t FI_NAME(fi_gh_cols)(const FI_T *x, Py_ssize_t cs, Py_ssize_t nb, Py_ssize_t K,
                                      const long long *lab, const double *sw, double hfac, double gamma,
                                      double hfloor, void *go, Py_ssize_t gcs, void *ho, Py_ssize_t hcs, int o64,
                                      FI_S *buf, unsigned char *bad, int stream)
{
    FI_NAME(fi_gh_state) st[FI_GH_CHUNK / FI_W];
    FI_V v, m[FI_GH_CHUNK / FI_W], w, g, h;
    FI_M ylv;
    const Py_ssize_t R = nb * FI_W, osz = o64 ? 8 : 4;
    /* outputs larger than the caches but stored through them (columns off a vector's alignment,
     * as NumPy's large arrays are: 16 bytes past a page): their lines are prefetched for writing
     * while the exps are computed */
    const int pw = stream && ((uintptr_t)go % FI_VBYTES || (uintptr_t)ho % FI_VBYTES || gcs * osz % FI_VBYTES
                              || hcs * osz % FI_VBYTES);
    const int join = FI_GH_JOIN && pw && o64 == FI_DBL && (uintptr_t)go % sizeof(FI_S) == 0
                     && (uintptr_t)ho % sizeof(FI_S) == 0;
    Py_ssize_t b, c, nbad = 0;
    for (b = 0; b < nb; b++)
        m[b] = FI_SPLAT((FI_S)-__builtin_inf());
    for (c = 0; c < K; c++)
        for (b = 0; b < nb; b++) {
            v = FI_NAME(fi_lanes_at)(x, c * cs + b * FI_W, 1, FI_W, FI_NEGINF);
            memcpy(buf + c * R + b * FI_W, &v, sizeof v);
            m[b] = FI_MAX(v, m[b]);
        }
    for (b = 0; b < nb; b++) {
        for (c = 0; c < K; c++) {
            __builtin_prefetch(x + c * cs + R + b * FI_W);
            if (pw && !join) {
                __builtin_prefetch((char *)go + (c * gcs + b * FI_W) * osz, 1);
                __builtin_prefetch((char *)ho + (c * hcs + b * FI_W) * osz, 1);
            }
        }
        FI_NAME(fi_gh_lanes)(lab + b * FI_W, sw != NULL ? sw + b * FI_W : NULL, FI_W, &ylv, &w);
        FI_NAME(fi_gh_exps)(buf + b * FI_W, R, K, FI_W, m[b], ylv, w, hfac, gamma, &st[b]);
        nbad += FI_NAME(fi_gh_bad)(&st[b], FI_W, bad + b * FI_W);
    }
#if FI_GH_JOIN
    if (join) {
        FI_NAME(fi_gh_join_t) jg, jh;
        for (c = 0; c < K; c++) {
            FI_NAME(fi_gh_join_init)(&jg, (FI_S *)go + c * gcs);
            FI_NAME(fi_gh_join_init)(&jh, (FI_S *)ho + c * hcs);
            for (b = 0; b < nb; b++) {
                memcpy(&v, buf + c * R + b * FI_W, sizeof v);
                FI_NAME(fi_gh_elem)(v, c, &st[b], gamma, hfloor, &g, &h);
                FI_NAME(fi_gh_join_put)(&jg, g);
                FI_NAME(fi_gh_join_put)(&jh, h);
            }
            FI_NAME(fi_gh_join_end)(&jg);
            FI_NAME(fi_gh_join_end)(&jh);
        }
        return nbad;
    }
#endif
    for (c = 0; c < K; c++)
        for (b = 0; b < nb; b++) {
            memcpy(&v, buf + c * R + b * FI_W, sizeof v);
            FI_NAME(fi_gh_elem)(v, c, &st[b], gamma, hfloor, &g, &h);
            if (o64 == FI_DBL) {
                FI_NAME(fi_gh_put)((FI_S *)go + c * gcs + b * FI_W, g, stream);
                FI_NAME(fi_gh_put)((FI_S *)ho + c * hcs + b * FI_W, h, stream);
            } else {
                FI_NAME(fi_gh_put_cvt)((char *)go + (c * gcs + b * FI_W) * osz, g, stream);
                FI_NAME(fi_gh_put_cvt)((char *)ho + (c * hcs + b * FI_W) * osz, h, stream);
            }
        }
    return nbad;
}

/* How many blocks of rows ahead fi_gh_rows prefetches: a block of row-major rows is a few
 * hundred bytes of each array, of column-major rows a line of each class's column */
#ifndef FI_GH_AHEAD_ROWS
#define FI_GH_AHEAD_ROWS 4
#endif
#ifndef FI_GH_AHEAD_COLS
#define FI_GH_AHEAD_COLS 4
#endif

/* fi_gh_block over rows 0..n-1, FI_W at a time */
static Py_ssize_t FI_NAME(fi_gh_rows)(const FI_T *x, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t n, Py_ssize_t K,
                                      const long long *lab, const double *sw, double hfac, double gamma,
                                      double hfloor, void *go, Py_ssize_t grs, Py_ssize_t gcs, void *ho, Py_ssize_t hrs,
                                      Py_ssize_t hcs, int o64, FI_S *buf, Py_ssize_t bufbytes, unsigned char *bad,
                                      int stream)
{
    Py_ssize_t r0 = 0, nbad = 0, osz = o64 ? 8 : 4, b, ahead, nb;
    /* column-major rows and outputs, whole blocks: a chunk at a time, column by column */
    const int cols = rs == 1 && grs == 1 && hrs == 1 && K * FI_GH_CHUNK * (Py_ssize_t)sizeof(FI_S) <= bufbytes;
    /* rows read (and written) whole by gathers and scatters, which do not train the hardware's
     * prefetchers: the rows 4 blocks on are prefetched here, a line at a time (rows read and
     * written in tiles train them; prefetching those too measured 7-35 % slower on a Zen 4) */
    const int pfx = cs == 1 && rs == K && !FI_GH_TILED_IN(K, cs),
              pfo = gcs == 1 && grs == K && hcs == 1 && hrs == K && !FI_GH_TILED_OUT(K, gcs, hcs);
    /* or a class's rows contiguous (column-major): K streams a block, a line each */
    const int pcx = rs == 1 && cs > 1, pco = !stream && grs == 1 && hrs == 1 && gcs > 1;
    const Py_ssize_t xbytes = FI_W * K * (Py_ssize_t)sizeof(FI_T), obytes = FI_W * K * osz;
    ahead = (pcx || pco ? FI_GH_AHEAD_COLS : FI_GH_AHEAD_ROWS) * FI_W;
    for (; cols && r0 + FI_W <= n; r0 += nb * FI_W) {
        nb = (n - r0) / FI_W < FI_GH_CHUNK / FI_W ? (n - r0) / FI_W : FI_GH_CHUNK / FI_W;
        nbad += FI_NAME(fi_gh_cols)(x + r0, cs, nb, K, lab + r0, sw != NULL ? sw + r0 : NULL, hfac, gamma, hfloor,
                                    (char *)go + r0 * osz, gcs, (char *)ho + r0 * osz, hcs, o64, buf, bad + r0,
                                    stream);
    }
    for (; r0 < n; r0 += FI_W) {
        if (r0 + ahead < n && (pcx || pco))
            for (b = 0; b < K; b++) {
                if (pcx)
                    __builtin_prefetch(x + (r0 + ahead) + b * cs);
                if (pco) {
                    __builtin_prefetch((char *)go + ((r0 + ahead) + b * gcs) * osz, 1);
                    __builtin_prefetch((char *)ho + ((r0 + ahead) + b * hcs) * osz, 1);
                }
            }
        if (pfx && r0 + ahead < n)
            for (b = 0; b < xbytes; b += 64)
                __builtin_prefetch((const char *)(x + (r0 + ahead) * rs) + b);
        if (pfo && r0 + ahead < n)
            for (b = 0; b < obytes; b += 64) {
                __builtin_prefetch((char *)go + (r0 + ahead) * grs * osz + b, 1);
                __builtin_prefetch((char *)ho + (r0 + ahead) * hrs * osz + b, 1);
            }
        nbad += FI_NAME(fi_gh_block)(x + r0 * rs, rs, cs, n - r0 < FI_W ? n - r0 : FI_W, K, lab + r0,
                                     sw != NULL ? sw + r0 : NULL, hfac, gamma, hfloor, (char *)go + r0 * grs * osz,
                                     grs, gcs, (char *)ho + r0 * hrs * osz, hrs, hcs, o64, buf, bad + r0,
                                     stream);
    }
#if defined(__x86_64__) && FI_VBYTES >= 32
    if (stream)
        _mm_sfence();           /* the streamed stores are visible before the call returns */
#endif
    return nbad;
}

#undef FI_GH_TILES
#undef FI_GH_TILED_IN
#undef FI_GH_TILED_OUT
#undef FI_H
#undef FI_GH_JOIN
