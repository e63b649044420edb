"""Random draws (graph/ops/random.py): one loop over the output calling a Philox helper of
c/dl_random.h per element, keyed by the int64 (seed, counter) input. Each element depends on
its index only, so the C is the same size whatever the draw's size or the number of draws."""
from __future__ import annotations

from ..csyntax import Block, For
from .gather import placer
from . import Kind, register

_HELPER = {("random_uniform", "float32"): "dl_rand_uniformf", ("random_uniform", "float64"): "dl_rand_uniform",
           ("random_normal", "float32"): "dl_rand_normalf", ("random_normal", "float64"): "dl_rand_normal"}


def emit(emitter, index, kernel):
    (root,), ((key, _),) = kernel.roots, kernel.operands
    out, source = emitter.names[id(root)], emitter.names[id(emitter.owner(key))]
    loop = For("i", root.size)
    loop.add(f"{out}[i] = {_HELPER[root.op, root.dtype]}({source}, (int64_t)i + {root.attr('offset')});")
    return emitter.function(index, kernel, [emitter.owner(key)], [root], Block([loop]))


register(Kind("random", placer("random"), emit), ops=("random_uniform", "random_normal"))
