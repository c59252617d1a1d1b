"""Type stub of fastinfo.capi (issue 7).

The module's API is C-level: ``cdef`` functions declared in ``capi.pxd`` and
cimported from Cython (``from fastinfo.capi cimport entropy``), invisible to
Python. At the Python level it holds only the SIMD level whose kernel table it
calls through.
"""

# the SIMD variant chosen at import ("baseline", "avx2" or "avx512"), as fastinfo.show_config()
SIMD_LEVEL: str
simd_level: str

# Cython's tables: the PyCapsules of the cdef functions (what cimport reads), and doctests (empty)
__pyx_capi__: dict[str, object]
__test__: dict[str, str]
