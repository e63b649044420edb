"""What the user touches: dlarray, dlfeval, dlgradient, extractdata, dlaccelerate and the math on dlarrays."""
from .accelerate import AcceleratedFunction, dlaccelerate
from .dlarray import dlarray, isdlarray
from .dlfeval import dlfeval, lower
from .formats import FormatError, dims, finddim, stripdims
from .export import export_c
from .functions import (abs, acos, add, asin, atan, atan2, ceil, cos, cosh, cumsum, divide, erf, exp, expm1,
                        floor, log, log1p, matmul, max, maximum, mean, min, minimum, multiply,
                        negative, permute, power, prod, relu, reshape, round, sigmoid, sign, sin,
                        sinh, softplus, sqrt, subtract, sum, tan, tanh, transpose, where)
from .gradient import dlgradient, extractdata
from .join import concatenate, stack
from . import nn
from .nn import *  # noqa: F401,F403  (deep-learning functions, layers, optimizers)
from . import parallel
from .parallel import *  # noqa: F401,F403  (spmd functions on MPI, checkpoints)

__all__ = [
    "AcceleratedFunction", "dlaccelerate", "dlarray", "isdlarray", "dlfeval", "lower",
    "FormatError", "dims", "finddim", "stripdims",
    "dlgradient", "extractdata", "export_c",
    "abs", "sign", "sqrt", "exp", "log", "log1p", "expm1", "sin", "cos", "tan", "sinh", "cosh",
    "tanh", "asin", "acos", "atan", "atan2", "sigmoid", "relu", "softplus", "erf", "maximum",
    "minimum", "where", "floor", "ceil", "round", "sum", "mean", "prod", "max", "min", "cumsum", "matmul",
    "transpose", "permute", "reshape", "concatenate", "stack",
    "add", "subtract", "multiply", "divide", "power", "negative",
    *nn.__all__,
    *parallel.__all__,
]
