"""Options shared by several commands, declared once as ``Annotated`` aliases.

This module imports only typer and :mod:`zoo.vocabulary`, so that ``zoo --help`` and every ``zoo COMMAND
--help`` start without SQLAlchemy or the numeric stack. Defaults the help shows are the library's: the
constants below are checked against :mod:`zoo.queue`, :mod:`zoo.datasets` and :mod:`zoo.sql` by
``tests/zoo/cli/test_cli_start.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from zoo.vocabulary import CHECKPOINT_SOURCES, PROPERTY_NAMES, SELECTION_KEYS, VARIANT_KINDS, WHERE_COLUMNS

DEFAULT_GRACE_S = 300.0  # zoo.queue.DEFAULT_GRACE_S
DEFAULT_SAMPLES = 2000  # zoo.datasets.DEFAULT_SAMPLES
SQL_DEFAULT_LIMIT, SQL_DEFAULT_TIMEOUT_S, SQL_DEFAULT_MAX_BYTES = 1000, 10.0, 64 * 1024 * 1024  # zoo.sql's

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table (for scripts), e.g. --json.")]
AsCsv = Annotated[bool, typer.Option("--csv", help="Print CSV with a header row instead of a table, e.g. --csv.")]

# --- the selection options: every command that picks checkpoints ------------------------------------------

SELECT = "Selection"
SELECTION_SYNTAX = (
    "KEY=VALUE terms separated by commas; keys: " + ", ".join(SELECTION_KEYS) + "; alternatives with | "
    "(arch=resnet18|resnet50); names are globs (* and ?); numeric conditions COLUMN<NUMBER (also <= > >= = !=)"
)
ArchOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--arch",
        help="Architecture name or glob; repeat for alternatives, e.g. --arch 'resnet*'.",
        rich_help_panel=SELECT,
    ),
]
BaseOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--base", help="Base dataset name or glob; repeatable, e.g. --base natural-32.", rich_help_panel=SELECT
    ),
]
VariantOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--variant", help="Dataset variant name or glob; repeatable, e.g. --variant 'blur-*'.", rich_help_panel=SELECT
    ),
]
KindOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--kind",
        help=f"Variant kind ({', '.join(VARIANT_KINDS)}); repeatable, e.g. --kind blur.",
        rich_help_panel=SELECT,
    ),
]
OptimizerOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--optimizer",
        help="Optimizer; repeatable, e.g. --optimizer adam or --optimizer sgd-cosine.",
        rich_help_panel=SELECT,
    ),
]
GridOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--grid", help="Grid name or glob (see `zoo runs`); repeatable, e.g. --grid demo.", rich_help_panel=SELECT
    ),
]
SourceOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--source",
        help=f"Checkpoint source ({', '.join(CHECKPOINT_SOURCES)}); repeatable, e.g. --source run.",
        rich_help_panel=SELECT,
    ),
]
TrialOpt = Annotated[
    Optional[list[int]],
    typer.Option("--trial", help="Trial number; repeatable, e.g. --trial 0.", rich_help_panel=SELECT),
]
EpochOpt = Annotated[
    Optional[int],
    typer.Option("--epoch", help="Only checkpoints of this epoch, e.g. --epoch 2.", rich_help_panel=SELECT),
]
MinEpochOpt = Annotated[
    Optional[int],
    typer.Option(
        "--min-epoch",
        help="Only epochs >= this, e.g. --min-epoch 1. Fits and evaluate leave epoch-0 (reference, delta = 0) checkpoints out unless the epoch is bounded: --min-epoch 0 brings them back.",
        rich_help_panel=SELECT,
    ),
]
MaxEpochOpt = Annotated[
    Optional[int], typer.Option("--max-epoch", help="Only epochs <= this, e.g. --max-epoch 5.", rich_help_panel=SELECT)
]
WhereOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--where",
        help="Numeric condition COLUMN OP NUMBER, e.g. --where 'sharpness<0.01'; repeatable, all must hold. "
        "OP: < <= > >= = !=. Columns: " + ", ".join(WHERE_COLUMNS) + ", and any metric of the chosen --feature-set "
        "(read from that set).",
        rich_help_panel=SELECT,
    ),
]

# --- analysis ----------------------------------------------------------------------------------------------

TARGET_HELP = f"Property to predict: {', '.join(PROPERTY_NAMES)}, e.g. --target sharpness."


def target_option(default_note: str = "") -> Any:
    """The ``--target`` option: the property a meta-model predicts; ``default_note`` says what leaving it out means."""
    return typer.Option("--target", help=TARGET_HELP + (f" {default_note}" if default_note else ""))


Target = Annotated[str, target_option()]


def feature_set_option(role: str, default_note: str = "", example: str = "paper-v2") -> Any:
    """The ``--feature-set`` option: ``role`` says what the set does in this command, ``default_note`` what
    leaving it out means where the help shows no default itself."""
    default = f"; default {default_note}" if default_note else ""
    return typer.Option(
        "--feature-set",
        help=f"{role}: any registered feature set, by name or versioned key (NAME-vN){default}, "
        f"e.g. --feature-set {example}.",
    )


# --- filling the catalog -----------------------------------------------------------------------------------

REFERENCE_HELP = (
    "Where deltas are measured from: random or random:SEED, timm (pretrained, from the Hugging Face hub), "
    "hub:ORG/NAME or hub:ORG/NAME@REVISION, file:PATH. timm and hub: need the hub, or the weights in the local hub cache "
    "with HF_HUB_OFFLINE=1; offline, use e.g. --reference random:0."
)


def reference_option(default_note: str) -> Any:
    """The ``--reference`` option: what deltas are measured from; ``default_note`` says what leaving it out means."""
    return typer.Option("--reference", help=f"{REFERENCE_HELP} Default: {default_note}")


Device = Annotated[
    Optional[str],
    typer.Option(
        "--device", help="Training device: cpu, cuda, cuda:1 ... Default: CUDA when available. Example: --device cpu."
    ),
]
Grace = Annotated[
    float,
    typer.Option(
        "--grace",
        help="Seconds without a heartbeat after which other workers may re-queue this worker's runs; stored on each claim, so every worker judges a run by its own claimant's grace. Example: --grace 600.",
    ),
]
AllowPickle = Annotated[
    bool,
    typer.Option(
        "--allow-pickle",
        help="Also read .pth/.bin files, with torch.load(weights_only=True). Off: safetensors only. Example: --allow-pickle.",
    ),
]


def parse_assignments(items: list[str]) -> dict[str, object]:
    """``["a=1", "b=x"]`` → ``{"a": 1, "b": "x"}`` (numbers and true/false are converted)."""
    from zoo.errors import InvalidInput

    result: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{item!r} is not KEY=VALUE")
        result[key.strip()] = _convert(raw.strip())
    return result


def _convert(raw: str) -> object:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def option_given(ctx: typer.Context, name: str) -> bool:
    """Whether the user set option ``name`` (on the command line or through its environment variable)."""
    source = ctx.get_parameter_source(name)  # typer's own click: compare the enum by name
    return source is not None and source.name != "DEFAULT"


def refuse_unused(mode: str, **given: object) -> None:
    """One line for options that do nothing in ``mode``: ``given`` maps each option's flag (``workers`` for
    ``--workers``) to whether the user set it."""
    from zoo.errors import InvalidInput

    unused = [flag for flag, used in given.items() if used]
    if unused:
        flags = " and ".join("--" + f.replace("_", "-") for f in unused)
        verb = "does" if len(unused) == 1 else "do"
        raise InvalidInput(f"{flags} {verb} nothing with {mode}; leave {'it' if len(unused) == 1 else 'them'} out")
