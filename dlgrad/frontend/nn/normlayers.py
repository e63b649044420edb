"""Normalisation layers beyond batch and layer normalisation: instance, group and cross-channel."""
from __future__ import annotations

import numpy as np

from ..dlarray import dlarray
from .layers import LAYERS, Layer, Params, _layer, _whole, positive_epsilon, positive_int
from .normalization import crosschannelnorm, groupnorm, instancenorm


def _per_channel(x: dlarray) -> tuple[Params, Params]:
    c = x.shape[x._fmt.index("C")]
    return {"Offset": np.zeros(c, x.dtype), "Scale": np.ones(c, x.dtype)}, {}


@_layer("instancenorm")
class instanceNormalizationLayer(Layer):
    """instancenorm with learnable per-channel Offset (zeros) and Scale (ones)."""
    Epsilon: float = 1e-5
    name: str = ""

    def __post_init__(self) -> None:
        positive_epsilon(self.Epsilon, "instanceNormalizationLayer")

    def initialize(self, x: dlarray, rng: np.random.Generator) -> tuple[Params, Params]:
        return _per_channel(x)

    def forward(self, p: Params, x: dlarray) -> dlarray:
        return instancenorm(x, p["Offset"], p["Scale"], Epsilon=self.Epsilon)


@_layer("groupnorm")
class groupNormalizationLayer(Layer):
    """groupnorm over numGroups groups of channels, learnable per-channel Offset and Scale."""
    numGroups: int | str
    Epsilon: float = 1e-5
    name: str = ""

    def __post_init__(self) -> None:
        positive_epsilon(self.Epsilon, "groupNormalizationLayer")
        named = isinstance(self.numGroups, str) and self.numGroups.lower() in ("all-channels", "channel-wise")
        if not named and not (_whole(self.numGroups) and int(self.numGroups) >= 1):
            raise ValueError(f"groupNormalizationLayer: numGroups must be 'all-channels', 'channel-wise' or a "
                             f"positive integer, got {self.numGroups!r}")

    def initialize(self, x: dlarray, rng: np.random.Generator) -> tuple[Params, Params]:
        return _per_channel(x)

    def forward(self, p: Params, x: dlarray) -> dlarray:
        return groupnorm(x, self.numGroups, p["Offset"], p["Scale"], Epsilon=self.Epsilon)


@_layer("crossnorm")
class crossChannelNormalizationLayer(Layer):
    """crosschannelnorm (local response normalisation) over windowChannelSize channels."""
    windowChannelSize: int
    Alpha: float = 1e-4
    Beta: float = 0.75
    K: float = 2.0
    name: str = ""

    def __post_init__(self) -> None:
        positive_int(self.windowChannelSize, "windowChannelSize", "crossChannelNormalizationLayer")

    def forward(self, p: Params, x: dlarray) -> dlarray:
        return crosschannelnorm(x, self.windowChannelSize, Alpha=self.Alpha, Beta=self.Beta, K=self.K)


NORMALIZATION_LAYERS = [instanceNormalizationLayer, groupNormalizationLayer, crossChannelNormalizationLayer]
LAYERS.extend(NORMALIZATION_LAYERS)
