"""Figures of the survey-simulation paper (DEF): divergence per value dimension (Table 1, Figs. 5–6),
the cultural variation map (Fig. 7), bias profiles (Figs. 8, 11, 12), insensitivity (Fig. 9), and one
item's answer distributions (Fig. 4)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from culturescope.methods.def_simulation.judge import CATEGORIES  # noqa: E402
from culturescope.methods.def_simulation.score import Preferences  # noqa: E402
from culturescope.methods.def_simulation.variation import Subjects, VariationMap  # noqa: E402
from culturescope.report.plotkit import series_color  # noqa: E402


def short(name: str, width: int = 14) -> str:
    """A dimension name short enough for an axis: initials of long multi-word names."""
    if len(name) <= width:
        return name
    return "".join(w[0] for w in name.replace("&", " ").replace(",", " ").split() if w[0].isupper())


def divergence_figure(prefs: list[Preferences], measure: str):
    """Table 1 as a heatmap: rows system × culture, columns value dimensions and the average."""
    dims = sorted({d for p in prefs for d in p.by_dimension})
    labels = [f"{p.backbone} · {p.system} · {p.culture}" for p in prefs]
    values = np.array([[p.by_dimension.get(d, np.nan) for d in dims] + [p.average] for p in prefs])
    fig, ax = plt.subplots(figsize=(3.0 + 0.62 * (len(dims) + 1), 1.2 + 0.3 * len(prefs)))
    im = ax.imshow(values, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(dims) + 1), [short(d) for d in dims] + ["Avg."], rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    middle = np.nanmean(values)
    for (r, c), v in np.ndenumerate(values):
        if np.isfinite(v):
            color = "white" if v > middle else "black"
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=5.5, color=color)
    fig.colorbar(im, ax=ax, label=f"{measure.upper()}(model ‖ human)", shrink=0.8)
    fig.tight_layout()
    return fig


def variation_figure(subjects: Subjects, vmap: VariationMap):
    """Fig. 7: systems (colour per system, marker per culture) and the humans (black stars)."""
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    cultures = sorted(set(subjects.cultures))
    markers = dict(zip(cultures, "os^Dvp<>*h"))
    systems = sorted({lab.rsplit(" · ", 1)[0] for lab, h in zip(subjects.labels, subjects.human) if not h})
    for (x, y), label, culture, human in zip(vmap.coords, subjects.labels, subjects.cultures, subjects.human):
        if human:
            ax.scatter(x, y, marker="*", s=140, color="black", zorder=4)
            ax.annotate(f"human {culture}", (x, y), xytext=(5, 3), textcoords="offset points", fontsize=7)
        else:
            n = systems.index(label.rsplit(" · ", 1)[0])
            ax.scatter(x, y, marker=markers[culture], s=30, color=series_color(n), edgecolors="white", zorder=3)
    for n, name in enumerate(systems):
        ax.scatter([], [], color=series_color(n), label=name, s=20)
    for culture in cultures:
        ax.scatter([], [], color="gray", marker=markers[culture], label=culture, s=20)
    ax.set_xlabel(f"PC1 ({100 * vmap.explained[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * vmap.explained[1]:.0f}% of variance)")
    ax.legend(fontsize=6, frameon=False, loc="best")
    fig.tight_layout()
    return fig


def insensitivity_figure(rows: list[dict]):
    """Fig. 9: share of judged responses with each problem, per system."""
    codes = list(CATEGORIES)
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    width = 0.8 / max(len(rows), 1)
    for n, row in enumerate(rows):
        values = [row[c] if row[c] is not None else 0 for c in codes]
        label = f"{row['backbone']} · {row['system']}"
        ax.bar(np.arange(len(codes)) + n * width, values, width, color=series_color(n), label=label)
    ax.set_xticks(np.arange(len(codes)) + width * (len(rows) - 1) / 2, codes)
    ax.set_ylabel("% of judged responses")
    ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


def profile_figure(profiles: dict[str, dict[tuple[str, str], tuple[int, dict[str, float]]]]):
    """Figs. 11–12: for each system, the share of matching and mismatch items per demographic group."""
    keys = sorted({k for p in profiles.values() for k in p})
    fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        groups = sorted({g for p in profiles.values() if key in p for g in p[key][1]})
        width = 0.8 / max(len(profiles), 1)
        for n, (label, p) in enumerate(profiles.items()):
            values = [100 * p[key][1].get(g, 0) if key in p else 0 for g in groups]
            ax.bar(np.arange(len(groups)) + n * width, values, width, color=series_color(n), label=label)
        ax.set_xticks(np.arange(len(groups)) + width * (len(profiles) - 1) / 2, [g.split(":", 1)[1] for g in groups])
        ax.set_title(f"{key[0]} items, {key[1]}")
        ax.set_ylim(0, 100)
    axes[0][0].set_ylabel("% of items answered like the group")
    axes[0][-1].legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


def distribution_figure(options: tuple[str, ...], dists: dict[str, np.ndarray], human: dict[str, np.ndarray]):
    """Fig. 4: one item's answer distribution per system and culture next to the humans'."""
    cultures = sorted(human)
    fig, axes = plt.subplots(1, len(cultures), figsize=(3.4 * len(cultures), 2.8), squeeze=False, sharey=True)
    codes = np.arange(1, len(options) + 1)
    for ax, culture in zip(axes[0], cultures):
        series = {"human": human[culture]} | {k.rsplit(" · ", 1)[0]: v for k, v in dists.items() if k.endswith(culture)}
        width = 0.8 / len(series)
        for n, (label, dist) in enumerate(series.items()):
            color = "black" if label == "human" else series_color(n - 1)
            ax.bar(codes + (n - (len(series) - 1) / 2) * width, dist[: len(options)], width, color=color, label=label)
        ax.set_xticks(codes, [str(c) for c in codes])
        ax.set_title(culture)
    axes[0][0].set_ylabel("share of answers")
    axes[0][-1].legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig
