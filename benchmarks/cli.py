"""Start-up time of the ``culturescope`` command: ``--help`` with lazy imports vs the eager baseline.

Every case is a fresh ``python`` subprocess (the interpreter running this script, so the same
culturescope), timed wall-clock, best of --repeats. Measured in the same run:

- baseline: what ``culturescope --help`` cost before issue 15 — the same ``--help`` after importing
  everything its command modules imported at module level (pandas, NumPy, scipy.stats, rich tables and
  the method modules below, which bring the rest);
- floors: a two-command Typer app's ``--help`` and its ``run --help`` (Python, Typer and its rich
  help): what no command line written with Typer goes under. culturescope requires Typer < 0.29:
  from 0.29 on, a command's help imports pydantic, which Typer then checks options with (+0.15 s);
- ``culturescope --help`` and a few ``culturescope <command> --help``.

Each is printed with its ratio to the baseline and to the 1.7 s that issue 15 measured; the target
is 0.3 s. CPU seconds (user + system of the subprocess) are printed too: on a busy machine they vary
less than wall time. The cases take turns, one run of each per round, so a change in the machine's
load falls on all of them alike. Compiled bytecode is kept in a temporary directory
(PYTHONPYCACHEPREFIX, even where PYTHONDONTWRITEBYTECODE is set) and one untimed round runs first, so
every case starts as an installed package does, from compiled modules.

    python benchmarks/cli.py [--repeats 7]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

TARGET = 0.3  # seconds, issue 15
ISSUE = 1.7  # seconds, `culturescope --help` as issue 15 measured it

#: What the command modules imported at module level before issue 15 (each brings pandas, NumPy or scipy).
EAGER = (
    "pandas",
    "numpy",
    "scipy.stats",
    "rich.table",
    "culturescope.engine.store",
    "culturescope.engine.session",
    "culturescope.metrics.distribution",
    "culturescope.methods.beyond_alignment.analyses.dynamics",
    "culturescope.methods.beyond_alignment.analyses.landscape",
    "culturescope.methods.beyond_alignment.analyses.mixed",
    "culturescope.methods.beyond_alignment.analyses.subsets",
    "culturescope.methods.beyond_alignment.analyses.uncertainty",
    "culturescope.methods.beyond_alignment.coverage",
    "culturescope.methods.beyond_alignment.importers",
    "culturescope.methods.beyond_alignment.published",
    "culturescope.methods.beyond_alignment.run",
    "culturescope.methods.beyond_alignment.score",
    "culturescope.methods.def_simulation.judging",
    "culturescope.methods.def_simulation.profiles",
    "culturescope.methods.def_simulation.rephrase",
    "culturescope.methods.def_simulation.respondents",
    "culturescope.methods.def_simulation.run",
    "culturescope.methods.def_simulation.score",
    "culturescope.methods.def_simulation.ttest",
    "culturescope.methods.def_simulation.variation",
    "culturescope.methods.cultural_palette.run",
    "culturescope.methods.cultural_palette.score",
    "culturescope.methods.cultural_palette.training.orpo",
    "culturescope.methods.cultural_palette.training.synthesis",
)
BASELINE = f"import sys, {', '.join(EAGER)}\nfrom culturescope.cli.main import main\n" + (
    "sys.argv = ['culturescope', '--help']\nmain()"
)
FLOOR = """import sys, typer
app = typer.Typer(add_completion=False)
@app.command()
def run(limit: int = typer.Option(0, help="Only the first N items.")) -> None:
    pass
@app.command()
def evaluate() -> None:
    pass
app(sys.argv[1:])"""
COMMANDS = ((), ("run",), ("evaluate",), ("analyze", "landscape"), ("simulate", "run"), ("palette", "run"), ("report",))


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one ``python ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or "Usage" not in done.stdout:
        raise SystemExit(f"python {' '.join(args)} failed:\n{done.stderr}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    cases = {
        "baseline: eager imports, --help": ["-c", BASELINE],
        "floor: Typer app --help": ["-c", FLOOR, "--help"],
        "floor: Typer app run --help": ["-c", FLOOR, "run", "--help"],
    }
    cases |= {f"culturescope {' '.join(c + ('--help',))}": ["-m", "culturescope", *c, "--help"] for c in COMMANDS}
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": cache}
        for argv in cases.values():
            timed(argv, env)
        rounds = [{name: timed(argv, env) for name, argv in cases.items()} for _ in range(args.repeats)]
    times = {name: (min(r[name][0] for r in rounds), min(r[name][1] for r in rounds)) for name in cases}
    base = times["baseline: eager imports, --help"][0]

    print(f"best of {args.repeats}; target {TARGET:.1f} s; issue 15 measured {ISSUE:.1f} s before")
    print(f"{'':40} {'wall (s)':>9} {'cpu (s)':>8} {'/ baseline':>11} {'/ 1.7 s':>8}  {'≤ 0.3 s':>7}")
    for name, (wall, cpu) in times.items():
        ok = "" if name.startswith(("baseline", "floor")) else ("yes" if wall <= TARGET else "no")
        print(f"{name:40} {wall:9.3f} {cpu:8.3f} {wall / base:10.2f}x {wall / ISSUE:7.2f}x  {ok:>7}")


if __name__ == "__main__":
    main()
