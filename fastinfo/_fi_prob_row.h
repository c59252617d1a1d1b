/* One row of a Shannon measure (block by block) and one block of the surprisal, for one
 * storage type (the template: _fi_rows.h includes it once per storage type, after
 * _fi_row_type.h). Written once for the four types.
 *
 * The fast pass takes the block a compute vector at a time (fi_lanes: a strided block or the
 * tail is gathered, missing elements are 0, whose terms are 0) and sums, in double lanes,
 * the measure's terms (see _fi_prob.h) and the raw p and q. Entropy and cross-entropy terms of
 * float32 and 2-byte input are computed in float lanes (one rounding each, all of one sign),
 * or in double lanes when scaled (normalize=True);
 * KL and JS in double lanes for every type: they are small differences of O(1) sums, and the
 * rounding of each ratio is carried exactly (fi_vfnma). The logs are the lane-wise log of
 * positive numbers (fi_vlog_pos): a zero argument is flagged or selected away, invalid input
 * flags the block anyway. The pass also keeps min(p, q): a
 * negative, NaN or infinite input, a non-finite term (log 0) or a KL ratio below the normal
 * range flags the block, which the careful scalar pass then recomputes.
 */

#ifndef FI_RUN
#define FI_RUN 8
#endif

static inline __attribute__((always_inline)) void
FI_NAME(fi_prob_kind)(const int M, const int S, const FI_T *p, Py_ssize_t ps, const FI_T *q, Py_ssize_t qs,
                      Py_ssize_t n, double cp, double cq, fi_partial *out)
{
    const int two = M != FI_P_ENT && M != FI_P_SUMP;
    /* The sums of p and q beside a measure only check the input (validity, the 1% sum check,
     * equal masses within 16 eps sqrt(K)): float input adds them in float lanes over runs of
     * FI_RUN vectors (a relative error below FI_RUN float roundings), then in double. The
     * normalization pass (SUMP, SUMPQ), whose sums divide, adds in double throughout. */
    const int frun = !FI_DBL && M < FI_P_SUMP;
    fi_vd a = fi_splatd(0), sp = fi_splatd(0), sq = fi_splatd(0);
    FI_V mn = FI_SPLAT(__builtin_inf()), x, y, t, fsp = FI_SPLAT(0), fsq = FI_SPLAT(0);
    FI_S fcp = (FI_S)cp, fcq = (FI_S)cq, mnl[FI_W];
    FI_T zero;
    const fi_vd nan = fi_splatd(__builtin_nan(""));
    Py_ssize_t i;
    int h, w, l, run = 0;
    memset(&zero, 0, sizeof zero);
    for (i = 0; i < n; i += FI_W) {
        x = FI_NAME(fi_lanes)(p, i, ps, n - i, zero);
        y = x;
        mn = FI_MIN(x, mn);                 /* NaN: mn (found by the sums) */
        if (two) {
            y = FI_NAME(fi_lanes)(q, i, qs, n - i, zero);
            mn = FI_MIN(y, mn);
        }
        if (frun) {
            fsp += x;
            if (two)
                fsq += y;
            if (++run == FI_RUN || i + FI_W >= n) {
                for (h = 0; h < FI_NH; h++) {
                    sp += FI_HALF(fsp, h);
                    if (two)
                        sq += FI_HALF(fsq, h);
                }
                fsp = fsq = FI_SPLAT(0);
                run = 0;
            }
        } else {
            for (h = 0; h < FI_NH; h++) {
                sp += FI_HALF(x, h);
                if (two)
                    sq += FI_HALF(y, h);
            }
        }
        if ((M == FI_P_ENT || M == FI_P_CE) && (FI_DBL || !S)) {
            FI_V xs = S ? x * fcp : x, ys = S ? y * fcq : y;
            t = xs * FI_LOGV(M == FI_P_ENT ? xs : ys);
            if (M == FI_P_CE)                               /* log 0 = -inf: the block is flagged */
                t = FI_SEL(ys == 0, FI_SPLAT(-__builtin_inf()), t);
            t = FI_SEL(x == 0, FI_SPLAT(0), t);
            for (h = 0; h < FI_NH; h++)
                a += FI_HALF(t, h);
        } else if (M == FI_P_ENT || M == FI_P_CE) {
            /* scaled float input (normalize=True): in double lanes, where the scaled values are
             * not rounded again (a rounding of p cp shifts a small entropy by a large share) */
            for (h = 0; h < FI_NH; h++) {
                fi_vd xd = FI_HALF(x, h) * cp, yd = FI_HALF(y, h) * cq;
                fi_vd u = xd * fi_vlog_pos(M == FI_P_ENT ? xd : yd);
                if (M == FI_P_CE)
                    u = fi_seld(yd == 0, fi_splatd(-__builtin_inf()), u);
                a += fi_seld(xd == 0, fi_splatd(0), u);
            }
        } else if (M == FI_P_KL) {
            /* (p cp) log(r cq) + cp (p - r q) with r = fl(p/q): the remainder p - r q is exact,
             * and p log(p/q) = p log r + (p - r q) to ~2^-100 when p ~ q */
            for (h = 0; h < FI_NH; h++) {
                fi_vd xd = FI_HALF(x, h), yd = FI_HALF(y, h);
                fi_vd r = xd / yd, rc = r * cq;
                fi_vd u = (xd * cp) * fi_vlog_pos(rc) + cp * fi_vfnma(r, yd, xd);   /* rc = inf: NaN */
                u = fi_seld(rc >= 0x1p-1022, u, nan);           /* the ratio lost bits: flagged */
                a += fi_seld(xd == 0, fi_splatd(0), u);
            }
        } else if (M == FI_P_JS) {
            /* p log(2p/m) + q log(2q/m), m = p + q = mh + e exactly (Fast2Sum), 2p = r1 mh + d1,
             * 2q = r2 mh + d2 (exact remainders): the pair is p log r1 + q log r2 + (d1 + d2)/2 - e;
             * fl(2p / fl(p + q)) <= 2, so no term exceeds p log 2 */
            for (h = 0; h < FI_NH; h++) {
                fi_vd xd = FI_HALF(x, h) * cp, yd = FI_HALF(y, h) * cq;
                fi_vd m = xd + yd;
                fi_vl gt = xd > yd;
                fi_vd e = (fi_seld(gt, xd, yd) - m) + fi_seld(gt, yd, xd);
                fi_vd r1 = (xd + xd) / m, r2 = (yd + yd) / m;
                fi_vd c = 0.5 * (fi_vfnma(r1, m, xd + xd) + fi_vfnma(r2, m, yd + yd)) - e;
                fi_vd t1 = fi_seld(r1 >= 0x1p-1022, xd * fi_vlog_pos(r1), nan);   /* an underflowed */
                fi_vd t2 = fi_seld(r2 >= 0x1p-1022, yd * fi_vlog_pos(r2), nan);   /* ratio: flagged  */
                a += fi_seld(xd == 0, fi_splatd(0), t1) + fi_seld(yd == 0, fi_splatd(0), t2)
                   + fi_seld(m == 0, fi_splatd(0), c);
            }
        }
    }
    memcpy(mnl, &mn, sizeof mnl);
    for (w = FI_W / 2; w >= 1; w /= 2)
        for (l = 0; l < w; l++)
            mnl[l] = mnl[l + w] < mnl[l] ? mnl[l + w] : mnl[l];
    out->a = fi_hsum(a);
    out->sp = fi_hsum(sp);
    out->sq = two ? fi_hsum(sq) : 0.0;
    out->bad = (mnl[0] >= 0 && isfinite(out->a) && isfinite(out->sp) && isfinite(out->sq)) ? 0 : -1;
}

/* The careful pass: element by element, libm's log, overflow-safe ratios; bad = 1 for an
 * invalid p, 2 for an invalid q (negative, NaN or infinite). */
static void FI_NAME(fi_prob_careful)(int M, const FI_T *p, Py_ssize_t ps, const FI_T *q, Py_ssize_t qs,
                                     Py_ssize_t n, double cp, double cq, fi_partial *out)
{
    const int two = M != FI_P_ENT && M != FI_P_SUMP;
    double a = 0.0, sp = 0.0, sq = 0.0, x, y;
    int bad = 0;
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        x = (double)FI_LOAD1(p[i * ps]);
        if (!(x >= 0 && x <= DBL_MAX))
            bad |= 1;
        y = x;
        if (two) {
            y = (double)FI_LOAD1(q[i * qs]);
            if (!(y >= 0 && y <= DBL_MAX))
                bad |= 2;
            sq += y;
        }
        sp += x;
        a += fi_prob_term_careful(M, x, y, cp, cq);
    }
    out->a = a;
    out->sp = sp;
    out->sq = sq;
    out->bad = bad;
}

/* One row of n elements (strides in elements) of the measure M (FI_P_*), block after block:
 * each block of at most FI_BLOCK elements takes the fast pass, and the careful one when the
 * fast pass flags it, and the blocks' sums are added in block order. With n_threads > 1 the
 * blocks of a long row are computed over threads (one call each) and added in the same order:
 * the same result. M | FI_P_NORM measures p / sum p (and q / sum q): a first pass takes the
 * sums, the second computes the terms while the row is still in cache (the one-pass form
 * H = log s - sum p log p / s cancels when s is far from 1), and the result's bad is 1 for a
 * row that sums to 0 and FI_BAD_SCALE where the factors leave the range the type scales in
 * (the caller takes a scalar path). stop (NULL: never) is polled between blocks; a stopped
 * row's sums are garbage (the caller raises). */
static fi_partial FI_NAME(fi_prob_row)(int M, const void *pv, Py_ssize_t ps, const void *qv, Py_ssize_t qs,
                                       Py_ssize_t n, double cp, double cq, int n_threads, fi_stop_t *stop)
{
    const FI_T *p = (const FI_T *)pv, *q = (const FI_T *)qv;
    fi_partial out = {0.0, 0.0, 0.0, 0}, part, *parts;
    Py_ssize_t b, len, nb = (n + FI_BLOCK - 1) / FI_BLOCK;
    int S, two;
    if (M & FI_P_NORM) {
        M &= ~FI_P_NORM;
        two = M != FI_P_ENT;
        if (n == 0)
            return out;
        out = FI_NAME(fi_prob_row)(two ? FI_P_SUMPQ : FI_P_SUMP, pv, ps, qv, qs, n, 1.0, 1.0, n_threads, stop);
        if (!two)
            out.sq = 1.0;
        if (out.bad != 0 || !(out.sp > 0 && out.sq > 0)) {
            out.bad = out.bad != 0 ? out.bad : 1;      /* invalid or all-zero: the caller reports which */
            return out;
        }
        cp = 1.0 / out.sp;
        cq = M == FI_P_KL ? out.sq / out.sp : 1.0 / out.sq;
        /* float32 and 2-byte entropy/cross-entropy scale in float: the factors must be normal floats */
        if (!(cp >= DBL_MIN && cp <= DBL_MAX && cq >= DBL_MIN && cq <= DBL_MAX)
                || (!FI_DBL && !(cp >= FLT_MIN && cp <= FLT_MAX && cq >= FLT_MIN && cq <= FLT_MAX))) {
            out.bad = FI_BAD_SCALE;
            return out;
        }
        out.sp = out.sq = 0.0;                  /* (the second pass adds the same sums again) */
    }
    S = !(cp == 1.0 && cq == 1.0);              /* scaled: normalize=True */
    if (n_threads > 1 && nb > 1 && (parts = (fi_partial *)malloc(nb * sizeof(fi_partial))) != NULL) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(n_threads) schedule(static)
#endif
        for (b = 0; b < nb; b++) {
            if (fi_poll(stop, FI_BLOCK)) {
                parts[b] = out;
                continue;
            }
            parts[b] = FI_NAME(fi_prob_row)(M, p + b * FI_BLOCK * ps, ps, q + b * FI_BLOCK * qs, qs,
                                            n - b * FI_BLOCK < FI_BLOCK ? n - b * FI_BLOCK : FI_BLOCK, cp, cq,
                                            1, NULL);
        }
        for (b = 0; b < nb; b++) {
            out.a += parts[b].a;
            out.sp += parts[b].sp;
            out.sq += parts[b].sq;
            out.bad |= parts[b].bad;
        }
        free(parts);
        return out;
    }
    for (b = 0; b < n; b += FI_BLOCK) {
        const FI_T *pb = p + b * ps, *qb = q + b * qs;
        len = n - b < FI_BLOCK ? n - b : FI_BLOCK;
        if (n > FI_BLOCK && fi_poll_block(stop, len))
            break;
        switch (M * 2 + S) {
        case 2 * FI_P_ENT: FI_NAME(fi_prob_kind)(FI_P_ENT, 0, pb, ps, qb, qs, len, cp, cq, &part); break;
        case 2 * FI_P_ENT + 1: FI_NAME(fi_prob_kind)(FI_P_ENT, 1, pb, ps, qb, qs, len, cp, cq, &part); break;
        case 2 * FI_P_CE: FI_NAME(fi_prob_kind)(FI_P_CE, 0, pb, ps, qb, qs, len, cp, cq, &part); break;
        case 2 * FI_P_CE + 1: FI_NAME(fi_prob_kind)(FI_P_CE, 1, pb, ps, qb, qs, len, cp, cq, &part); break;
        case 2 * FI_P_KL: case 2 * FI_P_KL + 1:
            FI_NAME(fi_prob_kind)(FI_P_KL, 1, pb, ps, qb, qs, len, cp, cq, &part); break;
        case 2 * FI_P_JS: case 2 * FI_P_JS + 1:
            FI_NAME(fi_prob_kind)(FI_P_JS, 1, pb, ps, qb, qs, len, cp, cq, &part); break;
        case 2 * FI_P_SUMP: case 2 * FI_P_SUMP + 1:
            FI_NAME(fi_prob_kind)(FI_P_SUMP, 0, pb, ps, qb, qs, len, cp, cq, &part); break;
        default: FI_NAME(fi_prob_kind)(FI_P_SUMPQ, 0, pb, ps, qb, qs, len, cp, cq, &part); break;
        }
        if (part.bad != 0)
            FI_NAME(fi_prob_careful)(M, pb, ps, qb, qs, len, cp, cq, &part);
        out.a += part.a;
        out.sp += part.sp;
        out.sq += part.sq;
        out.bad |= part.bad;
    }
    return out;
}

/* The surprisals of FI_W elements x into dst[0 .. FI_W): (0 - log(x / d)) / lb, +inf where the
 * quotient is 0. Float input with d = 1 takes the log in float lanes (one rounding), the rest in
 * double lanes; the division by lb is in double. */
FI_VINLINE void FI_NAME(fi_neglog_vec)(FI_V x, double d, double lb, FI_S *dst)
{
    int h;
    if (!FI_DBL && d == 1.0) {
        FI_V r = FI_SEL(x == 0, FI_SPLAT(__builtin_inf()), FI_SPLAT(0) - FI_LOGV(x));
        for (h = 0; h < FI_NH; h++) {
            fi_vd u = FI_HALF(r, h);
            if (lb != 1.0)
                u = u / lb;
            FI_PUT_HALF(dst, h, u);
        }
    } else {
        for (h = 0; h < FI_NH; h++) {
            fi_vd xd = FI_HALF(x, h), u;
            if (d != 1.0)
                xd = xd / d;
            u = fi_seld(xd == 0, fi_splatd(__builtin_inf()), 0.0 - fi_vlog_pos(xd));
            if (lb != 1.0)
                u = u / lb;
            FI_PUT_HALF(dst, h, u);
        }
    }
}

/* Surprisal of one block: o[i os] = (0 - log(p[i ps] / d)) / lb, +inf where the quotient is
 * 0; float64 out for float64 input, float32 for the others. Whole vectors of contiguous output
 * are stored in place; the tail and strided output go through a small buffer.
 * Returns 1 if an element may be invalid: the check of a row that is not normalized (its sum
 * is not needed) rides along, on the bits of the elements in the compute lanes (2-byte
 * elements widened exactly): as unsigned integers those of the finite numbers >= +0 are below
 * +inf's, those of inf, NaN, -0 and the negative numbers at or above it, so their running
 * maximum tells, one instruction a vector. The caller's summing pass then finds the invalid
 * elements (or accepts -0, whose surprisal the block wrote: +inf). */
static int FI_NAME(fi_neglog_block)(const FI_T *p, Py_ssize_t ps, FI_S *o, Py_ssize_t os, Py_ssize_t n,
                                    double d, double lb)
{
#if FI_DBL
    typedef fi_vw fi_vbits;
    typedef fi_vl fi_vmask;
    const uint64_t lim = 0x7ff0000000000000ULL;
#else
    typedef fi_vu fi_vbits;
    typedef fi_vi fi_vmask;
    const uint32_t lim = 0x7f800000u;
#endif
#define FI_BITS_MAX_STEP(hi, b) \
    ((hi) = (fi_vbits)(((fi_vmask)((hi) > (b)) & (fi_vmask)(hi)) | (~(fi_vmask)((hi) > (b)) & (fi_vmask)(b))))
    fi_vbits hi = {0}, b;
    FI_S buf[FI_W];
    FI_T zero;
    FI_V x;
    Py_ssize_t i = 0, k;
    int l, bad = 0;
    memset(&zero, 0, sizeof zero);
    if (os == 1 && d == 1.0 && lb == 1.0)       /* the common call: no division, constants folded */
        for (; n - i >= FI_W; i += FI_W) {
            x = FI_NAME(fi_lanes)(p, i, ps, FI_W, zero);
            b = (fi_vbits)x;
            FI_BITS_MAX_STEP(hi, b);
            FI_NAME(fi_neglog_vec)(x, 1.0, 1.0, o + i);
        }
    else if (os == 1)
        for (; n - i >= FI_W; i += FI_W) {
            x = FI_NAME(fi_lanes)(p, i, ps, FI_W, zero);
            b = (fi_vbits)x;
            FI_BITS_MAX_STEP(hi, b);
            FI_NAME(fi_neglog_vec)(x, d, lb, o + i);
        }
    for (; i < n; i += FI_W) {
        x = FI_NAME(fi_lanes)(p, i, ps, n - i, zero);
        b = (fi_vbits)x;
        FI_BITS_MAX_STEP(hi, b);
        FI_NAME(fi_neglog_vec)(x, d, lb, buf);
        for (k = 0; k < FI_W && i + k < n; k++)
            o[(i + k) * os] = buf[k];
    }
    for (l = 0; l < FI_W; l++)
        bad |= hi[l] >= lim;
    return bad;
#undef FI_BITS_MAX_STEP
}

/* sum of m log m over m = a[i] + c b[i bs], i < n (0 log 0 = 0), in double lanes: the pairwise
 * Jensen-Shannon fast path, a the scaled halves of one row (float64, contiguous), b a row of
 * this storage type. *bad is set for a negative, NaN or infinite m. */
static double FI_NAME(fi_mixlog_block)(const double *a, const FI_T *b, Py_ssize_t bs, Py_ssize_t n, double c,
                                       int *bad)
{
    fi_vd acc = fi_splatd(0), mn = fi_splatd(__builtin_inf());
    double mnl[FI_ND], s, m0;
    FI_T zero;
    Py_ssize_t i, k;
    int h, l;
    memset(&zero, 0, sizeof zero);
    for (i = 0; i < n; i += FI_W) {
        FI_V y = FI_NAME(fi_lanes)(b, i, bs, n - i, zero);
        for (h = 0; h < FI_NH; h++) {
            k = i + h * FI_ND;
            fi_vd m = FI_NAME(fi_weights)(a, k, n - k) + c * FI_HALF(y, h);
            mn = fi_vmind(m, mn);
            acc += fi_seld(m == 0, fi_splatd(0), m * fi_vlog_pos(m));
        }
    }
    memcpy(mnl, &mn, sizeof mnl);
    m0 = mnl[0];
    for (l = 1; l < FI_ND; l++)
        m0 = mnl[l] < m0 ? mnl[l] : m0;
    s = fi_hsum(acc);
    *bad = (m0 >= 0 && isfinite(s)) ? 0 : 1;
    return s;
}

/* n elements into dst as compute scalars (exact: float32 for the 2-byte types): the rows of
 * 2-byte floats that the generalized measures (_general.pxi) widen in cache, a block of vector
 * loads at a time */
static void FI_NAME(fi_widen_block)(const FI_T *p, Py_ssize_t ps, Py_ssize_t n, FI_S *dst)
{
    FI_S buf[FI_W];
    FI_T zero;
    FI_V v;
    Py_ssize_t i = 0, k;
    memset(&zero, 0, sizeof zero);
    for (; n - i >= FI_W; i += FI_W) {
        v = FI_NAME(fi_lanes)(p, i, ps, FI_W, zero);
        memcpy(dst + i, &v, sizeof v);
    }
    if (i < n) {
        v = FI_NAME(fi_lanes)(p, i, ps, n - i, zero);
        memcpy(buf, &v, sizeof v);
        for (k = 0; i + k < n; k++)
            dst[i + k] = buf[k];
    }
}
