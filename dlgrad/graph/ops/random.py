"""Random numbers from a counter-based generator: Philox4x32-10 (Salmon et al., SC'11).

random_uniform and random_normal read one input, the key: an int64 array (seed, counter).
Element i of a draw is one Philox block, key (lo32(seed), hi32(seed)) and counter
(lo32(offset + i), hi32(offset + i), lo32(counter), hi32(counter)), with `offset` a static
attribute (the numbers earlier draws of the same call used). Each element depends on its own
index only, so the C loop (codegen/kinds/random.py) and this numpy reference agree bit for bit:

- uniform in [0, 1): float32 (x0 >> 8) * 2^-24; float64 ((x0 >> 5) * 2^26 + (x1 >> 6)) * 2^-53
  (every value exact, so the C and numpy agree to the bit);
- normal: Box-Muller in double on the float64 uniforms u = (x0, x1) and v = (x2, x3) of the
  block, sqrt(-2 log(1 - u)) * cos(2 pi v), rounded to the dtype. The C's log and cos (libm, or
  libmvec's within 4 ulp) and numpy's differ by an ulp or a few: float64 normals agree within a
  few ulp of the radius (measured: 2 ulp of 4), float32 normals agree but for rare rounding ties.

No gradient flows through a draw (it does not depend on any differentiable input).
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ..node import DTYPES, INDEX_DTYPE
from ..registry import Op, apply, register

RANDOM = "random"
M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
ROUNDS = 10


def philox4x32(counter, key):
    """Philox4x32-10 on arrays: counter a tuple of 4 uint32 arrays, key a pair of uint32 -> 4 arrays."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint32) for c in counter)
    k0, k1 = np.uint32(key[0]), np.uint32(key[1])
    mask = np.uint64(0xFFFFFFFF)
    with np.errstate(over="ignore"):
        for r in range(ROUNDS):
            p0, p1 = M0 * c0.astype(np.uint64), M1 * c2.astype(np.uint64)
            hi0, lo0 = (p0 >> np.uint64(32)).astype(np.uint32), (p0 & mask).astype(np.uint32)
            hi1, lo1 = (p1 >> np.uint64(32)).astype(np.uint32), (p1 & mask).astype(np.uint32)
            c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
            if r < ROUNDS - 1:
                k0, k1 = k0 + W0, k1 + W1
    return c0, c1, c2, c3


def _blocks(key, size, offset):
    """The Philox blocks of elements offset .. offset + size - 1 under key = (seed, counter)."""
    key = np.asarray(key).astype(np.int64).view(np.uint64)
    seed, counter = int(key[0]), int(key[1])
    index = np.arange(size, dtype=np.uint64) + np.uint64(offset)
    lo, hi = (index & np.uint64(0xFFFFFFFF)).astype(np.uint32), (index >> np.uint64(32)).astype(np.uint32)
    return philox4x32((lo, hi, np.full(size, counter & 0xFFFFFFFF, np.uint32),
                       np.full(size, counter >> 32, np.uint32)), (seed & 0xFFFFFFFF, seed >> 32))


def _unit53(a, b):
    """The float64 in [0, 1) made of the top 27 bits of a and the top 26 of b."""
    return ((a >> np.uint32(5)).astype(np.float64) * 67108864.0 + (b >> np.uint32(6))) * 2.0 ** -53


def uniform_numpy(key, shape, dtype, offset):
    size = int(np.prod(shape, dtype=np.int64))
    x0, x1, _, _ = _blocks(key, size, offset)
    if dtype == "float32":
        values = (x0 >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)
    else:
        values = _unit53(x0, x1)
    return values.reshape(shape)


def normal_numpy(key, shape, dtype, offset):
    size = int(np.prod(shape, dtype=np.int64))
    x0, x1, x2, x3 = _blocks(key, size, offset)
    u, v = _unit53(x0, x1), _unit53(x2, x3)
    values = np.sqrt(-2.0 * np.log(1.0 - u)) * np.cos(2.0 * np.pi * v)
    return values.astype(dtype).reshape(shape)


def _infer(inputs, shape, dtype, offset):
    (key,) = inputs
    if key.dtype != INDEX_DTYPE or key.shape != (2,):
        raise ShapeError(f"a random draw's key must be an int64 array of shape (2,) = (seed, counter), "
                         f"got {key.dtype}{list(key.shape)}")
    if dtype not in DTYPES:
        raise TypeError(f"a random draw's dtype must be one of {DTYPES}, got {dtype!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"a random draw's offset must be a non-negative int, got {offset!r}")
    return tuple(shape), dtype


register(Op("random_uniform", RANDOM, _infer, uniform_numpy, differentiable=False))
register(Op("random_normal", RANDOM, _infer, normal_numpy, differentiable=False))


def random_uniform(key, shape, dtype, offset=0):
    """Uniform numbers in [0, 1) of `shape` drawn with key (seed, counter), elements offset on."""
    return apply("random_uniform", key, shape=tuple(int(d) for d in shape), dtype=dtype, offset=int(offset))


def random_normal(key, shape, dtype, offset=0):
    """Standard normal numbers of `shape` drawn with key (seed, counter), elements offset on."""
    return apply("random_normal", key, shape=tuple(int(d) for d in shape), dtype=dtype, offset=int(offset))
