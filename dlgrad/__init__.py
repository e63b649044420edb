"""dlgrad: MATLAB's dlarray/dlfeval/dlgradient API, traced into a graph and compiled to C."""
__version__ = "0.1.0"
from .errors import (DlgradError, TraceError, GradientError, UnsupportedOperationError,
                     ShapeError, CompilerNotFoundError, CompileError)
