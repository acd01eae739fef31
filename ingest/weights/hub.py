"""Model weights from Hugging Face hub repos, through ``huggingface_hub`` and its local cache.

``HF_HOME``/``HF_HUB_CACHE``/``HF_HUB_OFFLINE``/``HF_ENDPOINT`` work as usual; with ``HF_HUB_OFFLINE=1``
everything is served from the local hub cache. Before a download, one short request checks that the hub
answers (:func:`hub_unreachable`): where it does not, files are taken from the cache only, so a machine
without network fails in seconds instead of sitting through huggingface_hub's retries (about 23 s per
file, 47 s for a timm model).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx2
from huggingface_hub import HfApi, constants, get_session, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name

from ingest.weights.files import PathArg, pickle_refusal
from zoo.errors import IntegrityError, InvalidInput, NotFound, ZooError
from zoo.store import sha256_file

__all__ = [
    "HUB_CHECK_TIMEOUT_S",
    "HUB_CHECK_TTL_S",
    "HUB_PICKLE_FILES",
    "HUB_SAFE_FILES",
    "HubUnavailable",
    "HubWeights",
    "cache_only",
    "download_hub_weights",
    "hub_unreachable",
    "offline_fix",
    "parse_hub_ref",
    "short_reason",
    "snapshot_commit",
]

# Hub weight files in order of preference; the pickle ones are tried only with allow_pickle.
HUB_SAFE_FILES = ("model.safetensors", "open_clip_model.safetensors")
HUB_PICKLE_FILES = ("pytorch_model.bin", "open_clip_pytorch_model.bin")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPO_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")

# Seconds the hub gets to answer the reachability check; HF_HUB_ETAG_TIMEOUT, where set, replaces it.
HUB_CHECK_TIMEOUT_S = 3.0
# Seconds a reachability answer is reused: one check per command, not one per file or per run.
HUB_CHECK_TTL_S = 60.0


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
        reason = f"the hub ({endpoint}) could not be reached: {short_reason(error)}"
    _hub_checks[endpoint] = (time.monotonic(), reason)
    return reason


def short_reason(error: Exception) -> str:
    """One line of at most 120 characters saying why ``error`` happened."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


@contextmanager
def cache_only(active: bool) -> Iterator[None]:
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


def offline_fix() -> str:
    """How to get hub files that are not in the local cache, given whether HF_HUB_OFFLINE is set."""
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
                unreachable = f"the hub could not be reached: {short_reason(error.__cause__ or error)}"
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
        return hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir, local_files_only=local_only)
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
        raise IntegrityError(f"{path} does not match its hash {blob}; delete it from the hub cache and fetch it again")
    return HubWeights(repo_id, snapshot_commit(path, filename), filename, path, digest)


def snapshot_commit(path: Path, filename: str) -> str:
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
    fix = offline_fix()
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
        return pickle_refusal(f"{repo_id}'s only weights file, {pickles[0]},")
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
        return pickle_refusal(f"{repo_id}'s only weights file, {pickles[0]},")
    return NotFound(
        f"{repo_id}@{revision or 'main'} has none of {', '.join(names)}; give a repo with model.safetensors"
    )


def _remote_files(repo_id: str, revision: str | None) -> list[str]:
    try:
        return HfApi().list_repo_files(repo_id, revision=revision)
    except Exception:  # only used to word an error better; never let it hide the real one
        return []
