"""Rewrites as tables of named (pattern, rewrite) rules, and the pass that applies them.

A pattern is a tree of `P(op, *inputs, name=..., where=...)`: `op` an op name, a tuple of
names or None (any op), `inputs` sub-patterns (omitted: any inputs), `name` binds the
matched node for the rewrite (a name bound twice must bind the same node: nodes are
interned, so that is structural equality), `where` a predicate on the node. A rule's
rewrite gets the matched node and the bindings as keywords and returns a replacement
or None (does not apply). Tables index rules by their root op, so a node is tried only
against rules that can match it.

`rewrite_graph` applies a table bottom-up to a fixpoint with an explicit work stack, so
its depth does not grow with the graph's (10 000 chained ops are fine), and never
mutates: it builds new nodes. Each rule that fires is reported by name to `fired`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .registry import apply

REWRITE_LIMIT = 50   # rewrites of one node's replacements before the last one is kept as it is


class P:
    """A node pattern (see the module docstring)."""

    __slots__ = ("ops", "inputs", "name", "where")

    def __init__(self, op=None, *inputs, name=None, where=None):
        self.ops = None if op is None else frozenset((op,) if isinstance(op, str) else op)
        self.inputs = inputs or None
        self.name, self.where = name, where

    def match(self, node, bound: dict) -> bool:
        if self.ops is not None and node.op not in self.ops:
            return False
        if self.inputs is not None:
            if len(self.inputs) != len(node.inputs):
                return False
            for p, i in zip(self.inputs, node.inputs):
                if not p.match(i, bound):
                    return False
        if self.where is not None and not self.where(node):
            return False
        if self.name is not None:
            if bound.setdefault(self.name, node) is not node:
                return False
        return True


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: P
    rewrite: Callable     # (node, **bindings) -> Node or None


class Rules:
    """A table of rules, tried in order; rules whose pattern names no root op are tried on every node."""

    def __init__(self, *tables):
        self.rules = tuple(rule for table in tables for rule in (table.rules if isinstance(table, Rules)
                                                                 else table))
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names repeat: {sorted(n for n in names if names.count(n) > 1)}")
        self._any = tuple(r for r in self.rules if r.pattern.ops is None)
        self._by_op = {}
        for rule in self.rules:
            for op in rule.pattern.ops or ():
                self._by_op.setdefault(op, []).append(rule)

    def roots(self) -> frozenset:
        """The ops at the root of some rule (every op when a rule matches any)."""
        return frozenset(self._by_op)

    def inner(self) -> frozenset:
        """The ops that some pattern names below its root."""
        found, stack = set(), [p for r in self.rules for p in (r.pattern.inputs or ())]
        while stack:
            p = stack.pop()
            found |= p.ops or set()
            stack.extend(p.inputs or ())
        return frozenset(found)

    def once(self, node, fired: Optional[list] = None):
        """The first applicable rule's replacement for node, or None."""
        candidates = self._by_op.get(node.op, ())
        for rule in (*candidates, *self._any) if self._any else candidates:
            bound = {}
            if not rule.pattern.match(node, bound):
                continue
            new = rule.rewrite(node, **bound)
            if new is not None and new is not node:
                if fired is not None:
                    fired.append(rule.name)
                return new
        return None

    def at_root(self, node, fired: Optional[list] = None):
        """node rewritten at its root until no rule applies (inputs are taken as they are)."""
        for _ in range(REWRITE_LIMIT):
            new = self.once(node, fired)
            if new is None:
                return node
            node = new
        return node


def rewrite_graph(outputs, rules: Rules, fired: Optional[list] = None, prepare=None, leaf=None):
    """outputs with `rules` applied bottom-up to a fixpoint (new nodes; the graph is untouched).

    `prepare(node, inputs)` may replace a node once its inputs are rewritten, before the rules
    run (simplify strips stop_gradient this way); it returns a node or None. Nodes for which
    `leaf(node)` is true are kept as they are, unvisited.
    """
    memo, keep = {}, []          # id -> result; keep holds every keyed node alive (ids stay unique)
    for root in outputs:
        stack = [(root, None, 0)]
        while stack:
            node, target, depth = stack[-1]
            if target is not None:       # node's result is target's result
                if id(target) in memo:
                    memo[id(node)] = memo[id(target)]
                    stack.pop()
                else:
                    stack.append((target, None, depth))
                continue
            if id(node) in memo:
                stack.pop()
                continue
            if leaf is not None and leaf(node):
                keep.append(node)
                memo[id(node)] = node
                stack.pop()
                continue
            waiting = False
            for i in reversed(node.inputs):
                if id(i) not in memo:
                    stack.append((i, None, depth))
                    waiting = True
            if waiting:
                continue
            keep.append(node)
            inputs = tuple([memo[id(i)] for i in node.inputs])
            changed = False
            for a, b in zip(inputs, node.inputs):
                if a is not b:
                    changed = True
                    break
            current = apply(node.op, *inputs, **dict(node.attrs)) if changed else node
            if prepare is not None:
                replaced = prepare(current, inputs)
                if replaced is not None:
                    memo[id(node)] = replaced
                    stack.pop()
                    continue
            new = rules.once(current, fired) if current.inputs else None
            if new is None or depth >= REWRITE_LIMIT:
                keep.append(current)
                memo[id(node)] = memo[id(current)] = current if new is None else new
                stack.pop()
            else:
                # the replacement's own new nodes may be rewritable again
                keep.append(new)
                stack[-1] = (node, new, depth + 1)
                stack.append((new, None, depth + 1))
    return [memo[id(o)] for o in outputs]
