"""What every figure shares: one colour per backbone, legends outside the data, integer ticks on
discrete axes, and point labels placed where they cover no marker and no other label.

A backbone's colour depends on its name alone, so it is the same in every figure and every report.
Families share a hue, as the Beyond-Alignment paper colours Fig. 1 by model family; members differ
in shade: the paper's 18 backbones have fixed, well-separated shades, any other member of a known
family a shade drawn from a hash of its name, and a backbone of an unknown family a hue and shade
from that hash (distinct from the families' hues, but two such names can come out close).
"""

from __future__ import annotations

import zlib

import numpy as np
from matplotlib import colormaps
from matplotlib import colors as mcolors
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

HUMAN = "black"
FAMILIES = {  # family: (name prefixes, base colour)
    "OpenAI": (("gpt", "chatgpt", "o1", "o3", "o4"), "#2e8b3a"),
    "Anthropic": (("claude",), "#e8730c"),
    "Google": (("gemini", "gemma"), "#1f6fc0"),
    "xAI": (("grok",), "#6b6b6b"),
    "Qwen": (("qwen", "qwq"), "#7b3fb5"),
    "Meta": (("llama", "meta-llama"), "#d62728"),
}
OTHER_HUES = ("#8c564b", "#b5b800", "#17becf", "#e377c2", "#00897b", "#c9a227", "#1a237e", "#880e4f")
PAPER_SHADES = {  # the paper's 18 backbones: darkest to lightest within each family
    name: shade
    for names in (
        ("gpt-5.4", "gpt-5-mini", "gpt-4o-mini"),
        ("claude-opus-4.7", "claude-sonnet-4.5", "claude-3.5-haiku"),
        ("gemini-3.1-flash-lite-preview", "gemini-3-flash-preview", "gemini-2.5-pro"),
        ("grok-4.3", "grok-4", "grok-3"),
        ("Qwen3.5-27B", "Qwen3-32B", "Qwen2.5-32B-Instruct"),
        ("llama-4-scout", "llama-3.3-70b-instruct", "llama-3.1-70b-instruct"),
    )
    for name, shade in zip(names, (-0.4, 0.0, 0.45))
}
_TAB20 = colormaps["tab20"].colors
CATEGORICAL = tuple(mcolors.to_hex(c) for c in _TAB20[::2] + _TAB20[1::2])  # for series that are not backbones


def series_color(n: int) -> str:
    """The n-th colour for series that are not backbones (20 before they repeat)."""
    return CATEGORICAL[n % len(CATEGORICAL)]


def _shade(color: str, t: float) -> str:
    """``color`` mixed with black (t < 0) or white (t > 0) by |t|."""
    rgb = np.array(mcolors.to_rgb(color))
    return mcolors.to_hex(rgb * (1 + t) if t < 0 else rgb + (1 - rgb) * t)


def _hash(name: str) -> float:
    """A stable number in [0, 1) from a name (not Python's salted hash)."""
    return zlib.crc32(name.encode()) / 2**32


def family(backbone: str) -> str | None:
    base = backbone.rsplit("/", 1)[-1].lower()
    return next((f for f, (prefixes, _) in FAMILIES.items() if base.startswith(prefixes)), None)


def backbone_color(label: str) -> str:
    """The colour of a backbone, or of a system named ``backbone [mode]`` (probs: a lighter shade)."""
    backbone, _, mode = label.partition(" [")
    fam = family(backbone)
    if backbone in PAPER_SHADES:
        color = _shade(FAMILIES[fam][1], PAPER_SHADES[backbone])
    elif fam:
        color = _shade(FAMILIES[fam][1], 0.9 * _hash(backbone) - 0.45)
    else:
        h = _hash(backbone)
        color = _shade(OTHER_HUES[int(h * len(OTHER_HUES))], 0.6 * (h * len(OTHER_HUES) % 1) - 0.3)
    return _shade(color, 0.35) if mode.startswith("probs") else color


def by_family(labels) -> list[str]:
    """Backbones (or systems named ``backbone [mode]``) family by family in the paper's order, then by
    name: the order in which figures draw them, so legends read family by family."""
    order = list(FAMILIES)
    paper = list(PAPER_SHADES)

    def key(label: str):
        backbone = label.partition(" [")[0]
        fam = family(backbone)
        return (order.index(fam) if fam else len(order), paper.index(backbone) if backbone in paper else 99, label)

    return sorted(labels, key=key)


def family_handles(labels) -> list:
    """Legend entries, one per model family present among ``labels`` (in its base colour)."""
    present = {family(label.partition(" [")[0]) for label in labels}
    return [Line2D([], [], ls="", marker="o", color=c, label=f) for f, (_, c) in FAMILIES.items() if f in present]


def legend_outside(ax, **kw):
    """A legend to the right of the axes, outside the data area."""
    kw = {"fontsize": 8, "frameon": False, "loc": "upper left", "bbox_to_anchor": (1.02, 1.0), **kw}
    return ax.legend(borderaxespad=0, **kw)


def integer_ticks(axis) -> None:
    """Only whole numbers on a discrete axis (rounds, k, agent count)."""
    axis.set_major_locator(MaxNLocator(integer=True))


def _marker_box(x: float, y: float, radius: float) -> Bbox:
    return Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)


ANGLES = np.deg2rad([0, 180, 30, -30, 150, -150, 60, -60, 120, -120, 90, -90])


def _gap(box: Bbox, points: np.ndarray) -> np.ndarray:
    """Distance from a box to each point (0 inside)."""
    dx = np.maximum.reduce([box.x0 - points[:, 0], np.zeros(len(points)), points[:, 0] - box.x1])
    dy = np.maximum.reduce([box.y0 - points[:, 1], np.zeros(len(points)), points[:, 1] - box.y1])
    return np.hypot(dx, dy)


def place_labels(ax, xy, labels, area=28.0, others=(), other_area=28.0, fontsize=6.5, pad=1.5, **text_kw):
    """Annotate point ``xy[i]`` (data coordinates) with ``labels[i]`` where the text box covers no
    marker (the labelled points, of ``area`` pt², and ``others``, of ``other_area``), no text already
    in the axes and no label placed before, and stays inside the axes. The nearest free spot that is
    nearer its own point than any other wins (the most crowded points first); failing that, the
    nearest free spot. A label set off further than a marker's width gets a leader line.

    Call it once the layout is final (after ``tight_layout``): it works in display coordinates.
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    unit = fig.dpi / 72  # pixels per point
    data = np.asarray(xy, float).reshape(-1, 2)
    pts = ax.transData.transform(data)
    rest = ax.transData.transform(np.asarray(others, float).reshape(-1, 2))
    every = np.vstack([pts, rest])
    r_own, r_other = (np.sqrt(area) / 2 + pad) * unit, (np.sqrt(other_area) / 2 + pad) * unit
    blocked = [_marker_box(x, y, r_own) for x, y in pts] + [_marker_box(x, y, r_other) for x, y in rest]
    blocked += [t.get_window_extent(renderer).padded(pad * unit) for t in ax.texts if t.get_visible()]
    frame = ax.bbox.padded(-2 * unit)
    style = {"fontsize": fontsize, "ha": "left", "va": "bottom", **text_kw}
    sizes = []
    for label in labels:
        probe = ax.text(0, 0, label, **style)
        box = probe.get_window_extent(renderer)
        probe.remove()
        sizes.append((box.width, box.height))
    near = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)) < 40 * unit
    placed = []
    for i in np.argsort(-near.sum(axis=1), kind="stable"):
        (px, py), (w, h) = pts[i], sizes[i]
        clear = free = None
        for radius in np.arange(1, 80) * 2.5 * unit:
            for a in ANGLES:
                box = Bbox.from_bounds(
                    px + np.cos(a) * (radius + w / 2) - w / 2, py + np.sin(a) * (radius + h / 2) - h / 2, w, h
                )
                inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
                if not inside or any(box.overlaps(b) for b in blocked):
                    continue
                free = free or (radius, box)
                gaps = _gap(box, every)
                if gaps[i] < np.delete(gaps, i).min(initial=np.inf):
                    clear = (radius, box)
                    break
            if clear:
                break
        radius, box = clear or free or (r_own, Bbox.from_bounds(px + r_own, py - h / 2, w, h))
        blocked.append(box.padded(pad * unit))
        leader = radius > 2.5 * r_own or not clear
        placed.append(
            ax.annotate(
                labels[i],
                tuple(data[i]),
                xytext=((box.x0 - px) / unit, (box.y0 - py) / unit),
                textcoords="offset points",
                arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.55", "shrinkA": 0, "shrinkB": r_own / unit}
                if leader
                else None,
                **style,
            )
        )
    return placed
