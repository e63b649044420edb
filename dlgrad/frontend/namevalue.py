"""MATLAB's argument form for layers and functions: positional arguments, then ("Name", value) pairs.

`convolution2dLayer(3, 20, "Padding", "same")` and `dlconv(X, W, b, "Stride", 2)` are how MATLAB code
passes options; without this the pairs would fill the next Python parameters in order (Stride="Padding")
and configure the layer silently wrong. Names match case-insensitively, as in MATLAB, and the same
options are accepted as Python keywords.
"""
from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any, Callable, Sequence, TypeVar

from .nargout import WRAPPERS

Function = TypeVar("Function", bound=Callable[..., Any])


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"a {type(value).__name__}"


#: MATLAB layer options that dlgrad spells another way: the error says how
ELSEWHERE = {
    **{f"{p}{f}factor": f"set it on the network: setLearnRateFactor(net, layerName, '{p.capitalize()}', factor)"
       if f == "learnrate" else f"set it on the network: setL2Factor(net, layerName, '{p.capitalize()}', factor)"
       for p in ("weights", "bias") for f in ("learnrate", "l2")},
    **{k: "assign the learnables after dlnetwork(...): dlupdate or Learnables(rows) (Glorot weights and "
          "zero biases are the default)" for k in ("weights", "bias", "weightsinitializer", "biasinitializer")},
}
ELSEWHERE["weightlearnratefactor"] = ELSEWHERE["weightslearnratefactor"]
ELSEWHERE["weightl2factor"] = ELSEWHERE["weightsl2factor"]


def _canonical(owner: str, name: Any, options: dict[str, str]) -> str:
    """The option that `name` spells (case-insensitively), or a TypeError naming close matches."""
    if not isinstance(name, str):
        raise TypeError(f"{owner}: option names must be strings, got {_describe(name)} where a name of a "
                        f"name-value pair was expected")
    found = options.get(name.lower())
    if found is not None:
        return found
    close = difflib.get_close_matches(name.lower(), list(options), n=1, cutoff=0.6)
    hint = f"; did you mean {options[close[0]]!r}?" if close else ""
    if name.lower() in ELSEWHERE:
        hint = f" here; {ELSEWHERE[name.lower()]}"
    raise TypeError(f"{owner}: unknown option {name!r}{hint} (options: {', '.join(sorted(set(options.values())))})")


def parse(owner: str, args: Sequence[Any], kwargs: dict[str, Any], names: Sequence[str], required: int,
          optional: Sequence[str] = (), more: bool = False) -> dict[str, Any]:
    """The keyword arguments that MATLAB's call `owner(*args, **kwargs)` means.

    names: every option, canonically spelled; the first `required` are positional (MATLAB's required
    arguments); `optional` are MATLAB's optional positional arguments, taken while an argument is not
    a string; what follows must be name-value pairs. more: names not among `names` pass through as
    given (for a function that takes **options of its own).
    """
    options = {n.lower(): n for n in names}
    positional = list(names[:required]) + list(optional)
    out: dict[str, Any] = {}
    k = 0
    while k < len(args) and k < len(positional):
        value = args[k]
        if isinstance(value, str) and value.lower() in options and options[value.lower()] not in positional:
            if k < required:   # fullyConnectedLayer("Name", "fc"): a required argument is missing
                raise TypeError(f"{owner}: expected {positional[k]} as argument {k + 1} before name-value "
                                f"pairs, got the option name {value!r}")
            break
        if k >= required and isinstance(value, str):
            break
        out[positional[k]] = value
        k += 1
    rest = args[k:]
    if rest and not isinstance(rest[0], str):
        expected = f"{', '.join(positional)}, then name-value pairs" if positional else \
            "name-value pairs only (no positional arguments)"
        raise TypeError(f"{owner}: takes {expected}; got the extra positional "
                        f"argument {_describe(rest[0])} (give options by name, e.g. \"Name\", value)")
    if len(rest) % 2:
        raise TypeError(f"{owner}: name-value arguments come in pairs; got {len(rest)} trailing arguments "
                        f"({', '.join(_describe(v) for v in rest)})")
    pairs = [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)] + list(kwargs.items())
    for name, value in pairs:
        key = name if more and isinstance(name, str) and name.lower() not in options \
            else _canonical(owner, name, options)
        if key in out:
            raise TypeError(f"{owner}: option {key!r} given twice")
        out[key] = value
    return out


def name_value_init(cls: type, names: Sequence[str], required: int, optional: Sequence[str] = ()) -> None:
    """Make `cls.__init__` (a dataclass's, taking every option by keyword) accept MATLAB's form."""
    init = getattr(cls, "__init__")
    owner = cls.__name__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, **parse(owner, args, kwargs, names, required, optional))

    __init__.__doc__ = init.__doc__
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", __init__)


def name_value(required: int, optional: Sequence[str] = ()) -> Callable[[Function], Function]:
    """Decorate a function whose first `required` parameters are MATLAB's positional arguments (then
    the `optional` ones, while not strings) so that what follows is read as name-value pairs."""
    def decorate(fn: Function) -> Function:
        signature = list(inspect.signature(fn).parameters.values())
        method = signature[0].name == "self"   # a class's __init__: self comes first, then MATLAB's form
        signature = signature[method:]
        names = [p.name for p in signature if not p.name.startswith("_") and p.kind is not p.VAR_KEYWORD]
        hidden = [p.name for p in signature if p.name.startswith("_")]
        more = any(p.kind is p.VAR_KEYWORD for p in signature)
        limit = required + len(optional)
        exact = set(names) | set(hidden)
        owner = fn.__qualname__.rsplit(".", 2)[-2] if fn.__name__ == "__init__" else fn.__name__

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            own, args = args[:method], args[method:]
            if len(args) <= limit and (more or exact.issuperset(kwargs)) and \
                    not any(isinstance(a, str) for a in args[required:]):
                return fn(*own, *args, **kwargs)   # the plain Python call
            private = {k: kwargs.pop(k) for k in hidden if k in kwargs}
            return fn(*own, **parse(owner, args, kwargs, names, required, optional, more), **private)
        WRAPPERS.add(getattr(call, "__code__"))   # batchnorm's nargout reads the caller of the wrapper
        return call  # type: ignore[return-value]
    return decorate
