/*
 * The compute bound of the pairwise Jensen-Shannon kernel: how fast can this CPU take
 * double-precision logs at all?  The pairwise JS fast path costs one log per element
 * (sum m log m, m = p/2 + c q), so no implementation with an exact double log can be
 * faster than the bare log below.
 *
 *   gcc -O3 -march=x86-64-v3 -fno-trapping-math -fno-math-errno -Ifastinfo \
 *       $(python3-config --includes) bench/log_bound.c -o /tmp/log_bound \
 *       $(python3-config --ldflags --embed) -lm
 *   /tmp/log_bound
 *
 * (-march=x86-64-v4 for the AVX-512 width, none for the baseline.) It prints ns per element,
 * in L1 (4096 doubles, 10^5 repetitions), one thread, for the row engine's code at that width:
 *   - the bare lane-wise log (fi_vlog_pos: 4 independent chains, sum of logs),
 *   - the entropy block (sum x log x, what fastinfo.entropy runs per 8192-element block),
 *   - the pairwise JS block (fi_mixlog_block: sum m log m with m = a + c b).
 */
#include <Python.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "_fi_rows.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(void)
{
    const int n = 4096, reps = 100000;
    double *a = aligned_alloc(64, n * sizeof(double));
    double *b = aligned_alloc(64, n * sizeof(double));
    double s = 0.0, t;
    fi_vd c0 = fi_splatd(0), c1 = c0, c2 = c0, c3 = c0;
    fi_partial part;
    int bad = 0, r, i;
    srand(1);
    for (i = 0; i < n; i++) {
        a[i] = 0.5 * (rand() / (double)RAND_MAX) / 300.0 + 1e-300;
        b[i] = (rand() / (double)RAND_MAX) / 300.0;
    }
    t = now();
    for (r = 0; r < reps; r++)
        for (i = 0; i < n; i += 4 * FI_ND) {
            c0 += fi_vlog_pos(fi_load_f64(a + i));
            c1 += fi_vlog_pos(fi_load_f64(a + i + FI_ND));
            c2 += fi_vlog_pos(fi_load_f64(a + i + 2 * FI_ND));
            c3 += fi_vlog_pos(fi_load_f64(a + i + 3 * FI_ND));
        }
    t = now() - t;
    s += fi_hsum(c0 + c1 + c2 + c3);
    printf("bare log          %.3f ns/element  (%d double lanes)\n", t / reps / n * 1e9, (int)FI_ND);
    t = now();
    for (r = 0; r < reps; r++) {
        fi_prob_block(FI_FMT_F64, FI_P_ENT, a, 1, a, 1, n, 1.0, 1.0, &part);
        s += part.a;
    }
    t = now() - t;
    printf("entropy block     %.3f ns/element\n", t / reps / n * 1e9);
    t = now();
    for (r = 0; r < reps; r++)
        s += fi_mixlog_block(FI_FMT_F64, a, b, 1, n, 0.5, &bad);
    t = now() - t;
    printf("pairwise JS block %.3f ns/element   (checksum %g, %d)\n", t / reps / n * 1e9, s, bad);
    free(a);
    free(b);
    return 0;
}
