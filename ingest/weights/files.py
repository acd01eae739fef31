"""Reading a model's state dict from a local weights file, without running code from the file.

Safetensors is the default. Pickle checkpoints (``.pth``/``.pt``/``.bin``/``.ckpt``) are read only when the
caller opts in (the CLI's ``--allow-pickle``), and even then only through ``torch.load(weights_only=True)``,
which refuses any pickle that would import or call code.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import safetensors
import safetensors.torch
import torch

from ingest.weights.state_dicts import model_state_dict
from zoo.errors import InvalidInput, UnsafeInput

__all__ = ["PICKLE_SUFFIXES", "PathArg", "load_state_dict_file", "pickle_refusal"]

PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
_BLOCKED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")

PathArg = str | os.PathLike[str]


def load_state_dict_file(path: PathArg, *, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read a model's state dict from a weights file, on the CPU, without running code from the file.

    Parameters
    ----------
    path : a ``.safetensors`` file, or with ``allow_pickle`` a ``.pth``/``.pt``/``.bin``/``.ckpt`` file.
    allow_pickle : read pickle checkpoints too, through ``torch.load(weights_only=True)``.

    Returns
    -------
    dict
        Parameter name -> tensor. A state dict nested under ``state_dict``/``model`` is unwrapped,
        ``module.``, ``model.`` and ``_orig_mod.`` prefixes that every key has are stripped, entries that
        are not tensors are dropped (:func:`ingest.weights.state_dicts.model_state_dict`).

    Raises
    ------
    InvalidInput
        The file is missing, a directory, empty, unreadable, or holds no tensors.
    UnsafeInput
        A pickle file without ``allow_pickle``, or a pickle that would run code.
    """
    file = _existing_file(path)
    suffix = file.suffix.lower()
    if suffix == ".safetensors":
        raw: object = _read_safetensors(file)
    elif suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise pickle_refusal(str(file))
        raw = _read_pickle(file)
    else:
        raise InvalidInput(
            f"{file} has suffix {suffix or '(none)'!r}; give a .safetensors file "
            f"(or {'/'.join(PICKLE_SUFFIXES)} with `allow_pickle=True`)",
            mentions=("allow_pickle",),
        )
    return model_state_dict(raw, file)


def _existing_file(path: PathArg) -> Path:
    file = Path(path)
    if file.is_dir():
        raise InvalidInput(f"{file} is a directory; give the weights file inside it, e.g. {file / 'model.safetensors'}")
    if not file.is_file():
        raise InvalidInput(f"{file} does not exist; check the path")
    if file.stat().st_size == 0:
        raise InvalidInput(f"{file} is empty; the save or download was probably cut short, fetch it again")
    return file


def pickle_refusal(what: str) -> UnsafeInput:
    """The refusal of a pickle ``what`` read without ``allow_pickle``."""
    return UnsafeInput(
        f"{what} is a pickle file, which can run code when loaded; pass `allow_pickle=True` to read it with "
        "torch.load(weights_only=True), or convert it to .safetensors",
        mentions=("allow_pickle",),
    )


def _read_safetensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return safetensors.torch.load_file(file, device="cpu")
    except safetensors.SafetensorError as error:
        raise InvalidInput(f"{file} is not a safetensors file ({error}); check the file or its suffix") from error


def _read_pickle(file: Path) -> object:
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # The weights-only unpickler stops before importing or calling anything it does not allow.
        blocked = _BLOCKED_GLOBAL.search(str(error))
        wants = f"it references {blocked.group(1)}" if blocked else "it holds objects other than tensors"
        raise UnsafeInput(
            f"refused to load {file}: {wants}, which a weights-only load does not allow; "
            "re-save its state dict as .safetensors where you trust the file"
        ) from error
    except Exception as error:  # a damaged file surfaces as RuntimeError, KeyError, EOFError ... from torch.load
        raise InvalidInput(
            f"{file} is not a readable PyTorch checkpoint ({type(error).__name__}); check that the file is complete"
        ) from error
