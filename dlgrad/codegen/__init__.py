"""Code generation: scheduling a graph into kernels and emitting one C translation unit."""
from .lower import Program, lower  # noqa: F401
