"""How zoo's predictions hold up on models trained *some other way* than the catalog's runs.

zoo's own scores (``zoo report``, ``zoo evaluate``) test on checkpoints the catalog's worker trained. A user's
model comes from another pipeline: another optimiser, learning rate, length, image size, architecture family
and kind of data. This script plays that user. It trains a small set of timm models with its own plain
PyTorch loop (nothing from zoo's worker, transforms or datasets), on other photographs than the catalog's
(scikit-image's coins, moon, page, text, clock, cell, retina, colorwheel, microaneurysms and a phantom), with
its own blur and noise, SGD or AdamW, 40 or 64 px, 8 to 24 steps. It measures each model's true training-data
properties on the images it trained on (zoo's sharpness and noisiness definitions, the paper's §3.1), saves
``model.safetensors`` and ``init.safetensors`` (the starting weights), then asks ``zoo predict`` for each
model, delta measured from its real starting weights (``--reference file:init.safetensors``: zoo checks that
the file looks like a random initialisation, the kind the catalog's references are), once per feature set.

Printed per feature set and target: R² of the log target, Spearman's ρ, the median factor between predicted
and true value, the share of true values inside the predicted 5-95 % interval (a calibrated interval covers
about 90 %), and the share of models zoo calls "in domain"; then the same split by seen and unseen
architecture. It measures transfer to *this* other pipeline only, with few models (a ± of ~0.1 on R²);
it does not measure pretrained references, long training or 224 px.

Usage::

    .venv/bin/python benchmarks/transfer_check.py [--db URL] [--out DIR] [--feature-sets paper-v1,paper-v2]

The catalog (``--db``, default ``$ZOO_DATABASE_URL`` or ``./.zoo/catalog.db``, e.g. the demo's) must hold
trained checkpoints; ``zoo predict`` stores the fits it makes there. Models are trained once into ``--out``
(default ``./transfer-models``) and reused on later runs (``--retrain`` trains them again).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# The outside pipeline's choices: every one differs from the demo grid's (Adam, 32/48 px, 1-2 steps of 64).
PHOTOS = (
    "coins",
    "moon",
    "page",
    "text",
    "clock",
    "cell",
    "retina",
    "colorwheel",
    "microaneurysms",
    "shepp_logan_phantom",
)
SEEN_ARCHS = ("resnet18", "mobilenetv3_large_100")
UNSEEN_ARCHS = ("resnet34", "efficientnet_b0", "vit_tiny_patch16_224")  # the ViT: 16x16 kernels, no BN
RECIPES = (
    {"optimizer": "sgd", "lr": 0.01, "steps": 24, "image_size": 64},
    {"optimizer": "sgd", "lr": 0.05, "steps": 8, "image_size": 40},
    {"optimizer": "adamw", "lr": 5e-4, "steps": 16, "image_size": 64},
    {"optimizer": "adamw", "lr": 2e-3, "steps": 8, "image_size": 40},
)
# (name, blur sigma in px, per-step noise sigma in [0, 1] pixel units)
VARIANTS = (
    ("clean", 0.0, 0.0),
    ("blur-0.8", 0.8, 0.0),
    ("blur-1.6", 1.6, 0.0),
    ("blur-3", 3.0, 0.0),
    ("noise-0.04", 0.0, 0.04),
    ("noise-0.12", 0.0, 0.12),
    ("noise-0.35", 0.0, 0.35),
    ("noise-0.8", 0.0, 0.8),
)
BATCH = 16
POOL = 48  # crops per photograph
TARGETS = ("sharpness", "noisiness")


@dataclass(frozen=True)
class OutsideModel:
    name: str
    arch: str
    seen_arch: bool
    variant: str
    blur: float
    noise: float
    optimizer: str
    lr: float
    steps: int
    image_size: int
    sharpness: float
    noisiness: float
    model: str
    init: str


def _photo_pool(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random square crops of the outside photographs, resized to ``size``: float32 (n, 3, size, size) in [0, 1]."""
    import skimage.data
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for label, name in enumerate(PHOTOS):
        image = np.asarray(getattr(skimage.data, name)()).astype(np.float32)
        image = image / (255.0 if image.max() > 1.5 else 1.0)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        image = image[..., :3]
        h, w = image.shape[:2]
        for _ in range(POOL):
            side = int(min(h, w) * rng.uniform(0.25, 0.6))
            top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
            crop = torch.from_numpy(np.ascontiguousarray(image[top : top + side, left : left + side])).permute(2, 0, 1)
            crops.append(F.interpolate(crop[None], size=(size, size), mode="area")[0])
            labels.append(label)
    return torch.stack(crops).numpy(), np.asarray(labels)


def _blur(images, sigma: float):  # type: ignore[no-untyped-def]
    """Separable Gaussian blur with reflect padding (torch, (n, 3, h, w))."""
    import torch
    import torch.nn.functional as F

    if sigma <= 0:
        return images
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).to(images)
    c = images.shape[1]
    out = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def _seen_images(pool, blur: float, noise: float, generator):  # type: ignore[no-untyped-def]
    import torch

    images = _blur(pool, blur)
    if noise > 0:
        images = images + noise * torch.randn(images.shape, generator=generator)
    return images


def _measure(pool, blur: float, noise: float, seed: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """zoo's sharpness and noisiness of the images as the model saw them (one noise draw), means over images."""
    import torch

    from zoo.images.properties import noise_sigma, sharpness

    images = _seen_images(pool, blur, noise, torch.Generator().manual_seed(seed)).permute(0, 2, 3, 1).numpy()
    return float(np.mean(sharpness(images))), float(np.mean(noise_sigma(images)))


def _train_one(arch: str, recipe: dict, blur: float, noise: float, seed: int, folder: Path) -> tuple[float, float]:
    """Train with a plain loop; save init and model weights; return the true (sharpness, noisiness)."""
    import timm
    import torch
    from safetensors.torch import save_file

    pool_np, labels_np = _photo_pool(recipe["image_size"], seed)
    pool, labels = torch.from_numpy(pool_np), torch.from_numpy(labels_np)
    torch.manual_seed(seed)
    size = {"img_size": recipe["image_size"]} if arch.startswith("vit") else {}  # a ViT is built for its input size
    model = timm.create_model(arch, pretrained=False, num_classes=len(PHOTOS), **size)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, str(folder / "init.safetensors")
    )
    if recipe["optimizer"] == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=0.9, weight_decay=5e-4)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=0.05)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    generator = torch.Generator().manual_seed(seed + 1)
    model.train()
    for _ in range(recipe["steps"]):
        index = torch.randint(0, len(pool), (BATCH,), generator=generator)
        batch = _seen_images(pool[index], blur, noise, generator)
        if torch.rand((), generator=generator) < 0.5:
            batch = batch.flip(-1)
        loss = torch.nn.functional.cross_entropy(model((batch - mean) / std), labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    save_file(
        {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors")
    )
    return _measure(pool, blur, noise, seed + 2)


def train_outside_models(out: Path, retrain: bool) -> list[OutsideModel]:
    """Train the plan's models into ``out`` (those already in its manifest are reused unless ``retrain``)."""
    manifest = out / "manifest.json"
    known = {}
    if manifest.exists() and not retrain:
        known = {row["name"]: OutsideModel(**row) for row in json.loads(manifest.read_text())}
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    models, started = [], time.perf_counter()
    plan = [(arch, variant) for arch in SEEN_ARCHS + UNSEEN_ARCHS for variant in VARIANTS]
    for i, (arch, (variant, blur, noise)) in enumerate(plan):
        recipe = RECIPES[(i + i // len(VARIANTS)) % len(RECIPES)]  # every arch meets every recipe
        name = f"{arch}-{variant}-{recipe['optimizer']}-{recipe['lr']:g}"
        if name in known:
            models.append(known[name])
            continue
        folder = out / name
        sharp, noisy = _train_one(arch, recipe, blur, noise, 1000 + i, folder)
        models.append(
            OutsideModel(
                name, arch, arch in SEEN_ARCHS, variant, blur, noise, recipe["optimizer"], recipe["lr"],
                recipe["steps"], recipe["image_size"], sharp, noisy,
                str(folder / "model.safetensors"), str(folder / "init.safetensors"),
            )
        )  # fmt: skip
        print(
            f"trained {i + 1}/{len(plan)} {name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True
        )
        out.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps([asdict(m) for m in models], indent=1))  # after each: an interrupted run resumes
    manifest.write_text(json.dumps([asdict(m) for m in models], indent=1))
    return models


def _scores(truth: np.ndarray, predicted: np.ndarray, low: np.ndarray, high: np.ndarray, domain: np.ndarray) -> dict:
    from scipy.stats import spearmanr

    lt, lp = np.log(truth), np.log(predicted)
    r2 = 1 - np.sum((lt - lp) ** 2) / np.sum((lt - lt.mean()) ** 2) if len(lt) > 1 and np.ptp(lt) > 0 else math.nan
    return {
        "n": len(truth),
        "r2_log": float(r2),
        "spearman": float(spearmanr(truth, predicted).statistic) if len(truth) > 2 else math.nan,
        "median_factor": float(np.exp(np.median(np.abs(lt - lp)))),
        "coverage": float(np.mean((truth >= low) & (truth <= high))),
        "in_domain": float(np.mean(domain)),
    }


def evaluate(catalog, models: list[OutsideModel], feature_sets: list[str]) -> list[dict]:  # type: ignore[no-untyped-def]
    from ingest.predict_file import predict_model

    rows = []
    for fs in feature_sets:
        predicted: dict[str, list] = {t: [] for t in TARGETS}
        for model in models:
            made = predict_model(
                catalog, "file", model.model, model.arch, f"file:{model.init}",
                targets=TARGETS, feature_set=fs,
            )  # fmt: skip
            for p in made.predictions:
                predicted[p.target].append((p.value, p.low, p.high, bool(p.in_domain)))
        for target in TARGETS:
            truth = np.array([getattr(m, target) for m in models])
            value, low, high, domain = (np.array(column) for column in zip(*predicted[target]))
            seen = np.array([m.seen_arch for m in models])
            archs = np.array([m.arch for m in models])
            parts = [("all", np.ones_like(seen)), ("seen archs", seen), ("unseen archs", ~seen)]
            parts += [(arch, archs == arch) for arch in SEEN_ARCHS + UNSEEN_ARCHS]
            for part, mask in parts:
                scores = _scores(truth[mask], value[mask], low[mask], high[mask], domain[mask])
                rows.append({"feature_set": fs, "target": target, "models": part, **scores})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="catalog URL (default: $ZOO_DATABASE_URL or ./.zoo/catalog.db)")
    parser.add_argument("--out", default="transfer-models", help="folder for the outside models")
    parser.add_argument("--feature-sets", default="paper-v1,paper-v2", help="comma-separated feature sets")
    parser.add_argument("--retrain", action="store_true", help="train the outside models again")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()

    from zoo.catalog import Catalog
    from zoo.config import artifacts_location, database_url

    models = train_outside_models(Path(args.out), args.retrain)
    catalog = Catalog.open(database_url(args.db), artifacts=artifacts_location(None))
    try:
        rows = evaluate(catalog, models, [s.strip() for s in args.feature_sets.split(",") if s.strip()])
    finally:
        catalog.close()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(
        f"{len(models)} models trained outside zoo (archs seen: {', '.join(SEEN_ARCHS)}; unseen: {', '.join(UNSEEN_ARCHS)})"
    )
    print(
        "| Feature set | Target | Models | n | R² log | Spearman ρ | median ×/÷ factor | 5-95 % coverage | in domain |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['feature_set']} | {r['target']} | {r['models']} | {r['n']} | {r['r2_log']:.3f} | "
            f"{r['spearman']:.3f} | {r['median_factor']:.2f} | {r['coverage']:.0%} | {r['in_domain']:.0%} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
