"""Imports flow one way through the package's layers, and the editorial domain stays torch-free.

The layers, lowest first (../shared/docs/DESIGN.md §7): the base (`errors`, `config`,
`switching`: the loudness rule, shared by synth's control editor and the cut, the package
itself), `timeline`, then `synth` and `features` (both built on timeline, neither
on the other), `data`, `model`, `train`, `sample`, then `evaluate`, `generate` and `cut`
(each built on `sample`, none on another), and on top the command line (`cli`, `__main__`,
`commands`, `serve`). A module may import its own part of the package and anything below
it, never above, nor a part beside it that is independent of it. Every import statement counts, those inside
functions too (the commands import lazily). Read from the source with `ast`, so nothing is
imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "multitrack"

LAYERS: list[set[str]] = [
    {"", "errors", "config", "switching"},
    {"timeline"},
    {"synth", "features"},
    {"data"},
    {"model"},
    {"train"},
    {"sample"},
    {"evaluate", "generate", "cut"},
    {"cli", "__main__", "commands", "serve"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
INDEPENDENT = [{"synth", "features"}, {"evaluate", "generate", "cut"}]  # parts beside each other
TORCH_FREE = {"timeline", "synth", "features", "switching"}
TORCH_PACKAGES = {"torch", "lightning", "torchmetrics", "safetensors"}


def part_of(module: str) -> str:
    """'multitrack.data.prepare' -> 'data'; the package's own modules by file name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def source_modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(part for part in relative.parts if part != "__init__")
        modules.append((name, path))
    return modules


def imported_modules(name: str, path: Path) -> list[tuple[str, int]]:
    """Every module the file imports, absolute, with its line."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, node.lineno))
    return found


MODULES = source_modules()


def test_every_part_of_the_package_has_a_layer():
    parts = {part_of(name) for name, _ in MODULES}
    assert parts <= set(RANK), f"parts with no layer in this test: {sorted(parts - set(RANK))}"


@pytest.mark.parametrize(("name", "path"), MODULES, ids=[name for name, _ in MODULES])
def test_imports_go_down_the_layers(name, path):
    here = part_of(name)
    upward = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} ({part_of(target)} is above {here or 'the base'})"
        for target, line in imported_modules(name, path)
        if target.split(".")[0] == "multitrack" and part_of(target) != here and RANK[part_of(target)] > RANK[here]
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize(("name", "path"), MODULES, ids=[name for name, _ in MODULES])
def test_independent_parts_never_import_each_other(name, path):
    # generate and cut sample through `sample`, not through evaluate: a change to how a model
    # is scored cannot change what it writes
    sideways = [f"{path.name}:{line} imports {target}" for target, line in sideways_imports(name, path)]
    assert not sideways, "\n".join(sideways)


def sideways_imports(name: str, path: Path) -> list[tuple[str, int]]:
    here = part_of(name)
    beside = next((parts - {here} for parts in INDEPENDENT if here in parts), set())
    return [
        (target, line)
        for target, line in imported_modules(name, path)
        if target.split(".")[0] == "multitrack" and part_of(target) in beside
    ]


@pytest.mark.parametrize(
    ("name", "path"),
    [(name, path) for name, path in MODULES if part_of(name) in TORCH_FREE],
    ids=[name for name, _ in MODULES if part_of(name) in TORCH_FREE],
)
def test_the_editorial_domain_never_imports_torch(name, path):
    torch_imports = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
        for target, line in imported_modules(name, path)
        if target.split(".")[0] in TORCH_PACKAGES
    ]
    assert not torch_imports, "\n".join(torch_imports)


def test_the_checks_see_an_upward_import(tmp_path):
    # the walker must see imports inside functions and resolve relative ones
    module = tmp_path / "multitrack" / "features" / "bad.py"
    module.parent.mkdir(parents=True)
    module.write_text("def f():\n    from ..model import transformer\n    import torch\n")
    found = imported_modules("multitrack.features.bad", module)
    assert ("multitrack.model", 2) in found and ("torch", 3) in found
    sideways = tmp_path / "multitrack" / "generate" / "bad.py"
    sideways.parent.mkdir(parents=True)
    sideways.write_text("from multitrack.evaluate.metrics import cut_f1\nfrom ..sample import rollout\n")
    assert sideways_imports("multitrack.generate.bad", sideways) == [("multitrack.evaluate.metrics", 1)]
