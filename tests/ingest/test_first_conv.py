"""Finding and reading the first convolution of timm models, built or loaded from a saved state dict."""

from __future__ import annotations

import numpy as np
import pytest
import safetensors.torch
import timm
import torch
from torch import nn

from clirunner import run_zoo
from ingest.first_conv import (
    NoFirstConvError,
    delta,
    first_conv_name,
    first_conv_weight,
)
from ingest.weights import build_model, load_state_dict_file
from zoo.errors import InvalidInput, NotFound

FIRST_CONVS = {
    "resnet18": ("conv1.weight", (64, 3, 7, 7)),
    "resnet50": ("conv1.weight", (64, 3, 7, 7)),
    "mobilenetv3_large_100": ("conv_stem.weight", (16, 3, 3, 3)),
    "convnext_tiny": ("stem.0.weight", (96, 3, 4, 4)),
    "efficientnet_b0": ("conv_stem.weight", (32, 3, 3, 3)),
    "vit_tiny_patch16_224": ("patch_embed.proj.weight", (192, 3, 16, 16)),
}
NO_CONV_ARCH = "naflexvit_base_patch16_gap"  # its patch embedding is an nn.Linear; the model has no Conv2d


@pytest.fixture(scope="module", params=sorted(FIRST_CONVS))
def arch_and_model(request):
    torch.manual_seed(0)
    return request.param, timm.create_model(request.param, pretrained=False).eval()


def test_first_conv_of_each_architecture_has_the_expected_name_and_shape(arch_and_model):
    arch, model = arch_and_model
    name, shape = FIRST_CONVS[arch]
    assert first_conv_name(model) == name
    weight = first_conv_weight(model)
    assert weight.dtype == np.float32 and weight.shape == shape
    np.testing.assert_array_equal(weight, model.get_parameter(name).detach().numpy())


def test_first_conv_weight_is_a_copy_not_a_view_of_the_model(arch_and_model):
    _, model = arch_and_model
    weight = first_conv_weight(model)
    weight[...] = 0.0
    assert first_conv_weight(model).any()


def test_saved_safetensors_state_dict_gives_the_same_filters(arch_and_model, tmp_path):
    arch, model = arch_and_model
    path = tmp_path / f"{arch}.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    loaded = build_model(arch, load_state_dict_file(path))
    assert first_conv_name(loaded) == FIRST_CONVS[arch][0]
    np.testing.assert_array_equal(first_conv_weight(loaded), first_conv_weight(model))


def test_half_precision_models_are_read_as_float32():
    model = nn.Sequential(nn.Conv2d(3, 16, 3))
    weight = first_conv_weight(model)
    for dtype in (torch.bfloat16, torch.float16):
        found = first_conv_weight(model.to(dtype))
        assert found.dtype == np.float32 and found.shape == (16, 3, 3, 3)
        np.testing.assert_allclose(found, weight, rtol=1e-2, atol=1e-2)


def test_a_state_dict_of_another_architecture_is_refused_naming_key_and_shapes():
    with pytest.raises(InvalidInput, match=r"conv1.weight expects \(64, 3, 7, 7\), found \(16, 3, 3, 3\)"):
        build_model("resnet50", {"conv1.weight": torch.zeros(16, 3, 3, 3)})


def test_an_unknown_architecture_is_not_found_with_suggestions():
    with pytest.raises(NotFound, match=r"timm has no architecture 'resnet181'; did you mean .*resnet18"):
        build_model("resnet181", {})


def test_an_architecture_without_a_convolution_raises_no_first_conv_naming_it():
    with torch.device("meta"):
        model = timm.create_model(NO_CONV_ARCH, pretrained=False)
    with pytest.raises(NoFirstConvError, match=NO_CONV_ARCH):
        first_conv_name(model)


def test_zoo_ingest_reports_a_model_without_a_convolution_in_one_line(zoo_env, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The error reaches the user as the CLI's one line and exit status 1 (the model is made conv-less by
    patching the finder, since a timm architecture without a convolution is too large to build in a test)."""
    import ingest.external

    path = tmp_path / "resnet18.safetensors"
    safetensors.torch.save_file(timm.create_model("resnet18", num_classes=10).state_dict(), str(path))
    no_conv = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    monkeypatch.setattr(ingest.external, "first_conv_weight", lambda model: first_conv_weight(no_conv))
    result = run_zoo("ingest", "--checkpoint", str(path), "--arch", "resnet18", "--reference", "random:0", expect=1)
    assert result.output.splitlines() == ["Error: Sequential has no 2-D convolution, so it has no first-layer filters"]
    assert run_zoo("query", "--json").stdout.strip() == "[]"  # nothing was catalogued


def test_a_plain_model_without_a_convolution_raises_no_first_conv():
    with pytest.raises(NoFirstConvError, match="Sequential has no 2-D convolution"):
        first_conv_name(nn.Sequential(nn.Flatten(), nn.Linear(12, 4)))


def test_without_a_timm_config_the_first_conv_in_module_order_is_used():
    model = nn.Sequential(nn.Identity(), nn.Conv2d(3, 8, 5), nn.ReLU(), nn.Conv2d(8, 8, 3))
    assert first_conv_name(model) == "1.weight"
    assert first_conv_weight(model).shape == (8, 3, 5, 5)


def test_a_configured_first_conv_given_as_a_weight_key_is_accepted():
    model = nn.Sequential(nn.Conv2d(8, 8, 3), nn.Conv2d(3, 8, 3))
    model.pretrained_cfg = {"first_conv": "1.weight"}
    assert first_conv_name(model) == "1.weight"


def test_a_meta_device_skeleton_has_a_name_but_no_weights():
    with torch.device("meta"):
        model = timm.create_model("resnet18", pretrained=False)
    assert first_conv_name(model) == "conv1.weight"
    with pytest.raises(InvalidInput, match="meta device"):
        first_conv_weight(model)


def test_delta_is_learned_minus_reference_in_float32():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((64, 3, 7, 7)).astype(np.float32)
    learned = reference + 0.01
    change = delta(learned, reference)
    assert change.dtype == np.float32 and change.shape == reference.shape
    np.testing.assert_allclose(change, 0.01, atol=1e-6)


@pytest.mark.parametrize(
    ("learned", "reference", "message"),
    [
        (np.zeros((64, 3, 7, 7)), np.zeros((96, 3, 4, 4)), r"\(64, 3, 7, 7\).*\(96, 3, 4, 4\) differ"),
        (np.zeros((64, 3, 7)), np.zeros((64, 3, 7)), "N, C, kh, kw"),
    ],
)
def test_delta_refuses_mismatched_or_malformed_shapes(learned, reference, message):
    with pytest.raises(InvalidInput, match=message):
        delta(learned, reference)
