"""``python -m fastinfo``: the ``fastinfo`` command (see ``fastinfo/_cli.py``).

Without arguments it prints its help (exit status 0); ``python -m fastinfo demo``
runs the demo.
"""

import sys

from fastinfo._cli import main

if __name__ == "__main__":
    sys.exit(main())
