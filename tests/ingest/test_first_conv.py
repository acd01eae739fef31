"""Finding and reading the first convolution of timm models and of saved state dicts."""

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
    first_conv_from_state_dict,
    first_conv_name,
    first_conv_weight,
)
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
    name, weight = first_conv_from_state_dict(safetensors.torch.load_file(path), arch)
    assert name == FIRST_CONVS[arch][0]
    np.testing.assert_array_equal(weight, first_conv_weight(model))


@pytest.mark.parametrize("prefix", ["module.", "model.", "module.model.", "_orig_mod."])
def test_wrapper_prefixes_in_state_dict_keys_are_accepted(prefix):
    weight = torch.randn(64, 3, 7, 7)
    state_dict = {f"{prefix}conv1.weight": weight, f"{prefix}fc.bias": torch.zeros(1000)}
    name, found = first_conv_from_state_dict(state_dict, "resnet18")
    assert name == "conv1.weight"
    np.testing.assert_array_equal(found, weight.numpy())


def test_numpy_and_half_precision_state_dicts_are_read_as_float32():
    weight = np.random.default_rng(0).standard_normal((16, 3, 3, 3))
    for value in (weight, torch.from_numpy(weight).to(torch.bfloat16), torch.from_numpy(weight).half()):
        _, found = first_conv_from_state_dict({"conv_stem.weight": value}, "mobilenetv3_large_100")
        assert found.dtype == np.float32 and found.shape == (16, 3, 3, 3)
        np.testing.assert_allclose(found, weight, rtol=1e-2, atol=1e-2)


def test_a_state_dict_of_another_architecture_is_refused_naming_key_and_shapes():
    with pytest.raises(InvalidInput, match=r"'conv1.weight' has shape \(16, 3, 3, 3\).*\(64, 3, 7, 7\)"):
        first_conv_from_state_dict({"conv1.weight": torch.zeros(16, 3, 3, 3)}, "resnet50")


def test_a_state_dict_without_the_first_conv_is_refused_naming_the_key():
    with pytest.raises(InvalidInput, match=r"no key 'stem.0.weight'.*convnext_tiny.*head.fc.weight"):
        first_conv_from_state_dict({"head.fc.weight": torch.zeros(10, 768)}, "convnext_tiny")


def test_an_unknown_architecture_is_not_found_with_suggestions():
    with pytest.raises(NotFound, match=r"timm has no architecture 'resnet181'; did you mean .*resnet18"):
        first_conv_from_state_dict({}, "resnet181")


def test_a_pretrained_tag_in_the_architecture_name_is_accepted():
    name, _ = first_conv_from_state_dict({"conv1.weight": torch.zeros(64, 3, 7, 7)}, "resnet18.a1_in1k")
    assert name == "conv1.weight"


def test_an_architecture_without_a_convolution_raises_no_first_conv_naming_it():
    with pytest.raises(NoFirstConvError, match=NO_CONV_ARCH):
        first_conv_from_state_dict({}, NO_CONV_ARCH)


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
