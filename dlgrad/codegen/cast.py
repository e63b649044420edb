"""A small C syntax tree: statements, blocks, loops and functions, printed with indentation."""
from __future__ import annotations

from dataclasses import dataclass, field

CTYPE = {"float64": "double", "float32": "float"}


@dataclass
class Stmt:
    text: str

    def lines(self, indent):
        return [indent + line for line in self.text.split("\n")]


@dataclass
class Block:
    body: list = field(default_factory=list)

    def add(self, item):
        self.body.append(item if not isinstance(item, str) else Stmt(item))
        return item

    def lines(self, indent):
        out = []
        for item in self.body:
            out.extend(item.lines(indent))
        return out


@dataclass
class For:
    var: str
    extent: object
    body: Block = field(default_factory=Block)

    def lines(self, indent):
        head = f"{indent}for (ptrdiff_t {self.var} = 0; {self.var} < {self.extent}; ++{self.var}) {{"
        return [head] + self.body.lines(indent + "    ") + [indent + "}"]


@dataclass
class Function:
    signature: str
    body: Block = field(default_factory=Block)
    comment: str = ""

    def lines(self, indent=""):
        head = [f"/* {line} */" for line in self.comment.split("\n")] if self.comment else []
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
