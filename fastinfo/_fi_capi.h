/* The table of row kernels behind `cimport fastinfo.capi` (issue 7).
 *
 * Each SIMD variant of the kernel module (_kernels_<level>) fills one table at import
 * and hands it out as a PyCapsule named "fastinfo.capi_table"; fastinfo/capi.pyx takes
 * the table of the variant chosen at run time, so a caller of fastinfo.capi gets the
 * same vectorized code as the Python API. Strides are in elements; results in nats;
 * NaN for invalid input (negative/NaN/inf probabilities, NaN/+inf logits, a label out
 * of range). Every function is serial, reentrant and GIL-free. */
#ifndef FI_CAPI_H
#define FI_CAPI_H

#include <stddef.h>
#include <Python.h>

#define FI_CAPI_VERSION 1

typedef struct {
    int version;
    double (*entropy)(const double *p, Py_ssize_t n, Py_ssize_t stride, int normalize);
    double (*entropy_f32)(const float *p, Py_ssize_t n, Py_ssize_t stride, int normalize);
    double (*cross_entropy)(const double *p, Py_ssize_t ps, const double *q, Py_ssize_t qs, Py_ssize_t n,
                            int normalize);
    double (*cross_entropy_f32)(const float *p, Py_ssize_t ps, const float *q, Py_ssize_t qs, Py_ssize_t n,
                                int normalize);
    double (*kl_divergence)(const double *p, Py_ssize_t ps, const double *q, Py_ssize_t qs, Py_ssize_t n,
                            int normalize);
    double (*kl_divergence_f32)(const float *p, Py_ssize_t ps, const float *q, Py_ssize_t qs, Py_ssize_t n,
                                int normalize);
    double (*js_divergence)(const double *p, Py_ssize_t ps, const double *q, Py_ssize_t qs, Py_ssize_t n,
                            int normalize);
    double (*js_divergence_f32)(const float *p, Py_ssize_t ps, const float *q, Py_ssize_t qs, Py_ssize_t n,
                                int normalize);
    double (*logsumexp)(const double *x, Py_ssize_t n, Py_ssize_t stride);
    double (*logsumexp_f32)(const float *x, Py_ssize_t n, Py_ssize_t stride);
    double (*softmax_cross_entropy)(const double *logits, Py_ssize_t n, Py_ssize_t stride, Py_ssize_t label);
    double (*softmax_cross_entropy_f32)(const float *logits, Py_ssize_t n, Py_ssize_t stride, Py_ssize_t label);
} fi_capi_table;

#endif /* FI_CAPI_H */
