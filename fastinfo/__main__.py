"""``python -m fastinfo``: the ``fastinfo`` command (see ``fastinfo/_cli.py``).

Without arguments it runs ``fastinfo demo``: the configuration, then a
generated classifier workload scored from .npy files with its throughput.
"""

import sys

from fastinfo._cli import main

if __name__ == "__main__":
    sys.exit(main())
