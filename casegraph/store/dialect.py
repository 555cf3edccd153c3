"""The stages' SQL is written once, in DuckDB's dialect; this module turns it into another engine's (Spark SQL).

The few differences are handled here and nowhere else: parameters (`?`) become literals of the statement, and
sqlglot rewrites function names, quoting and casts. A statement sqlglot cannot translate is an error that
quotes it, never a silent change of meaning.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import numpy as np
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Tokenizer, TokenType

from casegraph.errors import EngineError
from casegraph.schema import model
from casegraph.store.base import Params

SOURCE = "duckdb"
# DuckDB's len() is a string's length or a list's: the schema says which columns are lists.
LIST_COLUMNS = frozenset(f.name for t in model.tables.values() for f in t.fields if f.type == "list")


def literal_sql(value: Any) -> str:
    """A Python value as a DuckDB literal (numpy scalars, pandas timestamps and lists included)."""
    if isinstance(value, np.generic):
        value = value.item()
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, tuple | np.ndarray):
        value = list(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal_sql(v) for v in value) + "]"
    if isinstance(value, dt.datetime):
        return f"CAST('{value.isoformat(sep=' ')}' AS TIMESTAMP)"
    return exp.convert(value).sql(SOURCE)


def bind(sql: str, params: Params) -> str:
    """Each `?` of the statement (not one inside a string) replaced by its value as a literal."""
    if not params:
        return sql
    if isinstance(params, dict):
        raise EngineError("named parameters are not supported by this engine: use ? placeholders")
    marks = [t.start for t in Tokenizer().tokenize(sql) if t.token_type == TokenType.PLACEHOLDER]
    if len(marks) != len(params):
        raise EngineError(f"{len(params)} parameters for {len(marks)} placeholders in: {sql[:300]}")
    out, last = [], 0
    for start, value in zip(marks, params, strict=True):
        out += [sql[last:start], literal_sql(value)]
        last = start + 1
    return "".join([*out, sql[last:]])


@lru_cache(maxsize=1024)
def parsed(sql: str) -> exp.Expr:
    """The statement's syntax tree (DuckDB dialect); cached, so copy before changing it."""
    try:
        tree = sqlglot.parse_one(sql, read=SOURCE)
    except SqlglotError as exc:
        raise EngineError(
            f"cannot translate this statement for another engine: {exc}\n  in: {sql[:500]}"
        ) from exc
    if tree is None:
        raise EngineError(f"empty statement: {sql[:200]!r}")
    return tree


def statement(sql: str, params: Params = None) -> exp.Expr:
    """The statement with its parameters bound, as a tree to route (query, insert, delete, update) or render."""
    return parsed(bind(sql, params)).copy()


def _anchored(node: exp.Expr) -> exp.Expr:
    """DuckDB's regexp_full_match(x, p) (the whole value matches): Spark's x RLIKE '^(?:p)$'."""
    if not isinstance(node, exp.RegexpFullMatch):
        return node
    pattern = node.expression
    anchored: exp.Expr = (
        exp.Literal.string(f"^(?:{pattern.this})$")
        if isinstance(pattern, exp.Literal)
        else exp.func("concat", exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$"))
    )
    return exp.RegexpLike(this=node.this, expression=anchored)


def _whole_parts(node: exp.Expr) -> exp.Expr:
    """DuckDB's date_sub(part, a, b) (whole parts elapsed, e.g. an age in years): Spark's TIMESTAMPDIFF."""
    if not (
        isinstance(node, exp.Anonymous)
        and str(node.this).lower() == "date_sub"
        and len(node.expressions) == 3
    ):
        return node
    part, start, end = node.expressions
    if not isinstance(part, exp.Literal):
        raise EngineError(f"date_sub needs a literal part to run on another engine: {node.sql(SOURCE)}")
    return exp.Anonymous(this="TIMESTAMPDIFF", expressions=[exp.var(part.this.upper()), start, end])


def _list_length(node: exp.Expr) -> exp.Expr:
    """len(list): Spark's size(), not its string length()."""
    if not isinstance(node, exp.Length):
        return node
    arg = node.this
    listed = isinstance(arg, exp.Array | exp.ArrayDistinct) or (
        isinstance(arg, exp.Column) and arg.name in LIST_COLUMNS
    )
    return exp.ArraySize(this=arg) if listed else node


# DuckDB's arg_min_null / arg_max_null keep a row whose value is null (only a null key is skipped): so do
# Spark's min_by / max_by.
BY_NULL = {"arg_min_null": "MIN_BY", "arg_max_null": "MAX_BY"}


def _by_null(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in BY_NULL:
        return exp.Anonymous(this=BY_NULL[str(node.this).lower()], expressions=node.expressions)
    return node


def _list_slice(node: exp.Expr) -> exp.Expr:
    """DuckDB's list[a:b] (1-based, both ends in): Spark's slice(list, a, b - a + 1)."""
    if not (isinstance(node, exp.Bracket) and len(node.expressions) == 1):
        return node
    cut = node.expressions[0]
    if not isinstance(cut, exp.Slice):
        return node
    start = cut.this or exp.Literal.number(1)
    end = cut.expression or exp.ArraySize(this=node.this.copy())
    if isinstance(start, exp.Literal) and isinstance(end, exp.Literal):
        length: exp.Expr = exp.Literal.number(int(end.this) - int(start.this) + 1)
    else:
        length = exp.Add(
            this=exp.Sub(this=end.copy(), expression=start.copy()), expression=exp.Literal.number(1)
        )
    return exp.Anonymous(this="SLICE", expressions=[node.this, start, length])


def _row_in(node: exp.Expr) -> exp.Expr:
    """(a, b) IN (SELECT (a, b) FROM t): DuckDB compares one row value; Spark wants the subquery's columns."""
    if isinstance(node, exp.In) and isinstance(node.args.get("query"), exp.Expr):
        select = node.args["query"].unnest()
        if isinstance(select, exp.Select) and len(select.expressions) == 1:
            only = select.expressions[0]
            if isinstance(only, exp.Tuple):
                select.set("expressions", [e.copy() for e in only.expressions])
    return node


# What sqlglot leaves as DuckDB's own functions, rewritten for each target dialect.
REWRITES = {"spark": (_anchored, _whole_parts, _list_length, _by_null, _list_slice, _row_in)}


def render(tree: exp.Expr, dialect: str = "spark") -> str:
    for rewrite in REWRITES.get(dialect, ()):
        tree = tree.transform(rewrite)
    try:
        return tree.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise EngineError(
            f"{dialect} cannot run this statement: {exc}\n  in: {tree.sql(SOURCE)[:500]}"
        ) from exc
