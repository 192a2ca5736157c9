"""The multi-agent Cultural Palette (§4.2) and its baselines (§5.3): who is asked what.

Stage 1, five continent agents write drafts (P_draft); stage 2, the meta agent distils them (the
self-regulation prompt); stage 3, the meta agent decides with P_final and the distilled memory. The
final decision is read both as text ("Answer: n") and, where the backend can, as the option
distribution after "Answer: " (P_gen). Ablations (§5.5): w/o CD (no drafts), w/o SR (the drafts
themselves are the memory), w/o CM (the meta agent is the base model, not a merged one). Every
stage-3 method is shown with the meta agent that decided (:func:`label`): without a merged meta agent,
``palette`` is the w/o CM ablation under another name.
"""

from __future__ import annotations

from culturescope.backends.base import Messages
from culturescope.engine.prompts import prompts
from culturescope.survey import Culture, Item

CONTINENTS = ("Africa", "America", "Asia", "Europe", "Oceania")
PALETTE = ("palette", "palette-no-cd", "palette-no-sr", "palette-no-cm")
JOINT = "joint"  # the Joint baseline: one model ORPO-aligned on every continent's data (needs a trained one)
BASELINES = ("vanilla", "prompting", JOINT, "moe", "modular-overton", "modular-steerable", "modular-distributional")
METHODS = PALETTE + BASELINES
BASE_META = "base model"


def label(method: str, meta: str | None) -> str:
    """A method as shown: the palette's methods name their meta agent, e.g. "palette (meta = base model)"."""
    return f"{method} (meta = {meta})" if meta else method


def draft_messages(continent: str, culture: Culture, item: Item) -> Messages:
    """Stage 1: the continent agent's draft (P_draft holds the question)."""
    p = prompts(__package__, "palette")
    return [
        {
            "role": "user",
            "content": p["draft"].format(continent=continent, question=item.question, country=culture.country),
        }
    ]


def drafts_text(drafts: dict[str, str]) -> str:
    """The drafts as the later stages see them, one labelled block per continent, in continent order."""
    template = prompts(__package__, "palette")["draft_label"]
    return "".join(template.format(continent=c, draft=drafts[c].strip()) for c in CONTINENTS if c in drafts)


def regulate_messages(culture: Culture, item: Item, drafts: dict[str, str]) -> Messages:
    """Stage 2: the meta agent distils the drafts into the memory (Answer_regulate)."""
    p = prompts(__package__, "palette")
    return [
        {"role": "system", "content": p["regulate"].format(country=culture.country)},
        {"role": "user", "content": p["regulate_user"].format(drafts=drafts_text(drafts), question=item.question)},
    ]


def ask(system: str, item: Item) -> Messages:
    """A decision: ``system`` as the system prompt, the question and the answer format as the user turn."""
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": prompts(__package__, "palette")["ask"].format(question=item.question)},
    ]


def final_messages(culture: Culture, item: Item, memory: str) -> Messages:
    """Stage 3: P_final with the memory (empty without drafts)."""
    return ask(prompts(__package__, "palette")["final"].format(country=culture.country, memory=memory.strip()), item)


def baseline_messages(method: str, culture: Culture, item: Item, drafts: dict[str, str] | None = None) -> Messages:
    """The decision of a single-call baseline; MoE and Modular use the continent agents' prompts."""
    p = prompts(__package__, "palette")
    if method in ("vanilla", "prompting"):
        return ask(p[method].format(country=culture.country), item)
    if method == JOINT:  # culture-aware prompting (Xu et al.) naming the country, as the Prompting baseline of §5.2
        return ask(
            prompts(f"{__package__}.training", "pentachromatic")["joint_system"].format(continent=culture.country), item
        )
    if method == "modular-overton":
        return ask(p["overton"].format(country=culture.country, drafts=drafts_text(drafts or {})), item)
    raise ValueError(method)


def agent_messages(continent: str, culture: Culture, item: Item) -> Messages:
    """A continent agent deciding itself (MoE routing, steerable and distributional modular)."""
    return ask(
        prompts(__package__, "palette")["draft"].format(
            continent=continent, question=item.question, country=culture.country
        ),
        item,
    )


def steer_messages(culture: Culture) -> Messages:
    text = prompts(__package__, "palette")["steer"].format(country=culture.country, communities=", ".join(CONTINENTS))
    return [{"role": "user", "content": text}]


def read_community(text: str) -> str | None:
    """The continent a steering reply names first, or None."""
    lowered = text.lower()
    found = [(lowered.find(c.lower()), c) for c in CONTINENTS if c.lower() in lowered]
    return min(found)[1] if found else None
