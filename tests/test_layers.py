"""The package's layering (README "Layout"): every module imports only the layers below it.

Read from the source (module-level and function-level imports alike), so a lazy import in a
function cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dislab

PACKAGE = Path(dislab.__file__).parent

# layer -> the dislab layers it may import (besides itself and the package root's __version__)
ALLOWED = {
    "_io": set(),
    "_runtime": set(),
    "data": {"_io"},
    "models": set(),
    "metrics": {"data"},
    "rundir": {"_io"},
    "train": {"_io", "_runtime", "data", "models", "rundir"},
    "represent": {"_runtime", "models", "rundir"},
    "viz": {"_io", "data", "models", "represent", "rundir"},
    "scoring": {"_io", "data", "metrics", "represent", "rundir"},
    "control": {"data", "metrics", "models", "represent", "rundir"},
    "study": {"_io", "_runtime", "data", "metrics", "models", "represent", "rundir", "scoring",
              "train"},
    "analysis": {"_io", "metrics", "rundir"},
}


def _layer(module: str) -> str | None:
    """``dislab.study.spec`` -> ``study``; ``dislab`` itself -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "dislab" else None


def _imports(path: Path) -> set[str]:
    """The dislab layers a source file imports (``from dislab import x`` counts as layer x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {_layer(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "dislab":
                found |= {alias.name for alias in node.names} - {"__version__"}
            else:
                found.add(_layer(node.module))
    return found - {None}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if layer in ALLOWED:
            yield pytest.param(path, layer, id=str(path.relative_to(PACKAGE)))


@pytest.mark.parametrize(("path", "layer"), list(_modules()))
def test_each_module_imports_only_lower_layers(path, layer):
    upward = _imports(path) - ALLOWED[layer] - {layer}
    assert not upward, f"{path.name} ({layer}) imports {sorted(upward)}"


def test_the_rule_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from dislab.train import train\n    from dislab import models\n")
    assert _imports(bad) == {"train", "models"}
