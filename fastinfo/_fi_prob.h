/* Rows of the Shannon measures of probability vectors -- entropy, cross-entropy, KL and
 * Jensen-Shannon divergence -- for float64, float32, bfloat16 and float16 input.
 *
 * The row is _fi_prob_row.h, written once and instantiated for each storage type by
 * _fi_rows.h (fi_prob_row_f64, ...). A row is a sum of blocks; a block
 * sums, over at most FI_BLOCK elements, the terms of p' = p cp and q' = q cq (cp, cq:
 * exactly 1, or the factors of normalize=True; KL takes cp = 1/sum p, cq = sum q / sum p
 * and the ratio before scaling):
 *   FI_P_ENT   sum p' log p'                 FI_P_CE   sum p' log q'
 *   FI_P_KL    sum p' log(p'/q')             FI_P_JS   sum p' log(2p'/m) + q' log(2q'/m), m = p' + q'
 *   FI_P_SUMP, FI_P_SUMPQ: no terms (the first pass of normalize=True)
 * with 0 log 0 = 0, and the raw sums of p (and q). The row also takes the normalization pass
 * (FI_P_NORM) and splits a long row's blocks over threads; batches of rows and the measure
 * from the sums are the caller's (_kernels.pxi). A row is the in-order sum of its blocks, so a
 * long row split over threads gives the same result.
 */
#ifndef FASTINFO_PROB_H
#define FASTINFO_PROB_H

#include <float.h>
#include <math.h>

enum { FI_P_ENT = 0, FI_P_CE = 1, FI_P_KL = 2, FI_P_JS = 3, FI_P_SUMP = 4, FI_P_SUMPQ = 5 };
enum { FI_P_NORM = 16 };       /* or-ed into a measure: normalize the row first */
enum { FI_BAD_SCALE = 4 };     /* fi_partial.bad: the normalization factors are out of range */

typedef struct {
    double a;            /* the measure's sum */
    double sp;           /* sum of p as passed */
    double sq;           /* sum of q as passed (two-input measures) */
    int bad;             /* 1: an invalid p, 2: an invalid q (-1: the fast pass flagged the block;
                          * FI_BAD_SCALE: see fi_prob_row) */
} fi_partial;

/* log(x/y) for x, y > 0, also when x/y over- or underflows */
static inline double fi_log_ratio(double x, double y)
{
    double r = x / y;
    return (r < DBL_MIN || r > DBL_MAX) ? log(x) - log(y) : log(r);
}

/* One term on the careful path (valid or not: an invalid input only has to give some value) */
static inline double fi_prob_term_careful(int M, double x, double y, double cp, double cq)
{
    double m, r;
    switch (M) {
    case FI_P_ENT:
        x *= cp;
        return x == 0 ? 0.0 : x * log(x);
    case FI_P_CE:
        x *= cp;
        return x == 0 ? 0.0 : x * log(y * cq);
    case FI_P_KL:
        if (x == 0)
            return 0.0;
        if (y == 0)
            return INFINITY;
        r = (x / y) * cq;
        if (r < DBL_MIN || r > DBL_MAX)      /* the ratio under- or overflowed: a difference of logs */
            return (x * cp) * (log(x) - log(y) + log(cq));
        return (x * cp) * log(r);
    case FI_P_JS:
        x *= cp;
        y *= cq;
        m = 0.5 * x + 0.5 * y;               /* cannot overflow, unlike x + y */
        r = 0.0;
        if (x != 0)
            r = x * fi_log_ratio(x, m);
        if (y != 0)
            r += y * fi_log_ratio(y, m);
        return r;
    default:
        return 0.0;
    }
}

#endif /* FASTINFO_PROB_H */
