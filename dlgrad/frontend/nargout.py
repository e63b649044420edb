"""MATLAB's nargout for the few functions whose result depends on it: how many names the caller
unpacks the result into (`Y, mu, v = f(...)` asks for 3), read from the caller's bytecode."""
from __future__ import annotations

import dis
import sys

_SEEN: dict = {}
#: code of wrappers that only pass a call on (namevalue's): the caller is the frame above them
WRAPPERS: set = set()


def requested_outputs(depth: int = 2) -> int:
    """The number of values the call `depth` frames up unpacks its result into; 1 when it does not
    unpack it directly (assigned to one name, passed on, returned, indexed...)."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return 1
    while frame.f_code in WRAPPERS and frame.f_back is not None:
        frame = frame.f_back
    key = (frame.f_code, frame.f_lasti)
    count = _SEEN.get(key)
    if count is None:
        count = 1
        for instruction in dis.get_instructions(frame.f_code):
            if instruction.offset > frame.f_lasti:
                if instruction.opname == "UNPACK_SEQUENCE":
                    count = instruction.argval
                break
        if len(_SEEN) > 4096:
            _SEEN.clear()
        _SEEN[key] = count
    return count
