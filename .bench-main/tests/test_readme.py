"""The README's quick start, run as written: its shell block, then its Python blocks.

A new user copies these; if one of them stops working, this fails. The
shell block's ``pip install .`` is left out (the package under test is
installed already); everything else runs in a temporary directory with the
installed package, as a user's would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "### From install to a child library of your own"


def _quick_start_blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n### ", start + len(SECTION))
    return re.findall(r"```(sh|python)\n(.*?)```", text[start:end], flags=re.DOTALL)


@pytest.fixture(scope="module")
def quick_start_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the section's shell block (without its pip install) in a directory of its own."""
    work = tmp_path_factory.mktemp("readme")
    shell = [code for kind, code in _quick_start_blocks() if kind == "sh"]
    assert len(shell) == 1
    script = "\n".join(
        line for line in shell[0].splitlines() if not line.startswith("pip install")
    )
    bin_dir = Path(sys.executable).parent  # `python` is the venv's, as for a user in it
    subprocess.run(
        ["bash", "-euc", f'PATH="{bin_dir}:$PATH"\n{script}'],
        cwd=work,
        check=True,
        timeout=120,
    )
    assert (work / "libhello.so").exists()
    return work


def _python_blocks() -> list[str]:
    return [code for kind, code in _quick_start_blocks() if kind == "python"]


def test_the_section_has_what_it_promises() -> None:
    assert len(_python_blocks()) == 3  # args mode, IPC mode, asyncio


@pytest.mark.parametrize("index", range(3))
def test_python_block_runs_as_written(quick_start_dir: Path, index: int) -> None:
    code = _python_blocks()[index]
    # Blocks after the first reuse its imports, as they would in one session.
    prelude = "import os, ohncp\n"
    # Unbuffered, as at a terminal: the child writes to the same stdout.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=quick_start_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    expected = {
        0: ["b'hi from the child'", "0"],
        1: ["42"],
        2: ["5", "hi", "0"],
    }[index]
    assert done.stdout.splitlines() == expected
