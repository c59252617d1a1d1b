/* Platform shims for the kernels: OpenMP (so a build without it still
 * compiles and runs serially) and the CPU feature level for dispatch.
 * Every direct OpenMP call goes through here (scikit-learn's
 * _openmp_helpers pattern). */
#ifndef FI_PLATFORM_H
#define FI_PLATFORM_H

#ifdef _OPENMP
#include <omp.h>
static inline int fi_openmp_enabled(void) { return 1; }
/* Resolved at call time, so OMP_NUM_THREADS and threadpoolctl limits apply. */
static inline int fi_max_threads(void) { return omp_get_max_threads(); }
#else
static inline int fi_openmp_enabled(void) { return 0; }
static inline int fi_max_threads(void) { return 1; }
#endif

/* 0 = baseline, 1 = x86-64-v3 (AVX2+FMA+BMI2), 2 = x86-64-v4 (AVX-512 F/BW/CD/DQ/VL).
 * libgcc's __builtin_cpu_supports also checks that the OS saves the wide
 * registers (XGETBV), so a level reported here is safe to run. */
static inline int fi_cpu_level(void)
{
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
          && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2")
          && __builtin_cpu_supports("avx");
    int v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
          && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq")
          && __builtin_cpu_supports("avx512vl");
    return v4 ? 2 : (v3 ? 1 : 0);
#else
    return 0;
#endif
}

#endif /* FI_PLATFORM_H */
