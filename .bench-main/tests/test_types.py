"""Every public function with arguments of the wrong Python type: TypeError naming the argument.

Each call here is refused before anything reaches C (no child is started:
the entry would fail to load anyway), with TypeError, or ValueError for a
value of the right type that can never be valid. Values that ``bytes()``
happens to accept (0, [65, 66]) are not text.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ohncp
import ohncp.aio
from ohncp.demo import CALC_EXIT, CALC_LIBRARY

ENTRY = "libno_such_child.so:Main"
LIB = "libno_such_child.so"


def _start(**kwargs: Any) -> Callable[[], object]:
    return lambda: ohncp.start(kwargs.pop("entry", ENTRY), **kwargs)


START_CASES = [
    ({"entry": 42}, "entry"),
    ({"params": 42}, "params"),
    ({"params": 0}, "params"),
    ({"params": [65, 66]}, "params"),
    ({"fds": [1]}, "fds"),
    ({"fds": {"out": "1"}}, "fds['out']"),
    ({"fds": {"out": 1.5}}, "fds['out']"),
    ({"fds": {"out": None}}, "fds['out']"),
    ({"fds": {"out": True}}, "fds['out']"),
    ({"fds": {1: 1}}, "fd name 1"),
    ({"fds": {b"out": 1}}, "fd name b'out'"),
    ({"process_name": [65]}, "process_name"),
    ({"process_name": b"x"}, "process_name"),
    ({"isolation": None}, "isolation"),
    ({"isolation_uid": "yes"}, "isolation_uid"),
]


@pytest.mark.parametrize(("kwargs", "name"), START_CASES)
def test_start_wrong_type(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(TypeError, match=rf"^{re.escape(name)} must be"):
        _start(**kwargs)()


CONNECT_CASES = [
    ({"lib": 42}, "lib"),
    ({"timeout": "5"}, "timeout"),
    ({"process_name": [65]}, "process_name"),
    ({"isolation_uid": 2}, "isolation_uid"),
]


@pytest.mark.parametrize(("kwargs", "name"), CONNECT_CASES)
def test_connect_wrong_type(kwargs: dict[str, Any], name: str) -> None:
    lib = kwargs.pop("lib", LIB)
    with pytest.raises(TypeError, match=rf"^{name} must be"):
        ohncp.connect(lib, **kwargs)
    with pytest.raises(TypeError, match=rf"^{name} must be"):
        asyncio.run(ohncp.aio.connect(lib, **kwargs))


@pytest.mark.parametrize("timeout", [-1, -0.001, float("nan")])
def test_negative_timeouts_are_value_errors(
    timeout: float, spawn: Callable[..., ohncp.ChildProcess], basic: Callable[[str], str]
) -> None:
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        ohncp.connect(LIB, timeout=timeout)
    child = spawn(basic("SleepForever"))
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        child.wait(timeout)


def test_wait_timeout_wrong_type(
    spawn: Callable[..., ohncp.ChildProcess], basic: Callable[[str], str]
) -> None:
    child = spawn(basic("SleepForever"))
    with pytest.raises(TypeError, match=r"^timeout must be"):
        child.wait("1")  # type: ignore[arg-type]


def test_kill_child_process_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"^pid must be an int"):
        ohncp.kill_child_process("1")  # type: ignore[arg-type]


PARCEL_CASES: list[tuple[Callable[[ohncp.Parcel], object], str]] = [
    (lambda p: p.write_string(0), "string"),
    (lambda p: p.write_string([65]), "string"),
    (lambda p: p.write_interface_token(1), "interface token"),
    (lambda p: p.write_bytes("x"), "data"),
    (lambda p: p.write_fd("x"), "fd"),
    (lambda p: p.write_fd(None), "fd"),
    (lambda p: p.write_fd(1.0), "fd"),
    (lambda p: p.append(None), "other"),
    (lambda p: p.append(b"x"), "other"),
]


@pytest.mark.parametrize(("call", "name"), PARCEL_CASES)
def test_parcel_wrong_type(call: Callable[[ohncp.Parcel], object], name: str) -> None:
    with ohncp.Parcel() as parcel, pytest.raises(TypeError, match=rf"^{name} must be"):
        call(parcel)
    with ohncp.Parcel() as parcel:
        assert len(parcel) == 0  # nothing half written


@pytest.mark.parametrize("data", ["abc", 3, [1, 2]])
def test_parcel_constructor_wrong_type(data: object) -> None:
    with pytest.raises(TypeError, match=r"^data must be bytes"):
        ohncp.Parcel(data)  # type: ignore[arg-type]


def test_stub_wrong_types() -> None:
    with pytest.raises(TypeError, match=r"^descriptor must be str"):
        ohncp.RemoteStub(b"x", lambda code, data, reply: 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^handler must be callable"):
        ohncp.RemoteStub("x", 5)  # type: ignore[arg-type]


def test_on_child_exit_wrong_type() -> None:
    with pytest.raises(TypeError, match="callable"):
        ohncp.on_child_exit(5)  # type: ignore[arg-type]


def test_send_request_wrong_types(calc_proxy: ohncp.RemoteProxy) -> None:
    with pytest.raises(TypeError, match=r"^data must be a Parcel"):
        calc_proxy.send_request(1, b"...")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^data must be a Parcel"):
        calc_proxy.send_request(1, data="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^code must be an int"):
        calc_proxy.send_request("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^code must be an int"):
        calc_proxy.send_request(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^code must be 1..0xFFFFFF, not -1"):
        calc_proxy.send_request(-1)
    # The proxy still works.
    reply = calc_proxy.send_request(1, ohncp.Parcel().write_int32(1).write_int32(2))
    assert reply.read_int32() == 3


@pytest.fixture
def calc_proxy() -> Iterator[ohncp.RemoteProxy]:
    with ohncp.connect(CALC_LIBRARY) as proxy:
        yield proxy
        proxy.send_request(CALC_EXIT, ohncp.Parcel())


def test_fd_objects_with_fileno_still_work(
    spawn: Callable[..., ohncp.ChildProcess], basic: Callable[[str], str], tmp_path: Path
) -> None:
    with open(tmp_path / "f", "wb") as f:
        child = spawn(basic("WriteParams"), b"via fileno", {"out": f})
        assert child.wait(30) == 0
    assert (tmp_path / "f").read_bytes() == b"via fileno"
