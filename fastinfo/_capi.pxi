# The row kernels of `cimport fastinfo.capi` (issue 7): thin nogil wrappers over the same
# row functions the batched entry points use (one row, one thread, nats), collected in a
# table of function pointers (_fi_capi.h) that fastinfo/capi.pyx takes from the kernel
# variant chosen at run time. Included by _kernels.pxi.

from cpython.pycapsule cimport PyCapsule_New

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


cdef inline double _capi_pq(measure* tag, const real* p, Py_ssize_t ps, const real* q, Py_ssize_t qs,
                            Py_ssize_t n, int normalize) noexcept nogil:
    cdef Options o
    if n < 0:
        return NAN
    _options(&o, normalize != 0, False, 1.0, n, real is float)
    return _row_value(tag, p, ps, q, qs, n, &o, 1)


cdef double _capi_entropy(const double* p, Py_ssize_t n, Py_ssize_t s, int normalize) noexcept nogil:
    return _capi_pq(<EntropyTag*>NULL, p, s, p, s, n, normalize)

cdef double _capi_entropy_f32(const float* p, Py_ssize_t n, Py_ssize_t s, int normalize) noexcept nogil:
    return _capi_pq(<EntropyTag*>NULL, p, s, p, s, n, normalize)

cdef double _capi_ce(const double* p, Py_ssize_t ps, const double* q, Py_ssize_t qs, Py_ssize_t n,
                     int normalize) noexcept nogil:
    return _capi_pq(<CrossEntropyTag*>NULL, p, ps, q, qs, n, normalize)

cdef double _capi_ce_f32(const float* p, Py_ssize_t ps, const float* q, Py_ssize_t qs, Py_ssize_t n,
                         int normalize) noexcept nogil:
    return _capi_pq(<CrossEntropyTag*>NULL, p, ps, q, qs, n, normalize)

cdef double _capi_kl(const double* p, Py_ssize_t ps, const double* q, Py_ssize_t qs, Py_ssize_t n,
                     int normalize) noexcept nogil:
    return _capi_pq(<KLTag*>NULL, p, ps, q, qs, n, normalize)

cdef double _capi_kl_f32(const float* p, Py_ssize_t ps, const float* q, Py_ssize_t qs, Py_ssize_t n,
                         int normalize) noexcept nogil:
    return _capi_pq(<KLTag*>NULL, p, ps, q, qs, n, normalize)

cdef double _capi_js(const double* p, Py_ssize_t ps, const double* q, Py_ssize_t qs, Py_ssize_t n,
                     int normalize) noexcept nogil:
    return _capi_pq(<JSTag*>NULL, p, ps, q, qs, n, normalize)

cdef double _capi_js_f32(const float* p, Py_ssize_t ps, const float* q, Py_ssize_t qs, Py_ssize_t n,
                         int normalize) noexcept nogil:
    return _capi_pq(<JSTag*>NULL, p, ps, q, qs, n, normalize)


cdef inline double _capi_logit(int op, const real* x, Py_ssize_t n, Py_ssize_t s, Py_ssize_t label) noexcept nogil:
    cdef LogitArgs g
    cdef double r = NAN, r2 = 0.0
    if n < 0 or (op == L_CE_LABEL and not (0 <= label < n)):
        return NAN
    g.op = op
    g.scale = 1.0
    g.smooth = False
    g.c1 = 1.0
    g.c0 = 0.0
    g.wt = NULL
    _logit_row_any(x, s, x, s, label, <real*>NULL, 1, n, &g, &r, &r2, NULL)     # C callers: no Ctrl-C
    return r

cdef double _capi_lse(const double* x, Py_ssize_t n, Py_ssize_t s) noexcept nogil:
    return _capi_logit(L_LSE, x, n, s, 0)

cdef double _capi_lse_f32(const float* x, Py_ssize_t n, Py_ssize_t s) noexcept nogil:
    return _capi_logit(L_LSE, x, n, s, 0)

cdef double _capi_sce(const double* x, Py_ssize_t n, Py_ssize_t s, Py_ssize_t label) noexcept nogil:
    return _capi_logit(L_CE_LABEL, x, n, s, label)

cdef double _capi_sce_f32(const float* x, Py_ssize_t n, Py_ssize_t s, Py_ssize_t label) noexcept nogil:
    return _capi_logit(L_CE_LABEL, x, n, s, label)


cdef fi_capi_table _CAPI
_CAPI.version = FI_CAPI_VERSION
_CAPI.entropy = _capi_entropy
_CAPI.entropy_f32 = _capi_entropy_f32
_CAPI.cross_entropy = _capi_ce
_CAPI.cross_entropy_f32 = _capi_ce_f32
_CAPI.kl_divergence = _capi_kl
_CAPI.kl_divergence_f32 = _capi_kl_f32
_CAPI.js_divergence = _capi_js
_CAPI.js_divergence_f32 = _capi_js_f32
_CAPI.logsumexp = _capi_lse
_CAPI.logsumexp_f32 = _capi_lse_f32
_CAPI.softmax_cross_entropy = _capi_sce
_CAPI.softmax_cross_entropy_f32 = _capi_sce_f32


def capi_table():
    """A PyCapsule ("fastinfo.capi_table") holding this variant's fi_capi_table (see _fi_capi.h)."""
    return PyCapsule_New(<void*>&_CAPI, b"fastinfo.capi_table", NULL)
