"""dlnetwork: layers in sequence, their Learnables and State tables, forward and predict.

A dlnetwork is a container for dlfeval: its learnable and state values are runtime
inputs, its layers (frozen, hashable descriptions) part of the signature, so networks of
one architecture share one compiled function.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import numpy.typing as npt

from .. import tree
from ..dispatch import asdlarray
from ..dlarray import dlarray, rebox
from .layers import Layer
from ..types import ArrayLike

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
    Value = property(lambda self: list(self._values))

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


tree.register_node(Learnables, lambda t: (t._values, t._keys), Learnables._make)


class dlnetwork:
    """A network of `layers` applied in sequence; dlnetwork(layers, seed=0, dtype=np.float32)."""

    def __init__(self, layers: Iterable[Layer], seed: int | None = 0, dtype: npt.DTypeLike = np.float32) -> None:
        layers = list(layers)
        if not layers or not hasattr(layers[0], "example"):
            raise ValueError("a dlnetwork's first layer must be an input layer "
                             "(featureInputLayer or imageInputLayer)")
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"dlnetwork needs layers, got {type(layer).__name__}")
        self._layers = _named(layers)
        rng = np.random.default_rng(seed)
        x = self._layers[0].example(np.dtype(dtype))
        learn, state, masks = [], [], []
        for layer in self._layers:
            params, st = layer.initialize(x, rng)
            learn += [(layer.name, k, v) for k, v in params.items()]
            state += [(layer.name, k, v) for k, v in st.items()]
            if layer.prefix == "dropout":
                masks.append((layer.name, x.shape, x._fmt))
            x = layer.apply({k: dlarray(v) for k, v in params.items()},
                            {k: dlarray(v) for k, v in st.items()}, x, False)[0]
        self.Learnables, self.State = Learnables(learn), Learnables(state)
        self._masks = tuple(masks)

    @classmethod
    def _make(cls, aux: tuple[Any, Any], children: list[Learnables]) -> dlnetwork:
        net = cls.__new__(cls)
        net._layers, net._masks = aux
        net.Learnables, net.State = children
        return net

    Layers = property(lambda self: list(self._layers))
    _path_labels = staticmethod(lambda aux: [".Learnables", ".State"])   # export_c's leaf names

    def with_learnables(self, learnables: Learnables) -> dlnetwork:
        return dlnetwork._make((self._layers, self._masks), [learnables, self.State])

    def run(self, X: ArrayLike, training: bool, masks: dict[str, Any] | None = None) -> tuple[Any, Learnables]:
        params = _by_layer(self.Learnables)
        states = _by_layer(self.State)
        x, new_state = asdlarray(X), []
        for layer in self._layers:
            mask = None if masks is None else masks.get(layer.name)
            x, updated = layer.apply(params.get(layer.name, {}), states.get(layer.name, {}),
                                     x, training, mask)
            new_state += [(layer.name, k, v) for k, v in updated.items()]
        if not new_state:
            return x, self.State
        changed = {(l, p): v for l, p, v in new_state}
        return x, Learnables._make(self.State._keys, [changed.get(k, v) for k, v in
                                                      zip(self.State._keys, self.State._values)])

    def summary(self) -> str:
        lines = [f"dlnetwork with {len(self._layers)} layers, "
                 f"{sum(v.size for v in self.Learnables.Value)} learnable parameters"]
        for i, layer in enumerate(self._layers, 1):
            params = [f"{r.Parameter} {list(r.Value.shape)}" for r in self.Learnables if r.Layer == layer.name]
            lines.append(f"  {i:>2}  {layer.name:<12} {layer.describe():<48} {', '.join(params)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


tree.register_node(dlnetwork, lambda n: ([n.Learnables, n.State], (n._layers, n._masks)), dlnetwork._make)


def _named(layers: list[Layer]) -> tuple[Any, ...]:   # Layer subclasses (input layers add .example)
    counts: dict[str, int] = {}
    named = []
    taken = {layer.name for layer in layers if layer.name}
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
    return tuple(named)


def _by_layer(table: Learnables) -> dict[str, dict[str, dlarray]]:
    out: dict[str, dict[str, dlarray]] = {}
    for layer, parameter, value in table:
        out.setdefault(layer, {})[parameter] = value
    return out


def forward(net: dlnetwork, X: ArrayLike, return_state: bool = False,
            DropoutMasks: dict[str, Any] | None = None) -> Any:
    """The network's output in training behaviour (batch statistics, dropout with the given masks);
    with return_state=True, (output, updated State)."""
    y, state = net.run(X, True, DropoutMasks)
    return (y, state) if return_state else y


def predict(net: dlnetwork, X: ArrayLike) -> Any:
    """The network's output in inference behaviour (trained statistics, no dropout)."""
    return net.run(X, False)[0]


def dropout_masks(net: dlnetwork, batch_size: int,
                  rng: np.random.Generator | int | None = None) -> dict[str, npt.NDArray[Any]]:
    """{dropout layer name: random 0/1 mask} for a batch of batch_size (pass to forward)."""
    rng = np.random.default_rng(rng)
    masks = {}
    layers = {layer.name: layer for layer in net._layers}
    for name, shape, fmt in net._masks:
        shape = tuple(batch_size if c == "B" else d for c, d in zip(fmt, shape))
        dtype = net.Learnables.Value[0].dtype if len(net.Learnables) else np.float32
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
