"""The layout's rules that a change could quietly break (README, "Layout")."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("exports", "notifications")


def modules(*parts: str):
    for path in sorted((ROOT.joinpath(*parts)).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def imported(path: pathlib.Path) -> set[str]:
    """Every module name ``path`` imports, at any depth (function-local imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_is_over_400_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for package in PACKAGES
        for path in modules(package)
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert long == {}


def test_the_engine_imports_nothing_from_the_writers():
    for path in modules("exports", "engine"):
        assert not {n for n in imported(path) if n.startswith("exports.writers")}, path


def test_the_models_and_the_rules_import_nothing_from_notifications():
    rules = [
        ROOT / "exports" / "requests" / f"{name}.py"
        for name in ("vocabulary", "validation", "durations", "recipients", "placeholders")
    ]
    for path in [*modules("exports", "models"), *rules]:
        assert not {n for n in imported(path) if n.startswith("notifications")}, path


def test_the_rules_and_rows_import_no_model():
    rules = [
        ROOT / "exports" / "requests" / f"{name}.py"
        for name in ("vocabulary", "validation", "durations", "recipients", "placeholders")
    ]
    for path in [*modules("exports", "rows"), *rules]:
        assert not {n for n in imported(path) if n.startswith("exports.models")}, path


def test_exports_has_only_a_handful_of_loose_modules():
    loose = {p.name for p in (ROOT / "exports").glob("*.py")}
    assert loose == {"__init__.py", "apps.py", "urls.py", "iam.py"}


def test_only_the_lifecycle_writes_a_jobs_status():
    """A job's state changes in ``exports.queue.lifecycle`` only (creation aside). Only
    ``exports`` is searched: ``notifications`` updates the status of deliveries, not jobs."""
    writers = set()
    for package in ("exports",):
        for path in modules(package):
            if path.name == "lifecycle.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "update"
                    and any(k.arg == "status" for k in node.keywords)
                ):
                    writers.add(str(path.relative_to(ROOT)))
    assert writers == set(), writers
