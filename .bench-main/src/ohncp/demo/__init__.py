"""The example child libraries that come with the package, ready to start.

``DEMO_LIBRARY`` is an args-mode child (entry ``DemoMain`` writes a line
naming its pid and params to its fd "out"; ``python -m ohncp demo``).
``CALC_LIBRARY`` is the IPC-mode calculator of ``examples/ipc_mode``: its
stub adds two int32 (request ``CALC_ADD``) and ends the child on
``CALC_EXIT``; ``python -m ohncp demo --ipc``::

    import ohncp
    from ohncp.demo import CALC_ADD, CALC_LIBRARY

    with ohncp.connect(CALC_LIBRARY) as calc:
        reply = calc.send_request(CALC_ADD, ohncp.Parcel().write_int32(19).write_int32(23))
        print(reply.read_int32())  # 42
"""

from __future__ import annotations

from .._backend import BUNDLE_DIR

DEMO_LIBRARY = str(BUNDLE_DIR / "libohncp_demo.so")
CALC_LIBRARY = str(BUNDLE_DIR / "libohncp_calc.so")

# The calculator's request codes (examples/ipc_mode/calc.h).
CALC_ADD = 1
CALC_EXIT = 2

__all__ = ["CALC_ADD", "CALC_EXIT", "CALC_LIBRARY", "DEMO_LIBRARY"]
