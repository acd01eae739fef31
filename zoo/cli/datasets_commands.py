"""``zoo datasets``: register image collections, measure their variants, preview them."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.text import Text

from zoo.cli.options import DEFAULT_SAMPLES, AsJson, parse_assignments
from zoo.cli.progress import make_progress
from zoo.cli.render import console, emit_json, emit_rows, say
from zoo.cli.state import open_catalog
from zoo.errors import InvalidInput
from zoo.vocabulary import PROPERTY_NAMES

app = typer.Typer(
    help="Register image datasets, measure their variants' properties, preview them.", no_args_is_help=True
)

PROPERTY_COLUMNS = PROPERTY_NAMES


@app.command("add")
def add_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name to register the dataset under (letters, digits, - _ .).")],
    source: Annotated[str, typer.Option(help="Image source: natural (built in), shapes (built in) or folder.")],
    root: Annotated[Optional[Path], typer.Option(help="For --source folder: a class-per-subfolder directory.")] = None,
    allowed_root: Annotated[
        Optional[Path],
        typer.Option(
            envvar="ZOO_DATA_ROOT",
            help="For --source folder: refuse images (or symlinks) outside this folder. Default: --root itself.",
        ),
    ] = None,
    param: Annotated[
        Optional[list[str]],
        typer.Option("--param", help="Source parameter KEY=VALUE, repeatable (e.g. n_per_class=50, scale=0.5)."),
    ] = None,
    image_size: Annotated[
        int, typer.Option(help="Square size the images are stored and trained at (paper: 224).")
    ] = 224,
    seed: Annotated[int, typer.Option(help="Seed for crops, rendering and variant noise.")] = 0,
    samples: Annotated[
        int, typer.Option(help="Images per variant to measure (paper: 2000; fewer if the set is smaller).")
    ] = DEFAULT_SAMPLES,
    measure: Annotated[bool, typer.Option(help="Measure the variants' properties right away.")] = True,
) -> None:
    """Register a base dataset and its 20 paper variants (and measure them).

    Examples: zoo datasets add natural-64 --source natural --image-size 64 --param n_per_class=40;
    zoo datasets add imagenette --source folder --root ~/data/imagenette/train
    """
    from zoo.datasets import add_dataset

    params: dict[str, Any] = parse_assignments(param or [])
    for flag, folder in (("--root", root), ("--allowed-root", allowed_root)):
        if folder is not None and not folder.expanduser().is_dir():
            what = "is not a folder" if folder.expanduser().exists() else "does not exist"
            raise InvalidInput(f"{flag}: folder {folder} {what}; give a folder with one sub-folder of images per class")
    if root is not None:
        params["root"] = str(root.expanduser().resolve())
        params["allowed_root"] = str((allowed_root or root).expanduser().resolve())
    catalog = open_catalog(ctx)
    dataset, created = add_dataset(catalog, name, source, params, image_size=image_size, seed=seed)
    console.print(
        f"{'added' if created else 'already registered:'} {name}: {dataset.n_images} images, "
        f"{dataset.n_classes} classes, {len(dataset.variants)} variants"
    )
    for path, reason in dataset.skipped:
        say(Text.assemble(("skipped", "yellow"), f" {path}: {reason}"))
    if measure:
        _measure(catalog, name, samples)


def _measure(catalog: Any, name: str, samples: int) -> None:
    from zoo.datasets import get_dataset, measure_dataset

    with make_progress() as progress:
        task = progress.add_task(f"measuring {name}", total=len(get_dataset(catalog, name).variants), info="")
        summary = measure_dataset(
            catalog, name, n_samples=samples, progress=lambda v: progress.update(task, advance=1, info=v)
        )
    console.print(f"{name}: measured {summary.variants_measured} variants, {summary.variants_current} already current")


@app.command("measure")
def measure_command(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Argument(help="Dataset to measure; default all.")] = None,
    samples: Annotated[int, typer.Option(help="Images per variant to measure.")] = DEFAULT_SAMPLES,
) -> None:
    """Measure sharpness, noisiness, colour (and known object scale) of every variant not yet measured
    by the current method version. Idempotent.

    Example: zoo datasets measure natural-64
    """
    from zoo.datasets import get_dataset, list_datasets

    catalog = open_catalog(ctx)
    for dataset in [get_dataset(catalog, name)] if name else list_datasets(catalog):
        _measure(catalog, dataset.name, samples)


@app.command("list")
def list_command(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Argument(help="Only this dataset.")] = None,
    as_json: AsJson = False,
) -> None:
    """List datasets and their variants with the measured properties.

    Example: zoo datasets list --json
    """
    from zoo.datasets import get_dataset, list_datasets

    catalog = open_catalog(ctx)
    datasets = [get_dataset(catalog, name)] if name else list_datasets(catalog)
    if as_json:
        emit_json([asdict(d) for d in datasets])
        return
    for d in datasets:
        rows = [[v.name, v.kind, *(v.property(p) for p in PROPERTY_COLUMNS)] for v in d.variants]
        title = f"{d.name}: {d.source_kind}, {d.n_images} images, {d.n_classes} classes, {d.image_size}px" + (
            " (grayscale)" if d.grayscale else ""
        )
        emit_rows(["variant", "kind", *PROPERTY_COLUMNS], rows, title=title)
    if not datasets:
        console.print("no datasets yet; add one with `zoo datasets add NAME --source natural`")


@app.command("preview")
def preview_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset to preview.")],
    png: Annotated[Path, typer.Option(help="PNG file to write.")],
    per_variant: Annotated[int, typer.Option(help="Sample images per variant row.")] = 6,
) -> None:
    """Write a PNG grid of sample images, one row per variant (the paper's Figure 2).

    Example: zoo datasets preview shapes-32 --png shapes.png
    """
    from zoo.datasets import preview_dataset

    path = preview_dataset(open_catalog(ctx), name, png, per_variant=per_variant)
    console.print(f"wrote {path}")
