"""The op families; importing this package registers every primitive."""
from . import conv, elementwise, linalg, loop, movement, pivoted, pool, random, reduce, scan, solve, sort, svd, take  # noqa: F401
