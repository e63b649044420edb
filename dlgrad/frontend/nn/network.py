"""dlnetwork: layers in sequence or as a graph, their Learnables and State tables, forward and predict.

A dlnetwork is a container for dlfeval: its learnable and state values are runtime
inputs, its layers (frozen, hashable descriptions) part of the signature, so networks of
one architecture share one compiled function.
"""
from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import numpy.typing as npt

from .. import tree
from ..dispatch import asdlarray, cast
from ..dlarray import F32, F64, dlarray, rebox
from .architecture import Architecture, with_min_length
from .layers import Layer
from ..types import ArrayLike
from ..nargout import requested_outputs
from ..namevalue import parse

if TYPE_CHECKING:
    from .layergraph import Connection, LayerGraph, Layers

Row = namedtuple("Row", "Layer Parameter Value")


class Learnables:
    """A table with rows (Layer, Parameter, Value): iterable, indexable by row number or by
    (layer, parameter); dlgradient and the optimizers answer with the same structure."""

    __slots__ = ("_keys", "_values")
    _keys: tuple[tuple[str, str], ...]
    _values: list[dlarray]

    def __init__(self, rows: Iterable[tuple[str, str, ArrayLike]] = ()) -> None:
        rows = list(rows)
        self._keys = tuple((str(r[0]), str(r[1])) for r in rows)
        self._values = [r[2] if isinstance(r[2], dlarray) else dlarray(r[2]) for r in rows]

    @classmethod
    def _make(cls, keys: tuple[tuple[str, str], ...], values: Iterable[dlarray]) -> Learnables:
        table = cls.__new__(cls)
        table._keys, table._values = keys, list(values)
        return table

    Layer = property(lambda self: [k[0] for k in self._keys])
    Parameter = property(lambda self: [k[1] for k in self._keys])
    # a tuple: `table.Value[k] = w` (MATLAB's net.Learnables.Value{k} = w) must fail loudly, not
    # write into a copy; a new table comes from dlupdate (or Learnables(rows))
    Value = property(lambda self: tuple(self._values))

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[Any]:
        return (Row(k[0], k[1], v) for k, v in zip(self._keys, self._values))

    def __getitem__(self, key: int | tuple[str, str]) -> Any:
        if isinstance(key, tuple):
            try:
                return self._values[self._keys.index(key)]
            except ValueError:
                raise KeyError(f"no row with Layer {key[0]!r} and Parameter {key[1]!r}") from None
        row = self._keys[key]
        return Row(row[0], row[1], self._values[key])

    @staticmethod
    def _path_labels(keys: Iterable[tuple[str, str]]) -> list[str]:
        """How export_c names the rows of a table: table['layer', 'parameter']."""
        return [f"[{layer!r}, {parameter!r}]" for layer, parameter in keys]

    def map(self, fn: Callable[..., Any], *others: Learnables) -> Learnables:
        """A table of fn(value, other values...) row by row."""
        return Learnables._make(self._keys, [fn(v, *(o._values[i] for o in others))
                                             for i, v in enumerate(self._values)])

    def __repr__(self) -> str:
        lines = [f"{len(self)}x3 Learnables"]
        for (layer, parameter), value in zip(self._keys, self._values):
            lines.append(f"  {layer:<14} {parameter:<16} {value.dtype}{list(value.shape)}")
        return "\n".join(lines)


# the fields let the native call path (runtime/c/fastcall.c) check and build tables itself
tree.register_node(Learnables, lambda t: (t._values, t._keys), Learnables._make,
                   fields=(("_keys", "aux"), ("_values", "children")))
_Table = Learnables   # the table type, under a name that dlnetwork's attributes do not shadow


class dlnetwork:
    """A network of layers: a list applied in sequence, or a layerGraph with branches.

    dlnetwork(layers, *examples, Initialize=True, seed=0, dtype=np.float32): `examples` give the
    inputs that no input layer describes (MATLAB's dlnetwork(layers, X1, ..., XN)); with
    Initialize=False the network has no values until `initialize(net, ...)`.
    """

    Learnables: _Table | None   # None until initialized
    State: _Table | None
    _arch: Architecture
    _init: tuple[int | None, np.dtype[Any], dict[tuple[str, str], Any]] | None

    def __init__(self, layers: Layers | LayerGraph, *examples: ArrayLike, Initialize: bool = True, seed: int | None = 0,
                 dtype: npt.DTypeLike = np.float32) -> None:
        from .layergraph import LayerGraph, layerGraph
        cut = next((k for k, x in enumerate(examples) if isinstance(x, str)), len(examples))
        if cut < len(examples):   # MATLAB's dlnetwork(layers, X1, ..., "Initialize", false)
            options = parse("dlnetwork", examples[cut:], {}, ["Initialize", "seed", "dtype"], 0)
            Initialize = options.get("Initialize", Initialize)
            seed, dtype = options.get("seed", seed), options.get("dtype", dtype)
            examples = examples[:cut]
        if not isinstance(layers, LayerGraph):
            if isinstance(layers, Layer):
                layers = [layers]
            items = list(layers)
            for layer in items:
                if not isinstance(layer, Layer):
                    raise TypeError(f"dlnetwork needs layers or a layerGraph, got {type(layer).__name__}")
            if not items:
                raise ValueError("dlnetwork needs at least one layer")
            layers = layerGraph(items)
        self._arch = Architecture.build(layers._layers, layers._connections)
        self._init = (seed, np.dtype(dtype), {})   # {} : values kept by graph edits (layergraph._result)
        self.Learnables = self.State = None
        if examples or Initialize:
            self._initialize(examples)

    @classmethod
    def _make(cls, arch: Architecture, children: Sequence[_Table | None]) -> dlnetwork:
        net = cls.__new__(cls)
        net._arch, net._init = arch, None
        net.Learnables, net.State = children
        return net

    Layers = property(lambda self: list(self._arch.layers))
    InputNames = property(lambda self: self._arch.input_names())
    OutputNames = property(lambda self: self._arch.output_names())
    Initialized = property(lambda self: self.Learnables is not None)
    _layers = property(lambda self: self._arch.layers)
    _masks = property(lambda self: self._arch.masks)
    _path_labels = staticmethod(lambda aux: [".Learnables", ".State"])   # export_c's leaf names

    def _connections(self) -> tuple[Connection, ...]:
        """The connections as layerGraph spells them (source, 'destination[/port]')."""
        out = []
        for i, slots in enumerate(self._arch.feeds):
            layer = self._arch.layers[i]
            for slot, (kind, j, source) in enumerate(slots):
                if kind == "layer":
                    port = "" if layer.num_inputs() == 1 else "/" + layer.input_names()[slot]
                    out.append((self._arch.port_name(j, source), layer.name + port))
        return tuple(out)

    def with_learnables(self, learnables: _Table) -> dlnetwork:
        """The network with these Learnables and its State."""
        return dlnetwork._make(self._arch, [learnables, self.State])

    def _initialize(self, examples: Sequence[ArrayLike]) -> None:
        arch = self._arch
        seed, dtype, kept = self._init or (0, np.dtype(np.float32), {})
        free = [k for k, (i, _) in enumerate(arch.inputs) if not hasattr(arch.layers[i], "example")]
        if len(examples) != len(free):
            names = [arch.input_names()[k] for k in free]
            raise ValueError(
                f"dlnetwork: {len(free)} network inputs are not input layers ({names}), so "
                f"initialisation needs {len(free)} example inputs (dlnetwork(layers, X1, ...) or "
                f"initialize(net, X1, ...)), got {len(examples)}"
                + ("; or pass Initialize=False" if not examples else ""))
        inputs: list[dlarray] = []
        given = iter(examples)
        for k, (i, _) in enumerate(arch.inputs):
            layer = arch.layers[i]
            x = layer.example(dtype) if hasattr(layer, "example") else asdlarray(next(given))
            if x._node is not None:
                raise ValueError("dlnetwork: example inputs must be data, not traced values")
            if not x._fmt:   # as MATLAB: the layers read the channel axis from the format
                raise ValueError(f"dlnetwork: the example input for {arch.input_names()[k]!r} must be a "
                                 f"formatted dlarray (for example dlarray(X, 'CB')), got an unformatted "
                                 f"array of shape {x.shape}")
            inputs.append(x)
        learn, state, masks = _initial_values(arch, inputs, np.random.default_rng(seed))
        learn, state = _restore(learn, kept), _restore(state, kept)
        unknown = [key for key, _, _ in arch.factors if key not in {(l, p) for l, p, _ in learn}]
        if unknown:   # set by setLearnRateFactor/setL2Factor before the parameters existed
            raise ValueError(f"initialize: learn-rate or L2 factors were set for parameters the network "
                             f"does not have: {['/'.join(k) for k in unknown]}")
        self._arch = arch.with_(masks=masks, examples=tuple(
            (x.shape, x._fmt, x.dtype.str) for x in inputs))
        self.Learnables, self.State = Learnables(learn), Learnables(state)

    def run(self, X: Any, training: bool, masks: dict[str, Any] | None = None,
            outputs: Sequence[tuple[int, int]] | None = None) -> tuple[tuple[dlarray, ...], _Table]:
        """(outputs, updated State): X one array per network input; outputs (layer index, port) pairs."""
        arch = self._arch
        if not self.Initialized:
            raise ValueError("the dlnetwork is not initialized: call net = initialize(net) "
                             "(with example inputs for inputs that are not input layers)")
        assert self.Learnables is not None and self.State is not None
        if not isinstance(X, (tuple, list)):
            X = (X,)
        if len(X) != len(arch.inputs):
            raise ValueError(f"the network has {len(arch.inputs)} inputs {arch.input_names()}, "
                             f"got {len(X)} arrays")
        X, tables = _single_wins([asdlarray(x) for x in X], (self.Learnables, self.State))
        params, states = _by_layer(tables[0]), _by_layer(tables[1])
        targets = arch.outputs if outputs is None else outputs
        values: dict[int, Any] = {}   # a layer's output, or the tuple of its outputs
        new_state: dict[tuple[str, str], dlarray] = {}
        for i in arch.needed(i for i, _ in targets):
            layer = arch.layers[i]
            xs = [X[j] if kind == "input" else _port(values, j, port) for kind, j, port in arch.feeds[i]]
            mask = None if masks is None else masks.get(layer.name)
            values[i], updated = layer.apply(params.get(layer.name, {}), states.get(layer.name, {}),
                                             xs[0] if len(xs) == 1 else tuple(xs), training, mask)
            new_state.update({(layer.name, k): v for k, v in updated.items()})
        ys = tuple(_port(values, i, port) for i, port in targets)
        if not new_state:
            return ys, self.State
        return ys, Learnables._make(self.State._keys, [new_state.get(k, v) for k, v in
                                                       zip(self.State._keys, self.State._values)])

    def summary(self) -> str:
        """A line per layer: its name, description and learnable sizes."""
        if self.Learnables is None:
            return f"uninitialized dlnetwork with {len(self._layers)} layers"
        lines = [f"dlnetwork with {len(self._layers)} layers, "
                 f"{sum(v.size for v in self.Learnables.Value)} learnable parameters"]
        for i, layer in enumerate(self._layers, 1):
            params = [f"{r.Parameter} {list(r.Value.shape)}" for r in self.Learnables if r.Layer == layer.name]
            lines.append(f"  {i:>2}  {layer.name:<12} {layer.describe():<48} {', '.join(params)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def _flatten_net(net: dlnetwork) -> tuple[list[_Table | None], Architecture]:
    if not net.Initialized:
        raise ValueError("an uninitialized dlnetwork cannot be an argument: call initialize(net) first")
    return [net.Learnables, net.State], net._arch


tree.register_node(dlnetwork, _flatten_net, dlnetwork._make,
                   fields=(("_arch", "aux"), ("_init", ("set", None)), ("Learnables", 0), ("State", 1)))


def _initial_values(arch: Architecture, inputs: Sequence[dlarray], rng: np.random.Generator
                    ) -> tuple[list[tuple[str, str, Any]], list[tuple[str, str, Any]],
                               tuple[tuple[str, tuple[int, ...], str], ...]]:
    """(learnable rows, state rows, dropout masks) from one pass over example inputs, in layer order."""
    values: dict[int, Any] = {}
    params: dict[int, dict[str, Any]] = {}
    states: dict[int, dict[str, Any]] = {}
    masks = []
    for i in arch.order:
        layer = arch.layers[i]
        xs = [inputs[j] if kind == "input" else _port(values, j, port) for kind, j, port in arch.feeds[i]]
        x: Any = xs[0] if len(xs) == 1 else tuple(xs)
        try:
            p, s = layer.initialize(x, rng)
            values[i] = layer.apply({k: dlarray(v) for k, v in p.items()},
                                    {k: dlarray(v) for k, v in s.items()}, x, False)[0]
        except ValueError as error:
            raise with_min_length(error, arch, layer, xs) from error
        params[i], states[i] = p, s
        if layer.prefix == "dropout":
            masks.append((layer.name, x.shape, x._fmt))
    learn = [(arch.layers[i].name, k, v) for i in range(len(arch.layers)) for k, v in params[i].items()]
    state = [(arch.layers[i].name, k, v) for i in range(len(arch.layers)) for k, v in states[i].items()]
    return learn, state, tuple(masks)


def _port(values: dict[int, Any], i: int, port: int) -> dlarray:
    """Output `port` of layer i (a layer of several outputs gave a tuple)."""
    value = values[i]
    return value[port] if isinstance(value, tuple) else value


def _restore(rows: Any, kept: Any) -> Any:
    """rows with the values a graph edit kept (MATLAB's initialize fills only the empty learnables)."""
    out = []
    for layer, name, value in rows:
        old = kept.get((layer, name))
        if old is not None and old.shape != value.shape:
            raise ValueError(f"initialize: layer {layer!r} kept its {name} of shape {old.shape} from before the "
                             f"graph was edited, but its input now needs shape {value.shape}")
        out.append((layer, name, value if old is None else old))
    return out


def initialize(net: Any, *examples: Any) -> Any:
    """The network with values (MATLAB's initialize); an initialized network is returned as it is."""
    if not isinstance(net, dlnetwork):
        raise TypeError(f"initialize needs a dlnetwork, got {type(net).__name__}")
    if net.Initialized:
        return net
    new = dlnetwork._make(net._arch, [None, None])
    new._init = net._init
    new._initialize(examples)
    return new


def resetState(net: dlnetwork) -> dlnetwork:
    """The network with every State value back at its initial value (MATLAB's resetState)."""
    if not isinstance(net, dlnetwork) or not net.Initialized:
        raise TypeError("resetState needs an initialized dlnetwork")
    inputs = [dlarray(np.zeros(shape, np.dtype(dtype)), fmt) if fmt else dlarray(np.zeros(shape, np.dtype(dtype)))
              for shape, fmt, dtype in net._arch.examples]
    _, state, _ = _initial_values(net._arch, inputs, np.random.default_rng(0))
    return dlnetwork._make(net._arch, [net.Learnables, Learnables(state)])


def _single_wins(X: list[dlarray], tables: tuple[Learnables, Learnables]) -> tuple[list[dlarray], tuple[Learnables, ...]]:
    """Inputs and (Learnables, State) computed in float32 when either side has float32 numbers:
    MATLAB's single combined with double is single, so a single network given double data (or a
    double network given single data) computes and answers in single."""
    def numbers(values: Iterable[dlarray]) -> set[Any]:
        return {v.dtype for v in values if v.dtype.kind == "f" and not v._logical}
    inputs, learned = numbers(X), numbers(tables[0]._values)
    if F32 not in inputs | learned or not (inputs | learned) - {F32}:
        return X, tables
    def single(v: dlarray) -> dlarray:
        return cast(v, F32) if v.dtype == F64 and not v._logical else v
    return [single(x) for x in X], tuple(table.map(single) for table in tables)


def _by_layer(table: Learnables) -> dict[str, dict[str, dlarray]]:
    out: dict[str, dict[str, dlarray]] = {}
    for layer, parameter, value in table:
        out.setdefault(layer, {})[parameter] = value
    return out


def _outputs(net: dlnetwork, Outputs: str | Sequence[str] | None) -> tuple[tuple[int, int], ...] | None:
    if Outputs is None:
        return None
    names = [Outputs] if isinstance(Outputs, str) else list(Outputs)
    if not names:
        raise ValueError("Outputs must name at least one layer output, got an empty list")
    return tuple(net._arch.index(n) for n in names)


def forward(net: dlnetwork, *X: ArrayLike, Outputs: str | Sequence[str] | None = None, return_state: bool = False,
            DropoutMasks: dict[str, Any] | None = None) -> Any:
    """The network's output(s) in training behaviour (batch statistics, dropout with the given
    masks, or, as MATLAB's, masks drawn with dl.rand where none is given): one array per network output (or per name in Outputs); with return_state=True, or
    unpacked into one name more than outputs, the updated State follows them, as MATLAB's
    [Y1, ..., state] = forward(...)."""
    ys, state = net.run(X, True, DropoutMasks, _outputs(net, Outputs))
    return _results(ys, state, return_state)


def predict(net: dlnetwork, *X: ArrayLike, Outputs: str | Sequence[str] | None = None) -> Any:
    """The network's output(s) in inference behaviour (trained statistics, no dropout); unpacked
    into one name more than outputs, the updated State follows them (MATLAB's [Y, state] = predict(...))."""
    ys, state = net.run(X, False, None, _outputs(net, Outputs))
    return _results(ys, state, False)


def _results(ys: tuple[dlarray, ...], state: _Table, return_state: bool) -> Any:
    """What forward and predict return. MATLAB's [Y, state] = forward(net, X) ported as
    `Y, state = forward(net, X)` asks for the state by its number of names: without this it would
    unpack the rows of Y (silently when Y has two)."""
    if return_state or requested_outputs(3) == len(ys) + 1:
        return (*ys, state)
    return ys[0] if len(ys) == 1 else ys


def dropout_masks(net: dlnetwork, batch_size: int,
                  rng: np.random.Generator | int | None = None) -> dict[str, npt.NDArray[Any]]:
    """{dropout layer name: random 0/1 mask} for a batch of batch_size (pass to forward)."""
    rng = np.random.default_rng(rng)
    masks = {}
    layers = {layer.name: layer for layer in net._layers}
    for name, shape, fmt in net._masks:
        shape = tuple(batch_size if c == "B" else d for c, d in zip(fmt, shape))
        learnables = net.Learnables
        assert learnables is not None   # an uninitialized network has no masks
        dtype = learnables.Value[0].dtype if len(learnables) else np.float32
        masks[name] = (rng.random(shape) >= layers[name].Probability).astype(dtype)
    return masks


def dlupdate(fn: Callable[..., Any], params: Any, *more: Any) -> Any:
    """fn applied to every learnable value (of a dlnetwork, Learnables table or nested structure),
    with the matching values of `more`; returns the same kind of structure."""
    target = params.Learnables if isinstance(params, dlnetwork) else params
    others = [m.Learnables if isinstance(m, dlnetwork) else m for m in more]
    leaves, treedef = tree.flatten(target)
    leaves = [asdlarray(v) for v in leaves]
    other_leaves = [[asdlarray(v) for v in tree.flatten(o)[0]] for o in others]
    results = [fn(v, *(o[i] for o in other_leaves)) for i, v in enumerate(leaves)]
    # new dlarray objects even where fn returns its argument (see dlarray.rebox)
    new = tree.unflatten(treedef, [rebox(r) if type(r) is dlarray else r for r in results])
    return params.with_learnables(new) if isinstance(params, dlnetwork) else new
