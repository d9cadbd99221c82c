"""ohncp.children() (API 26.1 child process infos) and the priorities of API 17."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ohncp


def _stat_fields(pid: int, tid: str) -> list[str]:
    """Fields 3.. of /proc/<pid>/task/<tid>/stat (after the name)."""
    text = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _policies_and_nices(pid: int) -> set[tuple[int, int]]:
    """(scheduling policy, nice) of every thread of ``pid``."""
    result = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        fields = _stat_fields(pid, tid)
        result.add((int(fields[41 - 3]), int(fields[19 - 3])))
    return result


@pytest.fixture
def sleeper(child_libs: dict[str, Path]) -> ohncp.ChildProcess:
    child = ohncp.start(f"{child_libs['basic']}:SleepForever", process_name="sleeper_1")
    yield child
    child.kill()
    child.wait(timeout=30)


def test_children_lists_the_live_ones(sleeper: ohncp.ChildProcess) -> None:
    infos = ohncp.children()
    mine = [info for info in infos if info.pid == sleeper.pid]
    assert len(mine) == 1, infos
    assert mine[0].parent_pid == os.getpid()
    assert mine[0].name.endswith(":sleeper_1")
    sleeper.kill()
    sleeper.wait(timeout=30)
    assert all(info.pid != sleeper.pid for info in ohncp.children())


def test_priorities(sleeper: ohncp.ChildProcess) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    sleeper.set_priority("inactive")
    assert _policies_and_nices(sleeper.pid) == {(os.SCHED_OTHER, min(own + 10, 19))}
    sleeper.set_priority("background")
    assert {policy for policy, _ in _policies_and_nices(sleeper.pid)} == {os.SCHED_IDLE}
    if os.geteuid() != 0:
        pytest.skip("lowering a nice value needs CAP_SYS_NICE")
    sleeper.reset_priority()
    assert _policies_and_nices(sleeper.pid) == {(os.SCHED_OTHER, own)}


def test_priority_errors(sleeper: ohncp.ChildProcess) -> None:
    with pytest.raises(ohncp.InvalidParamError, match="'foreground'"):
        sleeper.set_priority("foreground")  # type: ignore[arg-type]
    with pytest.raises(ohncp.InvalidParamError, match=f"pid {os.getpid()} is not a live child"):
        ohncp.set_priority(os.getpid(), "background")
    with pytest.raises(ohncp.InvalidParamError):
        ohncp.reset_priority(-1)
