"""Training checkpoints: a training state in one .npz file, with no pickled code.

The state is a nested structure (dicts, lists, tuples) of dlnetworks, Learnables tables,
dlarrays, numpy arrays, numbers, strings, None and numpy random Generators. Its arrays are
the file's entries "0", "1", ...; the entry "structure" is JSON describing everything else:
layers by class name (only dlgrad's layer classes) and fields, a Generator by its bit
generator's name and state. Loading reads no pickle (allow_pickle=False), so a checkpoint
from elsewhere cannot run code, and gives back values equal to the bit: a run restarted
from it repeats the uninterrupted run's trajectory exactly.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

from ..dlarray import column_major, dlarray, wrap
from ..nn.architecture import Architecture
from ..nn.layers import LAYERS, Layer, Statistic
from ..nn.network import Learnables, dlnetwork

FORMAT, VERSION = "dlgrad checkpoint", 1
# every node of the structure is a JSON object with one of these keys (dlnetwork before Learnables:
# a network's node also holds its Learnables)
_KINDS = ("value", "dlarray", "ndarray", "scalar", "list", "tuple", "dict", "dlnetwork", "Learnables",
          "Architecture", "layer", "Generator", "Statistic")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def save_checkpoint(path: str | os.PathLike, state: Any) -> None:
    """Write `state` (network, optimizer moments, iteration, Generator, ...) to the .npz file
    `path`, replacing it only once the new file is complete."""
    arrays: list = []
    structure = json.dumps({"format": FORMAT, "version": VERSION, "state": _encode(state, arrays, "state")})
    entries = {str(i): a for i, a in enumerate(arrays)}
    entries["structure"] = np.array(structure)
    path = os.fspath(path)
    partial = path + ".partial"
    with open(partial, "wb") as file:
        np.savez(file, **entries)
    os.replace(partial, path)


def load_checkpoint(path: str | os.PathLike) -> Any:
    """The state save_checkpoint wrote to `path`."""
    with np.load(os.fspath(path), allow_pickle=False) as file:
        if "structure" not in file.files:
            raise ValueError(f"{os.fspath(path)!r} is not a dlgrad checkpoint (no 'structure' entry)")
        saved = json.loads(str(file["structure"]))
        if saved.get("format") != FORMAT or saved.get("version") != VERSION:
            raise ValueError(f"{os.fspath(path)!r} is not a dlgrad checkpoint of version {VERSION}: "
                             f"format {saved.get('format')!r}, version {saved.get('version')!r}")
        return _decode(saved["state"], file)


def _encode(x, arrays, where):
    if x is None or type(x) in (bool, int, float, str):
        return {"value": x}
    if isinstance(x, dlarray):
        if x._node is not None:
            raise TypeError(f"save_checkpoint: {where} is a traced dlarray; save the values dlfeval returns")
        entry = {"dlarray": _array(x._data, arrays), "fmt": x._fmt}
        if x._logical:   # logical data keeps its float storage and its class
            entry["logical"] = True
        return entry
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biufc":
            raise TypeError(f"save_checkpoint: {where} is a numpy array of dtype {x.dtype}; only numbers are saved")
        return {"ndarray": _array(x, arrays)}
    if isinstance(x, np.generic) and x.dtype.kind in "biufc":
        return {"scalar": _array(np.asarray(x), arrays)}
    if type(x) in (list, tuple):
        return {type(x).__name__: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(x)]}
    if type(x) is dict:
        for k in x:
            if not isinstance(k, str):
                raise TypeError(f"save_checkpoint: the keys of {where} must be strings, got {type(k).__name__}")
        return {"dict": [[k, _encode(v, arrays, f"{where}[{k!r}]")] for k, v in x.items()]}
    if type(x) is Learnables:
        return {"Learnables": [list(k) for k in x._keys],
                "values": [_encode(v, arrays, f"{where}{k}") for k, v in zip(x._keys, x._values)]}
    if type(x) is dlnetwork:
        if not x.Initialized:
            raise ValueError(f"save_checkpoint: the dlnetwork in {where} is not initialized")
        return {"dlnetwork": _encode(x._arch, arrays, where), "Learnables": _encode(x.Learnables, arrays, where),
                "State": _encode(x.State, arrays, where)}
    if type(x) is Architecture:
        return {"Architecture": {f.name: _encode(getattr(x, f.name), arrays, where) for f in dataclasses.fields(x)}}
    if isinstance(x, Layer):
        return _layer(x, arrays, where)
    if isinstance(x, np.random.Generator):
        return {"Generator": _encode(x.bit_generator.state, arrays, where)}
    if isinstance(x, Statistic):
        return {"Statistic": _array(x.array, arrays)}
    raise TypeError(f"save_checkpoint: {where} is a {type(x).__name__}; a checkpoint holds dicts, lists and "
                    "tuples of dlnetworks, Learnables, dlarrays, numpy arrays, numbers, strings, None "
                    "and numpy random Generators")


def _array(a, arrays):
    arrays.append(a if column_major(a) else np.require(a, requirements="C"))   # .npy keeps column-major data so
    return len(arrays) - 1


def _layer_classes():
    return {cls.__name__: cls for cls in LAYERS}   # read when used: modules of layers extend LAYERS


def _layer(layer, arrays, where):
    name = type(layer).__name__
    if _layer_classes().get(name) is not type(layer):
        raise TypeError(f"save_checkpoint: the network in {where} has a layer of class {name}, not one of "
                        "dlgrad's layers; a checkpoint saves only dlgrad's layer classes by name")
    fields = {f.name: _encode(getattr(layer, f.name), arrays, f"{where} layer {layer.name!r}")
              for f in dataclasses.fields(layer) if f.init}
    return {"layer": name, "fields": fields}


def _decode(node, file):
    kind = next((k for k in _KINDS if k in node), None)
    value = node.get(kind)
    if kind == "value":
        return value
    if kind == "dlarray":
        data = file[str(value)]
        x = wrap(data if column_major(data) else np.require(data, requirements="C"))
        x._fmt, x._logical = node["fmt"], bool(node.get("logical", False))
        return x
    if kind == "ndarray":
        return file[str(value)]
    if kind == "scalar":
        return file[str(value)][()]
    if kind == "list":
        return [_decode(v, file) for v in value]
    if kind == "tuple":
        return tuple(_decode(v, file) for v in value)
    if kind == "dict":
        return {k: _decode(v, file) for k, v in value}
    if kind == "Learnables":
        return Learnables._make(tuple(tuple(k) for k in value), [_decode(v, file) for v in node["values"]])
    if kind == "dlnetwork":
        return dlnetwork._make(_decode(value, file), [_decode(node["Learnables"], file), _decode(node["State"], file)])
    if kind == "Architecture":
        return Architecture(**{k: _decode(v, file) for k, v in value.items()})
    if kind == "layer":
        if value not in _layer_classes():
            raise ValueError(f"load_checkpoint: unknown layer class {value!r}")
        return _layer_classes()[value](**{k: _decode(v, file) for k, v in node["fields"].items()})
    if kind == "Generator":
        state = _decode(value, file)
        name = state.get("bit_generator")
        if name not in _BIT_GENERATORS:
            raise ValueError(f"load_checkpoint: unknown bit generator {name!r}")
        bit_generator = getattr(np.random, name)()
        bit_generator.state = state
        return np.random.Generator(bit_generator)
    if kind == "Statistic":
        array = file[str(value)]
        return Statistic(array, array.dtype)
    raise ValueError(f"load_checkpoint: an entry of unknown kind in the structure: {sorted(node)}")
