"""Networks with branches: layerGraph, addLayers, connectLayers, and the layers that join branches.

A LayerGraph is a list of uniquely named layers and connections "source" -> "destination/inK";
`dlnetwork(lgraph)` runs it in topological order. As in MATLAB, addLayers connects the layers
it adds in sequence, and the functions return a new graph rather than changing their argument.
"""
from __future__ import annotations

import functools
import operator

from typing import TYPE_CHECKING, Any, Iterable, Sequence, TypeVar, Union, cast

import numpy as np

from ...errors import ShapeError
from ..formats import FormatError, labelled, stripdims
from ..join import concatenate
from .layers import LAYERS, Layer, Params, _layer
from ..dlarray import dlarray

if TYPE_CHECKING:
    from .network import dlnetwork

#: A layer graph or a network: the graph functions answer with the kind they are given.
Graph = TypeVar("Graph", "LayerGraph", "dlnetwork")
Layers = Union[Layer, Iterable[Layer]]
Connection = tuple[str, str]


class LayerGraph:
    """Layers and their connections (MATLAB's layerGraph); pass to dlnetwork."""

    def __init__(self, layers: Iterable[Layer] = (), connections: Iterable[Connection] = ()) -> None:
        self._layers = tuple(layers)
        self._connections = tuple(connections)

    Layers = property(lambda self: list(self._layers))
    Connections = property(lambda self: [{"Source": s, "Destination": d} for s, d in self._connections])
    InputNames = property(lambda self: [l.name for l in self._layers if hasattr(l, "example")])
    OutputNames = property(lambda self: _unconnected_outputs(self._layers, self._connections))

    def __repr__(self) -> str:
        return (f"LayerGraph with {len(self._layers)} layers and {len(self._connections)} connections: "
                + ", ".join(f"{s} -> {d}" for s, d in self._connections))


def _as_list(layers: Layers, what: str) -> list[Layer]:
    if isinstance(layers, Layer):
        return [layers]
    layers = list(layers)
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TypeError(f"{what} needs layers, got {type(layer).__name__}")
    return layers


def name_layers(layers: Sequence[Layer], taken: Iterable[str] = ()) -> list[Layer]:
    """Layers with empty names given MATLAB-style unique names (prefix, prefix_1, ...)."""
    counts: dict[str, int] = {}
    named: list[Layer] = []
    taken = set(taken) | {layer.name for layer in layers if layer.name}
    for layer in layers:
        if not layer.name:
            k = counts.get(layer.prefix, 0)
            name = layer.prefix if k == 0 else f"{layer.prefix}_{k}"
            while name in taken:
                k += 1
                name = f"{layer.prefix}_{k}"
            counts[layer.prefix] = k + 1
            taken.add(name)
            layer = type(layer)(**{**vars(layer), "name": name})
        named.append(layer)
    return named


def layerGraph(layers: Layers = ()) -> LayerGraph:
    """A layer graph of `layers` connected in sequence (none: an empty graph)."""
    return addLayers(LayerGraph(), layers)


def _graph_of(graph: LayerGraph | dlnetwork, op: str) -> tuple[LayerGraph, dlnetwork | None]:
    from .network import dlnetwork
    if isinstance(graph, dlnetwork):
        return LayerGraph(graph._layers, graph._connections()), graph
    if not isinstance(graph, LayerGraph):
        raise TypeError(f"{op} needs a layerGraph or a dlnetwork, got {type(graph).__name__}")
    return graph, None


def _result(graph: Any, source: Any) -> Any:
    """The edited graph; for a dlnetwork an uninitialized dlnetwork that keeps the values and factors of
    the layers that remain, so that initialize() only fills new layers (MATLAB's transfer learning)."""
    from .network import dlnetwork
    if source is None:
        return graph
    net = dlnetwork(graph, Initialize=False)
    names = {l.name for l in graph._layers}
    seed, dtype, kept = source._init or (0, np.dtype(np.float32), {})
    kept = dict(kept)
    if source.Initialized:
        for table in (source.Learnables, source.State):
            kept.update({(layer, p): np.array(v._data) for layer, p, v in table})
    net._init = (seed, dtype, {k: v for k, v in kept.items() if k[0] in names})
    net._arch = net._arch.with_(factors=tuple(f for f in source._arch.factors if f[0][0] in names))
    return net


def addLayers(graph: Graph, layers: Layers) -> Graph:
    """The graph with `layers` added and connected to each other in sequence (not to the graph)."""
    g, net = _graph_of(graph, "addLayers")
    new = name_layers(_as_list(layers, "addLayers"), {l.name for l in g._layers})
    for layer in new:
        if not isinstance(layer.name, str) or "/" in layer.name:
            raise ValueError(f"addLayers: layer name {layer.name!r} of {type(layer).__name__} must be a string "
                             "without '/' ('/' separates a layer from its input in connections: 'add/in2')")
    names = [l.name for l in g._layers] + [l.name for l in new]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"addLayers: layer names must be unique; {duplicates} already in the graph")
    chain = [(a.name if len(a.output_names()) == 1 else f"{a.name}/{a.output_names()[0]}",
              f"{b.name}/{b.input_names()[0]}" if b.num_inputs() > 1 else b.name)
             for a, b in zip(new, new[1:])]
    for a, b in zip(new, new[1:]):
        if hasattr(b, "example"):
            raise ValueError(f"addLayers: input layer {b.name!r} can only come first in a layer array")
    return _result(LayerGraph(g._layers + tuple(new), g._connections + tuple(chain)), net)


def _split(spec: str, what: str) -> tuple[str, str]:
    if not isinstance(spec, str) or not spec:
        raise TypeError(f"{what} must be a layer name or 'layer/port', got {spec!r}")
    name, _, port = spec.partition("/")
    return name, port


def endpoint(layers: Any, spec: Any, what: Any, op: Any = "connectLayers") -> Any:
    """(layer index, port index) of 'name' or 'name/port' among layers; inputs when what == 'destination'."""
    name, port = _split(spec, what)
    index = next((i for i, l in enumerate(layers) if l.name == name), None)
    if index is None:
        raise ValueError(f"{op}: no layer named {name!r} for the {what} "
                         f"(layers: {[l.name for l in layers]})")
    if what == "source":
        outputs = layers[index].output_names()
        if port == "":
            return index, 0
        if port not in outputs:
            raise ValueError(f"{op}: layer {name!r} has " + (f"outputs {outputs}" if len(outputs) > 1 else
                             "one output 'out'") + f", got {spec!r}")
        return index, outputs.index(port)
    names = layers[index].input_names()
    if hasattr(layers[index], "example"):
        raise ValueError(f"{op}: {name!r} is an input layer and takes no connection")
    if port == "" and len(names) == 1:
        return index, 0
    if port not in names:
        raise ValueError(f"{op}: layer {name!r} has inputs {names}, got {spec!r}")
    return index, names.index(port)


def _canonical(layers: Any, source: Any, destination: Any, op: Any) -> Any:
    (si, out), (di, port) = endpoint(layers, source, "source", op), endpoint(layers, destination, "destination", op)
    dst, outputs = layers[di], layers[si].output_names()
    return (layers[si].name if len(outputs) == 1 else f"{layers[si].name}/{outputs[out]}",
            dst.name if dst.num_inputs() == 1 else f"{dst.name}/{dst.input_names()[port]}")


def connectLayers(graph: Graph, source: str, destination: str) -> Graph:
    """The graph with the output of `source` feeding the input `destination` ('layer' or 'layer/in2')."""
    g, net = _graph_of(graph, "connectLayers")
    s, d = _canonical(g._layers, source, destination, "connectLayers")
    if any(dd == d for _, dd in g._connections):
        raise ValueError(f"connectLayers: input {d!r} is already connected; disconnectLayers first")
    return _result(LayerGraph(g._layers, g._connections + ((s, d),)), net)


def disconnectLayers(graph: Graph, source: str, destination: str) -> Graph:
    """The graph without the connection source -> destination."""
    g, net = _graph_of(graph, "disconnectLayers")
    pair = _canonical(g._layers, source, destination, "disconnectLayers")
    if pair not in g._connections:
        raise ValueError(f"disconnectLayers: no connection {pair[0]!r} -> {pair[1]!r}")
    return _result(LayerGraph(g._layers, tuple(c for c in g._connections if c != pair)), net)


def removeLayers(graph: Graph, names: str | Iterable[str]) -> Graph:
    """The graph without the named layers and their connections."""
    g, net = _graph_of(graph, "removeLayers")
    drop = {names} if isinstance(names, str) else set(names)
    missing = drop - {l.name for l in g._layers}
    if missing:
        raise ValueError(f"removeLayers: no layers named {sorted(missing)}")
    keep = tuple(l for l in g._layers if l.name not in drop)
    conns = tuple((s, d) for s, d in g._connections
                  if s.partition("/")[0] not in drop and d.partition("/")[0] not in drop)
    return _result(LayerGraph(keep, conns), net)


def _unconnected_outputs(layers: Iterable[Layer], connections: Iterable[Connection]) -> list[str]:
    used = {s for s, _ in connections}
    names = [[l.name] if len(l.output_names()) == 1 else [f"{l.name}/{p}" for p in l.output_names()] for l in layers]
    return [n for each in names for n in each if n not in used]


class _MultiInput(Layer):
    """A layer of numInputs inputs named in1, in2, ...: apply receives them as a tuple."""
    NumInputs: int

    def num_inputs(self) -> int:
        return self.NumInputs

    def input_names(self) -> list[str]:
        return [f"in{k}" for k in range(1, self.NumInputs + 1)]

    def __post_init__(self) -> None:
        if isinstance(self.NumInputs, bool) or not isinstance(self.NumInputs, (int, np.integer)) \
                or self.NumInputs < 2:
            raise ValueError(f"{type(self).__name__}: NumInputs must be an integer >= 2, got {self.NumInputs!r}")


def _same_format(xs: Sequence[dlarray], op: str) -> str:
    fmts = {x._fmt for x in xs}
    if len(fmts) > 1:
        raise FormatError(f"{op}: the inputs have different data formats {sorted(map(str, fmts))}")
    return xs[0]._fmt


def _same_size(layer: Any, xs: Any) -> Any:
    """MATLAB's elementwise merge layers need inputs of one size (no broadcasting of a miswired branch)."""
    _same_format(xs, type(layer).__name__)
    if len({x.shape for x in xs}) > 1:
        raise FormatError(f"{type(layer).__name__} {layer.name!r}: all inputs must have the same size, got "
                          f"{', '.join(str(x.shape) for x in xs)} (inputs {', '.join(layer.input_names())})")


class _Fold(_MultiInput):
    """NumInputs inputs of one size and format combined elementwise by `combine`, left to right."""
    combine = staticmethod(operator.add)

    def forward(self, p: Any, xs: Any) -> Any:
        _same_size(self, xs)
        return functools.reduce(self.combine, xs)


@_layer("addition", optional=("NumInputs",))
class additionLayer(_Fold):
    """Elementwise sum of NumInputs inputs of one size and format."""
    NumInputs: int = 2
    name: str = ""


@_layer("multiplication", optional=("NumInputs",))
class multiplicationLayer(_Fold):
    """Elementwise product of NumInputs inputs of one size and format."""
    NumInputs: int = 2
    name: str = ""
    combine = staticmethod(operator.mul)


class _Concat(_MultiInput):
    def _axis(self, fmt: str) -> int:
        raise NotImplementedError

    def forward(self, p: Params, xs: Any) -> dlarray:
        fmt = _same_format(xs, type(self).__name__)
        axis = self._axis(fmt)
        try:
            return labelled(concatenate([stripdims(x) for x in xs], axis), fmt) if fmt else \
                concatenate(xs, axis)
        except ShapeError as error:   # name the layer: a graph may hold several concatenations
            raise ShapeError(f"{type(self).__name__} {self.name!r} ({fmt or 'unformatted'} data): {error}") from None


@_layer("concat", optional=("Dim", "NumInputs"))
class concatenationLayer(_Concat):
    """Concatenation along Dim, a 0-based axis of the formatted data (for "SSCB": 2 is channels)."""
    Dim: int = 0
    NumInputs: int = 2
    name: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.Dim, (bool, np.bool_)) or not isinstance(self.Dim, (int, np.integer)) or self.Dim < 0:
            raise ValueError(f"concatenationLayer: Dim must be a 0-based axis (an integer >= 0), got {self.Dim!r}")

    def _axis(self, fmt: str) -> int:
        ndim = len(fmt) if fmt else None
        if ndim is not None and not 0 <= self.Dim < ndim:
            raise FormatError(f"concatenationLayer {self.name!r}: Dim {self.Dim} is not an axis of {fmt!r} data "
                              f"(0-based: 0..{ndim - 1})")
        if fmt and fmt[self.Dim] == "B":   # MATLAB's 1-based Dim ported as is lands here: channels + 1
            raise FormatError(f"concatenationLayer {self.name!r}: Dim {self.Dim} is the observation ('B') axis of "
                              f"{fmt!r} data; concatenation joins channels or spatial axes, and Dim is 0-based "
                              f"(MATLAB's concatenationLayer({self.Dim}, ...) is Dim={self.Dim - 1} here)")
        return self.Dim


@_layer("depthcat", optional=("NumInputs",))
class depthConcatenationLayer(_Concat):
    """Concatenation along the channel ("C") axis."""
    NumInputs: int = 2
    name: str = ""

    def _axis(self, fmt: str) -> int:
        if not fmt or "C" not in fmt:
            raise FormatError(f"depthConcatenationLayer {self.name!r} needs data with a 'C' axis, got format {fmt!r}")
        return fmt.index("C")


MERGE_LAYERS = [additionLayer, multiplicationLayer, concatenationLayer, depthConcatenationLayer]
LAYERS.extend(MERGE_LAYERS)
