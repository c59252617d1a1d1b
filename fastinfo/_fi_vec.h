/* The vector layer of the row engine, written once for every SIMD level.
 *
 * A row's elements are taken a vector at a time -- FI_NF float lanes or FI_ND double lanes,
 * the width of the build's registers (AVX-512: 16 / 8, AVX2: 8 / 4, SSE2 and other targets:
 * 4 / 2) -- with GCC / Clang vector extensions, so the same source is native code on every
 * level (vectors wider than the registers are not used: compilers lower them poorly).
 * Sums are accumulated in double lanes: a float vector is added as its low and high halves
 * (fi_lo, fi_hi). The order of every sum is fixed for a given build: results do not depend
 * on the thread count. Nothing here depends on the loop vectorizer.
 *
 * What is here: the vector types, loads from every storage type (2-byte floats widened
 * lane by lane: bfloat16 by a shift, float16 by its bit layout, subnormals and inf/NaN
 * included), the select, the halves, the exp of softmax arguments, and _fimath.h's log
 * lane by lane (the same operations in the same order: the same results), as are its float log
 * and exact fused multiply-subtract; and the square root.
 */
#ifndef FASTINFO_VEC_H
#define FASTINFO_VEC_H

#include <stdint.h>
#include <string.h>
#include "_fimath.h"
#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
#define FI_VBYTES 64
#elif defined(__AVX__)
#define FI_VBYTES 32
#else
#define FI_VBYTES 16
#endif
#define FI_NF (FI_VBYTES / 4)       /* float lanes  */
#define FI_ND (FI_VBYTES / 8)       /* double lanes */

/* Vector arguments of the (always inlined) helpers never cross a library boundary: the ABI
 * note about vector arguments does not apply. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef float    fi_vf  __attribute__((vector_size(FI_VBYTES)));
typedef int32_t  fi_vi  __attribute__((vector_size(FI_VBYTES)));
typedef uint32_t fi_vu  __attribute__((vector_size(FI_VBYTES)));
typedef double   fi_vd  __attribute__((vector_size(FI_VBYTES)));
typedef int64_t  fi_vl  __attribute__((vector_size(FI_VBYTES)));
typedef uint64_t fi_vw  __attribute__((vector_size(FI_VBYTES)));
typedef uint16_t fi_vh  __attribute__((vector_size(FI_VBYTES / 2)));   /* FI_NF 2-byte floats */
typedef float    fi_vfh __attribute__((vector_size(FI_VBYTES / 2)));   /* FI_ND floats */
typedef int32_t  fi_vih __attribute__((vector_size(FI_VBYTES / 2)));
typedef int16_t  fi_vs  __attribute__((vector_size(FI_VBYTES)));       /* 2 FI_NF 2-byte integers */

#if FI_NF == 16
#define FI_LO_IDX 0, 1, 2, 3, 4, 5, 6, 7
#define FI_HI_IDX 8, 9, 10, 11, 12, 13, 14, 15
#define FI_LOD_IDX 0, 1, 2, 3
#define FI_HID_IDX 4, 5, 6, 7
#elif FI_NF == 8
#define FI_LO_IDX 0, 1, 2, 3
#define FI_HI_IDX 4, 5, 6, 7
#define FI_LOD_IDX 0, 1
#define FI_HID_IDX 2, 3
#else
#define FI_LO_IDX 0, 1
#define FI_HI_IDX 2, 3
#define FI_LOD_IDX 0
#define FI_HID_IDX 1
#endif

#define FI_VINLINE static inline __attribute__((always_inline))

/* m ? a : b, lane by lane (m: all ones or all zeros per lane, as comparisons give) */
FI_VINLINE fi_vf fi_self(fi_vi m, fi_vf a, fi_vf b) { return (fi_vf)((m & (fi_vi)a) | (~m & (fi_vi)b)); }
FI_VINLINE fi_vd fi_seld(fi_vl m, fi_vd a, fi_vd b) { return (fi_vd)((m & (fi_vl)a) | (~m & (fi_vl)b)); }
FI_VINLINE fi_vu fi_selu(fi_vi m, fi_vu a, fi_vu b) { return (fi_vu)((m & (fi_vi)a) | (~m & (fi_vi)b)); }
/* a > b ? a : b, lane by lane (b where one is NaN): one instruction on x86, where GCC does not
 * recognize the select as one (it keeps the sign of zero and NaN as they are: so does maxps) */
/* and a < b ? a : b (fi_vminf, fi_vmind), likewise: as a select, a running min waits on a
 * compare and two logic operations a vector (the normalization pass's bound on a Zen 5) */
#if defined(__x86_64__) && defined(__AVX512F__)
FI_VINLINE fi_vf fi_vmaxf(fi_vf a, fi_vf b) { return (fi_vf)_mm512_max_ps((__m512)a, (__m512)b); }
FI_VINLINE fi_vd fi_vmaxd(fi_vd a, fi_vd b) { return (fi_vd)_mm512_max_pd((__m512d)a, (__m512d)b); }
FI_VINLINE fi_vf fi_vminf(fi_vf a, fi_vf b) { return (fi_vf)_mm512_min_ps((__m512)a, (__m512)b); }
FI_VINLINE fi_vd fi_vmind(fi_vd a, fi_vd b) { return (fi_vd)_mm512_min_pd((__m512d)a, (__m512d)b); }
#elif defined(__x86_64__) && defined(__AVX__)
FI_VINLINE fi_vf fi_vmaxf(fi_vf a, fi_vf b) { return (fi_vf)_mm256_max_ps((__m256)a, (__m256)b); }
FI_VINLINE fi_vd fi_vmaxd(fi_vd a, fi_vd b) { return (fi_vd)_mm256_max_pd((__m256d)a, (__m256d)b); }
FI_VINLINE fi_vf fi_vminf(fi_vf a, fi_vf b) { return (fi_vf)_mm256_min_ps((__m256)a, (__m256)b); }
FI_VINLINE fi_vd fi_vmind(fi_vd a, fi_vd b) { return (fi_vd)_mm256_min_pd((__m256d)a, (__m256d)b); }
#elif defined(__x86_64__) && defined(__SSE2__) && FI_VBYTES == 16
FI_VINLINE fi_vf fi_vmaxf(fi_vf a, fi_vf b) { return (fi_vf)_mm_max_ps((__m128)a, (__m128)b); }
FI_VINLINE fi_vd fi_vmaxd(fi_vd a, fi_vd b) { return (fi_vd)_mm_max_pd((__m128d)a, (__m128d)b); }
FI_VINLINE fi_vf fi_vminf(fi_vf a, fi_vf b) { return (fi_vf)_mm_min_ps((__m128)a, (__m128)b); }
FI_VINLINE fi_vd fi_vmind(fi_vd a, fi_vd b) { return (fi_vd)_mm_min_pd((__m128d)a, (__m128d)b); }
#else
FI_VINLINE fi_vf fi_vmaxf(fi_vf a, fi_vf b) { return fi_self(a > b, a, b); }
FI_VINLINE fi_vd fi_vmaxd(fi_vd a, fi_vd b) { return fi_seld(a > b, a, b); }
FI_VINLINE fi_vf fi_vminf(fi_vf a, fi_vf b) { return fi_self(a < b, a, b); }
FI_VINLINE fi_vd fi_vmind(fi_vd a, fi_vd b) { return fi_seld(a < b, a, b); }
#endif
/* the signed 16-bit max and min, lane by lane */
#if defined(__x86_64__) && defined(__AVX512BW__) && FI_VBYTES == 64
FI_VINLINE fi_vs fi_vmaxs(fi_vs a, fi_vs b) { return (fi_vs)_mm512_max_epi16((__m512i)a, (__m512i)b); }
FI_VINLINE fi_vs fi_vmins(fi_vs a, fi_vs b) { return (fi_vs)_mm512_min_epi16((__m512i)a, (__m512i)b); }
#elif defined(__x86_64__) && defined(__AVX2__) && FI_VBYTES == 32
FI_VINLINE fi_vs fi_vmaxs(fi_vs a, fi_vs b) { return (fi_vs)_mm256_max_epi16((__m256i)a, (__m256i)b); }
FI_VINLINE fi_vs fi_vmins(fi_vs a, fi_vs b) { return (fi_vs)_mm256_min_epi16((__m256i)a, (__m256i)b); }
#elif defined(__x86_64__) && defined(__SSE2__) && FI_VBYTES == 16
FI_VINLINE fi_vs fi_vmaxs(fi_vs a, fi_vs b) { return (fi_vs)_mm_max_epi16((__m128i)a, (__m128i)b); }
FI_VINLINE fi_vs fi_vmins(fi_vs a, fi_vs b) { return (fi_vs)_mm_min_epi16((__m128i)a, (__m128i)b); }
#else
FI_VINLINE fi_vs fi_vmaxs(fi_vs a, fi_vs b) { fi_vs m = a > b; return (m & a) | (~m & b); }
FI_VINLINE fi_vs fi_vmins(fi_vs a, fi_vs b) { fi_vs m = a < b; return (m & a) | (~m & b); }
#endif
/* whether any lane of a comparison's mask is set (a rare branch of a scan: the top-k) */
#if defined(__x86_64__) && defined(__AVX512F__) && FI_VBYTES == 64
FI_VINLINE int fi_anyi(fi_vi m) { return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0; }
FI_VINLINE int fi_anyl(fi_vl m) { return _mm512_test_epi64_mask((__m512i)m, (__m512i)m) != 0; }
#elif defined(__x86_64__) && defined(__AVX__) && FI_VBYTES == 32
FI_VINLINE int fi_anyi(fi_vi m) { return !_mm256_testz_si256((__m256i)m, (__m256i)m); }
FI_VINLINE int fi_anyl(fi_vl m) { return !_mm256_testz_si256((__m256i)m, (__m256i)m); }
#elif defined(__x86_64__) && defined(__SSE2__) && FI_VBYTES == 16
FI_VINLINE int fi_anyi(fi_vi m) { return _mm_movemask_epi8((__m128i)m) != 0; }
FI_VINLINE int fi_anyl(fi_vl m) { return _mm_movemask_epi8((__m128i)m) != 0; }
#else
FI_VINLINE int fi_anyi(fi_vi m)
{
    int32_t l[FI_NF], a = 0, k;
    memcpy(l, &m, sizeof l);
    for (k = 0; k < FI_NF; k++)
        a |= l[k];
    return a != 0;
}
FI_VINLINE int fi_anyl(fi_vl m)
{
    int64_t l[FI_ND], a = 0;
    int k;
    memcpy(l, &m, sizeof l);
    for (k = 0; k < FI_ND; k++)
        a |= l[k];
    return a != 0;
}
#endif
/* a > b (ge: a >= b, ordered: false with a NaN) lane by lane as the bits of an unsigned, lane 0
 * the lowest: the order statistics' counts (a popcount, off the vector pipes) and the elements
 * of a scan to visit */
#if defined(__x86_64__) && defined(__AVX512F__) && FI_VBYTES == 64
FI_VINLINE unsigned fi_gtbitsf(fi_vf a, fi_vf b) { return _mm512_cmp_ps_mask((__m512)a, (__m512)b, _CMP_GT_OQ); }
FI_VINLINE unsigned fi_gebitsf(fi_vf a, fi_vf b) { return _mm512_cmp_ps_mask((__m512)a, (__m512)b, _CMP_GE_OQ); }
FI_VINLINE unsigned fi_gtbitsd(fi_vd a, fi_vd b) { return _mm512_cmp_pd_mask((__m512d)a, (__m512d)b, _CMP_GT_OQ); }
FI_VINLINE unsigned fi_gebitsd(fi_vd a, fi_vd b) { return _mm512_cmp_pd_mask((__m512d)a, (__m512d)b, _CMP_GE_OQ); }
#elif defined(__x86_64__) && defined(__AVX__) && FI_VBYTES == 32
FI_VINLINE unsigned fi_gtbitsf(fi_vf a, fi_vf b) { return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps((__m256)a, (__m256)b, _CMP_GT_OQ)); }
FI_VINLINE unsigned fi_gebitsf(fi_vf a, fi_vf b) { return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps((__m256)a, (__m256)b, _CMP_GE_OQ)); }
FI_VINLINE unsigned fi_gtbitsd(fi_vd a, fi_vd b) { return (unsigned)_mm256_movemask_pd(_mm256_cmp_pd((__m256d)a, (__m256d)b, _CMP_GT_OQ)); }
FI_VINLINE unsigned fi_gebitsd(fi_vd a, fi_vd b) { return (unsigned)_mm256_movemask_pd(_mm256_cmp_pd((__m256d)a, (__m256d)b, _CMP_GE_OQ)); }
#elif defined(__x86_64__) && defined(__SSE2__) && FI_VBYTES == 16
FI_VINLINE unsigned fi_gtbitsf(fi_vf a, fi_vf b) { return (unsigned)_mm_movemask_ps(_mm_cmpgt_ps((__m128)a, (__m128)b)); }
FI_VINLINE unsigned fi_gebitsf(fi_vf a, fi_vf b) { return (unsigned)_mm_movemask_ps(_mm_cmpge_ps((__m128)a, (__m128)b)); }
FI_VINLINE unsigned fi_gtbitsd(fi_vd a, fi_vd b) { return (unsigned)_mm_movemask_pd(_mm_cmpgt_pd((__m128d)a, (__m128d)b)); }
FI_VINLINE unsigned fi_gebitsd(fi_vd a, fi_vd b) { return (unsigned)_mm_movemask_pd(_mm_cmpge_pd((__m128d)a, (__m128d)b)); }
#else
FI_VINLINE unsigned fi_bitsi(fi_vi m)
{
    int32_t l[FI_NF];
    unsigned b = 0;
    int k;
    memcpy(l, &m, sizeof l);
    for (k = 0; k < FI_NF; k++)
        b |= (unsigned)(l[k] != 0) << k;
    return b;
}
FI_VINLINE unsigned fi_bitsl(fi_vl m)
{
    int64_t l[FI_ND];
    unsigned b = 0;
    int k;
    memcpy(l, &m, sizeof l);
    for (k = 0; k < FI_ND; k++)
        b |= (unsigned)(l[k] != 0) << k;
    return b;
}
FI_VINLINE unsigned fi_gtbitsf(fi_vf a, fi_vf b) { return fi_bitsi(a > b); }
FI_VINLINE unsigned fi_gebitsf(fi_vf a, fi_vf b) { return fi_bitsi(a >= b); }
FI_VINLINE unsigned fi_gtbitsd(fi_vd a, fi_vd b) { return fi_bitsl(a > b); }
FI_VINLINE unsigned fi_gebitsd(fi_vd a, fi_vd b) { return fi_bitsl(a >= b); }
#endif
/* whether any lane of a differs from b's (32-bit integer lanes) */
#if defined(__x86_64__) && defined(__AVX512F__) && FI_VBYTES == 64
FI_VINLINE int fi_anynei(fi_vi a, fi_vi b) { return _mm512_cmpneq_epi32_mask((__m512i)a, (__m512i)b) != 0; }
#else
FI_VINLINE int fi_anynei(fi_vi a, fi_vi b) { return fi_anyi(a != b); }
#endif
FI_VINLINE fi_vf fi_splatf(float v) { return (fi_vf){0} + v; }
FI_VINLINE fi_vd fi_splatd(double v) { return (fi_vd){0} + v; }
/* The low and high halves of a float vector as double vectors, and 2-byte lanes widened to
 * 4-byte ones. On x86 these are single instructions written as intrinsics: GCC lowers the
 * generic __builtin_convertvector of a half vector into several narrow conversions and
 * inserts (vcvtps2pd of two lanes at a time: the widening of float sums cost more than the
 * softmax exp). The results are the same exact conversions. */
#if defined(__x86_64__) && defined(__AVX512F__)
FI_VINLINE fi_vd fi_lo(fi_vf v) { return (fi_vd)_mm512_cvtps_pd(_mm512_castps512_ps256((__m512)v)); }
FI_VINLINE fi_vd fi_hi(fi_vf v)
{
    return (fi_vd)_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd((__m512d)v, 1)));
}
FI_VINLINE fi_vu fi_widen_u16(fi_vh h) { return (fi_vu)_mm512_cvtepu16_epi32((__m256i)h); }
#elif defined(__x86_64__) && defined(__AVX2__)
FI_VINLINE fi_vd fi_lo(fi_vf v) { return (fi_vd)_mm256_cvtps_pd(_mm256_castps256_ps128((__m256)v)); }
FI_VINLINE fi_vd fi_hi(fi_vf v) { return (fi_vd)_mm256_cvtps_pd(_mm256_extractf128_ps((__m256)v, 1)); }
FI_VINLINE fi_vu fi_widen_u16(fi_vh h) { return (fi_vu)_mm256_cvtepu16_epi32((__m128i)h); }
#elif defined(__x86_64__) && defined(__SSE2__) && FI_VBYTES == 16
FI_VINLINE fi_vd fi_lo(fi_vf v) { return (fi_vd)_mm_cvtps_pd((__m128)v); }
FI_VINLINE fi_vd fi_hi(fi_vf v) { return (fi_vd)_mm_cvtps_pd(_mm_movehl_ps((__m128)v, (__m128)v)); }
FI_VINLINE fi_vu fi_widen_u16(fi_vh h) { return __builtin_convertvector(h, fi_vu); }
#else
FI_VINLINE fi_vd fi_lo(fi_vf v) { return __builtin_convertvector(__builtin_shufflevector(v, v, FI_LO_IDX), fi_vd); }
FI_VINLINE fi_vd fi_hi(fi_vf v) { return __builtin_convertvector(__builtin_shufflevector(v, v, FI_HI_IDX), fi_vd); }
FI_VINLINE fi_vu fi_widen_u16(fi_vh h) { return __builtin_convertvector(h, fi_vu); }
#endif

/* --- squares of lanes transposed in registers ----------------------------------------------
 * v[0..n/2-1] (n = the lanes of a vector) as two n/2 x n/2 squares side by side (lanes
 * 0..n/2-1 and n/2..n-1), each transposed: vector i of two half rows in, of two half columns
 * out. log2(n/2) stages, stage b exchanging the b x b blocks off the diagonal of each 2b x 2b
 * block (row i, lanes with bit b set <-> row i + b, lanes without it): n/2 two-source shuffles
 * a stage, constant ones (AVX-512: vpermt2pd / vunpcklpd and their float twins). */
#define FI_TLO_(l, b, n) (((l) & (b)) ? (n) + (l) - (b) : (l))   /* row i's new lane l */
#define FI_THI_(l, b, n) (((l) & (b)) ? (n) + (l) : (l) + (b))   /* row i + b's */
#define FI_TID_(l, b, n) (l)                                     /* lane l as it is */
#define FI_TI2_(f, b, n) f(0, b, n), f(1, b, n)
#define FI_TI4_(f, b, n) FI_TI2_(f, b, n), f(2, b, n), f(3, b, n)
#define FI_TI8_(f, b, n) FI_TI4_(f, b, n), f(4, b, n), f(5, b, n), f(6, b, n), f(7, b, n)
#define FI_TI16_(f, b, n) FI_TI8_(f, b, n), f(8, b, n), f(9, b, n), f(10, b, n), f(11, b, n), \
                          f(12, b, n), f(13, b, n), f(14, b, n), f(15, b, n)
#define FI_TSTAGE_(v, rows, n, b, TI)                                                            \
    _Pragma("GCC unroll 16")                                                                     \
    for (i_ = 0; i_ < (rows); i_++)                                                              \
        if (!(i_ & (b))) {                                                                       \
            lo_ = __builtin_shufflevector(v[i_], v[i_ + (b)], TI(FI_TLO_, b, n));                \
            v[i_ + (b)] = __builtin_shufflevector(v[i_], v[i_ + (b)], TI(FI_THI_, b, n));        \
            v[i_] = lo_;                                                                         \
        }
#if FI_NF == 16
#define FI_TIF_ FI_TI16_
#define FI_TIDB_ FI_TI8_
#elif FI_NF == 8
#define FI_TIF_ FI_TI8_
#define FI_TIDB_ FI_TI4_
#else
#define FI_TIF_ FI_TI4_
#define FI_TIDB_ FI_TI2_
#endif
/* the lanes 0..n-1 in order (a concatenation of two half vectors) */
#define FI_ALLF_IDX FI_TIF_(FI_TID_, 0, 0)
#define FI_ALLD_IDX FI_TIDB_(FI_TID_, 0, 0)
FI_VINLINE void fi_transpose_halves_f(fi_vf *v)
{
    fi_vf lo_;
    int i_;
#if FI_NF >= 16
    FI_TSTAGE_(v, FI_NF / 2, FI_NF, 4, FI_TIF_)
#endif
#if FI_NF >= 8
    FI_TSTAGE_(v, FI_NF / 2, FI_NF, 2, FI_TIF_)
#endif
    FI_TSTAGE_(v, FI_NF / 2, FI_NF, 1, FI_TIF_)
}
FI_VINLINE void fi_transpose_halves_d(fi_vd *v)
{
#if FI_ND >= 4
    fi_vd lo_;
    int i_;
#if FI_ND >= 8
    FI_TSTAGE_(v, FI_ND / 2, FI_ND, 2, FI_TIDB_)
#endif
    FI_TSTAGE_(v, FI_ND / 2, FI_ND, 1, FI_TIDB_)
#else
    (void)v;                    /* 2 lanes: two 1 x 1 squares */
#endif
}

/* --- loads: a vector of elements of a storage type as compute lanes ---------------------- */
FI_VINLINE fi_vd fi_load_f64(const double *p) { fi_vd v; memcpy(&v, p, sizeof v); return v; }
FI_VINLINE fi_vf fi_load_f32(const float *p) { fi_vf v; memcpy(&v, p, sizeof v); return v; }

FI_VINLINE fi_vf fi_bf16_lanes(fi_vh h)
{
    return (fi_vf)(fi_widen_u16(h) << 16);    /* bfloat16 = the top half of a float */
}

FI_VINLINE fi_vf fi_f16_lanes(fi_vh hv)
{
#if defined(__x86_64__) && defined(__AVX512F__)
    return (fi_vf)_mm512_cvtph_ps((__m256i)hv);           /* the same exact conversion */
#elif defined(__x86_64__) && defined(__F16C__) && FI_VBYTES == 32
    return (fi_vf)_mm256_cvtph_ps((__m128i)hv);
#else
    fi_vu h = fi_widen_u16(hv);
    fi_vu sign = (h & 0x8000u) << 16;
    fi_vu em = h & 0x7fffu;                                 /* exponent and mantissa */
    fi_vu normal = (em << 13) + ((127u - 15u) << 23);       /* rebias the exponent   */
    fi_vu special = (em << 13) | 0x7f800000u;               /* inf, NaN (payload kept) */
    fi_vf sub = __builtin_convertvector((fi_vi)em, fi_vf) * 0x1p-24f;   /* exact: em < 2^10 */
    fi_vu r = fi_selu((fi_vi)(em >= 0x7c00u), special, normal);
    r = fi_selu((fi_vi)(em < 0x0400u), (fi_vu)sub, r);
    return (fi_vf)(r | sign);
#endif
}

FI_VINLINE fi_vf fi_load_bf16(const uint16_t *p) { fi_vh h; memcpy(&h, p, sizeof h); return fi_bf16_lanes(h); }
FI_VINLINE fi_vf fi_load_f16(const uint16_t *p) { fi_vh h; memcpy(&h, p, sizeof h); return fi_f16_lanes(h); }

/* 2 FI_NF (or 2 FI_ND) contiguous elements as two compute vectors, in order -- but bfloat16:
 * both vectors from one load, the even elements by a shift (element 2j is the bottom half of
 * 32-bit lane j on a little-endian machine) and the odd ones by a mask (the top half): one
 * instruction per vector on either port, where the word permutations that kept the order ran
 * on the one the exp's table lookup needs. Rows read otherwise take the same lanes
 * (fi_lanes2 in _fi_logit_row.h). */
FI_VINLINE void fi_load2_f64(const double *p, fi_vd *a, fi_vd *b) { *a = fi_load_f64(p); *b = fi_load_f64(p + FI_ND); }
FI_VINLINE void fi_load2_f32(const float *p, fi_vf *a, fi_vf *b) { *a = fi_load_f32(p); *b = fi_load_f32(p + FI_NF); }
FI_VINLINE void fi_load2_f16(const uint16_t *p, fi_vf *a, fi_vf *b) { *a = fi_load_f16(p); *b = fi_load_f16(p + FI_NF); }
FI_VINLINE void fi_load2_bf16(const uint16_t *p, fi_vf *a, fi_vf *b)
{
    fi_vu u;
    memcpy(&u, p, sizeof u);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    *a = (fi_vf)(u & 0xffff0000u);          /* element 2j: the top half of lane j */
    *b = (fi_vf)(u << 16);
#else
    *a = (fi_vf)(u << 16);
    *b = (fi_vf)(u & 0xffff0000u);
#endif
}

/* one element (labels, the strided and partial loads) */
static inline float fi_bf16_to_f32(uint16_t h) { return fi_as_f32((uint32_t)h << 16); }
static inline float fi_f16_to_f32(uint16_t h)    /* fi_f16_lanes on one element, branch-free */
{
    uint32_t em = h & 0x7fffu, r;
    float sub = (float)(int32_t)em * 0x1p-24f;
    r = em >= 0x7c00u ? ((em << 13) | 0x7f800000u) : (em << 13) + ((127u - 15u) << 23);
    r = em < 0x0400u ? fi_as_u32(sub) : r;
    return fi_as_f32(r | ((uint32_t)(h & 0x8000u) << 16));
}

/* --- exp and log, lane by lane: the softmax exps, and _fimath.h's fi_log and fi_logf (the
 * operations of the scalar functions; the general exps join when a kernel needs them) -------- */
/* exp(z) for z <= 0 (and -inf): the arguments of every softmax pass; it stays exact in its
 * exponent arithmetic up to z = 710 (then +inf: callers with positive z clamp there). The same reduction and
 * polynomial as _fimath.h's fi_expf / fi_exp, without their compensation of the rounding of 1 + hi
 * (the result is 1 + (r + r^2 (1/2 + r Q)) rounded once: about one ulp, half the work);
 * results below the smallest subnormal are 0. NaN stays NaN.
 *
 * Float lanes on AVX-512 take a shorter road to the same accuracy (at most 1.06 ulp over
 * every float in [-110, 0], measured against libm's double exp): z = (k + j/16) ln2 + r
 * with |r| <= ln2/32, 2^(j/16) from a 16-entry table held in one register (vpermps),
 * e^r - 1 by a cubic, and the scaling by 2^k, subnormal results included, by vscalefps:
 * 11 vector instructions instead of 22, where the softmax passes are compute-bound; double
 * lanes likewise (at most 1.02 ulp measured on 4 million z in [-746, 0]). */
#if defined(__x86_64__) && defined(__AVX512F__)
/* the argument clamped where its exp is 0 (-inf -> -110; max returns its second operand
 * when one is NaN: NaN stays) */
FI_VINLINE fi_vf fi_vexpf_clamp(fi_vf z) { return (fi_vf)_mm512_max_ps(_mm512_set1_ps(-110.0f), (__m512)z); }
/* exp(z) of a clamped z */
FI_VINLINE fi_vf fi_vexpf_negc(fi_vf z)
{
    const __m512 tab = _mm512_setr_ps(     /* 2^(j/16) rounded to float, j = 0..15 */
        0x1p+0f, 0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f, 0x1.306fep+0f, 0x1.3dea64p+0f,
        0x1.4bfdaep+0f, 0x1.5ab07ep+0f, 0x1.6a09e6p+0f, 0x1.7a1148p+0f, 0x1.8ace54p+0f,
        0x1.9c4918p+0f, 0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f, 0x1.ea4afap+0f);
    const __m512 shift = _mm512_set1_ps(0x1.8p19f);     /* rounds z/ln2 to a multiple of 1/16 */
    __m512 xc = (__m512)z;
    __m512 kn = _mm512_fmadd_ps(xc, _mm512_set1_ps(FI_INVLN2F), shift);   /* low 4 bits: j */
    __m512 kf = _mm512_sub_ps(kn, shift);                                   /* k + j/16, exact */
    /* r = xc - kf ln2: the fma's product is exact, so float ln2 and its remainder suffice */
    __m512 r = _mm512_fmadd_ps(kf, _mm512_set1_ps(-0x1.62e430p-1f), xc);
    __m512 t = _mm512_permutexvar_ps(_mm512_castps_si512(kn), tab);         /* 2^(j/16) */
    __m512 c, q;
    r = _mm512_fmadd_ps(kf, _mm512_set1_ps(0x1.05c610p-29f), r);
    c = _mm512_fmadd_ps(r, _mm512_set1_ps(0x1.555556p-3f), _mm512_set1_ps(0.5f));
    q = _mm512_fmadd_ps(_mm512_mul_ps(r, r), c, r);                         /* e^r - 1 */
    /* vscalefps scales by 2^floor(kf) = 2^k itself */
    return (fi_vf)_mm512_scalef_ps(_mm512_fmadd_ps(t, q, t), kf);
}
#else
/* the argument clamped where its exp is 0: one max instruction on x86 (NaN stays) */
FI_VINLINE fi_vf fi_vexpf_clamp(fi_vf z) { return fi_vmaxf(fi_splatf(-105.0f), z); }
FI_VINLINE fi_vf fi_vexpf_negc(fi_vf z)
{
    fi_vf xc = z;
    fi_vf kd = xc * FI_INVLN2F + 0x1.8p23f;
    fi_vu kb = (fi_vu)kd;
    kd -= 0x1.8p23f;
    fi_vf r = (xc - kd * FI_LN2HIF) - kd * FI_LN2LOF;
    fi_vf r2 = r * r;
    fi_vf Q = (FI_EXPF_Q0 + r * FI_EXPF_Q1) + r2 * (FI_EXPF_Q2 + r * FI_EXPF_Q3);
    fi_vf p = 1.0f + (r + r2 * (0.5f + r * Q));
    fi_vu u = kb - 0x4b400000u + 256u;
    fi_vu h = u >> 1;
    return (p * (fi_vf)((h - 1u) << 23)) * (fi_vf)((u - h - 1u) << 23);
}
#endif

#if defined(__x86_64__) && defined(__AVX512F__)
/* The same road in double lanes: the table in two registers (vpermt2pd), e^r - 1 to degree
 * 7 (16 vector instructions instead of 28) */
FI_VINLINE fi_vd fi_vexp_clamp(fi_vd z) { return (fi_vd)_mm512_max_pd(_mm512_set1_pd(-746.0), (__m512d)z); }
FI_VINLINE fi_vd fi_vexp_negc(fi_vd z)
{
    const __m512d t0 = _mm512_setr_pd(
        0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
        0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0);
    const __m512d t1 = _mm512_setr_pd(
        0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
        0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0);
    const __m512d shift = _mm512_set1_pd(0x1.8p48);
    __m512d xc = (__m512d)z;
    __m512d kn = _mm512_fmadd_pd(xc, _mm512_set1_pd(FI_INVLN2), shift);
    __m512d kf = _mm512_sub_pd(kn, shift);
    __m512d r = _mm512_fmadd_pd(kf, _mm512_set1_pd(-0x1.62e42fefa39efp-1), xc);
    __m512d t = _mm512_permutex2var_pd(t0, _mm512_castpd_si512(kn), t1);
    __m512d r2, r4, p;
    r = _mm512_fmadd_pd(kf, _mm512_set1_pd(-0x1.abc9e3b39803fp-56), r);
    r2 = _mm512_mul_pd(r, r);
    r4 = _mm512_mul_pd(r2, r2);
    p = _mm512_fmadd_pd(r4, _mm512_fmadd_pd(r, _mm512_set1_pd(0x1.a01a01a01a01ap-13),
                                            _mm512_set1_pd(0x1.6c16c16c16c17p-10)),
                        _mm512_fmadd_pd(r2, _mm512_fmadd_pd(r, _mm512_set1_pd(0x1.1111111111111p-7),
                                                            _mm512_set1_pd(0x1.5555555555555p-5)),
                                        _mm512_fmadd_pd(r, _mm512_set1_pd(0x1.5555555555555p-3),
                                                        _mm512_set1_pd(0.5))));
    p = _mm512_fmadd_pd(r2, p, r);                                          /* e^r - 1 */
    return (fi_vd)_mm512_scalef_pd(_mm512_fmadd_pd(t, p, t), kf);     /* 2^floor(kf) */
}
#else
FI_VINLINE fi_vd fi_vexp_clamp(fi_vd z) { return fi_vmaxd(fi_splatd(-746.0), z); }
FI_VINLINE fi_vd fi_vexp_negc(fi_vd z)
{
    fi_vd xc = z;
    fi_vd kd = xc * FI_INVLN2 + 0x1.8p52;
    fi_vw kb = (fi_vw)kd;
    kd -= 0x1.8p52;
    fi_vd r = (xc - kd * FI_LN2HI) - kd * FI_LN2LO;
    fi_vd r2 = r * r;
    fi_vd r4 = r2 * r2;
    fi_vd q01 = FI_EXP_Q0 + r * FI_EXP_Q1;
    fi_vd q23 = FI_EXP_Q2 + r * FI_EXP_Q3;
    fi_vd q45 = FI_EXP_Q4 + r * FI_EXP_Q5;
    fi_vd q67 = FI_EXP_Q6 + r * FI_EXP_Q7;
    fi_vd Q = (q01 + r2 * q23) + r4 * (q45 + r2 * q67 + r4 * FI_EXP_Q8);
    fi_vd p = 1.0 + (r + r2 * (0.5 + r * Q));
    fi_vw u = kb - 0x4338000000000000ULL + 2048u;
    fi_vw h = u >> 1;
    return (p * (fi_vd)((h - 1u) << 52)) * (fi_vd)((u - h - 1u) << 52);
}
#endif
FI_VINLINE fi_vf fi_vexpf_neg(fi_vf z) { return fi_vexpf_negc(fi_vexpf_clamp(z)); }
FI_VINLINE fi_vd fi_vexp_neg(fi_vd z) { return fi_vexp_negc(fi_vexp_clamp(z)); }

/* a*b + c: one FMA where the build has it, written as one (so that the sum does not depend on
 * whether the compiler contracts it where it is inlined), else a product and a sum */
#if defined(__x86_64__) && defined(__AVX512F__)
#define FI_HAVE_VFMA 1          /* fi_vfmaf / fi_vfmad are fused */
FI_VINLINE fi_vf fi_vfmaf(fi_vf a, fi_vf b, fi_vf c) { return (fi_vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
FI_VINLINE fi_vd fi_vfmad(fi_vd a, fi_vd b, fi_vd c) { return (fi_vd)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c); }
#elif defined(__x86_64__) && defined(__FMA__) && FI_VBYTES == 32
#define FI_HAVE_VFMA 1
FI_VINLINE fi_vf fi_vfmaf(fi_vf a, fi_vf b, fi_vf c) { return (fi_vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c); }
FI_VINLINE fi_vd fi_vfmad(fi_vd a, fi_vd b, fi_vd c) { return (fi_vd)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c); }
#else
FI_VINLINE fi_vf fi_vfmaf(fi_vf a, fi_vf b, fi_vf c) { return a * b + c; }
FI_VINLINE fi_vd fi_vfmad(fi_vd a, fi_vd b, fi_vd c) { return a * b + c; }
#endif

/* acc += e and cnt += 1 in the lanes where z != 0 (NaN included): a softmax pass's sum of
 * the exps but its maximal elements' 1s, and the count of the other elements. AVX-512: one
 * compare into a mask register and two masked adds. */
#if defined(__x86_64__) && defined(__AVX512F__)
FI_VINLINE void fi_acc_offmax_f(fi_vf *acc, fi_vi *cnt, fi_vf z, fi_vf e)
{
    __mmask16 k = _mm512_cmp_ps_mask((__m512)z, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    *acc = (fi_vf)_mm512_mask_add_ps((__m512)*acc, k, (__m512)*acc, (__m512)e);
    *cnt = (fi_vi)_mm512_mask_sub_epi32((__m512i)*cnt, k, (__m512i)*cnt, _mm512_set1_epi32(-1));
}
FI_VINLINE void fi_acc_offmax_d(fi_vd *acc, fi_vl *cnt, fi_vd z, fi_vd e)
{
    __mmask8 k = _mm512_cmp_pd_mask((__m512d)z, _mm512_setzero_pd(), _CMP_NEQ_UQ);
    *acc = (fi_vd)_mm512_mask_add_pd((__m512d)*acc, k, (__m512d)*acc, (__m512d)e);
    *cnt = (fi_vl)_mm512_mask_sub_epi64((__m512i)*cnt, k, (__m512i)*cnt, _mm512_set1_epi64(-1));
}
#else
FI_VINLINE void fi_acc_offmax_f(fi_vf *acc, fi_vi *cnt, fi_vf z, fi_vf e)
{
    fi_vi m = z != 0;
    *acc += fi_self(m, e, fi_splatf(0));
    *cnt -= m;
}
FI_VINLINE void fi_acc_offmax_d(fi_vd *acc, fi_vl *cnt, fi_vd z, fi_vd e)
{
    fi_vl m = z != 0;
    *acc += fi_seld(m, e, fi_splatd(0));
    *cnt -= m;
}
#endif

/* log x for x > 0 finite (subnormals included): the core of fi_vlog, without its special
 * values (0, negative and inf give some finite number, NaN NaN or a finite number). For
 * kernels that flag or select away those inputs themselves. */
FI_VINLINE fi_vd fi_vlog_pos(fi_vd x)
{
#if defined(__x86_64__) && defined(__AVX512F__)
    /* x = 2^k m, m in [sqrt(1/2), sqrt(2)): the same k and m as the integer steps below
     * (both exact), in seven instructions, subnormals included: the mantissa in [1, 2)
     * (getmant) and the exponent (getexp), both halved / raised by one where the mantissa
     * is at or above the switch, 2 * 0x3fe6a09e667f3bcd. The exponent is clamped so that
     * 0 (getexp: -inf) and inf give finite numbers; NaN gives NaN. */
    __m512d mm = _mm512_getmant_pd((__m512d)x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
    __m512d ek = _mm512_min_pd(_mm512_max_pd(_mm512_getexp_pd((__m512d)x), _mm512_set1_pd(-1075.0)),
                               _mm512_set1_pd(1024.0));
    __mmask8 up = _mm512_cmp_pd_mask(mm, _mm512_set1_pd(0x1.6a09e667f3bcdp0), _CMP_GE_OQ);
    fi_vd dk = (fi_vd)_mm512_mask_add_pd(ek, up, ek, _mm512_set1_pd(1.0));
    fi_vd f = (fi_vd)_mm512_mask_mul_pd(mm, up, mm, _mm512_set1_pd(0.5)) - 1.0;
#else
    fi_vl tiny = x < 0x1p-1022;
    fi_vd xs = fi_seld(tiny, x * 0x1p54, x);
    fi_vd kadj = fi_seld(tiny, fi_splatd(54.0), fi_splatd(0.0));
    fi_vw ix = (fi_vw)xs + (0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL);
    fi_vd dk = (fi_vd)((ix >> 52) | 0x4330000000000000ULL) - (0x1p52 + 1023.0) - kadj;
    fi_vd m = (fi_vd)((ix & 0x000fffffffffffffULL) + 0x3fe6a09e667f3bcdULL);
    fi_vd f = m - 1.0;
#endif
    fi_vd s = f / (2.0 + f);
    fi_vd z = s * s;
    fi_vd w = z * z;
    fi_vd t1 = w * (FI_LOG_P1 + w * (FI_LOG_P3 + w * FI_LOG_P5));
    fi_vd t2 = z * (FI_LOG_P0 + w * (FI_LOG_P2 + w * (FI_LOG_P4 + w * FI_LOG_P6)));
    fi_vd R = t1 + t2;
    fi_vd hfsq = 0.5 * f * f;
    fi_vd a = dk * FI_LN2HI;
    fi_vd hi = a + f;
    fi_vd e = (a - hi) + f;
    fi_vd c = s * (hfsq + R) + dk * FI_LN2LO;
#if !defined(__FMA__) || defined(__STRICT_ANSI__)
    fi_vd fh = (fi_vd)((fi_vw)f & 0xfffffffff8000000ULL);
    fi_vd fl = f - fh;
    c -= (0.5 * fh * fh - hfsq) + fl * (fh + 0.5 * fl);
#endif
    return hi + ((c - hfsq) + e);
}

/* _fimath.h's fi_log, lane by lane: x < 0 -> NaN, +-0 -> -inf, +inf and NaN -> x + x */
FI_VINLINE fi_vd fi_vlog(fi_vd x)
{
    fi_vd r = fi_vlog_pos(x);
    fi_vd special = fi_seld(x < 0.0, fi_splatd(__builtin_nan("")), fi_splatd(-__builtin_inf()));
    r = fi_seld(x > 0.0, r, special);
    return fi_seld(x < __builtin_inf(), r, x + x);
}

/* _fimath.h's fi_logf, lane by lane, for x > 0 finite (see fi_vlog_pos) */
FI_VINLINE fi_vf fi_vlogf_pos(fi_vf x)
{
#if defined(__x86_64__) && defined(__AVX512F__)
    /* as fi_vlog_pos: the switch is 2 * 0x3f3504f3 */
    __m512 mm = _mm512_getmant_ps((__m512)x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
    __m512 ek = _mm512_min_ps(_mm512_max_ps(_mm512_getexp_ps((__m512)x), _mm512_set1_ps(-150.0f)),
                              _mm512_set1_ps(128.0f));
    __mmask16 up = _mm512_cmp_ps_mask(mm, _mm512_set1_ps(0x1.6a09e6p0f), _CMP_GE_OQ);
    fi_vf dk = (fi_vf)_mm512_mask_add_ps(ek, up, ek, _mm512_set1_ps(1.0f));
    fi_vf f = (fi_vf)_mm512_mask_mul_ps(mm, up, mm, _mm512_set1_ps(0.5f)) - 1.0f;
#else
    fi_vi tiny = x < 0x1p-126f;
    fi_vf xs = fi_self(tiny, x * 0x1p25f, x);
    fi_vi kadj = tiny & 25;
    fi_vu ix = (fi_vu)xs + (0x3f800000u - 0x3f3504f3u);
    fi_vf dk = __builtin_convertvector((fi_vi)(ix >> 23) - 127 - kadj, fi_vf);
    fi_vf m = (fi_vf)((ix & 0x007fffffu) + 0x3f3504f3u);
    fi_vf f = m - 1.0f;
#endif
    fi_vf s = f / (2.0f + f);
    fi_vf z = s * s;
    fi_vf R = z * (FI_LOGF_P0 + z * (FI_LOGF_P1 + z * FI_LOGF_P2));
    fi_vf hfsq = 0.5f * f * f;
    fi_vf a = dk * FI_LN2HIF;
    fi_vf hi = a + f;
    fi_vf e = (a - hi) + f;
    fi_vf c = s * (hfsq + R) + dk * FI_LN2LOF;
#if !defined(__FMA__) || defined(__STRICT_ANSI__)
    fi_vf fh = (fi_vf)((fi_vu)f & 0xfffff000u);
    fi_vf fl = f - fh;
    c -= (0.5f * fh * fh - hfsq) + fl * (fh + 0.5f * fl);
#endif
    return hi + ((c - hfsq) + e);
}

/* _fimath.h's fi_logf, lane by lane (special values as fi_vlog) */
FI_VINLINE fi_vf fi_vlogf(fi_vf x)
{
    fi_vf r = fi_vlogf_pos(x);
    fi_vf special = fi_self(x < 0.0f, fi_splatf(__builtin_nanf("")), fi_splatf(-__builtin_inff()));
    r = fi_self(x > 0.0f, r, special);
    return fi_self(x < __builtin_inff(), r, x + x);
}

/* sqrt, lane by lane (correctly rounded, as sqrt()): the build's vector square root where it
 * is declared, else element by element */
FI_VINLINE fi_vd fi_vsqrt(fi_vd v)
{
#if defined(__x86_64__) && defined(__FMA__) && FI_VBYTES == 64
    return (fi_vd)_mm512_sqrt_pd((__m512d)v);
#elif defined(__x86_64__) && defined(__FMA__) && FI_VBYTES == 32
    return (fi_vd)_mm256_sqrt_pd((__m256d)v);
#else
    int k;
    for (k = 0; k < FI_ND; k++)
        v[k] = __builtin_sqrt(v[k]);
    return v;
#endif
}

/* c - a*b with one rounding, lane by lane (_fimath.h's fi_fnma): one FMA where the build has
 * it, else Dekker's exact product */
FI_VINLINE fi_vd fi_vfnma(fi_vd a, fi_vd b, fi_vd c)
{
#if defined(__FMA__) && defined(__x86_64__) && FI_VBYTES == 64
    return (fi_vd)_mm512_fnmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#elif defined(__FMA__) && defined(__x86_64__) && FI_VBYTES == 32
    return (fi_vd)_mm256_fnmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
#else
    const double split = 134217729.0;
    fi_vd ac = a * split, ah = ac - (ac - a), al = a - ah;
    fi_vd bc = b * split, bh = bc - (bc - b), bl = b - bh;
    fi_vd ph = a * b;
    fi_vd pl = ((ah * bh - ph) + ah * bl + al * bh) + al * bl;
    return (c - ph) - pl;
#endif
}

/* pairwise sum of the double lanes, in a fixed order */
static inline double fi_hsum(fi_vd v)
{
    double a[FI_ND];
    int w, l;
    memcpy(a, &v, sizeof a);
    for (w = FI_ND / 2; w >= 1; w /= 2)
        for (l = 0; l < w; l++)
            a[l] += a[l + w];
    return a[0];
}

#endif /* FASTINFO_VEC_H */
