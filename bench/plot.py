#!/usr/bin/env python
"""Plots of the benchmark results: throughput and speed-up over NumPy against input size.

    python bench/plot.py bench/results-2026-11-22-throughput-vs-size.json \\
        --out bench/plots/throughput-vs-size.png

reads the JSON that ``python bench/run.py --json`` writes and draws one PNG per measure
and dtype (``<out>-<measure>-<dtype>.png``). Each figure has two panels over the same
x axis, the bytes of input read per call (log scale):

- top: throughput in GB/s of input read (log scale) -- the rooflines are the memory
  bound, the cost of just reading the input with that many threads;
- bottom: speed-up over the NumPy baseline, time(NumPy) / time(contender) in the same
  run (log scale; NumPy itself is the line at 1x).

A contender keeps its colour, marker and line style in every figure: one hue per
library, a lighter shade and a dashed line for its second thread count, the rooflines
dotted without markers. The legend sits outside the panels so that it hides no data.
``python bench/run.py --plot PATH`` calls :func:`plot_results` on the results it just
measured. matplotlib is imported only here, and draws on the Agg canvas (no display).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field

DEFAULT_SIZE = (1200, 800)  # pixels
DEFAULT_DPI = 100

MEASURE_NAMES = {
    "entropy": "Entropy",
    "cross_entropy": "Cross-entropy",
    "kl_divergence": "KL divergence",
    "js_divergence": "Jensen-Shannon divergence",
    "softmax_cross_entropy": "Softmax cross-entropy",
}

# Okabe-Ito colours (told apart with the common colour-vision deficiencies): per family,
# one colour per thread count in the order the run used them; the marker shows the
# family even where the colours are hard to tell apart.
FAMILY_STYLES = {
    "fastinfo": ("fastinfo", ("#0072B2", "#56B4E9"), "o"),
    "numpy": ("NumPy baseline", ("#E69F00",), "s"),
    "scipy": ("SciPy", ("#009E73",), "^"),
    "torch": ("PyTorch", ("#D55E00", "#CC79A7"), "D"),
    "roofline": ("read roofline", ("#000000", "#7F7F7F"), ""),
}
# families that run on one thread whatever the thread count: drawn once
SINGLE_THREADED = ("numpy", "scipy")
_FALLBACK_COLOURS = ("#F0E442", "#882255", "#44AA99", "#999933")
_FALLBACK_MARKERS = ("v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", (0, (3, 1, 1, 1, 1, 1)))
ROOFLINE_LINESTYLES = (":", (0, (6, 2, 1, 2)), (0, (1, 3)), (0, (8, 4)))

_ROW_KEYS = ("kind", "measure", "dtype", "n_threads", "bytes_read", "median_s")


@dataclass
class Series:
    """One contender's line: its points sorted by size."""

    family: str
    n_threads: int | None
    label: str
    color: str
    marker: str
    linestyle: object
    bytes_read: list = field(default_factory=list)
    gbyte_per_s: list = field(default_factory=list)
    speedup_vs_numpy: list = field(default_factory=list)


def load_results(path):
    """(results, environment) from a JSON file written by ``bench/run.py --json``."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise ValueError(
            f"{path}: no 'results' list: not the JSON of bench/run.py --json"
        )
    return doc["results"], doc.get("environment") or {}


def _lighter(color, share):
    """`color` mixed with `share` of white."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * share):02X}" for c in rgb)


def contender_style(family, thread_index, family_index=0):
    """(label, colour, marker, linestyle) of a family's `thread_index`-th thread count."""
    if family in FAMILY_STYLES:
        name, colours, marker = FAMILY_STYLES[family]
    else:
        name = family
        colours = (_FALLBACK_COLOURS[family_index % len(_FALLBACK_COLOURS)],)
        marker = _FALLBACK_MARKERS[family_index % len(_FALLBACK_MARKERS)]
    if thread_index < len(colours):
        colour = colours[thread_index]
    else:
        colour = _lighter(colours[-1], min(0.8, 0.25 * (thread_index - len(colours) + 1)))
    styles = ROOFLINE_LINESTYLES if family == "roofline" else LINESTYLES
    return name, colour, marker, styles[thread_index % len(styles)]


def _check_rows(results):
    if not isinstance(results, (list, tuple)):
        raise ValueError(f"results must be a list of result rows, got {type(results).__name__}")
    for i, row in enumerate(results):
        if not isinstance(row, dict) or "kind" not in row:
            raise ValueError(f"result row {i} is not a result of bench/run.py (no 'kind')")
        if row["kind"] != "throughput":
            continue
        missing = [k for k in _ROW_KEYS if k not in row]
        if missing:
            raise ValueError(
                f"result row {i} ({row.get('workload', '?')}) has no {', '.join(map(repr, missing))}"
            )


def contender_series(rows):
    """The lines of one measure and dtype: one :class:`Series` per contender.

    `rows` are throughput results of a single measure and dtype, one per size and thread
    count. NumPy and SciPy are single-threaded (the same timing in every thread row): they
    are taken from the rows of the first thread count only.
    """
    rows = [r for r in rows if r["kind"] == "throughput"]
    if not rows:
        raise ValueError("no throughput results to plot")
    groups = {(r["measure"], r["dtype"]) for r in rows}
    if len(groups) > 1:
        raise ValueError(f"rows of several measures or dtypes: {sorted(groups)}")
    threads = sorted({r["n_threads"] for r in rows})
    sizes = {}
    for r in rows:
        if r["n_threads"] == threads[0]:
            sizes.setdefault(r["bytes_read"], []).append(r.get("workload", r.get("shape")))
    clash = {b: w for b, w in sizes.items() if len(w) > 1}
    if clash:
        size, names = next(iter(clash.items()))
        raise ValueError(
            f"{len(names)} workloads read the same {size} bytes ({', '.join(map(str, names))}): "
            "a plot against size needs one workload per size (python bench/run.py --size-sweep)"
        )
    families = []
    for r in rows:
        for family in r["median_s"]:
            if family not in families:
                families.append(family)
    order = list(FAMILY_STYLES) + [f for f in families if f not in FAMILY_STYLES]
    series = {}
    for r in sorted(rows, key=lambda r: (r["bytes_read"], r["n_threads"])):
        numpy_s = r["median_s"].get("numpy")
        for family, seconds in r["median_s"].items():
            single = family in SINGLE_THREADED
            if single and r["n_threads"] != threads[0]:
                continue
            n = None if single else r["n_threads"]
            key = (family, n)
            if key not in series:
                name, colour, marker, linestyle = contender_style(
                    family, 0 if single else threads.index(n), order.index(family)
                )
                if single:
                    label = f"{name} (1 thread)"
                else:
                    label = f"{name}, {n} thread{'s' if n != 1 else ''}"
                series[key] = Series(family, n, label, colour, marker, linestyle)
            s = series[key]
            s.bytes_read.append(r["bytes_read"])
            s.gbyte_per_s.append(r["bytes_read"] / seconds / 1e9)
            s.speedup_vs_numpy.append(numpy_s / seconds if numpy_s else float("nan"))
    return sorted(series.values(), key=lambda s: (order.index(s.family), s.n_threads or 0))


def _check_size(size, dpi):
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height) in pixels, got {size!r}") from None
    if width < 320 or height < 240:
        raise ValueError(f"size must be at least 320 x 240 pixels, got {width} x {height}")
    if not dpi or dpi <= 0:
        raise ValueError(f"dpi must be positive, got {dpi!r}")
    return width, height


def _caption(environment, rows):
    env = environment or {}
    parts = []
    if env.get("cpu"):
        parts.append(f"{env['cpu']}, {env.get('cpu_count', '?')} CPUs")
    versions = [f"{name} {env[key]}" for name, key in
                (("fastinfo", "fastinfo"), ("NumPy", "numpy"), ("SciPy", "scipy"), ("PyTorch", "torch"))
                if env.get(key)]
    if versions:
        parts.append(", ".join(versions))
    rounds = sorted({r.get("rounds") for r in rows if r.get("rounds")})
    if rounds:
        plural = "s" if rounds != [1] else ""
        parts.append(f"medians of {'/'.join(map(str, rounds))} interleaved round{plural}")
    return "; ".join(parts)


def draw(rows, *, environment=None, size=DEFAULT_SIZE, dpi=DEFAULT_DPI):
    """The figure of one measure and dtype (a matplotlib Figure on the Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter, FixedLocator, FuncFormatter, LogLocator, NullLocator

    width, height = _check_size(size, dpi)
    series = contender_series(rows)
    measure, dtype = rows[0]["measure"], rows[0]["dtype"]

    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax_gbs, ax_speedup = fig.subplots(2, 1, sharex=True)
    for s in series:
        roofline = s.family == "roofline"
        style = dict(color=s.color, marker=s.marker or None, linestyle=s.linestyle,
                     linewidth=1.4 if roofline else 2.0, markersize=6, label=s.label)
        ax_gbs.plot(s.bytes_read, s.gbyte_per_s, **style)
        ax_speedup.plot(s.bytes_read, s.speedup_vs_numpy, **style)

    fig.suptitle(f"{MEASURE_NAMES.get(measure, measure)}, {dtype}: "
                 "fastinfo against NumPy, SciPy and PyTorch", fontsize="large")
    caption = _caption(environment, rows)
    if caption:
        ax_gbs.set_title(caption, fontsize="small", loc="left", color="#444444")
    ax_gbs.set_ylabel("throughput (GB/s of input read)")
    ax_speedup.set_ylabel("speed-up over NumPy (×)")
    ax_speedup.set_xlabel("input read per call (bytes)")
    ax_speedup.axhline(1.0, color="#BBBBBB", linewidth=0.8, zorder=0)
    for ax in (ax_gbs, ax_speedup):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, which="major", color="#DDDDDD", linewidth=0.8)
        ax.grid(True, which="minor", color="#F0F0F0", linewidth=0.5)
    # a tick under every measured size, labelled in bytes (kB, MB): the sizes are few
    sizes = sorted({b for s in series for b in s.bytes_read})
    ax_speedup.xaxis.set_major_locator(FixedLocator(sizes))
    ax_speedup.xaxis.set_minor_locator(NullLocator())
    ax_speedup.xaxis.set_major_formatter(EngFormatter(unit="B"))
    # 1-2-5 steps: a decade or two of range would otherwise show one or two labels
    for ax, unit in ((ax_gbs, ""), (ax_speedup, "×")):
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, unit=unit: f"{v:g}{unit}"))
    ax_gbs.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  title="contender", fontsize="small", frameon=False)
    return fig


def plot_measure(rows, path, *, environment=None, size=DEFAULT_SIZE, dpi=DEFAULT_DPI):
    """Write the PNG of one measure and dtype to `path`; returns `path`."""
    fig = draw(rows, environment=environment, size=size, dpi=dpi)
    # no "Software" entry: the PNG does not change with the matplotlib version
    fig.savefig(path, format="png", dpi=dpi, metadata={"Software": None})
    return path


def plot_results(results, path, *, environment=None, size=DEFAULT_SIZE, dpi=DEFAULT_DPI):
    """One PNG per measure and dtype of `results` (the rows of ``bench/run.py --json``).

    With one measure and dtype the PNG is `path`; with several, ``<path stem>-<measure>-
    <dtype>.png``. Returns the paths written.
    """
    _check_rows(results)
    _check_size(size, dpi)
    stem, ext = os.path.splitext(os.fspath(path))
    if ext.lower() not in ("", ".png"):
        raise ValueError(f"the plots are PNG files: {path!r} should end in .png")
    groups = {}
    for r in results:
        if r["kind"] == "throughput":
            groups.setdefault((r["measure"], r["dtype"]), []).append(r)
    if not groups:
        raise ValueError("no throughput results to plot (only latency rows, or none)")
    written = []
    for (measure, dtype), rows in groups.items():
        out = f"{stem}.png" if len(groups) == 1 else f"{stem}-{measure}-{dtype}.png"
        written.append(plot_measure(rows, out, environment=environment, size=size, dpi=dpi))
    return written


def _parse_size(text):
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1200x800, got {text!r}") from None
    return width, height


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python bench/plot.py",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("results", metavar="RESULTS.json", help="written by python bench/run.py --json")
    ap.add_argument("--out", metavar="PATH.png",
                    help="output: PATH-<measure>-<dtype>.png (default: beside RESULTS.json)")
    ap.add_argument("--size", type=_parse_size, default=DEFAULT_SIZE, metavar="WxH",
                    help="pixels (default: %dx%d)" % DEFAULT_SIZE)
    args = ap.parse_args(argv)
    try:
        results, environment = load_results(args.results)
        out = args.out or os.path.splitext(args.results)[0] + ".png"
        paths = plot_results(results, out, environment=environment, size=args.size)
    except (OSError, ValueError) as exc:
        print(f"python bench/plot.py: error: {exc}", file=sys.stderr)
        return 2
    for p in paths:
        print(f"plot written to {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
