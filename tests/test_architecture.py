"""The shape of the house, read from the source: which package may import which, and that the
HTTP modules under ``knoten/api/`` and ``knoten/web/`` only handle requests.

The dependency rule (docs/architecture.md): ``knoten`` → {``schedules``, ``streaming``,
``recordings``}; ``recordings`` may use ``streaming``; ``schedules`` imports neither; nothing
imports ``knoten``; ``foundation`` is the leaf every package may use and imports none of them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("knoten", "schedules", "streaming", "recordings", "foundation")
#: package → the project packages it must never import.
FORBIDDEN: dict[str, set[str]] = {
    "schedules": {"knoten", "streaming", "recordings"},
    "streaming": {"knoten", "schedules", "recordings"},
    "recordings": {"knoten", "schedules"},
    "foundation": {"knoten", "schedules", "streaming", "recordings"},
}
#: The one module that builds components and registers their start and stop.
COMPOSITION_ROOT = ROOT / "knoten" / "app.py"
HTTP_MODULES = sorted(
    [*(ROOT / "knoten" / "api").rglob("*.py"), *(ROOT / "knoten" / "web").rglob("*.py")]
)
LIFECYCLE_HOOKS = {"cleanup_ctx", "on_startup", "on_shutdown", "on_cleanup"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import in ``path``, also those inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            # Relative imports stay inside their package by construction, unless they climb out.
            package = path.relative_to(ROOT).parts[0]
            depth = len(path.relative_to(ROOT / package).parts) - 1
            if node.level > depth:
                yield node.lineno, f"<outside {package}>"


def test_the_packages_exist() -> None:
    for package in PACKAGES:
        assert (ROOT / package / "__init__.py").is_file(), package


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependency_rule(package: str) -> None:
    violations = []
    for path in modules(package):
        for line, name in imported_modules(path):
            top = name.split(".")[0]
            if top in FORBIDDEN[package] or name.startswith("<outside"):
                violations.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not violations, "\n".join(violations)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The rule above must not pass by reading nothing: a planted import is found."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from knoten.app import build_app\n", encoding="utf-8")
    assert list(imported_modules(planted)) == [(2, "knoten.app")]


def _component_types() -> set[str]:
    """The class names of long-lived components: those stored under the app's typed keys
    (``web.AppKey("x", Type)``) and every class the composition root constructs."""
    names: set[str] = set()
    keys = ast.parse((ROOT / "knoten" / "keys.py").read_text(encoding="utf-8"))
    for node in ast.walk(keys):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "AppKey":
            for arg in node.args[1:]:
                names |= {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
    root = ast.parse(COMPOSITION_ROOT.read_text(encoding="utf-8"))
    for node in ast.walk(root):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func).split(".")[-1]
            if name[:1].isupper():
                names.add(name)
    return names - {"dict", "Path"}


def test_component_types_are_found() -> None:
    found = _component_types()
    assert {"Database", "SeminarController", "Recorder", "ShardedRegistry"} <= found
    assert {"ConversationHub", "WebrtcRegistry", "Application"} <= found


@pytest.mark.parametrize("path", HTTP_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_http_modules_are_thin_handlers(path: Path) -> None:
    """Handlers and route tables only: no component is built, stored or started here."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    components = _component_types()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in LIFECYCLE_HOOKS:
            found.append(f"line {node.lineno}: registers {node.attr}")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            target = ast.unparse(node.value)
            if target == "app" or target.endswith(".app"):
                found.append(f"line {node.lineno}: stores a component in {target}[…]")
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func).split(".")[-1]
            if name in components:
                found.append(f"line {node.lineno}: constructs {name}")
            if name in {"create_task", "ensure_future", "AppKey"}:
                found.append(f"line {node.lineno}: calls {name}")
    assert not found, f"{path.relative_to(ROOT)}:\n" + "\n".join(found)


def test_only_the_composition_root_registers_lifecycles() -> None:
    users = []
    for path in modules("knoten"):
        if path == COMPOSITION_ROOT:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.Attribute) and n.attr in LIFECYCLE_HOOKS for n in ast.walk(tree)):
            users.append(str(path.relative_to(ROOT)))
    assert not users
    root = ast.parse(COMPOSITION_ROOT.read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.Attribute) and n.attr == "cleanup_ctx" for n in ast.walk(root))
