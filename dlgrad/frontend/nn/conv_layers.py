"""Convolution layers beyond convolution2dLayer (layers.py): 1-D, 3-D, grouped and transposed,
plus the input layers their data needs (image3dInputLayer, sequenceInputLayer).

Weights and biases have MATLAB's shapes; initialisation is Glorot-uniform with MATLAB's fan-in
and fan-out (filter area times channels, respectively filters, per group) and zero biases.
"""
from __future__ import annotations

import math

import numpy as np

from ..formats import labelled
from .convolution import dlconv, dltranspconv
from .layers import LAYERS, Layer, _layer, check_image, glorot, positive_int, positive_sizes


def _hashable(padding):
    """Padding / Cropping kept in its MATLAB form but hashable (a 2-by-d array as nested tuples)."""
    if isinstance(padding, str):
        return padding
    array = np.asarray(padding)
    return tuple(tuple(int(v) for v in row) for row in array) if array.ndim == 2 else \
        tuple(int(v) for v in array.ravel())


def _channels(x):
    return x.shape[x._fmt.index("C")]


class _Convolution(Layer):
    """An N-d convolution layer: `dims` spatial axes, weights (filter..., C, F[, G])."""
    dims = 2

    def __post_init__(self):
        layer = type(self).__name__
        object.__setattr__(self, "filterSize", positive_sizes(self.filterSize, self.dims, "filterSize", layer))
        object.__setattr__(self, "Padding", _hashable(self.Padding))
        positive_int(self.filters_per_group(), "numFiltersPerGroup" if self.grouped else "numFilters", layer)
        if self.grouped and not (isinstance(self.numGroups, str) and self.numGroups.lower() == "channel-wise"):
            positive_int(self.numGroups, "numGroups (or 'channel-wise')", layer)

    def groups(self, channels):
        return 1

    def initialize(self, x, rng):
        channels = _channels(x)
        groups = self.groups(channels)
        if channels % groups:
            raise ValueError(f"{type(self).__name__}: {channels} input channels do not split into {groups} groups")
        per_group, filters = channels // groups, self.filters_per_group()
        area = math.prod(self.filterSize)
        grouped = (groups,) if self.grouped else ()
        shape = self.filterSize + (per_group, filters) + grouped
        return {"Weights": glorot(rng, shape, area * per_group, area * filters, x.dtype),
                "Bias": np.zeros((1,) * self.dims + (filters,) + grouped, x.dtype)}, {}

    grouped = False

    def forward(self, p, x):
        return dlconv(x, p["Weights"], p["Bias"], Stride=self.Stride, DilationFactor=self.DilationFactor,
                      Padding=self.Padding, PaddingValue=self.PaddingValue)


@_layer("conv1d")
class convolution1dLayer(_Convolution):
    """1-D convolution of "SCB" data or "CBT" sequences; Padding may be "causal"."""
    filterSize: object
    numFilters: int
    Stride: object = 1
    DilationFactor: object = 1
    Padding: object = 0
    PaddingValue: float = 0.0
    name: str = ""
    dims = 1

    def filters_per_group(self):
        return self.numFilters


@_layer("conv3d")
class convolution3dLayer(_Convolution):
    """3-D convolution of "SSSCB" data."""
    filterSize: object
    numFilters: int
    Stride: object = 1
    DilationFactor: object = 1
    Padding: object = 0
    PaddingValue: float = 0.0
    name: str = ""
    dims = 3

    def filters_per_group(self):
        return self.numFilters


@_layer("groupconv")
class groupedConvolution2dLayer(_Convolution):
    """Grouped 2-D convolution; numGroups an int or "channel-wise" (one group per channel).
    Weights (h, w, channelsPerGroup, numFiltersPerGroup, numGroups), filters group by group."""
    filterSize: object
    numFiltersPerGroup: int
    numGroups: object
    Stride: object = 1
    DilationFactor: object = 1
    Padding: object = 0
    PaddingValue: float = 0.0
    name: str = ""
    grouped = True

    def groups(self, channels):
        if isinstance(self.numGroups, str):
            if self.numGroups.lower() != "channel-wise":
                raise ValueError(f"groupedConvolution2dLayer: numGroups must be a positive int or "
                                 f"'channel-wise', got {self.numGroups!r}")
            return channels
        return int(self.numGroups)

    def filters_per_group(self):
        return self.numFiltersPerGroup


@_layer("transposedconv")
class transposedConv2dLayer(Layer):
    """Transposed 2-D convolution: weights (h, w, numFilters, numChannels), Cropping 'same' or numeric."""
    filterSize: object
    numFilters: int
    Stride: object = 1
    Cropping: object = 0
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "filterSize", positive_sizes(self.filterSize, 2, "filterSize", "transposedConv2dLayer"))
        object.__setattr__(self, "Cropping", _hashable(self.Cropping))
        positive_int(self.numFilters, "numFilters", "transposedConv2dLayer")

    def initialize(self, x, rng):
        channels, area = _channels(x), math.prod(self.filterSize)
        shape = self.filterSize + (self.numFilters, channels)
        return {"Weights": glorot(rng, shape, area * self.numFilters, area * channels, x.dtype),
                "Bias": np.zeros((1, 1, self.numFilters), x.dtype)}, {}

    def forward(self, p, x):
        return dltranspconv(x, p["Weights"], p["Bias"], Stride=self.Stride, Cropping=self.Cropping)


@_layer("imageinput3d")
class image3dInputLayer(Layer):
    """3-D images of inputSize (h, w, d, c) or (h, w, d) for one channel, formatted "SSSCB" (no normalisation)."""
    inputSize: tuple
    name: str = ""

    def __post_init__(self):
        values = list(np.ravel(np.asarray(self.inputSize, dtype=object)))
        if len(values) not in (3, 4):
            raise ValueError(f"image3dInputLayer: inputSize must be (h, w, d) or (h, w, d, c), got {self.inputSize!r}")
        size = positive_sizes(values, len(values), "inputSize", "image3dInputLayer")
        object.__setattr__(self, "inputSize", size + (1,) * (4 - len(size)))

    def example(self, dtype):
        return labelled(np.zeros(tuple(self.inputSize) + (1,), dtype), "SSSCB")

    def forward(self, params, x):
        x = x if x._fmt else labelled(x, "SSSCB")
        check_image(self, x, "SSSC")
        return x


CONV_LAYERS = [convolution1dLayer, convolution3dLayer, groupedConvolution2dLayer, transposedConv2dLayer,
               image3dInputLayer]
LAYERS.extend(CONV_LAYERS)
