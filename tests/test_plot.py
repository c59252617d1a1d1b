"""fastinfo._plot: the dependency-free PNG line plotter of `fastinfo bench`.

Every PNG is read back by a decoder written here (struct + zlib), so the tests
check the file itself, not just the canvas it came from; PIL, when importable,
reads it a second time.
"""

import importlib.util
import math
import os
import struct
import time
import zlib

import numpy as np
import pytest

try:
    from fastinfo import _plot
except ImportError:   # an unbuilt checkout: _plot imports nothing from the package
    _spec = importlib.util.spec_from_file_location(
        "fastinfo_plot_standalone",
        os.path.join(os.path.dirname(__file__), os.pardir, "fastinfo", "_plot.py"))
    _plot = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_plot)

line_plot_png = _plot.line_plot_png
PALETTE = _plot.PALETTE


# --------------------------------------------------------------------------- a PNG reader
def read_png(path):
    """Parse an 8-bit RGB, non-interlaced PNG strictly; return an (h, w, 3) uint8 array."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert len(body) == length, f"truncated {kind!r} chunk"
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data), "trailing bytes after the last chunk"
    kinds = [k for k, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds, kinds
    assert chunks[-1][1] == b""
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, ctype, comp, filt, interlace) == (8, 2, 0, 0, 0), "not 8-bit RGB, non-interlaced"
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    assert len(raw) == h * (1 + 3 * w), "IDAT size does not match IHDR"
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(h, 1 + 3 * w)
    filters = set(rows[:, 0].tolist())
    assert filters <= {0, 1, 2, 3, 4}, f"invalid filter types {filters}"
    out = np.zeros((h, 3 * w), dtype=np.uint8)
    for r in range(h):   # unfilter (the writer uses type 0, but accept any)
        f, line = rows[r, 0], rows[r, 1:].astype(np.int32)
        prev = out[r - 1].astype(np.int32) if r else np.zeros(3 * w, np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        else:
            cur = np.zeros(3 * w, np.int32)
            for i in range(3 * w):
                a = cur[i - 3] if i >= 3 else 0
                b, c = prev[i], (prev[i - 3] if i >= 3 else 0)
                if f == 1:
                    pred = a
                elif f == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (line[i] + pred) & 255
        out[r] = cur
    return out.reshape(h, w, 3)


def color_mask(img, color):
    return np.all(img == np.asarray(color, dtype=np.uint8), axis=-1)


def render(tmp_path, series, name="plot.png", **kw):
    path = tmp_path / name
    assert line_plot_png(path, series, **kw) == path
    return read_png(path)


def bench_like(n_series=4, n=12):
    x = np.logspace(4, 9, n)
    return [{"label": f"contender {i}", "x": x, "y": (i + 1) * 8.0 * x / (x + 1e6)} for i in range(n_series)]


# --------------------------------------------------------------------------- structure
def test_png_structure_and_size(tmp_path):
    img = render(tmp_path, bench_like(), title="entropy", xlabel="bytes", ylabel="GB/s",
                 width=640, height=400)
    assert img.shape == (400, 640, 3)
    # white background, and real drawing on it
    assert (img[0, 0] == 255).all() and (img[-1, -1] == 255).all()
    assert np.count_nonzero((img < 128).all(axis=-1)) > 2000   # axes + text


def test_default_size_and_pathlike_and_str(tmp_path):
    path = str(tmp_path / "s.png")
    assert line_plot_png(path, bench_like(2)) == path
    assert read_png(path).shape == (600, 960, 3)


def test_readable_by_pil_if_available(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    path = tmp_path / "p.png"
    line_plot_png(path, bench_like(), title="t")
    with Image.open(path) as im:
        im.load()
        assert im.mode == "RGB" and im.size == (960, 600)
        assert (np.asarray(im) == read_png(path)).all()


def test_png_writer_round_trips_random_pixels():
    img = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    data = _plot._png_bytes(img)
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "r.png")
        with open(p, "wb") as f:
            f.write(data)
        assert (read_png(p) == img).all()


# --------------------------------------------------------------------------- content
def test_every_series_gets_its_palette_colour(tmp_path):
    n = len(PALETTE)
    assert n >= 8 and len(set(PALETTE)) == n
    x = np.logspace(2, 9, 10)
    series = [{"label": f"s{i}", "x": x, "y": np.full(10, 5.0 + 10 * i)} for i in range(n)]
    img = render(tmp_path, series, width=960, height=600)
    layout = {}
    _plot.render_line_plot(series, width=960, height=600, _layout=layout)
    x0, y0, x1, y1 = layout["plot"]
    for i, c in enumerate(PALETTE):
        m = color_mask(img, c)
        # a full-width flat line in the plot area: hundreds of pixels of exactly that colour
        assert m[y0:y1, x0:x1].sum() > 500, f"series {i} colour {c} missing"
    # the colours stay apart: series i sits above series i-1 (rows increase downwards)
    rows = [np.nonzero(color_mask(img, c)[y0:y1, x0 + 5:x1 - 5].any(axis=1))[0] for c in PALETTE]
    centres = [np.median(r) for r in rows]
    assert all(a > b for a, b in zip(centres, centres[1:]))


def test_explicit_color_is_used(tmp_path):
    img = render(tmp_path, [{"label": "roof", "x": [1e3, 1e6], "y": [1, 2], "color": (10, 200, 30)},
                            {"label": "hex", "x": [1e3, 1e6], "y": [3, 4], "color": "#0a0bcc"}])
    assert color_mask(img, (10, 200, 30)).sum() > 200
    assert color_mask(img, (10, 11, 204)).sum() > 200
    assert color_mask(img, PALETTE[0]).sum() == 0


def _longest_run_row(mask):
    """The row of `mask` with the most set pixels, and its set columns."""
    r = int(np.argmax(mask.sum(axis=1)))
    return r, np.nonzero(mask[r])[0]


def test_dashed_series_has_gaps_and_solid_has_none(tmp_path):
    series = [{"label": "solid", "x": [1e3, 1e8], "y": [10, 10], "marker": False},
              {"label": "dashed", "x": [1e3, 1e8], "y": [20, 20], "dashed": True, "marker": False}]
    layout = {}
    img = render(tmp_path, series)
    _plot.render_line_plot(series, _layout=layout)
    x0, y0, x1, y1 = layout["plot"]
    lx0, ly0, lx1, ly1 = layout["legend"]
    img = img.copy()
    img[ly0:ly1 + 1, lx0:lx1 + 1] = 255          # ignore the legend swatches
    for color, dashed in ((PALETTE[0], False), (PALETTE[1], True)):
        m = color_mask(img, color)
        r, cols = _longest_run_row(m)
        assert cols.size > 300
        span = np.arange(cols.min(), cols.max() + 1)
        on = m[r, span]
        runs_off = np.count_nonzero(np.diff(on.astype(np.int8)) == 1)   # off -> on transitions
        if dashed:
            assert (~on).sum() > 0.2 * span.size, "dashed line without gaps"
            assert runs_off >= 10, f"expected many dashes, got {runs_off + 1}"
            # and in the gaps the background (white or grid), not the colour
            gap_pixels = img[r, span[~on]]
            assert (gap_pixels.min(axis=-1) > 200).mean() > 0.5
        else:
            assert on.all(), "solid line with gaps"


def test_markers_at_data_points(tmp_path):
    series = [{"label": "", "x": [1e3, 1e5, 1e7], "y": [10, 10, 10]}]
    layout = {}
    img = render(tmp_path, series)
    _plot.render_line_plot(series, _layout=layout)
    m = color_mask(img, PALETTE[0])
    r, cols = _longest_run_row(m)
    thick = m.sum(axis=0)                        # line ~2 px, markers ~6 px tall
    xs = np.nonzero(thick >= 5)[0]
    groups = np.split(xs, np.nonzero(np.diff(xs) > 1)[0] + 1)
    assert len(groups) == 3
    # evenly spaced on the log axis
    centres = [g.mean() for g in groups]
    assert abs((centres[1] - centres[0]) - (centres[2] - centres[1])) <= 1.5
    assert layout["legend"] is None              # no labelled series, no legend


def test_text_is_drawn(tmp_path):
    plain = render(tmp_path, bench_like(1), "a.png")
    texty = render(tmp_path, bench_like(1), "b.png", title="A TITLE", xlabel="input size (bytes)",
                   ylabel="throughput (GB/s)")
    dark = lambda im: np.count_nonzero((im < 100).all(axis=-1))
    assert dark(texty) > dark(plain) + 300


def test_font_covers_printable_ascii():
    glyphs = _plot._glyphs()
    assert glyphs.shape[0] == 95
    for c in range(33, 127):                     # every printable, non-space glyph has ink
        assert glyphs[c - 32].any(), repr(chr(c))
    assert not glyphs[0].any()
    # distinct glyphs for the characters a benchmark plot needs
    need = "0123456789.,-+x/()%:_= abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    keys = {glyphs[ord(c) - 32].tobytes() for c in need}
    assert len(keys) == len(set(need))
    w, h = _plot._text_size("GB/s", 2)
    assert _plot._text_mask("GB/s", 2).shape == (h, w)


def test_legend_avoids_the_data(tmp_path):
    # rising curves: the upper left is empty
    x = np.logspace(4, 9, 20)
    series = [{"label": f"c{i}", "x": x, "y": (i + 1) * 10 * x / (x + 1e7)} for i in range(3)]
    layout = {}
    _plot.render_line_plot(series, _layout=layout)
    (px0, py0, px1, py1), (lx0, ly0, lx1, ly1) = layout["plot"], layout["legend"]
    assert lx0 - px0 < (px1 - px0) / 2 and ly0 - py0 < (py1 - py0) / 2
    # falling curves: the upper left is taken, the legend goes elsewhere
    series = [{"label": f"c{i}", "x": x, "y": (i + 1) * 10 * 1e7 / (x + 1e7)} for i in range(3)]
    img = _plot.render_line_plot(series, _layout=layout)
    lx0, ly0, lx1, ly1 = layout["legend"]
    assert ly0 - py0 > (py1 - py0) / 2 or lx0 - px0 > (px1 - px0) / 2
    # and it covers no data pixel: outside the legend, as many line pixels as without labels
    nolabel = [dict(s, label="") for s in series]
    bare = _plot.render_line_plot(nolabel)
    for c in PALETTE[:3]:
        inside = np.zeros(bare.shape[:2], bool)
        inside[ly0:ly1 + 1, lx0:lx1 + 1] = True
        assert color_mask(bare, c)[inside].sum() == 0


# --------------------------------------------------------------------------- robustness
EDGE_CASES = {
    "empty": [],
    "single_point": [{"label": "one", "x": [1e5], "y": [3.0]}],
    "all_equal": [{"label": "flat", "x": [1e3, 1e4, 1e5], "y": [7, 7, 7]}],
    "all_zero": [{"label": "zero", "x": [1e3, 1e4], "y": [0, 0]}],
    "none_and_nan": [{"label": "holes", "x": [1e3, 1e4, 1e5, 1e6, None],
                      "y": [1.0, None, float("nan"), 4.0, 5.0]}],
    "all_missing": [{"label": "nothing", "x": [1e3, 1e4], "y": [None, float("nan")]}],
    "no_points": [{"label": "nothing", "x": [], "y": []}],
    "wide_x": [{"label": "w", "x": np.logspace(2, 9, 30), "y": np.linspace(0, 100, 30)}],
    "nonpositive_x_on_log": [{"label": "bad x", "x": [0, -1, 1e3, 1e4], "y": [1, 2, 3, 4]}],
    "inf": [{"label": "inf", "x": [1e3, 1e4, 1e5], "y": [1, math.inf, 3]}],
    "huge_y": [{"label": "h", "x": [1e3, 1e4], "y": [1e12, 3e12]}],
    "tiny_y": [{"label": "t", "x": [1e3, 1e4], "y": [1e-9, 3e-9]}],
    "negative_y": [{"label": "n", "x": [1e3, 1e4, 1e5], "y": [-3, 2, -1]}],
    "unicode_label": [{"label": "\u00b5s \u00d7 2 \u2013 caf\u00e9 \u2603", "x": [1e3, 1e4], "y": [1, 2]}],
    "twelve_series": [{"label": f"s{i}", "x": [1e3, 1e6], "y": [i, i + 1], "dashed": i % 2 == 1}
                      for i in range(12)],
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_make_valid_pngs(tmp_path, name):
    img = render(tmp_path, EDGE_CASES[name], title=name, xlabel="x", ylabel="y")
    assert img.shape == (600, 960, 3)
    assert np.count_nonzero((img < 128).all(axis=-1)) > 500   # at least axes and labels


@pytest.mark.parametrize("kw", [dict(log_x=False), dict(log_y=True), dict(log_x=False, log_y=True),
                                dict(width=200, height=150, title="a title far too long for it"),
                                dict(width=1600, height=1000)])
def test_axis_modes_and_sizes(tmp_path, kw):
    series = [{"label": "a", "x": [1, 10, 100, 1000], "y": [0.5, 5, 0, 50]},
              {"label": "b", "x": [2, 20, 200], "y": [1, 2, 3], "dashed": True}]
    img = render(tmp_path, series, **kw)
    assert img.shape == (kw.get("height", 600), kw.get("width", 960), 3)
    assert color_mask(img, PALETTE[0]).sum() > 20 and color_mask(img, PALETTE[1]).sum() > 20


def test_bad_input_raises_clearly(tmp_path):
    with pytest.raises(ValueError, match="points"):
        line_plot_png(tmp_path / "x.png", [{"label": "a", "x": [1, 2], "y": [1]}])
    with pytest.raises(TypeError):
        line_plot_png(tmp_path / "x.png", [[1, 2, 3]])
    with pytest.raises(ValueError, match="at least"):
        line_plot_png(tmp_path / "x.png", [], width=50, height=50)


def test_log_x_ticks_at_powers_of_ten(tmp_path):
    series = [{"label": "", "x": [1e4, 1e9], "y": [1, 2]}]
    layout = {}
    img = _plot.render_line_plot(series, _layout=layout)
    x0, y0, x1, y1 = layout["plot"]
    # major tick marks hang below the frame: 6 decades, 10^4 .. 10^9, evenly spaced
    below = (img[y1 + 4, x0:x1 + 1] < 128).all(axis=-1)
    cols = np.nonzero(below)[0]
    assert cols.size == 6
    gaps = np.diff(cols)
    assert gaps.max() - gaps.min() <= 1


def test_linear_y_ticks_start_at_zero_with_nice_steps():
    ax = _plot._Axis([3.2, 38.7], False, 500, 100, 8, from_zero=True)
    values = [v for v, _ in ax.major]
    labels = [lab for _, lab in ax.major]
    assert values[0] == 0 and ax.lo == 0 and ax.hi >= 38.7
    steps = np.diff(values)
    assert np.allclose(steps, steps[0]) and steps[0] in (1, 2, 2.5, 5, 10, 20)
    assert labels[:3] == ["0", "5", "10"]
    assert _plot._fmt_number(0.25, 0.25) == "0.25" and _plot._fmt_number(2.5, 2.5) == "2.5"


def test_fast_enough(tmp_path):
    rng = np.random.default_rng(0)
    x = np.logspace(2, 9, 20)
    series = [{"label": f"contender {i}", "x": x, "y": rng.uniform(0, 100, 20), "dashed": i % 3 == 0}
              for i in range(10)]
    line_plot_png(tmp_path / "warm.png", series[:1])
    t = time.perf_counter()
    line_plot_png(tmp_path / "f.png", series, title="speed", xlabel="bytes", ylabel="GB/s")
    assert time.perf_counter() - t < 0.5
