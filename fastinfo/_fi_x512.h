/*
 * _fi_x512.h -- hand-vectorized AVX-512 block kernels (the x86-64-v4 build only).
 *
 * On AVX-512 two instructions do most of a log's
 * work -- vgetexppd / vgetmantpd split exponent and mantissa (subnormals
 * included) -- and a 16-entry table fits in two vector registers, so a lookup
 * is one in-register permute (vpermt2pd / vpermps), not a gather.  gcc does
 * not generate either from C, so this file spells them out with intrinsics.
 * It is compiled only into the x86-64-v4 variant (chosen at run time when the
 * CPU and OS support AVX-512); every other build has FI_X512 = 0 and uses the
 * generic loops.
 *
 * log(x), x = 2^k * m, m in [0.75, 1.5) (getmant), c = the nearest of the 16
 * centres (i + 15)/20 -- 1.0 is one, so log near 1 has no cancellation --
 * r = m/c - 1 = fma(m, 1/c, -1), |r| <= 1/30:
 *     log(x) = (k*LN2HI + log c hi) + r + [r^2 (-1/2 + r P(r)) + k*LN2LO + log c lo]
 * where k*LN2HI + log c hi is exact (both are multiples of 2^-42) and P has
 * degree 6 (float: 2), fitted by weighted minimax in mpmath (tools/fit_fimath.py
 * prints the tables and coefficients).  Max error measured against long double
 * logl on 2*10^7 inputs (tests/kernels/test_vectorized_log_exp.py checks it through the kernels'
 * elementwise hook): 1.21 ulp (double), 1.9 ulp (float).  log(1) = +0,
 * log(2) = fl(ln 2); log(0) = -inf, log(inf) = inf, log(x < 0) = log(NaN) = NaN.
 *
 * What uses it: the Jensen-Shannon fast path of the pairwise kernels (sum m log m of a
 * mixture, fused) and the elementwise log hook of the tests.  The streaming row kernels are
 * the row engine's (_fi_rows.h) on every level.
 */
#ifndef FASTINFO_FI_X512_H
#define FASTINFO_FI_X512_H

#include <stddef.h>
#include "_fimath.h"


#if defined(__AVX512F__) && defined(__AVX512DQ__)
#define FI_X512 1
#include <immintrin.h>

#define FI_A64 __attribute__((aligned(64)))
/* double: 1/c, and -log(1/c) split into a multiple of 2^-42 and the rest */
static const double FI_X_INVC[16] FI_A64 = {0x1.5555555555555p+0, 0x1.4000000000000p+0, 0x1.2d2d2d2d2d2d3p+0, 0x1.1c71c71c71c72p+0, 0x1.0d79435e50d79p+0, 0x1.0000000000000p+0, 0x1.e79e79e79e79ep-1, 0x1.d1745d1745d17p-1, 0x1.bd37a6f4de9bdp-1, 0x1.aaaaaaaaaaaabp-1, 0x1.999999999999ap-1, 0x1.89d89d89d89d9p-1, 0x1.7b425ed097b42p-1, 0x1.6db6db6db6db7p-1, 0x1.611a7b9611a7cp-1, 0x1.5555555555555p-1};
static const double FI_X_LHI[16] FI_A64 = {-0x1.269621134e000p-2, -0x1.c8ff7c79aa000p-3, -0x1.4cd6b97964000p-3, -0x1.af8e8210a4000p-4, -0x1.a431d5bcc0000p-5, 0x0.0p+0, 0x1.8fb063ef30000p-5, 0x1.8663f793c4000p-4, 0x1.1e3b825dd0000p-3, 0x1.7565011e4a000p-3, 0x1.c8ff7c79aa000p-3, 0x1.0ca937be1c000p-2, 0x1.334e9e47d0000p-2, 0x1.588c2d9133000p-2, 0x1.7c7b282d0d000p-2, 0x1.9f323ecbfa000p-2};
static const double FI_X_LLO[16] FI_A64 = {0x1.1ba1f10522625p-44, 0x1.7794f689f8434p-45, -0x1.7946f9d8f5ca8p-47, -0x1.60a1945b71373p-48, -0x1.92f8ec7d853afp-45, 0x0.0p+0, -0x1.c0749d890e822p-44, 0x1.b2409228c1d35p-46, 0x1.7b2367b02240bp-45, -0x1.316c0a4ad975cp-44, -0x1.7814f689f8434p-45, -0x1.8948ad9a1799ap-44, 0x1.fd65c790d9bb9p-44, 0x1.23cfd7d835820p-44, 0x1.1a8d8940804f8p-44, -0x1.ecc3525ca2643p-44};
/* log c = LHI + LLO rounded to double (the pairwise JS fast path's lighter log) */
static const double FI_X_LC[16] FI_A64 = {-0x1.269621134db91p-2, -0x1.c8ff7c79a9a22p-3, -0x1.4cd6b97964179p-3, -0x1.af8e8210a4161p-4, -0x1.a431d5bcc1930p-5, 0x0.0p+0, 0x1.8fb063ef2c7f1p-5, 0x1.8663f793c46c9p-4, 0x1.1e3b825dd05edp-3, 0x1.7565011e49675p-3, 0x1.c8ff7c79a9a20p-3, 0x1.0ca937be1b9dbp-2, 0x1.334e9e47d07f6p-2, 0x1.588c2d913348fp-2, 0x1.7c7b282d0d46ap-2, 0x1.9f323ecbf984dp-2};
static const float FI_X_INVCF[16] FI_A64 = {0x1.5555560000000p+0f, 0x1.4000000000000p+0f, 0x1.2d2d2e0000000p+0f, 0x1.1c71c80000000p+0f, 0x1.0d79440000000p+0f, 0x1.0000000000000p+0f, 0x1.e79e7a0000000p-1f, 0x1.d1745e0000000p-1f, 0x1.bd37a60000000p-1f, 0x1.aaaaaa0000000p-1f, 0x1.99999a0000000p-1f, 0x1.89d89e0000000p-1f, 0x1.7b425e0000000p-1f, 0x1.6db6dc0000000p-1f, 0x1.611a7c0000000p-1f, 0x1.5555560000000p-1f};
static const float FI_X_LOGCF[16] FI_A64 = {-0x1.2696240000000p-2f, -0x1.c8ff7c0000000p-3f, -0x1.4cd6c00000000p-3f, -0x1.af8e8e0000000p-4f, -0x1.a431e80000000p-5f, 0x0.0p+0f, 0x1.8fb0620000000p-5f, 0x1.8663f00000000p-4f, 0x1.1e3b860000000p-3f, 0x1.7565040000000p-3f, 0x1.c8ff7a0000000p-3f, 0x1.0ca9360000000p-2f, 0x1.334ea00000000p-2f, 0x1.588c2c0000000p-2f, 0x1.7c7b260000000p-2f, 0x1.9f323c0000000p-2f};

#define FI_S1(v) _mm512_set1_pd(v)
#define FI_S1F(v) _mm512_set1_ps(v)

typedef struct { __m512d i0, i1, h0, h1, l0, l1; } fi_x_tab;

static inline void fi_x_tab_load(fi_x_tab* T)
{
    T->i0 = _mm512_load_pd(FI_X_INVC); T->i1 = _mm512_load_pd(FI_X_INVC + 8);
    T->h0 = _mm512_load_pd(FI_X_LHI);  T->h1 = _mm512_load_pd(FI_X_LHI + 8);
    T->l0 = _mm512_load_pd(FI_X_LLO);  T->l1 = _mm512_load_pd(FI_X_LLO + 8);
}

static inline __m512d fi_x_log(__m512d x, const fi_x_tab* T)
{
    __m512d m = _mm512_getmant_pd(x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_nan);
    __m512d k = _mm512_sub_pd(_mm512_getexp_pd(x), _mm512_getexp_pd(m));
    /* 20m - 15 rounded to an integer in 0..15, left in the low mantissa bits */
    __m512i idx = _mm512_castpd_si512(_mm512_fmadd_pd(m, FI_S1(20.0), FI_S1(0x1.8p52 - 15.0)));
    __m512d invc = _mm512_permutex2var_pd(T->i0, idx, T->i1);
    __m512d lhi = _mm512_permutex2var_pd(T->h0, idx, T->h1);
    __m512d llo = _mm512_permutex2var_pd(T->l0, idx, T->l1);
    __m512d r = _mm512_fmsub_pd(m, invc, FI_S1(1.0));
    __m512d hi = _mm512_fmadd_pd(k, FI_S1(0x1.62e42fefa38p-1), lhi);
    __m512d lo = _mm512_fmadd_pd(k, FI_S1(0x1.ef35793c7673p-45), llo);
    __m512d r2 = _mm512_mul_pd(r, r);
    __m512d r4 = _mm512_mul_pd(r2, r2);
    __m512d p01 = _mm512_fmadd_pd(r, FI_S1(-0x1.0000000097e37p-2), FI_S1(0x1.5555555555484p-2));
    __m512d p23 = _mm512_fmadd_pd(r, FI_S1(-0x1.55553f9acc672p-3), FI_S1(0x1.9999999d15fb1p-3));
    __m512d p45 = _mm512_fmadd_pd(r, FI_S1(-0x1.0077b4252786ap-3), FI_S1(0x1.2492260cc27b8p-3));
    __m512d p46 = _mm512_fmadd_pd(r2, FI_S1(0x1.c82ff283cd7a8p-4), p45);
    __m512d P = _mm512_fmadd_pd(r4, p46, _mm512_fmadd_pd(r2, p23, p01));
    __m512d tail = _mm512_fmadd_pd(r2, _mm512_fmadd_pd(r, P, FI_S1(-0.5)), lo);
    return _mm512_add_pd(hi, _mm512_add_pd(r, tail));
}

typedef struct { __m512 ic, lc; } fi_xf_tab;

static inline void fi_xf_tab_load(fi_xf_tab* T)
{
    T->ic = _mm512_load_ps(FI_X_INVCF);
    T->lc = _mm512_load_ps(FI_X_LOGCF);
}

static inline __m512 fi_xf_log(__m512 x, const fi_xf_tab* T)
{
    __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_nan);
    __m512 k = _mm512_sub_ps(_mm512_getexp_ps(x), _mm512_getexp_ps(m));
    __m512i idx = _mm512_castps_si512(_mm512_fmadd_ps(m, FI_S1F(20.0f), FI_S1F(0x1.8p23f - 15.0f)));
    __m512 invc = _mm512_permutexvar_ps(idx, T->ic);
    __m512 lc = _mm512_permutexvar_ps(idx, T->lc);
    __m512 r = _mm512_fmsub_ps(m, invc, FI_S1F(1.0f));
    __m512 hi = _mm512_fmadd_ps(k, FI_S1F(0x1.62e43p-1f), lc);
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 P = _mm512_fmadd_ps(r2, FI_S1F(0x1.9a1877p-3f),
                               _mm512_fmadd_ps(r, FI_S1F(-0x1.002a44p-2f), FI_S1F(0x1.55554fp-2f)));
    __m512 tail = _mm512_mul_ps(r2, _mm512_fmadd_ps(r, P, FI_S1F(-0.5f)));
    return _mm512_add_ps(hi, _mm512_add_ps(r, tail));
}

#define FI_X_INL static inline __attribute__((always_inline))

/* F32 = 1: float input, converted to double on load (exact) and computed as double */
FI_X_INL __m512d fi_x_load(const int F32, const void* p, ptrdiff_t i)
{
    if (F32)
        return _mm512_cvtps_pd(_mm256_loadu_ps((const float*)p + i));
    return _mm512_loadu_pd((const double*)p + i);
}

FI_X_INL __m512d fi_x_load_tail(const int F32, const void* p, ptrdiff_t i, __mmask8 k)
{
    if (F32)
        return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, (const float*)p + i));
    return _mm512_maskz_loadu_pd(k, (const double*)p + i);
}

/* sum m log m with m = a[i] + c b[i] (b double, or float when F32), 0 log 0 = 0:
 * the Jensen-Shannon fast path of the pairwise kernels (a = p/2 of one row in
 * double, b = a row of Q, c = its scale / 2); four accumulators, the lighter log.
 * out[0] = the sum, out[3] = 1 if it is not finite. */
/* log(x) as fi_x_log with log c from one table (LHI + LLO rounded): one permute
 * fewer; the rounding of log c adds at most ~2^-55 absolute (measured max error
 * 1.3 ulp over the same inputs).  Only for the pairwise JS fast path, whose sums
 * are checked against cancellation anyway. */
static inline __m512d fi_x_log_lite(__m512d x, const fi_x_tab* T, __m512d c0, __m512d c1)
{
    __m512d m = _mm512_getmant_pd(x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_nan);
    __m512d k = _mm512_sub_pd(_mm512_getexp_pd(x), _mm512_getexp_pd(m));
    __m512i idx = _mm512_castpd_si512(_mm512_fmadd_pd(m, FI_S1(20.0), FI_S1(0x1.8p52 - 15.0)));
    __m512d invc = _mm512_permutex2var_pd(T->i0, idx, T->i1);
    __m512d lc = _mm512_permutex2var_pd(c0, idx, c1);
    __m512d r = _mm512_fmsub_pd(m, invc, FI_S1(1.0));
    __m512d hi = _mm512_fmadd_pd(k, FI_S1(0x1.62e42fefa38p-1), lc);
    __m512d lo = _mm512_mul_pd(k, FI_S1(0x1.ef35793c7673p-45));
    __m512d r2 = _mm512_mul_pd(r, r);
    __m512d r4 = _mm512_mul_pd(r2, r2);
    __m512d p01 = _mm512_fmadd_pd(r, FI_S1(-0x1.0000000097e37p-2), FI_S1(0x1.5555555555484p-2));
    __m512d p23 = _mm512_fmadd_pd(r, FI_S1(-0x1.55553f9acc672p-3), FI_S1(0x1.9999999d15fb1p-3));
    __m512d p45 = _mm512_fmadd_pd(r, FI_S1(-0x1.0077b4252786ap-3), FI_S1(0x1.2492260cc27b8p-3));
    __m512d p46 = _mm512_fmadd_pd(r2, FI_S1(0x1.c82ff283cd7a8p-4), p45);
    __m512d P = _mm512_fmadd_pd(r4, p46, _mm512_fmadd_pd(r2, p23, p01));
    __m512d tail = _mm512_fmadd_pd(r2, _mm512_fmadd_pd(r, P, FI_S1(-0.5)), lo);
    return _mm512_add_pd(hi, _mm512_add_pd(r, tail));
}

FI_X_INL void fi_x_mix_block(const int F32, const double* a, const void* b, ptrdiff_t n, double c,
                             double* out)
{
    fi_x_tab T;
    fi_x_tab_load(&T);
    const __m512d c0 = _mm512_load_pd(FI_X_LC), c1 = _mm512_load_pd(FI_X_LC + 8);
    const __m512d vc = FI_S1(c), zero = _mm512_setzero_pd();
    __m512d a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    ptrdiff_t i = 0;
#define FI_X_MIX(acc, off) do { \
        __m512d m_ = _mm512_add_pd(_mm512_loadu_pd(a + i + (off)), _mm512_mul_pd(fi_x_load(F32, b, i + (off)), vc)); \
        acc = _mm512_mask3_fmadd_pd(m_, fi_x_log_lite(m_, &T, c0, c1), acc, _mm512_cmp_pd_mask(m_, zero, _CMP_NEQ_UQ)); \
    } while (0)
    for (; i + 32 <= n; i += 32) {
        FI_X_MIX(a0, 0); FI_X_MIX(a1, 8); FI_X_MIX(a2, 16); FI_X_MIX(a3, 24);
    }
    for (; i + 8 <= n; i += 8)
        FI_X_MIX(a0, 0);
#undef FI_X_MIX
    if (i < n) {
        __mmask8 k0 = (__mmask8)((1u << (n - i)) - 1u);
        __m512d m0 = _mm512_add_pd(_mm512_maskz_loadu_pd(k0, a + i),
                                   _mm512_mul_pd(fi_x_load_tail(F32, b, i, k0), vc));
        a1 = _mm512_mask3_fmadd_pd(m0, fi_x_log_lite(m0, &T, c0, c1), a1, _mm512_cmp_pd_mask(m0, zero, _CMP_NEQ_UQ));
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
    out[0] = s;
    out[3] = __builtin_isfinite(s) ? 0.0 : 1.0;
}

static void fi_x512_mix_f64(const double* a, const double* b, ptrdiff_t n, double c, double* out)
{ fi_x_mix_block(0, a, b, n, c, out); }

static void fi_x512_mix_f32(const double* a, const float* b, ptrdiff_t n, double c, double* out)
{ fi_x_mix_block(1, a, b, n, c, out); }

/* Elementwise logs (tests and surprisal): out[i] = log(x[i]). */
static void fi_x512_log_f64(const double* x, double* out, ptrdiff_t n)
{
    fi_x_tab T;
    fi_x_tab_load(&T);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm512_storeu_pd(out + i, fi_x_log(_mm512_loadu_pd(x + i), &T));
    if (i < n) {
        __mmask8 k = (__mmask8)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_pd(out + i, k, fi_x_log(_mm512_mask_loadu_pd(FI_S1(1.0), k, x + i), &T));
    }
}

static void fi_x512_log_f32(const float* x, float* out, ptrdiff_t n)
{
    fi_xf_tab T;
    fi_xf_tab_load(&T);
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, fi_xf_log(_mm512_loadu_ps(x + i), &T));
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(out + i, k, fi_xf_log(_mm512_mask_loadu_ps(FI_S1F(1.0f), k, x + i), &T));
    }
}

#else   /* no AVX-512 in this build: the generic kernels run; never called */
#define FI_X512 0
static inline void fi_x512_mix_f64(const double* a, const double* b, ptrdiff_t n, double c, double* out)
{ (void)a; (void)b; (void)n; (void)c; out[3] = 1.0; }
static inline void fi_x512_mix_f32(const double* a, const float* b, ptrdiff_t n, double c, double* out)
{ (void)a; (void)b; (void)n; (void)c; out[3] = 1.0; }
static inline void fi_x512_log_f64(const double* x, double* out, ptrdiff_t n) { (void)x; (void)out; (void)n; }
static inline void fi_x512_log_f32(const float* x, float* out, ptrdiff_t n) { (void)x; (void)out; (void)n; }
#endif

#endif /* FASTINFO_FI_X512_H */
