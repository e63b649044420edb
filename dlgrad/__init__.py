"""dlgrad: MATLAB's dlarray/dlfeval/dlgradient API, traced into a graph and compiled to C."""
__version__ = "0.1.0"
from .errors import (DlgradError, TraceError, GradientError, UnsupportedOperationError,
                     ShapeError, CompilerNotFoundError, CompileError)
from .errors import IndexOutOfRange
from .frontend import *  # noqa: F401,F403  (the public API; see frontend.__all__)
from .frontend.nn import *  # noqa: F401,F403  (included above; named again for type checkers)
from .frontend import __all__ as _frontend_all
from .frontend.higher import dldivergence, dljacobian, dllaplacian
from . import optimize  # dl.optimize.objective / minimize (scipy is imported only by minimize)

__all__ = ["DlgradError", "TraceError", "GradientError", "UnsupportedOperationError", "ShapeError",
           "CompilerNotFoundError", "CompileError", *_frontend_all,
           "dljacobian", "dldivergence", "dllaplacian",
           "IndexOutOfRange"]
