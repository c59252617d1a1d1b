/* Logit-space rows: log-sum-exp, softmax, and the measures of softmax(x/T), fused so that no
 * N x K softmax is ever written -- for float64, float32, bfloat16 and float16 logits.
 *
 * The row itself is _fi_logit_row.h, written once and instantiated for each storage type by
 * _fi_rows.h; fi_logit_row() there picks the instance. A row of logits x takes two passes while it stays
 * in cache (a 128k-vocabulary float32 row is 512 KB):
 *   pass 1: m = max x, and whether any x is NaN or +inf (invalid);
 *   pass 2: with z_i = (x_i - m)/T and e_i = exp(z_i) <= 1:
 *           t = S - 1 = sum e_i over all but one maximal element (lse = m/T + log1p t)
 *           and the measure's weighted sums.
 * Then, e.g., H = log1p t - sum e_i z_i / (1 + t), CE(label y) = log1p t - z_y. t is summed
 * without the leading 1 (the maximal terms, e_i = 1, are counted apart), so a result as small
 * as t (a confident row: lse([0, -40]) = 4.2e-18) keeps its relative accuracy.
 * -inf logits are masks: e_i = 0 and a term with zero weight is exactly 0 (never 0 * -inf).
 * float32, bfloat16 and float16 rows compute z and exp in float (the terms are <= 1 and are
 * summed in double); float64 rows in double. 2-byte logits are read as they are, 16 at a
 * time, and widened in registers: no float32 copy of the input is made.
 *
 * Threads, rows and Ctrl-C are the caller's (_logits.pxi); a pass over a row longer than
 * FI_BLOCK polls between blocks, which only split the lanes' range: sums are unchanged.
 */
#ifndef FASTINFO_LOGITS_H
#define FASTINFO_LOGITS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define FI_LN2_DBL 0.6931471805599453

enum { FI_L_LSE = 0, FI_L_ENTROPY = 1, FI_L_CE_LABEL = 2, FI_L_CE_SOFT = 3, FI_L_KL = 4, FI_L_JS = 5,
       FI_L_SOFTMAX = 6, FI_L_LOG_SOFTMAX = 7, FI_L_STATS = 8, FI_L_TV = 9 };
enum { FI_K_LSE, FI_K_ENT, FI_K_SMOOTH, FI_K_SOFT, FI_K_PAIR };      /* the kinds of pass 2 */
enum { FI_LSE_NONE = 0, FI_LSE_SAVE = 1, FI_LSE_FROM = 2 };             /* fi_logit_args.lse_mode */

typedef struct {
    int op;
    double scale;        /* 1/T */
    double c1;           /* 1 - label_smoothing */
    double c0;           /* label_smoothing / K */
    int smooth;          /* FI_L_CE_LABEL: also the smoothing sum (res2) */
    const double *wt;    /* class weights (length K) for smoothing / soft targets, and the gradient */
    int grad;            /* FI_L_CE_LABEL / FI_L_CE_SOFT / FI_L_KL / FI_L_LSE: also write the gradient
                            with respect to the logits (KL: to y's) to o; res[0] holds the row's
                            factor f on entry */
    int lse_mode;        /* FI_LSE_SAVE: also each row's normalizers to lse[0], lse[1] (the
                            cross-entropies: log-sum-exp of x/T and, soft targets, b = sum of the
                            weighted smoothed targets; KL: x's and y's log-sum-exps); FI_LSE_FROM
                            (with grad): the gradient from them alone, passes 1 and 2 skipped
                            (a backward pass after a forward one that saved them) */
    int vjp;             /* FI_L_CE_SOFT with grad: y is an upstream gradient u, not targets (any
                            finite values); the gradient -f (sum u p - u) is log_softmax's
                            vector-Jacobian product with f = -1/T */
    int wunit;           /* the gradient: every class weight is 1 */
    double wsum;         /* the gradient: the sum of the class weights */
    Py_ssize_t k;        /* FI_L_STATS: the top k kept (a row's results take FI_ST_N + 2k) */
    int want;            /* FI_L_STATS: FI_WANT_* */
    Py_ssize_t pfx, pfy; /* elements from a row of x (y) to the next one the same thread reads,
                            prefetched during pass 2; 0: none (strided rows, one row) */
} fi_logit_args;

/* A thread's pass 1 of its next row, begun in pass 2 of this one (contiguous rows of logsumexp,
 * softmax, log_softmax, softmax entropy and cross-entropy with labels, of every storage type,
 * and the pairs of rows of KL and JS: pass 2 reads its row from
 * cache and waits on its exps while the next row's first elements arrive; a separate pass 1
 * read them again from L2, L3 or memory). The caller keeps two per thread, zeroed: x's and,
 * after it, y's (which only KL and JS use), sets nxt in both before each row, and passes the
 * first; a row takes the partial maximum only when it is the row that was begun. */
typedef struct {
    Py_ssize_t nxt;      /* set by the caller: elements from this row to the next row the same
                            thread reads, 0: none (the last row, or a row of another thread) */
    const void *row;     /* the row begun (NULL: none), */
    Py_ssize_t n, done;  /* its length, and how many of its first elements were seen, */
    double m;            /* their maximum (float rows), */
    float top[32];       /* and lane by lane (float32 and float16 rows: the order statistics' floor), */
    int16_t hi[32], lo[32];   /* or their signed 16-bit maxima and minima, lane by lane (bfloat16) */
} fi_row_carry;

/* Where a row's pass 1 starts: the elements of it a carry has seen when the carry began this
 * row (the same pointer and length), else 0; either way the carry is spent. */
static inline Py_ssize_t fi_carry_start(fi_row_carry *cy, const void *row, Py_ssize_t n)
{
    Py_ssize_t start = 0;
    if (cy != NULL) {
        if (cy->row == row && cy->n == n)
            start = cy->done;
        cy->row = NULL;
    }
    return start;
}

typedef struct {
    double s;            /* t = sum e_i - 1: the sum without one maximal element */
    double a;            /* the measure's weighted sum */
    double b;            /* a second sum */
    int bad;             /* an invalid soft target was seen */
} fi_logit_sums;

/* The plan of the next-row prefetch for 4- and 8-byte rows whose pass 2 does not take the next
 * row's maximum, in quarters of a row: fi_pf_head4 in pass 1, fi_pf_rest4 in pass 2 at
 * fi_pf_rest4/4 of its pace (a pass 2 that takes the next row's maximum fetches that whole row
 * at its own pace: 0 + 4). Every contiguous row of the carrying kinds with a next row takes
 * 0 + 4 (FI_FUSES; a row of at most FI_BLOCK elements too, though it carries no maximum:
 * a carry begins in a row's second block), so the plan serves only a thread's last row and
 * pass 1 of label-smoothed and soft-target cross-entropy rows (their pass 2 prefetches the
 * next row at full pace; strided rows prefetch no next row). It was measured before the
 * rows carried:
 * best (1024 x 128 000 logits from DRAM): 1 + 2 on an Intel Xeon with AVX-512 (2 MB L2; a
 * faster pace filled the line-fill buffers that pass 2's own L2 loads need: 0 + 4 and 1 + 3
 * were slower), 0 + 4 on an AMD Zen 5 (1 MB L2: 0.80-0.86x the time of 1 + 2; 1 + 3, 1 + 4,
 * 0 + 6, 0 + 8, 2 + 2 and none in between or slower). fi_prefetch_init sets it at the import
 * of a kernel module (each SIMD variant has its own copy), before any worker thread exists;
 * FI_PF_HEAD4 / FI_PF_REST4 at compile time fix it (either one alone: the other keeps 1 / 2). */
static int fi_pf_head4 = 1, fi_pf_rest4 = 2;

static void fi_prefetch_init(void)
{
#if defined(FI_PF_HEAD4) || defined(FI_PF_REST4)
#ifdef FI_PF_HEAD4
    fi_pf_head4 = FI_PF_HEAD4;
#endif
#ifdef FI_PF_REST4
    fi_pf_rest4 = FI_PF_REST4;
#endif
#elif (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_is("amd")) {
        fi_pf_head4 = 0;
        fi_pf_rest4 = 4;
    }
#endif
}

/* softmax_stats: a row's results, FI_ST_N doubles, then its top k's logits (as log-probs once
 * the row is done) and their indices (as doubles: exact below 2^53), in one row of the
 * caller's (N, FI_ST_N + 2k) array. A label >= 0 gives the label's fields; -1: none (no
 * labels, an ignored label); -2: a row left out (not read). */
enum { FI_ST_LSE, FI_ST_ENT, FI_ST_NLL, FI_ST_MAXP, FI_ST_ARGMAX, FI_ST_RANK, FI_ST_N };
enum { FI_WANT_ENT = 1, FI_WANT_ORDER = 2, FI_WANT_RANK = 4 };

/* The top k of a scan in index order, as a heap whose root is the worst kept element: the
 * smallest value, and of equal values the later index (so the earlier of equal elements is
 * kept, the order of a stable descending sort). An element enters only when it is larger than
 * the root: an equal one comes later. */
static inline int fi_topk_worse(double va, double ja, double vb, double jb)
{
    return va < vb || (va == vb && ja > jb);
}

static void fi_topk_sift(double *v, double *j, Py_ssize_t k, Py_ssize_t p)
{
    for (;;) {
        Py_ssize_t c = 2 * p + 1, w = p;
        double tv, tj;
        if (c < k && fi_topk_worse(v[c], j[c], v[w], j[w]))
            w = c;
        if (c + 1 < k && fi_topk_worse(v[c + 1], j[c + 1], v[w], j[w]))
            w = c + 1;
        if (w == p)
            return;
        tv = v[p]; v[p] = v[w]; v[w] = tv;
        tj = j[p]; j[p] = j[w]; j[w] = tj;
        p = w;
    }
}

/* element (val, idx) into a heap of `filled` of k: appended while it fills, else it replaces
 * the root (the caller checked val > v[0]) */
static inline void fi_topk_push(double *v, double *j, Py_ssize_t k, Py_ssize_t *filled, double val, Py_ssize_t idx)
{
    Py_ssize_t p, q;
    double tv, tj;
    if (*filled == k) {
        v[0] = val;
        j[0] = (double)idx;
        fi_topk_sift(v, j, k, 0);
        return;
    }
    p = (*filled)++;
    v[p] = val;
    j[p] = (double)idx;
    while (p > 0) {                             /* up while worse than its parent */
        q = (p - 1) / 2;
        if (!fi_topk_worse(v[p], j[p], v[q], j[q]))
            break;
        tv = v[p]; v[p] = v[q]; v[q] = tv;
        tj = j[p]; j[p] = j[q]; j[q] = tj;
        p = q;
    }
}

/* the heap of k into order, best first (the worst, popped from the root, goes last) */
static void fi_topk_sort(double *v, double *j, Py_ssize_t k)
{
    Py_ssize_t e;
    double tv, tj;
    for (e = k - 1; e > 0; e--) {
        tv = v[0]; v[0] = v[e]; v[e] = tv;
        tj = j[0]; j[0] = j[e]; j[e] = tj;
        fi_topk_sift(v, j, e, 0);
    }
}

static inline double fi_nonneg(double v) { return v > 0.0 ? v + 0.0 : 0.0; }   /* NaN, -0.0 -> 0 */

#endif /* FASTINFO_LOGITS_H */
