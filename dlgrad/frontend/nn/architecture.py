"""A dlnetwork's architecture: its layers, how they connect, and the order to run them in.

An Architecture is frozen and hashable: it is the part of a dlnetwork that goes into the traced
signature, so networks of one architecture share one compiled function whatever their values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    from .layers import Layer

Feed = tuple[str, int, int]   # ("layer", source index, its output port) or ("input", network input index, 0)
Port = tuple[int, int]         # (layer index, output port): "out" is port 0


@dataclass(frozen=True)
class Architecture:
    layers: tuple[Layer, ...]
    feeds: tuple[tuple[Feed, ...], ...]      # per layer, per input slot: ("layer", source, port) or ("input", index, 0)
    order: tuple[int, ...]      # layer indices, each after the layers that feed it
    inputs: tuple[tuple[int, int], ...]     # network inputs: (layer index, slot), in layer order
    outputs: tuple[Port, ...]   # layer outputs that feed nothing
    masks: tuple[tuple[str, tuple[int, ...], str], ...] = ()     # dropout layers: (name, example shape, format)
    factors: tuple[tuple[tuple[str, str], float, float], ...] = ()   # ((layer, parameter), learn-rate factor, L2 factor) set by the user
    examples: tuple[tuple[tuple[int, ...], str, str], ...] = ()  # network inputs' example (shape, format, dtype), kept for resetState

    @classmethod
    def build(cls, layers: Iterable[Layer], connections: Iterable[tuple[str, str]]) -> Architecture:
        from .layergraph import endpoint
        layers = tuple(layers)
        names = [l.name for l in layers]
        if len(set(names)) != len(names):
            raise ValueError(f"dlnetwork: layer names must be unique, got {names}")
        feeds: list[list[Feed | None]] = [[None] * l.num_inputs() for l in layers]
        for source, destination in connections:
            si, port = endpoint(layers, source, "source", "dlnetwork")
            di, slot = endpoint(layers, destination, "destination", "dlnetwork")
            if feeds[di][slot] is not None:
                raise ValueError(f"dlnetwork: input {destination!r} is connected twice")
            feeds[di][slot] = ("layer", si, port)
        inputs: list[tuple[int, int]] = []
        for i, slots in enumerate(feeds):
            for slot, feed in enumerate(slots):
                if feed is None:
                    slots[slot] = ("input", len(inputs), 0)
                    inputs.append((i, slot))
        if not inputs:
            raise ValueError("dlnetwork: the network has no input (every layer input is connected)")
        filled: list[list[Feed]] = feeds  # type: ignore[assignment]  # every slot is set above
        used = {feed[1:] for slots in filled for feed in slots if feed[0] == "layer"}
        outputs = tuple((i, port) for i in range(len(layers)) for port in range(len(layers[i].output_names()))
                        if (i, port) not in used)
        return cls(layers, tuple(map(tuple, filled)), _order(layers, filled), tuple(inputs), outputs)

    def input_names(self) -> list[str]:
        """MATLAB's InputNames: an input layer's name, or 'layer/port' for an unconnected input."""
        out = []
        for i, slot in self.inputs:
            layer = self.layers[i]
            out.append(layer.name if layer.num_inputs() == 1 else f"{layer.name}/{layer.input_names()[slot]}")
        return out

    def output_names(self) -> list[str]:
        """MATLAB's OutputNames: a layer's name, or 'layer/port' for a layer of several outputs."""
        return [self.port_name(i, port) for i, port in self.outputs]

    def port_name(self, i: int, port: int) -> str:
        layer = self.layers[i]
        names = layer.output_names()
        return layer.name if len(names) == 1 else f"{layer.name}/{names[port]}"

    def index(self, name: str, what: str = "Outputs") -> Port:
        """The (layer index, port) of 'name' (its first output) or 'name/port'."""
        layer, _, port = name.partition("/") if isinstance(name, str) else (None, "", "")
        for i, l in enumerate(self.layers):
            names = l.output_names()
            if l.name == layer and (port == "" or port in names):
                return i, names.index(port) if port else 0
        raise ValueError(f"{what}: no layer output {name!r} (layers: {[l.name for l in self.layers]})")

    def needed(self, targets: Iterable[int]) -> list[int]:
        """The layers `order` must run to compute the layers `targets`, in that order."""
        need: set[int] = set()
        stack = list(targets)
        while stack:
            i = stack.pop()
            if i not in need:
                need.add(i)
                stack.extend(f[1] for f in self.feeds[i] if f[0] == "layer")
        return [i for i in self.order if i in need]

    def with_(self, **changes: Any) -> Architecture:
        return Architecture(**{**self.__dict__, **changes})


def _order(layers: Sequence[Layer], feeds: Sequence[Sequence[Feed]]) -> tuple[int, ...]:
    """Kahn's topological order, the earliest listed layer first; a cycle is an error."""
    waiting = [sum(f[0] == "layer" for f in slots) for slots in feeds]
    consumers: list[list[int]] = [[] for _ in layers]
    for i, slots in enumerate(feeds):
        for f in slots:
            if f[0] == "layer":
                consumers[f[1]].append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    order: list[int] = []
    while ready:
        i = min(ready)
        ready.remove(i)
        order.append(i)
        for j in consumers[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    if len(order) != len(layers):
        cycle = [layers[i].name for i in range(len(layers)) if i not in order]
        raise ValueError(f"dlnetwork: the connections form a cycle through {cycle}")
    return tuple(order)


def with_min_length(error: ValueError, arch: Architecture, layer: Layer, xs: Sequence[Any]) -> ValueError:
    """error, with MinLength named when a layer cannot take the short example sequences of a
    sequenceInputLayer (a pooling or convolution window longer than MinLength, as MATLAB says)."""
    steps = {x.shape[x._fmt.index("T")] for x in xs if x._fmt and "T" in x._fmt}
    if "larger than" not in str(error):   # the window errors of pooling and convolution; not a format error
        return error
    if not steps or not any(type(l).__name__ == "sequenceInputLayer" for l in arch.layers):
        return error
    try:
        return type(error)(f"{error} (initialising layer {layer.name!r} on example sequences of {min(steps)} time "
                           f"step(s): set sequenceInputLayer's MinLength to the shortest length the network takes)")
    except TypeError:   # an error class with another constructor: leave it as it is
        return error
