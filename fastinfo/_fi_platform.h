/* Platform shims for the kernels: OpenMP (so a build without it still
 * compiles and runs serially) and the CPU feature level for dispatch.
 * Every direct OpenMP call goes through here (scikit-learn's
 * _openmp_helpers pattern). */
#ifndef FI_PLATFORM_H
#define FI_PLATFORM_H

/* Fork safety. GNU libgomp's thread pool does not survive fork(): a child that enters a
 * parallel region after its parent started the pool waits forever for threads that were not
 * copied. So the module notes when it asks OpenMP for more than one thread (fi_P->pool_started),
 * and a pthread_atfork child handler turns every later call of a child forked after that
 * into a serial one (fi_P->forked_serial). fi_P->last_threads: the thread count the last kernel
 * asked for (a debugging aid; shared by all Python threads). */
typedef struct {
    int pool_started;            /* some kernel asked OpenMP for more than one thread */
    int forked_serial;           /* this process was forked after that: serial from now on */
    int last_threads;
    int thread_cap;
    int threads_ready;
    unsigned long main_ident;
} fi_platform_t;

/* The state lives in one module, fastinfo._core; every kernel variant adopts it at import
 * (fi_platform_adopt), so a parallel call in any module makes a later fork serial in all of
 * them, and one thread cap holds for all. Until then a module runs on its own copy. */
static fi_platform_t fi_platform_own = {0, 0, 0, 0, 1, 0};
static fi_platform_t *fi_P = &fi_platform_own;
static inline void *fi_platform_state(void) { return (void *)fi_P; }
static inline void fi_platform_adopt(void *state) { if (state != NULL) fi_P = (fi_platform_t *)state; }

/* Python's main thread, where signal handlers run (see fi_poll below); the thread that forks
 * becomes the main thread of the child. */
static inline void fi_set_main_thread(unsigned long ident) { fi_P->main_ident = ident; }

/* Thread counts. fi_P->thread_cap: no team is larger (set at import to 4 x the CPUs: more never
 * helps, and OMP_NUM_THREADS=100000 would otherwise ask libgomp for 100 000 threads).
 * fi_P->threads_ready: the largest team known to start. libgomp ends the process ("Thread creation
 * failed") when it cannot start a team's threads, e.g. under a memory limit (RLIMIT_AS) that
 * their stacks exceed; so before a team larger than any before, fi_probe_threads starts and
 * joins that many threads itself, and a call runs on as many as could be started. */

static void fi_atfork_child(void)
{
    if (fi_P->pool_started)
        fi_P->forked_serial = 1;
    fi_P->threads_ready = 1;
    fi_P->main_ident = PyThread_get_thread_ident();
}

#if defined(_WIN32)
static inline int fi_atfork_register(void) { return 0; }      /* no fork() */
#else
#include <pthread.h>
static inline int fi_atfork_register(void) { return pthread_atfork(NULL, NULL, fi_atfork_child); }
#endif

static inline int fi_is_forked_serial(void) { return fi_P->forked_serial; }
static inline int fi_get_last_threads(void) { return fi_P->last_threads; }

#if defined(_WIN32) || !defined(_OPENMP)
static int fi_probe_threads(int n) { return n; }
#else
#include <stdlib.h>
static void *fi_probe_main(void *arg) { return arg; }
/* Start n - 1 threads (with the default attributes, as libgomp does unless OMP_STACKSIZE is
 * set), all alive at once, then join them: the team size that can start, 1..n. */
static int fi_probe_threads(int n)
{
    int k = 0, j;
    pthread_t *t = (pthread_t *)malloc(sizeof(pthread_t) * (size_t)(n > 1 ? n - 1 : 1));
    if (t == NULL)
        return 1;
    while (k < n - 1 && pthread_create(&t[k], NULL, fi_probe_main, NULL) == 0)
        k++;
    for (j = 0; j < k; j++)
        pthread_join(t[j], NULL);
    free(t);
    return k + 1;
}
#endif

static inline void fi_set_thread_cap(int n) { fi_P->thread_cap = n; }
static inline int fi_get_thread_cap(void) { return fi_P->thread_cap; }

/* The thread count a kernel will use: n (capped), fewer if that many threads cannot be
 * started, or 1 in a child forked after a parallel call. */
static inline int fi_resolve_threads(int n)
{
    int k;
    if (fi_P->forked_serial || n < 1)
        n = 1;
    if (fi_P->thread_cap > 0 && n > fi_P->thread_cap)
        n = fi_P->thread_cap;
    if (n > fi_P->threads_ready) {
        k = fi_probe_threads(n);
        if (k >= n)
            fi_P->threads_ready = n;
        n = k;
    }
    if (n > 1)
        fi_P->pool_started = 1;
    fi_P->last_threads = n;
    return n;
}

#ifdef _OPENMP
#include <omp.h>
static inline int fi_openmp_enabled(void) { return 1; }
/* Resolved at call time, so OMP_NUM_THREADS and threadpoolctl limits apply. */
static inline int fi_max_threads(void) { return fi_P->forked_serial ? 1 : omp_get_max_threads(); }
static inline int fi_thread_num(void) { return omp_get_thread_num(); }
#else
static inline int fi_openmp_enabled(void) { return 0; }
static inline int fi_max_threads(void) { return 1; }
static inline int fi_thread_num(void) { return 0; }
#endif

/* Ctrl-C during a long kernel call. Kernels run without the GIL, so Python's signal handlers
 * cannot run until they return. A call made on Python's main thread therefore carries a
 * fi_stop_t: every unit of work (a row, a block of a long row, a query) goes through
 * fi_poll. The calling thread -- OpenMP thread 0 of every team the call forms -- counts its
 * work; about every FI_POLL_WORK elements it reads the clock, and once FI_POLL_MS have passed
 * since the call began (or since it last polled) it takes the GIL to run the pending handlers
 * (PyErr_CheckSignals). If a handler raises (KeyboardInterrupt), the exception is kept, the
 * flag makes every thread skip the rest of its work, and the entry point re-raises it once the
 * threads have joined (fi_stop_raise). A handler that does not raise lets the call go on.
 * So a call shorter than FI_POLL_MS never touches the GIL, and a longer one takes it ten times
 * a second: when other Python threads keep the GIL busy, each take may wait up to the switch
 * interval (5 ms), a few per cent of the main thread's time at worst. Calls on other threads
 * get no fi_stop_t (NULL): Python handles signals on the main thread only. */
#define FI_POLL_WORK (1LL << 20)
#define FI_POLL_MS 100.0

#if defined(_WIN32)
#include <windows.h>
static inline double fi_now_ms(void) { return (double)GetTickCount64(); }
#else
#include <time.h>
static inline double fi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
#endif

typedef struct fi_stop {
    volatile int flag;        /* a handler raised: skip the remaining work */
    long long work;           /* work done by thread 0 since it last read the clock */
    double last;              /* when the call began or thread 0 last polled (ms) */
    PyObject *type, *value, *tb;
} fi_stop_t;

/* With the GIL held: s set up for a call, or NULL when the call cannot be interrupted: off
 * the main thread, or in a subinterpreter (signal handlers run in the main interpreter only,
 * and PyGILState would switch to the main interpreter's thread state). */
static inline fi_stop_t *fi_stop_begin(fi_stop_t *s)
{
    s->flag = 0;
    s->work = 0;
    s->type = s->value = s->tb = NULL;
    if (PyThread_get_thread_ident() != fi_P->main_ident
            || PyThreadState_GetInterpreter(PyThreadState_Get()) != PyInterpreterState_Main())
        return NULL;
    s->last = fi_now_ms();
    return s;
}

/* The slow part of fi_poll (thread 0, about every FI_POLL_WORK units). */
static int fi_poll_clock(fi_stop_t *s)
{
    PyGILState_STATE g;
    double now = fi_now_ms();
    s->work = 0;
    if (now - s->last < FI_POLL_MS)
        return 0;
    s->last = now;
    g = PyGILState_Ensure();
    if (PyErr_CheckSignals() < 0) {
        PyErr_Fetch(&s->type, &s->value, &s->tb);
        s->flag = 1;
    }
    PyGILState_Release(g);
    return s->flag;
}

/* Without the GIL, from any thread: 1 once the call is to stop. Callers poll per unit of
 * work that is not tiny (a long row's block, a batch of 256 short rows, a query). */
static inline int fi_poll(fi_stop_t *s, long long work)
{
    if (s == NULL)
        return 0;
    if (s->flag)
        return 1;
    if (fi_thread_num() != 0)
        return 0;
    s->work += work;
    if (s->work < FI_POLL_WORK)
        return 0;
    return fi_poll_clock(s);
}

/* fi_poll out of line and cold, between the blocks of one long row (rows of one block never
 * call it): the poll's code stays out of the vectorized loops. The block loop still costs a
 * row of 16 elements ~50 instructions per pass (measured with bench/callgrind_rows.py; most
 * likely gcc keeping the lane accumulators in memory around it); long rows are unchanged. */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static int fi_poll_block(fi_stop_t *s, long long work)
{
    return fi_poll(s, work);
}

/* A loop over rows of `work` units each: every row polls when rows are long, every 256th
 * row (counting 256 rows of work) when they are short, so short rows cost a test of i. */
static inline int fi_poll_rows(fi_stop_t *s, Py_ssize_t i, long long work)
{
    if (s == NULL)
        return 0;
    if (work >= 4096)
        return fi_poll(s, work);
    if ((i & 255) != 0)
        return 0;
    return fi_poll(s, 256 * work);
}

/* With the GIL held, after the threads joined: -1 with the handler's exception set if the
 * call was stopped, else 0. */
static int fi_stop_raise(fi_stop_t *s)
{
    if (s == NULL || !s->flag)
        return 0;
    PyErr_Restore(s->type, s->value, s->tb);
    s->type = s->value = s->tb = NULL;
    return -1;
}

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
