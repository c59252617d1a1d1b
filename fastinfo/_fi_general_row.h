/* Blocks of the generalized measures (_general.pxi: Renyi, Tsallis, Hellinger, total
 * variation), for one storage type (the template: _fi_rows.h includes it once per storage
 * type, after _fi_row_type.h). Written once for the four types.
 *
 * fi_gstats_kind: the first pass over a block -- validity, the sums of p (and q), double-double
 *   by TwoSum per lane when asked, the largest p and the number of p > 0.
 * fi_dist_kind: the terms of total variation, 1/2 |x - y|, of the squared Hellinger
 *   distance, 1/2 ((x - y) / (sqrt x + sqrt y))^2 with the Bhattacharyya sum sqrt(x) sqrt(y),
 *   or of chi^2, (x - y)^2 / y over y > 0 (the Renyi divergence of order 2), of x = p / dp,
 *   y = q / dq (fi_vquot; divided where dp or dq is not normal, a subnormal sum; none when
 *   dp = dq = 1), and
 *   the validity of p and q.
 * fi_power_kind: the power sums of the Renyi entropy, sum (p / mx)^a, and of the Tsallis
 *   entropy, sum x - x^a.
 * All take the block a compute vector at a time (fi_lanes: a strided block or the tail is
 * gathered, missing elements are 0, which add nothing), in double lanes; rows, blocks, Ctrl-C
 * and the order in which blocks are added are the caller's.
 */

#ifndef FI_GENERAL_ROW_ONCE
#define FI_GENERAL_ROW_ONCE
enum { FI_DIST_HELLINGER = 0, FI_DIST_TV = 1, FI_DIST_CHI2 = 2 };    /* fi_dist_block's modes */

typedef struct {
    double ph, pl, qh, ql;       /* sums of p and q: double-double (hi, lo); lo = 0 unless dd */
    double mx;                   /* the largest p (0 for none) */
    double support;              /* the number of p > 0 */
    int bad;                     /* a negative, NaN or infinite p or q */
} fi_gstats;

/* (hi, lo) += x, error-free (Knuth's TwoSum), lane by lane */
FI_VINLINE void fi_vtwo_sum(fi_vd *hi, fi_vd *lo, fi_vd x)
{
    fi_vd s = *hi + x, bp = s - *hi;
    *lo += (*hi - (s - bp)) + (x - bp);
    *hi = s;
}

static inline void fi_two_sum1(double *hi, double *lo, double x)
{
    double s = *hi + x, bp = s - *hi;
    *lo += (*hi - (s - bp)) + (x - bp);
    *hi = s;
}

/* x / d from r = RN(1/d), for a normal d: y = x r corrected by one FMA step, y + (x - y d) r,
 * the quotient correctly rounded but in rare cases (then within 1 ulp; and for a subnormal x,
 * whose remainder x - y d is not exact, within 1 ulp). Three multiply-adds cost less than a
 * vector division, which was the largest cost of a term. Without fused vector FMA (the
 * baseline level), the division. Callers divide where d is not normal (fi_normal_divisor). */
FI_VINLINE int fi_normal_divisor(double d) { return d >= DBL_MIN && d <= DBL_MAX; }
FI_VINLINE fi_vd fi_vquot(fi_vd x, fi_vd d, fi_vd r)
{
#ifdef FI_HAVE_VFMA
    fi_vd y = x * r;
    return fi_vfmad(fi_vfmad(-y, d, x), r, y);
#else
    (void)r;
    return x / d;
#endif
}

/* the lanes of a TwoSum pair into one (hi, lo) */
static inline void fi_fold_dd(fi_vd h, fi_vd l, double *hi, double *lo)
{
    double hl[FI_ND], ll[FI_ND];
    int k;
    memcpy(hl, &h, sizeof hl);
    memcpy(ll, &l, sizeof ll);
    *hi = 0.0;
    *lo = 0.0;
    for (k = 0; k < FI_ND; k++) {
        fi_two_sum1(hi, lo, hl[k]);
        *lo += ll[k];
    }
}
#endif

/* The next row during the power sums (Zen 5, Tsallis q = 2 from DRAM, against no prefetch):
 * float32, whose pass takes twice the time per line, all of it (0.79-0.90x the time, rows of
 * 2 000 to 20 000); float64 blocks of up to 16 KB (a row of up to 2 048, or a long row's last
 * block) all of it (0.80x), the longer blocks of long rows the first half of the same block of
 * the next row (0.93-0.99x; at full pace 1.05-1.28x, the line-fill buffers staying full) */
#ifndef FI_GPF
#define FI_GPF (sizeof(FI_T) == 8 ? 2 : 4)
#endif

#if FI_DBL
#define FI_BIG DBL_MAX
#else
#define FI_BIG FLT_MAX
#endif

/* the lanes of x that hold a valid value (0 <= x <= the largest finite value): all ones */
FI_VINLINE FI_M FI_NAME(fi_valid)(FI_V x)
{
    return (x >= FI_SPLAT(0)) & (x <= FI_SPLAT(FI_BIG));
}

/* 1 when a lane of the mask is clear (an invalid value was seen there) */
static inline int FI_NAME(fi_any_clear)(FI_M ok)
{
    FI_I okl[FI_W];
    int l, r = 0;
    memcpy(okl, &ok, sizeof okl);
    for (l = 0; l < FI_W; l++)
        r |= okl[l] == 0;
    return r;
}

static inline __attribute__((always_inline)) void
FI_NAME(fi_gstats_kind)(const int two, const int dd, const FI_T *p, Py_ssize_t ps, const FI_T *q, Py_ssize_t qs,
                        Py_ssize_t n, fi_gstats *out)
{
    fi_vd ph = fi_splatd(0), pl = fi_splatd(0), qh = fi_splatd(0), ql = fi_splatd(0), sup = fi_splatd(0);
    const fi_vd one = fi_splatd(1), zd = fi_splatd(0);
    FI_V x, y, mx = FI_SPLAT(0);
    FI_M ok = mx == mx;              /* all lanes valid so far */
    FI_S mxl[FI_W];
    FI_T zero;
    Py_ssize_t i;
    int h, l;
    memset(&zero, 0, sizeof zero);
    for (i = 0; i < n; i += FI_W) {
        x = FI_NAME(fi_lanes)(p, i, ps, n - i, zero);
        ok &= FI_NAME(fi_valid)(x);
        mx = FI_MAX(x, mx);
        if (two) {
            y = FI_NAME(fi_lanes)(q, i, qs, n - i, zero);
            ok &= FI_NAME(fi_valid)(y);
        }
        for (h = 0; h < FI_NH; h++) {
            fi_vd xd = FI_HALF(x, h);
            sup += fi_seld(xd > zd, one, zd);
            if (dd)
                fi_vtwo_sum(&ph, &pl, xd);
            else
                ph += xd;
            if (two)
                fi_vtwo_sum(&qh, &ql, FI_HALF(y, h));
        }
    }
    fi_fold_dd(ph, pl, &out->ph, &out->pl);
    fi_fold_dd(qh, ql, &out->qh, &out->ql);
    memcpy(mxl, &mx, sizeof mxl);
    out->mx = 0.0;
    for (l = 0; l < FI_W; l++)
        out->mx = mxl[l] > out->mx ? mxl[l] : out->mx;
    out->bad = FI_NAME(fi_any_clear)(ok);
    out->support = fi_hsum(sup);
}

static inline __attribute__((always_inline)) double
FI_NAME(fi_dist_kind)(const int mode, const int scaled, const FI_T *p, Py_ssize_t ps, const FI_T *q, Py_ssize_t qs,
                      Py_ssize_t n, double dp, double dq, double *bhat, int *bad)
{
    fi_vd a = fi_splatd(0), b = fi_splatd(0);
    const fi_vd zd = fi_splatd(0), rp = fi_splatd(1.0 / dp), rq = fi_splatd(1.0 / dq);
    const fi_vd vdp = fi_splatd(dp), vdq = fi_splatd(dq);
    const int divp = !fi_normal_divisor(dp), divq = !fi_normal_divisor(dq);   /* subnormal sums */
    FI_V x = FI_SPLAT(0), y;
    FI_M ok = x == x;                /* all lanes valid so far */
    FI_T zero;
    Py_ssize_t i;
    int h;
    memset(&zero, 0, sizeof zero);
    for (i = 0; i < n; i += FI_W) {
        x = FI_NAME(fi_lanes)(p, i, ps, n - i, zero);
        y = FI_NAME(fi_lanes)(q, i, qs, n - i, zero);
        ok &= FI_NAME(fi_valid)(x) & FI_NAME(fi_valid)(y);
        for (h = 0; h < FI_NH; h++) {
            fi_vd xd = FI_HALF(x, h), yd = FI_HALF(y, h), d = xd - yd;
            if (scaled) {
                xd = divp ? xd / dp : fi_vquot(xd, vdp, rp);
                yd = divq ? yd / dq : fi_vquot(yd, vdq, rq);
                d = xd - yd;
            }
            if (mode == FI_DIST_TV) {
                a += 0.5 * fi_seld(d < zd, -d, d);
            } else if (mode == FI_DIST_CHI2) {
                a += fi_seld(yd > zd, (d * d) / yd, zd);
            } else {
                fi_vd sx = fi_vsqrt(xd), sy = fi_vsqrt(yd), den = sx + sy;
                fi_vd r = fi_seld(den > zd, d / den, zd);
                a += 0.5 * (r * r);          /* halved first: no overflow short of the result's */
                b += sx * sy;
            }
        }
    }
    *bad = FI_NAME(fi_any_clear)(ok);
    *bhat = mode == FI_DIST_HELLINGER ? fi_hsum(b) : 0.0;
    return fi_hsum(a);
}

/* One block of a power sum of y = p / d (fi_vquot; divided where d is not normal), each
 * y^a rounded as y * y (a = 2, kind 2), sqrt(y) (a = 1/2, kind 1), y * y * y (a = 3, kind 3) or
 * computed as exp(a log y) for any other order (kind 0: the vector exp and log, relative
 * error <= (|a log y| + 2) ulp; Renyi orders are > 0, Tsallis orders any finite number):
 *   the Renyi entropy (tsallis = 0): d = mx > 0, the largest value; the sum over p < mx of
 *     y^a, and *ties the number of p == mx (each term 1, counted apart so that log(ties +
 *     sum) stays accurate for nearly deterministic rows);
 *   the Tsallis entropy (tsallis = 1): the sum over p > 0 of y - y^a (*ties: 0).
 * Valid input (the first pass checked it). pf: elements from p to the row this thread reads
 * next (0: none): its first FI_GPF quarters (all of it for a block of up to 16 KB) are
 * fetched during this pass, which reads its row from cache; the rest by the next first pass. */
static inline __attribute__((always_inline)) double
FI_NAME(fi_power_kind)(const int kind, const int tsallis, const FI_T *p, Py_ssize_t ps, Py_ssize_t n, double d,
                       double a, double *ties, Py_ssize_t pf)
{
    fi_vd s = fi_splatd(0), c = fi_splatd(0);
    const fi_vd m = fi_splatd(d), rm = fi_splatd(1.0 / d), av = fi_splatd(a), zd = fi_splatd(0), one = fi_splatd(1.0);
    const int div = !fi_normal_divisor(d);      /* a subnormal d */
    const Py_ssize_t pace = n * (Py_ssize_t)sizeof(FI_T) <= 16384 ? 4 : FI_GPF;
    FI_V x;
    FI_T zero;
    Py_ssize_t i;
    int h;
    memset(&zero, 0, sizeof zero);
    for (i = 0; i < n; i += FI_W) {
        x = FI_NAME(fi_lanes)(p, i, ps, n - i, zero);
        if (pf)
            __builtin_prefetch(p + pf + i * pace / 4);
        for (h = 0; h < FI_NH; h++) {
            fi_vd xd = FI_HALF(x, h), y = div ? xd / m : fi_vquot(xd, m, rm), t;
            if (kind == 2) {
                t = y * y;
            } else if (kind == 3) {
                t = y * y * y;
            } else if (kind == 1) {
                t = fi_vsqrt(y);
            } else {
                /* a log y > 710: y^a overflows (the clamp keeps the exponent arithmetic exact) */
                fi_vd z = av * fi_vlog_pos(y);
                t = fi_seld(y > zd, fi_vexp_neg(fi_seld(z > 710.0, fi_splatd(710.0), z)), zd);
            }
            if (tsallis) {
                s += fi_seld(y > zd, y - t, zd);
            } else {
                fi_vl top = xd == m;
                s += fi_seld(top, zd, t);
                c += fi_seld(top, one, zd);
            }
        }
    }
    *ties = fi_hsum(c);
    return fi_hsum(s);
}

static double FI_NAME(fi_power_block)(int kind, int tsallis, const FI_T *p, Py_ssize_t ps, Py_ssize_t n, double d,
                                      double a, double *ties, Py_ssize_t pf)
{
    switch (kind * 2 + (tsallis != 0)) {
    case 4: return FI_NAME(fi_power_kind)(2, 0, p, ps, n, d, a, ties, pf);
    case 5: return FI_NAME(fi_power_kind)(2, 1, p, ps, n, d, a, ties, pf);
    case 6: return FI_NAME(fi_power_kind)(3, 0, p, ps, n, d, a, ties, pf);
    case 7: return FI_NAME(fi_power_kind)(3, 1, p, ps, n, d, a, ties, pf);
    case 2: return FI_NAME(fi_power_kind)(1, 0, p, ps, n, d, a, ties, pf);
    case 3: return FI_NAME(fi_power_kind)(1, 1, p, ps, n, d, a, ties, pf);
    case 1: return FI_NAME(fi_power_kind)(0, 1, p, ps, n, d, a, ties, pf);
    default: return FI_NAME(fi_power_kind)(0, 0, p, ps, n, d, a, ties, pf);
    }
}

/* One block of the first pass: two (q too), dd (the sum of p double-double) */
static void FI_NAME(fi_gstats_block)(int two, int dd, const FI_T *p, Py_ssize_t ps, const FI_T *q, Py_ssize_t qs,
                                     Py_ssize_t n, fi_gstats *out)
{
    if (two)
        FI_NAME(fi_gstats_kind)(1, 1, p, ps, q, qs, n, out);
    else if (dd)
        FI_NAME(fi_gstats_kind)(0, 1, p, ps, p, ps, n, out);
    else
        FI_NAME(fi_gstats_kind)(0, 0, p, ps, p, ps, n, out);
}

/* One block of Hellinger, total variation or chi^2 terms (mode: FI_DIST_*); see fi_dist_kind */
static double FI_NAME(fi_dist_block)(int mode, const FI_T *p, Py_ssize_t ps, const FI_T *q, Py_ssize_t qs,
                                     Py_ssize_t n, double dp, double dq, double *bhat, int *bad)
{
    const int scaled = !(dp == 1.0 && dq == 1.0);
    switch (mode * 2 + scaled) {
    case 2 * FI_DIST_TV: return FI_NAME(fi_dist_kind)(FI_DIST_TV, 0, p, ps, q, qs, n, dp, dq, bhat, bad);
    case 2 * FI_DIST_TV + 1: return FI_NAME(fi_dist_kind)(FI_DIST_TV, 1, p, ps, q, qs, n, dp, dq, bhat, bad);
    case 2 * FI_DIST_CHI2: return FI_NAME(fi_dist_kind)(FI_DIST_CHI2, 0, p, ps, q, qs, n, dp, dq, bhat, bad);
    case 2 * FI_DIST_CHI2 + 1: return FI_NAME(fi_dist_kind)(FI_DIST_CHI2, 1, p, ps, q, qs, n, dp, dq, bhat, bad);
    case 2 * FI_DIST_HELLINGER + 1:
        return FI_NAME(fi_dist_kind)(FI_DIST_HELLINGER, 1, p, ps, q, qs, n, dp, dq, bhat, bad);
    default: return FI_NAME(fi_dist_kind)(FI_DIST_HELLINGER, 0, p, ps, q, qs, n, dp, dq, bhat, bad);
    }
}

#undef FI_BIG
