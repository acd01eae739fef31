"""The layer contract of docs/ARCHITECTURE.md, checked on the source instead of hoped for.

* ``zoo`` never imports ``ingest``; only the CLI (``zoo/cli/``) reaches it, lazily, inside commands.
* No module under ``zoo/`` imports the ingest stack (torch, torchvision, timm, safetensors, huggingface_hub),
  not even lazily: ``pip install zoo`` without the ``ingest`` extra must import and run every module, and
  what needs torch (training, reading model files, timm's architecture check) lives in ``ingest``.
* The web stack (starlette, jinja2, uvicorn: the ``serve`` extra) is imported at module level only by
  ``zoo/web/``, and ``zoo/web`` itself only lazily (by ``zoo serve``); psycopg (the ``postgres`` extra)
  never at module level.
* ``ingest`` may import ``zoo`` (except the CLI, the top layer).
* One storage layer: only the storage modules (:data:`STORAGE_MODULES`) import the ORM (``zoo.db.models``);
  everything else, in ``zoo`` and in ``ingest``, works with frozen records and storage functions.
* ... and only they, the SQL modules (``zoo/sql*.py``) and ``zoo/db/`` run SQL: open a session or a
  connection (``.session(``, ``.connect(``, ``.begin(``) or execute on one (``.execute(``, ``.scalars(``, ...).

Imports are read from the AST of every module, so a lazy import inside a function counts as an import
(the first rule) but not as a module-level one (the others). ``if TYPE_CHECKING:`` blocks never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

INGEST_STACK = {"torch", "torchvision", "timm", "safetensors", "huggingface_hub"}
SERVE_STACK = {"starlette", "jinja2", "uvicorn"}
POSTGRES_STACK = {"psycopg"}

ORM = "zoo.db.models"
# The storage layer: the only modules that build queries on ORM rows or write them (docs/ARCHITECTURE.md).
STORAGE_MODULES = {
    "zoo/catalog.py",  # engine, artifact store and session scope
    "zoo/datasets.py",  # datasets, variants, property measurements
    "zoo/checkpoints.py",  # tensors, references, checkpoints, labels, metric vectors
    "zoo/queue.py",  # the run queue's writes (claim, heartbeat, complete, fail, release)
    "zoo/run_stats.py",  # the run queue read-only: health, grids
    "zoo/query.py",  # checkpoint and run queries
    "zoo/metamodel/features.py",  # the meta-model's feature matrix: metric values and reference kinds, read-only
    "zoo/metamodel/stored.py",  # fits and their predictions
}

# The modules besides the storage modules that run SQL: the read-only ad hoc SQL of ``zoo sql``, and engines,
# sessions and migrations themselves.
SQL_MODULES = ("zoo/sql*.py", "zoo/db/*.py")
# Calls that open a session or connection on a catalog or engine, or run a statement on one.
SQL_CALLS = {"session", "connect", "begin", "execute", "exec_driver_sql", "scalars", "scalar", "raw_connection"}


@dataclass(frozen=True)
class Import:
    module: str  # the imported module, absolute (``ingest.external``, ``torch.nn``)
    module_level: bool  # runs when the importing module is imported
    line: int
    names: tuple[str, ...] = ()  # ``from module import a, b``: a and b

    def reaches(self, target: str) -> bool:
        """True when this imports ``target`` itself or from within it (``from zoo.db import models`` reaches zoo.db.models)."""
        return (
            self.module == target
            or self.module.startswith(target + ".")
            or any(f"{self.module}.{name}" == target for name in self.names)
        )


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, package: str) -> None:
        self.package = package
        self.depth = 0  # functions and lambdas entered
        self.found: list[Import] = []

    def _nested(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _nested

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        type_checking = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if type_checking:  # never runs: skip the body, keep the else branch
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append(Import(alias.name, self.depth == 0, node.lineno))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: resolve against the importing package
            base = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        self.found.append(Import(module, self.depth == 0, node.lineno, tuple(alias.name for alias in node.names)))


def imports_of(path: Path) -> list[Import]:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    package = ".".join(parts if relative.name == "__init__" else parts[:-1])
    collector = _ImportCollector(package)
    collector.visit(ast.parse(path.read_text(), filename=str(path)))
    return collector.found


def modules_under(top: str) -> list[Path]:
    return sorted(p for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)


def top(module: str) -> str:
    return module.split(".")[0]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def zoo_modules_importing_ingest() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in modules_under("zoo"):
        if rel(path).startswith("zoo/cli/"):
            continue
        hits = [f"line {i.line}: {i.module}" for i in imports_of(path) if top(i.module) == "ingest"]
        if hits:
            found[rel(path)] = hits
    return found


def orm_users() -> dict[str, list[str]]:
    """Modules outside ``zoo/db/`` that import the ORM, lazily or not."""
    found: dict[str, list[str]] = {}
    for path in modules_under("zoo") + modules_under("ingest"):
        if rel(path).startswith("zoo/db/"):
            continue
        hits = [f"line {i.line}: {i.module}" for i in imports_of(path) if i.reaches(ORM)]
        if hits:
            found[rel(path)] = hits
    return found


def sql_calls(path: Path) -> list[str]:
    """``line N: receiver.method(`` for each call of :data:`SQL_CALLS` on an object in ``path``."""
    return [
        f"line {node.lineno}: {ast.unparse(node.func)}("
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS
    ]


def sql_runners() -> dict[str, list[str]]:
    """Modules under ``zoo/`` and ``ingest/``, outside the storage and SQL modules, that run SQL themselves."""
    found: dict[str, list[str]] = {}
    for path in modules_under("zoo") + modules_under("ingest"):
        name = rel(path)
        if name in STORAGE_MODULES or any(fnmatch(name, pattern) for pattern in SQL_MODULES):
            continue
        hits = sql_calls(path)
        if hits:
            found[name] = hits
    return found


def module_level_imports(paths: list[Path], banned: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        hits = [f"line {i.line}: {i.module}" for i in imports_of(path) if i.module_level and top(i.module) in banned]
        if hits:
            found[rel(path)] = hits
    return found


# --- the collector itself ---------------------------------------------------------------------------------


def test_the_collector_tells_module_level_from_lazy_and_skips_type_checking() -> None:
    source = (
        "import torch\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import timm\n"
        "class A:\n    import safetensors\n"
        "def f():\n    from ingest.external import read_external\n"
        "try:\n    import psycopg\nexcept ImportError:\n    pass\n"
    )
    collector = _ImportCollector("zoo")
    collector.visit(ast.parse(source))
    found = {(i.module, i.module_level) for i in collector.found}
    assert found == {
        ("torch", True),
        ("typing", True),
        ("safetensors", True),
        ("ingest.external", False),
        ("psycopg", True),
    }


def test_relative_imports_are_resolved_against_their_package() -> None:
    collector = _ImportCollector("zoo.images.sources")
    collector.visit(ast.parse("from . import folder\nfrom ..transforms import apply_transform\n"))
    assert [i.module for i in collector.found] == ["zoo.images.sources", "zoo.images.transforms"]


# --- the contract -----------------------------------------------------------------------------------------


def test_no_module_under_zoo_outside_the_cli_imports_ingest() -> None:
    found = zoo_modules_importing_ingest()
    assert not found, f"zoo must not import ingest (only zoo/cli/ may, lazily): {found}"


def test_the_collector_sees_the_orm_however_it_is_imported() -> None:
    source = "from zoo.db import models\ndef f():\n    from zoo.db.models import Run\nimport zoo.db.engine\n"
    collector = _ImportCollector("zoo.web")
    collector.visit(ast.parse(source))
    assert [i.reaches(ORM) for i in collector.found] == [True, True, False]


def test_only_the_storage_modules_touch_orm_rows() -> None:
    found = orm_users()
    unexpected = {path: hits for path, hits in found.items() if path not in STORAGE_MODULES}
    assert not unexpected, (
        f"only the storage modules import {ORM}; call a storage function that returns frozen records "
        f"(zoo/records.py) instead, or add one to a storage module: {unexpected}"
    )
    assert {rel(p) for p in modules_under("zoo")} >= STORAGE_MODULES, "a storage module listed here no longer exists"


def test_the_sql_call_scan_sees_sessions_connections_and_statements(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "def f(catalog, engine, q):\n    with catalog.session() as s:\n        s.execute(q)\n"
        "    with engine.connect() as c:\n        c.scalars(q)\n    get_session().head(q)\n"
    )
    assert [hit.split(": ")[1] for hit in sql_calls(source)] == [
        "catalog.session(",
        "s.execute(",
        "engine.connect(",
        "c.scalars(",
    ]


def test_only_the_storage_and_sql_modules_run_sql() -> None:
    found = sql_runners()
    assert not found, (
        "only the storage modules (and zoo/sql*.py, zoo/db/) open sessions or connections and run statements; "
        f"add a storage function that returns records or tuples and call it instead: {found}"
    )


def test_no_module_under_zoo_imports_the_ingest_stack() -> None:
    hits = {
        rel(p): [f"line {i.line}: {i.module}" for i in imports_of(p) if top(i.module) in INGEST_STACK]
        for p in modules_under("zoo")
    }
    found = {path: lines for path, lines in hits.items() if lines}
    assert not found, f"torch, timm & co. belong to ingest (the ingest extra); call it from zoo/cli/, lazily: {found}"


def test_only_zoo_web_imports_the_serve_stack_at_module_level() -> None:
    outside = [p for p in modules_under("zoo") if not rel(p).startswith("zoo/web/")]
    found = module_level_imports(outside, SERVE_STACK)
    reaching_web = {
        rel(p): [
            f"line {i.line}: {i.module}" for i in imports_of(p) if i.module_level and i.module.startswith("zoo.web")
        ]
        for p in outside
    }
    assert not found, f"starlette, jinja2 and uvicorn belong to zoo/web (the serve extra): {found}"
    assert not {k: v for k, v in reaching_web.items() if v}, "zoo.web may be imported only lazily, by zoo serve"


def test_no_module_under_zoo_imports_psycopg_at_module_level() -> None:
    found = module_level_imports(modules_under("zoo"), POSTGRES_STACK)
    assert not found, f"psycopg is the postgres extra; import it where a PostgreSQL catalog is used: {found}"


def test_ingest_never_imports_the_cli() -> None:
    found = {
        rel(p): [i.module for i in imports_of(p) if i.module.startswith("zoo.cli")] for p in modules_under("ingest")
    }
    assert not {k: v for k, v in found.items() if v}, "the CLI is the top layer; ingest returns records to it"


def test_importing_the_analysis_side_and_the_cli_loads_no_torch() -> None:
    code = (
        "import sys, zoo, zoo.catalog, zoo.query, zoo.metamodel, zoo.sql, zoo.report, zoo.plots, zoo.datasets, "
        "zoo.images.sources, zoo.cli.main\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(INGEST_STACK | {'ingest'})!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout
