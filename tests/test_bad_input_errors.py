"""Bad input ends in exactly one line naming what is wrong, on SQLite and PostgreSQL; user text prints as typed.

Each test here reproduces a crash (a traceback) or a silently wrong output of an earlier zoo.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from clirunner import run_zoo
from synthetic_catalog import build_catalog
from zoo.catalog import Catalog
from zoo.checkpoints import decode_tensor, tensor_sha256
from zoo.db.engine import make_engine
from zoo.db.migrate import current_revision, upgrade
from zoo.db.models import Checkpoint, Tensor
from zoo.errors import IntegrityError

BIG = "99999999999999999999"  # beyond int64: OverflowError on SQLite, DataError on Postgres, before


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    """The single line a failing command printed (asserts exit 1, no traceback, nothing else)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def small_catalog(zoo_env: dict[str, str], catalog: Catalog):  # type: ignore[no-untyped-def]
    """Two archs × two variants × one trial × epochs 0 and 1, plus one external file checkpoint."""
    build_catalog(catalog, n_variants=2, trials=1, epochs=2, n_external=1)
    return catalog


# --- Rich markup and emoji codes in user text ------------------------------------------------------------


def test_catalog_values_with_markup_and_emoji_codes_print_as_typed(small_catalog: Catalog) -> None:
    origin = "/data/a[/b]/[bold]root:x:0[/].safetensors"
    with small_catalog.session(write=True) as session:
        checkpoint_id = session.scalars(select(Checkpoint.id).where(Checkpoint.source == "file")).one()
        session.execute(update(Checkpoint).where(Checkpoint.id == checkpoint_id).values(origin=origin))
    shown = run_zoo("show", str(checkpoint_id))
    assert origin in shown.output and "❌" not in shown.output
    listed = run_zoo("query", "--source", "file", "--columns", "checkpoint_id,origin")
    assert origin in listed.output and "❌" not in listed.output


@pytest.mark.parametrize("arch", ["x[/]", "root:x:0", "[red]resnet18"])
def test_selection_text_with_markup_or_emoji_codes_prints_as_typed(small_catalog: Catalog, arch: str) -> None:
    result = run_zoo("query", "--arch", arch)
    assert f"no checkpoints match arch={arch};" in result.output and "❌" not in result.output


def test_error_message_with_an_emoji_code_prints_as_typed(small_catalog: Catalog, tmp_path: Path) -> None:
    target = tmp_path / "root:x:0 [red]" / "f[bold].png"
    line = one_line_error(run_zoo("show", "1", "--png", str(target), expect=None))
    assert line == f"Error: folder {str(target.parent)!r} does not exist; create it before writing f[bold].png"


# --- huge and negative integers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["query", "--min-epoch", BIG], f"Error: min_epoch must be a whole number from 0 to 2147483647, got {BIG}"),
        (["query", "--max-epoch", BIG], f"Error: max_epoch must be a whole number from 0 to 2147483647, got {BIG}"),
        (["query", "--epoch", "-1"], "Error: epoch must be a whole number from 0 to 2147483647, got -1"),
        (["query", "--trial", BIG], f"Error: trial must be a whole number from 0 to 2147483647, got {BIG}"),
        (["query", f"trial=1|{BIG}"], f"Error: trial must be a whole number from 0 to 2147483647, got {BIG}"),
        (["query", "--limit", BIG], f"Error: --limit must be a whole number from 0 to 2147483647, got {BIG}"),
        (["query", "--limit", "-5"], "Error: --limit must be a whole number from 0 to 2147483647, got -5"),
        (["query", "--offset", BIG], f"Error: --offset must be a whole number from 0 to 2147483647, got {BIG}"),
        (
            ["fit", "--target", "sharpness", "--no-store", "--train", f"min_epoch={BIG}"],
            f"Error: min_epoch must be a whole number from 0 to 2147483647, got {BIG}",
        ),
        (["runs", "--limit", "-5"], "Error: --limit must be a whole number from 0 to 2147483647, got -5"),
        (["runs", "--limit", BIG], f"Error: --limit must be a whole number from 0 to 2147483647, got {BIG}"),
        (["worker", "--grid-id", BIG], f"Error: --grid-id must be a whole number from 0 to 2147483647, got {BIG}"),
        (
            ["predict", "--arch", "resnet18", "--fit", BIG, "never-read.safetensors"],
            f"Error: --fit must be a whole number from 0 to 2147483647, got {BIG}",
        ),
        (
            ["fit", "--target", "sharpness", "--no-store", "--seed", BIG],
            f"Error: --seed must be in 0..4294967295, got {BIG}",
        ),
        (
            ["fit", "--target", "sharpness", "--no-store", "--trees", BIG],
            f"Error: --trees must be at most 10,000, got {int(BIG):,}",
        ),
        (
            ["evaluate", "--target", "sharpness", "--repeats", "1001"],
            "Error: --repeats must be at most 1,000, got 1,001",
        ),
        (
            ["sql", "--timeout", "inf", "SELECT 1"],
            "Error: --timeout must be a number of seconds in (0, 86400], got inf",
        ),
        (
            ["sql", "--timeout", "nan", "SELECT 1"],
            "Error: --timeout must be a number of seconds in (0, 86400], got nan",
        ),
    ],
)
def test_out_of_range_integers_are_one_line_naming_the_option(
    zoo_env: dict[str, str], args: list[str], expected: str
) -> None:
    # The catalog may be empty: the bound value used to reach the driver, and overflow there, regardless.
    assert one_line_error(run_zoo(*args, expect=None)) == expected


def test_largest_valid_integers_are_accepted(small_catalog: Catalog) -> None:
    top = str(2**31 - 1)
    assert (
        "no checkpoints match"
        in run_zoo("query", "--min-epoch", top, "--trial", top, "--limit", top, "--offset", top).output
    )
    assert "runs" in run_zoo("runs", "--limit", top).output


# --- a corrupt first-layer tensor ------------------------------------------------------------------------


def _corrupt_delta(catalog: Catalog, checkpoint_id: int, change) -> int:  # type: ignore[no-untyped-def]
    with catalog.session(write=True) as session:
        tensor_id = session.scalars(select(Checkpoint.delta_tensor_id).where(Checkpoint.id == checkpoint_id)).one()
        data = bytes(session.scalars(select(Tensor.data).where(Tensor.id == tensor_id)).one())
        session.execute(update(Tensor).where(Tensor.id == tensor_id).values(data=change(data)))
    return tensor_id


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda data: data[:-4], id="one-value-short"),
        pytest.param(lambda data: data[:10], id="truncated-mid-value"),
        pytest.param(lambda data: data + b"\0\0\0\0", id="one-value-long"),
        pytest.param(lambda data: bytes([data[0] ^ 1]) + data[1:], id="flipped-byte"),
    ],
)
def test_corrupt_tensor_row_is_the_same_one_line_integrity_error(
    small_catalog: Catalog, tmp_path: Path, change
) -> None:  # type: ignore[no-untyped-def]
    tensor_id = _corrupt_delta(small_catalog, 1, change)
    line = one_line_error(run_zoo("show", "1", "--png", str(tmp_path / "filters.png"), expect=None))
    assert line == f"Error: tensor {tensor_id} is corrupt: its bytes no longer match its sha256"
    assert not (tmp_path / "filters.png").exists()


@pytest.mark.parametrize("length", [0, 3, 4, 96, 104])
def test_decode_tensor_refuses_bytes_of_the_wrong_length(length: int) -> None:
    import numpy as np

    array = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    data = (array.tobytes() * 2)[:length]
    with pytest.raises(IntegrityError, match="tensor 7 is corrupt"):
        decode_tensor(data, array.shape, tensor_sha256(array), 7)


# --- a catalog written by a newer zoo ---------------------------------------------------------------------


def test_catalog_at_a_newer_revision_says_upgrade_zoo_everywhere(zoo_env: dict[str, str], db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00dfromthefuture'")
    expected = (
        "Error: the catalog is at schema revision f00dfromthefuture, which this zoo does not know: "
        "written by a newer zoo; upgrade zoo"
    )
    assert one_line_error(run_zoo("db", "upgrade", expect=None)) == expected
    assert current_revision(engine) == "f00dfromthefuture"
    assert one_line_error(run_zoo("query", expect=None)) == expected
    current = run_zoo("db", "current").output
    assert "revision f00dfromthefuture" in current and "written by a newer zoo; upgrade zoo" in current
    assert "zoo db upgrade" not in current
    engine.dispose()
