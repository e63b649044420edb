"""The op families; importing this package registers every primitive."""
from . import conv, elementwise, linalg, loop, lstsq, movement, pool, random, reduce, scan, solve, sort, take  # noqa: F401
