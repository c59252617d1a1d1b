"""A small PNG line plotter on NumPy alone (no matplotlib, no PIL).

``fastinfo bench`` draws throughput against input size with it, so that a
plain ``pip install .`` is enough to get the picture. It draws on a uint8 RGB
canvas: antialiased ~2-px lines (distance-to-segment coverage), round markers,
optional dashes, log or linear axes with ticks, tick labels and a light grid,
a legend placed where it covers the fewest data pixels, a title and axis
labels in an embedded 5x7 bitmap font (printable ASCII 32..126, drawn x2),
and writes the canvas as an 8-bit RGB PNG with ``zlib``.

>>> line_plot_png("/tmp/bench.png", [                               # doctest: +SKIP
...     {"label": "fastinfo", "x": [1e4, 1e6, 1e8], "y": [3.0, 21.5, 30.2]},
...     {"label": "roofline", "x": [1e4, 1e6, 1e8], "y": [5.0, 35.0, 38.0], "dashed": True},
... ], title="entropy, float64", xlabel="input size (bytes)", ylabel="GB/s")

This module imports nothing from the rest of the package.
"""

import functools
import math
import os
import struct
import zlib

import numpy as np

__all__ = ["line_plot_png", "render_line_plot", "PALETTE"]

# ----------------------------------------------------------------------------- font
# Classic 5x7 LCD font, printable ASCII 32..126: 5 column bytes per glyph, bit 0
# is the top row. Lower case keeps its descenders inside the 7 rows.
_FONT_HEX = (
    "0000000000" "00005f0000" "0007000700" "147f147f14" "242a7f2a12" "2313086462"  # space ! " # $ %
    "3649552250" "0005030000" "001c224100" "0041221c00" "082a1c2a08" "08083e0808"  # & ' ( ) * +
    "0050300000" "0808080808" "0060600000" "2010080402"                            # , - . /
    "3e5149453e" "00427f4000" "4261514946" "2141454b31" "1814127f10" "2745454539"  # 0-5
    "3c4a494930" "0171090503" "3649494936" "064949291e"                            # 6-9
    "0036360000" "0056360000" "0008142241" "1414141414" "4122140800" "0201510906"  # : ; < = > ?
    "324979413e"                                                                   # @
    "7e1111117e" "7f49494936" "3e41414122" "7f4141221c" "7f49494941" "7f09090101"  # A-F
    "3e41415132" "7f0808087f" "00417f4100" "2040413f01" "7f08142241" "7f40404040"  # G-L
    "7f0204027f" "7f0408107f" "3e4141413e" "7f09090906" "3e4151215e" "7f09192946"  # M-R
    "4649494931" "01017f0101" "3f4040403f" "1f2040201f" "7f2018207f" "6314081463"  # S-X
    "0304780403" "6151494543"                                                      # Y Z
    "00007f4141" "0204081020" "41417f0000" "0402010204" "4040404040" "0001020400"  # [ \ ] ^ _ `
    "2054545478" "7f48444438" "3844444420" "384444487f" "3854545418" "087e090102"  # a-f
    "081454543c" "7f08040478" "00447d4000" "2040443d00" "007f102844" "00417f4000"  # g-l
    "7c04180478" "7c08040478" "3844444438" "7c14141408" "081414187c" "7c08040408"  # m-r
    "4854545420" "043f444020" "3c4040207c" "1c2040201c" "3c4030403c" "4428102844"  # s-x
    "0c5050503c" "4464544c44"                                                      # y z
    "0008364100" "00007f0000" "0041360800" "0804081008"                            # { | } ~
)
# g j p q y redrawn with real descenders in two extra rows (9-bit columns).
_DESCENDERS = {"g": "038 144 144 144 0fc", "j": "080 100 104 0fd 000", "p": "1fc 044 044 044 038",
               "q": "038 044 044 044 1fc", "y": "03c 140 140 140 0fc"}
_GLYPH_W, _GLYPH_H, _ADVANCE = 5, 9, 6     # cell: caps in rows 0..6, descenders in 7..8
_CAP_H = 7
_SUBSTITUTES = {"\u00d7": "x", "\u00b5": "u", "\u03bc": "u", "\u2013": "-", "\u2014": "-",
                "\u2212": "-", "\u2019": "'", "\u00b7": "."}


@functools.lru_cache(maxsize=1)
def _glyphs():
    """(95, 9, 5) bool array: the glyph of chr(32 + i)."""
    cols = np.frombuffer(bytes.fromhex(_FONT_HEX), dtype=np.uint8).reshape(95, _GLYPH_W).astype(np.uint16)
    for ch, hexcols in _DESCENDERS.items():
        cols[ord(ch) - 32] = [int(c, 16) for c in hexcols.split()]
    rows = np.arange(_GLYPH_H, dtype=np.uint16)
    return ((cols[:, None, :] >> rows[None, :, None]) & 1).astype(bool)


@functools.lru_cache(maxsize=512)
def _text_mask(text, scale=2):
    """Bool mask (rows, cols) of `text` drawn at integer `scale`."""
    glyphs = _glyphs()
    n = len(text)
    if n == 0:
        return np.zeros((_GLYPH_H * scale, 0), dtype=bool)
    mask = np.zeros((_GLYPH_H, n * _ADVANCE - 1), dtype=bool)
    for i, ch in enumerate(text):
        ch = _SUBSTITUTES.get(ch, ch)
        code = ord(ch) - 32 if len(ch) == 1 else 31
        if not 0 <= code < 95:
            code = ord("?") - 32
        mask[:, i * _ADVANCE:i * _ADVANCE + _GLYPH_W] = glyphs[code]
    if scale != 1:
        mask = mask.repeat(scale, axis=0).repeat(scale, axis=1)
    return mask


def _text_size(text, scale=2):
    """(width, height) in pixels of `text` drawn at `scale`."""
    return (max(len(text) * _ADVANCE - 1, 0) * scale, _GLYPH_H * scale)


def _blit(canvas, mask, x, y, color):
    """Paint `color` where `mask` is set, its top-left corner at (x, y); clipped."""
    h, w = mask.shape
    H, W = canvas.shape[:2]
    x0, y0 = max(int(x), 0), max(int(y), 0)
    x1, y1 = min(int(x) + w, W), min(int(y) + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    sub = mask[y0 - int(y):y1 - int(y), x0 - int(x):x1 - int(x)]
    canvas[y0:y1, x0:x1][sub] = color


def _draw_text(canvas, text, x, y, color, scale=2, anchor="lt", bold=False):
    """Draw `text`; `anchor` is two letters: l/c/r horizontally, t/m/b vertically."""
    mask = _text_mask(str(text), scale)
    h, w = mask.shape
    x = x - {"l": 0, "c": w // 2, "r": w}[anchor[0]]
    y = y - {"t": 0, "m": h // 2, "b": h}[anchor[1]]
    _blit(canvas, mask, x, y, color)
    if bold:
        _blit(canvas, mask, x + 1, y, color)


# ----------------------------------------------------------------------------- colours
def _rgb(hexstr):
    return tuple(int(hexstr[i:i + 2], 16) for i in (1, 3, 5))


#: Series colours, in order (matplotlib's tab10 without its grey, which would
#: read as part of the axes).
PALETTE = tuple(_rgb(c) for c in ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#bcbd22", "#17becf"))
_WHITE = (255, 255, 255)
_TEXT = (34, 34, 34)
_AXIS = (64, 64, 64)
_GRID = (226, 226, 226)
_LEGEND_EDGE = (190, 190, 190)

_LINE_HALF_WIDTH = 1.05   # ~2.1-px lines
_MARKER_RADIUS = 3.2
_DASH_ON, _DASH_OFF = 11.0, 7.0


# ----------------------------------------------------------------------------- rasterizing
def _stroke_segment(cov, ax, ay, bx, by, hw, dash_offset=None):
    """max-accumulate into `cov` the antialiased coverage of a round-capped segment
    of half-width `hw` from (ax, ay) to (bx, by) (pixel centres at integer
    coordinates). With `dash_offset` (arc length at a), dash it."""
    H, W = cov.shape
    pad = hw + 1.5
    x0, x1 = max(int(math.floor(min(ax, bx) - pad)), 0), min(int(math.ceil(max(ax, bx) + pad)) + 1, W)
    y0, y1 = max(int(math.floor(min(ay, by) - pad)), 0), min(int(math.ceil(max(ay, by) + pad)) + 1, H)
    if x1 <= x0 or y1 <= y0:
        return
    px = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(ax)
    py = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(ay)
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 > 1e-12:
        t = np.clip((px * np.float32(dx / length2) + py * np.float32(dy / length2)), 0.0, 1.0)
        ex = px - t * np.float32(dx)
        ey = py - t * np.float32(dy)
    else:
        t = None
        ex, ey = px, py
    alpha = np.clip(np.float32(hw + 0.5) - np.sqrt(ex * ex + ey * ey), 0.0, 1.0)
    if dash_offset is not None and t is not None:
        s = np.float32(dash_offset) + t * np.float32(math.sqrt(length2))
        alpha = alpha * (np.mod(s, np.float32(_DASH_ON + _DASH_OFF)) < np.float32(_DASH_ON))
    region = cov[y0:y1, x0:x1]
    np.maximum(region, alpha, out=region)


def _fill_disk(cov, cx, cy, r):
    _stroke_segment(cov, cx, cy, cx, cy, r)


def _stroke_polyline(cov, xs, ys, hw, dashed):
    """Stroke consecutive points; NaN coordinates break the line."""
    arc = 0.0
    for i in range(len(xs) - 1):
        ax, ay, bx, by = xs[i], ys[i], xs[i + 1], ys[i + 1]
        if not (math.isfinite(ax) and math.isfinite(ay) and math.isfinite(bx) and math.isfinite(by)):
            arc = 0.0
            continue
        _stroke_segment(cov, ax, ay, bx, by, hw, arc if dashed else None)
        arc += math.hypot(bx - ax, by - ay)


def _blend(canvas, cov, color, x0=0, y0=0):
    """Blend `color` onto `canvas` with coverage `cov` placed at (x0, y0)."""
    ys, xs = np.nonzero(cov > 0.0)
    if ys.size == 0:
        return
    a = cov[ys, xs][:, None]
    ys = ys + y0
    xs = xs + x0
    cur = canvas[ys, xs].astype(np.float32)
    col = np.asarray(color, dtype=np.float32)[None, :]
    canvas[ys, xs] = np.rint(cur + (col - cur) * a).astype(np.uint8)


def _hline(canvas, y, x0, x1, color):
    H, W = canvas.shape[:2]
    if 0 <= y < H:
        canvas[y, max(x0, 0):min(x1 + 1, W)] = color


def _vline(canvas, x, y0, y1, color):
    H, W = canvas.shape[:2]
    if 0 <= x < W:
        canvas[max(y0, 0):min(y1 + 1, H), x] = color


def _rect(canvas, x0, y0, x1, y1, edge, fill=None):
    if fill is not None:
        canvas[max(y0, 0):max(y1 + 1, 0), max(x0, 0):max(x1 + 1, 0)] = fill
    _hline(canvas, y0, x0, x1, edge)
    _hline(canvas, y1, x0, x1, edge)
    _vline(canvas, x0, y0, y1, edge)
    _vline(canvas, x1, y0, y1, edge)


# ----------------------------------------------------------------------------- axes
def _fmt_number(v, step):
    """Tick label of value `v` on a linear axis of tick spacing `step`."""
    if v == 0:
        return "0"
    if abs(v) >= 1e7 or abs(step) < 1e-5:
        return f"{v:.4g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")
    decimals = max(0, -int(math.floor(math.log10(step) + 1e-9)))
    if abs(step / 10.0 ** -decimals - round(step / 10.0 ** -decimals)) > 1e-6:
        decimals += 1     # steps like 2.5 or 0.25
    return f"{v:.{decimals}f}"


def _fmt_log_minor(v):
    """Label of a 2x or 5x tick on a log axis: "20", "500", "5e4", "2e-4"."""
    if 1e-3 <= v < 1e4:
        return f"{v:.4g}"
    k = int(math.floor(math.log10(v) + 1e-9))
    return f"{round(v / 10.0 ** k)}e{k}"


def _nice_linear(lo, hi, max_ticks):
    """(axis_lo, axis_hi, ticks) with ticks at a 1/2/2.5/5 x 10^k step covering [lo, hi]."""
    max_ticks = max(int(max_ticks), 2)
    span = hi - lo
    if not span > 0:
        span = abs(hi) if hi else 1.0
        hi = lo + span
    raw = span / max_ticks
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = m * mag
        if span / step <= max_ticks:
            break
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    if last <= first:
        last = first + 1
    ticks = [k * step for k in range(first, last + 1)]
    return first * step, last * step, ticks, step


class _Axis:
    """Maps data values to pixels and knows its ticks and their labels."""

    def __init__(self, values, log, lo_px, hi_px, max_ticks, from_zero):
        self.log = log
        vals = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
        if log:
            if vals:
                lo, hi = math.log10(min(vals)), math.log10(max(vals))
            else:
                lo, hi = 0.0, 1.0
            if hi - lo < 1e-9:
                lo, hi = lo - 0.5, hi + 0.5
            pad = 0.035 * (hi - lo)
            self.lo, self.hi = lo - pad, hi + pad
            self._log_ticks()
        else:
            if vals:
                lo, hi = min(vals), max(vals)
            else:
                lo, hi = 0.0, 1.0
            if from_zero:
                lo = min(lo, 0.0)
                hi = max(hi, 0.0)
            if hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1e-300):
                if hi == 0.0:      # all zero: a plain [0, 1] (or [-1, 1])
                    lo, hi = (0.0, 1.0) if from_zero else (-1.0, 1.0)
                    vals = []
                else:
                    lo, hi = (min(0.0, lo), max(0.0, hi)) if from_zero else (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1)
                    if hi - lo <= 0:
                        lo, hi = lo - 1.0, hi + 1.0
            span = hi - lo
            if not vals:           # nothing to show, or all zero: no margin
                hi_pad, lo_pad = hi, lo
            else:
                hi_pad = hi + 0.03 * span if hi > 0 or not from_zero else hi
                lo_pad = lo - 0.03 * span if lo < 0 or not from_zero else lo
            if from_zero:          # the y axis: rounded out to whole ticks
                self.lo, self.hi, ticks, step = _nice_linear(lo_pad, hi_pad, max_ticks)
            else:                  # the x axis: the data (plus a margin), ticks inside it
                _, _, ticks, step = _nice_linear(lo_pad, hi_pad, max_ticks)
                self.lo, self.hi = lo_pad, hi_pad
                ticks = [t for t in ticks if lo_pad - 1e-9 * span <= t <= hi_pad + 1e-9 * span]
            self.major = [(t, _fmt_number(t, step)) for t in ticks]
            self.minor = []
        self.lo_px, self.hi_px = float(lo_px), float(hi_px)

    def _log_ticks(self):
        k0, k1 = math.ceil(self.lo - 1e-9), math.floor(self.hi + 1e-9)
        decades = list(range(k0, k1 + 1))
        self.major = [(10.0 ** k, ("10", str(k))) for k in decades]
        self.minor = []
        for k in range(int(math.floor(self.lo)), int(math.ceil(self.hi)) + 1):
            for m in range(2, 10):
                lv = k + math.log10(m)
                if self.lo <= lv <= self.hi:
                    self.minor.append(10.0 ** lv)
        if len(decades) < 2:   # less than a decade in view: label 2x and 5x too
            extra = [v for v in self.minor if round(v / 10.0 ** math.floor(math.log10(v) + 1e-9)) in (2, 5)]
            self.major = sorted(self.major + [(v, _fmt_log_minor(v)) for v in extra], key=lambda t: t[0])
            self.minor = [v for v in self.minor if v not in extra]

    def to_px(self, v):
        """Pixel coordinate(s) of data value(s) `v` (NaN where not drawable)."""
        v = np.asarray(v, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.log:
                v = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
            f = (v - self.lo) / (self.hi - self.lo)
        return self.lo_px + f * (self.hi_px - self.lo_px)


def _label_mask(label, scale=2):
    """Bool mask of a tick label: a string, or ("10", exponent) for a power of ten."""
    if isinstance(label, str):
        return _text_mask(label, scale)
    base, exp = label
    bm = _text_mask(base, scale)
    if scale == 2:   # a 1.5x exponent: rows and columns repeated 2, 1, 2, 1, ...
        em = _text_mask(exp, 1)
        em = em.repeat((np.arange(em.shape[0]) % 2 == 0) + 1, axis=0)
        em = em.repeat((np.arange(em.shape[1]) % 2 == 0) + 1, axis=1)
    else:
        em = _text_mask(exp, max(scale - 1, 1))
    rise = (_CAP_H * em.shape[0] // _GLYPH_H) // 2     # the exponent's middle at the base's top
    h = max(bm.shape[0] + rise, em.shape[0])
    w = bm.shape[1] + scale + em.shape[1]
    out = np.zeros((h, w), dtype=bool)
    out[h - bm.shape[0]:, :bm.shape[1]] = bm
    out[:em.shape[0], bm.shape[1] + scale:] = em
    return out


# ----------------------------------------------------------------------------- PNG
def _png_bytes(img):
    """Encode an (h, w, 3) uint8 array as an 8-bit RGB PNG (filter 0 on every row)."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w, c = img.shape
    if c != 3:
        raise ValueError("expected an RGB image")
    raw = np.zeros((h, 1 + 3 * w), dtype=np.uint8)
    raw[:, 1:] = img.reshape(h, 3 * w)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


# ----------------------------------------------------------------------------- the plot
def _clean_series(series, log_x, log_y):
    """Validate `series`; return [(label, xs, ys, dashed, marker, color)] with
    undrawable points (None, NaN, inf, <= 0 on a log axis) as NaN in both arrays."""
    if series is None:
        series = []
    out = []
    for i, s in enumerate(series):
        if not isinstance(s, dict):
            raise TypeError(f"series[{i}] must be a dict with 'label', 'x' and 'y', not {type(s).__name__}")
        xs = [np.nan if v is None else float(v) for v in s.get("x", ())]
        ys = [np.nan if v is None else float(v) for v in s.get("y", ())]
        if len(xs) != len(ys):
            raise ValueError(f"series[{i}] ({s.get('label', '')!r}): x has {len(xs)} points, y has {len(ys)}")
        x = np.array(xs, dtype=np.float64)
        y = np.array(ys, dtype=np.float64)
        bad = ~(np.isfinite(x) & np.isfinite(y))
        if log_x:
            bad |= ~(x > 0)
        if log_y:
            bad |= ~(y > 0)
        x[bad] = np.nan
        y[bad] = np.nan
        color = s.get("color")
        color = PALETTE[i % len(PALETTE)] if color is None else (
            _rgb(color) if isinstance(color, str) else tuple(int(c) for c in color[:3]))
        out.append((str(s.get("label", "") or ""), x, y, bool(s.get("dashed", False)),
                    bool(s.get("marker", True)), color))
    return out


def _legend_entries_size(entries, scale=2):
    gap = 3 * scale
    line_h = _GLYPH_H * scale + gap
    label_w = max(_text_size(lab, scale)[0] for lab, _, _, _ in entries)
    w = 10 + 34 + 8 + label_w + 10
    h = 8 + line_h * len(entries) - gap + 6
    return w, h, line_h


def render_line_plot(series, *, title="", xlabel="", ylabel="", log_x=True, log_y=False,
                     width=960, height=600, _layout=None):
    """Draw the plot of :func:`line_plot_png` and return it as an (height, width, 3) uint8 array.

    If `_layout` is a dict it receives the plot rectangle ("plot": (x0, y0, x1, y1))
    and the legend box ("legend": (x0, y0, x1, y1) or None), in pixels.
    """
    width, height = int(width), int(height)
    if width < 200 or height < 150:
        raise ValueError(f"the plot must be at least 200x150 pixels, not {width}x{height}")
    data = _clean_series(series, log_x, log_y)
    title, xlabel, ylabel = str(title or ""), str(xlabel or ""), str(ylabel or "")
    S = 2                                   # text scale
    th = _GLYPH_H * S                       # text height
    cap_mid = _CAP_H * S // 2               # from the top of a line of text to the middle of its capitals
    tick, minor_tick = 6, 3

    all_x = np.concatenate([d[1] for d in data]) if data else np.empty(0)
    all_y = np.concatenate([d[2] for d in data]) if data else np.empty(0)
    all_x, all_y = all_x[np.isfinite(all_x)], all_y[np.isfinite(all_y)]

    # ---- layout: margins from the text they hold
    top = 12 + (th + 14 if title else 6)
    xlab_h_max = _label_mask(("10", "-8"), S).shape[0] if log_x else th
    bottom = 8 + tick + 5 + xlab_h_max + (th + 10 if xlabel else 0) + 6
    approx_plot_h = height - top - bottom
    yaxis = _Axis(all_y.tolist(), log_y, 0, 1, max(2, min(10, approx_plot_h // (th + 26))), from_zero=True)
    ylabels = [_label_mask(lab, S) for _, lab in yaxis.major]
    ytick_w = max((m.shape[1] for m in ylabels), default=0)
    left = 10 + (th + 12 if ylabel else 0) + ytick_w + 6 + tick
    right = 24
    x0, x1 = left, width - 1 - right
    y0, y1 = top, height - 1 - bottom
    if x1 - x0 < 40 or y1 - y0 < 40:
        raise ValueError(f"{width}x{height} pixels leave no room for the plot area")
    yaxis.lo_px, yaxis.hi_px = float(y1), float(y0)
    xaxis = _Axis(all_x.tolist(), log_x, x0, x1, max(2, min(12, (x1 - x0) // 90)), from_zero=False)

    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = _WHITE

    # ---- grid (under the data)
    xt = [(int(round(float(xaxis.to_px(v)))), lab) for v, lab in xaxis.major]
    yt = [(int(round(float(yaxis.to_px(v)))), lab) for v, lab in yaxis.major]
    xt = [(p, lab) for p, lab in xt if x0 <= p <= x1]
    yt = [(p, lab) for p, lab in yt if y0 <= p <= y1]
    for p, _ in xt:
        _vline(canvas, p, y0, y1, _GRID)
    for p, _ in yt:
        _hline(canvas, p, x0, x1, _GRID)

    # ---- data, clipped to the plot area
    pw, ph = x1 - x0 - 1, y1 - y0 - 1      # interior, inside the frame
    ink = np.zeros((ph, pw), dtype=bool)
    for label, xs, ys, dashed, marker, color in data:
        px = xaxis.to_px(xs) - (x0 + 1)
        py = yaxis.to_px(ys) - (y0 + 1)
        cov = np.zeros((ph, pw), dtype=np.float32)
        _stroke_polyline(cov, px.tolist(), py.tolist(), _LINE_HALF_WIDTH, dashed)
        if marker:
            for cx, cy in zip(px.tolist(), py.tolist()):
                if math.isfinite(cx) and math.isfinite(cy):
                    _fill_disk(cov, cx, cy, _MARKER_RADIUS)
        _blend(canvas, cov, color, x0 + 1, y0 + 1)
        ink |= cov > 0.2

    # ---- frame, ticks, tick labels
    _rect(canvas, x0, y0, x1, y1, _AXIS)
    for v in xaxis.minor:
        p = int(round(float(xaxis.to_px(v))))
        if x0 <= p <= x1:
            _vline(canvas, p, y1, y1 + minor_tick, _AXIS)
    for v in yaxis.minor:
        p = int(round(float(yaxis.to_px(v))))
        if y0 <= p <= y1:
            _hline(canvas, p, x0 - minor_tick, x0, _AXIS)
    # x labels: thin them out if they would collide
    xmasks = [_label_mask(lab, S) for _, lab in xt]
    xlab_h = max((m.shape[0] for m in xmasks), default=th)
    if xt:
        widest = max(m.shape[1] for m in xmasks)
        gaps = [b[0] - a[0] for a, b in zip(xt, xt[1:])]
        every = 1
        if gaps:
            while every < len(xt) and min(gaps) * every < widest + 10:
                every += 1
        for i, ((p, _), m) in enumerate(zip(xt, xmasks)):
            _vline(canvas, p, y1, y1 + tick, _AXIS)
            if i % every == 0:
                lx = min(max(p - m.shape[1] // 2, 0), width - m.shape[1])
                _blit(canvas, m, lx, y1 + tick + 5 + xlab_h - m.shape[0], _TEXT)   # bottoms aligned
    for p, lab in yt:
        _hline(canvas, p, x0 - tick, x0, _AXIS)
        m = _label_mask(lab, S)
        _blit(canvas, m, x0 - tick - 5 - m.shape[1], p - cap_mid - (m.shape[0] - th), _TEXT)

    # ---- axis labels and title
    if xlabel:
        _draw_text(canvas, xlabel, (x0 + x1) // 2, y1 + tick + 5 + xlab_h + 10, _TEXT, S, "ct")
    if ylabel:
        m = np.rot90(_text_mask(ylabel, S))          # reads bottom to top
        _blit(canvas, m, 10, (y0 + y1) // 2 - m.shape[0] // 2, _TEXT)
    if title:
        tw = _text_size(title, S)[0]
        if tw + 1 <= x1 - x0:
            _draw_text(canvas, title, (x0 + x1) // 2, 12, _TEXT, S, "ct", bold=True)
        else:              # too wide: from the left edge (its end is cut off)
            _draw_text(canvas, title, max((width - tw - 1) // 2, 4), 12, _TEXT, S, "lt", bold=True)

    # ---- legend: the candidate spot that covers the fewest data pixels
    entries = [(label, dashed, marker, color) for label, _, _, dashed, marker, color in data if label]
    legend_box = None
    if entries:
        lw, lh, line_h = _legend_entries_size(entries, S)
        m = 10
        xs_c = {"l": m, "c": (pw - lw) // 2, "r": pw - lw - m}
        ys_c = {"t": m, "m": (ph - lh) // 2, "b": ph - lh - m}
        order = ("lt", "rt", "rb", "lb", "ct", "cb", "lm", "rm")
        best = None
        for key in order:
            bx, by = xs_c[key[0]], ys_c[key[1]]
            if bx < 0 or by < 0:
                continue
            score = int(ink[max(by - 4, 0):by + lh + 4, max(bx - 4, 0):bx + lw + 4].sum())
            if best is None or score < best[0]:
                best = (score, bx, by)
            if score == 0:
                break
        bx, by = (best[1], best[2]) if best else (m, m)
        bx, by = bx + x0 + 1, by + y0 + 1
        legend_box = (bx, by, bx + lw - 1, by + lh - 1)
        _rect(canvas, *legend_box, _LEGEND_EDGE, fill=_WHITE)
        for i, (label, dashed, marker, color) in enumerate(entries):
            cy = by + 8 + i * line_h + cap_mid
            sx0, sx1 = bx + 10, bx + 10 + 34
            cov = np.zeros((line_h, 34 + 8), dtype=np.float32)
            oy = cy - line_h // 2
            _stroke_segment(cov, 4.0, cy - oy, 4.0 + 33.0, cy - oy, _LINE_HALF_WIDTH, 0.0 if dashed else None)
            if marker:
                _fill_disk(cov, 4.0 + 16.5, cy - oy, _MARKER_RADIUS)
            _blend(canvas, cov, color, sx0 - 4, oy)
            _draw_text(canvas, label, sx1 + 8, cy - cap_mid, _TEXT, S, "lt")

    if isinstance(_layout, dict):
        _layout["plot"] = (x0, y0, x1, y1)
        _layout["legend"] = legend_box
    return canvas


def line_plot_png(path, series, *, title="", xlabel="", ylabel="", log_x=True, log_y=False,
                  width=960, height=600):
    """Write a line plot as an 8-bit RGB PNG to `path` and return `path`.

    series: list of dicts {"label": str, "x": sequence of positive floats,
    "y": sequence of floats, "dashed": bool (default False)}. Optional keys:
    "color" (an (r, g, b) tuple or "#rrggbb"; default: the next colour of
    :data:`PALETTE`, by the series' position) and "marker" (bool, default True:
    a dot at every data point). Points whose x or y is None, NaN, infinite or,
    on a log axis, <= 0 are skipped, and the line is broken there. Points are
    joined in the order given. A series with an empty label gets no legend
    entry. The linear y axis starts at 0 (or below, for negative data); the
    log x axis has ticks and labels at powers of ten.
    """
    img = render_line_plot(series, title=title, xlabel=xlabel, ylabel=ylabel, log_x=log_x,
                           log_y=log_y, width=width, height=height)
    data = _png_bytes(img)
    with open(os.fspath(path), "wb") as f:
        f.write(data)
    return path
