"""Library errors name the parameter they concern; the CLI writes the flag the user typed.

* The mechanism (:class:`zoo.errors.ZooError`): ``str(error)`` names parameters as the library spells them,
  ``error.param`` says which one is wrong, ``message_for`` spells them for a front end.
* Library calls see the parameter names (``limit``, ``timeout_s``, ``n_samples`` ...); the same mistakes on
  the command line read as the flags (``--limit``, ``--timeout``, ``--samples`` ...).
* On the source: no module under ``zoo/`` (outside ``zoo/cli/``) or ``ingest/`` writes a CLI flag into an
  exception message, and every parameter an error names has its flag in :data:`zoo.cli.flags.FLAGS`.
  A flag may appear only inside a backticked command to run, such as ``run `zoo ingest --run-grid` first``.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from clirunner import run_zoo
from zoo.catalog import Catalog
from zoo.cli.flags import FLAGS, cli_message
from zoo.config import normalize_database_url
from zoo.datasets import measure_dataset, preview_dataset
from zoo.errors import ConfigError, InvalidInput, NotFound, ZooError
from zoo.metamodel.features import split_by_group
from zoo.metamodel.fitting import check_forest_settings
from zoo.query import query_checkpoints, run_table
from zoo.sql import parse_size, run_query

ROOT = Path(__file__).resolve().parents[1]

# --- the mechanism -----------------------------------------------------------------------------------------


def test_an_error_names_its_parameter_for_the_library_and_the_flag_for_the_cli() -> None:
    error = InvalidInput("`n_estimators` must be at least 1, got 0", param="n_estimators")
    assert str(error) == "n_estimators must be at least 1, got 0"
    assert (error.param, error.params) == ("n_estimators", ("n_estimators",))
    assert error.template == "`n_estimators` must be at least 1, got 0"
    assert cli_message(error) == "--trees must be at least 1, got 0"


def test_name_value_pairs_become_a_flag_and_its_value_or_the_flag_that_stands_for_them() -> None:
    error = InvalidInput(
        "`grace_s` must be positive, e.g. `grace_s=300`; or pass `force=True` or `log_target=False`",
        param="grace_s",
        mentions=("force", "log_target"),
    )
    assert str(error) == "grace_s must be positive, e.g. grace_s=300; or pass force=True or log_target=False"
    assert cli_message(error) == "--grace must be positive, e.g. --grace 300; or pass --force or --raw-target"
    assert error.message_for({"grace_s": "grace"}) == (
        "grace must be positive, e.g. grace=300; or pass force=True or log_target=False"
    )


def test_only_the_declared_parameters_are_read_from_backticks() -> None:
    # A command to run stays as written; so does a backticked word that is not one of the error's parameters,
    # and a parameter name outside backticks ("nothing to split").
    error = InvalidInput(
        "`split` is not used here, nothing to split; run `zoo featurize` or see `limit`", param="split"
    )
    assert str(error) == "split is not used here, nothing to split; run `zoo featurize` or see `limit`"
    assert cli_message(error) == "--split is not used here, nothing to split; run `zoo featurize` or see `limit`"
    plain = NotFound("no fit `7`")  # no parameters: the message is the text as given
    assert (str(plain), plain.param, plain.params, cli_message(plain)) == ("no fit `7`", None, (), "no fit `7`")


# --- library calls see parameter names; the CLI sees flags --------------------------------------------------


@pytest.fixture
def sqlite_catalog(tmp_path: Path) -> Iterator[Catalog]:
    with Catalog.open(str(tmp_path / "catalog.db"), artifacts=str(tmp_path / "artifacts")) as catalog:
        yield catalog


@pytest.mark.parametrize(
    ("call", "message", "param"),
    [
        (lambda c: run_query(c, "SELECT 1", limit=0), "limit must be at least 1, got 0", "limit"),
        (lambda c: run_query(c, "SELECT 1", timeout_s=0), "timeout_s must be a number of seconds in (0, 86400], got 0", "timeout_s"),
        (lambda c: run_query(c, "SELECT 1", max_bytes=0), "max_bytes must be at least 1, e.g. max_bytes=67108864, got 0", "max_bytes"),
        (lambda c: query_checkpoints(c, limit=-1), "limit must be a whole number from 0 to 2147483647, got -1", "limit"),
        (lambda c: run_table(c, offset=-2), "offset must be a whole number from 0 to 2147483647, got -2", "offset"),
        (lambda c: measure_dataset(c, "nat", n_samples=0), "n_samples must be at least 1, got 0", "n_samples"),
        (lambda c: preview_dataset(c, "nat", "x.png", per_variant=0), "per_variant must be at least 1, got 0", "per_variant"),
    ],
)  # fmt: skip
def test_library_errors_name_the_parameter(sqlite_catalog: Catalog, call, message: str, param: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as refused:
        call(sqlite_catalog)
    assert (str(refused.value), refused.value.param) == (message, param)


def test_pure_checks_name_the_parameter() -> None:
    cases = [
        (lambda: parse_size("lots"), "max_bytes 'lots' is not a size; use bytes or a unit, e.g. max_bytes=256MiB"),
        (lambda: check_forest_settings(5, 1, folds=1), "folds must be at least 2, got 1"),
        (lambda: split_by_group(None, 1.0, 0), "test_fraction must be between 0 and 1 (exclusive), got 1.0"),  # type: ignore[arg-type]
        (lambda: normalize_database_url("  "), "the database URL is empty; pass url or set ZOO_DATABASE_URL"),
    ]
    for call, message in cases:
        with pytest.raises(ZooError) as refused:
            call()
        assert str(refused.value) == message and refused.value.param is not None


def test_a_missing_folder_names_the_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        Catalog.open(str(tmp_path / "nowhere" / "catalog.db"))
    assert str(refused.value).endswith("create it or point url at another path") and refused.value.param == "url"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["sql", "SELECT 1", "--limit", "0"], "Error: --limit must be at least 1, got 0"),
        (["sql", "SELECT 1", "--timeout", "0"], "Error: --timeout must be a number of seconds in (0, 86400], got 0"),
        (["sql", "SELECT 1", "--max-bytes", "0"], "Error: --max-bytes must be at least 1, e.g. --max-bytes 67108864, got 0"),
        (["sql", "SELECT 1", "--max-bytes", "lots"], "Error: --max-bytes 'lots' is not a size; use bytes or a unit, e.g. --max-bytes 256MiB"),
        (["query", "--limit", "-1"], "Error: --limit must be a whole number from 0 to 2147483647, got -1"),
        (["runs", "--offset", "-2"], "Error: --offset must be a whole number from 0 to 2147483647, got -2"),
        (["worker", "--grace", "0"], "Error: --grace must be a positive number of seconds, e.g. --grace 300 (got 0.0)"),
    ],
)  # fmt: skip
def test_the_cli_names_the_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], line: str) -> None:
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    monkeypatch.delenv("ZOO_DATABASE_URL", raising=False)
    monkeypatch.delenv("ZOO_ARTIFACTS", raising=False)
    result = run_zoo(*args, expect=1)
    assert result.output.strip() == line


def test_the_cli_names_the_catalog_flag(tmp_path: Path) -> None:
    result = run_zoo("--db", str(tmp_path / "nowhere" / "catalog.db"), "db", "current", expect=1)
    assert result.output.strip().endswith("does not exist; create it or point --db at another path")


# --- on the source ------------------------------------------------------------------------------------------

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
COMMAND = re.compile(r"`zoo [^`]*`")  # a command to run, flags and all: run `zoo ingest --run-grid` first


def library_modules() -> list[Path]:
    return sorted(
        path
        for package in ("zoo", "ingest")
        for path in (ROOT / package).rglob("*.py")
        if not path.relative_to(ROOT).as_posix().startswith("zoo/cli/")
    )


def _texts(node: ast.AST) -> Iterator[tuple[ast.expr, str]]:
    """The string literals under ``node``; an f-string as one text, ``{}`` for each replacement field."""
    inside_fstrings = set()
    for found in ast.walk(node):
        if isinstance(found, ast.JoinedStr):
            inside_fstrings.update(id(part) for part in found.values)
            yield found, "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in found.values)
    for found in ast.walk(node):
        if isinstance(found, ast.Constant) and isinstance(found.value, str) and id(found) not in inside_fstrings:
            yield found, found.value


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def exception_names(trees: list[ast.Module]) -> set[str]:
    """Builtin exception classes and every class the sources derive from one, by name."""
    names = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
    classes = [c for tree in trees for c in ast.walk(tree) if isinstance(c, ast.ClassDef)]
    while True:
        more = {
            c.name
            for c in classes
            if c.name not in names and any(getattr(b, "id", getattr(b, "attr", None)) in names for b in c.bases)
        }
        if not more:
            return names
        names |= more


def error_sites(tree: ast.Module, exceptions: set[str]) -> Iterator[ast.AST]:
    """What becomes an exception message: raise statements and exception constructions (``return
    QueryTimeout(...)``), the values of the names they use (``reference = f"..."; raise ...(f"...{reference}")``,
    a module constant), what the module's functions they call return; and a flag handed to a call as a
    plain argument (``bounded_int(limit, "--limit")`` puts it in a message; an argv list does not)."""
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            arguments = [*node.args, *(k.value for k in node.keywords)]
            yield from (a for a in arguments if isinstance(a, ast.Constant) and FLAG.match(str(a.value)))
        if (isinstance(node, ast.Raise) and node.exc is not None) or (
            isinstance(node, ast.Call) and _callee(node) in exceptions
        ):
            yield node
            for used in ast.walk(node):
                if isinstance(used, ast.Name):
                    yield from assigned.get(used.id, ())
                    if used.id in functions:
                        yield from (
                            r.value for r in ast.walk(functions[used.id]) if isinstance(r, ast.Return) and r.value
                        )


def flags_in_messages(source: str, exceptions: set[str]) -> list[tuple[int, str]]:
    """(line, flag) of every CLI flag written in an exception message, outside a backticked command."""
    texts = {
        id(node): (node.lineno, text)
        for site in error_sites(ast.parse(source), exceptions)
        for node, text in _texts(site)
    }
    return sorted((line, flag) for line, text in texts.values() for flag in FLAG.findall(COMMAND.sub("", text)))


def test_the_scan_finds_a_flag_in_a_message_and_passes_a_command_to_run() -> None:
    exceptions = exception_names([ast.parse("class InvalidInput(ValueError): pass")])
    assert flags_in_messages('raise InvalidInput("--trees must be at least 1")', exceptions) == [(1, "--trees")]
    assert flags_in_messages('raise InvalidInput(f"got {n}; lower --limit")', exceptions) == [(1, "--limit")]
    assert flags_in_messages('def f():\n    return QueryTimeout(f"raise --timeout")', exceptions | {"QueryTimeout"})
    helper = 'HINT = "pass --force"\ndef f():\n    raise InvalidInput("refused; " + HINT)'
    assert flags_in_messages(helper, exceptions) == [(1, "--force")]
    local = (
        'def f(n):\n    hint = f", {n} left out: --min-epoch 0 keeps them"\n    raise InvalidInput(f"too few{hint}")'
    )
    assert flags_in_messages(local, exceptions) == [(2, "--min-epoch")]
    assert flags_in_messages('bounded_int(limit, "--limit")', exceptions) == [(1, "--limit")]
    fine = 'raise InvalidInput(f"run `zoo ingest --run-grid` first, then `zoo featurize --feature-set {k}`")'
    assert flags_in_messages(fine, exceptions) == []
    assert flags_in_messages('command = ["zoo", "worker", "--grace", "300"]', exceptions) == []  # not a message


def test_no_library_error_message_writes_a_cli_flag() -> None:
    """Messages name parameters (```limit```, see zoo.errors); the CLI maps them to flags (zoo/cli/flags.py)."""
    paths = library_modules()
    sources = {path: path.read_text() for path in paths}
    exceptions = exception_names([ast.parse(s) for s in sources.values()])
    assert {"InvalidInput", "QueryTimeout", "HubUnavailable", "ValueError"} <= exceptions
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {flag}"
        for path, source in sources.items()
        for line, flag in flags_in_messages(source, exceptions)
    ]
    assert offenders == [], "library errors write CLI flags; name the parameter instead:\n" + "\n".join(offenders)


def declared_params(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Constant ``param=`` and ``mentions=`` arguments of every call (error constructors, bounded_int)."""
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        for keyword in call.keywords:
            if keyword.arg in ("param", "mentions"):
                for value in ast.walk(keyword.value):
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        yield call.lineno, value.value


def test_every_parameter_an_error_names_has_its_flag() -> None:
    declared = [
        (path.relative_to(ROOT), line, name)
        for path in library_modules()
        for line, name in declared_params(ast.parse(path.read_text()))
    ]
    assert len({name for _, _, name in declared}) >= 15  # the scan sees the errors (limit, n_estimators ...)
    missing = [f"{path}:{line}: {name}" for path, line, name in declared if name not in FLAGS]
    assert missing == [], "add these parameters' flags to zoo/cli/flags.py FLAGS:\n" + "\n".join(missing)
    assert all(re.fullmatch(r"--[a-z][a-z-]*", flag) for flag in FLAGS.values())
