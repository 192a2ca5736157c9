"""The layers import downward only: nothing below the methods (survey, backends, engine, metrics,
report, the registry) imports a method, the CLI or the Python API — at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "culturescope"
LOWER = ["errors.py", "registry.py", "survey", "backends", "engine", "metrics", "report"]
ABOVE = ("culturescope.methods", "culturescope.cli", "culturescope.api")


def imported(path: Path) -> set[str]:
    """Every module a file imports (absolute or relative), wherever the import statement stands."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return found


def lower_files() -> list[Path]:
    return sorted(
        f for name in LOWER for f in ([PACKAGE / name] if name.endswith(".py") else (PACKAGE / name).rglob("*.py"))
    )


@pytest.mark.parametrize("path", lower_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_lower_layers_import_no_method(path):
    upward = sorted(m for m in imported(path) if m.startswith(ABOVE))
    assert not upward, f"{path.relative_to(PACKAGE)} imports {upward}"


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = PACKAGE / "engine" / "probe_for_test.py"
    try:
        module.write_text("def f():\n    from culturescope.methods.def_simulation import score\n")
        assert "culturescope.methods.def_simulation.score" in imported(module)
    finally:
        module.unlink()
