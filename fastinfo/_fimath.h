/*
 * _fimath.h -- branch-free, vectorizable log and exp for the fastinfo kernels.
 *
 *   static inline double fi_log(double x);   natural log
 *   static inline float  fi_logf(float x);
 *   static inline double fi_exp(double x);
 *   static inline float  fi_expf(float x);
 *
 * Why: a scalar libm call in a loop keeps the loop from vectorizing, and
 * glibc's libmvec needs -ffast-math, which we never use (it flushes subnormals
 * process-wide and drops inf/NaN handling).  These are pure C99 + gcc
 * builtins: no libm, no tables (a table-driven log with gathers was 1.85x
 * slower on Zen 5), every select a value select that gcc if-converts.  A loop
 * calling them -- elementwise or a reduction into explicit lane accumulators --
 * vectorizes with
 *     gcc -O3 -fno-trapping-math   and -march=x86-64-v4, x86-64-v3 or none (SSE2).
 * Both flags matter: without -fno-trapping-math the AVX2 and SSE2 loops stay
 * scalar (jump threading of exp's clamps creates a constant multiply that
 * "may trap"), and at -O2 the elementwise loops do not vectorize.
 * Only operations that every x86-64 SIMD level has are used: no 64-bit
 * int<->double conversions, no 64-bit arithmetic shifts or integer compares.
 *
 * Coefficients: tools/fit_fimath.py (weighted Remez in mpmath, coefficients
 * rounded to double/float one at a time with the rest refitted; run it with
 * --check fastinfo/_fimath.h to compare).  Approximation error <= 0.05 ulp;
 * the rest is rounding in the evaluation, kept small by exact two-term sums.
 *
 * Max errors measured (tests/kernels/test_vectorized_log_exp.py: mpmath at 120 bits on a sample,
 * long double / float64 references on ~10^7 inputs; subnormals included):
 *                  FMA contraction (v3, v4)   SSE2 or -ffp-contract=off
 *   fi_log            0.72 ulp                   0.78 ulp
 *   fi_logf           0.72 ulp                   0.76 ulp
 *   fi_exp            0.61 ulp (0.77 for subnormal results: they round twice)
 *   fi_expf           0.64 ulp (0.79 for subnormal results)
 * Results differ in the last bit between FMA and non-FMA builds.
 * log is monotone non-decreasing near 1, powers of 2 and the sqrt(2) switch
 * (tested), and log(2.0) is the correctly rounded ln 2.
 *
 * Special values:
 *   log: log(+-0) = -inf, log(x<0) = NaN, log(NaN) = NaN, log(+inf) = +inf, log(1) = +0.
 *   exp: exp(-inf) = +0, exp(+inf) = +inf, exp(NaN) = NaN, exp(+-0) = 1,
 *        overflow to +inf above 709.78 (88.72 for float), gradual underflow to 0.
 */
#ifndef FASTINFO_FIMATH_H
#define FASTINFO_FIMATH_H

#include <stdint.h>
#include <string.h>

/* ---- bit casts (memcpy: well-defined, compiles to nothing / a vector move) */
/* The logs and exps are inlined everywhere: a loop that calls one is vectorized only when
 * it is inlined, and gcc's size heuristics may decline once a caller grows (they did for
 * surprisal's row kernel, a third slower). */
#if defined(__GNUC__) || defined(__clang__)
#define FI_MATH_INLINE static inline __attribute__((always_inline))
#else
#define FI_MATH_INLINE static inline
#endif

static inline uint64_t fi_as_u64(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
static inline double   fi_as_f64(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }
static inline uint32_t fi_as_u32(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
static inline float    fi_as_f32(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }

/* ---- constants (printed by tools/fit_fimath.py) ------------------------- */

/* ln2 split for Cody-Waite: LN2HI has 42 significant bits, so k*LN2HI is exact
 * for |k| < 2^11 (all k that occur in double); LN2HIF has 16, exact for
 * |k| < 2^8 (float). */
#define FI_LN2HI   0x1.62e42fefa38p-1
#define FI_LN2LO   0x1.ef35793c7673p-45
#define FI_INVLN2  0x1.71547652b82fep+0
#define FI_LN2HIF  0x1.62e4p-1f
#define FI_LN2LOF  0x1.7f7d1cp-20f
#define FI_INVLN2F 0x1.715476p+0f

/* log(1+f) = 2s + s*R(z), s = f/(2+f), z = s^2, R(z) = z*P(z).
 * P(z) minimax on z in [0, ((sqrt2-1)/(sqrt2+1))^2] = [0, 0.02944],
 * weighted by the error's share of the result: 2^-59.5 relative (f64),
 * 2^-30.2 relative (f32). */
#define FI_LOG_P0 0x1.5555555555592p-1
#define FI_LOG_P1 0x1.999999997ff63p-2
#define FI_LOG_P2 0x1.24924941db48ap-2
#define FI_LOG_P3 0x1.c71c521a19a0bp-3
#define FI_LOG_P4 0x1.74663ba33f306p-3
#define FI_LOG_P5 0x1.39a20ba64dffdp-3
#define FI_LOG_P6 0x1.2f02516d7e33bp-3

#define FI_LOGF_P0 0x1.55557ap-1f
#define FI_LOGF_P1 0x1.995ed8p-2f
#define FI_LOGF_P2 0x1.31e03cp-2f

/* exp(r) = 1 + r + r^2/2 + r^3*Q(r), Q minimax on |r| <= 1.002*ln2/2 (margin
 * for the rounding of k), weighted by the error's share of the result:
 * 2^-57.3 relative (f64, degree 8), 2^-27.3 relative (f32, degree 3). */
#define FI_EXP_Q0 0x1.55555555555p-3
#define FI_EXP_Q1 0x1.555555555316fp-5
#define FI_EXP_Q2 0x1.1111111128cp-7
#define FI_EXP_Q3 0x1.6c16c17cf8e8ap-10
#define FI_EXP_Q4 0x1.a01a011ba7aaep-13
#define FI_EXP_Q5 0x1.a019aa73bb11fp-16
#define FI_EXP_Q6 0x1.71df547eed8afp-19
#define FI_EXP_Q7 0x1.28a052c476a2ep-22
#define FI_EXP_Q8 0x1.ad2470713ab6fp-26

#define FI_EXPF_Q0 0x1.5554a2p-3f
#define FI_EXPF_Q1 0x1.555bp-5f
#define FI_EXPF_Q2 0x1.12335cp-7f
#define FI_EXPF_Q3 0x1.660722p-10f

/* ======================================================================== */
/* log: x = 2^k * m, m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact),
 * log(x) = k*ln2 + log1p(f), log1p(f) = f - f^2/2 + s*(f^2/2 + R(s^2)),
 * s = f/(2+f) (the fdlibm/musl scheme), small terms summed first, so log keeps
 * full relative accuracy near 1 (k = 0: no cancellation) and log(1) = +0. */
FI_MATH_INLINE double fi_log(double x)
{
    /* Subnormal inputs: scale by 2^54 into the normal range (value select). */
    int tiny = __builtin_isless(x, 0x1p-1022);
    double xs = tiny ? x * 0x1p54 : x;
    double kadj = tiny ? 54.0 : 0.0;

    /* Adding (1.0 - sqrt(1/2)) bit patterns moves the exponent boundary from
     * 1.0 to sqrt(1/2): the exponent field then holds k + 1023. */
    uint64_t ix = fi_as_u64(xs) + (0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL);
    /* k as a double without an int64->double conversion: 2^52 + field - bias */
    double dk = fi_as_f64((ix >> 52) | 0x4330000000000000ULL) - (0x1p52 + 1023.0) - kadj;
    double m = fi_as_f64((ix & 0x000fffffffffffffULL) + 0x3fe6a09e667f3bcdULL);
    double f = m - 1.0;                       /* exact (Sterbenz) */

    double s = f / (2.0 + f);                 /* |s| <= 0.1716 */
    double z = s * s;
    double w = z * z;
    /* R = z*P(z), even/odd split for a shorter dependency chain */
    double t1 = w * (FI_LOG_P1 + w * (FI_LOG_P3 + w * FI_LOG_P5));
    double t2 = z * (FI_LOG_P0 + w * (FI_LOG_P2 + w * (FI_LOG_P4 + w * FI_LOG_P6)));
    double R = t1 + t2;
    double hfsq = 0.5 * f * f;
    /* k*LN2HI + f as an exact sum hi + e (Fast2Sum: |k*LN2HI| >= |f| when
     * k != 0, and e = 0 when k = 0), so the only large rounding is the last. */
    double a = dk * FI_LN2HI;                 /* exact: 42-bit LN2HI, |k| < 2^11 */
    double hi = a + f;
    double e = (a - hi) + f;
    double c = s * (hfsq + R) + dk * FI_LN2LO;
#if !defined(__FMA__) || defined(__STRICT_ANSI__)
    /* Without FMA contraction (no FMA, or -std=c99/c11, which imply
     * -ffp-contract=off), also take the rounding error of f^2/2 into account
     * (fh = f with the 27 low bits cleared: fh^2 is exact); it is the largest
     * error term left near x = 1.4 (0.82 -> 0.78 ulp).  With contraction the
     * remaining terms round differently and this does not pay off. */
    double fh = fi_as_f64(fi_as_u64(f) & 0xfffffffff8000000ULL);
    double fl = f - fh;
    c -= (0.5 * fh * fh - hfsq) + fl * (fh + 0.5 * fl);
#endif
    double r = hi + ((c - hfsq) + e);

    /* special values: x < 0 -> NaN, +-0 -> -inf; then +inf, NaN -> x + x */
    r = __builtin_isgreater(x, 0.0) ? r : (__builtin_isless(x, 0.0) ? __builtin_nan("") : -__builtin_inf());
    r = __builtin_isless(x, __builtin_inf()) ? r : x + x;
    return r;
}

FI_MATH_INLINE float fi_logf(float x)
{
    int tiny = __builtin_isless(x, 0x1p-126f);
    float xs = tiny ? x * 0x1p25f : x;
    int32_t kadj = tiny ? 25 : 0;

    uint32_t ix = fi_as_u32(xs) + (0x3f800000u - 0x3f3504f3u);
    float dk = (float)((int32_t)(ix >> 23) - 127 - kadj);   /* int32->float is native SIMD */
    float m = fi_as_f32((ix & 0x007fffffu) + 0x3f3504f3u);
    float f = m - 1.0f;

    float s = f / (2.0f + f);
    float z = s * s;
    float R = z * (FI_LOGF_P0 + z * (FI_LOGF_P1 + z * FI_LOGF_P2));
    float hfsq = 0.5f * f * f;
    float a = dk * FI_LN2HIF;                 /* exact: 16-bit LN2HIF, |k| < 2^8 */
    float hi = a + f;
    float e = (a - hi) + f;
    float c = s * (hfsq + R) + dk * FI_LN2LOF;
#if !defined(__FMA__) || defined(__STRICT_ANSI__)
    /* as in fi_log: fh = f with the 12 low bits cleared, fh^2 exact */
    float fh = fi_as_f32(fi_as_u32(f) & 0xfffff000u);
    float fl = f - fh;
    c -= (0.5f * fh * fh - hfsq) + fl * (fh + 0.5f * fl);
#endif
    float r = hi + ((c - hfsq) + e);

    r = __builtin_isgreater(x, 0.0f) ? r : (__builtin_isless(x, 0.0f) ? __builtin_nanf("") : -__builtin_inff());
    r = __builtin_isless(x, __builtin_inff()) ? r : x + x;
    return r;
}

/* ======================================================================== */
/* exp: k = round(x/ln2) (shifter trick: adding 1.5*2^52 rounds to an integer
 * and leaves k in the low mantissa bits), r = (x - k*LN2HI) - k*LN2LO
 * (Cody-Waite; the first difference is exact), |r| <= ln2/2.
 * exp(r) = 1 + (hi - lo) + r^2/2 + r^3*Q(r): 1 + hi is an exact two-term sum
 * (Fast2Sum), the rounding error dr of r = hi - lo is fed back through r*dr,
 * so the only large rounding is the final one (0.61 ulp measured; it was 0.75
 * with a plain 1 + r + r^2*Q(r)).
 * 2^k is applied as two multiplies by 2^floor(k/2) and 2^(k - floor(k/2)),
 * both normal numbers: the first product is exact and the second rounds once,
 * so results near overflow stay exact (overflow to inf happens in that last
 * multiply) and subnormal results get gradual underflow (rounded a second
 * time there, to fewer bits: <= 0.5 + 0.61/2 ulp).
 * Inputs are clamped to [-746, 710] first (the result is 0 / inf beyond any
 * way); NaN passes through the clamps and propagates. */
FI_MATH_INLINE double fi_exp(double x)
{
    double xc = __builtin_isgreater(x, 710.0) ? 710.0 : x;
    xc = __builtin_isless(xc, -746.0) ? -746.0 : xc;

    double kd = xc * FI_INVLN2 + 0x1.8p52;
    uint64_t kb = fi_as_u64(kd);              /* = bits(1.5*2^52) + k */
    kd -= 0x1.8p52;
    double hi = xc - kd * FI_LN2HI;           /* exact */
    double lo = kd * FI_LN2LO;
    double r = hi - lo;
    double dr = (hi - r) - lo;                /* r + dr = hi - lo (to ~2^-106) */
    double r2 = r * r;
    double r4 = r2 * r2;
    /* Q(r): Estrin-style pairs, then Horner in r^4 (short dependency chain) */
    double q01 = FI_EXP_Q0 + r * FI_EXP_Q1;
    double q23 = FI_EXP_Q2 + r * FI_EXP_Q3;
    double q45 = FI_EXP_Q4 + r * FI_EXP_Q5;
    double q67 = FI_EXP_Q6 + r * FI_EXP_Q7;
    double Q = (q01 + r2 * q23) + r4 * (q45 + r2 * q67 + r4 * FI_EXP_Q8);
    /* exp(r) - 1 - hi = -lo + r^2/2 (+ r*dr, the rounding of r) + r^3*Q */
    double one_hi = 1.0 + hi;
    double err = (1.0 - one_hi) + hi;         /* exact: 1 + hi = one_hi + err */
    double small = ((r * dr - lo) + err) + r2 * (r * Q);
    double p = one_hi + (0.5 * r2 + small);

    /* u = k + 2048 >= 0 (k in [-1076, 1025]); floor(k/2) = (u >> 1) - 1024 */
    uint64_t u = kb - 0x4338000000000000ULL + 2048u;
    uint64_t h = u >> 1;
    double sc1 = fi_as_f64((h - 1u) << 52);       /* 2^floor(k/2)     */
    double sc2 = fi_as_f64((u - h - 1u) << 52);   /* 2^(k - floor(k/2)) */
    return (p * sc1) * sc2;
}

FI_MATH_INLINE float fi_expf(float x)
{
    float xc = __builtin_isgreater(x, 89.0f) ? 89.0f : x;
    xc = __builtin_isless(xc, -105.0f) ? -105.0f : xc;

    float kd = xc * FI_INVLN2F + 0x1.8p23f;
    uint32_t kb = fi_as_u32(kd);
    kd -= 0x1.8p23f;
    float hi = xc - kd * FI_LN2HIF;           /* exact: |k| <= 152, 16-bit LN2HIF */
    float lo = kd * FI_LN2LOF;
    float r = hi - lo;
    float dr = (hi - r) - lo;
    float r2 = r * r;
    float Q = (FI_EXPF_Q0 + r * FI_EXPF_Q1) + r2 * (FI_EXPF_Q2 + r * FI_EXPF_Q3);
    float one_hi = 1.0f + hi;
    float err = (1.0f - one_hi) + hi;
    float small = ((r * dr - lo) + err) + r2 * (r * Q);
    float p = one_hi + (0.5f * r2 + small);

    /* u = k + 256 >= 0 (k in [-152, 129]); floor(k/2) = (u >> 1) - 128 */
    uint32_t u = kb - 0x4b400000u + 256u;
    uint32_t h = u >> 1;
    float sc1 = fi_as_f32((h - 1u) << 23);
    float sc2 = fi_as_f32((u - h - 1u) << 23);
    return (p * sc1) * sc2;
}

/* ======================================================================== */
/* c - a*b with one rounding (exact when the result is representable, as the
 * remainder of a division is: r = fl(c/b) gives c - r*b exactly).  One FMA
 * where the build has FMA, else Dekker's exact product (Veltkamp split),
 * vectorizable with plain operations.  Used by the KL and JS kernels to carry
 * the rounding error of a ratio.  A non-finite result (huge operands
 * overflowing the split) only ever occurs in blocks that the kernels flag. */
static inline double fi_fnma(double a, double b, double c)
{
#if defined(__FMA__)
    return __builtin_fma(-a, b, c);
#else
    const double split = 134217729.0;          /* 2^27 + 1 */
    double ac = a * split, ah = ac - (ac - a), al = a - ah;
    double bc = b * split, bh = bc - (bc - b), bl = b - bh;
    double ph = a * b;
    double pl = ((ah * bh - ph) + ah * bl + al * bh) + al * bl;
    return (c - ph) - pl;
#endif
}

#endif /* FASTINFO_FIMATH_H */
