"""DEF: Towards realistic evaluation of cultural value alignment in LLMs: Diversity enhancement for
survey response simulation.

Simulated respondents of each culture (DEF and its ablations), the baselines (Cao et al., CCSV) and one
agent's option distribution answer the survey; systems are scored as answer distributions against the
human answer shares (KL / JS per value dimension, Diversity %). See README.md in this folder.
"""

from culturescope.registry import Method

#: DEF as in the paper, its ablations (Table 4) and the no-modification baseline ("None" in Table 4).
DEF_VARIANTS = {
    "def": ("prompt", "config", "memory"),
    "def-no-prompt": ("config", "memory"),
    "def-no-config": ("prompt", "memory"),
    "def-no-memory": ("prompt", "config"),
    "none": (),
}
#: Every system ``culturescope simulate`` makes: DEF and its ablations, the baselines, and one agent's
#: option distribution.
SIMULATION_SYSTEMS = (*DEF_VARIANTS, "cao", "ccsv-single", "ccsv-list", "probs")
METHOD = Method(
    name="def_simulation",
    title="Towards realistic evaluation of cultural value alignment in LLMs: "
    "Diversity enhancement for survey response simulation",
    systems=SIMULATION_SYSTEMS,
    scoring="distribution",
    commands="culturescope.methods.def_simulation.cli:commands",
    run="culturescope.methods.def_simulation.run:execute_simulation",
    score="culturescope.methods.def_simulation.score:scores",
    report="culturescope.methods.def_simulation.report:report_parts",
)
