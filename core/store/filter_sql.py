"""Compiling resolved columns and filter trees to SQLAlchemy expressions (bound parameters only).

Each ``run_values`` entry a query reads becomes one ``LEFT OUTER JOIN`` on the table's primary
key (run_id, kind, name); a query reads at most ``MAX_JOINED_VALUES`` of them, on every
database, and a filter or sort that needs more is refused with a ``FilterError``. A predicate
on a missing value is false, so ``not`` (and ``!=``, ``not in``, ``not like``, ``not contains``)
include the runs that lack the column. Enum-like columns (``Column.fold_case``) compare without
case on every database (``lower()`` on both sides); the ``optimizer`` column is read through the
canonical optimizer names in SQL too, so stored class names (``Adam``) and canonical names
(``adam``) are one value for filters and sorting.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, exists, false, func, literal, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from modelboard.optimizer_names import OPTIMIZER_NAMES, canonical_optimizer
from modelboard.store import tables
from modelboard.store.columns import Column, ColumnResolver, Source
from modelboard.store.filter import (
    BoolOp,
    Comparison,
    Contains,
    FilterError,
    InList,
    IsNull,
    Like,
    Literal,
    Node,
    Not,
)

if TYPE_CHECKING:
    from sqlalchemy.sql import FromClause

    from modelboard.store import SQLStore

__all__ = ["QueryBuilder", "MAX_JOINED_VALUES"]

#: Stored values one query may join (SQLite joins at most 64 tables: runs, these, a subquery).
MAX_JOINED_VALUES = 60

_OPS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class QueryBuilder:
    """Builds the leaderboard's SQL: the joins a query needs, filter and sort expressions."""

    def __init__(self, store: SQLStore, resolver: ColumnResolver, now: float | None = None):
        self.store = store
        self.resolver = resolver
        self.now = time.time() if now is None else now
        self.joins: dict[Source, Any] = {}
        self._status = store.effective_status_clause(self.now)
        self._naming: tuple[str, int] | None = None  # (filter text, position) being compiled

    def naming(self, text: str, position: int) -> None:
        """Say which part of a filter (or, with ``position`` -1, which sort name) needs the
        columns that follow, for the error when a query would join too many values."""
        self._naming = (text, position)

    # -- columns ------------------------------------------------------------------------------

    def alias(self, source: Source) -> Any:
        """The joined ``run_values`` alias that holds ``source``."""
        if source not in self.joins:
            if len(self.joins) >= MAX_JOINED_VALUES:
                raise self._too_many()
            self.joins[source] = tables.run_values.alias(f"v{len(self.joins)}")
        return self.joins[source]

    def _too_many(self) -> FilterError:
        message = (
            f"this query reads more than {MAX_JOINED_VALUES} stored values (each column of the "
            "filter and the sort reads one or more); filter or sort on fewer columns at once"
        )
        text, position = self._naming or ("", -1)
        if position < 0:
            return FilterError(message, text, 0, in_filter=False)
        return FilterError(message, text, position)

    def from_clause(self) -> FromClause:
        """``runs`` left-joined to every ``run_values`` entry used so far."""
        runs = tables.runs
        out: Any = runs
        for source, alias in self.joins.items():
            out = out.outerjoin(
                alias,
                and_(
                    alias.c.run_id == runs.c.id,
                    alias.c.kind == source.kind,
                    alias.c.name == source.name,
                ),
            )
        return out

    def run_field(self, name: str) -> ColumnElement[Any]:
        """SQL for a run column (``status`` is the effective status, ``duration`` derived)."""
        cols = tables.runs.c
        if name == "status":
            return self._status
        if name == "duration":
            return func.coalesce(cols.ended, cols.heartbeat) - cols.created
        return getattr(cols, name)

    def _coalesce(self, parts: list[ColumnElement[Any]]) -> ColumnElement[Any]:
        return parts[0] if len(parts) == 1 else func.coalesce(*parts)

    def numeric(self, column: Column) -> ColumnElement[Any] | None:
        """The column's numeric SQL value, or ``None`` for a text-only column."""
        if column.run_field is not None:
            return self.run_field(column.run_field) if column.is_numeric_run_field else None
        if column.computed:
            return None
        return self._coalesce([self.alias(s).c.value_num for s in column.sources])

    def text(self, column: Column) -> ColumnElement[Any] | None:
        """The column's text SQL value, or ``None`` for a numeric-only column."""
        if column.run_field is not None:
            return None if column.is_numeric_run_field else self.run_field(column.run_field)
        if column.computed == "gradient_health":
            flags = [self.alias(s).c.value_num for s in column.needs_sources]
            return case(
                (flags[0] == 1.0, literal("nonfinite")),
                (flags[1] == 1.0, literal("exploding")),
                (flags[2] == 1.0, literal("vanishing")),
                (func.coalesce(*flags).is_not(None), literal("ok")),
                else_=None,
            )
        expr = self._coalesce([self.alias(s).c.value_text for s in column.sources])
        if column.canonical == "optimizer":
            return _canonical_optimizer_sql(expr)
        return expr

    def sort_keys(self, column: Column, descending: bool) -> list[Any]:
        """ORDER BY terms for a column, missing values last."""
        keys = []
        for expr in (self.numeric(column), self.text(column)):
            if expr is not None:
                keys.append((expr.desc() if descending else expr.asc()).nulls_last())
        return keys

    # -- filters ------------------------------------------------------------------------------

    def compile_filter(self, text: str, node: Node) -> ColumnElement[bool]:
        """SQL for a parsed filter."""
        return self._compile(text, node)

    def _column(self, text: str, ref: Any) -> Column:
        self.naming(text, ref.position)
        return self.resolver.resolve(ref.name, text, ref.position)

    def _compile(self, text: str, node: Node) -> ColumnElement[bool]:
        if isinstance(node, BoolOp):
            parts = [self._compile(text, p) for p in node.parts]
            return and_(*parts) if node.op == "and" else or_(*parts)
        if isinstance(node, Not):
            return not_(func.coalesce(self._compile(text, node.part), false()))
        if isinstance(node, Comparison):
            if node.op == "!=":
                return self._compile(text, Not(Comparison(node.column, "=", node.value)))
            column = self._column(text, node.column)
            expr, value = self._operand(text, column, node.value)
            return _OPS[node.op](expr, value)
        if isinstance(node, InList):
            if node.negated:
                return self._compile(text, Not(InList(node.column, node.values, False)))
            column = self._column(text, node.column)
            kinds = {self._literal_kind(column, v) for v in node.values}
            if len(kinds) > 1:
                raise FilterError(
                    "the values of 'in' must all be numbers or all be text",
                    text,
                    node.values[0].position,
                )
            operands = [self._operand(text, column, v) for v in node.values]
            return operands[0][0].in_(list(dict.fromkeys(value for _, value in operands)))
        if isinstance(node, Like):
            if node.negated:
                return self._compile(text, Not(Like(node.column, node.pattern, False)))
            column = self._column(text, node.column)
            expr = self._text_or_error(text, column, node.pattern, "like")
            return expr.ilike(str(node.pattern.value))
        if isinstance(node, Contains):
            if node.negated:
                return self._compile(text, Not(Contains(node.column, node.value, False)))
            column = self._column(text, node.column)
            if column.list_kind is not None:
                rv = tables.run_values
                return exists().where(
                    rv.c.run_id == tables.runs.c.id,
                    rv.c.kind == column.list_kind,
                    rv.c.name == str(node.value.value),
                )
            expr = self._text_or_error(text, column, node.value, "contains")
            needle = str(node.value.value)
            if column.fold_case:
                return func.lower(expr).contains(needle.lower(), autoescape=True)
            return expr.contains(needle, autoescape=True)
        if isinstance(node, IsNull):
            column = self._column(text, node.column)
            parts = [e for e in (self.numeric(column), self.text(column)) if e is not None]
            # number and text stay apart: PostgreSQL cannot coalesce double precision with text
            present = or_(*(part.is_not(None) for part in parts))
            return present if node.negated else not_(present)
        raise TypeError(f"unknown filter node {node!r}")

    @staticmethod
    def _literal_kind(column: Column, literal_: Literal) -> str:
        value = literal_.value
        if isinstance(value, str) and not column.is_time:
            return "text"
        return "number"

    def _text_or_error(
        self, text: str, column: Column, literal_: Literal, op: str
    ) -> ColumnElement[Any]:
        expr = self.text(column)
        if expr is None:
            raise FilterError(
                f"'{op}' needs a text column; {column.label!r} holds numbers",
                text,
                literal_.position,
            )
        return expr

    def _operand(
        self, text: str, column: Column, literal_: Literal
    ) -> tuple[ColumnElement[Any], Any]:
        """The column's SQL expression and the bound value to compare it with."""
        value = literal_.value
        if isinstance(value, str):
            if column.is_time:
                return self.numeric(column), _parse_time(text, literal_)  # type: ignore[return-value]
            expr = self.text(column)
            if expr is None:
                raise FilterError(
                    f"{column.label!r} holds numbers; compare it with a number, not text",
                    text,
                    literal_.position,
                )
            if column.canonical == "optimizer":
                return expr, canonical_optimizer(value)  # the SQL side is canonical already
            if column.fold_case:
                return func.lower(expr), value.lower()
            return expr, value
        number = float(value)
        expr = self.numeric(column)
        if expr is None:
            expr = self.text(column)
            assert expr is not None
            if isinstance(value, bool) or column.computed:
                raise FilterError(
                    f"{column.label!r} holds text; compare it with quoted text",
                    text,
                    literal_.position,
                )
            return expr, str(value)
        return expr, number


def _canonical_optimizer_sql(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQL for ``canonical_optimizer(expr)``: the same table, as a ``CASE`` on the lower-cased
    name without underscores; unknown names come out lower-cased, as in Python."""
    key = func.lower(func.replace(expr, "_", ""))
    return case(
        {name: literal(canonical) for name, canonical in OPTIMIZER_NAMES.items()},
        value=key,
        else_=func.lower(expr),
    )


def _parse_time(text: str, literal_: Literal) -> float:
    try:
        return datetime.fromisoformat(str(literal_.value)).timestamp()
    except ValueError:
        raise FilterError(
            f"{literal_.value!r} is not a date; write '2024-05-01' or '2024-05-01T13:00'",
            text,
            literal_.position,
        ) from None
