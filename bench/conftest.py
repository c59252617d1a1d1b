"""Lets the pytest-benchmark suite import its siblings (``harness``, ``numpy_baseline``).

``python bench/run.py`` gets this folder on ``sys.path`` from Python itself; pytest, in
importlib mode, does not put it there. ``fastinfo`` stays the installed package.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
