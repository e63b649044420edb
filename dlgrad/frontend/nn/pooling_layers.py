"""Pooling layers for dlnetwork: max and average pooling in 1-D, 2-D and 3-D, and their global forms.

Options are MATLAB's (poolSize, Stride, Padding; PaddingValue for average pooling); they
are stored as tuples so that layers stay hashable. The layers are added to layers.LAYERS.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np

from .. import functions as F
from ..dlarray import dlarray
from ..formats import labelled, stripdims
from .layers import LAYERS, Layer, Params, _layer, positive_sizes
from .pooling import Padding, Sizes, avgpool, maxpool


def _frozen(value: Any) -> Any:
    """value with lists and arrays turned into (nested) tuples: hashable layer options."""
    if isinstance(value, str) or np.isscalar(value):
        return value.item() if isinstance(value, np.generic) else value
    return tuple(_frozen(v) for v in np.asarray(value).tolist()) if isinstance(value, np.ndarray) \
        else tuple(_frozen(v) for v in value)


class _Pooling(Layer):
    dims = 2
    function: ClassVar[Callable[..., Any]] = staticmethod(maxpool)
    poolSize: Any   # the fields of the classes _max and _average make
    Stride: Any
    Padding: Any

    def __post_init__(self) -> None:
        positive_sizes(self.poolSize, self.dims, "poolSize", type(self).__name__)
        for field in ("poolSize", "Stride", "Padding"):
            object.__setattr__(self, field, _frozen(getattr(self, field)))

    def options(self) -> dict[str, Any]:
        return {}

    def forward(self, p: Params, x: dlarray) -> dlarray:
        return type(self).function(x, self.poolSize, Stride=self.Stride, Padding=self.Padding,
                                   _ndims=self.dims, **self.options())


class _Average(_Pooling):
    function = staticmethod(avgpool)
    PaddingValue: Any

    def options(self) -> dict[str, Any]:
        return {"PaddingValue": self.PaddingValue}


class _Global(Layer):
    dims = 2
    function: ClassVar[Callable[..., Any]] = staticmethod(maxpool)

    def forward(self, p: Params, x: dlarray) -> dlarray:
        y = type(self).function(x, "global", _ndims=self.dims)
        fmt = y._fmt or ""
        if self.dims == 1 and "T" in fmt and "S" not in fmt:
            # pooled over time: one vector per sequence, "CBT" -> "CB" (MATLAB's sequence-to-label
            # stack feeds it to fullyConnectedLayer and a loss against "CB" targets)
            t = fmt.index("T")
            return labelled(F.reshape(stripdims(y), y.shape[:t] + y.shape[t + 1:]), fmt.replace("T", ""))
        return y


def _max(dims: int, prefix: str) -> type[_Pooling]:
    @_layer(prefix)
    class MaxPooling(_Pooling):
        poolSize: Sizes
        Stride: Sizes = 1
        Padding: Padding = 0
        name: str = ""
    MaxPooling.dims = dims
    return MaxPooling


def _average(dims: int, prefix: str) -> type[_Average]:
    @_layer(prefix)
    class AveragePooling(_Average):
        poolSize: Sizes
        Stride: Sizes = 1
        Padding: Padding = 0
        PaddingValue: float | str = 0
        name: str = ""
    AveragePooling.dims = dims
    return AveragePooling


def _global(dims: int, prefix: str, function: Callable[..., Any]) -> type[_Global]:
    @_layer(prefix)
    class GlobalPooling(_Global):
        name: str = ""
    GlobalPooling.dims, GlobalPooling.function = dims, staticmethod(function)
    return GlobalPooling


def _named(cls: Any, name: str, doc: str) -> Any:
    cls.__name__ = cls.__qualname__ = name
    cls.__doc__ = doc
    return cls


maxPooling1dLayer = _named(_max(1, "maxpool"), "maxPooling1dLayer", "1-D max pooling (maxpool over 'S' or 'T').")
maxPooling2dLayer = _named(_max(2, "maxpool"), "maxPooling2dLayer", "2-D max pooling (maxpool over 'SS').")
maxPooling3dLayer = _named(_max(3, "maxpool"), "maxPooling3dLayer", "3-D max pooling (maxpool over 'SSS').")
averagePooling1dLayer = _named(_average(1, "avgpool"), "averagePooling1dLayer",
                               "1-D average pooling (avgpool over 'S' or 'T').")
averagePooling2dLayer = _named(_average(2, "avgpool"), "averagePooling2dLayer",
                               "2-D average pooling (avgpool over 'SS').")
averagePooling3dLayer = _named(_average(3, "avgpool"), "averagePooling3dLayer",
                               "3-D average pooling (avgpool over 'SSS').")
globalMaxPooling1dLayer = _named(_global(1, "gmpool", maxpool), "globalMaxPooling1dLayer",
                                 "Maximum over the whole 'S' (or 'T') dimension.")
globalMaxPooling2dLayer = _named(_global(2, "gmpool", maxpool), "globalMaxPooling2dLayer",
                                 "Maximum over both 'S' dimensions (output 1-by-1-by-C).")
globalMaxPooling3dLayer = _named(_global(3, "gmpool", maxpool), "globalMaxPooling3dLayer",
                                 "Maximum over the three 'S' dimensions.")
globalAveragePooling1dLayer = _named(_global(1, "gapool", avgpool), "globalAveragePooling1dLayer",
                                     "Mean over the whole 'S' (or 'T') dimension.")
globalAveragePooling2dLayer = _named(_global(2, "gapool", avgpool), "globalAveragePooling2dLayer",
                                     "Mean over both 'S' dimensions (output 1-by-1-by-C).")
globalAveragePooling3dLayer = _named(_global(3, "gapool", avgpool), "globalAveragePooling3dLayer",
                                     "Mean over the three 'S' dimensions.")

POOLING_LAYERS = [maxPooling1dLayer, maxPooling2dLayer, maxPooling3dLayer,
                  averagePooling1dLayer, averagePooling2dLayer, averagePooling3dLayer,
                  globalMaxPooling1dLayer, globalMaxPooling2dLayer, globalMaxPooling3dLayer,
                  globalAveragePooling1dLayer, globalAveragePooling2dLayer, globalAveragePooling3dLayer]
LAYERS.extend(POOLING_LAYERS)
