"""The live children of this process (API 26.1) and their CPU priority (API 17).

:func:`children` wraps ``OH_Ability_AcquireChildProcessInfos`` and the
``OH_AbilityRuntime_ChildProcessInfo_*`` accessors; :func:`set_priority`
and :func:`reset_priority` wrap ``OH_BackgroundProcessManager_*``, which on
the host set SCHED_IDLE ("background") or the parent's nice value + 10
("inactive") on every thread of the child, and put back the parent's.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from ._errors import InvalidParamError, NativeChildProcessError, check
from ._ohncp import ffi, lib

__all__ = ["ChildInfo", "Priority", "children", "reset_priority", "set_priority"]

Priority = Literal["background", "inactive"]

_PRIORITIES = {"background": lib.PROCESS_BACKGROUND, "inactive": lib.PROCESS_INACTIVE}
_NAME_SIZE = 512  # a "{bundle}:{name}" with its NUL fits


class ChildInfo(NamedTuple):
    """One live child: its pid, its parent's pid and its process name."""

    pid: int
    parent_pid: int
    name: str


def children() -> list[ChildInfo]:
    """Return the live children of this process, started by any start call.

    Raises:
        NotSupportedError: the runtime lacks the API 26.1 functions.
    """
    room = 64
    while True:
        pids = ffi.new("int32_t[]", room)
        ppids = ffi.new("int32_t[]", room)
        names = ffi.new("char[]", room * _NAME_SIZE)
        count = ffi.new("int *")
        check(lib.ohncp_api_child_infos(pids, ppids, names, _NAME_SIZE, room, count))
        if count[0] <= room:  # else more started meanwhile: again, larger
            break
        room = count[0] * 2
    return [
        ChildInfo(
            int(pids[i]),
            int(ppids[i]),
            ffi.string(ffi.addressof(names, i * _NAME_SIZE)).decode("utf-8", "replace"),
        )
        for i in range(count[0])
    ]


def set_priority(pid: int, priority: Priority) -> None:
    """Hold child ``pid`` back: ``"background"`` (most) or ``"inactive"``.

    Raises:
        InvalidParamError: an unknown ``priority``, or ``pid`` is not a live child.
        NativeChildProcessError: the system refused (code 31800001).
        NotSupportedError: the runtime lacks the API 17 library.
    """
    value = _PRIORITIES.get(priority)
    if value is None:
        wanted = "'background' or 'inactive'"
        raise InvalidParamError(
            lib.NCP_ERR_INVALID_PARAM, f"priority must be {wanted}, not {priority!r}"
        )
    _check_priority(lib.ohncp_api_SetProcessPriority(pid, value), pid)


def reset_priority(pid: int) -> None:
    """Let child ``pid`` run as this process does again.

    Raises:
        InvalidParamError: ``pid`` is not a live child.
        NativeChildProcessError: the system refused (code 31800001: lowering
            a nice value needs CAP_SYS_NICE on Linux).
        NotSupportedError: the runtime lacks the API 17 library.
    """
    _check_priority(lib.ohncp_api_ResetProcessPriority(pid), pid)


def _check_priority(code: int, pid: int) -> None:
    if code == lib.NCP_ERR_INVALID_PARAM:
        raise InvalidParamError(code, f"pid {pid} is not a live child of this process")
    if code == lib.ERR_BACKGROUND_PROCESS_MANAGER_REMOTE_ERROR:
        refused = f"the system refused to change the priority of pid {pid}"
        raise NativeChildProcessError(code, refused)
    check(code, f"priority of pid {pid}")
