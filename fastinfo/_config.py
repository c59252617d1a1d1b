"""What this build of fastinfo is running with."""

from __future__ import annotations

import os
import platform
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _dispatch

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__version__ = "0.1.0"


def config() -> dict[str, Any]:
    """The build and run-time configuration as a dict.

    Keys: ``version``, ``openmp`` (compiled with OpenMP), ``simd`` (the
    kernel variant chosen at import), ``simd_available`` (variants built and
    runnable on this CPU), ``max_threads`` (what ``n_threads=None`` uses now),
    ``forked_serial`` (True in a child forked after the parent ran a parallel
    kernel: libgomp's pool does not survive fork, so such a child runs serially),
    ``cpu_count``, ``python``, ``numpy``, ``platform``.

    Returns
    -------
    dict
        Plain data (str, bool, int, lists of str; ``cpu_count`` is None where
        the platform cannot tell): serializable with ``json.dumps``.

    See Also
    --------
    show_config : The same, printed for a person.

    Examples
    --------
    >>> import fastinfo
    >>> c = fastinfo.config()
    >>> c["version"] == fastinfo.__version__
    True
    >>> c["simd"] in c["simd_available"]
    True
    """
    k = _dispatch.kernels
    return {
        "version": __version__,
        "openmp": k.openmp_enabled(),
        "simd": _dispatch.simd_level,
        "simd_available": list(_dispatch.available_kernels()),
        "max_threads": k.max_threads(),
        "forked_serial": k.forked_serial(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}",
    }


def show_config(file: SupportsWrite[str] | None = None) -> None:
    """Print the version, OpenMP status, the SIMD level chosen at run time and the thread count.

    The SIMD level can be forced with the ``FASTINFO_SIMD`` environment
    variable (read at import); the thread count is what ``n_threads=None``
    uses, after ``OMP_NUM_THREADS`` and ``threadpoolctl`` limits.

    Parameters
    ----------
    file : file-like, optional
        Where to write (anything with a ``write(str)`` method); ``None`` writes
        to ``sys.stdout``.

    See Also
    --------
    config : The same information as a dict.

    Examples
    --------
    >>> import fastinfo
    >>> fastinfo.show_config()  # doctest: +ELLIPSIS
    fastinfo ...
      OpenMP: ...
      SIMD level: ...
      threads: ...
      python ...
    """
    c = config()
    lines = [
        f"fastinfo {c['version']}",
        f"  OpenMP:        {'on' if c['openmp'] else 'OFF (built without OpenMP: kernels run serially)'}",
        f"  SIMD level:    {c['simd']} (available here: {', '.join(c['simd_available'])};"
        f" force with FASTINFO_SIMD)",
        f"  threads:       {c['max_threads']} (n_threads=None; OMP_NUM_THREADS / threadpoolctl apply)"
        f" of {c['cpu_count']} CPUs" + (" (serial: forked after a parallel call)" if c["forked_serial"] else ""),
        f"  python {c['python']}, numpy {c['numpy']}, {c['platform']}",
    ]
    print("\n".join(lines), file=file if file is not None else sys.stdout)
