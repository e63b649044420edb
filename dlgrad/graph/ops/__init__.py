"""The op families; importing this package registers every primitive."""
from . import elementwise, linalg, movement, pool, reduce, scan  # noqa: F401
