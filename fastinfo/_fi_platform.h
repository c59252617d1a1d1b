/* Platform shims for the kernels: OpenMP (so a build without it still
 * compiles and runs serially) and the CPU feature level for dispatch.
 * Every direct OpenMP call goes through here (scikit-learn's
 * _openmp_helpers pattern). */
#ifndef FI_PLATFORM_H
#define FI_PLATFORM_H

/* Fork safety. GNU libgomp's thread pool does not survive fork(): a child that enters a
 * parallel region after its parent started the pool waits forever for threads that were not
 * copied. So the module notes when it asks OpenMP for more than one thread (fi_pool_started),
 * and a pthread_atfork child handler turns every later call of a child forked after that
 * into a serial one (fi_forked_serial). fi_last_threads: the thread count the last kernel
 * asked for (a debugging aid; shared by all Python threads). */
static int fi_pool_started = 0;
static int fi_forked_serial = 0;
static int fi_last_threads = 0;

static void fi_atfork_child(void) { if (fi_pool_started) fi_forked_serial = 1; }

#if defined(_WIN32)
static inline int fi_atfork_register(void) { return 0; }      /* no fork() */
#else
#include <pthread.h>
static inline int fi_atfork_register(void) { return pthread_atfork(NULL, NULL, fi_atfork_child); }
#endif

static inline int fi_is_forked_serial(void) { return fi_forked_serial; }
static inline int fi_get_last_threads(void) { return fi_last_threads; }

/* The thread count a kernel will use: n, or 1 in a child forked after a parallel call. */
static inline int fi_resolve_threads(int n)
{
    if (fi_forked_serial || n < 1)
        n = 1;
    if (n > 1)
        fi_pool_started = 1;
    fi_last_threads = n;
    return n;
}

#ifdef _OPENMP
#include <omp.h>
static inline int fi_openmp_enabled(void) { return 1; }
/* Resolved at call time, so OMP_NUM_THREADS and threadpoolctl limits apply. */
static inline int fi_max_threads(void) { return fi_forked_serial ? 1 : omp_get_max_threads(); }
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
