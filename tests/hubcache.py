"""Build a genuine Hugging Face hub cache on disk, so hub code runs offline in tests.

The layout is the one ``huggingface_hub`` writes and reads::

    <cache>/models--org--name/blobs/<sha256 of the file>
    <cache>/models--org--name/snapshots/<40-hex commit>/<file>  -> ../../blobs/<sha256>  (relative symlink)
    <cache>/models--org--name/refs/<revision>                  holds the commit hash

What a test must set
--------------------
``huggingface_hub`` reads ``HF_HOME``, ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` once, when it is imported,
into ``huggingface_hub.constants``; its download functions (and timm's, which call them) look the
constants up on every call. Setting the environment variables inside a test is therefore not enough:
``use_hub_cache(monkeypatch, cache_dir)`` sets both the variables (for subprocesses) and the constants
(for this process); the monkeypatch undoes both at teardown. Functions that take a ``cache_dir`` argument
can be given the folder directly instead, but offline mode still needs ``constants.HF_HUB_OFFLINE``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def use_hub_cache(monkeypatch: pytest.MonkeyPatch, cache_dir: Path, *, offline: bool = True) -> Path:
    """Point huggingface_hub (and timm) at ``cache_dir`` for one test; offline unless told otherwise."""
    from huggingface_hub import constants

    cache_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HF_HOME", str(cache_dir.parent))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
    monkeypatch.setattr(constants, "HF_HOME", str(cache_dir.parent))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    return cache_dir


def make_hub_repo(cache_dir: Path, repo_id: str, files: dict[str, bytes], revision: str = "main") -> str:
    """Write ``files`` as one commit of model repo ``repo_id`` into the hub cache; return the commit hash.

    ``revision`` is a branch or tag name (``refs/<revision>`` then points at the commit) or a 40-hex commit
    hash (used as the commit itself, with no ref, as the hub does after a download by hash). The commit hash
    is derived from the content, so the same call always gives the same hash.
    """
    repo = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    commit = revision if _COMMIT.match(revision) else _commit_hash(repo_id, revision, files)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
    if not _COMMIT.match(revision):
        ref = repo / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit)  # the hub writes the bare hash, no newline
    return commit


def save_timm_weights(cache_dir: Path, arch: str) -> str:
    """Cache randomly initialised weights of ``arch`` as if its default pretrained weights were downloaded.

    The repo is the one timm's default pretrained config names (``timm/resnet18.a1_in1k`` for ``resnet18``),
    holding ``model.safetensors`` (what ``timm.create_model(arch, pretrained=True)`` loads) and a small
    ``config.json`` (only read for ``hf-hub:`` model names, written so the repo looks like timm's). Returns
    the commit hash.
    """
    import safetensors.torch
    import timm

    model = timm.create_model(arch, pretrained=False)
    cfg = model.pretrained_cfg
    repo_id, _, revision = cfg["hf_hub_id"].partition("@")
    tensors = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    config = {
        "architecture": cfg["architecture"],
        "num_classes": cfg["num_classes"],
        "pretrained_cfg": {key: cfg[key] for key in ("tag", "input_size", "mean", "std") if key in cfg},
    }
    files = {
        "model.safetensors": safetensors.torch.save(tensors),
        "config.json": json.dumps(config).encode(),
    }
    return make_hub_repo(cache_dir, repo_id, files, revision=revision or "main")


def _commit_hash(repo_id: str, revision: str, files: dict[str, bytes]) -> str:
    digest = hashlib.sha1(f"{repo_id}@{revision}".encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()
