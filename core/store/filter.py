"""The leaderboard's filter language: tokens, grammar and syntax tree (no SQL here).

Grammar (keywords are case-insensitive)::

    expr      := and_expr ("or" and_expr)*
    and_expr  := not_expr ("and" not_expr)*
    not_expr  := "not" not_expr | "(" expr ")" | predicate
    predicate := column op value            op: = == != <> < <= > >=
               | value op column
               | column ["not"] "in" "(" value ("," value)* ")"
               | column ["not"] "like" string
               | column ["not"] "contains" value
               | column "is" ["not"] "null"
    column    := name ("." name)* | "quoted name" | `quoted name`
    value     := 'text' | number | true | false

Text literals use single quotes ('it''s' for a quote); names in double quotes or backticks may
hold any character. Parentheses and ``not`` nest at most ``MAX_NESTING`` deep, and a filter holds
at most ``MAX_CONDITIONS`` conditions (databases refuse deeper expressions). Every error is a
``FilterError`` carrying the 0-based ``position``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelboard.errors import ModelboardError

__all__ = [
    "FilterError",
    "ColumnRef",
    "Literal",
    "Comparison",
    "InList",
    "Like",
    "Contains",
    "IsNull",
    "BoolOp",
    "Not",
    "Node",
    "MAX_NESTING",
    "MAX_CONDITIONS",
    "parse_filter",
]

#: How deep parentheses and ``not`` may nest (deeper filters are refused, not recursed into).
MAX_NESTING = 50
#: How many conditions one filter may hold (SQLite refuses expressions over 1,000 deep).
MAX_CONDITIONS = 500

KEYWORDS = frozenset({"and", "or", "not", "in", "like", "contains", "is", "null", "true", "false"})
COMPARISONS = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
_FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


class FilterError(ModelboardError, ValueError):
    """A filter (or column name) that cannot be parsed or resolved; ``position`` is 0-based."""

    def __init__(self, message: str, text: str, position: int, *, in_filter: bool = True) -> None:
        self.message = message
        self.text = text
        self.position = position
        where = f"bad filter at position {position}: " if in_filter else ""
        suffix = f" (in {text!r})" if in_filter else ""
        super().__init__(f"{where}{message}{suffix}")

    def pointer(self) -> str:
        """The filter with a caret under the offending position (two lines)."""
        return f"{self.text}\n{' ' * self.position}^"


@dataclass(frozen=True)
class Token:
    kind: str  # name, string, number, op, lparen, rparen, comma, keyword, end
    value: str
    position: int


_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_*-][A-Za-z0-9_.*-]*)?)
  | (?P<op>==|!=|<>|<=|>=|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens; quoted strings and names are unescaped."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"`":
            end, value = _read_quoted(text, i)
            kind = "string" if ch == "'" else "name"
            if kind == "name" and not value:
                raise FilterError("empty column name", text, i)
            tokens.append(Token(kind, value, i))
            i = end
            continue
        match = _TOKEN_RE.match(text, i)
        if match is None:
            raise FilterError(f"unexpected character {ch!r}", text, i)
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "name" and value.lower() in KEYWORDS:
            tokens.append(Token("keyword", value.lower(), i))
        elif kind != "space":
            tokens.append(Token(kind, value, i))
        i = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _read_quoted(text: str, start: int) -> tuple[int, str]:
    quote = text[start]
    out = []
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return i + 1, "".join(out)
        out.append(text[i])
        i += 1
    what = "text" if quote == "'" else "name"
    raise FilterError(f"unterminated quoted {what} (missing closing {quote})", text, start)


@dataclass(frozen=True)
class ColumnRef:
    """A column named in a filter."""

    name: str
    position: int


@dataclass(frozen=True)
class Literal:
    """A text, number or boolean literal."""

    value: str | float | int | bool
    position: int


@dataclass(frozen=True)
class Comparison:
    """``column op value``; ``op`` is one of = != < <= > >=."""

    column: ColumnRef
    op: str
    value: Literal


@dataclass(frozen=True)
class InList:
    """``column [not] in (v, ...)``."""

    column: ColumnRef
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    """``column [not] like 'pattern'`` (``%`` any text, ``_`` one character)."""

    column: ColumnRef
    pattern: Literal
    negated: bool


@dataclass(frozen=True)
class Contains:
    """``column [not] contains value``: list membership (features...) or substring."""

    column: ColumnRef
    value: Literal
    negated: bool


@dataclass(frozen=True)
class IsNull:
    """``column is [not] null``."""

    column: ColumnRef
    negated: bool


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` of two or more parts."""

    op: str
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """``not part``."""

    part: Node


Node = Comparison | InList | Like | Contains | IsNull | BoolOp | Not


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.conditions = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, token: Token | None = None) -> FilterError:
        token = token or self.tok
        return FilterError(message, self.text, token.position)

    def describe(self, token: Token) -> str:
        return "the end of the filter" if token.kind == "end" else repr(token.value)

    def take(self) -> Token:
        token = self.tok
        self.i += 1
        return token

    def accept_keyword(self, word: str) -> bool:
        if self.tok.kind == "keyword" and self.tok.value == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.error("the filter is empty")
        node = self.parse_or()
        if self.tok.kind != "end":
            if self.tok.kind == "rparen":
                raise self.error("')' without a matching '('")
            raise self.error(f"expected 'and', 'or' or the end, got {self.describe(self.tok)}")
        return node

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.accept_keyword("or"):
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_not()]
        while self.accept_keyword("and"):
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(
                f"parentheses and 'not' nest more than {MAX_NESTING} deep here; "
                "write the filter with fewer levels",
                token,
            )

    def parse_not(self) -> Node:
        if self.tok.kind == "keyword" and self.tok.value == "not":
            self.nest(self.take())
            node: Node = Not(self.parse_not())
            self.depth -= 1
            return node
        if self.tok.kind == "lparen":
            opening = self.take()
            self.nest(opening)
            node = self.parse_or()
            self.depth -= 1
            if self.tok.kind != "rparen":
                raise FilterError(
                    f"'(' at position {opening.position} is not closed: expected ')', got "
                    f"{self.describe(self.tok)}",
                    self.text,
                    self.tok.position,
                )
            self.take()
            return node
        return self.parse_predicate()

    def parse_column(self) -> ColumnRef:
        token = self.tok
        if token.kind != "name":
            if token.kind == "keyword":
                raise self.error(f"expected a column name, got the keyword {token.value!r}")
            raise self.error(f"expected a column name, got {self.describe(token)}")
        self.take()
        return ColumnRef(token.value, token.position)

    def parse_value(self, after: str) -> Literal:
        token = self.tok
        if token.kind == "string":
            self.take()
            return Literal(token.value, token.position)
        if token.kind == "number":
            self.take()
            text = token.value
            is_int = re.fullmatch(r"[-+]?\d+", text) is not None
            return Literal(int(text) if is_int else float(text), token.position)
        if token.kind == "keyword" and token.value in ("true", "false"):
            self.take()
            return Literal(token.value == "true", token.position)
        if token.kind == "keyword" and token.value == "null":
            raise self.error(f"compare with null using 'is null' or 'is not null', not {after}")
        if token.kind == "name":
            raise self.error(
                f"expected a value after {after}, got the name {token.value!r} "
                "(quote text in single quotes: 'like this')"
            )
        raise self.error(f"expected a value after {after}, got {self.describe(token)}")

    def parse_predicate(self) -> Node:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.error(
                f"the filter holds more than {MAX_CONDITIONS} conditions; "
                "list many values with 'column in (a, b, ...)' instead"
            )
        if self.tok.kind in ("string", "number") or (
            self.tok.kind == "keyword" and self.tok.value in ("true", "false")
        ):
            value = self.parse_value("the start")
            if self.tok.kind != "op":
                raise self.error(
                    f"expected a comparison after the value, got {self.describe(self.tok)}"
                )
            op = COMPARISONS[self.take().value]
            column = self.parse_column()
            return Comparison(column, _FLIPPED[op], value)
        column = self.parse_column()
        token = self.tok
        if token.kind == "op":
            self.take()
            return Comparison(column, COMPARISONS[token.value], self.parse_value(repr(token.value)))
        negated = self.accept_keyword("not")
        if self.accept_keyword("in"):
            return InList(column, self.parse_in_values(), negated)
        if self.accept_keyword("like"):
            pattern = self.parse_value("'like'")
            if not isinstance(pattern.value, str):
                raise FilterError(
                    "'like' needs a quoted pattern, e.g. '%cnn%'", self.text, pattern.position
                )
            return Like(column, pattern, negated)
        if self.accept_keyword("contains"):
            return Contains(column, self.parse_value("'contains'"), negated)
        if not negated and self.accept_keyword("is"):
            is_not = self.accept_keyword("not")
            if not self.accept_keyword("null"):
                raise self.error(f"expected 'null' after 'is', got {self.describe(self.tok)}")
            return IsNull(column, is_not)
        what = (
            "'in', 'like' or 'contains'"
            if negated
            else "a comparison (=, !=, <, >...), 'in', 'like', 'contains' or 'is'"
        )
        raise self.error(f"expected {what} after {column.name!r}, got {self.describe(self.tok)}")

    def parse_in_values(self) -> tuple[Literal, ...]:
        if self.tok.kind != "lparen":
            raise self.error(f"expected '(' after 'in', got {self.describe(self.tok)}")
        self.take()
        values = [self.parse_value("'('")]
        while self.tok.kind == "comma":
            self.take()
            values.append(self.parse_value("','"))
        if self.tok.kind != "rparen":
            raise self.error(f"expected ',' or ')' in the list, got {self.describe(self.tok)}")
        self.take()
        return tuple(values)


def parse_filter(text: str) -> Node:
    """Parse a filter into its syntax tree; raises ``FilterError`` pointing at the position."""
    return _Parser(text).parse()
