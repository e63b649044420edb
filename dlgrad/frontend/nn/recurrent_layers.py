"""Recurrent layers: lstmLayer, gruLayer and bilstmLayer, with MATLAB's learnables, initializers and State.

Each keeps its hidden (and cell) state in the network's State as MATLAB does: a call starts from
it, forward(..., return_state=True) returns the final states (numHiddenUnits x observations) to
assign back, and resetState brings back the initial (numHiddenUnits x 1) zeros, which serve every
observation. OutputMode "sequence" gives "CBT", "last" the final hidden state as "CB".
HasStateInputs: the initial states come from the inputs "hidden" (and "cell") instead, and the
layer keeps no State; HasStateOutputs: the final states are the outputs "hidden" (and "cell"),
formatted "CB", after "out" (in a layer graph: "lstm/hidden").
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import functions as F
from ..dlarray import dlarray
from ..formats import labelled
from ..join import concatenate
from .layers import LAYERS, Layer, Params, _layer
from .recurrent import (GATE_ACTIVATIONS, RESET_GATE_MODES, STATE_ACTIVATIONS, _dtype, activation, gru_scan,
                        initial_state, lstm_scan, sequence_input, sequence_output)

_WEIGHT_INITIALIZERS = ("glorot", "he", "orthogonal", "narrow-normal", "zeros", "ones")
_BIAS_INITIALIZERS = ("unit-forget-gate", "narrow-normal", "ones", "zeros")


def _positive(value: Any, what: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {what} must be a positive integer, got {value!r}")
    return int(value)


def _choice(value: Any, allowed: tuple[str, ...], what: str, layer: str) -> str:
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    raise ValueError(f"{layer}: {what} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def initial_weights(kind: str, rng: np.random.Generator, rows: int, cols: int, fan_out: int,
                    dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """MATLAB's weight initializers for a (rows, cols) matrix read by `cols` inputs into `fan_out` outputs."""
    if kind == "glorot":
        bound = math.sqrt(6 / (cols + fan_out))
        return rng.uniform(-bound, bound, (rows, cols)).astype(dtype)
    if kind == "he":
        return (rng.standard_normal((rows, cols)) * math.sqrt(2 / cols)).astype(dtype)
    if kind == "orthogonal":   # Q of Z = QR for a unit normal Z (signs fixed so that Q is unique)
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        q = q * np.sign(np.diag(r))
        return (q if rows >= cols else q.T).astype(dtype)
    if kind == "narrow-normal":
        return (0.01 * rng.standard_normal((rows, cols))).astype(dtype)
    return np.full((rows, cols), 1.0 if kind == "ones" else 0.0, dtype)


def initial_bias(kind: str, rng: np.random.Generator, gates: int, hidden: int, forget: int | None,
                 dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """A (gates*hidden, 1) bias; "unit-forget-gate" puts ones in block `forget` (LSTM's forget gate)."""
    if kind == "narrow-normal":
        return (0.01 * rng.standard_normal((gates * hidden, 1))).astype(dtype)
    bias = np.full((gates * hidden, 1), 1.0 if kind == "ones" else 0.0, dtype)
    if kind == "unit-forget-gate" and forget is not None:
        bias[forget * hidden:(forget + 1) * hidden] = 1
    return bias


class _Recurrent(Layer):
    """What the recurrent layers share: options, initialisation and their OutputMode."""
    gates = 4
    directions = 1
    cell = True
    numHiddenUnits: int
    OutputMode: str
    StateActivationFunction: str
    GateActivationFunction: str
    InputWeightsInitializer: str
    RecurrentWeightsInitializer: str
    BiasInitializer: str
    HasStateInputs: bool
    HasStateOutputs: bool
    quiet: tuple[str, ...] = ("StateActivationFunction", "GateActivationFunction", "InputWeightsInitializer",
                              "RecurrentWeightsInitializer", "BiasInitializer", "HasStateInputs", "HasStateOutputs")

    def __post_init__(self) -> None:
        layer = type(self).__name__
        _positive(self.numHiddenUnits, "numHiddenUnits", layer)
        for field, allowed in (("OutputMode", ("sequence", "last")),
                               ("StateActivationFunction", tuple(STATE_ACTIVATIONS)),
                               ("GateActivationFunction", tuple(GATE_ACTIVATIONS)),
                               ("InputWeightsInitializer", _WEIGHT_INITIALIZERS),
                               ("RecurrentWeightsInitializer", _WEIGHT_INITIALIZERS),
                               ("BiasInitializer", _BIAS_INITIALIZERS)):
            object.__setattr__(self, field, _choice(getattr(self, field), allowed, field, layer))
        for field in ("HasStateInputs", "HasStateOutputs"):
            value = getattr(self, field)
            if not isinstance(value, (bool, np.bool_)) and value not in (0, 1):
                raise ValueError(f"{layer}: {field} must be true or false (1 or 0), got {value!r}")
            object.__setattr__(self, field, bool(value))

    def state_names(self) -> list[str]:
        return ["hidden", "cell"] if self.cell else ["hidden"]

    def num_inputs(self) -> int:
        return len(self.input_names())

    def input_names(self) -> list[str]:
        return ["in", *self.state_names()] if self.HasStateInputs else ["in"]

    def output_names(self) -> list[str]:
        return ["out", *self.state_names()] if self.HasStateOutputs else ["out"]

    def bias_rows(self) -> int:
        return self.gates

    def initialize(self, x: Any, rng: np.random.Generator) -> tuple[Params, Params]:
        x = x[0] if self.HasStateInputs else x
        channels = x.shape[x._fmt.index("C")]
        H, gates, forget = self.numHiddenUnits, self.gates, 1 if self.cell else None
        fan_out = self.directions * gates * H     # MATLAB's numOut: 4H, 8H for a bilstm, 3H
        blocks = [(initial_weights(self.InputWeightsInitializer, rng, gates * H, channels, fan_out, x.dtype),
                   initial_weights(self.RecurrentWeightsInitializer, rng, gates * H, H, fan_out, x.dtype),
                   initial_bias(self.BiasInitializer, rng, self.bias_rows(), H, forget, x.dtype))
                  for _ in range(self.directions)]
        learn = {name: np.concatenate([b[k] for b in blocks])
                 for k, name in enumerate(("InputWeights", "RecurrentWeights", "Bias"))}
        zeros = np.zeros((self.directions * H, 1), x.dtype)
        if self.HasStateInputs:   # MATLAB's layer then has no HiddenState or CellState
            return learn, {}
        return learn, ({"HiddenState": zeros, "CellState": zeros.copy()} if self.cell else {"HiddenState": zeros})

    def functions(self) -> tuple[Any, Any]:
        layer = type(self).__name__
        return (activation(GATE_ACTIVATIONS, self.GateActivationFunction, "GateActivationFunction", layer),
                activation(STATE_ACTIVATIONS, self.StateActivationFunction, "StateActivationFunction", layer))

    def inputs(self, x: Any) -> tuple[Any, dict[str, Any]]:
        """(the sequence, {State key: the state input}) of what apply receives."""
        if not self.HasStateInputs:
            return x, {}
        return x[0], dict(zip(("HiddenState", "CellState"), x[1:]))

    def start(self, s: Params, key: str, rows: int, batch: int, dtype: Any) -> dlarray:
        """The layer's State `key` (its input of that state, with HasStateInputs) as the initial
        (rows, batch) state of this call."""
        if self.HasStateInputs:
            port = "hidden" if key == "HiddenState" else "cell"
            return initial_state(s[key], rows, batch, dtype, f"its input {port!r}", f"{type(self).__name__} "
                                 f"{self.name!r}")
        try:
            return initial_state(s[key], rows, batch, dtype, key, "")
        except ValueError:
            raise ValueError(f"{type(self).__name__} {self.name!r}: its State {key} has shape {s[key].shape} "
                             f"(from a call with another number of observations), data has {batch} "
                             f"observations: call resetState(net) or assign a State of shape ({rows}, {batch})"
                             ) from None

    def output(self, y: dlarray, h: dlarray, fmt: str) -> dlarray:
        if self.OutputMode == "sequence":
            return sequence_output(y, fmt, True)
        return labelled(h, "CB") if "B" in fmt else labelled(F.reshape(h, (h.shape[0],)), "C")

    def result(self, y: dlarray, fmt: str, states: Params) -> tuple[Any, Params]:
        """(the layer's output(s), its updated State) from Y and the final states."""
        out: Any = self.output(y, states["HiddenState"], fmt)
        if self.HasStateOutputs:
            out = (out, *(labelled(states[k], "CB") for k in ("HiddenState", "CellState")[:len(self.state_names())]))
        return out, ({} if self.HasStateInputs else states)


@_layer("lstm")
class lstmLayer(_Recurrent):
    """Long short-term memory: InputWeights (4H, C), RecurrentWeights (4H, H), Bias (4H, 1) in MATLAB's
    gate order (input, forget, cell candidate, output); State HiddenState and CellState."""
    numHiddenUnits: int
    OutputMode: str = "sequence"
    StateActivationFunction: str = "tanh"
    GateActivationFunction: str = "sigmoid"
    InputWeightsInitializer: str = "glorot"
    RecurrentWeightsInitializer: str = "orthogonal"
    BiasInitializer: str = "unit-forget-gate"
    HasStateInputs: bool = False
    HasStateOutputs: bool = False
    name: str = ""

    def apply(self, p: Params, s: Params, x: Any, training: bool, mask: Any = None) -> tuple[Any, Params]:
        x, given = self.inputs(x)
        gate, state = self.functions()
        x3, fmt, _ = sequence_input(x, None, type(self).__name__)
        H, batch, dtype = self.numHiddenUnits, x3.shape[1], _dtype(x3, p["InputWeights"])
        h0, c0 = (self.start(given or s, k, H, batch, dtype) for k in ("HiddenState", "CellState"))
        y, h, c = lstm_scan(x3, p["InputWeights"], p["Bias"], h0, c0, p["RecurrentWeights"], gate, state)
        return self.result(y, fmt, {"HiddenState": h, "CellState": c})


@_layer("bilstm")
class bilstmLayer(_Recurrent):
    """Bidirectional LSTM: a forward and a reverse pass, outputs concatenated (2H channels, forward
    first). Learnables stack the forward then the backward blocks: InputWeights (8H, C),
    RecurrentWeights (8H, H), Bias (8H, 1); State (2H, 1). OutputMode "last" gives each direction's
    final hidden state (forward after step T, backward after step 1)."""
    directions = 2
    numHiddenUnits: int
    OutputMode: str = "sequence"
    StateActivationFunction: str = "tanh"
    GateActivationFunction: str = "sigmoid"
    InputWeightsInitializer: str = "glorot"
    RecurrentWeightsInitializer: str = "orthogonal"
    BiasInitializer: str = "unit-forget-gate"
    HasStateInputs: bool = False
    HasStateOutputs: bool = False
    name: str = ""

    def apply(self, p: Params, s: Params, x: Any, training: bool, mask: Any = None) -> tuple[Any, Params]:
        x, given = self.inputs(x)
        gate, state = self.functions()
        x3, fmt, _ = sequence_input(x, None, type(self).__name__)
        H, batch, dtype = self.numHiddenUnits, x3.shape[1], _dtype(x3, p["InputWeights"])
        h0, c0 = (self.start(given or s, k, 2 * H, batch, dtype) for k in ("HiddenState", "CellState"))
        W, R, b = p["InputWeights"], p["RecurrentWeights"], p["Bias"]
        yf, hf, cf = lstm_scan(x3, W[:4 * H], b[:4 * H], h0[:H], c0[:H], R[:4 * H], gate, state)
        yb, hb, cb = lstm_scan(x3, W[4 * H:], b[4 * H:], h0[H:], c0[H:], R[4 * H:], gate, state, reverse=True)
        h, c = concatenate([hf, hb], 0), concatenate([cf, cb], 0)
        y = concatenate([yf, yb], 0)
        return self.result(y, fmt, {"HiddenState": h, "CellState": c})


@_layer("gru")
class gruLayer(_Recurrent):
    """Gated recurrent unit: InputWeights (3H, C), RecurrentWeights (3H, H) in MATLAB's gate order
    (reset, update, candidate), Bias (3H, 1), or (6H, 1) with ResetGateMode
    "recurrent-bias-after-multiplication" (input bias, then recurrent bias); State HiddenState."""
    gates = 3
    cell = False
    numHiddenUnits: int
    OutputMode: str = "sequence"
    ResetGateMode: str = "after-multiplication"
    StateActivationFunction: str = "tanh"
    GateActivationFunction: str = "sigmoid"
    InputWeightsInitializer: str = "glorot"
    RecurrentWeightsInitializer: str = "orthogonal"
    BiasInitializer: str = "zeros"
    HasStateInputs: bool = False
    HasStateOutputs: bool = False
    name: str = ""
    quiet = _Recurrent.quiet + ("ResetGateMode",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.BiasInitializer == "unit-forget-gate":
            raise ValueError("gruLayer: BiasInitializer must be 'zeros', 'narrow-normal' or 'ones' "
                             "('unit-forget-gate' is an LSTM's), got 'unit-forget-gate'")
        object.__setattr__(self, "ResetGateMode", _choice(self.ResetGateMode, RESET_GATE_MODES,
                                                          "ResetGateMode", "gruLayer"))

    def bias_rows(self) -> int:
        return 6 if self.ResetGateMode == "recurrent-bias-after-multiplication" else 3

    def apply(self, p: Params, s: Params, x: Any, training: bool, mask: Any = None) -> tuple[Any, Params]:
        x, given = self.inputs(x)
        gate, state = self.functions()
        x3, fmt, _ = sequence_input(x, None, type(self).__name__)
        H, batch = self.numHiddenUnits, x3.shape[1]
        bias, W = p["Bias"], p["InputWeights"]
        recurrent_bias = bias[3 * H:] if self.bias_rows() == 6 else None
        h0 = self.start(given or s, "HiddenState", H, batch, _dtype(x3, W))
        y, h = gru_scan(x3, W, bias[:3 * H], h0, p["RecurrentWeights"], recurrent_bias, self.ResetGateMode,
                        gate, state)
        return self.result(y, fmt, {"HiddenState": h})


RECURRENT_LAYERS = [lstmLayer, bilstmLayer, gruLayer]
LAYERS.extend(RECURRENT_LAYERS)
