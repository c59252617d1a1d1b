/* The storage type of one instance of the row templates (_fi_logit_row.h, _fi_prob_row.h).
 *
 * _fi_rows.h defines, for each storage type,
 *   FI_T      the element type in memory (double, float, uint16_t)
 *   FI_SFX    the name suffix (f64, f32, bf16, f16)
 *   FI_LOADV  FI_LOADV(p): a vector of contiguous elements as compute lanes
 *   FI_LOADV2 FI_LOADV2(p, &a, &b): two vectors of them, in order
 *   FI_PAIRED (bfloat16) 1: FI_LOADV2 gives the even and the odd elements instead
 *   FI_BITS_MAX  (bfloat16) 1: the logits' max is taken on their bits
 *   FI_LOAD1  FI_LOAD1(v): one element as a compute scalar
 *   FI_NEGINF -inf as an FI_T (the fill of a partial block of logits)
 *   FI_DBL    1: compute in double lanes (float64), 0: in float lanes
 * then includes this file (the compute vector of that type, and its loads), the templates,
 * and _fi_row_type_end.h (which undefines all of it).
 */

#define FI_CAT2(a, b) a##_##b
#define FI_CAT(a, b) FI_CAT2(a, b)
#define FI_NAME(f) FI_CAT(f, FI_SFX)

#if FI_DBL
#define FI_V fi_vd
#define FI_M fi_vl
#define FI_I int64_t
#define FI_S double
#define FI_W FI_ND                  /* lanes of a compute vector */
#define FI_NH 1                     /* double vectors per compute vector */
#define FI_SEL fi_seld
#define FI_TRANSPOSE_HALVES fi_transpose_halves_d
#define FI_ALL_IDX FI_ALLD_IDX
#define FI_LO_HALF_IDX FI_LOD_IDX   /* the low and the high half's lanes */
#define FI_HI_HALF_IDX FI_HID_IDX
#define FI_ANY fi_anyl
#define FI_GTBITS fi_gtbitsd
#define FI_GEBITS fi_gebitsd
#define FI_MAX fi_vmaxd
#define FI_MIN fi_vmind
#define FI_SPLAT fi_splatd
#define FI_EXPV fi_vexp_neg
#define FI_EXPCLAMP fi_vexp_clamp
#define FI_EXPC fi_vexp_negc
#define FI_ACC_OFFMAX fi_acc_offmax_d
#define FI_FMA fi_vfmad
#define FI_LOGV fi_vlog_pos
#define FI_HALF(v, h) (v)
#define FI_PUT_HALF(buf, h, u) memcpy((buf), &(u), sizeof(u))   /* a double vector into FI_S buf */
#else
#define FI_V fi_vf
#define FI_M fi_vi
#define FI_I int32_t
#define FI_S float
#define FI_W FI_NF
#define FI_NH 2
#define FI_SEL fi_self
#define FI_TRANSPOSE_HALVES fi_transpose_halves_f
#define FI_ALL_IDX FI_ALLF_IDX
#define FI_LO_HALF_IDX FI_LO_IDX
#define FI_HI_HALF_IDX FI_HI_IDX
#define FI_ANY fi_anyi
#define FI_GTBITS fi_gtbitsf
#define FI_GEBITS fi_gebitsf
#define FI_MAX fi_vmaxf
#define FI_MIN fi_vminf
#define FI_SPLAT fi_splatf
#define FI_EXPV fi_vexpf_neg
#define FI_EXPCLAMP fi_vexpf_clamp
#define FI_EXPC fi_vexpf_negc
#define FI_ACC_OFFMAX fi_acc_offmax_f
#define FI_FMA fi_vfmaf
#define FI_LOGV fi_vlogf_pos
#define FI_HALF(v, h) ((h) == 0 ? fi_lo(v) : fi_hi(v))
#define FI_PUT_HALF(buf, h, u)                                                   \
    do {                                                                         \
        fi_vfh f_ = __builtin_convertvector((u), fi_vfh);                        \
        memcpy((buf) + (h) * FI_ND, &f_, sizeof f_);                             \
    } while (0)
#endif

/* A contiguous load also prefetches the row FI_PF_BYTES ahead into L1, and FI_PF_L2_BYTES ahead
 * into L2 (prefetcht1). The kernels' arithmetic (a log or an exp per element) fills the
 * out-of-order window, so few cache misses are in flight and the hardware prefetchers alone
 * left rows from DRAM up to 3x slower than rows in cache on some machines; 2 KB measured
 * better than 1 KB into L1 (4 KB the same), and the L2 prefetch far ahead took float64 entropy
 * from DRAM from 0.83-0.89x to 0.92-0.99x its in-cache speed on an AVX-512 Xeon, where the faster log
 * had left the 2 KB lead short (figures: bench/README.md, "Rows from DRAM on an AVX-512 Xeon,
 * and the prefetch", "An Intel AVX-512 machine: float64 logit rows carry the next
 * maximum, rows prefetched into L2"). */
#ifndef FI_PF_BYTES
#define FI_PF_BYTES 2048
#endif
#ifndef FI_PF_L2_BYTES
#define FI_PF_L2_BYTES 16384
#endif

/* The prefetches of `bytes` contiguous bytes (a constant) read from p on, one per 64 bytes
 * (two a line for a 32-byte step): FI_PF_BYTES ahead into L1 and FI_PF_L2_BYTES ahead into
 * L2. Loops that read several vectors a step take them once a step (fi_pass1); fi_lanes
 * takes them for every vector. */
#define FI_PF_LINES(p, bytes)                                                          \
    do {                                                                               \
        Py_ssize_t b_;                                                                 \
        for (b_ = 0; b_ < (Py_ssize_t)(bytes); b_ += 64) {                             \
            __builtin_prefetch((const char *)(p) + FI_PF_BYTES + b_);                  \
            __builtin_prefetch((const char *)(p) + FI_PF_L2_BYTES + b_, 0, 2);         \
        }                                                                              \
    } while (0)

/* FI_W elements from i on (cnt of them exist; stride xs); the missing ones are `fill`. A full
 * strided vector of float64 or float32 is built lane by lane in registers: a vector load of
 * elements just stored one by one stalls on store forwarding (3-4x slower per element). No
 * prefetch (fi_lanes below adds it). */
FI_VINLINE FI_V FI_NAME(fi_lanes_at)(const FI_T *x, Py_ssize_t i, Py_ssize_t xs, Py_ssize_t cnt, FI_T fill)
{
    FI_T buf[FI_W];
    Py_ssize_t k;
    if (cnt >= FI_W) {
        if (xs == 1)
            return FI_LOADV(x + i);
        if (sizeof(FI_T) == sizeof(FI_S)) {        /* float64, float32: no conversion */
            FI_V v;
            for (k = 0; k < FI_W; k++)
                v[k] = (FI_S)x[(i + k) * xs];
            return v;
        }
        for (k = 0; k < FI_W; k++)            /* 2-byte: widened by the vector load (the scalar */
            buf[k] = x[(i + k) * xs];         /* float16 conversion is slower than the stall)   */
        return FI_LOADV(buf);
    }
    for (k = 0; k < FI_W; k++)
        buf[k] = k < cnt ? x[(i + k) * xs] : fill;
    return FI_LOADV(buf);
}

/* fi_lanes_at, and a full contiguous vector prefetches ahead (FI_PF_LINES of its bytes: one
 * pair, a vector being at most a line; one narrower than a line repeats its line's prefetch,
 * which costs little beside the arithmetic of the loops that load a vector a step) */
FI_VINLINE FI_V FI_NAME(fi_lanes)(const FI_T *x, Py_ssize_t i, Py_ssize_t xs, Py_ssize_t cnt, FI_T fill)
{
    if (cnt >= FI_W && xs == 1)
        FI_PF_LINES(x + i, FI_W * sizeof(FI_T));
    return FI_NAME(fi_lanes_at)(x, i, xs, cnt, fill);
}

/* FI_ND class weights from i on (cnt of them exist), 0 for the missing ones */
FI_VINLINE fi_vd FI_NAME(fi_weights)(const double *wt, Py_ssize_t i, Py_ssize_t cnt)
{
    double buf[FI_ND];
    Py_ssize_t k;
    fi_vd u;
    if (cnt >= FI_ND) {
        memcpy(&u, wt + i, sizeof u);
        return u;
    }
    for (k = 0; k < FI_ND; k++)
        buf[k] = k < cnt ? wt[i + k] : 0.0;
    memcpy(&u, buf, sizeof u);
    return u;
}
