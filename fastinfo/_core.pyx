# The compiled code of fastinfo other than the row kernels, compiled once for the baseline (the
# row kernels are compiled per SIMD level: _kernels.pxi): label counting, the expected mutual
# information, the spacing estimators' sorts, the k-d tree of the kNN estimators and the
# Parquet level runs of the page reader. It holds
# the platform state (thread counts, fork safety) that every kernel variant adopts, and borrows
# the selected variant's lane-wise loops (use_row_kernels, installed by the dispatcher).

include "_common.pxi"


def platform_state():
    """The platform state as a PyCapsule (named "fastinfo._core.platform"), for the kernel
    variants to adopt at import."""
    return _PLATFORM_STATE


# --- label counting -------------------------------------------------------------------
include "_labels.pxi"


# --- expected mutual information of two labelings -------------------------------------
include "_emi.pxi"


# --- spacing estimators of the differential entropy -----------------------------------
include "_spacing.pxi"


# --- k-nearest-neighbour entropy and mutual information --------------------------------
include "_knn.pxi"


# --- Parquet level runs, for the page reader -------------------------------------------
include "_levels.pxi"
