"""Cultural Palette: Pluralising Culture Alignment via Multi-agent Palette.

Five continent agents draft, a meta agent self-regulates and decides; the paper's baselines and
ablations; the continent models (Pentachromatic data, ORPO, Cultural MoErges) in ``training/``.
Scored by S_align against the human answer shares. See README.md in this folder.
"""

from culturescope.methods.cultural_palette.agents import METHODS
from culturescope.registry import Method

METHOD = Method(
    name="cultural_palette",
    title="Cultural Palette: Pluralising Culture Alignment via Multi-agent Palette",
    systems=METHODS,
    scoring="distribution",
    commands="culturescope.methods.cultural_palette.cli:commands",
    run="culturescope.methods.cultural_palette.run:execute_palette",
    score="culturescope.methods.cultural_palette.score:scores",
    report="culturescope.methods.cultural_palette.report:report_parts",
)
