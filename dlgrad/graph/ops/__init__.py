"""The op families; importing this package registers every primitive."""
from . import conv, elementwise, linalg, lstsq, movement, pool, random, reduce, scan, solve, sort, take  # noqa: F401
from . import fill_index  # noqa: F401
