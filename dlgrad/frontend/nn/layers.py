"""Layers for dlnetwork: frozen descriptions (hashable, so equal architectures share compiled code).

Each layer has `initialize(x, rng) -> (learnables, state)` run once on an example input
(batch of one) and `apply(params, state, x, training, mask) -> (y, new state)`.
Weights use MATLAB's defaults: Glorot-uniform weights, zero biases.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import functions as F
from ..formats import labelled
from . import activations as A
from .conv import dlconv
from .linear import dropout, fullyconnect
from .normalization import batchnorm, layernorm


def glorot(rng, shape, fan_in, fan_out, dtype):
    bound = math.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)


class Layer:
    prefix = "layer"
    name: str = ""

    def initialize(self, x, rng):
        return {}, {}

    def num_inputs(self):
        return 1

    def input_names(self):
        return ["in"]

    def apply(self, params, state, x, training, mask=None):
        return self.forward(params, x), {}

    def forward(self, params, x):
        raise NotImplementedError

    def describe(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "name")
        return f"{type(self).__name__}({fields})"


def _layer(prefix):
    def decorate(cls):
        cls = dataclass(frozen=True)(cls)
        cls.prefix = prefix
        return cls
    return decorate


@_layer("input")
class featureInputLayer(Layer):
    inputSize: int
    name: str = ""

    def example(self, dtype):
        return labelled(np.zeros((self.inputSize, 1), dtype), "CB")

    def forward(self, params, x):
        x = x if x._fmt else labelled(x, "CB")
        check_channels(self, x, self.inputSize, "features")
        return x


def check_channels(layer, x, size, noun="channels"):
    """An input layer's data must have its number of channels (MATLAB refuses other sizes)."""
    if "C" in x._fmt and x.shape[x._fmt.index("C")] != size:
        raise ValueError(f"{type(layer).__name__} {layer.name!r} takes data with {size} {noun}, got "
                         f"{x.shape[x._fmt.index('C')]} (shape {x.shape}, format {x._fmt!r})")


class Statistic:
    """A read-only array that a frozen layer can hold: hashed and compared by value."""

    __slots__ = ("array", "_key")

    def __init__(self, value, dtype=np.float64):
        self.array = np.array(value, dtype=dtype)
        self.array.setflags(write=False)
        self._key = (self.array.shape, self.array.tobytes())

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, Statistic) and self._key == other._key

    def __repr__(self):
        return f"<{'x'.join(map(str, self.array.shape)) or 'scalar'} array>"


_IMAGE_NORMALIZATIONS = ("zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one", "none")


@_layer("imageinput")
class imageInputLayer(Layer):
    """Images of inputSize (h, w, c), formatted "SSCB".

    Normalization: "zerocenter" (MATLAB's default: x - Mean), "zscore" ((x - Mean) /
    StandardDeviation), "rescale-symmetric" (to [-1, 1] with Min and Max), "rescale-zero-one"
    (to [0, 1]) or "none". The statistics are arrays broadcasting against (h, w, c): a scalar,
    one value per channel ((c,) or (1, 1, c)) or one per pixel ((h, w, c)). MATLAB's training
    functions compute them from the training data; a custom training loop gives them, for
    example Mean=images.mean(axis=-1) for images of shape (h, w, c, n). A statistic not given
    takes its neutral value (Mean 0, StandardDeviation 1, Min 0, Max 1), as MATLAB's dlnetwork
    initialisation does, so the default layer without Mean does not change its input.
    The statistics are constants of the compiled function, not learnables.
    """
    inputSize: tuple
    Normalization: str = "zerocenter"
    Mean: object = None
    StandardDeviation: object = None
    Min: object = None
    Max: object = None
    name: str = ""

    def __post_init__(self):
        size = tuple(int(v) for v in self.inputSize)
        if not 2 <= len(size) <= 3 or min(size) < 1:
            raise ValueError(f"imageInputLayer: inputSize must be (h, w) or (h, w, c) of positive "
                             f"sizes, got {self.inputSize!r}")
        size = size + (1,) * (3 - len(size))
        object.__setattr__(self, "inputSize", size)
        mode = self.Normalization.lower() if isinstance(self.Normalization, str) else self.Normalization
        if mode not in _IMAGE_NORMALIZATIONS:
            raise ValueError(f"imageInputLayer: Normalization must be one of "
                             f"{', '.join(map(repr, _IMAGE_NORMALIZATIONS))}, got {self.Normalization!r}")
        object.__setattr__(self, "Normalization", mode)
        for field in ("Mean", "StandardDeviation", "Min", "Max"):
            value = getattr(self, field)
            if value is None or isinstance(value, Statistic):
                continue
            stat = Statistic(value)
            try:
                np.broadcast_shapes(stat.array.shape, size)
                ok = stat.array.ndim <= 3 and np.broadcast_shapes(stat.array.shape, size) == size
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"imageInputLayer: {field} of shape {stat.array.shape} does not fit "
                                 f"images of size {size}: give a scalar, (c,), (1, 1, c) or (h, w, c)")
            if field == "StandardDeviation" and not np.all(stat.array > 0):
                raise ValueError("imageInputLayer: StandardDeviation must be positive")
            object.__setattr__(self, field, stat)

    def example(self, dtype):
        return labelled(np.zeros(self.inputSize + (1,), dtype), "SSCB")

    def _stat(self, field, neutral, dtype):
        value = getattr(self, field)
        array = np.full((1, 1, 1), neutral) if value is None else value.array
        return np.broadcast_to(array, np.broadcast_shapes(array.shape, (1, 1, 1)))[..., None].astype(dtype)

    def forward(self, params, x):
        x = x if x._fmt else labelled(x, "SSCB")
        mode, dtype = self.Normalization, x.dtype
        if mode == "none" or all(getattr(self, f) is None for f in ("Mean", "StandardDeviation", "Min", "Max")):
            return x
        if mode == "zerocenter":
            return x - self._stat("Mean", 0.0, dtype) if self.Mean is not None else x
        if mode == "zscore":
            return (x - self._stat("Mean", 0.0, dtype)) / self._stat("StandardDeviation", 1.0, dtype)
        low, high = self._stat("Min", 0.0, dtype), self._stat("Max", 1.0, dtype)
        y = (x - low) / (high - low)
        return y * 2 - 1 if mode == "rescale-symmetric" else y


@_layer("fc")
class fullyConnectedLayer(Layer):
    outputSize: int
    name: str = ""

    def initialize(self, x, rng):
        n = x.size // x.shape[x._fmt.index("B")]
        return {"Weights": glorot(rng, (self.outputSize, n), n, self.outputSize, x.dtype),
                "Bias": np.zeros((self.outputSize, 1), x.dtype)}, {}

    def forward(self, p, x):
        return fullyconnect(x, p["Weights"], p["Bias"])


@_layer("conv")
class convolution2dLayer(Layer):
    filterSize: tuple
    numFilters: int
    Stride: object = 1
    Padding: object = 0
    DilationFactor: object = 1
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "filterSize", _pair(self.filterSize))
        if not isinstance(self.Padding, str):
            object.__setattr__(self, "Padding", _pair(self.Padding) if np.ndim(self.Padding) == 0
                               else tuple(int(v) for v in self.Padding))

    def initialize(self, x, rng):
        kh, kw = self.filterSize
        c = x.shape[2]
        shape = (kh, kw, c, self.numFilters)
        return {"Weights": glorot(rng, shape, kh * kw * c, kh * kw * self.numFilters, x.dtype),
                "Bias": np.zeros((1, 1, self.numFilters), x.dtype)}, {}

    def forward(self, p, x):
        return dlconv(x, p["Weights"], p["Bias"], Stride=self.Stride, Padding=self.Padding,
                      DilationFactor=self.DilationFactor)


@_layer("batchnorm")
class batchNormalizationLayer(Layer):
    """Batch normalisation; State TrainedMean and TrainedVariance are updated in training with
    MeanDecay and VarianceDecay (the running variance from the unbiased batch variance: see
    batchnorm)."""
    MeanDecay: float = 0.1
    VarianceDecay: float = 0.1
    Epsilon: float = 1e-5
    name: str = ""

    def initialize(self, x, rng):
        c = x.shape[x._fmt.index("C")]
        return ({"Offset": np.zeros(c, x.dtype), "Scale": np.ones(c, x.dtype)},
                {"TrainedMean": np.zeros(c, x.dtype), "TrainedVariance": np.ones(c, x.dtype)})

    def apply(self, p, s, x, training, mask=None):
        if not training:
            return batchnorm(x, p["Offset"], p["Scale"], s["TrainedMean"], s["TrainedVariance"],
                             Epsilon=self.Epsilon), {}
        y, mean, var = batchnorm(x, p["Offset"], p["Scale"], s["TrainedMean"], s["TrainedVariance"],
                                 training=True, MeanDecay=self.MeanDecay,
                                 VarianceDecay=self.VarianceDecay, Epsilon=self.Epsilon)
        return y, {"TrainedMean": mean, "TrainedVariance": var}


@_layer("layernorm")
class layerNormalizationLayer(Layer):
    Epsilon: float = 1e-5
    name: str = ""

    def initialize(self, x, rng):
        c = x.shape[x._fmt.index("C")]
        return {"Offset": np.zeros(c, x.dtype), "Scale": np.ones(c, x.dtype)}, {}

    def forward(self, p, x):
        return layernorm(x, p["Offset"], p["Scale"], Epsilon=self.Epsilon)


def _activation(cls_name, prefix, fn, **defaults):
    namespace = {"__annotations__": {k: type(v) for k, v in defaults.items()} | {"name": str},
                 **defaults, "name": "",
                 "forward": lambda self, p, x: fn(x, **{k: getattr(self, k) for k in defaults})}
    cls = type(cls_name, (Layer,), namespace)
    return _layer(prefix)(cls)


reluLayer = _activation("reluLayer", "relu", lambda x: A.relu(x))
leakyReluLayer = _activation("leakyReluLayer", "leakyrelu", A.leakyrelu, scale=0.01)
eluLayer = _activation("eluLayer", "elu", A.elu, alpha=1.0)
geluLayer = _activation("geluLayer", "gelu", A.gelu, Approximation="none")
sigmoidLayer = _activation("sigmoidLayer", "sigmoid", lambda x: A.sigmoid(x))
tanhLayer = _activation("tanhLayer", "tanh", lambda x: A.tanh(x))
softmaxLayer = _activation("softmaxLayer", "softmax", lambda x: A.softmax(x))


@_layer("dropout")
class dropoutLayer(Layer):
    Probability: float = 0.5
    name: str = ""

    def apply(self, p, s, x, training, mask=None):
        if not training or self.Probability == 0:
            return x, {}
        if mask is None:
            raise ValueError(f"dropout layer {self.name!r} needs a mask in training: pass "
                             "forward(net, X, DropoutMasks=dropout_masks(net, batch_size, rng)) "
                             "(the masks are inputs, so the compiled function stays deterministic)")
        return dropout(x, mask, self.Probability), {}


@_layer("flatten")
class flattenLayer(Layer):
    name: str = ""

    def forward(self, p, x):
        fmt = x._fmt
        b = fmt.index("B")
        rest = fmt[b:]
        return labelled(F.reshape(x, (-1,) + x.shape[b:]), "C" + rest)


LAYERS = [featureInputLayer, imageInputLayer, fullyConnectedLayer, convolution2dLayer,
          batchNormalizationLayer, layerNormalizationLayer, reluLayer, leakyReluLayer, eluLayer,
          geluLayer, sigmoidLayer, tanhLayer, softmaxLayer, dropoutLayer, flattenLayer]
