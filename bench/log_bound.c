/*
 * The compute bound of the pairwise Jensen-Shannon kernel: how fast can this CPU take
 * double-precision logs at all?  The pairwise JS fast path costs one log per element
 * (sum m log m, m = (p + q)/2), so no implementation with an exact double log can be
 * faster than the bare log below.
 *
 *   gcc -O3 -march=x86-64-v4 -fno-trapping-math -Ifastinfo bench/log_bound.c -o /tmp/log_bound -lm
 *   /tmp/log_bound
 *
 * prints ns per element, in L1 (4096 doubles, 10^5 repetitions), one thread:
 *   - the bare AVX-512 table log of fastinfo (fi_x_log: 4 independent chains, sum of logs),
 *   - the entropy block (sum x log x, what fastinfo.entropy runs per 8192-element block),
 *   - the pairwise JS block (sum m log m with m = a + c b, fused load-add-log).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "_fi_x512.h"

#if !FI_X512
int main(void) { puts("needs an AVX-512 build: -march=x86-64-v4"); return 1; }
#else
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(void)
{
    const int n = 4096, reps = 100000;
    double* a = aligned_alloc(64, n * sizeof(double));
    double* b = aligned_alloc(64, n * sizeof(double));
    double out[4], s = 0.0, t;
    srand(1);
    for (int i = 0; i < n; i++) {
        a[i] = 0.5 * (rand() / (double)RAND_MAX) / 300.0;
        b[i] = (rand() / (double)RAND_MAX) / 300.0;
    }
    fi_x_tab T;
    fi_x_tab_load(&T);
    __m512d c0 = _mm512_setzero_pd(), c1 = c0, c2 = c0, c3 = c0;
    t = now();
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < n; i += 32) {
            c0 = _mm512_add_pd(c0, fi_x_log(_mm512_load_pd(a + i), &T));
            c1 = _mm512_add_pd(c1, fi_x_log(_mm512_load_pd(a + i + 8), &T));
            c2 = _mm512_add_pd(c2, fi_x_log(_mm512_load_pd(a + i + 16), &T));
            c3 = _mm512_add_pd(c3, fi_x_log(_mm512_load_pd(a + i + 24), &T));
        }
    t = now() - t;
    s += _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(c0, c1), _mm512_add_pd(c2, c3)));
    printf("bare log          %.3f ns/element\n", t / reps / n * 1e9);
    t = now();
    for (int r = 0; r < reps; r++) {
        fi_x512_f64(FI_X_ENTROPY, a, a, n, 1.0, 1.0, out);
        s += out[0];
    }
    t = now() - t;
    printf("entropy block     %.3f ns/element\n", t / reps / n * 1e9);
    t = now();
    for (int r = 0; r < reps; r++) {
        fi_x512_mix_f64(a, b, n, 0.5, out);
        s += out[0];
    }
    t = now() - t;
    printf("pairwise JS block %.3f ns/element   (checksum %g)\n", t / reps / n * 1e9, s);
    return 0;
}
#endif
