"""A server store: PostgreSQL, the system of record of several agencies, used as a signed-in user.

Each connection signs in as the user's own PostgreSQL role (SCRAM), so row-level security decides every row
it reads or writes (see pgschema.py). Statements written in DuckDB's dialect, as the read surfaces write them,
are translated once each by sqlglot and run with the server's own placeholders.

Stages compute where computing is fast: `computing(...)` copies the rows a run may read (its scope's) into an
in-memory DuckDB through DuckDB's postgres extension, signed in as the same user; the stage runs there unchanged
(Splink included), with the server detached and file access switched off, so SQL from a settings file sees the
run's rows and nothing else. Then the run's results replace its scope's rows on the server in one transaction
(COPY into a staging table, INSERT under row-level security): another scope's rows are never touched.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import duckdb
import pandas as pd
import psycopg
import pyarrow as pa
import sqlglot
from psycopg import sql as pgsql
from sqlglot import exp

from casegraph.errors import EngineError, PolicyDenied
from casegraph.schema import model
from casegraph.settings import StoreSettings
from casegraph.store.base import Frame, Params, process_owner, utc_now
from casegraph.store.ddl import quote
from casegraph.store.dialect import LIST_COLUMNS
from casegraph.store.duckdb import DuckDBStore
from casegraph.store.pgschema import AUTHENTICATOR, SCHEMA, SIGNIN, bootstrap_sql

# Tables a stage run also reads besides its own READS: which claims count depends on them.
CLAIM_RULE_TABLES = ("membership_claims", "incidents", "arrests", "contacts", "reviews", "runs", "groups")


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


def conninfo(url: str, credentials: Credentials | None = None, scope: str | None = None) -> str:
    """libpq key=value string from a postgresql:// URL, signed in as `credentials` when given, working in
    `scope` (see pgschema.IN_SCOPE) when given."""
    parts = urlsplit(url)
    values = dict(parse_qsl(parts.query))
    values.setdefault("host", parts.hostname or "127.0.0.1")
    if parts.port:
        values.setdefault("port", str(parts.port))
    values["dbname"] = (parts.path or "/").lstrip("/") or "postgres"
    if credentials is not None:
        values.update(user=credentials.user, password=credentials.password)
        if values["host"].startswith("/"):  # users sign in over TCP with a password, never the socket's trust
            values["host"] = "127.0.0.1"
    elif parts.username:
        values.setdefault("user", parts.username)
    if scope:
        values["options"] = f"-c casegraph.scope={scope}"
    return " ".join(f"{k}={_libpq(v)}" for k, v in values.items())


def _libpq(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def shown(url: str) -> str:
    """The URL without any password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or dict(parse_qsl(parts.query)).get("host", "")
    return f"postgresql://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"


@lru_cache(maxsize=4096)
def to_postgres(duck_sql: str) -> str:
    """A statement in DuckDB's dialect, as PostgreSQL's, with $1, $2 ... for the ? placeholders (numbered in
    the order they are written, as the parameters are given)."""
    try:
        trees = sqlglot.parse(_numbered(duck_sql), read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise EngineError(
            f"cannot translate the statement for PostgreSQL: {exc}\n  in: {duck_sql[:300]}"
        ) from exc
    out = []
    for tree in trees:
        if tree is None:
            continue
        _postgres_shapes(tree)
        for node in list(tree.find_all(exp.Placeholder)):
            node.replace(_parameter(node))
        out.append(tree.sql(dialect="postgres"))
    return "; ".join(out)


LISTED = (exp.Explode, exp.Unnest, exp.Any, exp.ArrayContains)


def _parameter(node: Any) -> Any:
    """$n for a placeholder, with the type the server cannot guess: `? IS NULL`, a list of ids (an empty
    one has no type)."""
    param = exp.Var(this=f"${node.this}")
    if isinstance(node.parent, exp.Is):
        return exp.Cast(this=param, to=exp.DataType.build("text"))
    if isinstance(node.parent, LISTED) or isinstance(node.parent.parent, exp.Any):
        return exp.Cast(this=param, to=exp.DataType.build("text[]", dialect="postgres"))
    return param


def _numbered(duck_sql: str) -> str:
    """`?` placeholders as $1, $2 ... in the order of the text (a parsed tree's walk order differs: LIMIT
    comes before WHERE). `?::type` is one token to the tokenizer (QDCOLON); the space after $n keeps `$1,$2`
    from reading as a dollar quote."""
    from sqlglot.tokens import TokenType

    tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(duck_sql)
    marks = [
        t for t in tokens if t.token_type in (TokenType.PLACEHOLDER, TokenType.QDCOLON) and t.text[0] == "?"
    ]
    out, last = [], 0
    for n, token in enumerate(marks, 1):
        out += [duck_sql[last : token.start], f"${n} ", token.text[1:]]
        last = token.end + 1
    return "".join(out) + duck_sql[last:]


def _postgres_shapes(tree: Any) -> None:
    """What DuckDB allows and PostgreSQL says otherwise, rewritten in place (see REWRITES), inner nodes
    first (a rewrite copies what it wraps)."""
    for n, node in reversed(list(enumerate(tree.walk()))):
        rewrite = REWRITES.get(type(node))
        if rewrite is not None:
            rewrite(node, n)


def _alias_subquery(sub: Any, n: int) -> None:
    """A subquery in FROM or JOIN needs an alias."""
    if isinstance(sub.parent, (exp.From, exp.Join)) and not sub.alias:
        sub.set("alias", exp.TableAlias(this=exp.to_identifier(f"_q{n}")))


def _any_value(node: Any, _n: int) -> None:
    """PostgreSQL 15 has no any_value: any value will do, the least one too."""
    target = node.parent if isinstance(node.parent, exp.IgnoreNulls) else node
    target.replace(exp.Min(this=node.this.copy()))


def _templated(sql: str) -> Callable[[Any, int], None]:
    """A rewrite of f(x) into PostgreSQL's `sql` with x in place of __x."""

    def rewrite(node: Any, _n: int) -> None:
        out = sqlglot.parse_one(sql, read="postgres")
        next(c for c in out.find_all(exp.Column) if c.name == "__x").replace(node.this.copy())
        node.replace(out)

    return rewrite


def _full_match(node: Any, _n: int) -> None:
    """regexp_full_match: the whole value matches, an anchored ~."""
    pattern = exp.Paren(
        this=exp.DPipe(
            this=exp.DPipe(this=exp.Literal.string("^(?:"), expression=node.expression.copy()),
            expression=exp.Literal.string(")$"),
        )
    )
    node.replace(exp.RegexpLike(this=node.this.copy(), expression=pattern))


def _function(node: Any, _n: int) -> None:
    if node.name.lower() == "date_sub":
        node.replace(_date_sub(*node.expressions))


def _length(node: Any, _n: int) -> None:
    """len(list) is its cardinality (the schema says which columns are lists)."""
    arg = node.this
    if isinstance(arg, (exp.Array, exp.ArrayDistinct)) or (
        isinstance(arg, exp.Column) and arg.name in LIST_COLUMNS
    ):
        node.replace(exp.Anonymous(this="CARDINALITY", expressions=[arg]))


def _sample(sample: Any, _n: int) -> None:
    """A sample of n rows: n rows at random."""
    holder = sample.parent
    select = holder.this if isinstance(holder, exp.Subquery) else holder
    if isinstance(select, exp.Select) and sample.args.get("size") is not None:
        sample.pop()
        limited = select.order_by("random()").limit(sample.args["size"].copy())
        select.set("order", limited.args.get("order"))
        select.set("limit", limited.args.get("limit"))


def _group_by_all(select: Any, _n: int) -> None:
    """GROUP BY ALL: the selected columns that are not aggregates."""
    group = select.args.get("group")
    if group is not None and group.args.get("all"):
        keys = [
            e.unalias().copy()
            for e in select.expressions
            if not e.find(exp.AggFunc) and not isinstance(e.unalias(), exp.Literal)
        ]
        select.set("group", exp.Group(expressions=keys))


def _semi_join(join: Any, _n: int) -> None:
    """`a SEMI JOIN b USING (k, ...)`: the rows of a whose keys b holds, as `(k, ...) IN (SELECT k, ... FROM b)`."""
    select = join.parent
    if join.args.get("kind") != "SEMI" or not join.args.get("using") or not isinstance(select, exp.Select):
        return
    keys = [k.name for k in join.args["using"]]
    source = join.this.copy()
    join.pop()
    found = exp.select(*keys).from_(source)
    key = exp.Tuple(expressions=[exp.column(k) for k in keys]) if len(keys) > 1 else exp.column(keys[0])
    select.where(exp.In(this=key, query=exp.Subquery(this=found)), copy=False)


def _contains(node: Any, _n: int) -> None:
    """list_contains(list, x) as a condition: x = ANY(list), which an index on x serves. (sqlglot's own
    translation, a CASE that keeps NULL apart from false, hides x from the planner; a condition treats both
    alike: the row is left out.)"""
    up = node.parent
    while isinstance(up, (exp.And, exp.Paren)):
        up = up.parent
    if isinstance(up, (exp.Where, exp.Join)):
        listed = exp.Paren(this=node.this.copy())
        node.replace(exp.EQ(this=node.expression.copy(), expression=exp.Any(this=listed)))


REWRITES: dict[type, Callable[[Any, int], None]] = {
    exp.Join: _semi_join,
    exp.ArrayContains: _contains,
    exp.Subquery: _alias_subquery,
    exp.AnyValue: _any_value,
    exp.ArrayDistinct: _templated("ARRAY(SELECT DISTINCT u FROM UNNEST(__x) AS u)"),
    exp.ArraySort: _templated("ARRAY(SELECT u FROM UNNEST(__x) AS u ORDER BY u)"),
    exp.RegexpFullMatch: _full_match,
    exp.Anonymous: _function,
    exp.Length: _length,
    exp.TableSample: _sample,
    exp.Select: _group_by_all,
}


def _date_sub(part: Any, start: Any, end: Any) -> Any:
    """date_sub('year' | 'day', a, b): whole parts from a to b (an age in years)."""
    unit = part.name.lower()
    if unit not in ("year", "day"):
        raise EngineError(f"date_sub('{unit}', ...) has no PostgreSQL translation here (year and day do)")
    sql = "EXTRACT(YEAR FROM AGE(__b, __a))" if unit == "year" else "CAST(__b AS DATE) - CAST(__a AS DATE)"
    out = sqlglot.parse_one(sql, read="postgres")
    for column in list(out.find_all(exp.Column)):
        column.replace((end if column.name == "__b" else start).copy())
    return out


class ServerStore:
    """The Store protocol over a PostgreSQL connection signed in as one user (row-level security applies)."""

    engine = "postgres"

    def __init__(self, settings: StoreSettings, url: str, credentials: Credentials) -> None:
        self.settings, self.url, self.credentials = settings, url, credentials
        self.path = shown(url)
        try:
            self.conn = signed_connection(url, credentials, "casegraph")
        except psycopg.OperationalError as exc:
            raise PolicyDenied(_signin_refusal(url, credentials.user, exc)) from exc
        found = self.rows("SELECT user_id, agency, role FROM casegraph.me()")
        if not found:
            self.conn.close()
            raise PolicyDenied(
                f"{credentials.user} signed in to {self.path} but is not an active casegraph user"
            )
        self.user_id, self.agency, self.role = (str(v) for v in found[0])
        self._in_transaction = False
        self._announced: set[str] = set()  # runs this process started (it holds their locks)
        self.scope = self.agency  # the user's agency unless a task force is chosen (use_scope)

    @property
    def scope(self) -> str:
        return self._scope

    @scope.setter
    def scope(self, value: str) -> None:
        """The scope this session reads derived rows of and whose rows its runs replace (casegraph.scope); its
        runs left "running" by a process that died are marked interrupted now."""
        self.conn.execute("SELECT set_config('casegraph.scope', $1, false)", [value])
        self._scope = value
        self.mark_interrupted_runs()

    # -- statements -----------------------------------------------------------------------------------------
    def _cursor(self, duck_sql: str, params: Params) -> psycopg.Cursor[Any]:
        statement = to_postgres(duck_sql)
        try:
            return self.conn.execute(statement, _params(params))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PolicyDenied(
                f"{self.user_id} ({self.role}, {self.agency}): {exc.diag.message_primary}"
            ) from exc
        except psycopg.Error as exc:
            raise EngineError(f"{type(exc).__name__}: {exc}\n  in: {statement[:500]}") from exc

    def execute(self, sql: str, params: Params = None) -> None:
        self._cursor(sql, params)

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        cur = self._cursor(sql, params)
        return cur.fetchall() if cur.description else []

    def records(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        cur = self._cursor(sql, params)
        if not cur.description:
            return []
        names = [d.name for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def scalar(self, sql: str, params: Params = None) -> Any:
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def df(self, sql: str, params: Params = None) -> pd.DataFrame:
        return pd.DataFrame(self.records(sql, params))

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        return pa.Table.from_pylist(self.records(sql, params))

    def batches(self, sql: str, params: Params = None, size: int = 100_000) -> Iterator[pa.RecordBatch]:
        yield from self.arrow(sql, params).to_batches(size)

    # -- writes ---------------------------------------------------------------------------------------------
    def write(self, table: str, data: Frame, mode: str = "append") -> int:
        """Insert rows (row-level security checks each); 'replace' first removes the session scope's rows."""
        frame = data.to_pandas() if isinstance(data, pa.Table) else data
        scoped = model.tables[table].scoped if table in model.tables else False
        if scoped:
            frame = frame.assign(scope=self.scope)
        with self.transaction():
            if mode == "replace":
                if not scoped:
                    raise EngineError(
                        f"{table} is not a scoped table: a server store never replaces it whole"
                    )
                self.conn.execute(
                    pgsql.SQL("DELETE FROM {} WHERE scope = $1").format(pgsql.Identifier(table)), [self.scope]
                )
            if len(frame):
                self._insert(table, frame)
        return len(frame)

    def _insert(self, table: str, frame: pd.DataFrame) -> None:
        cols = list(frame.columns)
        stmt = pgsql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            pgsql.Identifier(table),
            pgsql.SQL(", ").join(pgsql.Identifier(c) for c in cols),
            pgsql.SQL(", ").join(pgsql.SQL(f"${i + 1}") for i in range(len(cols))),
        )
        rows = [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
        with self.conn.cursor() as cur:
            cur.executemany(stmt, rows)

    @contextmanager
    def registered(self, name: str, data: Frame) -> Iterator[str]:
        """A frame as a temporary table of this session (small frames: an export's items, a page of ids)."""
        frame = data.to_pandas() if isinstance(data, pa.Table) else data
        types = {c: _pg_type(frame[c]) for c in frame.columns}
        ident = pgsql.Identifier(name)
        columns = pgsql.SQL(", ").join(
            pgsql.SQL("{} {}").format(pgsql.Identifier(c), pgsql.SQL(t)) for c, t in types.items()
        )
        self.conn.execute(pgsql.SQL("CREATE TEMP TABLE {} ({})").format(ident, columns))
        try:
            with self.conn.cursor().copy(pgsql.SQL("COPY {} FROM STDIN").format(ident)) as copy:
                for row in frame.itertuples(index=False, name=None):
                    copy.write_row([_plain(v) for v in row])
            yield name
        finally:
            self.conn.execute(pgsql.SQL("DROP TABLE IF EXISTS {}").format(ident))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_transaction:
            yield
            return
        self._in_transaction = True
        try:
            with self.conn.transaction():
                self._begin()
                yield
        finally:
            self._in_transaction = False

    def _begin(self) -> None:
        """Statements that open each transaction (a store acting for a signed-in user sets its role there)."""

    # -- catalogue ------------------------------------------------------------------------------------------
    def table_names(self) -> list[str]:
        return [
            r[0]
            for r in self.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'casegraph' ORDER BY 1"
            )
        ]

    def columns(self, table: str) -> list[str]:
        return [
            r[0]
            for r in self.rows(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'casegraph' AND "
                "table_name = ? ORDER BY ordinal_position",
                [table],
            )
        ]

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {quote(table)}"))

    # -- runs and the record -------------------------------------------------------------------------------
    def new_run(self, stage: str, settings: dict[str, Any], user_id: str | None = None) -> str:
        run_id = f"{stage}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.execute(
            "INSERT INTO runs (run_id, stage, started_at, status, user_id, settings_json, scope, owner) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [
                run_id,
                stage,
                utc_now(),
                "running",
                self.user_id,
                json.dumps(settings, default=str),
                self.scope,
                process_owner(),
            ],
        )
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        self.execute(
            "UPDATE runs SET finished_at = ?, status = ?, summary_json = ? WHERE run_id = ?",
            [utc_now(), status, json.dumps(summary, default=str), run_id],
        )

    # A stage computes in DuckDB and its results reach the server at the end (computing()), so the server hears
    # of the run at its start: its "running" row is committed at once, and the process holds a session-level
    # advisory lock named after the run while it runs. A process that dies (kill -9) loses its connection and so
    # the lock: a "running" row whose lock anyone can take is a run whose process is gone, marked interrupted by
    # the next session that opens its scope (the embedded store does the same at its next open).
    def announce_run(self, run_id: str, stage: str, settings: dict[str, Any], user_id: str | None) -> None:
        self.conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", [f"casegraph run {run_id}"])
        self._announced.add(run_id)
        self.execute(
            "INSERT INTO runs (run_id, stage, started_at, status, user_id, settings_json, scope, owner) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [
                run_id,
                stage,
                utc_now(),
                "running",
                user_id,
                json.dumps(settings, default=str),
                self.scope,
                process_owner(),
            ],
        )

    def run_ended(self, run_id: str) -> None:
        """The run's lock is let go once its row says how it ended (written back, or failed)."""
        if run_id in self._announced:
            self._announced.discard(run_id)
            self.conn.execute(
                "SELECT pg_advisory_unlock(hashtextextended($1, 0))", [f"casegraph run {run_id}"]
            )

    def mark_interrupted_runs(self) -> int:
        """Runs of this scope left "running" by a process that is gone (nobody holds their lock)."""
        marked = 0
        for run_id, owner in self.rows("SELECT run_id, owner FROM runs WHERE status = 'running'"):
            if run_id in self._announced:
                continue
            key = f"casegraph run {run_id}"
            taken = self.conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [key]
            ).fetchone()
            if not (taken and taken[0]):
                continue  # its process is still running it
            try:
                note = {
                    "interrupted": f"the process ({owner or 'unknown'}) ended without finishing the run (killed "
                    "or crashed); nothing it computed was written"
                }
                self.execute(
                    "UPDATE runs SET status = 'interrupted', finished_at = ?, summary_json = ? "
                    "WHERE run_id = ? AND status = 'running'",
                    [utc_now(), json.dumps(note), run_id],
                )
                marked += 1
            finally:
                self.conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key])
        return marked

    def audit_append(self, values: dict[str, Any]) -> int:
        """One audit entry for this user, chained and MACed by the server (casegraph.audit_append)."""
        return int(
            self.scalar(
                "SELECT casegraph.audit_append(?, ?, ?, ?, ?, ?, ?)",
                [
                    values.get(k)
                    for k in ("action", "target", "purpose", "origin", "detail", "outcome", "row_count")
                ],
            )
        )

    def reclaim_space(self) -> str:
        """VACUUM FULL rewrites a table without its dead rows; only a table's owner may run it (the role that
        set the server up). Deleted rows are gone for every reader at once; their bytes, once vacuumed."""
        owned = [
            r[0]
            for r in self.conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tableowner = current_user "
                "ORDER BY 1",
                [SCHEMA],
            ).fetchall()
        ]
        for table in owned:
            self.conn.execute(
                pgsql.SQL("VACUUM FULL {}.{}").format(pgsql.Identifier(SCHEMA), pgsql.Identifier(table))
            )
        if owned:
            return f"VACUUM FULL on {len(owned)} tables: deleted rows' space rewritten"
        return (
            "rows deleted; their bytes stay in the server's files until the tables' owner runs VACUUM FULL "
            f"(e.g. `vacuumdb --full --table 'casegraph.*'`), which {self.user_id} may not"
        )

    def splink_db_api(self) -> Any:
        raise EngineError(
            "stages run on a server store's rows through computing(): see casegraph.store.server"
        )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ServerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- computing in DuckDB ------------------------------------------------------------------------------
    @contextmanager
    def computing(
        self, reads: tuple[str, ...], writes: tuple[str, ...], *, all_records: bool = False
    ) -> Iterator[Any]:
        """An in-memory DuckDB store holding what a run in this session's scope may read; on success, the
        run's rows of `writes` replace the scope's rows on the server, and its runs rows are added.
        `all_records`: every record the user may read, whatever the scope (an import checks its rows against
        every stored row of the agencies its file names)."""
        agencies = self.scalar("SELECT casegraph.scope_agencies(?)", [self.scope])
        if agencies is None:
            raise PolicyDenied(f"{self.user_id} may not run in the scope {self.scope}")
        if all_records or (self.role == "platform" and self.scope == self.agency):
            agencies = None  # row-level security alone decides (a platform admin's own runs see every row)
        local = ComputingStore(self.settings, self)
        try:
            tables = sorted({*reads, *writes, *CLAIM_RULE_TABLES} & set(model.tables))
            with attached(local, self):
                for table in tables:
                    _copy_in(local, table, self.scope, agencies)
            local.execute("SET enable_external_access = false")  # settings SQL reads the run's rows only
            local.execute("SET lock_configuration = true")
            started = utc_now()
            yield local
            self._write_back(local, writes, started)
        finally:
            for run_id in local.runs:
                self.run_ended(run_id)
            local.close()

    def _write_back(self, local: Any, writes: tuple[str, ...], started: datetime) -> None:
        """The scope's rows of each scoped table, replaced; rows this run added to the others (runs, and an
        import's sources, records and rejects, by their new source ids), appended."""
        replaced = [t for t in writes if model.tables[t].scoped]
        frames = {t: local.arrow(f"SELECT * FROM {quote(t)}") for t in replaced}
        frames.update(_added_rows(local, [t for t in writes if not model.tables[t].scoped], started))
        frames = {t: f for t, f in frames.items() if f.num_rows or t in replaced}
        stage = f"s{uuid.uuid4().hex[:12]}"
        staged = {t: f"{stage}_{n}" for n, t in enumerate(frames)}
        for t, name in staged.items():
            self.execute(f'CREATE UNLOGGED TABLE casegraph_stage."{name}" (LIKE casegraph."{t}")')
        try:
            _stage_frames(self, staged, frames)
            with self.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", [f"scope {self.scope}"])
                for t in replaced:
                    self.conn.execute(
                        pgsql.SQL("DELETE FROM {} WHERE scope = $1").format(pgsql.Identifier(t)), [self.scope]
                    )
                if local.runs:  # their "running" rows (announce_run) give way to the finished ones
                    self.conn.execute("DELETE FROM runs WHERE run_id = ANY($1)", [list(local.runs)])
                for t, name in staged.items():
                    self.conn.execute(f'INSERT INTO casegraph."{t}" SELECT * FROM casegraph_stage."{name}"')
        finally:
            for name in staged.values():
                self.execute(f'DROP TABLE IF EXISTS casegraph_stage."{name}"')


class ComputingStore(DuckDBStore):
    """The in-memory DuckDB store a stage computes in, telling the server of each run it starts (its "running"
    row, kept there while it runs) and of each that fails (its row says so at once; nothing is written back)."""

    def __init__(self, settings: StoreSettings, server: ServerStore) -> None:
        super().__init__(settings.model_copy(update={"key_env": "CASEGRAPH_NO_KEY"}), ":memory:")
        self.server, self.runs = server, list[str]()

    def new_run(self, stage: str, settings: dict[str, Any], user_id: str | None = None) -> str:
        run_id = super().new_run(stage, settings, user_id)
        self.runs.append(run_id)
        self.server.announce_run(run_id, stage, settings, user_id or self.server.user_id)
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        super().finish_run(run_id, status, summary)
        if status != "ok":
            self.server.finish_run(run_id, status, summary)


def _added_rows(local: Any, tables: list[str], started: datetime) -> dict[str, pa.Table]:
    """Rows a run added to unscoped tables: its runs rows, and an import's new sources with every row that
    names one of them (records and rejects carry their source_id)."""
    out = {}
    sources = "(SELECT source_id FROM sources WHERE received_at >= ?)"
    for table in ["runs", *tables]:
        names = model.table(table).field_names
        if table == "runs":
            out[table] = local.arrow("SELECT * FROM runs WHERE started_at >= ?", [started])
        elif table == "sources":
            out[table] = local.arrow("SELECT * FROM sources WHERE received_at >= ?", [started])
        elif "source_id" in names:
            out[table] = local.arrow(f"SELECT * FROM {quote(table)} WHERE source_id IN {sources}", [started])
    return out


def _stage_frames(store: ServerStore, staged: dict[str, str], frames: dict[str, pa.Table]) -> None:
    """COPY each frame into its staging table (no row-level security there: it is the user's own table). A
    scoped row gets the run's scope; a rejected row belongs to the agency that imported the file."""
    con = _duckdb_with_postgres()
    try:
        con.execute(f"ATTACH {_literal(conninfo(store.url, store.credentials))} AS pg (TYPE postgres)")
        for t, name in staged.items():
            frame = frames[t]
            if frame.num_rows:
                if "scope" in frame.column_names:
                    frame = _filled(frame, "scope", store.scope)
                if t == "rejects" and store.role != "platform":
                    frame = _filled(frame, "agency", store.agency)
                con.register("frame", frame)
                con.execute(f'INSERT INTO pg.casegraph_stage."{name}" SELECT * FROM frame')
                con.unregister("frame")
        con.execute("DETACH pg")
    finally:
        con.close()


def _filled(frame: pa.Table, column: str, value: str) -> pa.Table:
    index = frame.column_names.index(column)
    return frame.set_column(index, column, pa.array([value] * frame.num_rows, pa.string()))


@contextmanager
def attached(local: Any, store: ServerStore) -> Iterator[None]:
    """The server attached (read only) to the local DuckDB as `pg`, signed in as the store's user."""
    local.execute(f"LOAD {_literal(str(postgres_extension()))}")
    local.execute(
        "SET pg_use_ctid_scan = false"
    )  # a ctid range needs SELECT on every column (protected ones)
    local.execute(
        f"ATTACH {_literal(conninfo(store.url, store.credentials, store.scope))} AS pg (TYPE postgres, READ_ONLY)"
    )
    try:
        yield
    finally:
        local.execute("DETACH pg")


def _copy_in(local: Any, table: str, scope: str, agencies: list[str] | None) -> None:
    declared = model.table(table)
    cols = ", ".join(quote(f.name) for f in declared.fields if not f.protected)
    where = ""
    if declared.scoped:
        where = f" WHERE scope = {_literal(scope)}"
    elif declared.kind == "record" and agencies is not None:
        where = " WHERE agency IN (" + ", ".join(_literal(a) for a in agencies) + ")"
    local.execute(f"INSERT INTO {quote(table)} ({cols}) SELECT {cols} FROM pg.{SCHEMA}.{quote(table)}{where}")


def postgres_extension() -> Path:
    """DuckDB's postgres extension as the duckdb-ext-postgres package ships it (no download at run time)."""
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("duckdb-ext-postgres is not installed; a server store needs it")
    root = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}"
    found = sorted(root.glob("*/postgres_scanner.duckdb_extension"))
    if not found:
        raise EngineError(f"no postgres extension for DuckDB {duckdb.__version__} under {root}")
    return found[0]


def _duckdb_with_postgres() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    )
    con.execute(f"LOAD {_literal(str(postgres_extension()))}")
    return con


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _params(params: Params) -> list[Any] | None:
    if params is None:
        return None
    if isinstance(params, dict):
        raise EngineError("a server store takes positional parameters (?)")
    return [_plain(p) for p in params]


def _plain(value: Any) -> Any:
    """numpy and pandas values as the plain Python ones psycopg adapts."""
    if value is None or value is pd.NaT:
        return None
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _pg_type(column: pd.Series) -> str:
    kind = column.dtype.kind
    if kind in "iu":
        return "bigint"
    if kind == "f":
        return "double precision"
    if kind == "b":
        return "boolean"
    if kind == "M":
        return "timestamp"
    sample = next((v for v in column if v is not None), None)
    return "text[]" if isinstance(sample, (list, tuple)) or hasattr(sample, "tolist") else "text"


def _signin_refusal(url: str, user: str, exc: Exception) -> str:
    """A refused sign-in, on the record (through the public cg_signin role) and said plainly."""
    text = str(exc)
    if "password authentication failed" in text or "no password" in text.lower():
        record_failed_signin(url, user, "cli")
        return f"sign-in refused for {user} at {shown(url)}: wrong user name or password (recorded)"
    return f"cannot reach the server store {shown(url)} as {user}: {text.strip()}"


def initialise(url: str, admin: str, password: str, authenticator_password: str) -> None:
    """`casegraph init` on an empty database, as its superuser or owner: schema, roles, policies, functions,
    and the platform admin `admin` (the password is sent as a SCRAM verifier only)."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [SCHEMA]).fetchone():
            raise EngineError(f"{shown(url)} already holds a casegraph schema")
        with conn.transaction():
            for statement in bootstrap_sql(authenticator_password):
                try:
                    conn.execute(statement)
                except psycopg.Error as exc:
                    raise EngineError(f"init failed: {exc}\n  in: {statement[:300]}") from exc
            verifier = conn.pgconn.encrypt_password(
                password.encode(), admin.encode(), b"scram-sha-256"
            ).decode()
            conn.execute(
                pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE cg_user, cg_platform").format(
                    pgsql.Identifier(admin), pgsql.Literal(verifier)
                )
            )
            conn.execute(pgsql.SQL("GRANT {} TO cg_authenticator").format(pgsql.Identifier(admin)))
            conn.execute(
                "INSERT INTO casegraph.agencies (agency, name) VALUES ('platform', 'platform administration')"
            )
            conn.execute(
                "INSERT INTO casegraph.users (user_id, agency, role, active, created_by, created_at) "
                "VALUES (%s, 'platform', 'platform', true, 'init', now())",
                [admin],
            )


def add_user(store: ServerStore, name: str, agency: str, role: str, password: str) -> None:
    """A new user (a platform admin: any agency; an agency's admin: their own), password as a SCRAM verifier."""
    verifier = store.conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode()
    try:
        store.conn.execute("SELECT casegraph.add_user($1, $2, $3, $4)", [name, agency, role, verifier])
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PolicyDenied(exc.diag.message_primary or str(exc)) from exc
    except psycopg.Error as exc:
        raise EngineError(exc.diag.message_primary or str(exc)) from exc


def login_file() -> Path:
    """Where `casegraph login` keeps its tokens (one per server), readable by the account only."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "casegraph" / "login.json"


def credentials_for(url: str) -> Credentials:
    """Who signs in: CASEGRAPH_USER with CASEGRAPH_PASSWORD (scripts), else the token of `casegraph login`."""
    user, password = os.environ.get("CASEGRAPH_USER"), os.environ.get("CASEGRAPH_PASSWORD")
    if user and password:
        return Credentials(user, password)
    if user:
        raise PolicyDenied(
            f"CASEGRAPH_USER={user} without CASEGRAPH_PASSWORD grants nothing: give the password too, or "
            f"run `casegraph login` once"
        )
    token = _tokens().get(shown(url))
    if token:
        return Credentials(token["role"], token["secret"])
    raise PolicyDenied(
        f"sign in to {shown(url)} first: `casegraph login` (a token kept in {login_file()}), or set "
        "CASEGRAPH_USER and CASEGRAPH_PASSWORD"
    )


def _tokens() -> dict[str, Any]:
    path = login_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_token(url: str, token: dict[str, Any]) -> Path:
    """Keep a token for `url` (mode 0600, in a folder only the account may enter)."""
    path = login_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = _tokens()
    if token:
        data[shown(url)] = token
    else:
        data.pop(shown(url), None)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.chmod(path, 0o600)
    return path


def issue_token(store: ServerStore, hours: float) -> dict[str, Any]:
    """A token for this signed-in user: a role of its own with a random secret, valid for `hours`."""
    role, secret = f"cgt_{secrets.token_hex(12)}", secrets.token_urlsafe(32)
    verifier = store.conn.pgconn.encrypt_password(secret.encode(), role.encode(), b"scram-sha-256").decode()
    until = store.scalar("SELECT casegraph.issue_token(?, ?, ?)", [role, verifier, hours])
    return {"role": role, "secret": secret, "user": store.user_id, "expires": str(until)}


# -- the workspace: one authenticator, acting for the signed-in user of each request -------------------------
AUTHENTICATOR_ENV = "CASEGRAPH_AUTHENTICATOR_PASSWORD"


def authenticator_password() -> str:
    """The password `casegraph init` gave cg_authenticator (the workspace's only login of its own)."""
    found = os.environ.get(AUTHENTICATOR_ENV)
    if not found:
        raise PolicyDenied(
            f"the workspace of a server store signs in as cg_authenticator: set {AUTHENTICATOR_ENV} to the "
            "password `casegraph init` was given (scripts/demo --server keeps it with the users' passwords)"
        )
    return found


def signed_connection(
    url: str, credentials: Credentials, application: str, options: str = ""
) -> psycopg.Connection[Any]:
    """A connection signed in as `credentials` (the server checks the password), on casegraph's schema."""
    return psycopg.connect(
        conninfo(url, credentials),
        autocommit=True,
        cursor_factory=psycopg.RawCursor,
        options=f"-c search_path={SCHEMA} {options}".strip(),
        application_name=application,
    )


def authenticator_connection(url: str, password: str) -> psycopg.Connection[Any]:
    """A connection of cg_authenticator: no privilege of its own (NOINHERIT); it reads only after SET ROLE."""
    try:
        # no JIT: compiling a plan took 0.5 s where the query itself takes milliseconds
        return signed_connection(
            url, Credentials(AUTHENTICATOR, password), "casegraph workspace", "-c jit=off"
        )
    except psycopg.OperationalError as exc:
        raise PolicyDenied(f"the workspace cannot sign in to {shown(url)} as {AUTHENTICATOR}: {exc}") from exc


def token_hash(cookie: str) -> str:
    """What the server keeps of a session cookie: its SHA-256 (a stolen table opens no session)."""
    return hashlib.sha256(cookie.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    user_id: str
    purpose: str
    csrf: str
    scope: str = ""  # a task force the user chose; "" for their agency


def web_session(conn: psycopg.Connection[Any], cookie: str) -> WebSession | None:
    """The live session a cookie opens (not expired, not signed out), asked as the authenticator."""
    row = conn.execute(
        "SELECT user_id, purpose, csrf, scope FROM casegraph.web_session($1)", [token_hash(cookie)]
    ).fetchone()
    return WebSession(str(row[0]), str(row[1] or ""), str(row[2]), str(row[3] or "")) if row else None


def open_web_session(
    url: str, user: str, password: str, *, purpose: str, origin: str, hours: float
) -> tuple[str, WebSession] | None:
    """Sign a workspace user in with their password (PostgreSQL checks it: SCRAM), open a server-side session
    and record the sign-in; (cookie, session), or None for a wrong user name or password (recorded, slowed)."""
    if not user or not password or len(user) > 63:
        record_failed_signin(url, user[:100], origin)
        return None
    try:
        conn = signed_connection(url, Credentials(user, password), "casegraph sign-in")
    except psycopg.OperationalError as exc:
        if "password authentication failed" not in str(exc) and "no password" not in str(exc).lower():
            raise EngineError(f"cannot reach the server store {shown(url)}: {exc}") from exc
        record_failed_signin(url, user, origin)
        return None
    with conn:
        if conn.execute("SELECT 1 FROM casegraph.me()").fetchone() is None:
            return None  # a login role that is no (longer an active) casegraph user
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with conn.transaction():
            conn.execute(
                "SELECT casegraph.web_session_open($1, $2, $3, $4)",
                [token_hash(cookie), purpose, csrf, hours],
            )
            conn.execute(
                "SELECT casegraph.audit_append('login', NULL, $1, $2, 'workspace session opened', 'ok', NULL)",
                [purpose, origin],
            )
        return cookie, WebSession(user, purpose, csrf)


def audit_append_for(conn: psycopg.Connection[Any], entries: list[dict[str, Any]]) -> int:
    """The entries of the workspace's requests, each naming the user it acted for, chained and MACed by the
    server in one statement (casegraph.audit_append_for), as the authenticator; the last seq."""
    row = conn.execute(
        "SELECT casegraph.audit_append_for($1::jsonb)", [json.dumps(entries, default=str)]
    ).fetchone()
    return int(row[0]) if row else 0


class SessionEnded(PolicyDenied):
    """The workspace session a request came with is signed out or expired (found so by its transaction)."""


def record_failed_signin(url: str, user: str, origin: str) -> None:
    """A refused sign-in, on the record (through the public cg_signin role; the server slows it by a second)."""
    try:
        with psycopg.connect(conninfo(url, Credentials(SIGNIN, SIGNIN)), autocommit=True) as c:
            c.execute("SELECT casegraph.signin_failed(%s, %s)", [user, origin])
    except psycopg.Error:
        pass  # the refusal stands even when it cannot be recorded


class ActingStore(ServerStore):
    """A ServerStore on a connection of cg_authenticator, acting for one signed-in user: every transaction
    begins by taking the user's role and the session's scope as local settings (SET LOCAL ROLE), so row-level
    security decides each statement as it does for the user's own login; a statement outside a transaction gets
    one of its own. The connection itself can read nothing (NOINHERIT, no grants)."""

    def __init__(
        self, settings: StoreSettings, url: str, conn: psycopg.Connection[Any], user_id: str
    ) -> None:
        self.settings, self.url, self.conn, self.acting_for = settings, url, conn, user_id
        self.cookie = ""  # the workspace session of the request under way (its transaction checks it)
        self.credentials = Credentials(user_id, "")
        self.path = shown(url)
        self._in_transaction = False
        self._scope = ""
        found = self.rows("SELECT user_id, agency, role FROM casegraph.me()")
        if not found:
            raise PolicyDenied(f"{user_id} is not an active casegraph user")
        self.user_id, self.agency, self.role = (str(v) for v in found[0])
        self._scope = self.agency

    @property
    def scope(self) -> str:
        return self._scope

    @scope.setter
    def scope(self, value: str) -> None:
        self._scope = value  # set at the start of each transaction (SET LOCAL)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN and the statement that takes the user's role go to the server together (one round trip, the
        simple protocol: values as quoted literals); COMMIT at the end, ROLLBACK on an error."""
        if self._in_transaction:
            yield
            return
        self._in_transaction = True
        try:
            self._begin()
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        finally:
            self._in_transaction = False

    def _begin(self) -> None:
        """The user's role and scope for this transaction, taken from the live session of the request's cookie
        when it has one (no row: the session ended, and the role stays the authenticator's)."""
        user, scope = pgsql.Literal(self.acting_for), pgsql.Literal(self._scope)
        if not self.cookie:
            self.conn.execute(
                pgsql.SQL(
                    "BEGIN; SELECT set_config('role', {}, true), set_config('casegraph.scope', {}, true)"
                ).format(user, scope)
            )
            return
        cur = self.conn.execute(
            pgsql.SQL(
                "BEGIN; SELECT set_config('role', s.user_id, true), "
                "set_config('casegraph.scope', coalesce(s.scope, {}), true) "
                "FROM casegraph.web_session({}) s WHERE s.user_id = {}"
            ).format(scope, pgsql.Literal(token_hash(self.cookie)), user)
        )
        cur.nextset()  # past BEGIN's result, to the session's row
        if cur.fetchone() is None:
            raise SessionEnded("this session has ended (signed out or expired): sign in again")

    def _cursor(self, duck_sql: str, params: Params) -> psycopg.Cursor[Any]:
        if self._in_transaction:
            return super()._cursor(duck_sql, params)
        with self.transaction():  # results are fetched with the statement: they outlive the transaction
            return super()._cursor(duck_sql, params)

    def close_web_session(self, cookie: str) -> None:
        """Sign out: the session is revoked on the server, for every worker at once."""
        with self.transaction():
            self.conn.execute("SELECT casegraph.web_session_close($1)", [token_hash(cookie)])

    def web_session_purpose(self, cookie: str, purpose: str) -> None:
        with self.transaction():
            self.conn.execute("SELECT casegraph.web_session_purpose($1, $2)", [token_hash(cookie), purpose])

    def web_session_scope(self, cookie: str, scope: str) -> None:
        """Work in `scope` (the user's agency or one of their task forces) for the rest of the session: later
        requests read that scope's derived rows, on every worker. (The server checks membership again.)"""
        with self.transaction():
            if scope not in self.scopes():
                raise PolicyDenied(f"{self.user_id} is not in the scope {scope}")
            self.conn.execute("SELECT casegraph.web_session_scope($1, $2)", [token_hash(cookie), scope])

    def scopes(self) -> list[str]:
        """The scopes this user may work in: their agency first, then their task forces."""
        found = self.scalar("SELECT casegraph.my_scopes()") or []
        return [self.agency, *sorted(s for s in found if s != self.agency)]

    @contextmanager
    def computing(
        self, reads: tuple[str, ...], writes: tuple[str, ...], *, all_records: bool = False
    ) -> Iterator[Any]:
        raise EngineError("stages run from the CLI (`casegraph link` ...), not from the workspace")
        yield  # pragma: no cover

    def close(self) -> None:
        """The connection is the workspace's (its lane's), not this store's."""
