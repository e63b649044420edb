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
from .mathfuns import (acosh, acot, acsc, asec, asinh, atanh, cot, coth, csc, csch, cumprod, fix,
                       rescale, sec, sech, underlyingType)
from .logical import isfinite, isinf, isnan, logical_and, logical_not, logical_or, logical_xor, xor
from .arrays import circshift, flip, ipermute, repelem, repmat, squeeze, tril, triu
from .linalg import dot, mldivide, mrdivide, norm, pagemtimes, vecnorm
from .sorting import onehotdecode, sort
from .singular import cond, svd
from .interpolation import interp1
from .take import take, take_along_axis
from .random import RandomState, rand, randi, randn, rng
from .dlarray import islogical
from .recurrence import scan
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
    "asinh", "acosh", "atanh", "sec", "csc", "cot", "sech", "csch", "coth", "asec", "acsc", "acot",
    "fix", "rescale", "cumprod", "interp1", "underlyingType",
    "isnan", "isinf", "isfinite", "logical_and", "logical_or", "logical_not", "logical_xor", "xor",
    "flip", "circshift", "repmat", "repelem", "triu", "tril", "ipermute", "squeeze",
    "norm", "vecnorm", "dot", "pagemtimes", "mldivide", "mrdivide", "sort", "onehotdecode",
    *nn.__all__,
    "take", "take_along_axis",
    "rng", "rand", "randn", "randi", "RandomState",
    "islogical",
    "scan",
    "svd", "cond",

    *parallel.__all__,
]
