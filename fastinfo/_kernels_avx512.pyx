# One compiled variant of the kernels, for the 'avx512' instruction-set level.
# setup.py compiles the same source (_kernels.pxi) once per level with
# different -march flags; fastinfo/_dispatch.py picks one at import time.
include "_kernels.pxi"

SIMD_LEVEL = "avx512"
