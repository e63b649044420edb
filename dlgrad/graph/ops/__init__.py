"""The op families; importing this package registers every primitive."""
from . import conv, elementwise, linalg, movement, reduce, scan  # noqa: F401
