"""Specs for ingest.weights (files, state_dicts, hub, timm_models): weights files, hub repos and timm models get into memory safely.

Hub tests run offline against a hub cache each test builds itself (see tests/hubcache.py).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import safetensors.torch
import timm
import torch
from huggingface_hub.errors import EntryNotFoundError

from hubcache import make_hub_repo, save_timm_weights, use_hub_cache
from ingest.weights import (
    HubUnavailable,
    build_model,
    download_hub_weights,
    load_state_dict_file,
    parse_hub_ref,
    random_init_model,
    timm_pretrained,
)
from ingest.weights import hub as hub_module
from zoo.errors import IntegrityError, InvalidInput, NotFound, UnsafeInput


class RunsShellOnLoad:
    """Unpickling this runs ``touch <marker>``: the classic malicious checkpoint."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty, offline hub cache that huggingface_hub and timm use for this test."""
    return use_hub_cache(monkeypatch, tmp_path / "hf" / "hub")


def tiny_state() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {"conv.weight": torch.randn(4, 3, 3, 3, generator=generator), "conv.bias": torch.zeros(4)}


def assert_same_tensors(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert got.keys() == want.keys()
    assert all(torch.equal(got[key], want[key]) for key in want)


def assert_one_line(error: pytest.ExceptionInfo[Exception], *parts: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for part in parts:
        assert part in message


# --- local files ----------------------------------------------------------------------------------------


def test_safetensors_file_round_trips(tmp_path: Path) -> None:
    safetensors.torch.save_file(tiny_state(), tmp_path / "w.safetensors")
    assert_same_tensors(load_state_dict_file(tmp_path / "w.safetensors"), tiny_state())


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda sd: {"state_dict": sd, "epoch": 3}, id="state_dict"),
        pytest.param(lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}, "step": 7}, id="model+module"),
        pytest.param(lambda sd: {f"module._orig_mod.{k}": v for k, v in sd.items()}, id="ddp+compile"),
        pytest.param(lambda sd: {"state_dict": {f"model.{k}": v for k, v in sd.items()}}, id="lightning"),
        pytest.param(lambda sd: {f"_orig_mod.module.{k}": v for k, v in sd.items()}, id="compile+ddp"),
        pytest.param(lambda sd: {**sd, "note": "hello", "sizes": [1, 2]}, id="non-tensor-entries"),
    ],
)
def test_wrapped_and_prefixed_checkpoints_give_the_plain_state_dict(tmp_path: Path, wrap: Callable) -> None:
    torch.save(wrap(tiny_state()), tmp_path / "w.pth")
    assert_same_tensors(load_state_dict_file(tmp_path / "w.pth", allow_pickle=True), tiny_state())


def test_a_prefix_only_some_keys_have_is_kept(tmp_path: Path) -> None:
    state = {"module.weight": torch.ones(1), "head.weight": torch.ones(1)}
    safetensors.torch.save_file(state, tmp_path / "w.safetensors")
    assert load_state_dict_file(tmp_path / "w.safetensors").keys() == state.keys()


def test_a_prefixed_file_loads_builds_and_gives_its_first_conv(tmp_path: Path) -> None:
    from ingest.first_conv import first_conv_weight

    model = timm.create_model("resnet18", pretrained=False, num_classes=4)
    wrapped = {f"model.module.{k}": v for k, v in model.state_dict().items()}
    safetensors.torch.save_file(wrapped, tmp_path / "w.safetensors")
    loaded = load_state_dict_file(tmp_path / "w.safetensors")
    assert set(loaded) == set(model.state_dict())
    built = build_model("resnet18", loaded)
    assert built.num_classes == 4
    assert torch.equal(torch.from_numpy(first_conv_weight(built)), model.conv1.weight.detach())


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin", ".ckpt"])
def test_pickle_files_are_refused_without_allow_pickle(tmp_path: Path, suffix: str) -> None:
    torch.save(tiny_state(), tmp_path / f"w{suffix}")
    with pytest.raises(UnsafeInput) as error:
        load_state_dict_file(tmp_path / f"w{suffix}")
    assert_one_line(error, "allow_pickle=True")
    assert error.value.params == ("allow_pickle",)  # the CLI writes it as --allow-pickle


def test_pickle_files_are_read_with_allow_pickle(tmp_path: Path) -> None:
    torch.save(tiny_state(), tmp_path / "w.pth")
    assert_same_tensors(load_state_dict_file(tmp_path / "w.pth", allow_pickle=True), tiny_state())


@pytest.mark.parametrize("container", ["torch-zip", "raw-pickle"])
def test_a_pickle_that_runs_code_is_refused_and_never_runs(tmp_path: Path, container: str) -> None:
    marker, path = tmp_path / "pwned", tmp_path / "evil.pth"
    if container == "torch-zip":
        torch.save({"weight": torch.ones(1), "bias": RunsShellOnLoad(marker)}, path)
    else:  # a plain pickle, as an attacker would write it by hand
        path.write_bytes(pickle.dumps({"bias": RunsShellOnLoad(marker)}, protocol=2))
    with pytest.raises(UnsafeInput) as error:
        load_state_dict_file(path, allow_pickle=True)
    assert_one_line(error, "refused", "system")
    assert not marker.exists()
    # The payload is live: a full unpickle does run it, so the refusal above is what protected us.
    if container == "torch-zip":
        torch.load(path, weights_only=False)
    else:
        pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda p: p, "does not exist", id="missing"),
        pytest.param(lambda p: (p.mkdir(), p)[1], "is a directory", id="directory"),
        pytest.param(lambda p: (p.write_bytes(b""), p)[1], "is empty", id="empty"),
        pytest.param(lambda p: (p.write_bytes(b"not safetensors"), p)[1], "not a safetensors file", id="garbage"),
        pytest.param(
            lambda p: (p.write_bytes(b"x"), p.rename(p.with_suffix(".npz")), p.with_suffix(".npz"))[2],
            "give a .safetensors file",
            id="suffix",
        ),
    ],
)
def test_unusable_files_are_invalid_input(tmp_path: Path, make: Callable, expected: str) -> None:
    path = make(tmp_path / "w.safetensors")
    with pytest.raises(InvalidInput) as error:
        load_state_dict_file(path)
    assert not isinstance(error.value, UnsafeInput)
    assert_one_line(error, expected)


def test_a_damaged_pickle_is_invalid_not_unsafe(tmp_path: Path) -> None:
    (tmp_path / "w.pth").write_bytes(b"hello world, not a checkpoint")
    with pytest.raises(InvalidInput) as error:
        load_state_dict_file(tmp_path / "w.pth", allow_pickle=True)
    assert not isinstance(error.value, UnsafeInput)
    assert_one_line(error, "not a readable PyTorch checkpoint")


def test_a_file_without_tensors_is_invalid_input(tmp_path: Path) -> None:
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "w.pth")
    with pytest.raises(InvalidInput) as error:
        load_state_dict_file(tmp_path / "w.pth", allow_pickle=True)
    assert_one_line(error, "holds no tensors")


# --- building models ------------------------------------------------------------------------------------


def test_build_model_infers_the_classifier_width_and_loads_the_weights() -> None:
    source = timm.create_model("resnet18", num_classes=10)
    model = build_model("resnet18", source.state_dict())
    assert model.fc.out_features == 10
    assert_same_tensors(model.state_dict(), source.state_dict())


@pytest.mark.parametrize("size", [64, 96])
def test_a_vision_transformer_trained_at_another_image_size_builds_at_that_size(size: int) -> None:
    """Its position table has (size / 16)² patch rows plus the class token: that says which size to build."""
    source = timm.create_model("vit_tiny_patch16_224", num_classes=10, img_size=size)
    model = build_model("vit_tiny_patch16_224", source.state_dict())
    assert model.patch_embed.img_size == (size, size)
    assert_same_tensors(model.state_dict(), source.state_dict())


def test_a_position_table_of_no_square_grid_is_refused_in_one_line() -> None:
    state = timm.create_model("vit_tiny_patch16_224", num_classes=10, img_size=64).state_dict()
    state["pos_embed"] = torch.zeros(1, 20, 192)  # 19 patches: no square grid
    with pytest.raises(InvalidInput) as error:
        build_model("vit_tiny_patch16_224", state)
    assert_one_line(error, "pos_embed expects (1, 197, 192), found (1, 20, 192)")


def test_build_model_without_a_classifier_builds_a_headless_model() -> None:
    full = timm.create_model("resnet18", num_classes=10).state_dict()
    state = {key: value for key, value in full.items() if not key.startswith("fc.")}
    assert build_model("resnet18", state).num_classes == 0


def test_build_model_names_tensors_whose_shapes_do_not_fit() -> None:
    state = timm.create_model("resnet18", num_classes=10).state_dict()
    state["conv1.weight"] = torch.zeros(64, 1, 7, 7)
    with pytest.raises(InvalidInput) as error:
        build_model("resnet18", state)
    assert_one_line(error, "1 tensor(s)", "conv1.weight expects (64, 3, 7, 7), found (64, 1, 7, 7)")


def test_build_model_counts_missing_and_unexpected_keys_unless_not_strict() -> None:
    state = timm.create_model("resnet18", num_classes=10).state_dict()
    del state["layer1.0.conv1.weight"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(InvalidInput) as error:
        build_model("resnet18", state)
    assert_one_line(error, "1 missing key(s) (e.g. layer1.0.conv1.weight)", "1 unexpected key(s) (e.g. extra.weight)")
    assert build_model("resnet18", state, strict=False).fc.out_features == 10


@pytest.mark.parametrize("build", [build_model, lambda arch: random_init_model(arch, seed=0)])
def test_an_unknown_architecture_lists_close_matches(build: Callable) -> None:
    with pytest.raises(NotFound) as error:
        build("resnt18")
    assert_one_line(error, "resnt18", "resnet18")


def test_random_init_is_deterministic_per_seed_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first, again, other = (random_init_model("resnet18", seed, num_classes=10) for seed in (7, 7, 8))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert_same_tensors(first.state_dict(), again.state_dict())
    assert not torch.equal(first.conv1.weight, other.conv1.weight)
    assert first.fc.out_features == 10


# --- hub repos ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("timm/resnet18.a1_in1k", ("timm/resnet18.a1_in1k", None)),
        ("org/name@main", ("org/name", "main")),
        ("org/name@refs/pr/1", ("org/name", "refs/pr/1")),
        (f"org/name@{'a' * 40}", ("org/name", "a" * 40)),
    ],
)
def test_parse_hub_ref_splits_repo_and_revision(ref: str, expected: tuple[str, str | None]) -> None:
    assert parse_hub_ref(ref) == expected


@pytest.mark.parametrize(
    "ref", ["name-only", "a/b/c", "org/", "/name", "org/na me", "org/-name", "org/a--b", "org/name@", "org/name@../x"]
)
def test_parse_hub_ref_rejects_malformed_references(ref: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_hub_ref(ref)
    assert_one_line(error)


def test_download_offline_by_main_and_by_commit(hub: Path) -> None:
    data = safetensors.torch.save(tiny_state())
    commit = make_hub_repo(hub, "org/tiny", {"model.safetensors": data, "README.md": b"hi"})
    for revision in (None, "main", commit):
        weights = download_hub_weights("org/tiny", revision)
        assert (weights.repo_id, weights.revision, weights.filename) == ("org/tiny", commit, "model.safetensors")
        assert weights.sha256 == hashlib.sha256(data).hexdigest()
        assert_same_tensors(load_state_dict_file(weights.path), tiny_state())


def test_download_takes_an_explicit_cache_dir(tmp_path: Path, hub: Path) -> None:
    files = {"model.safetensors": safetensors.torch.save(tiny_state())}
    commit = make_hub_repo(tmp_path / "elsewhere", "org/tiny", files)
    assert download_hub_weights("org/tiny", cache_dir=tmp_path / "elsewhere").revision == commit


def test_download_prefers_safetensors_over_pickle(hub: Path, tmp_path: Path) -> None:
    torch.save(tiny_state(), tmp_path / "w.bin")
    files = {
        "pytorch_model.bin": (tmp_path / "w.bin").read_bytes(),
        "model.safetensors": safetensors.torch.save(tiny_state()),
    }
    make_hub_repo(hub, "org/both", files)
    assert download_hub_weights("org/both", allow_pickle=True).filename == "model.safetensors"


def test_a_pickle_only_repo_needs_allow_pickle(hub: Path, tmp_path: Path) -> None:
    torch.save(tiny_state(), tmp_path / "w.bin")
    make_hub_repo(hub, "org/old", {"pytorch_model.bin": (tmp_path / "w.bin").read_bytes()})
    with pytest.raises(UnsafeInput) as error:
        download_hub_weights("org/old")
    assert_one_line(error, "pytorch_model.bin", "allow_pickle=True")
    weights = download_hub_weights("org/old", allow_pickle=True)
    assert weights.filename == "pytorch_model.bin"
    assert_same_tensors(load_state_dict_file(weights.path, allow_pickle=True), tiny_state())


def test_online_a_pickle_only_repo_is_named_from_the_file_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_file(repo_id: str, filename: str, **kwargs: object) -> str:
        raise EntryNotFoundError(f"{repo_id} has no {filename}")  # what the hub answers for a missing file

    monkeypatch.setattr(hub_module, "hf_hub_download", no_such_file)
    monkeypatch.setattr(hub_module.HfApi, "list_repo_files", lambda self, repo_id, revision=None: ["pytorch_model.bin"])
    with pytest.raises(UnsafeInput) as error:
        download_hub_weights("org/old")
    assert_one_line(error, "pytorch_model.bin", "allow_pickle=True")


def test_a_repo_missing_offline_is_a_one_line_not_found(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "get_session", lambda: pytest.fail("offline mode must not touch the network"))
    with pytest.raises(HubUnavailable) as error:
        download_hub_weights("org/absent")
    assert isinstance(error.value, NotFound)
    assert_one_line(
        error,
        "org/absent is not in the local hub cache",
        "HF_HUB_OFFLINE is set",
        "unset HF_HUB_OFFLINE to download it",
        "HF_HOME",
    )


def test_an_unknown_revision_offline_names_the_cached_ones(hub: Path) -> None:
    make_hub_repo(hub, "org/tiny", {"model.safetensors": safetensors.torch.save(tiny_state())})
    with pytest.raises(NotFound) as error:
        download_hub_weights("org/tiny", "v2")
    assert_one_line(error, "revision 'v2'", "cached: main")


def test_a_damaged_cached_file_is_an_integrity_error(hub: Path) -> None:
    data = safetensors.torch.save(tiny_state())
    make_hub_repo(hub, "org/tiny", {"model.safetensors": data})
    (hub / "models--org--tiny" / "blobs" / hashlib.sha256(data).hexdigest()).write_bytes(data[:-1] + b" ")
    with pytest.raises(IntegrityError) as error:
        download_hub_weights("org/tiny")
    assert_one_line(error, "fetch it again")


# --- timm pretrained ------------------------------------------------------------------------------------


def test_timm_pretrained_loads_cached_weights_offline_and_says_where_from(hub: Path) -> None:
    commit = save_timm_weights(hub, "resnet18")
    model, info = timm_pretrained("resnet18")
    cached = hub / "models--timm--resnet18.a1_in1k" / "snapshots" / commit / "model.safetensors"
    assert (info.tag, info.hf_hub_id, info.revision) == ("resnet18.a1_in1k", "timm/resnet18.a1_in1k", commit)
    assert (info.filename, info.sha256) == ("model.safetensors", hashlib.sha256(cached.read_bytes()).hexdigest())
    assert_same_tensors(model.state_dict(), safetensors.torch.load_file(cached))


def test_timm_pretrained_weights_not_cached_offline_say_how_to_fix(hub: Path) -> None:
    with pytest.raises(HubUnavailable) as error:
        timm_pretrained("resnet18")
    assert_one_line(
        error,
        "resnet18",
        "not in the local hub cache",
        "HF_HUB_OFFLINE is set",
        "unset HF_HUB_OFFLINE to download it",
        "HF_HOME",
    )


def test_timm_pretrained_rejects_unknown_architectures_and_tags(hub: Path) -> None:
    with pytest.raises(NotFound) as error:
        timm_pretrained("resnet18.no_such_tag")
    assert_one_line(error, "resnet18.a1_in1k")
