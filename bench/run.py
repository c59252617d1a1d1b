#!/usr/bin/env python
"""Run fastinfo's benchmark grid side by side and print the tables.

    python bench/run.py                      # full grid, 7 interleaved rounds (~1.5 min)
    python bench/run.py --quick              # 3 rounds, SciPy/PyTorch once (~25 s)
    python bench/run.py --json results.json  # also write the raw figures
    python bench/run.py --retry-busy 5       # redo a workload while other processes use the CPUs
    python bench/run.py --size-sweep --plot bench/plots/throughput-vs-size.png  # 10^4..10^7 elements
    python bench/run.py --help               # subsets: --measures, --shapes, --dtypes, --threads

Needs the installed (compiled) fastinfo; SciPy and PyTorch are optional
contenders, matplotlib is needed for --plot. The workloads and the runner live
in harness.py beside this file (Python puts this folder on sys.path when it
runs the script).
"""

import sys

import harness

if __name__ == "__main__":
    sys.exit(harness.main(prog="python bench/run.py"))
