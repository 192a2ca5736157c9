"""The paper's figures (Beyond Alignment, Figures 1, 2, 3 and 7) with matplotlib; each returns a Figure.

Values are shown ×100, as in the paper.
"""

from __future__ import annotations

from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from culturescope.analyses.dynamics import Dynamics  # noqa: E402
from culturescope.analyses.landscape import Landscape  # noqa: E402
from culturescope.analyses.mixed import MixedResult  # noqa: E402
from culturescope.analyses.subsets import AgentCount, Subsets  # noqa: E402

plt.rcParams.update({"font.size": 8, "axes.spines.top": False, "axes.spines.right": False})
COLORS = plt.get_cmap("tab10").colors


def landscape_figure(land: Landscape, which: str = "p"):
    """Fig. 1 (left, Diversity_P) or Fig. 7 (Diversity_S): systems on the (Diversity, Alignment) plane."""
    d = 100 * (land.diversity_p if which == "p" else land.diversity_s)
    a = 100 * land.alignment
    fig, ax = plt.subplots(figsize=(4.2, 3.4))
    for n, (x, y, label) in enumerate(zip(d, a, land.labels)):
        ax.scatter(x, y, s=28, color=COLORS[n % 10], edgecolors="white", linewidths=0.6, zorder=3)
        ax.annotate(label, (x, y), xytext=(4, 2), textcoords="offset points", fontsize=6.5)
    ax.axvline(d.mean(), color="gray", ls="--", lw=0.6, alpha=0.6)
    ax.axhline(a.mean(), color="gray", ls="--", lw=0.6, alpha=0.6)
    r = land.pearson(which)
    ax.text(
        0.02,
        0.97,
        f"Pearson r = {r:+.2f} (n={len(d)})" if np.isfinite(r) else f"n={len(d)} systems",
        transform=ax.transAxes,
        va="top",
        color="gray",
    )
    ax.set_xlabel(f"Diversity$_{which.upper()}$ →")
    ax.set_ylabel("Alignment →")
    ax.grid(alpha=0.15)
    fig.tight_layout()
    return fig


def per_item_figure(systems: dict[str, tuple[np.ndarray, np.ndarray]]):
    """Fig. 1 (right): per-question (D_q, A_q) for chosen systems; bubble size = number of items."""
    fig, axes = plt.subplots(1, len(systems), figsize=(3.4 * len(systems), 2.6), squeeze=False)
    for n, (ax, (label, (dq, aq))) in enumerate(zip(axes[0], systems.items())):
        ok = np.isfinite(dq) & np.isfinite(aq)
        counts = Counter(zip(dq[ok].round(3), aq[ok].round(3)))
        xs, ys, sizes = zip(*[(x, y, 6 + 4 * c) for (x, y), c in counts.items()]) if counts else ((), (), ())
        ax.scatter(xs, ys, s=sizes, alpha=0.55, color=COLORS[n % 10], edgecolors="white", linewidths=0.3)
        ax.plot(
            dq[ok].mean(),
            aq[ok].mean(),
            marker="*",
            ms=10,
            color=COLORS[n % 10],
            mec="white",
            label=f"mean: D={dq[ok].mean():.2f}, A={aq[ok].mean():.2f}",
        )
        ax.set(title=label, xlabel="per-question diversity $D_q$", ylabel="per-question alignment $A_q$")
        ax.legend(frameon=False, loc="lower left", fontsize=6.5)
        ax.grid(alpha=0.15)
    fig.tight_layout()
    return fig


def mixed_figure(result: MixedResult):
    """Fig. 2: every assignment as a hexbin density, both Pareto frontiers, the highlighted systems."""
    d, a = 100 * result.diversity_p, 100 * result.alignment
    single = result.single
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    ax.hexbin(d, a, gridsize=60, cmap="Blues", mincnt=1, bins="log", linewidths=0)
    mixed = result.frontier[np.argsort(d[result.frontier])]
    ax.plot(d[mixed], a[mixed], color="#2ca02c", lw=1.4, label="mixed-backbone frontier")
    sf = single[result.single_frontier]
    sf = sf[np.argsort(d[sf])]
    ax.plot(d[sf], a[sf], color="#ff7f0e", lw=1.2, ls="--", label="single-backbone frontier")
    ax.scatter(
        d[single],
        a[single],
        s=22,
        facecolors="none",
        edgecolors="#ff7f0e",
        linewidths=1,
        zorder=3,
        label="single-backbone systems",
    )
    for n, h in enumerate(result.highlights):
        x, y = d[h.config], a[h.config]
        ref = single[h.reference]
        ax.scatter(x, y, marker="*", s=110, color="#2ca02c", edgecolors="white", zorder=4)
        ax.scatter(d[ref], a[ref], s=90, facecolors="none", edgecolors="black", linewidths=0.8, zorder=4)
        ax.annotate(
            f"{h.name}\nΔD={100 * h.delta_d:+.2f}, ΔA={100 * h.delta_a:+.2f}",
            (x, y),
            xytext=(-70, -22 - 24 * n),
            textcoords="offset points",
            fontsize=6.5,
            arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "gray"},
        )
    ax.set(
        xlabel="Diversity$_P$ →",
        ylabel="Alignment →",
        title=f"{len(d):,} backbone assignments ({len(result.backbones)} backbones, {len(result.cultures)} cultures)",
    )
    ax.legend(frameon=False, loc="lower left", fontsize=6.5)
    fig.tight_layout()
    return fig


def subsets_figure(per_system: dict[str, Subsets], human: Subsets | None = None):
    """Fig. 3a: Diversity_P of every k-culture subset, sorted ascending, per system."""
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    curves = {**per_system, **({"human reference": human} if human is not None else {})}
    for n, (label, s) in enumerate(curves.items()):
        style = {"color": "black", "ls": "--"} if label == "human reference" else {"color": COLORS[n % 10]}
        ax.plot(np.sort(100 * s.diversity_p), lw=1.2, label=f"{label} (max {100 * s.diversity_p.max():.1f})", **style)
    k = next(iter(curves.values())).k
    ax.set(xlabel=f"{k}-culture subsets, sorted", ylabel="Diversity$_P$")
    ax.legend(frameon=False, fontsize=6.5)
    ax.grid(alpha=0.15)
    fig.tight_layout()
    return fig


def agent_count_figure(per_system: dict[str, AgentCount]):
    """Fig. 3b: relative system–human gap of the maximum Diversity_P over all k-subsets, vs k."""
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    for n, (label, ac) in enumerate(per_system.items()):
        ax.plot(ac.k, 100 * ac.gap("p", relative=True), marker="o", ms=3, lw=1.2, color=COLORS[n % 10], label=label)
    ax.axhline(0, color="gray", lw=0.6)
    ax.set(xlabel="agent count k", ylabel="(system − human) / human, % of max Diversity$_P$")
    ax.legend(frameon=False, fontsize=6.5)
    ax.grid(alpha=0.15)
    fig.tight_layout()
    return fig


def dynamics_figure(per_system: dict[str, Dynamics]):
    """Fig. 4 (ΔD, ΔA after one round of exposure), Fig. 5 (Diversity_P per round), Fig. 8 (Alignment)."""
    fig, (bars, div, ali) = plt.subplots(1, 3, figsize=(10.5, 3.0))
    labels = list(per_system)
    x = np.arange(len(labels))
    bars.bar(x - 0.2, [100 * d.delta_d[1] for d in per_system.values()], 0.4, label="ΔD", color="#1f77b4")
    bars.bar(x + 0.2, [100 * d.delta_a[1] for d in per_system.values()], 0.4, label="ΔA", color="#ff7f0e")
    bars.axhline(0, color="gray", lw=0.6)
    bars.set_xticks(x, labels, rotation=30, ha="right", fontsize=6.5)
    bars.set(title="after round 1, vs round 0", ylabel="change (×100)")
    bars.legend(frameon=False, fontsize=6.5)
    for n, (label, d) in enumerate(per_system.items()):
        div.plot(d.rounds, 100 * d.diversity_p, marker="o", ms=3, color=COLORS[n % 10], label=label)
        ali.plot(d.rounds, 100 * d.alignment, marker="o", ms=3, color=COLORS[n % 10], label=label)
    div.set(title="Diversity$_P$ per round", xlabel="round")
    ali.set(title="Alignment per round", xlabel="round")
    div.legend(frameon=False, fontsize=6.5)
    for ax in (div, ali):
        ax.grid(alpha=0.15)
    fig.tight_layout()
    return fig


def budgeting_figure(per_system: dict[str, dict[str, int]]):
    """Fig. 6, 9, 10: share of approvals per project category, one bar group per system."""
    categories = list(next(iter(per_system.values())))
    fig, ax = plt.subplots(figsize=(6.0, 0.28 * len(categories) + 1.2))
    height = 0.8 / len(per_system)
    y = np.arange(len(categories))
    for n, (label, votes) in enumerate(per_system.items()):
        total = max(1, sum(votes.values()))
        ax.barh(y + n * height, [100 * votes[c] / total for c in categories], height, color=COLORS[n % 10], label=label)
    ax.set_yticks(y + height * (len(per_system) - 1) / 2, categories)
    ax.invert_yaxis()
    ax.set(xlabel="share of approvals (%)")
    ax.legend(frameon=False, fontsize=6.5, loc="lower right")
    fig.tight_layout()
    return fig
