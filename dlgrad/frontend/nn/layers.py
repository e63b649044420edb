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
from .conv import avgpool, dlconv, maxpool
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
        return x if x._fmt else labelled(x, "CB")


@_layer("imageinput")
class imageInputLayer(Layer):
    inputSize: tuple
    name: str = ""

    def __post_init__(self):
        size = tuple(int(v) for v in self.inputSize)
        object.__setattr__(self, "inputSize", size + (1,) * (3 - len(size)))

    def example(self, dtype):
        return labelled(np.zeros(self.inputSize + (1,), dtype), "SSCB")

    def forward(self, params, x):
        return x if x._fmt else labelled(x, "SSCB")


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


@_layer("maxpool")
class maxPooling2dLayer(Layer):
    poolSize: tuple
    Stride: object = 1
    Padding: object = 0
    name: str = ""

    def forward(self, p, x):
        return maxpool(x, _pair(self.poolSize), Stride=self.Stride, Padding=self.Padding)


@_layer("avgpool")
class averagePooling2dLayer(Layer):
    poolSize: tuple
    Stride: object = 1
    Padding: object = 0
    name: str = ""

    def forward(self, p, x):
        return avgpool(x, _pair(self.poolSize), Stride=self.Stride, Padding=self.Padding)


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
          geluLayer, sigmoidLayer, tanhLayer, softmaxLayer, dropoutLayer, maxPooling2dLayer,
          averagePooling2dLayer, flattenLayer]
