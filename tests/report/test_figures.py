"""The figures as drawn: one colour per backbone across figures and calls, whole-number ticks on the
discrete axes, and point labels that cover no marker, measured on the rendered matplotlib objects."""

import itertools
import re

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.text import Text

from culturescope.methods.beyond_alignment import figures as plots
from culturescope.methods.beyond_alignment.analyses.dynamics import Dynamics
from culturescope.methods.beyond_alignment.analyses.landscape import landscape
from culturescope.methods.beyond_alignment.analyses.mixed import mixed_backbones
from culturescope.methods.beyond_alignment.analyses.subsets import AgentCount, max_by_size, subsets
from culturescope.metrics import agreement as metrics
from culturescope.report import ReportOptions
from culturescope.report.plotkit import PAPER_SHADES, backbone_color
from culturescope.survey import PAPER_CULTURES, wvs7
from helpers.synthetic import synthetic_answers, write_reference_outputs

PAPER = list(PAPER_SHADES)  # the paper's 18 backbones


def systems_of(names, seed=0, cultures=PAPER_CULTURES):
    X = synthetic_answers(len(names), cultures, seed=seed)
    return {name: X[b][None] for b, name in enumerate(names)}


def scatter_colors(fig, labels):
    """Backbone → face colour of its marker, read from the figure's scatter collections."""
    ax = fig.axes[0]
    colors = np.concatenate([c.get_facecolors() for c in ax.collections if len(c.get_offsets())])
    offsets = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    return dict(zip(labels, map(mcolors.to_hex, colors))), offsets


def test_one_colour_per_backbone_across_figures_and_backbone_sets():
    s = wvs7()
    mu = s.majority_matrix(PAPER_CULTURES)
    first, second = PAPER[:12], PAPER[6:] + ["mistral-large", "Qwen/Qwen3-8B"]
    fig_a = plots.landscape_figure(landscape(systems_of(first), mu, s.deltas))
    fig_b = plots.landscape_figure(landscape(systems_of(second, seed=3), mu, s.deltas), "s")
    colors_a, _ = scatter_colors(fig_a, first)
    colors_b, _ = scatter_colors(fig_b, second)
    shared = set(first) & set(second)
    assert len(shared) == 6 and all(colors_a[n] == colors_b[n] for n in shared)
    # Fig. 3b draws the same backbone in the same colour as Fig. 1.
    D = metrics.pairwise_distances(synthetic_answers(1, PAPER_CULTURES)[0], s.deltas)
    fig3 = plots.agent_count_figure({n: AgentCount(max_by_size(D), max_by_size(D)) for n in second})
    lines = {line.get_label(): mcolors.to_hex(line.get_color()) for line in fig3.axes[0].lines}
    assert all(lines[n] == colors_b[n] for n in second)
    # The paper's 18 are pairwise distinct (RGB distance), same family same hue family.
    rgb = np.array([mcolors.to_rgb(backbone_color(n)) for n in PAPER])
    gaps = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1)[np.triu_indices(18, 1)]
    assert gaps.min() > 0.12
    assert backbone_color("gpt-5.4 [probs]") not in {backbone_color(n) for n in PAPER}
    assert backbone_color("Qwen/Qwen3-8B") == backbone_color("Qwen/Qwen3-8B")


def visible_ticks(axis):
    low, high = sorted(axis.get_view_interval())
    return [t for t in axis.get_ticklocs() if low - 1e-9 <= t <= high + 1e-9]


def test_discrete_axes_have_whole_number_ticks():
    s = wvs7()
    cultures = PAPER_CULTURES[:3]  # k = 2, 3: a default locator puts ticks at 2.25, 2.5, ...
    D = metrics.pairwise_distances(synthetic_answers(1, cultures)[0], s.deltas)
    fig = plots.agent_count_figure({"gpt-5.4": AgentCount(max_by_size(D), max_by_size(D))})
    fig.canvas.draw()
    ks = visible_ticks(fig.axes[0].xaxis)
    assert ks and all(float(t).is_integer() for t in ks)
    rounds = np.arange(3)  # rounds 0..2: a default locator puts ticks at 0.25, 0.5, ...
    trend = np.array([0.30, 0.28, 0.27])
    runs = {
        n: Dynamics(rounds, trend + b / 100, trend - b / 100, trend, np.zeros((3, 5))) for b, n in enumerate(PAPER[:4])
    }
    fig = plots.dynamics_figure(runs)
    fig.canvas.draw()
    for ax in fig.axes[1:]:
        rounds = visible_ticks(ax.xaxis)
        assert rounds and all(float(t).is_integer() for t in rounds)


def marker_boxes(ax, renderer):
    """Display-space squares around every marker of the axes' scatter collections."""
    boxes = []
    for c in ax.collections:
        offsets = c.get_offsets()
        if not len(offsets) or not len(c.get_sizes()):
            continue
        xy = c.get_offset_transform().transform(offsets)
        sizes = np.broadcast_to(c.get_sizes(), len(xy))
        for (x, y), s in zip(xy, sizes):
            r = np.sqrt(s) / 2 * ax.figure.dpi / 72
            boxes.append((x - r, y - r, x + r, y + r))
    return boxes


def overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def assert_labels_clear(fig, dpi=150):
    """No label's text box meets a marker or another label, at the resolution the report saves."""
    fig.set_dpi(dpi)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    texts = [Text.get_window_extent(t, renderer).extents for t in ax.texts]  # the text, not its leader line
    markers = marker_boxes(ax, renderer)
    assert texts and markers
    assert not [(t, m) for t in texts for m in markers if overlaps(t, m)]
    assert not [pair for pair in itertools.combinations(texts, 2) if overlaps(*pair)]
    frame = ax.bbox.extents
    assert all(frame[0] <= t[0] and t[2] <= frame[2] and frame[1] <= t[1] and t[3] <= frame[3] for t in texts)


def test_labels_cover_no_marker():
    s = wvs7()
    mu = s.majority_matrix(PAPER_CULTURES)
    systems = systems_of(PAPER, seed=11)
    # Two near-identical systems: the labels must still find room.
    systems["gpt-5-mini"] = systems["gpt-5.4"].copy()
    systems["gpt-5-mini"][0, 0, :3] = np.clip(systems["gpt-5-mini"][0, 0, :3] + 1, 1, s.deltas[:3] + 1)
    land = landscape(systems, mu, s.deltas)
    for which in ("p", "s"):
        fig = plots.landscape_figure(land, which)
        assert sorted(t.get_text() for t in fig.axes[0].texts) == sorted(PAPER)
        assert_labels_clear(fig)
    names = PAPER[:6]
    X = np.stack([x[0] for x in systems_of(names, seed=5).values()])
    fig = plots.mixed_figure(mixed_backbones(X, mu, s.deltas, names, PAPER_CULTURES))
    assert len(fig.axes[0].texts) == 3
    assert_labels_clear(fig)


def test_subset_curves_are_sorted_values_of_every_subset():
    s = wvs7()
    D = metrics.pairwise_distances(synthetic_answers(1, PAPER_CULTURES + ["DEU", "IND"])[0], s.deltas)
    res = subsets(D, 5)
    fig = plots.subsets_figure({"claude-opus-4.7": res}, res, 7)
    system, human = fig.axes[0].lines
    assert np.array_equal(system.get_ydata(), np.sort(100 * res.diversity_p))
    assert system.get_label() == f"claude-opus-4.7 (max {100 * res.diversity_p.max():.1f})"
    assert human.get_color() == "black" and len(human.get_xdata()) == 21
    assert "the 21 5-culture subsets of 7 cultures" in fig.axes[0].get_xlabel()
    assert list(human.get_xdata()) == list(range(1, 22))
    legend = fig.axes[0].get_legend().get_window_extent(fig.canvas.get_renderer())
    assert legend.x0 >= fig.axes[0].bbox.x1  # outside the data area


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_report_draws_fig3_over_each_culture_set(tmp_path):
    """Two backbones answered seven cultures, one only the paper's five: the report's cultures are
    the five, and Fig. 3 is drawn once over the seven (both backbones) and once over the five."""
    from culturescope.methods.beyond_alignment.importers import import_reference_outputs
    from culturescope.report.page import build_report

    seven = PAPER_CULTURES + ["DEU", "IND"]
    src = tmp_path / "outputs"
    src.mkdir()
    X = synthetic_answers(3, seven, seed=8)
    write_reference_outputs(src, X[:2], seven, ["gpt-5.4", "claude-opus-4.7"])
    write_reference_outputs(src, X[2:, :5], PAPER_CULTURES, ["grok-3"])
    s = wvs7()
    run, _ = import_reference_outputs(src, tmp_path / "run", s)
    html, _ = build_report([run], run.responses(), s, PAPER_CULTURES, ReportOptions(replicates=20))
    captions = re.findall(r"<figcaption>(Fig\. 3[ab]: .*?)</figcaption>", html)
    over_seven = "the 7 cultures BRA, CHN, DEU, IND, MEX, NGA, NZL answered by claude-opus-4.7, gpt-5.4"
    assert (
        captions[0]
        == f"Fig. 3a: Diversity_P of all 21 5-culture subsets of {over_seven} (first sample), sorted ascending"
    )
    assert captions[1].startswith("Fig. 3b: system max − human max") and "k = 2..7" in captions[1]
    assert "all 5 4-culture subsets of the 5 cultures BRA, CHN, MEX, NGA, NZL answered by grok-3" in captions[2]
    assert len(captions) == 4
