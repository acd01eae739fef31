"""benchmarks/gpu_check.sh stops at once, with a one-line reason and exit status 2, where there is no GPU."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"
BASH = shutil.which("bash") or "/bin/bash"


def _bin(tmp_path: Path, **scripts: str) -> Path:
    """A PATH folder with the few tools the script's preamble needs, plus the given fake commands."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("dirname", "head"):
        os.symlink(shutil.which(tool) or f"/usr/bin/{tool}", folder / tool)
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!{BASH}\n{body}\n")
        path.chmod(0o755)
    return folder


def _run(tmp_path: Path, folder: Path, python: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(folder), "PYTHON": python, "HOME": str(tmp_path)}
    return subprocess.run([BASH, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def test_without_nvidia_smi_it_stops_at_once(tmp_path: Path) -> None:
    folder = _bin(tmp_path, python="exit 0")
    result = _run(tmp_path, folder, str(folder / "python"))
    assert result.returncode == 2
    assert "no nvidia-smi on PATH" in result.stderr and result.stdout == ""


def test_a_torch_that_sees_no_gpu_stops_it_with_the_reason(tmp_path: Path) -> None:
    # nvidia-smi lists a GPU, but "torch" (a stand-in python) cannot use it
    folder = _bin(
        tmp_path,
        **{
            "nvidia-smi": "echo 'GPU 0: Stand-in'",
            "python": "cat >/dev/null; echo 'torch 2.x (CUDA build: None) sees no CUDA device' >&2; exit 1",
        },
    )
    result = _run(tmp_path, folder, str(folder / "python"))
    assert result.returncode == 2
    assert "sees no CUDA device" in result.stderr and "torch cannot use the GPU" in result.stderr
    assert "== CUDA tests" not in result.stdout  # nothing ran
