"""export_c: trace a function like dlfeval and write it as standalone C (NAME.h, NAME.c, NAME_test.c)."""
from __future__ import annotations

import ast
import inspect
import os
import sys
import textwrap
from types import FrameType
from typing import Any, Callable, Iterator, Literal

import numpy as np

from . import tree
from .accelerate import AcceleratedFunction
from .capture import capture
from .dlarray import argument_dtype, dlarray, to_data
from .random import rng as random_state

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def export_c(fn: Callable[..., Any], *example_args: Any, name: str | None = None,
             directory: str | os.PathLike[str] = ".", self_test: bool = False) -> dict[str, str]:
    """Write fn, traced on example_args as dlfeval would, as NAME.h and NAME.c in `directory`.

    Array leaves of example_args (dlarrays, numpy arrays) become the C function's inputs, in
    order; other leaves are baked in. A function that draws random numbers (rand, randn, randi)
    takes one more input, `random_key`: int64 (seed, counter), which the caller advances per call. self_test=True also writes NAME_test.c, which checks the
    C against dlgrad's reference interpreter on the example values. Returns the paths by role
    ("header", "source", "test").
    """
    from ..codegen.export import check_name, export   # the code generator loads on first use
    if isinstance(fn, AcceleratedFunction):
        fn = fn.function
    if not callable(fn):
        raise TypeError(f"export_c needs a function, got {type(fn).__name__}")
    if name is None:
        name = getattr(fn, "__name__", "")
        if not name.isidentifier():
            raise ValueError(f"export_c could not use the function's name {name!r}: pass name=")
    check_name(name, "export name")
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a path, got {type(directory).__name__}")
    provenance: dict[int, str] = {}
    keep: list[Any] = []
    with _recording(provenance, keep):
        captured = capture(fn, example_args, lift=False)
    if not captured.outputs:
        raise ValueError(f"{_qualname(fn)} returned no dlarray: there is nothing to export")
    in_names, baked, examples = _input_leaves(fn, example_args)
    if captured.key_input is not None:   # fn draws random numbers: the caller passes the key
        in_names.insert(captured.key_input, "random_key")
        examples.insert(captured.key_input, np.array(random_state(), dtype=np.int64))
    out_names = _output_names(fn, captured)
    lines = [f"Python: {_qualname(fn)}{_signature(fn)}" + _returns(fn)]
    lines += [f"  baked in: {label} = {value!r}" for label, value in baked]
    for k, fortran in enumerate(captured.fortran):
        if fortran:   # the C reads the argument's memory: the C array of the reversed shape
            stored = captured.specs[k][0]
            lines.append(f"  column-major: {in_names[k]} {'x'.join(str(n) for n in stored[::-1])} was traced "
                         f"column-major (MATLAB's memory order): its input is that memory, the C array "
                         f"{''.join(f'[{n}]' for n in stored)}")
            examples[k] = examples[k].T
    return export(captured.outputs, captured.specs, name, os.fspath(directory), in_names, out_names,
                  signature="\n".join(lines), provenance=provenance,
                  golden_inputs=examples if self_test else None)


# --- where each node came from ---------------------------------------------------------------------

class _recording:
    """While active, map id(node) -> "file.py:LINE" of the user's line that made each traced node.

    A profile hook sees every dlarray a function returns; the first user frame outside dlgrad
    is the line. Nodes made along the way (adjoints inside dlgradient) get the same line.
    """

    def __init__(self, provenance: dict[int, str], keep: list[Any]) -> None:
        self.provenance, self.keep = provenance, keep   # `keep` holds the nodes: ids stay unique

    def __enter__(self) -> None:
        self.previous = sys.getprofile()
        sys.setprofile(self._hook)

    def __exit__(self, *exc: object) -> Literal[False]:
        sys.setprofile(self.previous)
        return False

    def _hook(self, frame: FrameType, event: str, value: Any) -> None:
        if event != "return" or value is None:
            return
        leaves = [value] if isinstance(value, dlarray) else \
            tree.flatten(value)[0] if isinstance(value, (tuple, list, dict)) else ()
        for leaf in leaves:
            node = getattr(leaf, "_node", None) if isinstance(leaf, dlarray) else None
            if node is not None and id(node) not in self.provenance:
                self._attribute(node, _user_line(frame))

    def _attribute(self, node: Any, where: str | None) -> None:
        if where is None:
            return
        stack = [node]
        while stack:
            node = stack.pop()
            if id(node) not in self.provenance:
                self.provenance[id(node)] = where
                self.keep.append(node)
                stack.extend(node.inputs)


def _user_line(frame: FrameType | None) -> str | None:
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return None
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


# --- names and descriptions of the leaves ---------------------------------------------------------

def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', None) or '?'}.{getattr(fn, '__qualname__', repr(fn))}"


def _signature(fn: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"


def _paths(treedef: Any, prefix: str) -> list[str]:
    """The path of every leaf of `treedef` (prefix, prefix[0], prefix['key'], ...) in leaf order."""
    if treedef is tree.LEAF:
        return [prefix]
    if treedef[0] is dict:
        return [p for key, child in zip(treedef[1], treedef[2]) for p in _paths(child, f"{prefix}[{key!r}]")]
    if treedef[0] in tree._NODES:   # registered containers (dlnetwork, Learnables): (kind, aux, children)
        labels = getattr(treedef[0], "_path_labels", None)
        suffixes = labels(treedef[1]) if labels else [f"[{i}]" for i in range(len(treedef[2]))]
        return [p for suffix, child in zip(suffixes, treedef[2]) for p in _paths(child, prefix + suffix)]
    fields = getattr(treedef[0], "_fields", None)
    return [p for i, child in enumerate(treedef[1])
            for p in _paths(child, f"{prefix}.{fields[i]}" if fields else f"{prefix}[{i}]")]


def _parameter_names(fn: Callable[..., Any], count: int) -> list[str]:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    names = []
    for i in range(count):
        p = parameters[min(i, len(parameters) - 1)] if parameters else None
        if p is None or p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD):
            names.append(f"arg{i}")
        elif p.kind is p.VAR_POSITIONAL or i >= len(parameters):
            names.append(f"{p.name}[{i - parameters.index(p)}]")
        else:
            names.append(p.name)
    return names


def _input_leaves(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[list[str], list[tuple[str, Any]], list[Any]]:
    """(names of the array leaves, [(name, value)] of baked-in leaves, example arrays)."""
    names, baked, examples = [], [], []
    for arg, parameter in zip(args, _parameter_names(fn, len(args))):
        leaves, treedef = tree.flatten(arg)
        for leaf, path in zip(leaves, _paths(treedef, parameter)):
            if isinstance(leaf, dlarray):
                names.append(path)
                examples.append(to_data(leaf))   # float data, also for a logical dlarray
            elif isinstance(leaf, np.ndarray):
                names.append(path)
                examples.append(np.asarray(leaf, argument_dtype(leaf.dtype)))
            else:
                baked.append((path, leaf))
    return names, baked, examples


def _return_expression(fn: Callable[..., Any]) -> ast.expr | None:
    """The expression of fn's only `return`, or None when there is no such single return."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        function = ast.parse(source).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return None
    if isinstance(function, ast.Expr) and isinstance(function.value, ast.Lambda):
        return function.value.body
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    returns = [node for node in _own_nodes(function) if isinstance(node, ast.Return) and node.value]
    return returns[0].value if len(returns) == 1 else None


def _own_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The AST nodes of a function body, not descending into nested functions and classes."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in ast.iter_child_nodes(node)
                     if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                               ast.Lambda)))


def _returns(fn: Callable[..., Any]) -> str:
    expression = _return_expression(fn)
    return "" if expression is None else f" -> {ast.unparse(expression)}"


def _label(expression: ast.expr | None, index: int) -> str:
    """`y` for a returned variable, `dy_dx` for a returned dlgradient(y, x), else out<index>."""
    if isinstance(expression, ast.Name):
        return expression.id
    if isinstance(expression, ast.Call) and len(expression.args) == 2 and \
            all(isinstance(a, ast.Name) for a in expression.args) and \
            getattr(expression.func, "id", getattr(expression.func, "attr", None)) == "dlgradient":
        y, x = (a.id for a in expression.args if isinstance(a, ast.Name))
        return f"d{y}_d{x}"
    return f"out{index}"


def _output_names(fn: Callable[..., Any], captured: Any) -> list[str]:
    """A name per output array, from fn's return expression where it has one (see _label)."""
    treedef, expression = captured.treedef, _return_expression(fn)
    if treedef is tree.LEAF:
        paths = [_label(expression, 0)]
    elif treedef[0] is tuple and isinstance(expression, ast.Tuple) and len(expression.elts) == len(treedef[1]):
        paths = [p for i, (e, child) in enumerate(zip(expression.elts, treedef[1]))
                 for p in _paths(child, _label(e, i))]
    else:
        paths = _paths(treedef, "out")
    names = [path for path, (kind, _) in zip(paths, captured.leaves) if kind == "array"]
    return names if len(names) == len(captured.outputs) else [f"out{i}" for i in range(len(captured.outputs))]
