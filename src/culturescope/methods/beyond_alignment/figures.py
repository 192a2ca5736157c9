"""The paper's figures (Beyond Alignment, Figures 1–8) with matplotlib; each returns a Figure.

Values are shown ×100, as in the paper. Every backbone has its own colour in every figure
(``plotkit.backbone_color``), legends stand outside the data, discrete axes have whole-number ticks,
and point labels are placed where they cover no marker.
"""

from __future__ import annotations

from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator, StrMethodFormatter  # noqa: E402

from culturescope.methods.beyond_alignment.analyses.dynamics import Dynamics  # noqa: E402
from culturescope.methods.beyond_alignment.analyses.landscape import Landscape  # noqa: E402
from culturescope.methods.beyond_alignment.analyses.mixed import MixedResult  # noqa: E402
from culturescope.methods.beyond_alignment.analyses.orders import OrderScores  # noqa: E402
from culturescope.methods.beyond_alignment.analyses.subsets import AgentCount, Subsets  # noqa: E402
from culturescope.report.plotkit import (  # noqa: E402
    HUMAN,
    backbone_color,
    by_family,
    family_handles,
    integer_ticks,
    legend_outside,
    place_labels,
    series_color,
)

plt.rcParams.update({"font.size": 8, "axes.spines.top": False, "axes.spines.right": False})
AREA = 30.0  # marker area of a system, pt²


def landscape_figure(land: Landscape, which: str = "p"):
    """Fig. 1 (left, Diversity_P) or Fig. 7 (Diversity_S): systems on the (Diversity, Alignment) plane."""
    d = 100 * (land.diversity_p if which == "p" else land.diversity_s)
    a = 100 * land.alignment
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    ax.scatter(d, a, s=AREA, c=[backbone_color(x) for x in land.labels], edgecolors="white", linewidths=0.6, zorder=3)
    ax.axvline(d.mean(), color="gray", ls="--", lw=0.6, alpha=0.6)
    ax.axhline(a.mean(), color="gray", ls="--", lw=0.6, alpha=0.6)
    r = land.pearson(which)
    ax.set_title(f"Pearson r = {r:+.2f} (n={len(d)})" if np.isfinite(r) else f"n={len(d)} systems", color="gray")
    ax.set_xlabel(f"Diversity$_{which.upper()}$ →")
    ax.set_ylabel("Alignment →")
    ax.margins(0.18)
    ax.grid(alpha=0.15)
    if families := family_handles(land.labels):
        legend_outside(ax, handles=families, title="family", title_fontsize=6.5)
    fig.tight_layout()
    place_labels(ax, np.c_[d, a], land.labels, area=AREA)
    return fig


def per_item_figure(systems: dict[str, tuple[np.ndarray, np.ndarray]]):
    """Fig. 1 (right): per-question (D_q, A_q) for chosen systems; bubble size = number of items."""
    fig, axes = plt.subplots(1, len(systems), figsize=(3.4 * len(systems), 2.8), squeeze=False)
    for ax, (label, (dq, aq)) in zip(axes[0], systems.items()):
        ok = np.isfinite(dq) & np.isfinite(aq)
        counts = Counter(zip(dq[ok].round(3), aq[ok].round(3)))
        xs, ys, sizes = zip(*[(x, y, 6 + 4 * c) for (x, y), c in counts.items()]) if counts else ((), (), ())
        color = backbone_color(label)
        ax.scatter(xs, ys, s=sizes, alpha=0.55, color=color, edgecolors="white", linewidths=0.3)
        ax.plot(dq[ok].mean(), aq[ok].mean(), marker="*", ms=11, color=color, mec="black", mew=0.5)
        ax.set_title(f"{label}\nmean (★): D={dq[ok].mean():.2f}, A={aq[ok].mean():.2f}", fontsize=7.5)
        ax.set(xlabel="per-question diversity $D_q$", ylabel="per-question alignment $A_q$")
        ax.grid(alpha=0.15)
    fig.tight_layout()
    return fig


def mixed_figure(result: MixedResult):
    """Fig. 2: every assignment as a hexbin density, both Pareto frontiers, the highlighted systems."""
    d, a = 100 * result.diversity_p, 100 * result.alignment
    single = result.single
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    ax.hexbin(d, a, gridsize=60, cmap="Blues", mincnt=1, bins="log", linewidths=0)
    mixed = result.frontier[np.argsort(d[result.frontier])]
    ax.plot(d[mixed], a[mixed], color="#2ca02c", lw=1.4, label="mixed-backbone frontier")
    sf = single[result.single_frontier]
    sf = sf[np.argsort(d[sf])]
    ax.plot(d[sf], a[sf], color="#ff7f0e", lw=1.2, ls="--", label="single-backbone frontier")
    for name in by_family(result.backbones):
        s = single[result.backbones.index(name)]
        ax.scatter(
            d[s], a[s], s=AREA, color=backbone_color(name), edgecolors="black", linewidths=0.4, zorder=3, label=name
        )
    stars = [(d[h.config], a[h.config]) for h in result.highlights]
    refs = [(d[single[h.reference]], a[single[h.reference]]) for h in result.highlights]
    for n, ((x, y), (rx, ry)) in enumerate(zip(stars, refs)):
        ax.scatter(
            x,
            y,
            marker="*",
            s=140,
            color="#2ca02c",
            edgecolors="white",
            zorder=4,
            label="highlighted" if not n else None,
        )
        ax.scatter(rx, ry, s=110, facecolors="none", edgecolors="black", linewidths=0.8, zorder=4)
    ax.set(
        xlabel="Diversity$_P$ →",
        ylabel="Alignment →",
        title=f"{len(d):,} backbone assignments ({len(result.backbones)} backbones, {len(result.cultures)} cultures)",
    )
    ax.margins(0.12)
    legend_outside(ax, fontsize=6, ncol=2 if len(result.backbones) > 24 else 1)
    fig.tight_layout()
    labels = [f"{h.name}\nΔD={100 * h.delta_d:+.2f}, ΔA={100 * h.delta_a:+.2f}" for h in result.highlights]
    others = [(d[s], a[s]) for s in single] + refs
    bbox = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}
    place_labels(ax, stars, labels, area=140, others=others, other_area=110, pad=3, bbox=bbox)
    return fig


def subsets_figure(per_system: dict[str, Subsets], human: Subsets | None = None, cultures: int | None = None):
    """Fig. 3a: Diversity_P of every k-culture subset, sorted ascending, per system (and the humans)."""
    fig, ax = plt.subplots(figsize=(6.2, 3.4))
    k, n = next(iter(per_system.values())).k, len(next(iter(per_system.values())).members)
    rank = np.arange(1, n + 1)
    for label in by_family(per_system):
        s = per_system[label]
        best = 100 * np.nanmax(s.diversity_p)
        ax.plot(
            rank, np.sort(100 * s.diversity_p), lw=1.2, color=backbone_color(label), label=f"{label} (max {best:.1f})"
        )
    if human is not None:
        best = 100 * np.nanmax(human.diversity_p)
        ax.plot(
            rank,
            np.sort(100 * human.diversity_p),
            lw=1.2,
            ls="--",
            color=HUMAN,
            label=f"human reference (max {best:.1f})",
        )
    of = f" of {cultures} cultures" if cultures else ""
    ax.set(xlabel=f"rank among the {n:,} {k}-culture subsets{of}, by Diversity$_P$", ylabel="Diversity$_P$")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    legend_outside(ax)
    ax.grid(alpha=0.15)
    fig.tight_layout()
    return fig


def agent_count_figure(per_system: dict[str, AgentCount], relative: bool = False):
    """Fig. 3b: gap between a system's and the humans' maximum Diversity_P over all k-subsets, vs k:
    in points (system max − human max) or, ``relative``, in % of the human maximum."""
    fig, ax = plt.subplots(figsize=(6.2, 3.4))
    for label in by_family(per_system):
        ac = per_system[label]
        ax.plot(ac.k, 100 * ac.gap("p", relative), marker="o", ms=3, lw=1.2, color=backbone_color(label), label=label)
    ax.axhline(0, color="gray", lw=0.6)
    unit = "(system − human) / human max, %" if relative else "system max − human max (points)"
    ax.set(xlabel="agent count k", ylabel=f"Diversity$_P$ gap: {unit}")
    integer_ticks(ax.xaxis)
    legend_outside(ax)
    ax.grid(alpha=0.15)
    fig.tight_layout()
    return fig


def dynamics_figure(per_system: dict[str, Dynamics]):
    """Fig. 4 (ΔD, ΔA after one round of exposure), Fig. 5 (Diversity_P per round), Fig. 8 (Alignment)."""
    fig, (bars, div, ali) = plt.subplots(1, 3, figsize=(12.0, 3.4))
    labels = by_family(per_system)
    per_system = {label: per_system[label] for label in labels}
    colors = [backbone_color(x) for x in labels]
    first = [np.flatnonzero(d.rounds == 1) for d in per_system.values()]
    dd = [100 * d.delta_d[i[0]] if len(i) else np.nan for d, i in zip(per_system.values(), first)]
    da = [100 * d.delta_a[i[0]] if len(i) else np.nan for d, i in zip(per_system.values(), first)]
    x = np.arange(len(labels))
    bars.bar(x - 0.2, dd, 0.4, color=colors)
    bars.bar(x + 0.2, da, 0.4, color="white", edgecolor=colors, hatch="////", linewidth=0.8)
    bars.axhline(0, color="gray", lw=0.6)
    bars.set_xticks(x, labels, rotation=40, ha="right", fontsize=6.5)
    bars.set_title("Fig. 4: after round 1, vs round 0", pad=18)
    bars.set_ylabel("change (×100)")
    styles = [Patch(color="0.4", label="ΔD (Diversity$_P$)"), Patch(fc="white", ec="0.4", hatch="////", label="ΔA")]
    bars.legend(handles=styles, fontsize=6.5, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2)
    for label, d, color in zip(labels, per_system.values(), colors):
        div.plot(d.rounds, 100 * d.diversity_p, marker="o", ms=3, color=color, label=label)
        ali.plot(d.rounds, 100 * d.alignment, marker="o", ms=3, color=color, label=label)
    div.set(title="Fig. 5: Diversity$_P$ per round", xlabel="round")
    ali.set(title="Fig. 8: Alignment per round", xlabel="round")
    for ax in (div, ali):
        integer_ticks(ax.xaxis)
        ax.grid(alpha=0.15)
    legend_outside(ali)
    fig.tight_layout()
    return fig


def budgeting_figure(per_system: dict[str, dict[str, int]]):
    """Fig. 6, 9, 10: share of approvals per project category, one bar group per system."""
    categories = list(next(iter(per_system.values())))
    fig, ax = plt.subplots(figsize=(7.0, 0.28 * len(categories) + 1.2))
    height = 0.8 / len(per_system)
    y = np.arange(len(categories))
    for n, (label, votes) in enumerate(per_system.items()):
        total = max(1, sum(votes.values()))
        values = [100 * votes[c] / total for c in categories]
        ax.barh(y + n * height, values, height, color=series_color(n), label=label)
    ax.set_yticks(y + height * (len(per_system) - 1) / 2, categories)
    ax.invert_yaxis()
    ax.set(xlabel="share of approvals (%)")
    legend_outside(ax)
    fig.tight_layout()
    return fig


def order_figure(found: list[OrderScores]):
    """Option-order robustness: each order of each system on the (Diversity_P, Alignment) plane, and per
    culture the share of answers that name the same option as under the reference order."""
    series = list(dict.fromkeys(f"{s.backbone} [{s.mode}]" for s in found))
    orders = list(dict.fromkeys(s.order for s in found))
    cultures = list(found[0].same)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.2, 3.8), gridspec_kw={"width_ratios": [1, 1.25]})
    points, labels = [], []
    for n, name in enumerate(series):
        mine = [s for s in found if f"{s.backbone} [{s.mode}]" == name]
        xy = np.array([(100 * s.diversity_p, 100 * s.alignment) for s in mine])
        left.scatter(xy[:, 0], xy[:, 1], s=AREA, color=series_color(n), edgecolors="white", zorder=3, label=name)
        points += list(map(tuple, xy))
        labels += [s.order for s in mine]
    left.set(xlabel="Diversity$_P$ →", ylabel="Alignment →", title="scores per option order")
    left.margins(0.25)
    xs = np.array(points)[:, 0]
    if np.ptp(xs) < 1:  # every order equally diverse (e.g. all 0): a readable span of ±2 points
        left.set_xlim(xs.min() - 2, xs.max() + 2)
    left.grid(alpha=0.15)
    compared = [s for s in found if s.order != s.reference]
    width = 0.8 / max(1, len(compared))
    for n, s in enumerate(compared):
        x = np.arange(len(cultures)) + (n - (len(compared) - 1) / 2) * width
        color = series_color(series.index(f"{s.backbone} [{s.mode}]"))
        shade = 0.25 + 0.75 * (orders.index(s.order) / max(1, len(orders) - 1))
        label = f"{s.backbone} [{s.mode}]: {s.order}" if len(series) > 1 else s.order
        right.bar(x, [100 * s.same[c] for c in cultures], width, color=color, alpha=shade, label=label)
    right.set_xticks(np.arange(len(cultures)), cultures)
    right.set(ylim=(0, 100), ylabel=f"same answer as {found[0].reference} (%)", title="agreement per culture")
    if compared:
        legend_outside(right, fontsize=6, title="order", title_fontsize=6.5)
    if len(series) > 1:
        left.legend(fontsize=6, loc="best")
    fig.tight_layout()
    place_labels(left, np.array(points), labels, area=AREA)
    return fig
