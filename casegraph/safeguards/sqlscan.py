"""What a SQL statement does, read from its tokens: which schema tables it reads, which one it writes.

A token scan (sqlglot's DuckDB tokenizer, which knows strings, comments and quoted names) rather than a full
parse: it never fails on DuckDB syntax a parser does not know (lambdas, `?::VARCHAR`, `BY NAME`), and it errs
on the safe side: any mention of a table's name outside a string counts as a read of that table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

READ_VERBS = {"SELECT", "FROM", "VALUES", "DESCRIBE", "DESC", "SHOW", "SUMMARIZE", "EXPLAIN", "TABLE", "CALL"}
WRITE_VERBS = {"INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "TRUNCATE"}
TRANSACTION_VERBS = {"BEGIN", "COMMIT", "ROLLBACK", "START", "END", "ABORT"}
# Settings a stage may change; anything else (search_path, extensions, external access) is refused.
ALLOWED_SETTINGS = {
    "threads",
    "memory_limit",
    "preserve_insertion_order",
    "enable_progress_bar",
    "enable_object_cache",
    "max_temp_directory_size",
    "temp_directory",
}
# Table functions that run a statement given as text would escape the scan.
FORBIDDEN_FUNCTIONS = {"query", "query_table"}
STRING_TYPES = {
    TokenType.STRING,
    TokenType.HEREDOC_STRING,
    TokenType.NATIONAL_STRING,
    TokenType.RAW_STRING,
    TokenType.BIT_STRING,
    TokenType.HEX_STRING,
    TokenType.BYTE_STRING,
}
NAME_TYPES = {TokenType.VAR, TokenType.IDENTIFIER}
_DIALECT = DuckDB()


@dataclass(frozen=True)
class Statement:
    """One statement: its verb, the table it writes (if any) and the schema tables it mentions."""

    verb: str
    kind: str  # read | write | settings | refused
    target: str | None = None
    target_span: tuple[int, int] | None = None
    target_qualified: bool = False
    temp: bool = False
    reads: frozenset[str] = field(default_factory=frozenset)
    problem: str | None = None


def _is_name(tok: Token) -> bool:
    return tok.token_type not in STRING_TYPES and (tok.token_type in NAME_TYPES or tok.text.isidentifier())


def _name_at(tokens: list[Token], i: int) -> tuple[int, list[str]]:
    """The dotted name starting at token i: (index of its last part, parts)."""
    parts = [tokens[i].text]
    while i + 2 < len(tokens) and tokens[i + 1].token_type == TokenType.DOT and _is_name(tokens[i + 2]):
        i += 2
        parts.append(tokens[i].text)
    return i, parts


def _target_index(tokens: list[Token], verb: str) -> int | None:
    """Index of the first token of the written table's name, or None (CREATE INDEX names the table after ON)."""
    skip = {
        "OR",
        "REPLACE",
        "IGNORE",
        "INTO",
        "FROM",
        "TEMP",
        "TEMPORARY",
        "UNIQUE",
        "TABLE",
        "VIEW",
        "SEQUENCE",
        "MACRO",
        "FUNCTION",
        "TYPE",
        "SCHEMA",
        "IF",
        "NOT",
        "EXISTS",
        "ONLY",
    }
    words = [t.text.upper() for t in tokens]
    if verb == "CREATE" and "INDEX" in words[:4]:
        return words.index("ON") + 1 if "ON" in words else None
    i = 1
    while i < len(tokens) and words[i] in skip and tokens[i].token_type not in (TokenType.IDENTIFIER,):
        i += 1
    return i if i < len(tokens) and _is_name(tokens[i]) else None


def _verb(tokens: list[Token]) -> str:
    """The statement's verb; WITH ... INSERT / DELETE / UPDATE count as writes."""
    first = tokens[0].text.upper() if tokens[0].token_type != TokenType.L_PAREN else "SELECT"
    if first != "WITH":
        return first
    depth = 0
    for tok in tokens[1:]:
        depth += tok.token_type == TokenType.L_PAREN
        depth -= tok.token_type == TokenType.R_PAREN
        if depth == 0 and tok.text.upper() in {"INSERT", "UPDATE", "DELETE", "SELECT"}:
            return tok.text.upper()
    return "SELECT"


def _qualifier(tokens: list[Token], i: int) -> list[str]:
    """The dotted parts written before the name at token i (e.g. ['cg', 'main'] for cg.main.incidents)."""
    parts: list[str] = []
    while i >= 2 and tokens[i - 1].token_type == TokenType.DOT and _is_name(tokens[i - 2]):
        i -= 2
        parts.insert(0, tokens[i].text.lower())
    return parts


def _refusal(tokens: list[Token], verb: str, tables: frozenset[str], catalogs: frozenset[str]) -> str | None:
    if verb in TRANSACTION_VERBS:
        return "transactions go through store.transaction(), not BEGIN / COMMIT statements"
    if verb in {"SET", "RESET"}:
        words = [t.text.lower() for t in tokens[1:3] if t.text.upper() not in {"GLOBAL", "SESSION", "LOCAL"}]
        if not words or words[0] not in ALLOWED_SETTINGS:
            return f"{verb} {words[0] if words else ''} is not allowed (allowed: {', '.join(sorted(ALLOWED_SETTINGS))})"
    elif verb == "EXPLAIN":
        if any(t.text.upper() in WRITE_VERBS for t in tokens):
            return "EXPLAIN of a write is not allowed"
    elif verb not in READ_VERBS | WRITE_VERBS | {"CHECKPOINT"}:
        return f"{verb} statements are not allowed through a guarded store"
    for i, tok in enumerate(tokens):
        if not _is_name(tok):
            continue
        low = tok.text.lower()
        nxt = tokens[i + 1].token_type if i + 1 < len(tokens) else None
        if low in FORBIDDEN_FUNCTIONS and nxt == TokenType.L_PAREN:
            return f"{low}() runs SQL given as text, which the guard cannot check"
        qual = _qualifier(tokens, i)
        if low in tables and qual and qual[0] != "temp" and (qual[-1] == "main" or qual[0] in catalogs):
            return (
                f"{'.'.join([*qual, low])} names the store's catalog directly; use the plain table name {low}"
            )
    return None


def _statement(tokens: list[Token], tables: frozenset[str], catalogs: frozenset[str]) -> Statement:
    verb = _verb(tokens)
    problem = _refusal(tokens, verb, tables, catalogs)
    if problem:
        return Statement(verb, "refused", problem=problem)
    start = next((k for k, t in enumerate(tokens) if t.text.upper() == verb), 0) if verb in WRITE_VERBS else 0
    target_at: int | None = None
    info: dict[str, object] = {}
    if verb in WRITE_VERBS:
        rel = _target_index(tokens[start:], verb)
        if rel is None:
            return Statement(verb, "refused", problem=f"cannot tell which table this {verb} writes")
        target_at = start + rel
        end, parts = _name_at(tokens, target_at)
        info = {
            "target": parts[-1].lower(),
            "target_span": (tokens[target_at].start, tokens[end].end),
            "target_qualified": len(parts) > 1 and parts[0].lower() != "temp",
            "temp": verb == "CREATE" and any(t.text.upper() in {"TEMP", "TEMPORARY"} for t in tokens[:5]),
        }
        target_at = end
    reads = frozenset(
        t.text.lower()
        for k, t in enumerate(tokens)
        if k != target_at and _is_name(t) and t.text.lower() in tables
    )
    kind = (
        "write" if verb in WRITE_VERBS else "settings" if verb in {"SET", "RESET", "CHECKPOINT"} else "read"
    )
    return Statement(verb, kind, reads=reads, **info)  # type: ignore[arg-type]


def _expand_command(tokens: list[Token]) -> list[Token]:
    """sqlglot keeps the text after EXPLAIN / CALL as one string token; scan that text as SQL too."""
    if tokens[0].token_type != TokenType.COMMAND or len(tokens) < 2:
        return tokens
    rest = [t for t in _DIALECT.tokenize(tokens[1].text) if t.text.upper() != "ANALYZE"]
    return [tokens[0], *rest]


def _split(tokens: list[Token]) -> list[list[Token]]:
    out: list[list[Token]] = [[]]
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            out.append([])
        else:
            out[-1].append(tok)
    return [s for s in out if s]


@lru_cache(maxsize=8192)
def analyse(sql: str, tables: frozenset[str], catalogs: frozenset[str]) -> tuple[Statement, ...]:
    """The statements in `sql`, each with what it reads and writes; cached, since stages repeat statements."""
    try:
        tokens = _DIALECT.tokenize(sql)
    except TokenError as exc:
        return (Statement("?", "refused", problem=f"cannot read this SQL: {exc}"),)
    statements = [_expand_command(s) for s in _split(tokens)]
    if not statements:
        return (Statement("?", "refused", problem="empty statement"),)
    return tuple(_statement(s, tables, catalogs) for s in statements)


def rewrite_targets(sql: str, statements: tuple[Statement, ...], replacement: dict[str, str]) -> str:
    """Point each write at the real table (e.g. cg.main."incidents") where a filtered view shadows its name."""
    spans = sorted(
        (s.target_span, replacement[s.target])
        for s in statements
        if s.target_span and s.target in replacement and not s.target_qualified and not s.temp
    )
    for (start, end), new in reversed(spans):
        sql = sql[:start] + new + sql[end + 1 :]
    return sql
