"""Specs for an unreachable hub: one short check, then the local hub cache or a one-line error, in seconds.

huggingface_hub alone retries a refused connection for ~23 s per file (47 s for a timm model). Every test
here points the hub at loopback only: a port nothing listens on (connection refused), or a socket that
accepts and never answers (timeout). HF_HUB_OFFLINE is off in all of them, so the network path is what
runs. Elapsed times are printed (``pytest -s``); the bound asserted is generous, to catch a retry loop,
not to time the code.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import safetensors.torch
import torch
from huggingface_hub import constants

from clirunner import run_zoo
from hubcache import make_hub_repo, save_timm_weights, use_hub_cache
from ingest.references import resolve_reference
from ingest.weights import HubUnavailable, download_hub_weights, hub, hub_unreachable, timm_pretrained

RETRY_LOOP_S = 20.0  # huggingface_hub's retries take 23 s or more; the fast path takes well under 5 s
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def point_hub_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> str:
    """Make huggingface_hub (already imported) and subprocesses use ``endpoint``; forget earlier checks."""
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hub, "_hub_checks", {})
    return endpoint


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache for this test, with offline mode OFF."""
    return use_hub_cache(monkeypatch, tmp_path / "hf" / "hub", offline=False)


@pytest.fixture
def dead_hub(cache: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A hub endpoint on a loopback port nothing listens on: every connection is refused."""
    return point_hub_at(monkeypatch, f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def silent_hub(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A hub endpoint that accepts connections and never answers; the check waits HF_HUB_ETAG_TIMEOUT (1 s)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # the kernel completes the handshakes; nothing ever reads or replies
    monkeypatch.setattr(constants, "HF_HUB_ETAG_TIMEOUT", 1)
    yield point_hub_at(monkeypatch, f"http://127.0.0.1:{server.getsockname()[1]}")
    server.close()


def timed(call: Callable[[], object]) -> tuple[pytest.ExceptionInfo[HubUnavailable], float]:
    start = time.monotonic()
    with pytest.raises(HubUnavailable) as error:
        call()
    return error, time.monotonic() - start


def assert_fast_one_line(error: pytest.ExceptionInfo[HubUnavailable], elapsed: float, *parts: str) -> None:
    message = str(error.value)
    print(f"\n{elapsed:.2f} s: {message}")
    assert elapsed < RETRY_LOOP_S, f"took {elapsed:.1f} s: huggingface_hub's retries ran"
    assert "\n" not in message
    for part in parts:
        assert part in message


def tiny_state() -> dict[str, torch.Tensor]:
    return {"conv.weight": torch.ones(4, 3, 3, 3)}


# --- the library ----------------------------------------------------------------------------------------


def test_a_hub_repo_fails_fast_when_the_hub_refuses_connections(dead_hub: str) -> None:
    error, elapsed = timed(lambda: download_hub_weights("org/absent"))
    assert_fast_one_line(
        error,
        elapsed,
        "org/absent is not in the local hub cache",
        f"hub ({dead_hub}) could not be reached",
        "HF_HUB_OFFLINE=1",
        "HF_HOME",
    )


def test_timm_pretrained_fails_fast_and_leaves_offline_mode_as_it_was(dead_hub: str) -> None:
    error, elapsed = timed(lambda: timm_pretrained("resnet18"))
    assert_fast_one_line(
        error, elapsed, "resnet18", "timm/resnet18.a1_in1k", "could not be reached", "HF_HUB_OFFLINE=1"
    )
    assert constants.HF_HUB_OFFLINE is False  # cache-only mode was for that one load


@pytest.mark.parametrize("spec", ["timm", "hub:org/absent"])
def test_a_hub_reference_fails_fast_and_names_the_references_that_need_no_hub(dead_hub: str, spec: str) -> None:
    error, elapsed = timed(lambda: resolve_reference(spec, "resnet18"))
    assert_fast_one_line(
        error,
        elapsed,
        f"reference {spec} for resnet18",
        "could not be reached",
        "HF_HUB_OFFLINE=1",
        "reference=random:SEED or file:PATH",  # the CLI writes --reference random:SEED or file:PATH
    )
    assert error.value.param == "reference"


def test_a_hub_that_never_answers_times_out_once(silent_hub: str) -> None:
    error, elapsed = timed(lambda: resolve_reference("timm", "resnet18"))
    assert_fast_one_line(error, elapsed, "could not be reached", "timed out", "HF_HUB_OFFLINE=1")
    assert elapsed >= 1.0  # it did wait for the hub, the HF_HUB_ETAG_TIMEOUT it was given


def test_cached_weights_still_load_when_the_hub_is_unreachable(dead_hub: str, cache: Path) -> None:
    commit = make_hub_repo(cache, "org/tiny", {"model.safetensors": safetensors.torch.save(tiny_state())})
    assert download_hub_weights("org/tiny").revision == commit
    timm_commit = save_timm_weights(cache, "resnet18")
    start = time.monotonic()
    model, info = timm_pretrained("resnet18")
    print(f"\ncached timm weights with the hub unreachable: {time.monotonic() - start:.2f} s")
    assert info.revision == timm_commit
    assert model.conv1.weight.shape == (64, 3, 7, 7)
    assert constants.HF_HUB_OFFLINE is False


def test_the_hub_is_checked_once_per_endpoint_not_per_file(dead_hub: str, monkeypatch: pytest.MonkeyPatch) -> None:
    session = hub.get_session()
    calls: list[str] = []

    def counting_head(url: str, **kwargs: object) -> object:
        calls.append(url)
        return session.head(url, **kwargs)

    class CountingSession:
        head = staticmethod(counting_head)

    monkeypatch.setattr(hub, "get_session", lambda: CountingSession())
    reasons = [hub_unreachable() for _ in range(3)]
    with pytest.raises(HubUnavailable):
        download_hub_weights("org/absent", allow_pickle=True)  # four file names, no further check
    assert calls == [dead_hub]
    assert reasons[0] is not None and reasons.count(reasons[0]) == 3


def test_a_hub_that_answers_is_reachable_whatever_it_answers(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NotFoundHandler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFoundHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        point_hub_at(monkeypatch, f"http://127.0.0.1:{server.server_port}")
        assert hub_unreachable() is None
    finally:
        server.shutdown()
        server.server_close()


def test_offline_mode_makes_no_request(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "get_session", lambda: pytest.fail("offline mode must not touch the network"))
    assert hub_unreachable() == "HF_HUB_OFFLINE is set"


# --- the CLI --------------------------------------------------------------------------------------------


@pytest.fixture
def catalog_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "ZOO_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
        "ZOO_ARTIFACTS": str(tmp_path / "artifacts"),
        "ZOO_HOME": str(tmp_path / "home"),
        "COLUMNS": "400",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def cli_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_cli_ingest_hf_fails_fast_with_one_line(dead_hub: str, catalog_env: dict[str, str]) -> None:
    start = time.monotonic()
    result = run_zoo("ingest", "--hf", "org/tiny", "--arch", "resnet18", expect=None)
    elapsed = time.monotonic() - start
    line = cli_error_line(result.output)
    print(f"\nzoo ingest --hf, hub unreachable: {elapsed:.2f} s: {line}")
    assert result.exit_code != 0
    assert elapsed < RETRY_LOOP_S
    assert "org/tiny is not in the local hub cache" in line and "HF_HUB_OFFLINE=1" in line


def test_cli_ingest_checkpoint_with_the_timm_reference_fails_fast(
    dead_hub: str, catalog_env: dict[str, str], tmp_path: Path
) -> None:
    import timm

    safetensors.torch.save_file(timm.create_model("resnet18", num_classes=10).state_dict(), tmp_path / "m.safetensors")
    start = time.monotonic()
    result = run_zoo(
        "ingest",
        "--checkpoint",
        str(tmp_path / "m.safetensors"),
        "--arch",
        "resnet18",
        "--reference",
        "timm",
        expect=None,
    )
    elapsed = time.monotonic() - start
    line = cli_error_line(result.output)
    print(f"\nzoo ingest --checkpoint --reference timm, hub unreachable: {elapsed:.2f} s: {line}")
    assert result.exit_code != 0
    assert elapsed < RETRY_LOOP_S
    assert "HF_HUB_OFFLINE=1" in line and "--reference random:SEED or file:PATH" in line


@pytest.mark.slow  # a new process imports torch and timm: ~8 s of CPU
def test_a_new_process_with_hf_endpoint_set_fails_fast(tmp_path: Path, catalog_env: dict[str, str]) -> None:
    """End to end as a user runs it: HF_ENDPOINT from the environment, HF_HUB_OFFLINE unset.

    huggingface_hub logs every retry ("Retrying in 1s ...") to stderr, so a single output line also says
    that no retry ran; the time includes importing torch and timm, so it is printed, not bounded tightly.
    """
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(catalog_env, HF_ENDPOINT=f"http://127.0.0.1:{free_port()}", HF_HOME=str(tmp_path / "hf"))
    env.pop("HF_HUB_CACHE", None)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "ingest", "--hf", "org/tiny", "--arch", "resnet18"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    elapsed = time.monotonic() - start
    line = cli_error_line(done.stdout + done.stderr)
    print(f"\nnew process (imports included), hub unreachable: {elapsed:.2f} s: {line}")
    assert done.returncode != 0
    assert f"hub ({env['HF_ENDPOINT']}) could not be reached" in line and "HF_HUB_OFFLINE=1" in line
