"""A small C syntax tree: statements, blocks, scopes, loops and functions, printed with indentation.

Every kernel's C is built from these nodes (kinds/, gemm.py) and printed once, so the
layout of the generated code (indentation, braces, loop headers) is decided here alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field

CTYPE = {"float64": "double", "float32": "float", "int64": "int64_t"}


@dataclass
class Stmt:
    """A statement (a declaration, an assignment, a call) printed as given, one line per line."""
    text: str

    def lines(self, indent):
        return [indent + line for line in self.text.split("\n")]


@dataclass
class Block:
    """A sequence of statements, printed at the indentation of what holds it (no braces)."""
    body: list = field(default_factory=list)

    def __post_init__(self):
        self.body = [item if not isinstance(item, str) else Stmt(item) for item in self.body]

    def add(self, item):
        self.body.append(item if not isinstance(item, str) else Stmt(item))
        return item

    def extend(self, items):
        for item in items:
            self.add(item)

    def lines(self, indent):
        out = []
        for item in self.body:
            out.extend(item.lines(indent))
        return out


@dataclass
class Scope(Block):
    """A braced compound statement `{ ... }`: its declarations are local to it."""

    def lines(self, indent):
        return [indent + "{"] + super().lines(indent + "    ") + [indent + "}"]


@dataclass
class For:
    """for (ptrdiff_t var = start; var < extent; ++var / var += step) { body }

    `pragma`, if given, is printed on the line before the loop it governs (an OpenMP macro);
    `braces=False` prints a body of one single-line statement on the loop's own line.
    """
    var: str
    extent: object
    body: Block = field(default_factory=Block)
    start: object = 0
    step: int = 1
    pragma: str = ""
    braces: bool = True

    def add(self, item):
        return self.body.add(item)

    def header(self):
        step = f"++{self.var}" if self.step == 1 else f"{self.var} += {self.step}"
        return f"for (ptrdiff_t {self.var} = {self.start}; {self.var} < {self.extent}; {step})"

    def lines(self, indent):
        head = [indent + self.pragma] if self.pragma else []
        if not self.braces:
            (inner,) = self.body.lines("")
            return head + [f"{indent}{self.header()} {inner}"]
        return head + [f"{indent}{self.header()} {{"] + self.body.lines(indent + "    ") + [indent + "}"]


@dataclass
class Switch:
    """switch (subject) { case label: statement ... default: statement }, one line per case."""
    subject: str
    cases: list            # [(label, statement)]
    default: str

    def lines(self, indent):
        return ([f"{indent}switch ({self.subject}) {{"]
                + [f"{indent}case {label}: {statement}" for label, statement in self.cases]
                + [f"{indent}default: {self.default}", indent + "}"])


@dataclass
class Function:
    """A function definition; a body of one single-line statement may stay on one line (`short`)."""
    signature: str
    body: Block = field(default_factory=Block)
    comment: str = ""
    short: bool = False

    def lines(self, indent=""):
        head = [f"/* {line} */" for line in self.comment.split("\n")] if self.comment else []
        if self.short:
            (inner,) = self.body.lines("")
            return head + [f"{self.signature} {{ {inner} }}"]
        return head + [self.signature + " {"] + self.body.lines("    ") + ["}"]

    def text(self):
        return "\n".join(self.lines()) + "\n"


def loop_nest(extents, names):
    """Nested For loops over extents; returns (outermost block item, innermost body Block)."""
    outer = Block()
    body = outer
    for extent, name in zip(extents, names):
        loop = For(name, extent)
        body.add(loop)
        body = loop.body
    return outer, body


def index_expr(offset, coefs, names):
    """C text of offset + sum(coef * name)."""
    terms = [f"{name}" if c == 1 else f"{c}*{name}" for c, name in zip(coefs, names) if c != 0]
    if offset or not terms:
        terms.append(str(offset))
    return " + ".join(terms).replace("+ -", "- ")
