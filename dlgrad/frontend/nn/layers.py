"""Layers for dlnetwork: frozen descriptions (hashable, so equal architectures share compiled code).

Each layer has `initialize(x, rng) -> (learnables, state)` run once on an example input
(batch of one) and `apply(params, state, x, training, mask) -> (y, new state)`.
Weights use MATLAB's defaults: Glorot-uniform weights, zero biases.
"""
from __future__ import annotations

from ..types import ArrayLike

import math
from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

import numpy as np
import numpy.typing as npt

from .. import functions as F
from ..formats import labelled
from . import activations as A
from .convolution import dlconv
from .linear import dropout, fullyconnect
from ..random import rand
from .normalization import batchnorm, layernorm
from ..dlarray import dlarray
from ..namevalue import name_value_init

Params = dict[str, Any]
Size = int | Sequence[int]
LayerType = TypeVar("LayerType", bound=type)


def glorot(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int,
           dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    bound = math.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _pair(v: Any) -> tuple[int, ...]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)


def _whole(value: Any) -> bool:
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer, float, np.floating)) \
        and float(value).is_integer()


def positive_int(value: Any, what: str, layer: str) -> int:
    """value as an int, or a ValueError: MATLAB refuses a size of 0, a fraction or a negative size."""
    if not _whole(value) or value < 1:
        raise ValueError(f"{layer}: {what} must be a positive integer, got {value!r}")
    return int(value)


def positive_sizes(value: Any, d: int, what: str, layer: str) -> tuple[int, ...]:
    """d positive ints from one value or d of them (MATLAB's filterSize, poolSize)."""
    values: list[Any] = list(np.ravel(np.asarray(value, dtype=object))) if not isinstance(value, str) else [value]
    if len(values) not in (1, d) or not all(_whole(v) and v >= 1 for v in values):
        raise ValueError(f"{layer}: {what} must be a positive integer{f' or {d} of them' * (d > 1)}, "
                         f"got {value!r}")
    return tuple(int(v) for v in values * (d // len(values)))


def positive_epsilon(value: Any, layer: str) -> None:
    """Epsilon divides by sqrt(variance + Epsilon): 0 or less gives Inf or NaN for constant data."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 < value < math.inf:
        raise ValueError(f"{layer}: Epsilon must be a positive number, got {value!r}")


class Layer:
    prefix = "layer"
    name: str = ""

    if TYPE_CHECKING:   # MATLAB's form: required arguments, then name-value pairs or keywords (_layer)
        def __init__(self, *args: Any, **options: Any) -> None: ...

    def initialize(self, x: dlarray, rng: np.random.Generator) -> tuple[Params, Params]:
        return {}, {}

    def num_inputs(self) -> int:
        return 1

    def input_names(self) -> list[str]:
        return ["in"]

    def output_names(self) -> list[str]:
        """Its outputs' names; apply returns a tuple of them when there are several."""
        return ["out"]

    def apply(self, params: Params, state: Params, x: Any, training: bool,
              mask: Any = None) -> tuple[dlarray, Params]:
        return self.forward(params, x), {}

    def forward(self, params: Params, x: dlarray) -> dlarray:
        raise NotImplementedError

    quiet: tuple[str, ...] = ()   # options shown only when they differ from their default

    def describe(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                           if k != "name" and not (k in self.quiet and v == getattr(type(self), k)))
        return f"{type(self).__name__}({fields})"


def _layer(prefix: str, optional: tuple[str, ...] = ()) -> Callable[[LayerType], LayerType]:
    """A frozen dataclass layer whose constructor takes MATLAB's form: the required fields
    positionally, then the `optional` ones (MATLAB's optional positional arguments, such as
    dropoutLayer's probability) while they are not strings, then options as name-value pairs
    ("Padding", "same") or keywords, names matched case-insensitively."""
    def decorate(cls: Any) -> Any:
        cls = dataclass(frozen=True)(cls)
        cls.prefix = prefix
        options = [f for f in fields(cls) if f.init]
        required = sum(f.default is MISSING and f.default_factory is MISSING for f in options)
        name_value_init(cls, [f.name for f in options], required, optional)
        return cls
    return decorate


@_layer("input")
class featureInputLayer(Layer):
    inputSize: int
    name: str = ""

    def __post_init__(self) -> None:
        positive_int(self.inputSize, "inputSize", "featureInputLayer")

    def example(self, dtype: npt.DTypeLike) -> dlarray:
        return labelled(np.zeros((self.inputSize, 1), dtype), "CB")

    def forward(self, params: Any, x: dlarray) -> Any:
        x = x if x._fmt else labelled(x, "CB")
        check_channels(self, x, self.inputSize, "features")
        return x


def check_channels(layer: Any, x: dlarray, size: Any, noun: Any = "channels") -> Any:
    """An input layer's data must have its number of channels (MATLAB refuses other sizes)."""
    if "C" in x._fmt and x.shape[x._fmt.index("C")] != size:
        raise ValueError(f"{type(layer).__name__} {layer.name!r} takes data with {size} {noun}, got "
                         f"{x.shape[x._fmt.index('C')]} (shape {x.shape}, format {x._fmt!r})")


def check_image(layer: Any, x: dlarray, labels: str) -> None:
    """An image input layer's data must be images of its inputSize (MATLAB refuses other sizes): the
    error names the layer, not a convolution further on."""
    fmt = x._fmt or ""
    size = tuple(x.shape[i] for i, c in enumerate(fmt) if c in "SC")
    if "".join(c for c in fmt if c in "SCBT") not in (labels, labels + "B") or size != tuple(layer.inputSize):
        raise ValueError(f"{type(layer).__name__} {layer.name!r} takes {labels!r} images of size "
                         f"{tuple(layer.inputSize)} (and a 'B' axis), got shape {x.shape} with format {fmt!r}")


class Statistic:
    """A read-only array that a frozen layer can hold: hashed and compared by value."""

    __slots__ = ("array", "_key")

    def __init__(self, value: npt.ArrayLike, dtype: npt.DTypeLike = np.float64) -> None:
        self.array = np.array(value, dtype=dtype)
        self.array.setflags(write=False)
        self._key = (self.array.shape, self.array.tobytes())

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Statistic) and self._key == other._key

    def __repr__(self) -> str:
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
    inputSize: tuple[int, ...]
    Normalization: str = "zerocenter"
    Mean: object = None
    StandardDeviation: object = None
    Min: object = None
    Max: object = None
    name: str = ""

    def __post_init__(self) -> None:
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

    def example(self, dtype: npt.DTypeLike) -> dlarray:
        return labelled(np.zeros(self.inputSize + (1,), dtype), "SSCB")

    def _stat(self, field: str, neutral: float, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        value = getattr(self, field)
        array = np.full((1, 1, 1), neutral) if value is None else value.array
        return np.broadcast_to(array, np.broadcast_shapes(array.shape, (1, 1, 1)))[..., None].astype(dtype)

    def forward(self, params: Params, x: dlarray) -> dlarray:
        x = x if x._fmt else labelled(x, "SSCB")
        check_image(self, x, "SSC")
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
    """Weights @ flattened features + Bias; FeatureOrder="column-major" for weights from MATLAB
    (see fullyconnect)."""
    outputSize: int
    name: str = ""
    FeatureOrder: str = "row-major"
    quiet = ("FeatureOrder",)

    def __post_init__(self) -> None:
        positive_int(self.outputSize, "outputSize", "fullyConnectedLayer")

    def initialize(self, x: dlarray, rng: np.random.Generator) -> tuple[Params, Params]:
        # the features fullyconnect flattens: S, C and U axes (B and T are observations and steps)
        n = math.prod(d for d, c in zip(x.shape, x._fmt) if c in "SCU")
        return {"Weights": glorot(rng, (self.outputSize, n), n, self.outputSize, x.dtype),
                "Bias": np.zeros((self.outputSize, 1), x.dtype)}, {}

    def forward(self, p: Params, x: dlarray) -> dlarray:
        return fullyconnect(x, p["Weights"], p["Bias"], FeatureOrder=self.FeatureOrder)


@_layer("conv")
class convolution2dLayer(Layer):
    filterSize: Size
    numFilters: int
    Stride: Size = 1
    Padding: Any = 0   # an int, (h, w), (top, bottom, left, right) or "same"
    DilationFactor: Size = 1
    name: str = ""
    PaddingValue: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "filterSize", positive_sizes(self.filterSize, 2, "filterSize", "convolution2dLayer"))
        positive_int(self.numFilters, "numFilters", "convolution2dLayer")
        if not isinstance(self.Padding, str):
            object.__setattr__(self, "Padding", _pair(self.Padding) if np.ndim(self.Padding) == 0 else
                               tuple(tuple(int(v) for v in row) for row in np.asarray(self.Padding))
                               if np.ndim(self.Padding) == 2 else tuple(int(v) for v in self.Padding))

    def initialize(self, x: dlarray, rng: np.random.Generator) -> tuple[Params, Params]:
        kh, kw = _pair(self.filterSize)
        c = x.shape[2]
        shape = (kh, kw, c, self.numFilters)
        return {"Weights": glorot(rng, shape, kh * kw * c, kh * kw * self.numFilters, x.dtype),
                "Bias": np.zeros((1, 1, self.numFilters), x.dtype)}, {}

    def forward(self, p: Params, x: dlarray) -> dlarray:
        return dlconv(x, p["Weights"], p["Bias"], Stride=self.Stride, Padding=self.Padding,
                      DilationFactor=self.DilationFactor, PaddingValue=self.PaddingValue)


@_layer("batchnorm")
class batchNormalizationLayer(Layer):
    """Batch normalisation; State TrainedMean and TrainedVariance are updated in training with
    MeanDecay and VarianceDecay (the running variance from the unbiased batch variance: see
    batchnorm)."""
    MeanDecay: float = 0.1
    VarianceDecay: float = 0.1
    Epsilon: float = 1e-5
    name: str = ""

    def __post_init__(self) -> None:
        positive_epsilon(self.Epsilon, "batchNormalizationLayer")

    def initialize(self, x: dlarray, rng: np.random.Generator) -> tuple[Params, Params]:
        c = x.shape[x._fmt.index("C")]
        return ({"Offset": np.zeros(c, x.dtype), "Scale": np.ones(c, x.dtype)},
                {"TrainedMean": np.zeros(c, x.dtype), "TrainedVariance": np.ones(c, x.dtype)})

    def apply(self, p: Params, s: Params, x: dlarray, training: bool,
              mask: Any = None) -> tuple[dlarray, Params]:
        if not training:
            return batchnorm(x, p["Offset"], p["Scale"], s["TrainedMean"], s["TrainedVariance"],
                             training=False, Epsilon=self.Epsilon), {}
        y, mean, var = batchnorm(x, p["Offset"], p["Scale"], s["TrainedMean"], s["TrainedVariance"],
                                 training=True, MeanDecay=self.MeanDecay,
                                 VarianceDecay=self.VarianceDecay, Epsilon=self.Epsilon)
        return y, {"TrainedMean": mean, "TrainedVariance": var}


@_layer("layernorm")
class layerNormalizationLayer(Layer):
    Epsilon: float = 1e-5
    name: str = ""
    OperationDimension: str = "auto"
    quiet = ("OperationDimension",)

    def __post_init__(self) -> None:
        positive_epsilon(self.Epsilon, "layerNormalizationLayer")

    def initialize(self, x: dlarray, rng: np.random.Generator) -> tuple[Params, Params]:
        c = x.shape[x._fmt.index("C")]
        return {"Offset": np.zeros(c, x.dtype), "Scale": np.ones(c, x.dtype)}, {}

    def forward(self, p: Params, x: dlarray) -> dlarray:
        return layernorm(x, p["Offset"], p["Scale"], Epsilon=self.Epsilon,
                         OperationDimension=self.OperationDimension)


def _activation(cls_name: str, prefix: str, fn: Callable[..., dlarray], optional: tuple[str, ...] = (),
                **defaults: Any) -> Callable[..., Layer]:
    namespace = {"__annotations__": {k: type(v) for k, v in defaults.items()} | {"name": str},
                 **defaults, "name": "",
                 "forward": lambda self, p, x: fn(x, **{k: getattr(self, k) for k in defaults})}
    cls = type(cls_name, (Layer,), namespace)
    return _layer(prefix, optional)(cls)


reluLayer = _activation("reluLayer", "relu", lambda x: A.relu(x))
leakyReluLayer = _activation("leakyReluLayer", "leakyrelu", A.leakyrelu, ("scale",), scale=0.01)
eluLayer = _activation("eluLayer", "elu", A.elu, ("alpha",), alpha=1.0)
geluLayer = _activation("geluLayer", "gelu", A.gelu, Approximation="none")
sigmoidLayer = _activation("sigmoidLayer", "sigmoid", lambda x: A.sigmoid(x))
tanhLayer = _activation("tanhLayer", "tanh", lambda x: A.tanh(x))
softmaxLayer = _activation("softmaxLayer", "softmax", lambda x: A.softmax(x))


@_layer("dropout", optional=("Probability",))
class dropoutLayer(Layer):
    Probability: float = 0.5
    name: str = ""

    def __post_init__(self) -> None:   # checked here, not at the first training call
        if isinstance(self.Probability, (bool, np.bool_)) or not isinstance(
                self.Probability, (int, float, np.integer, np.floating)) or not 0 <= self.Probability < 1:
            raise ValueError(f"dropoutLayer: Probability must be a number in [0, 1), got {self.Probability!r}")

    def apply(self, p: Params, s: Params, x: dlarray, training: bool,
              mask: Any = None) -> tuple[dlarray, Params]:
        if not training or self.Probability == 0:
            return x, {}
        if mask is None:   # MATLAB's forward drops out by itself: a mask from the global stream
            mask = rand(tuple(x.shape), dtype=x.dtype) >= self.Probability
        return dropout(x, mask, self.Probability), {}


@_layer("flatten")
class flattenLayer(Layer):
    name: str = ""

    def forward(self, p: Params, x: dlarray) -> dlarray:
        fmt = x._fmt
        b = fmt.index("B")
        rest = fmt[b:]
        return labelled(F.reshape(x, (-1,) + x.shape[b:]), "C" + rest)


LAYERS: list[Callable[..., Layer]] = [featureInputLayer, imageInputLayer, fullyConnectedLayer, convolution2dLayer,
          batchNormalizationLayer, layerNormalizationLayer, reluLayer, leakyReluLayer, eluLayer,
          geluLayer, sigmoidLayer, tanhLayer, softmaxLayer, dropoutLayer, flattenLayer]
