"""The thread-local stack of active traces: which dlfeval is recording graph nodes right now."""
from __future__ import annotations

import threading

from ..errors import TraceError

_local = threading.local()
capturing = 0   # active traces (in any thread) with captured-input candidates: eager ops look


class Trace:
    """One dlfeval's recording: its input nodes, whether it is still running, and the arrays
    read from outside it that become inputs when an operation meets them (capture.Capturing)."""

    __slots__ = ("active", "inputs", "captures", "__weakref__")

    def __init__(self):
        self.active = True
        self.inputs = []
        self.captures = None

    def __enter__(self):
        global capturing
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        stack.append(self)
        if self.captures is not None:
            capturing += 1
        return self

    def __exit__(self, *exc):
        global capturing
        _local.stack.pop()
        self.active = False
        if self.captures is not None:
            capturing -= 1
        return False


class accelerating:
    """`with accelerating(flag):` traces begun inside are (or are not) of an accelerated function,
    where dlgradient's EnableHigherDerivatives defaults to true, as in MATLAB."""

    __slots__ = ("flag", "before")

    def __init__(self, flag: bool):
        self.flag = flag

    def __enter__(self):
        self.before = getattr(_local, "accelerated", False)
        _local.accelerated = self.flag

    def __exit__(self, *exc):
        _local.accelerated = self.before
        return False


def in_accelerated() -> bool:
    """Whether the function being traced now is an accelerated one (dlaccelerate)."""
    return getattr(_local, "accelerated", False)


class stepping_eagerly:
    """`with stepping_eagerly():` the traces begun inside compile an eager scan (frontend/
    eager_loops.py), where dlgradient must fail as it does outside dlfeval."""

    __slots__ = ("before",)

    def __enter__(self):
        self.before = getattr(_local, "eager", None)
        _local.eager = _Begun()

    def __exit__(self, *exc):
        _local.eager = self.before
        return False


class _Begun:
    """Marks the traces begun under one stepping_eagerly (the innermost trace at their start)."""
    __slots__ = ("depth",)

    def __init__(self):
        stack = getattr(_local, "stack", None)
        self.depth = len(stack) if stack else 0


def in_eager_step() -> bool:
    """Whether the innermost trace compiles an eager scan (begun under stepping_eagerly)."""
    begun = getattr(_local, "eager", None)
    stack = getattr(_local, "stack", None)
    return begun is not None and bool(stack) and len(stack) == begun.depth + 1


def current():
    """The innermost active trace of this thread, or None outside dlfeval."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def check_usable(trace: Trace) -> None:
    """Raise TraceError unless values of `trace` may be used now (its dlfeval runs, innermost)."""
    if not trace.active:
        raise TraceError("a traced dlarray was used after the dlfeval that traced it returned; "
                         "traced values live only inside the function dlfeval evaluates "
                         "(return them from it to get their values)")
    if trace is not current():
        raise TraceError("a traced dlarray of an enclosing dlfeval was used inside another dlfeval; "
                         "pass it to the inner function as an argument instead")


def transfer_error(what: str) -> TraceError:
    """The error for sending a traced dlarray to another process (a pickle, an spmd function)."""
    return TraceError(
        f"{what} of a traced dlarray: as MATLAB's documentation says, \"moving traced dlarray objects "
        "between the client and workers breaks the tracing ... compute all required gradients on the "
        "worker and then combine the gradients\". Return gradients, losses and state from the function "
        "dlfeval evaluates and combine those (spmdPlus) outside it.")


def control_flow_error(what: str) -> TraceError:
    """The error for Python control flow (`if`, bool(), float(), ...) on a traced value."""
    if current() is None:   # no dlfeval runs: the value escaped the one that traced it
        return TraceError(
            f"{what} of a traced dlarray that escaped a finished dlfeval: traced values live only while "
            "the function dlfeval evaluates runs (one was kept in a global, a closure or an attribute "
            "and used after dlfeval returned). Return the value from the function instead; dlfeval "
            "then gives it as an ordinary dlarray.")
    return TraceError(
        f"{what} of a traced dlarray: inside dlfeval values are symbolic (the function is traced once "
        "and compiled), so Python control flow cannot depend on them. Use dlgrad.where(cond, a, b), "
        "dlgrad.maximum or dlgrad.minimum to select values, or return the value from the function "
        "and inspect it after dlfeval.")
