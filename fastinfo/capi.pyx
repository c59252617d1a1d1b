# cython: language_level=3
"""The C-level API of fastinfo (see capi.pxd): each function calls through the table of
row kernels (_fi_capi.h) of the SIMD variant chosen at import."""

from cpython.pycapsule cimport PyCapsule_GetPointer

cdef extern from "_fi_capi.h" nogil:
    enum:
        FI_CAPI_VERSION
    ctypedef struct fi_capi_table:
        int version
        double (*entropy)(const double*, Py_ssize_t, Py_ssize_t, int) noexcept nogil
        double (*entropy_f32)(const float*, Py_ssize_t, Py_ssize_t, int) noexcept nogil
        double (*cross_entropy)(const double*, Py_ssize_t, const double*, Py_ssize_t, Py_ssize_t, int) noexcept nogil
        double (*cross_entropy_f32)(const float*, Py_ssize_t, const float*, Py_ssize_t, Py_ssize_t, int) noexcept nogil
        double (*kl_divergence)(const double*, Py_ssize_t, const double*, Py_ssize_t, Py_ssize_t, int) noexcept nogil
        double (*kl_divergence_f32)(const float*, Py_ssize_t, const float*, Py_ssize_t, Py_ssize_t, int) noexcept nogil
        double (*js_divergence)(const double*, Py_ssize_t, const double*, Py_ssize_t, Py_ssize_t, int) noexcept nogil
        double (*js_divergence_f32)(const float*, Py_ssize_t, const float*, Py_ssize_t, Py_ssize_t, int) noexcept nogil
        double (*logsumexp)(const double*, Py_ssize_t, Py_ssize_t) noexcept nogil
        double (*logsumexp_f32)(const float*, Py_ssize_t, Py_ssize_t) noexcept nogil
        double (*softmax_cross_entropy)(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t) noexcept nogil
        double (*softmax_cross_entropy_f32)(const float*, Py_ssize_t, Py_ssize_t, Py_ssize_t) noexcept nogil

from fastinfo._dispatch import kernels as _kernels, simd_level

cdef const fi_capi_table* _T = <const fi_capi_table*>PyCapsule_GetPointer(_kernels.capi_table(),
                                                                          b"fastinfo.capi_table")
if _T.version != FI_CAPI_VERSION:
    raise ImportError(f"fastinfo.capi: kernel table version {_T.version}, expected {FI_CAPI_VERSION}")

SIMD_LEVEL = simd_level


cdef double entropy(const double* p, Py_ssize_t n, Py_ssize_t stride, bint normalize) noexcept nogil:
    return _T.entropy(p, n, stride, normalize)

cdef double entropy_f32(const float* p, Py_ssize_t n, Py_ssize_t stride, bint normalize) noexcept nogil:
    return _T.entropy_f32(p, n, stride, normalize)

cdef double cross_entropy(const double* p, Py_ssize_t p_stride, const double* q, Py_ssize_t q_stride,
                          Py_ssize_t n, bint normalize) noexcept nogil:
    return _T.cross_entropy(p, p_stride, q, q_stride, n, normalize)

cdef double cross_entropy_f32(const float* p, Py_ssize_t p_stride, const float* q, Py_ssize_t q_stride,
                              Py_ssize_t n, bint normalize) noexcept nogil:
    return _T.cross_entropy_f32(p, p_stride, q, q_stride, n, normalize)

cdef double kl_divergence(const double* p, Py_ssize_t p_stride, const double* q, Py_ssize_t q_stride,
                          Py_ssize_t n, bint normalize) noexcept nogil:
    return _T.kl_divergence(p, p_stride, q, q_stride, n, normalize)

cdef double kl_divergence_f32(const float* p, Py_ssize_t p_stride, const float* q, Py_ssize_t q_stride,
                              Py_ssize_t n, bint normalize) noexcept nogil:
    return _T.kl_divergence_f32(p, p_stride, q, q_stride, n, normalize)

cdef double js_divergence(const double* p, Py_ssize_t p_stride, const double* q, Py_ssize_t q_stride,
                          Py_ssize_t n, bint normalize) noexcept nogil:
    return _T.js_divergence(p, p_stride, q, q_stride, n, normalize)

cdef double js_divergence_f32(const float* p, Py_ssize_t p_stride, const float* q, Py_ssize_t q_stride,
                              Py_ssize_t n, bint normalize) noexcept nogil:
    return _T.js_divergence_f32(p, p_stride, q, q_stride, n, normalize)

cdef double logsumexp(const double* x, Py_ssize_t n, Py_ssize_t stride) noexcept nogil:
    return _T.logsumexp(x, n, stride)

cdef double logsumexp_f32(const float* x, Py_ssize_t n, Py_ssize_t stride) noexcept nogil:
    return _T.logsumexp_f32(x, n, stride)

cdef double softmax_cross_entropy(const double* logits, Py_ssize_t n, Py_ssize_t stride,
                                  Py_ssize_t label) noexcept nogil:
    return _T.softmax_cross_entropy(logits, n, stride, label)

cdef double softmax_cross_entropy_f32(const float* logits, Py_ssize_t n, Py_ssize_t stride,
                                      Py_ssize_t label) noexcept nogil:
    return _T.softmax_cross_entropy_f32(logits, n, stride, label)
