"""Beyond Alignment: Value Diversity as a Collective Property in Multicultural Agent Systems.

Agents of several cultures answer the survey alone (static), after seeing each other's answers
(exposure, §6) or as voters in participatory budgeting (§7); systems are scored by Alignment and
Diversity_P / Diversity_S against the human majority answers. See README.md in this folder.
"""

from culturescope.registry import Method

STATIC, EXPOSURE, BUDGETING = "static", "exposure", "budgeting"
METHOD = Method(
    name="beyond_alignment",
    title="Beyond Alignment: Value Diversity as a Collective Property in Multicultural Agent Systems",
    systems=(STATIC, EXPOSURE, BUDGETING),
    scoring="majority",
    commands="culturescope.methods.beyond_alignment.cli:commands",
    run="culturescope.methods.beyond_alignment.run:execute",
    score="culturescope.methods.beyond_alignment.score:scores",
    report="culturescope.methods.beyond_alignment.report:report_parts",
    read="culturescope.methods.beyond_alignment.score:read_answers",
)
