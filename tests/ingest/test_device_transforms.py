"""The torch (training-device) transforms agree with the numpy ones, variant by variant.

Tolerance: ``atol = 1e-5`` in [0, 1] pixel units for every variant. Both forms apply the same float32
matrices (or add the same float32 noise draw), so they differ only by float32 summation order
(observed <= 2e-7); 1e-5 is 50x that and still 400x below one 8-bit grey level. Noise is compared on
the SAME draw: the numpy draw is passed to the torch form as ``noise=``; the torch form's own draws
are checked on their statistics.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

from ingest.device_transforms import apply_transform_torch
from zoo.errors import InvalidInput, NotFound
from zoo.images.sources import load_source
from zoo.images.transforms import PAPER_VARIANTS, apply_transform, paper_variants, transform_kinds

ATOL = 1e-5
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# The paper's 20, and the noise variants drawn once per image (clipped, 8-bit) as a saved dataset.
ALL_VARIANTS = PAPER_VARIANTS + tuple(v for v in paper_variants("fixed") if v.kind == "noise")


@lru_cache(maxsize=1)
def _real_images() -> np.ndarray:
    crops = load_source("natural", image_size=40, seed=3, n_per_class=1, photos=("astronaut", "coffee", "camera"))
    return crops.images.astype(np.float32) / 255


def image_batches() -> dict[str, np.ndarray]:
    random = np.random.default_rng(11).random((3, 36, 44, 3), dtype=np.float32)  # non-square on purpose
    return {"random": random, "real": _real_images().copy()}


def to_torch(images: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).to(device)


def to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", ["random", "real"])
@pytest.mark.parametrize("variant", ALL_VARIANTS, ids=lambda v: v.name + ("-fixed" if "draw" in v.params else ""))
def test_torch_form_matches_numpy_form_given_the_same_noise_draw(variant, batch: str, device: str) -> None:
    images = image_batches()[batch]
    expected = apply_transform(variant.kind, variant.params, images, np.random.default_rng(5))
    draw = np.random.default_rng(5).standard_normal(images.shape, dtype=np.float32)  # the draw numpy made
    out = apply_transform_torch(variant.kind, variant.params, to_torch(images, device), noise=to_torch(draw, device))
    assert out.device.type == device and out.dtype == torch.float32 and out.shape == to_torch(images, "cpu").shape
    np.testing.assert_allclose(to_numpy(out), expected, rtol=0, atol=ATOL)


def test_every_registered_kind_runs_on_torch() -> None:
    x = to_torch(image_batches()["random"], "cpu")
    for kind in transform_kinds():
        variant = next(v for v in PAPER_VARIANTS if v.kind == kind)
        assert apply_transform_torch(kind, variant.params, x, torch.Generator().manual_seed(0)).shape == x.shape


@pytest.mark.parametrize("variant", [v for v in PAPER_VARIANTS if v.kind == "blur"], ids=lambda v: v.name)
def test_blur_is_torchvision_gaussian_blur_with_reflect_padding(variant) -> None:
    x = to_torch(image_batches()["real"], "cpu")
    k, s = variant.params["kernel"], variant.params["sigma"]
    expected = TF.gaussian_blur(x, [k, k], [s, s])
    torch.testing.assert_close(apply_transform_torch(variant.kind, variant.params, x), expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("variant", [v for v in PAPER_VARIANTS if v.kind in ("dilate", "resize")], ids=lambda v: v.name)
def test_resizes_follow_torch_antialiased_bilinear_interpolation(variant) -> None:
    x = to_torch(image_batches()["random"], "cpu")
    h, w = x.shape[2:]
    f = variant.params["factor"]
    size = (max(1, int(h * f + 1e-9)), max(1, int(w * f + 1e-9)))
    scaled = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    if variant.kind == "dilate":
        expected = TF.center_crop(scaled, [h, w])
    else:
        expected = F.interpolate(scaled, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    torch.testing.assert_close(apply_transform_torch(variant.kind, variant.params, x), expected, rtol=0, atol=ATOL)


def test_torch_noise_is_seeded_unclipped_and_has_the_requested_sigma() -> None:
    x = torch.full((4, 3, 32, 32), 0.5)
    first = apply_transform_torch("noise", {"sigma": 0.75}, x, torch.Generator().manual_seed(1))
    again = apply_transform_torch("noise", {"sigma": 0.75}, x, torch.Generator().manual_seed(1))
    other = apply_transform_torch("noise", {"sigma": 0.75}, x, torch.Generator().manual_seed(2))
    assert torch.equal(first, again) and not torch.equal(first, other)
    added = first - x
    assert added.std().item() == pytest.approx(0.75, rel=0.05) and abs(added.mean().item()) < 0.05
    assert first.min() < 0 and first.max() > 1


def test_input_tensor_is_not_modified() -> None:
    x = to_torch(image_batches()["real"], "cpu")
    before = x.clone()
    for variant in PAPER_VARIANTS:
        apply_transform_torch(variant.kind, variant.params, x, torch.Generator().manual_seed(0))
    assert torch.equal(x, before)


@pytest.mark.parametrize(
    "x",
    [torch.zeros(2, 4, 8, 8), torch.zeros(3, 8, 8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8)],
    ids=["four-channels", "3d", "uint8"],
)
def test_torch_rejects_batches_that_are_not_float_bchw(x: torch.Tensor) -> None:
    with pytest.raises(InvalidInput):
        apply_transform_torch("identity", {}, x)


def test_torch_rejects_bad_params_unknown_kinds_and_misshapen_noise() -> None:
    x = torch.zeros(1, 3, 8, 8)
    with pytest.raises(InvalidInput, match="odd"):
        apply_transform_torch("blur", {"kernel": 4, "sigma": 1}, x)
    with pytest.raises(NotFound, match="blur"):
        apply_transform_torch("sharpen", {}, x)
    with pytest.raises(InvalidInput, match="noise"):
        apply_transform_torch("noise", {"sigma": 0.1}, x, noise=torch.zeros(1, 3, 8, 9))
