/* The row engine: every streaming row kernel, for every storage type, from one source.
 *
 * The kernels are templates over the storage type -- _fi_logit_row.h (rows of logits, see
 * _fi_logits.h), _fi_prob_row.h (rows of the Shannon measures, blocks of the surprisal, see
 * _fi_prob.h), _fi_general_row.h (blocks of the generalized measures) and
 * _fi_gradhess_row.h (gradient boosting's gradient and Hessian, a row a vector lane) -- written
 * on the vector layer _fi_vec.h, which takes the width of the build's registers: this file is
 * compiled once per SIMD level (setup.py) and instantiates each template for float64,
 * float32, bfloat16 and float16 input. The dispatchers at the end pick the instance (the
 * Shannon rows are picked by _kernels.pxi's PROB_ROW table).
 */
#ifndef FASTINFO_ROWS_H
#define FASTINFO_ROWS_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "_fi_vec.h"
#include "_fi_platform.h"
#include "_fi_logits.h"
#include "_fi_prob.h"

#define FI_BLOCK 8192            /* elements per block (the unit of Ctrl-C polling and of threads) */
enum { FI_FMT_F64 = 0, FI_FMT_F32 = 1, FI_FMT_BF16 = 2, FI_FMT_F16 = 3 };   /* storage types */

#define FI_T double
#define FI_SFX f64
#define FI_LOADV2 fi_load2_f64
#define FI_LOADV fi_load_f64
#define FI_LOAD1(v) (v)
#define FI_NEGINF (-__builtin_inf())
#define FI_DBL 1
#include "_fi_row_type.h"
#include "_fi_logit_row.h"
#include "_fi_gradhess_row.h"
#include "_fi_prob_row.h"
#include "_fi_general_row.h"
#include "_fi_row_type_end.h"

#define FI_T float
#define FI_SFX f32
#define FI_LOADV2 fi_load2_f32
#define FI_LOADV fi_load_f32
#define FI_LOAD1(v) (v)
#define FI_NEGINF (-__builtin_inff())
#define FI_DBL 0
#include "_fi_row_type.h"
#include "_fi_logit_row.h"
#include "_fi_gradhess_row.h"
#include "_fi_prob_row.h"
#include "_fi_general_row.h"
#include "_fi_row_type_end.h"

#define FI_T uint16_t
#define FI_SFX bf16
#define FI_LOADV2 fi_load2_bf16
#define FI_PAIRED 1              /* FI_LOADV2: the even and the odd elements */
#define FI_BITS_MAX 1            /* pass 1 on the elements' bits */
#define FI_LOADV fi_load_bf16
#define FI_LOAD1(v) fi_bf16_to_f32(v)
#define FI_NEGINF ((uint16_t)0xff80u)
#define FI_DBL 0
#include "_fi_row_type.h"
#include "_fi_logit_row.h"
#include "_fi_gradhess_row.h"
#include "_fi_prob_row.h"
#include "_fi_general_row.h"
#include "_fi_row_type_end.h"

#define FI_T uint16_t
#define FI_SFX f16
#define FI_LOADV2 fi_load2_f16
#define FI_LOADV fi_load_f16
#define FI_LOAD1(v) fi_f16_to_f32(v)
#define FI_NEGINF ((uint16_t)0xfc00u)
#define FI_DBL 0
#include "_fi_row_type.h"
#include "_fi_logit_row.h"
#include "_fi_gradhess_row.h"
#include "_fi_prob_row.h"
#include "_fi_general_row.h"
#include "_fi_row_type_end.h"

/* One row of logits stored as fmt (strides in elements). o: the softmax / log_softmax output,
 * float64 for float64 logits, else float32; cy: the thread's carry (NULL: none). */
static inline void fi_logit_row(int fmt, const void *x, Py_ssize_t xs, const void *y, Py_ssize_t ys,
                                Py_ssize_t label, void *o, Py_ssize_t os, Py_ssize_t n,
                                const fi_logit_args *g, double *res, double *res2, double *lse, fi_row_carry *cy,
                                fi_stop_t *stop)
{
    switch (fmt) {
    case FI_FMT_F64:
        fi_logit_row_f64((const double *)x, xs, (const double *)y, ys, label, (double *)o, os, n, g, res, res2, lse,
                         cy, stop);
        break;
    case FI_FMT_F32:
        fi_logit_row_f32((const float *)x, xs, (const float *)y, ys, label, (float *)o, os, n, g, res, res2, lse, cy,
                         stop);
        break;
    case FI_FMT_BF16:
        fi_logit_row_bf16((const uint16_t *)x, xs, (const uint16_t *)y, ys, label, (float *)o, os, n, g, res,
                          res2, lse, cy, stop);
        break;
    default:
        fi_logit_row_f16((const uint16_t *)x, xs, (const uint16_t *)y, ys, label, (float *)o, os, n, g, res,
                         res2, lse, cy, stop);
    }
}

/* The softmax cross-entropy's (or focal loss's) gradient and diagonal Hessian of n rows of logits
 * stored as fmt, a row a lane (fi_gh_rows of _fi_gradhess_row.h); buf: bufbytes, at least 2 K
 * FI_NF doubles (K FI_GH_CHUNK of them or more: column-major rows a chunk at a time); stream:
 * outputs larger than the caches, stored past them where they can be */
static inline Py_ssize_t fi_gh_rows(int fmt, const void *x, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t n,
                                    Py_ssize_t K, const long long *lab, const double *sw, double hfac,
                                    double gamma, double hfloor, void *go, Py_ssize_t grs, Py_ssize_t gcs, void *ho,
                                    Py_ssize_t hrs, Py_ssize_t hcs, int o64, void *buf, Py_ssize_t bufbytes,
                                    unsigned char *bad, int stream)
{
    switch (fmt) {
    case FI_FMT_F64:
        return fi_gh_rows_f64((const double *)x, rs, cs, n, K, lab, sw, hfac, gamma, hfloor, go, grs, gcs, ho, hrs, hcs,
                              o64, (double *)buf, bufbytes, bad, stream);
    case FI_FMT_F32:
        return fi_gh_rows_f32((const float *)x, rs, cs, n, K, lab, sw, hfac, gamma, hfloor, go, grs, gcs, ho, hrs, hcs,
                              o64, (float *)buf, bufbytes, bad, stream);
    case FI_FMT_BF16:
        return fi_gh_rows_bf16((const uint16_t *)x, rs, cs, n, K, lab, sw, hfac, gamma, hfloor, go, grs, gcs, ho, hrs,
                               hcs, o64, (float *)buf, bufbytes, bad, stream);
    default:
        return fi_gh_rows_f16((const uint16_t *)x, rs, cs, n, K, lab, sw, hfac, gamma, hfloor, go, grs, gcs, ho, hrs,
                              hcs, o64, (float *)buf, bufbytes, bad, stream);
    }
}

/* Surprisal of one block stored as fmt (see fi_neglog_block; o: float64 for float64 input,
 * else float32); 1 if an element may be invalid */
static inline int fi_neglog_block(int fmt, const void *p, Py_ssize_t ps, void *o, Py_ssize_t os, Py_ssize_t n,
                                  double d, double lb)
{
    switch (fmt) {
    case FI_FMT_F64: return fi_neglog_block_f64((const double *)p, ps, (double *)o, os, n, d, lb);
    case FI_FMT_F32: return fi_neglog_block_f32((const float *)p, ps, (float *)o, os, n, d, lb);
    case FI_FMT_BF16: return fi_neglog_block_bf16((const uint16_t *)p, ps, (float *)o, os, n, d, lb);
    default: return fi_neglog_block_f16((const uint16_t *)p, ps, (float *)o, os, n, d, lb);
    }
}

/* sum of m log m, m = a + c b, b stored as fmt (see fi_mixlog_block) */
static inline double fi_mixlog_block(int fmt, const double *a, const void *b, Py_ssize_t bs, Py_ssize_t n,
                                     double c, int *bad)
{
    switch (fmt) {
    case FI_FMT_F64: return fi_mixlog_block_f64(a, (const double *)b, bs, n, c, bad);
    case FI_FMT_F32: return fi_mixlog_block_f32(a, (const float *)b, bs, n, c, bad);
    case FI_FMT_BF16: return fi_mixlog_block_bf16(a, (const uint16_t *)b, bs, n, c, bad);
    default: return fi_mixlog_block_f16(a, (const uint16_t *)b, bs, n, c, bad);
    }
}

/* One block of the generalized measures' first pass over elements stored as fmt (see
 * _fi_general_row.h) */
static inline void fi_gstats_block(int fmt, int two, int dd, const void *p, Py_ssize_t ps, const void *q,
                                   Py_ssize_t qs, Py_ssize_t n, fi_gstats *out)
{
    switch (fmt) {
    case FI_FMT_F64:
        fi_gstats_block_f64(two, dd, (const double *)p, ps, (const double *)q, qs, n, out);
        break;
    case FI_FMT_F32:
        fi_gstats_block_f32(two, dd, (const float *)p, ps, (const float *)q, qs, n, out);
        break;
    case FI_FMT_BF16:
        fi_gstats_block_bf16(two, dd, (const uint16_t *)p, ps, (const uint16_t *)q, qs, n, out);
        break;
    default:
        fi_gstats_block_f16(two, dd, (const uint16_t *)p, ps, (const uint16_t *)q, qs, n, out);
    }
}

/* One block of Hellinger, total variation or chi^2 terms (mode: FI_DIST_*) over elements
 * stored as fmt */
static inline double fi_dist_block(int fmt, int mode, const void *p, Py_ssize_t ps, const void *q, Py_ssize_t qs,
                                   Py_ssize_t n, double dp, double dq, double *bhat, int *bad)
{
    switch (fmt) {
    case FI_FMT_F64:
        return fi_dist_block_f64(mode, (const double *)p, ps, (const double *)q, qs, n, dp, dq, bhat, bad);
    case FI_FMT_F32:
        return fi_dist_block_f32(mode, (const float *)p, ps, (const float *)q, qs, n, dp, dq, bhat, bad);
    case FI_FMT_BF16:
        return fi_dist_block_bf16(mode, (const uint16_t *)p, ps, (const uint16_t *)q, qs, n, dp, dq, bhat, bad);
    default:
        return fi_dist_block_f16(mode, (const uint16_t *)p, ps, (const uint16_t *)q, qs, n, dp, dq, bhat, bad);
    }
}

/* One block of the Renyi (tsallis = 0) or Tsallis power sum over elements stored as fmt (see
 * fi_power_kind; pf: elements to the next row, prefetched) */
static inline double fi_power_block(int fmt, int kind, int tsallis, const void *p, Py_ssize_t ps, Py_ssize_t n,
                                    double d, double a, double *ties, Py_ssize_t pf)
{
    switch (fmt) {
    case FI_FMT_F64: return fi_power_block_f64(kind, tsallis, (const double *)p, ps, n, d, a, ties, pf);
    case FI_FMT_F32: return fi_power_block_f32(kind, tsallis, (const float *)p, ps, n, d, a, ties, pf);
    case FI_FMT_BF16: return fi_power_block_bf16(kind, tsallis, (const uint16_t *)p, ps, n, d, a, ties, pf);
    default: return fi_power_block_f16(kind, tsallis, (const uint16_t *)p, ps, n, d, a, ties, pf);
    }
}

/* n 2-byte floats stored as fmt (FI_FMT_BF16 or FI_FMT_F16, stride ps) into dst as float32 */
static inline void fi_widen_f32(int fmt, const void *p, Py_ssize_t ps, Py_ssize_t n, float *dst)
{
    if (fmt == FI_FMT_BF16)
        fi_widen_block_bf16((const uint16_t *)p, ps, n, dst);
    else
        fi_widen_block_f16((const uint16_t *)p, ps, n, dst);
}

/* Element i of an array stored as fmt, as a double (the rare scalar paths) */
static inline double fi_elem(int fmt, const void *p, Py_ssize_t i)
{
    switch (fmt) {
    case FI_FMT_F64: return ((const double *)p)[i];
    case FI_FMT_F32: return ((const float *)p)[i];
    case FI_FMT_BF16: return fi_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return fi_f16_to_f32(((const uint16_t *)p)[i]);
    }
}

/* Test hooks, over n contiguous elements: op 0, the softmax passes' vector exp (fi_vexp_neg,
 * fi_vexpf_neg; z <= 0); op 1, the row kernels' vector log (fi_vlog, fi_vlogf). Their accuracy
 * is tested on their own, on every level. */
enum { FI_HOOK_SOFTMAX_EXP = 0, FI_HOOK_VECTOR_LOG = 1 };
static inline void fi_vec_hook(int op, int dbl, const void *x, void *y, Py_ssize_t n)
{
    Py_ssize_t i, k, w = dbl ? FI_ND : FI_NF;
    double bd[FI_ND];
    float bf[FI_NF];
    for (i = 0; i < n; i += w) {
        k = n - i < w ? n - i : w;
        if (dbl) {
            fi_vd v = fi_splatd(op == FI_HOOK_VECTOR_LOG ? 1.0 : 0.0);
            memcpy(&v, (const double *)x + i, (size_t)k * sizeof(double));
            v = op == FI_HOOK_VECTOR_LOG ? fi_vlog(v) : fi_vexp_neg(v);
            memcpy(bd, &v, sizeof bd);
            memcpy((double *)y + i, bd, (size_t)k * sizeof(double));
        } else {
            fi_vf v = fi_splatf(op == FI_HOOK_VECTOR_LOG ? 1.0f : 0.0f);
            memcpy(&v, (const float *)x + i, (size_t)k * sizeof(float));
            v = op == FI_HOOK_VECTOR_LOG ? fi_vlogf(v) : fi_vexpf_neg(v);
            memcpy(bf, &v, sizeof bf);
            memcpy((float *)y + i, bf, (size_t)k * sizeof(float));
        }
    }
}

/* Bytes per element of fmt */
static inline Py_ssize_t fi_fmt_size(int fmt) { return fmt == FI_FMT_F64 ? 8 : (fmt == FI_FMT_F32 ? 4 : 2); }

#endif /* FASTINFO_ROWS_H */
