"""The command line: `python -m dlgrad export MODULE:FUNCTION --arg SPEC ... --name NAME -o DIR`."""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import re
import sys

import numpy as np

from .errors import DlgradError

DTYPES = {"float64": "float64", "double": "float64", "float32": "float32", "single": "float32"}
_SPEC = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[([^\]]*)\])?\s*(?::\s*([^=]*?))?\s*(?:=(.*))?\Z",
                   re.S)

SPEC_HELP = """\
argument specs (one --arg per positional argument of FUNCTION, in order):
  DTYPE[D0,D1,...]   an array input, e.g. float64[2], float32[64,128]; C order
  DTYPE or DTYPE[]   a 0-d (scalar) array input, e.g. float64
  NUMBER             a Python number passed as is and baked into the C as a constant,
                     e.g. 0.5 or 3 (like a static argument of dlfeval)
  DTYPE is float64 (alias double) or float32 (alias single).
  ...=V0,V1,...      example values for an array input (row-major; one value fills the
                     array), e.g. "float64[2]=-1,2". Without them the example values are
                     standard normal samples, seeded by the argument's position.
                     They are what --self-test checks.
  ...:FORMAT         dimension labels such as float32[64,128]:CB are reserved for dlarray
                     formats, which this version does not support: they are rejected.

example:
  python -m dlgrad export mymodule:rosen --arg "float64[2]" --name rosen -o out
writes out/rosen.h and out/rosen.c (and out/rosen_test.c with --self-test).
MODULE is an importable module name (the current directory is searched first) or a
path to a .py file; FUNCTION may be dotted (Class.method).
"""


def parse_spec(text, where="--arg", seed=0):
    """An example argument from a spec: a numpy array for DTYPE[shape], a number for NUMBER."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: empty argument spec; expected DTYPE[D0,...] such as float64[2], "
                         "or a number")
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    match = _SPEC.match(text)
    if match is None:
        raise ValueError(f"{where}: malformed argument spec {text!r}; expected DTYPE[D0,D1,...] "
                         "such as float64[2] or float32[64,128], DTYPE for a scalar, or a number")
    dtype, dims, fmt, values = match.groups()
    if dtype not in DTYPES:
        raise ValueError(f"{where}: unknown dtype {dtype!r} in {text!r}; use one of "
                         f"{', '.join(DTYPES)}")
    if fmt is not None:
        raise ValueError(f"{where}: dimension format {fmt.strip()!r} in {text!r} is not supported: "
                         "formats are reserved for a later version; drop the ':...' suffix")
    shape = []
    for part in (dims or "").split(",") if (dims or "").strip() else []:
        part = part.strip()
        if not part.isdigit():
            raise ValueError(f"{where}: dimension {part!r} in {text!r} is not a non-negative integer")
        shape.append(int(part))
    dtype = DTYPES[dtype]
    if values is None:
        return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    try:
        numbers = [float(v) for v in values.split(",")]
    except ValueError:
        raise ValueError(f"{where}: example values {values!r} in {text!r} are not comma-separated "
                         "numbers") from None
    size = int(np.prod(shape, dtype=np.int64))
    if len(numbers) not in (1, size):
        raise ValueError(f"{where}: {len(numbers)} example values in {text!r} for an array of "
                         f"{size} elements")
    return np.broadcast_to(np.array(numbers, dtype=dtype), (size,)).reshape(shape).copy()


def load_function(target):
    """The function named by MODULE:FUNCTION (MODULE a module name or a .py path)."""
    module_name, sep, attribute = target.rpartition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"FUNCTION {target!r} must look like MODULE:FUNCTION, e.g. mymodule:rosen")
    if module_name.endswith(".py") or os.sep in module_name:
        if not os.path.isfile(module_name):
            raise ValueError(f"FUNCTION {target!r}: no file {module_name!r}")
        name = os.path.splitext(os.path.basename(module_name))[0]
        spec = importlib.util.spec_from_file_location(name, module_name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    else:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        module = importlib.import_module(module_name)
    function = module
    for part in attribute.split("."):
        if not hasattr(function, part):
            raise ValueError(f"FUNCTION {target!r}: {module_name} has no attribute {attribute!r}")
        function = getattr(function, part)
    if not callable(function):
        raise ValueError(f"FUNCTION {target!r} is not callable")
    return function


def parser():
    top = argparse.ArgumentParser(prog="python -m dlgrad",
                                  description="dlgrad command line tools.")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    export = commands.add_parser(
        "export", help="write a traced function (and its gradients) as standalone C",
        description="Trace FUNCTION on example arguments like dlfeval and write NAME.h and NAME.c: "
                    "dependency-free C99 (libm only) with the interface described in NAME.h.",
        epilog=SPEC_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("function", metavar="MODULE:FUNCTION", help="the function to export")
    export.add_argument("--arg", action="append", default=[], metavar="SPEC",
                        help="one positional argument of FUNCTION (repeat, in order); syntax below")
    export.add_argument("--name", help="C name prefixing every symbol (default: the function's name); "
                                       "a C identifier that is not a keyword")
    export.add_argument("-o", "--output", default=".", metavar="DIR",
                        help="directory to write into (created if missing; default: .)")
    export.add_argument("--self-test", action="store_true",
                        help="also write NAME_test.c, checking the C against dlgrad's reference "
                             "interpreter on the example values")
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    if args.command != "export":
        parser().print_help()
        return 2
    try:
        examples = [parse_spec(spec, f"--arg {i + 1}", seed=i) for i, spec in enumerate(args.arg)]
        function = load_function(args.function)
        from .frontend.export import export_c
        paths = export_c(function, *examples, name=args.name, directory=args.output,
                         self_test=args.self_test)
    except (ValueError, TypeError, ImportError, DlgradError) as error:
        print(f"python -m dlgrad export: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, (ValueError, ImportError)) else 1
    for role in ("header", "source", "test"):
        if role in paths:
            print(paths[role])
    return 0


if __name__ == "__main__":
    sys.exit(main())
