"""Files in the Beyond-Alignment reference implementation's output format, written line by line."""

from __future__ import annotations

import json

from culturescope.survey import PAPER_CULTURES, wvs7


def write_model(directory, model, answer_for, cultures=PAPER_CULTURES):
    """Write reference-format files; ``answer_for(culture, item)`` returns the response text."""
    survey = wvs7()
    for c in cultures:
        with (directory / f"{model}_{c}_system.jsonl").open("w") as fh:
            for idx, it in enumerate(survey.items):
                fh.write(
                    json.dumps(
                        {
                            "idx": idx,
                            "q_id": it.id,
                            "question": it.question,
                            "system": "s",
                            "instruction": "i",
                            "response": answer_for(c, it),
                        }
                    )
                    + "\n"
                )


def majority_text(c, it):
    m = wvs7().majority(c, it.id)
    return "I cannot say." if m is None else f"Thinking... \\boxed{{{m}}}"
