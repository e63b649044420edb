"""The op families; importing this package registers every primitive."""
from . import conv, elementwise, fill_index, linalg, lstsq, movement, pool, random, reduce, scan, solve, sort, take  # noqa: F401
