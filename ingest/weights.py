"""Getting model weights into memory safely: local files, Hugging Face hub repos, timm pretrained tags.

Safetensors is the default everywhere. Pickle checkpoints (``.pth``/``.pt``/``.bin``/``.ckpt``) are read
only when the caller opts in (the CLI's ``--allow-pickle``), and even then only through
``torch.load(weights_only=True)``, which refuses any pickle that would import or call code.

Hub access goes through ``huggingface_hub``, so ``HF_HOME``/``HF_HUB_CACHE``/``HF_HUB_OFFLINE``/``HF_ENDPOINT``
work as usual; with ``HF_HUB_OFFLINE=1`` everything is served from the local hub cache. Before a download,
one short request checks that the hub answers (:func:`hub_unreachable`): where it does not, files are
taken from the cache only, so a machine without network fails in seconds instead of sitting through
huggingface_hub's retries (about 23 s per file, 47 s for a timm model).
"""

from __future__ import annotations

import difflib
import os
import pickle
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx2
import safetensors
import safetensors.torch
import timm
import torch
from huggingface_hub import HfApi, constants, get_session, hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import (
    EntryNotFoundError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name
from timm.models import get_pretrained_cfg, split_model_name_tag
from torch import nn

from zoo.errors import IntegrityError, InvalidInput, NotFound, UnsafeInput, ZooError
from zoo.store import sha256_file

PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
# Keys under which training scripts nest the model's state dict inside a checkpoint.
WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")
# Prefixes that DataParallel/DDP ("module.") and torch.compile ("_orig_mod.") put before every key.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Hub weight files in order of preference; the pickle ones are tried only with allow_pickle.
HUB_SAFE_FILES = ("model.safetensors", "open_clip_model.safetensors")
HUB_PICKLE_FILES = ("pytorch_model.bin", "open_clip_pytorch_model.bin")

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPO_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_BLOCKED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")

# Seconds the hub gets to answer the reachability check; HF_HUB_ETAG_TIMEOUT, where set, replaces it.
HUB_CHECK_TIMEOUT_S = 3.0
# Seconds a reachability answer is reused: one check per command, not one per file or per run.
HUB_CHECK_TTL_S = 60.0

PathArg = str | os.PathLike[str]


class HubUnavailable(NotFound):
    """Hub weights are not in the local hub cache, and the hub is offline (HF_HUB_OFFLINE) or unreachable."""


@dataclass(frozen=True)
class HubWeights:
    """A weights file of a hub repo, present in the local hub cache.

    Attributes
    ----------
    repo_id : ``org/name`` of the model repo.
    revision : the 40-hex commit the file belongs to (a branch or tag asked for is resolved to it).
    filename : the file's name inside the repo, e.g. ``model.safetensors``.
    path : the file in the local hub cache.
    sha256 : hex digest of the file's bytes.
    """

    repo_id: str
    revision: str
    filename: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class PretrainedInfo:
    """Where a timm pretrained model's weights came from.

    Attributes
    ----------
    tag : the pretrained tag, ``architecture.tag`` (e.g. ``resnet18.a1_in1k``).
    hf_hub_id : the hub repo timm loads the weights from, or None where they come from a plain URL.
    revision : commit of the cached weights file, or None where it is not in the hub cache.
    filename : the weights file's name in the repo, or None where it is not in the hub cache.
    sha256 : hex digest of the cached weights file, or None where it is not in the hub cache.
    """

    tag: str
    hf_hub_id: str | None
    revision: str | None
    filename: str | None
    sha256: str | None


# --- local files ----------------------------------------------------------------------------------------


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
        ``module.`` and ``_orig_mod.`` prefixes are stripped, entries that are not tensors are dropped.

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
            raise UnsafeInput(_pickle_refusal(str(file)))
        raw = _read_pickle(file)
    else:
        raise InvalidInput(
            f"{file} has suffix {suffix or '(none)'!r}; give a .safetensors file "
            f"(or {'/'.join(PICKLE_SUFFIXES)} with --allow-pickle)"
        )
    return _tensors_only(_unwrap(raw, file), file)


def _existing_file(path: PathArg) -> Path:
    file = Path(path)
    if file.is_dir():
        raise InvalidInput(f"{file} is a directory; give the weights file inside it, e.g. {file / 'model.safetensors'}")
    if not file.is_file():
        raise InvalidInput(f"{file} does not exist; check the path")
    if file.stat().st_size == 0:
        raise InvalidInput(f"{file} is empty; the save or download was probably cut short, fetch it again")
    return file


def _pickle_refusal(what: str) -> str:
    return (
        f"{what} is a pickle file, which can run code when loaded; pass --allow-pickle to read it with "
        "torch.load(weights_only=True), or convert it to .safetensors"
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


def _unwrap(raw: object, file: Path) -> Mapping[object, object]:
    state = raw
    for _ in range(3):  # checkpoints nest the state dict one or two levels deep, never more in practice
        if not isinstance(state, Mapping):
            break
        inner = next((state[key] for key in WRAPPER_KEYS if isinstance(state.get(key), Mapping)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, Mapping):
        raise InvalidInput(f"{file} holds a {type(state).__name__}, not a state dict; save model.state_dict() instead")
    return state


def _tensors_only(state: Mapping[object, object], file: Path) -> dict[str, torch.Tensor]:
    tensors = {str(key): value for key, value in state.items() if isinstance(value, torch.Tensor)}
    if not tensors:
        raise InvalidInput(f"{file} holds no tensors; give a checkpoint that contains the model's state dict")
    for prefix in WRAPPER_PREFIXES:
        # Strip only a prefix every key has: a module may legitimately be named "module".
        while all(key.startswith(prefix) for key in tensors):
            tensors = {key[len(prefix) :]: value for key, value in tensors.items()}
    return tensors


# --- reaching the hub -----------------------------------------------------------------------------------

_hub_checks: dict[str, tuple[float, str | None]] = {}  # endpoint -> (monotonic time, why unreachable or None)


def hub_unreachable() -> str | None:
    """Why the hub cannot be used now, or None where it answers.

    ``HF_HUB_OFFLINE`` set gives ``"HF_HUB_OFFLINE is set"`` without any request. Otherwise one request to
    the hub endpoint (``HF_ENDPOINT``, through huggingface_hub's own HTTP client, so proxies apply) with a
    timeout of :data:`HUB_CHECK_TIMEOUT_S` seconds and no retries; any HTTP answer counts as reachable.
    The answer is reused for :data:`HUB_CHECK_TTL_S` seconds.
    """
    if constants.is_offline_mode():
        return "HF_HUB_OFFLINE is set"
    endpoint = constants.ENDPOINT
    checked = _hub_checks.get(endpoint)
    if checked is not None and time.monotonic() - checked[0] < HUB_CHECK_TTL_S:
        return checked[1]
    timeout = (
        constants.HF_HUB_ETAG_TIMEOUT
        if constants.HF_HUB_ETAG_TIMEOUT != constants.DEFAULT_ETAG_TIMEOUT
        else HUB_CHECK_TIMEOUT_S
    )
    try:
        get_session().head(endpoint, timeout=timeout)
        reason = None
    except httpx2.TransportError as error:  # refused, DNS failure, timeout, proxy or TLS failure
        reason = f"the hub ({endpoint}) could not be reached: {_short_reason(error)}"
    _hub_checks[endpoint] = (time.monotonic(), reason)
    return reason


def _short_reason(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


@contextmanager
def _cache_only(active: bool) -> Iterator[None]:
    """Make huggingface_hub (and timm through it) use the local hub cache only, inside the block.

    timm has no ``local_files_only``; huggingface_hub reads ``constants.HF_HUB_OFFLINE`` on every call, so
    setting it for the duration of one load is what ``HF_HUB_OFFLINE=1`` would do for the whole process.
    """
    if not active:
        yield
        return
    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _offline_fix() -> str:
    cache = f"HF_HOME (now {constants.HF_HOME}) to a hub cache that has it"
    if constants.is_offline_mode():
        return f"unset HF_HUB_OFFLINE to download it, or set {cache}"
    return f"connect to the hub, or set HF_HUB_OFFLINE=1 and {cache}"


# --- hub repos ------------------------------------------------------------------------------------------


def parse_hub_ref(ref: str) -> tuple[str, str | None]:
    """Split ``org/name@revision`` into the repo id and the revision (None where none is given).

    Raises
    ------
    InvalidInput
        The reference is not ``org/name`` or ``org/name@revision`` with hub-valid names.
    """
    repo_id, at, revision = ref.strip().partition("@")
    _check_repo_id(repo_id)
    if at:
        _check_revision(revision)
    return repo_id, (revision if at else None)


def _check_repo_id(repo_id: str) -> None:
    parts = repo_id.split("/")
    valid = all(_REPO_PART.match(part) and ".." not in part and "--" not in part for part in parts)
    if len(parts) != 2 or not valid:
        raise InvalidInput(
            f"{repo_id!r} is not a hub repo id; write it as org/name (letters, digits, '-', '_', '.'), "
            "optionally followed by @revision"
        )


def _check_revision(revision: str) -> None:
    if not _REVISION.match(revision) or ".." in revision:
        raise InvalidInput(f"{revision!r} is not a revision; give a branch, tag or 40-hex commit after the '@'")


def download_hub_weights(
    repo_id: str,
    revision: str | None = None,
    *,
    allow_pickle: bool = False,
    cache_dir: PathArg | None = None,
) -> HubWeights:
    """Fetch a repo's weights file into the local hub cache (or find it there offline).

    Parameters
    ----------
    repo_id : ``org/name`` of a model repo.
    revision : branch, tag or commit; None means ``main``.
    allow_pickle : fall back to ``pytorch_model.bin``/``open_clip_pytorch_model.bin`` when the repo has no
        safetensors weights.
    cache_dir : hub cache folder; None means huggingface_hub's (``HF_HUB_CACHE``, ``$HF_HOME/hub``).

    Returns
    -------
    HubWeights
        The first file of :data:`HUB_SAFE_FILES` (then :data:`HUB_PICKLE_FILES`) the repo has, with the
        commit it was resolved to and its sha256.

    Raises
    ------
    HubUnavailable
        Not in the local hub cache, and the hub is offline (``HF_HUB_OFFLINE``) or unreachable; this is
        decided by one short request (:func:`hub_unreachable`), not after huggingface_hub's retries.
    NotFound
        Unknown repo or revision, or no weights file.
    UnsafeInput
        The repo only has pickle weights and ``allow_pickle`` is off.
    IntegrityError
        The cached file does not match the hash it is stored under.
    """
    _check_repo_id(repo_id)
    if revision is not None:
        _check_revision(revision)
    names = HUB_SAFE_FILES + (HUB_PICKLE_FILES if allow_pickle else ())
    # Where the hub cannot be reached, look only in the cache: each network try costs ~23 s of retries.
    unreachable = hub_unreachable()
    not_cached = False
    for filename in names:
        try:
            path = _hub_download(repo_id, filename, revision, cache_dir, local_only=unreachable is not None)
        except LocalEntryNotFoundError as error:  # offline or unreachable, and not in the cache
            if unreachable is None:  # the hub answered the check but not the download
                unreachable = f"the hub could not be reached: {_short_reason(error.__cause__ or error)}"
            not_cached = True
            continue
        except EntryNotFoundError:  # the hub says the repo has no such file
            continue
        return _hub_weights(repo_id, filename, Path(path))
    if not_cached:
        raise _not_in_cache(repo_id, revision, names, cache_dir, unreachable or "the hub could not be reached")
    raise _no_weights_file(repo_id, revision, names)


def _hub_download(
    repo_id: str, filename: str, revision: str | None, cache_dir: PathArg | None, *, local_only: bool
) -> str:
    try:
        return hf_hub_download(
            repo_id, filename, revision=revision, cache_dir=cache_dir, local_files_only=local_only
        )
    except RevisionNotFoundError as error:
        raise NotFound(f"{repo_id} has no revision {revision!r}; give an existing branch, tag or commit") from error
    except RepositoryNotFoundError as error:  # also gated and private repos without a token
        raise NotFound(
            f"{repo_id} is not a model repo on the hub, or it is private or gated; check the name or log in "
            "with `hf auth login`"
        ) from error


def _hub_weights(repo_id: str, filename: str, path: Path) -> HubWeights:
    digest = sha256_file(path)
    blob = Path(os.path.realpath(path)).name
    # Large (LFS) files are cached under their sha256; a mismatch means a damaged cache.
    if re.fullmatch(r"[0-9a-f]{64}", blob) and blob != digest:
        raise IntegrityError(
            f"{path} does not match its hash {blob}; delete it from the hub cache and fetch it again"
        )
    return HubWeights(repo_id, _snapshot_commit(path, filename), filename, path, digest)


def _snapshot_commit(path: Path, filename: str) -> str:
    """The commit of a cached file: the name of its folder under ``snapshots/``."""
    commit = path.parents[len(PurePosixPath(filename).parts) - 1].name
    if not _COMMIT.match(commit):
        raise IntegrityError(f"{path} is not inside a hub cache snapshot; clear that entry of the hub cache")
    return commit


def _not_in_cache(
    repo_id: str, revision: str | None, names: tuple[str, ...], cache_dir: PathArg | None, reason: str
) -> ZooError:
    cache = Path(cache_dir or constants.HF_HUB_CACHE)
    repo = cache / repo_folder_name(repo_id=repo_id, repo_type="model")
    fix = _offline_fix()
    if not repo.is_dir():
        return HubUnavailable(f"{repo_id} is not in the local hub cache ({cache}) and {reason}; {fix}")
    wanted = revision or "main"
    snapshot = _cached_snapshot(repo, wanted)
    if snapshot is None:
        known = ", ".join(_cached_revisions(repo)) or "none"
        return HubUnavailable(
            f"revision {wanted!r} of {repo_id} is not in the local hub cache (cached: {known}) and {reason}; {fix}"
        )
    pickles = [name for name in HUB_PICKLE_FILES if (snapshot / name).is_file()]
    if pickles and pickles[0] not in names:
        return UnsafeInput(_pickle_refusal(f"{repo_id}'s only weights file, {pickles[0]},"))
    return HubUnavailable(
        f"{repo_id}@{wanted} in the local hub cache has none of {', '.join(names)}, and {reason}; {fix}"
    )


def _cached_snapshot(repo: Path, revision: str) -> Path | None:
    ref = repo / "refs" / revision
    commit = revision if _COMMIT.match(revision) else (ref.read_text().strip() if ref.is_file() else "")
    snapshot = repo / "snapshots" / commit
    return snapshot if commit and snapshot.is_dir() else None


def _cached_revisions(repo: Path) -> list[str]:
    refs = repo / "refs"
    names = sorted(p.relative_to(refs).as_posix() for p in refs.rglob("*") if p.is_file())
    snapshots = repo / "snapshots"
    commits = sorted(p.name for p in snapshots.iterdir()) if snapshots.is_dir() else []
    return (names + commits)[:6]


def _no_weights_file(repo_id: str, revision: str | None, names: tuple[str, ...]) -> ZooError:
    files = _remote_files(repo_id, revision)
    pickles = [name for name in HUB_PICKLE_FILES if name in files]
    if pickles and pickles[0] not in names:
        return UnsafeInput(_pickle_refusal(f"{repo_id}'s only weights file, {pickles[0]},"))
    return NotFound(
        f"{repo_id}@{revision or 'main'} has none of {', '.join(names)}; give a repo with model.safetensors"
    )


def _remote_files(repo_id: str, revision: str | None) -> list[str]:
    try:
        return HfApi().list_repo_files(repo_id, revision=revision)
    except Exception:  # only used to word an error better; never let it hide the real one
        return []


# --- timm -----------------------------------------------------------------------------------------------


def timm_pretrained(arch: str) -> tuple[nn.Module, PretrainedInfo]:
    """Build timm's pretrained model ``arch`` (``resnet18`` or ``resnet18.a1_in1k``) via the hub.

    Returns
    -------
    (nn.Module, PretrainedInfo)
        The model with its pretrained weights, and where those came from.

    Raises
    ------
    HubUnavailable
        The weights are not in the local hub cache, and the hub is offline or unreachable (decided by one
        short request, :func:`hub_unreachable`, not after huggingface_hub's retries).
    NotFound
        Unknown architecture or tag, or no pretrained weights.
    """
    _check_arch(arch)
    cfg = get_pretrained_cfg(arch)
    if cfg is None or not (cfg.hf_hub_id or cfg.url or cfg.file):
        raise NotFound(f"timm has no pretrained weights for {arch}; see timm.list_pretrained('{arch}*')")
    unreachable = hub_unreachable() if cfg.hf_hub_id else None
    try:
        with _cache_only(unreachable is not None):
            model = timm.create_model(arch, pretrained=True)
    except OSError as error:  # LocalEntryNotFoundError, hub HTTP errors and URLError all derive from OSError
        reason = unreachable or f"they could not be downloaded: {_short_reason(error.__cause__ or error)}"
        raise HubUnavailable(
            f"pretrained weights of {arch} ({cfg.hf_hub_id or cfg.url}) are not in the local hub cache and "
            f"{reason}; {_offline_fix()}"
        ) from error
    return model, _pretrained_info(model.pretrained_cfg)


def _pretrained_info(cfg: Mapping[str, object]) -> PretrainedInfo:
    tag = f"{cfg['architecture']}.{cfg['tag']}" if cfg.get("tag") else str(cfg["architecture"])
    hub_id = str(cfg["hf_hub_id"]) if cfg.get("hf_hub_id") else None
    found = _cached_weights(hub_id, cfg.get("hf_hub_filename")) if hub_id else None
    if found is None:
        return PretrainedInfo(tag, hub_id, None, None, None)
    filename, path = found
    return PretrainedInfo(tag, hub_id, _snapshot_commit(path, filename), filename, sha256_file(path))


def _cached_weights(hub_id: str, filename: object) -> tuple[str, Path] | None:
    """The weights file timm loaded for ``hub_id`` (safetensors first, as timm prefers), if cached."""
    repo_id, _, revision = hub_id.partition("@")
    for name in (str(filename),) if filename else ("model.safetensors", "pytorch_model.bin"):
        cached = try_to_load_from_cache(repo_id, name, revision=revision or None)
        if isinstance(cached, str):
            return name, Path(cached)
    return None


def _check_arch(arch: str) -> None:
    name, tag = split_model_name_tag(arch)
    if not timm.is_model(name):
        near = timm.list_models(f"*{name}*")[:5] or difflib.get_close_matches(name, timm.list_models(), n=5)
        raise NotFound(f"timm has no architecture {name!r}; close matches: {', '.join(near) or 'none'}")
    if tag and arch not in timm.list_pretrained(arch):
        tags = timm.list_pretrained(f"{name}.*")[:8]
        raise NotFound(f"timm has no pretrained tag {arch!r}; known: {', '.join(tags) or 'none'}")


# --- building models ------------------------------------------------------------------------------------


def build_model(
    arch: str, state_dict: Mapping[str, torch.Tensor] | None = None, *, strict: bool = True
) -> nn.Module:
    """Build timm architecture ``arch`` and load ``state_dict`` into it, checking that it fits.

    The classifier's width is taken from the state dict; a state dict without the classifier builds a
    headless model (``num_classes=0``).

    Raises
    ------
    NotFound
        Unknown architecture.
    InvalidInput
        Tensors whose shapes differ from the architecture's, or (``strict``) missing or unexpected keys.
    """
    _check_arch(arch)
    if state_dict is None:
        return timm.create_model(arch, pretrained=False)
    model = timm.create_model(arch, pretrained=False, **_head_kwargs(arch, state_dict))
    _check_shapes(arch, model.state_dict(), state_dict)
    result = model.load_state_dict(state_dict, strict=False)  # BatchNorm fills in missing num_batches_tracked
    if strict and (result.missing_keys or result.unexpected_keys):
        raise InvalidInput(
            f"state dict does not fit {arch}: {_some_keys(result.missing_keys, 'missing')}, "
            f"{_some_keys(result.unexpected_keys, 'unexpected')}; check the architecture name"
        )
    return model


def _head_kwargs(arch: str, state_dict: Mapping[str, torch.Tensor]) -> dict[str, int]:
    cfg = get_pretrained_cfg(arch)
    classifier = cfg.classifier if cfg is not None else None
    if isinstance(classifier, (tuple, list)):  # distilled models have two heads; the first sets the width
        classifier = classifier[0]
    if not classifier:
        return {}
    weight = state_dict.get(f"{classifier}.weight")
    if weight is not None and weight.ndim >= 1:
        return {"num_classes": int(weight.shape[0])}
    if any(key.startswith(f"{classifier}.") for key in state_dict):
        return {}
    return {"num_classes": 0}


def _check_shapes(arch: str, expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor]) -> None:
    wrong = [
        (key, tuple(expected[key].shape), tuple(tensor.shape))
        for key, tensor in found.items()
        if key in expected and expected[key].shape != tensor.shape
    ]
    if wrong:
        shown = "; ".join(f"{key} expects {want}, found {got}" for key, want, got in wrong[:3])
        more = f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""
        raise InvalidInput(
            f"state dict does not fit {arch}: {len(wrong)} tensor(s) have other shapes: {shown}{more}; "
            "check the architecture name"
        )


def _some_keys(keys: list[str], kind: str) -> str:
    if not keys:
        return f"0 {kind} keys"
    return f"{len(keys)} {kind} key(s) (e.g. {', '.join(keys[:3])})"


def random_init_model(arch: str, seed: int, num_classes: int | None = None) -> nn.Module:
    """Build ``arch`` with timm's random initialisation drawn from ``seed``: same seed, same weights.

    The global torch random state is left as it was.

    Raises
    ------
    NotFound
        Unknown architecture.
    InvalidInput
        ``seed`` is not a non-negative integer, or ``num_classes`` is negative.
    """
    _check_arch(arch)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidInput(f"seed must be an integer in [0, 2**63), got {seed!r}")
    if num_classes is not None and num_classes < 0:
        raise InvalidInput(f"num_classes must be >= 0 (0 builds a headless model), got {num_classes}")
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)  # CPU only: model init runs on the CPU
        return timm.create_model(arch, pretrained=False, **kwargs)
