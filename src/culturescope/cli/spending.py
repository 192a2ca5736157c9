"""The options of what a run spends (``--dry-run``, ``--max-cost``, ``--prices``, ``--batch``,
``--batch-fallback``) and the dry run's table. Lightweight: the engine is imported when used."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from culturescope.cli.output import Format, emit

if TYPE_CHECKING:
    from culturescope.engine.batch import Spending
    from culturescope.engine.plan import Tally

DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Send nothing: print per backbone the requests to send, those already in the run or the cache, "
        "estimated tokens and cost at the online and batch price (docs/backends.md).",
    ),
]
MaxCostOpt = Annotated[
    Optional[float],
    typer.Option(
        help="Stop (resumably) when this command's spend reaches USD (priced backbones; cache hits are free)."
    ),
]
PricesOpt = Annotated[
    Optional[Path],
    typer.Option(help="YAML price table over the shipped one (default: $CULTURESCOPE_PRICES; docs/backends.md)."),
]
BatchOpt = Annotated[
    bool,
    typer.Option(
        "--batch",
        help="Send pending requests through the provider's batch API (OpenAI, Anthropic; half price, up to 24 h). "
        "Rerun the same command to collect.",
    ),
]
BatchFallbackOpt = Annotated[
    bool, typer.Option("--batch-fallback", help="Batch items that fail or expire are sent online instead of rebatched.")
]


def spending(max_cost: float | None, prices: Path | None, batch: bool, fallback: bool) -> "Spending":
    from culturescope.engine.batch import Spending
    from culturescope.engine.cost import Meter, price_table
    from culturescope.errors import CulturescopeError

    if max_cost is not None and max_cost <= 0:
        raise CulturescopeError("--max-cost must be more than 0")
    return Spending(Meter(max_cost), price_table(prices), batch, fallback)


def print_plan(tallies: list["Tally"], prices, fmt: Format) -> None:
    """The dry run's table: one row per backbone and the total."""
    from culturescope.engine.plan import summary

    rows, notes = summary(tallies, prices)
    emit(rows, "Dry run: nothing sent", fmt, notes)


def print_usage(responses, manifest: dict) -> None:
    """Tokens and cost per backbone of a run's responses (``evaluate``), where any response has usage."""
    from culturescope.engine.cost import specs_of, usage_rows

    if "usage" not in responses or not responses["usage"].map(lambda u: isinstance(u, dict)).any():
        return
    notes = [
        "cost: the tokens the providers reported, at the price of how each response was bought (online or "
        "batch; docs/backends.md); — where the model has no price"
    ]
    emit(usage_rows(responses, specs_of(manifest)), "Tokens and cost", Format.table, notes)
