"""The benchmark plots (bench/plot.py): valid PNGs of the requested size, one readable line
per contender, clear errors on input that is not a benchmark result."""

import json
import struct
import zlib
from pathlib import Path

import pytest
from helpers import load_bench_script

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[2]
SIZE_SWEEP_JSON = REPO / "bench" / "results-2026-11-22-throughput-vs-size.json"


plot = load_bench_script("plot")

FAMILIES = ("fastinfo", "numpy", "scipy", "torch", "roofline")
# seconds per GB of input read: every family at a different, size-independent speed
SECONDS_PER_GB = {"fastinfo": 0.1, "numpy": 0.5, "scipy": 2.0, "torch": 0.8, "roofline": 0.05}


def make_results(measures=("entropy",), dtypes=("float64",), rows=(10, 100, 1000), threads=(1, 2),
                 families=FAMILIES):
    """Throughput rows shaped like those of bench/run.py --json, plus a latency row."""
    out = []
    for measure in measures:
        for dtype in dtypes:
            for n_rows in rows:
                bytes_read = n_rows * 1000 * (8 if dtype == "float64" else 4)
                for n in threads:
                    median = {}
                    for family in families:
                        per_gb = SECONDS_PER_GB.get(family, 1.0)
                        if family not in ("numpy", "scipy"):
                            per_gb /= n
                        median[family] = per_gb * bytes_read / 1e9
                    out.append({
                        "workload": f"{measure}-{n_rows}x1000-{dtype}", "measure": measure,
                        "shape": [n_rows, 1000], "dtype": dtype, "elements": n_rows * 1000,
                        "bytes_read": bytes_read, "rounds": 3, "kind": "throughput",
                        "n_threads": n, "median_s": median,
                    })
    out.append({"workload": "entropy-1x100-float64-latency", "measure": "entropy",
                "shape": [1, 100], "dtype": "float64", "kind": "latency", "n_threads": None,
                "median_us": {"fastinfo": 0.5}})
    return out


def png_size(path):
    """(width, height) of a PNG file, after checking its signature and header chunk."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    header = data[16:29]
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(b"IHDR" + header)
    assert data[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82", "PNG does not end with IEND"
    return struct.unpack(">II", header[:8])


def contender_lines(ax):
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


# --- the files -----------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(1200, 800), (917, 613)])
def test_writes_a_valid_png_of_the_requested_size(tmp_path, size):
    path = tmp_path / "entropy.png"
    written = plot.plot_results(make_results(), path, size=size)
    assert written == [str(path)]
    assert png_size(path) == size


def test_one_png_per_measure_and_dtype(tmp_path):
    results = make_results(measures=("entropy", "kl_divergence"), dtypes=("float64", "float32"))
    written = plot.plot_results(results, tmp_path / "sweep.png", size=(640, 480))
    expected = {str(tmp_path / f"sweep-{m}-{d}.png")
                for m in ("entropy", "kl_divergence") for d in ("float64", "float32")}
    assert set(written) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in expected)
    for p in written:
        assert png_size(p) == (640, 480)


def test_a_path_without_suffix_gets_png(tmp_path):
    assert plot.plot_results(make_results(), tmp_path / "out") == [str(tmp_path / "out.png")]


def test_the_committed_size_sweep_still_plots():
    results, environment = plot.load_results(SIZE_SWEEP_JSON)
    kl = [r for r in results if r["kind"] == "throughput"
          and r["measure"] == "kl_divergence" and r["dtype"] == "float64"]
    series = plot.contender_series(kl)
    assert [s.label for s in series] == [
        "fastinfo, 1 thread", "fastinfo, 2 threads", "NumPy baseline (1 thread)", "SciPy (1 thread)",
        "PyTorch, 1 thread", "PyTorch, 2 threads", "read roofline, 1 thread", "read roofline, 2 threads",
    ]
    assert all(len(s.bytes_read) == 4 for s in series)
    assert environment["cpu_count"] >= 1


# --- what the figure shows -----------------------------------------------------------------

@pytest.fixture(scope="module")
def figure():
    rows = [r for r in make_results() if r["kind"] == "throughput"]
    fig = plot.draw(rows, environment={"cpu": "Test CPU", "cpu_count": 2, "numpy": "2.0"})
    fig.canvas.draw()
    return fig


def test_each_contender_has_its_own_line_and_style(figure):
    for ax in figure.axes:
        lines = contender_lines(ax)
        labels = [line.get_label() for line in lines]
        # fastinfo, PyTorch and the roofline per thread count; NumPy and SciPy once
        assert len(labels) == 8 and len(set(labels)) == 8, labels
        colours = [matplotlib.colors.to_hex(line.get_color()) for line in lines]
        assert len(set(colours)) == len(colours), colours
        # told apart without colour too (grey print, colour blindness): marker and line
        # style together are unique
        shapes = [(line.get_marker(), line.get_linestyle()) for line in lines]
        assert len(set(shapes)) == len(shapes), shapes


def test_the_legend_names_every_contender_and_hides_no_data(figure):
    ax_gbs, ax_speedup = figure.axes
    legend = ax_gbs.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [
        line.get_label() for line in contender_lines(ax_gbs)]
    renderer = figure.canvas.get_renderer()
    box = legend.get_window_extent(renderer)
    for ax in figure.axes:
        assert not box.overlaps(ax.get_window_extent(renderer))
    fig_box = figure.bbox
    assert fig_box.x0 <= box.x0 and box.x1 <= fig_box.x1
    assert fig_box.y0 <= box.y0 and box.y1 <= fig_box.y1


def test_axes_are_labelled_with_units_and_log_scaled(figure):
    ax_gbs, ax_speedup = figure.axes
    assert "GB/s" in ax_gbs.get_ylabel()
    assert "NumPy" in ax_speedup.get_ylabel() and "×" in ax_speedup.get_ylabel()
    assert "bytes" in ax_speedup.get_xlabel()
    for ax in figure.axes:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    ticks = [t.get_text() for t in ax_speedup.get_xticklabels()]
    assert ticks == ["80 kB", "800 kB", "8 MB"]
    assert any("Entropy, float64" in t.get_text() for t in figure.texts)  # the suptitle
    assert "Test CPU, 2 CPUs" in ax_gbs.get_title(loc="left")


def test_the_lines_carry_throughput_and_speedup_over_numpy(figure):
    ax_gbs, ax_speedup = figure.axes
    by_label = {line.get_label(): line for line in contender_lines(ax_gbs)}
    gbs = by_label["fastinfo, 2 threads"].get_ydata()
    assert list(by_label["fastinfo, 2 threads"].get_xdata()) == [80_000, 800_000, 8_000_000]
    assert gbs == pytest.approx([20.0] * 3)              # 1 GB per 0.1 s / 2 threads
    speedup = {line.get_label(): line.get_ydata() for line in contender_lines(ax_speedup)}
    assert speedup["NumPy baseline (1 thread)"] == pytest.approx([1.0] * 3)
    assert speedup["fastinfo, 1 thread"] == pytest.approx([5.0] * 3)
    assert speedup["SciPy (1 thread)"] == pytest.approx([0.25] * 3)
    assert speedup["read roofline, 2 threads"] == pytest.approx([20.0] * 3)


def test_more_thread_counts_and_unknown_families_keep_distinct_styles():
    rows = [r for r in make_results(threads=(1, 2, 4), families=FAMILIES + ("jax",))
            if r["kind"] == "throughput"]
    series = plot.contender_series(rows)
    assert len(series) == 3 * 4 + 2      # threaded families x 3 threads, NumPy and SciPy once
    assert len({s.label for s in series}) == len(series)
    assert len({s.color for s in series}) == len(series)
    assert len({(s.marker, str(s.linestyle)) for s in series}) == len(series)
    jax = [s for s in series if s.family == "jax"]
    assert [s.label for s in jax] == ["jax, 1 thread", "jax, 2 threads", "jax, 4 threads"]


# --- bad input ---------------------------------------------------------------------------

def test_no_throughput_rows_is_an_error(tmp_path):
    latency_only = [r for r in make_results() if r["kind"] == "latency"]
    with pytest.raises(ValueError, match="no throughput results"):
        plot.plot_results(latency_only, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_a_row_without_timings_is_an_error(tmp_path):
    results = make_results()
    del results[1]["median_s"]
    with pytest.raises(ValueError, match=r"row 1 \(entropy-10x1000-float64\) has no 'median_s'"):
        plot.plot_results(results, tmp_path / "x.png")


def test_rows_that_are_not_results_are_an_error(tmp_path):
    with pytest.raises(ValueError, match="list of result rows"):
        plot.plot_results({"results": []}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="row 0 is not a result"):
        plot.plot_results([{"workload": "x"}], tmp_path / "x.png")


def test_two_workloads_of_one_size_are_an_error():
    # the main grid times 10000x1000 and 100x100000: the same bytes, no curve against size
    rows = [r for r in make_results(rows=(10, 100)) if r["kind"] == "throughput"]
    twin = [dict(r, workload="entropy-1x10000-float64", shape=[1, 10_000]) for r in rows
            if r["shape"] == [10, 1000]]
    with pytest.raises(ValueError, match="same 80000 bytes.*--size-sweep"):
        plot.contender_series(rows + twin)


@pytest.mark.parametrize("size, message", [
    ((100, 100), "at least 320 x 240"),
    ((800,), r"\(width, height\)"),
    ("big", r"\(width, height\)"),
])
def test_a_bad_size_is_an_error(tmp_path, size, message):
    with pytest.raises(ValueError, match=message):
        plot.plot_results(make_results(), tmp_path / "x.png", size=size)


def test_a_suffix_other_than_png_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"should end in \.png"):
        plot.plot_results(make_results(), tmp_path / "x.svg")


def test_json_that_is_not_a_benchmark_result_is_an_error(tmp_path):
    other = tmp_path / "labels.json"
    other.write_text(json.dumps({"samples": {}, "report": []}))
    with pytest.raises(ValueError, match="no 'results' list"):
        plot.load_results(other)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        plot.load_results(broken)


# --- command line ------------------------------------------------------------------------

def test_command_line_writes_the_plots(tmp_path, capsys):
    results = tmp_path / "sweep.json"
    results.write_text(json.dumps({"environment": {}, "results": make_results(dtypes=("float32",))}))
    out = tmp_path / "plots" / "sweep.png"
    out.parent.mkdir()
    assert plot.main([str(results), "--out", str(out), "--size", "640x480"]) == 0
    assert png_size(out) == (640, 480)
    assert capsys.readouterr().out == f"plot written to {out}\n"


def test_command_line_reports_bad_input_in_one_line(tmp_path, capsys):
    results = tmp_path / "labels.json"
    results.write_text(json.dumps({"samples": {}}))
    assert plot.main([str(results)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no 'results' list" in err and "Traceback" not in err
