"""Layers for sequence data ("CBT"): sequenceInputLayer, positionEmbeddingLayer, selfAttentionLayer
and attentionLayer (queries, keys and values from three branches of a layer graph)."""
from __future__ import annotations

from ..types import ArrayLike

from typing import Any

import numpy as np
import numpy.typing as npt

from ..formats import labelled, stripdims
from .. import functions as F
from ..dispatch import apply
from ..dlarray import dlarray
from .attention import attention, check_scale
from .layers import LAYERS, Layer, Params, _layer, check_channels, glorot
from .linear import embed, fullyconnect


def _positive(value: Any, what: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {what} must be a positive integer, got {value!r}")
    return int(value)


@_layer("sequenceinput")
class sequenceInputLayer(Layer):
    """Sequences of inputSize channels, formatted "CBT" (any length; MinLength for initialisation)."""
    inputSize: int
    MinLength: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        _positive(self.inputSize, "inputSize", "sequenceInputLayer")
        _positive(self.MinLength, "MinLength", "sequenceInputLayer")

    def example(self, dtype: npt.DTypeLike) -> dlarray:
        return labelled(np.zeros((self.inputSize, 1, self.MinLength), dtype), "CBT")

    def forward(self, params: Any, x: dlarray) -> Any:
        x = x if x._fmt else labelled(x, "CBT")
        check_channels(self, x, self.inputSize)
        return x


@_layer("posemb")
class positionEmbeddingLayer(Layer):
    """A learned vector per time step: Weights (outputSize, maxPosition), output (outputSize, B, T)
    for a "CBT" input of T <= maxPosition steps (add it to the input with an additionLayer)."""
    outputSize: int
    maxPosition: int
    name: str = ""

    def __post_init__(self) -> None:
        _positive(self.outputSize, "outputSize", "positionEmbeddingLayer")
        _positive(self.maxPosition, "maxPosition", "positionEmbeddingLayer")

    def initialize(self, x: dlarray, rng: np.random.Generator) -> tuple[Params, Params]:   # MATLAB's default "narrow-normal": N(0, 0.01^2)
        return {"Weights": (0.01 * rng.standard_normal((self.outputSize, self.maxPosition))).astype(x.dtype)}, {}

    def forward(self, p: Params, x: dlarray) -> dlarray:
        fmt = x._fmt or ""
        if "T" not in fmt:
            raise ValueError(f"positionEmbeddingLayer {self.name!r} needs data with a 'T' axis, got format {fmt!r}")
        steps = x.shape[fmt.index("T")]
        if steps > self.maxPosition:
            raise ValueError(f"positionEmbeddingLayer {self.name!r}: {steps} time steps exceed maxPosition "
                             f"{self.maxPosition}")
        batch = x.shape[fmt.index("B")] if "B" in fmt else 1
        w = F.reshape(p["Weights"][:, :steps], (self.outputSize, 1, steps))
        return labelled(apply("broadcast_to", w, shape=(self.outputSize, batch, steps)), "CBT")


@_layer("embedding")
class wordEmbeddingLayer(Layer):
    """Word vectors: input "CBT" word indices (C of size 1, 0-based: MATLAB's 1-based indices minus
    one), output (dimension, B, T). OOVMode "map-to-last" (MATLAB's default): Weights is
    (dimension, numWords + 1) and every value that is not a whole number in [0, numWords) reads
    the last column; "error": Weights is (dimension, numWords) and such a value raises
    IndexOutOfRange."""
    dimension: int
    numWords: int
    OOVMode: str = "map-to-last"
    name: str = ""

    def __post_init__(self) -> None:
        _positive(self.dimension, "dimension", "wordEmbeddingLayer")
        _positive(self.numWords, "numWords", "wordEmbeddingLayer")
        mode = self.OOVMode.lower() if isinstance(self.OOVMode, str) else None
        if mode not in ("map-to-last", "error"):
            raise ValueError(f"wordEmbeddingLayer: OOVMode must be 'map-to-last' or 'error', got {self.OOVMode!r}")
        object.__setattr__(self, "OOVMode", mode)

    def _columns(self) -> int:
        return self.numWords + (self.OOVMode == "map-to-last")

    def initialize(self, x: dlarray, rng: np.random.Generator) -> tuple[Params, Params]:   # MATLAB's default "narrow-normal": N(0, 0.01^2)
        # stored column-major, MATLAB's memory layout: a word's vector is contiguous, and a compiled
        # lookup reads it as a row of the words x dimension array it is in memory
        weights = (0.01 * rng.standard_normal((self.dimension, self._columns()))).astype(x.dtype)
        return {"Weights": np.asfortranarray(weights)}, {}

    def forward(self, p: Params, x: dlarray) -> dlarray:
        W = p["Weights"]
        if W.ndim != 2 or W.shape[1] != self._columns():
            raise ValueError(f"wordEmbeddingLayer {self.name!r}: Weights of shape {W.shape}; OOVMode "
                             f"{self.OOVMode!r} needs ({self.dimension}, {self._columns()}) (numWords "
                             f"{self.numWords}{' + 1 for the out-of-vocabulary column' * (self.OOVMode == 'map-to-last')})")
        if self.OOVMode == "error":
            return embed(x, W)
        indices = apply("fill_index", stripdims(x), high=self.numWords, fill=self.numWords)
        indices._fmt = x._fmt
        return embed(indices, W, DataFormat=None if x._fmt else "CBT")


def _mode(mask: Any, layer: str) -> str:
    if isinstance(mask, str) and mask.lower() in ("none", "causal"):
        return mask.lower()
    raise ValueError(f"{layer}: AttentionMask must be 'none' or 'causal', got {mask!r}")


def _probability(value: Any, layer: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 <= value < 1:
        raise ValueError(f"{layer}: DropoutProbability must be a number in [0, 1), got {value!r}")


def _dropout(layer: Any, training: bool) -> float:
    """The attention-weight dropout of a layer: its DropoutProbability in training, none in prediction."""
    return float(layer.DropoutProbability) if training else 0.0


@_layer("selfattention")
class selfAttentionLayer(Layer):
    """Multi-head self-attention: Q, K, V projections of the input, attention, an output projection."""
    numHeads: int
    numKeyChannels: int
    NumValueChannels: int | str = "auto"
    OutputSize: int | str = "auto"
    AttentionMask: str = "none"
    Scale: float | str = "auto"
    DropoutProbability: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        heads = _positive(self.numHeads, "numHeads", "selfAttentionLayer")
        keys = _positive(self.numKeyChannels, "numKeyChannels", "selfAttentionLayer")
        values = keys if self.NumValueChannels == "auto" else _positive(self.NumValueChannels, "NumValueChannels",
                                                                         "selfAttentionLayer")
        if keys % heads or values % heads:
            raise ValueError(f"selfAttentionLayer: numHeads ({heads}) must divide numKeyChannels ({keys}) and "
                             f"NumValueChannels ({values})")
        if self.OutputSize != "auto":
            _positive(self.OutputSize, "OutputSize", "selfAttentionLayer")
        _probability(self.DropoutProbability, "selfAttentionLayer")
        check_scale(self.Scale, "selfAttentionLayer")
        object.__setattr__(self, "AttentionMask", _mode(self.AttentionMask, "selfAttentionLayer"))

    def initialize(self, x: dlarray, rng: np.random.Generator) -> tuple[Params, Params]:
        c = x.shape[x._fmt.index("C")]
        dk = self.numKeyChannels
        dv = dk if self.NumValueChannels == "auto" else _positive(self.NumValueChannels, "NumValueChannels",
                                                                   "selfAttentionLayer")
        out = c if self.OutputSize == "auto" else _positive(self.OutputSize, "OutputSize", "selfAttentionLayer")
        p: Params = {}
        for name, rows, cols in (("Query", dk, c), ("Key", dk, c), ("Value", dv, c), ("Output", out, dv)):
            p[name + "Weights"] = glorot(rng, (rows, cols), cols, rows, x.dtype)
            p[name + "Bias"] = np.zeros((rows, 1), x.dtype)
        return p, {}

    def apply(self, p: Params, s: Params, x: dlarray, training: bool,
              mask: Any = None) -> tuple[dlarray, Params]:
        q, k, v = (fullyconnect(x, p[n + "Weights"], p[n + "Bias"]) for n in ("Query", "Key", "Value"))
        y, _ = attention(q, k, v, self.numHeads, Scale=self.Scale, AttentionMask=self.AttentionMask,
                         DropoutProbability=_dropout(self, training))
        return fullyconnect(y, p["OutputWeights"], p["OutputBias"]), {}


@_layer("attention")
class attentionLayer(Layer):
    """Dot-product attention of three inputs "query", "key" and "value" (no learnables)."""
    numHeads: int
    AttentionMask: str = "none"
    Scale: float | str = "auto"
    DropoutProbability: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        _positive(self.numHeads, "numHeads", "attentionLayer")
        _probability(self.DropoutProbability, "attentionLayer")
        check_scale(self.Scale, "attentionLayer")
        object.__setattr__(self, "AttentionMask", _mode(self.AttentionMask, "attentionLayer"))

    def num_inputs(self) -> int:
        return 3

    def input_names(self) -> list[str]:
        return ["query", "key", "value"]

    def apply(self, p: Params, s: Params, xs: Any, training: bool,
              mask: Any = None) -> tuple[dlarray, Params]:
        q, k, v = xs
        return attention(q, k, v, self.numHeads, Scale=self.Scale, AttentionMask=self.AttentionMask,
                         DropoutProbability=_dropout(self, training))[0], {}


SEQUENCE_LAYERS = [sequenceInputLayer, wordEmbeddingLayer, positionEmbeddingLayer, selfAttentionLayer, attentionLayer]
LAYERS.extend(SEQUENCE_LAYERS)
