"""The exception family of dlgrad: every error dlgrad raises on purpose derives from DlgradError."""


class DlgradError(Exception):
    """Base class of dlgrad's own errors."""


class TraceError(DlgradError):
    """A traced value was used in a way tracing cannot record (Python control flow, float(), ...)."""


class GradientError(DlgradError):
    """dlgradient was called wrongly: outside dlfeval, on a non-scalar, or w.r.t. an untraced array."""


class UnsupportedOperationError(DlgradError, TypeError):
    """A numpy function or operation with no dlgrad op was applied to a dlarray."""


class ShapeError(DlgradError, ValueError):
    """Shapes that do not fit together (broadcasting, matmul, reshape, call-time arguments)."""


class CompilerNotFoundError(DlgradError):
    """No C compiler could be found to build a compiled function."""


class CompileError(DlgradError):
    """The C compiler rejected generated code (a bug in dlgrad: please report it)."""
