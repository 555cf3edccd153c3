"""Verbs for the safeguards: review, purge, why, audit (verify, log, disseminations, fairness), encrypt.

On an embedded store each runs as the account that owns the file, and is recorded in the audit log."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from casegraph.cli.common import LazyModule, console, ctx_of, emit, fail, opened, out, table_of
from casegraph.cli.groups import command_group
from casegraph.errors import CasegraphError

if TYPE_CHECKING:
    from casegraph.safeguards import Session

sg = LazyModule("casegraph.safeguards")
retention = LazyModule("casegraph.safeguards.retention")

audit_app = command_group(help="The audit log, disseminations and the fairness check.", no_args_is_help=True)
PURPOSE = typer.Option(None, "--purpose", help="Why you need this (recorded in the audit log).")


@contextmanager
def guarded(ctx: typer.Context, purpose: str | None = None) -> Iterator[Session]:
    """The verb's session (see opened()); refusals become exit code 2."""
    with opened(ctx, purpose=purpose) as (store, _settings):
        yield store


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def review(
    ctx: typer.Context,
    within: int = typer.Option(
        None, "--within", help="Days ahead to include (default safeguards.review_notice_days)."
    ),
    keep: str = typer.Option(
        None, "--keep", help="TABLE:ID to validate again (supervisors), e.g. membership_claims:MC1."
    ),
    reason: str = typer.Option("", "--reason", help="What was checked, for --keep."),
    today: str = typer.Option(None, "--today", help="Review as of this date (YYYY-MM-DD)."),
    purpose: str = PURPOSE,
) -> None:
    """Claims and intelligence records past or near their review date, and claims that fail their criteria."""
    with guarded(ctx, purpose or "review") as g:
        if keep:
            table, _, key = keep.partition(":")
            emit(
                ctx,
                retention.keep(g, table, key, reason, today=_day(today)),
                lambda d: out.print(f"kept {d['table']} {d['key']}: next review {d['next_review']}"),
            )
            return
        rows = sg.due(g, today=_day(today), within_days=within)
    emit(
        ctx,
        rows,
        lambda d: out.print(
            table_of(
                "due for review",
                d,
                ["table_name", "agency", "record_key", "review_date", "status", "problems"],
            )
        ),
    )


def purge(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go, remove nothing."),
    today: str = typer.Option(None, "--today", help="Purge as of this date (YYYY-MM-DD)."),
) -> None:
    """Remove your agency's records past their review date, from the records and every derived table."""
    with guarded(ctx, "purge") as g:
        summary = sg.purge(g, today=_day(today), dry_run=dry_run)
    emit(
        ctx,
        summary,
        lambda d: out.print(
            f"{d['expired']} records past review on {d['today']}"
            + (" (dry run)" if d["dry_run"] else "")
            + "".join(f"\n  {t}: {n} removed" for t, n in d["removed"].items())
        ),
    )


def why(
    ctx: typer.Context,
    person: str = typer.Argument(..., help="Person record id or person id."),
    purpose: str = PURPOSE,
) -> None:
    """Every claim, link and tie involving a person, with its evidence, criteria and review date."""
    with guarded(ctx, purpose) as g:
        data = sg.why(g, person)
    emit(ctx, data, _render_why)


def _render_why(d: dict[str, Any]) -> None:
    out.print(
        table_of(
            f"records of {d['person']}",
            d["records"],
            ["record_id", "agency", "given_name", "family_name", "dob"],
        )
    )
    out.print(
        table_of(
            "membership claims",
            d["claims"],
            ["claim_id", "group_id", "criteria", "evidence", "review_date", "counts_in_results", "problems"],
        )
    )
    for name in ("involvements", "arrests", "contacts"):
        out.print(f"{name}: {len(d[name])}")
    for table, rows in d["derived"].items():
        out.print(table_of(table, rows) if isinstance(rows, list) else f"{table}: {rows}")


def verify(
    ctx: typer.Context,
    expect: str = typer.Option(
        None, "--expect", help="SEQ:HASH recorded elsewhere (from `audit log --head`)."
    ),
    accept: bool = typer.Option(
        False, "--accept", help="Accept a log that fails its anchor, on the record (after looking)."
    ),
    anchor: Path = typer.Option(
        None,
        "--anchor",
        help="An anchor exported earlier (`audit anchor --export`): the log must still hold it.",
    ),
) -> None:
    """Check every entry's MAC, the chain and its anchor; says where it breaks. Exit 1 when it does."""
    with opened(ctx, "audit", check_log=False) as (g, settings):
        if accept:
            accepted = sg.accept_audit_log(g)
            out.print(
                f"accepted: {accepted}" if accepted else "nothing to accept: the log matches its anchor"
            )
        seq, _, digest = (expect or "").partition(":")
        result = sg.verify_log(g.inner, settings, (int(seq), digest) if expect else None, anchor)
        try:  # a log broken at its head may refuse this entry too: the verdict is shown either way
            g.log(
                "audit-verify", None, f"{result.entries} entries, {'ok' if result.ok else 'problems found'}"
            )
        except CasegraphError as exc:
            console.print(f"[bold yellow]warning:[/] could not record this verification: {exc}")
    emit(ctx, result.as_dict(), _render_verify)
    raise typer.Exit(0 if result.ok else 1)


def _render_verify(d: dict[str, Any]) -> None:
    if d["ok"]:
        out.print(f"audit log ok: {d['entries']} entries, head {d['head']['seq']}:{d['head']['hash']}")
        return
    out.print(table_of("audit log problems", d["problems"], ["seq", "kind", "message"]))
    if d.get("first_bad_seq") is not None:
        out.print(f"the audit log breaks at entry {d['first_bad_seq']}")


def anchor(
    ctx: typer.Context,
    export: Path = typer.Option(
        ..., "--export", help="File to write the anchor to (keep it off this machine)."
    ),
) -> None:
    """Export the audit log's anchor (head, count, signature) to keep elsewhere; check later with
    `audit verify --anchor FILE`."""
    with guarded(ctx, "audit") as g:
        g.require("audit", "export the audit anchor")
        data = sg.export_anchor(g.inner, g.settings, export)
        g.log("audit-anchor-export", str(export), f"anchor at entry {data['seq']} exported")
    emit(
        ctx,
        {"file": str(export), "seq": data["seq"], "entries": data["entries"], "hash": data["hash"]},
        lambda d: out.print(f"anchor exported to {d['file']}: entry {d['seq']} ({d['entries']} entries)"),
    )


def log(
    ctx: typer.Context,
    limit: int = typer.Option(50, help="Entries to show (latest first)."),
    user: str = typer.Option(None, "--user", help="Only this user's entries."),
    head: bool = typer.Option(
        False, "--head", help="Print only SEQ:HASH of the last entry, to keep elsewhere."
    ),
) -> None:
    """The audit log, latest first."""
    with guarded(ctx, "audit") as g:
        if head:
            emit(ctx, {"head": f"{g.log_.seq}:{g.log_.hash}"}, lambda d: out.print(d["head"]))
            return
        mine = "" if g.user.agency is None or g.user.role == "admin" else "AND agency = ?"
        params: list[Any] = [user, user] + ([g.user.agency] if mine else [])
        rows = g.df(
            f'SELECT seq, "at", user_id, role, action, target, purpose, origin, outcome, row_count '
            f"FROM audit_log WHERE (? IS NULL OR user_id = ?) {mine} ORDER BY seq DESC LIMIT {int(limit)}",
            params,
        ).to_dict("records")
    emit(ctx, rows, lambda d: out.print(table_of("audit log", d)))


def disseminations(
    ctx: typer.Context,
    person_or_record: str = typer.Argument(..., help="Person, record or id."),
    purpose: str = PURPOSE,
) -> None:
    """Who has been given this person's record (or this record), when and for what purpose."""
    with guarded(ctx, purpose or "audit") as g:
        rows = sg.who_received(g, person_or_record)
    emit(ctx, rows, lambda d: out.print(table_of(f"disseminations of {person_or_record}", d)))


def fairness(ctx: typer.Context, purpose: str = PURPOSE) -> None:
    """Claim and link rates by each protected descriptive field, flagged outside the four-fifths band."""
    with guarded(ctx, purpose or "fairness monitoring") as g:
        data = sg.fairness(g)
    emit(ctx, data, _render_fairness)


def _render_fairness(d: dict[str, Any]) -> None:
    for b in d["breakdowns"]:
        rows = [
            {
                "value": g["value"],
                "records": g["records"],
                **{
                    m: f"{g[m]['rate']:.3f} (x{g[m]['ratio_to_overall'] or 0:.2f}){' !' if g[m]['flagged'] else ''}"
                    for m in b["metrics"]
                },
            }
            for g in b["groups"]
        ]
        out.print(table_of(f"{b['table']}.{b['field']} (rate, ratio to overall; ! = outside the band)", rows))
    out.print("\n".join(d["flagged"]) or "nothing flagged")


def encrypt(
    ctx: typer.Context,
    source: Path = typer.Argument(..., help="Unencrypted store file."),
    dest: Path = typer.Argument(..., help="New encrypted store file."),
) -> None:
    """Copy a store into a new encrypted one (key from $CASEGRAPH_KEY or store.key_file)."""
    from casegraph.store.duckdb import _httpfs_path, _literal, read_key

    settings = ctx_of(ctx).settings()
    key = read_key(settings.store)
    if not key:
        fail("no key for the new store: set $CASEGRAPH_KEY or store.key_file (never put the key in the repo)")
    if dest.exists() or not source.exists():
        fail(f"{dest} already exists" if dest.exists() else f"{source}: no such store")
    plain = settings.model_copy(deep=True)
    plain.store.path, plain.store.key_env, plain.store.key_file = (
        str(source),
        "CASEGRAPH_NO_KEY_FOR_SOURCE",
        None,
    )
    with opened(ctx, "encrypt a copy of the store", settings=plain) as (g, _settings):
        g.log("encrypt", str(dest), f"copied into a new encrypted store {dest}")
        store = g.inner
        store.execute(f"LOAD {_literal(str(_httpfs_path()))}")
        store.execute(f"ATTACH {_literal(str(dest))} AS cg_encrypted (ENCRYPTION_KEY {_literal(str(key))})")
        store.execute("COPY FROM DATABASE cg TO cg_encrypted")
        store.execute("DETACH cg_encrypted")
        for side in (".audit-anchor", ".audit-key"):  # the copy's log ends where the source's does now
            if Path(f"{source}{side}").exists():
                shutil.copy(f"{source}{side}", f"{dest}{side}")
                Path(f"{dest}{side}").chmod(0o600)
    emit(
        ctx,
        {"source": str(source), "encrypted": str(dest)},
        lambda d: out.print(f"encrypted copy: {d['encrypted']}"),
    )


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    for verb in (review, purge, why, encrypt):
        app.command()(verb)
    audit_app.command("verify")(verify)
    audit_app.command("log")(log)
    audit_app.command("anchor")(anchor)
    audit_app.command("disseminations")(disseminations)
    audit_app.command("fairness")(fairness)
    app.add_typer(audit_app, name="audit")
