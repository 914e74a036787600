"""Layering contracts (like import-linter): lower layers never import higher ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aanwas", "features", "models", "training", "evaluation", "monitoring")

# package -> packages of ours it may not import
FORBIDDEN = {
    "aanwas/common": {"aanwas", "features", "models", "training", "evaluation", "monitoring"},
    "features": {"aanwas", "models", "training", "evaluation", "monitoring"},
    "models": {"aanwas", "training", "evaluation", "monitoring"},
    "training": {"aanwas", "monitoring"},
    "evaluation": {"aanwas", "training", "monitoring"},
    "monitoring": {"aanwas", "training"},
}
# module -> packages it may not import (the export writer stays free of models and training)
FORBIDDEN_MODULES = {"monitoring/publishing/export.py": {"models", "training", "evaluation"}}


COMMON = "aanwas.common"  # the shared helpers: below features, importable from everywhere


def _top(module: str) -> str:
    """The package an import belongs to, with aanwas.common as a package of its own."""
    return COMMON if module == COMMON or module.startswith(COMMON + ".") else module.split(".")[0]


def _imports(path: Path) -> set[str]:
    return _all_imports(path) & {*PACKAGES, COMMON}


def _all_imports(path: Path) -> set[str]:
    """Top-level names of every absolute import of ``path`` (ours with aanwas.common apart)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(_top(a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(_top(node.module))
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_layering(package):
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        wrong = _imports(path) & FORBIDDEN[package]
        if wrong:
            bad.append(f"{path.relative_to(ROOT)} imports {sorted(wrong)}")
    assert not bad, bad


@pytest.mark.parametrize("module", sorted(FORBIDDEN_MODULES))
def test_export_writer_imports_no_model_code(module):
    path = ROOT / module
    if not path.exists():
        pytest.skip(f"{module} not written yet")
    assert not (_imports(path) & FORBIDDEN_MODULES[module])


def test_no_package_imports_another_packages_private_modules():
    """A module whose name starts with an underscore is used inside its own package only
    (import-linter checks the private modules of today by name; this covers new ones too)."""
    bad = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                for name in names:
                    parts = name.split(".")
                    private = any(p.startswith("_") and not p.startswith("__") for p in parts[1:-1])
                    module = ROOT.joinpath(*parts).with_suffix(".py")
                    private |= parts[-1].startswith("_") and module.exists()
                    if parts[0] in PACKAGES and parts[0] != package and private:
                        bad.append(f"{path.relative_to(ROOT)} imports {name}")
                        break
    assert not bad, bad


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_names(path: Path) -> list[str]:
    """``module.name`` of every underscore name ``path`` imports from our packages, or from a
    private module of theirs (``features._timeline``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [
        f"{node.module}.{a.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        if _top(node.module) in {*PACKAGES, COMMON}
        for a in node.names
        if _private(a.name) or any(map(_private, node.module.split(".")))
    ]
    return found + [
        a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for a in node.names
        if _top(a.name) in {*PACKAGES, COMMON} and any(map(_private, a.name.split(".")))
    ]


def test_benchmarks_import_no_private_names():
    """Scripts in benchmarks/ use the packages' public helpers (a private name may change without notice)."""
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    bad = {str(p.relative_to(ROOT)): names for p in scripts if (names := _private_names(p))}
    assert not bad, bad


def _declared() -> set[str]:
    """Distributions pyproject.toml declares (base and extras; a package's extras name theirs)."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [*project["dependencies"], *(r for rs in project["optional-dependencies"].values() for r in rs)]
    out = set()
    for r in map(Requirement, reqs):
        out |= {r.name, *r.extras}
    return {n.lower().replace("_", "-") for n in out}


def test_every_package_the_product_imports_is_declared():
    """A package used only through another's dependencies (sqlalchemy via optuna, say) can
    vanish when that package changes its own; whatever the product imports, pyproject.toml
    names."""
    import importlib.metadata
    import sys

    dists = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for top in _all_imports(path) - {*PACKAGES, COMMON} - set(sys.stdlib_module_names):
                names = {d.lower().replace("_", "-") for d in dists.get(top, [top])}
                if not names & declared:
                    missing.setdefault(top, str(path.relative_to(ROOT)))
    assert not missing, missing
