# cython: language_level=3
# The C-level API of fastinfo (issue 7): row kernels callable from Cython (or, through
# the same table, C) inside your own loops, without the GIL and with no Python in between.
#
#     from fastinfo.capi cimport entropy, kl_divergence, softmax_cross_entropy
#
# Pointers to the first element, lengths, and strides *in elements* (negative allowed);
# `normalize`: nonzero divides each row by its sum first (as normalize=True in Python).
# Results are in nats (divide by log(base) yourself). Invalid input (a negative, NaN or
# infinite probability; NaN or +inf logits; a label outside [0, n)) gives NaN: these
# functions never raise. Each call is serial and reentrant (call it from prange). The
# SIMD variant is the one `fastinfo` chose at import (fastinfo.show_config()).
# Compile against the installed package with include_dirs=[fastinfo.get_include()].

cdef double entropy(const double* p, Py_ssize_t n, Py_ssize_t stride, bint normalize) noexcept nogil
cdef double entropy_f32(const float* p, Py_ssize_t n, Py_ssize_t stride, bint normalize) noexcept nogil
cdef double cross_entropy(const double* p, Py_ssize_t p_stride, const double* q, Py_ssize_t q_stride,
                          Py_ssize_t n, bint normalize) noexcept nogil
cdef double cross_entropy_f32(const float* p, Py_ssize_t p_stride, const float* q, Py_ssize_t q_stride,
                              Py_ssize_t n, bint normalize) noexcept nogil
cdef double kl_divergence(const double* p, Py_ssize_t p_stride, const double* q, Py_ssize_t q_stride,
                          Py_ssize_t n, bint normalize) noexcept nogil
cdef double kl_divergence_f32(const float* p, Py_ssize_t p_stride, const float* q, Py_ssize_t q_stride,
                              Py_ssize_t n, bint normalize) noexcept nogil
cdef double js_divergence(const double* p, Py_ssize_t p_stride, const double* q, Py_ssize_t q_stride,
                          Py_ssize_t n, bint normalize) noexcept nogil
cdef double js_divergence_f32(const float* p, Py_ssize_t p_stride, const float* q, Py_ssize_t q_stride,
                              Py_ssize_t n, bint normalize) noexcept nogil
cdef double logsumexp(const double* x, Py_ssize_t n, Py_ssize_t stride) noexcept nogil
cdef double logsumexp_f32(const float* x, Py_ssize_t n, Py_ssize_t stride) noexcept nogil
cdef double softmax_cross_entropy(const double* logits, Py_ssize_t n, Py_ssize_t stride,
                                  Py_ssize_t label) noexcept nogil
cdef double softmax_cross_entropy_f32(const float* logits, Py_ssize_t n, Py_ssize_t stride,
                                      Py_ssize_t label) noexcept nogil
