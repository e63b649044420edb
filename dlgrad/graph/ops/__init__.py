"""The op families; importing this package registers every primitive."""
from . import elementwise, linalg, movement, reduce, scan, take  # noqa: F401
