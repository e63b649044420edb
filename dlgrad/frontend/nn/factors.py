"""Per-parameter learn-rate and L2 factors of a dlnetwork (MATLAB's setLearnRateFactor, setL2Factor).

The factors live in the network's architecture (static: setting one retraces the functions that
take the network, as a changed layer would); adamupdate, sgdmupdate and rmspropupdate read them:
the learn rate of a parameter is multiplied by its factor, and with L2Regularization=λ its
gradient gains λ * L2Factor * value. MATLAB's defaults: every learn-rate factor 1, the L2 factor
0 for biases and 1 for everything else.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .network import Learnables, dlnetwork


def _default_l2(parameter: str) -> float:
    return 0.0 if parameter == "Bias" else 1.0


def _target(net: dlnetwork, args: Sequence[Any], op: str) -> tuple[str, str]:
    if not isinstance(net, dlnetwork):
        raise TypeError(f"{op} needs a dlnetwork, got {type(net).__name__}")
    if len(args) == 1:
        layer, sep, parameter = str(args[0]).rpartition("/")
        if not sep:
            raise ValueError(f"{op}: give layerName and parameterName, or a path 'layer/parameter', "
                             f"got {args[0]!r}")
    elif len(args) == 2:
        layer, parameter = map(str, args)
    else:
        raise TypeError(f"{op}: expected (net, layerName, parameterName) or (net, 'layer/parameter')")
    if layer not in {l.name for l in net.Layers}:
        raise ValueError(f"{op}: the network has no layer {layer!r}")
    if net.Learnables is not None and (layer, parameter) not in net.Learnables._keys:
        names = [p for l, p in net.Learnables._keys if l == layer]
        raise ValueError(f"{op}: layer {layer!r} has no learnable {parameter!r} (it has {names})")
    return layer, parameter


def nonnegative(value: Any, what: str) -> float:
    """value as a finite float >= 0, else a clear error naming `what` (factors, L2Regularization)."""
    if isinstance(value, (str, bool, np.bool_)):
        raise TypeError(f"{what} must be a nonnegative number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a nonnegative number, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{what} must be a finite nonnegative number, got {number}")
    return number


def _lookup(net: dlnetwork, key: tuple[str, str]) -> tuple[float, float]:
    for k, lr, l2 in net._arch.factors:
        if k == key:
            return lr, l2
    return 1.0, _default_l2(key[1])


def _set(net: dlnetwork, key: tuple[str, str], lr: float | None = None, l2: float | None = None) -> dlnetwork:
    old_lr, old_l2 = _lookup(net, key)
    row = (key, old_lr if lr is None else lr, old_l2 if l2 is None else l2)
    factors = tuple(sorted([f for f in net._arch.factors if f[0] != key] + [row]))
    new = dlnetwork._make(net._arch.with_(factors=factors), [net.Learnables, net.State])
    new._init = net._init
    return new


def setLearnRateFactor(net: dlnetwork, *args: str | float) -> dlnetwork:
    """setLearnRateFactor(net, layerName, parameterName, factor): the network with that factor."""
    *where, factor = args
    return _set(net, _target(net, where, "setLearnRateFactor"), lr=nonnegative(factor, "setLearnRateFactor: factor"))


def getLearnRateFactor(net: dlnetwork, *where: str) -> float:
    """The learn-rate factor of one learnable (1 unless set)."""
    return _lookup(net, _target(net, where, "getLearnRateFactor"))[0]


def setL2Factor(net: dlnetwork, *args: str | float) -> dlnetwork:
    """setL2Factor(net, layerName, parameterName, factor): the network with that L2 factor."""
    *where, factor = args
    return _set(net, _target(net, where, "setL2Factor"), l2=nonnegative(factor, "setL2Factor: factor"))


def getL2Factor(net: dlnetwork, *where: str) -> float:
    """The L2 factor of one learnable (MATLAB's default: 0 for biases, 1 otherwise)."""
    return _lookup(net, _target(net, where, "getL2Factor"))[1]


def leaf_factors(params: Any, count: Any) -> Any:
    """(learn-rate factors, L2 factors) per parameter leaf: a dlnetwork's, a Learnables table's
    defaults (L2 factor 0 for biases, as the same table inside its network), or 1 for other leaves."""
    if isinstance(params, Learnables) and len(params) == count:
        return [1.0] * count, [_default_l2(parameter) for _, parameter in params._keys]
    if not isinstance(params, dlnetwork):
        return [1.0] * count, [1.0] * count
    assert params.Learnables is not None   # flattened before this, so initialized
    pairs = [_lookup(params, key) for key in params.Learnables._keys]
    return [lr for lr, _ in pairs], [l2 for _, l2 in pairs]
