"""Whole-graph passes over loop nodes (graph/ops/loop.py): a loop and its twin that stores more
residuals run as one (merge_loops), and a loop writes only what something reads (prune_loops)."""
from __future__ import annotations

import numpy as np

from .node import toposort, users
from .ops import movement as M
from .ops.loop import LOOP, Body, _sizes, pieces, substitute
from .registry import apply, input_node


def merge_loops(outputs) -> list:
    """`outputs` with each loop that has a twin storing more residuals (built by an adjoint) read
    from the twin instead: its value is a prefix of the twin's, so the loop runs once."""
    def key(node):
        body = node.attr("body")
        core = Body(body.outputs[:len(body.outputs) - body.residuals], body.specs, body.counts)
        return core, node.inputs, node.attr("length"), node.attr("reverse"), node.attr("keep")
    order = toposort(outputs)
    widest = {}
    for node in order:
        if node.op == LOOP:
            k = key(node)
            if k not in widest or node.attr("body").residuals > widest[k].attr("body").residuals:
                widest[k] = node
    mapping = {}
    for node in order:
        if node.op == LOOP:
            twin = widest[key(node)]
            outs, twin_outs = node.attr("body").outputs, twin.attr("body").outputs
            if twin is not node and all(a is b for a, b in zip(outs, twin_outs)):
                mapping[id(node)] = M.view(twin, 0, node.shape)
    return substitute(outputs, mapping) if mapping else list(outputs)


def prune_loops(outputs) -> list:
    """`outputs` with each loop writing only the parts something reads: a stacked y or a kept
    entering carry that no view reads is dropped from the loop (the cotangent of xs that need
    none, in an adjoint loop), and so are the step's inputs that nothing left reads. Run on the
    final graph only: a pruned loop is no longer the prefix of its twin (merge_loops)."""
    order = toposort(outputs)
    readers = users(order)
    direct = {id(o) for o in outputs}
    mapping = {}
    for node in order:
        if node.op != LOOP or id(node) in direct or not all(u.op == "view" for u in readers[id(node)]):
            continue
        body, length, keep = node.attr("body"), node.attr("length"), node.attr("keep")
        shapes = pieces(body, length, keep)
        starts = np.cumsum([0, *_sizes(shapes)])
        used = set()
        for view in readers[id(node)]:
            first, last = view.attr("offset"), view.attr("offset") + view.size
            covered = [k for k in range(len(shapes)) if starts[k] < last and first < starts[k + 1]]
            used.update(covered)
        carries, main = body.n_carry, body.main
        # what piece k holds: ("y", index into body.outputs) or ("keep", carry); final carries stay
        kinds = ([("carry", c) for c in range(carries)] + [("y", carries + j) for j in range(main)]
                 + [("keep", c) for c, k in enumerate(keep) if k]
                 + [("y", carries + main + j) for j in range(body.residuals)])
        dropped = {k for k, (kind, _) in enumerate(kinds) if kind != "carry" and k not in used}
        if not dropped:
            continue
        gone = {kinds[k] for k in dropped}
        outs = [o for i, o in enumerate(body.outputs) if ("y", i) not in gone]
        residuals = body.residuals - sum(1 for kind, i in gone if kind == "y" and i >= carries + main)
        new_keep = tuple(k and ("keep", c) not in gone for c, k in enumerate(keep))
        new_body, inputs = _drop_unread(Body(outs, body.specs, body.counts, residuals), node.inputs)
        pruned = apply(LOOP, *inputs, body=new_body, length=length, reverse=node.attr("reverse"), keep=new_keep)
        new_starts = np.cumsum([0, *_sizes(pieces(new_body, length, new_keep))])
        moved = {k: int(new_starts[j]) for j, k in enumerate(k for k in range(len(kinds)) if k not in dropped)}
        for view in readers[id(node)]:
            if view.size == 0:
                mapping[id(view)] = M.view(pruned, 0, view.shape)
                continue
            (k,) = [k for k in range(len(shapes)) if starts[k] <= view.attr("offset") < starts[k + 1]]
            offset = moved[k] + view.attr("offset") - int(starts[k])
            mapping[id(view)] = M.view(pruned, offset, view.shape)
    return substitute(outputs, mapping) if mapping else list(outputs)


def _drop_unread(body: Body, inputs):
    """(body, inputs) without the xs and consts the body's outputs no longer read."""
    carries, xs, consts = body.counts
    read = {n.attr("index") for n in toposort(body.outputs) if n.op == "input"}
    wanted = [i for i in range(len(inputs)) if i < carries or i in read]
    if len(wanted) == len(inputs):
        return body, tuple(inputs)
    renumber = {i: j for j, i in enumerate(wanted)}
    mapping = {id(n): input_node(renumber[n.attr("index")], n.shape, n.dtype)
               for n in toposort(body.outputs) if n.op == "input"}
    counts = (carries, sum(1 for i in wanted if carries <= i < carries + xs),
              sum(1 for i in wanted if i >= carries + xs))
    new = Body(substitute(body.outputs, mapping), [body.specs[i] for i in wanted], counts, body.residuals)
    return new, tuple(inputs[i] for i in wanted)
