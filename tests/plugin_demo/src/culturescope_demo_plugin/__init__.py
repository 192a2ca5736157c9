"""A plugin as a third party would write it: registered through the culturescope.plugins entry point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import typer

import culturescope
from culturescope.backends.base import Completion


class Second:
    """Answers option 2 of every item, in text and as probabilities."""

    id = "demo:second"
    concurrency = 4
    supports_probs = True
    knobs = frozenset()

    async def chat(self, messages, decoding, sample):
        return Completion("\\boxed{2}")

    async def option_probs(self, messages, prefix, n_options):
        probs = np.zeros(n_options)
        probs[1] = 1.0
        return probs, None


commands = typer.Typer()


@commands.command("demo-count", rich_help_panel="Demo plugin")
def demo_count(run: str) -> None:
    """Count the responses of the demo method's system in RUN."""
    responses = culturescope.load_run(run).responses
    print(f"demo rows: {(responses['system'] == 'demo').sum()}")


def scores(responses: pd.DataFrame, survey, cultures) -> pd.DataFrame:
    """How many answers each backbone gave per culture."""
    counts = responses.groupby(["backbone", "culture"]).size().reset_index(name="value")
    return counts.assign(system="demo", mode="sample", round=0, metric="answers")


def mean_answer(X: np.ndarray, mu: np.ndarray, delta: np.ndarray) -> float:
    return float(np.nanmean(X))


def register() -> None:
    culturescope.register_backend(
        culturescope.BackendProvider("demo", lambda spec: Second(), "demo:NAME", lambda text, rest: {"name": rest})
    )
    culturescope.register_method(
        culturescope.Method(
            name="demo",
            title="A demo method",
            systems=("demo",),
            scoring="distribution",
            commands=commands,
            score=scores,
        )
    )
    culturescope.register_metric("mean_answer", mean_answer)
