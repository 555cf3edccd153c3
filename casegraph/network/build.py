"""From the store's record tables to a PersonGraph, through scratch tables the run drops at its end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from casegraph.network import sql
from casegraph.network.graphs import NO_GROUP, PersonGraph, build_graph
from casegraph.safeguards import valid_claims_sql
from casegraph.settings import Settings
from casegraph.store.base import Store


@dataclass
class Sources:
    """What the graph was built from (said in the run summary)."""

    identities: bool
    series: bool
    addresses: bool
    property: bool = False  # item links (linkage's property_links): sellers and holders of stolen items
    notes: list[str] = field(default_factory=list)


def sources_of(store: Store, settings: Settings) -> Sources:
    net = settings.network
    identities = bool(store.scalar(sql.count_sql("person_identities")))
    series = (
        net.use_series and "series" in store.table_names() and bool(store.scalar(sql.count_sql("series")))
    )
    tables = store.table_names()
    items = "property_links" in tables and bool(store.scalar(sql.count_sql("property_links")))
    found = Sources(identities, series, net.address_ties, items and "property_events" in tables)
    if not identities:
        found.notes.append(_without_identities(store))
    if net.use_series and not series:
        found.notes.append("no linkage series in the store: co_series ties left out")
    return found


def _without_identities(store: Store) -> str:
    """Why person_identities is empty, as it is: no records, resolve never ran, or records came after it."""
    if not store.scalar(sql.count_sql("person_records")):
        return (
            "no person records are stored: the network has no people (import person_records and involvements)"
        )
    per_record = (
        "one person per record (agency:record_id), so one offender's several records are several people"
    )
    if not store.scalar(sql.ok_runs_sql(), ["resolve"]):
        return f"resolve has not run (`casegraph resolve`): {per_record} in this network"
    return f"person_identities is empty though resolve ran (records came after it? run `casegraph resolve` again): {per_record}"


def make_scratch(store: Store, settings: Settings, src: Sources) -> None:
    """Numbered persons, labels (person -> recorded group), participations, pair events."""
    net = settings.network
    store.execute(sql.create_as_sql(sql.SCRATCH_PERSONS, sql.persons_sql(src.identities)))
    if src.property:  # dealers and places that took in stolen items are nodes of their own
        store.execute(f"INSERT INTO {sql.SCRATCH_PERSONS} {sql.dealers_sql()}")
    claims = valid_claims_sql("membership_claims", settings.safeguards)
    store.execute(sql.create_as_sql(sql.SCRATCH_LABELS, sql.labels_sql(claims)))
    store.execute(sql.create_as_sql(sql.SCRATCH_IDS, sql.ids_sql()))
    params: list[object] = [net.offender_roles]
    if src.series:
        params += [net.offender_roles, net.series_max_size]
    if src.property:
        params += [net.offender_roles]
    parts = sql.participations_sql(
        use_series=src.series, use_addresses=src.addresses, use_property=src.property
    )
    store.execute(sql.create_as_sql(sql.SCRATCH_PARTS, parts), params)
    events = sql.pair_events_sql(address_max_persons=net.address_max_persons)
    store.execute(sql.create_as_sql(sql.SCRATCH_EVENTS, events), [net.max_event_persons])
    store.execute(sql.create_as_sql(sql.SCRATCH_RECEIVED, sql.received_sql()))
    store.execute(sql.drop_sql(sql.SCRATCH_PARTS))


def make_sides(store: Store, pg: PersonGraph, pidx: np.ndarray, side: np.ndarray) -> None:
    """The people counted on each group's side of a tie (recorded members, and associates if counted)."""
    keep = side != NO_GROUP
    frame = pd.DataFrame(
        {
            "pidx": pidx[keep].astype(np.int32),
            "group_id": [pg.groups[g] for g in side[keep]],
            "associate": (pg.label[keep] == NO_GROUP),
        }
    )
    with store.registered("_tmp_network_sides_frame", frame) as name:
        store.execute(sql.create_as_sql(sql.SCRATCH_SIDES, f"SELECT * FROM {name}"))


ITEM_EVENTS = "_tmp_network_item_events"


def set_aside_item_ties(store: Store) -> None:
    """Ties through stolen items (a seller or holder and the incident's offenders) kept out of the group-tie
    test and communities: a fence buying from several crews is evidence of its own kind, not of the groups
    working together. They return (restore_item_ties) for key players and person_ties."""
    store.execute(sql.create_as_sql(ITEM_EVENTS, f"SELECT * FROM {sql.SCRATCH_EVENTS} WHERE kind = 'item'"))
    store.execute(f"DELETE FROM {sql.SCRATCH_EVENTS} WHERE kind = 'item'")


def node_kind(node_id: str) -> str:
    """person, or dealer (a dealer or place that took in stolen items)."""
    return "dealer" if str(node_id).startswith(sql.DEALER) else "person"


def receiver_ties(store: Store, max_evidence: int) -> pd.DataFrame:
    """Pairs of groups whose stolen items went to one receiver (a fence, a dealer): their own kind of tie,
    reported beside the group-tie test and never counted in it."""
    return store.df(sql.receiver_ties_sql(max_evidence))


def with_receivers(ties: pd.DataFrame, receivers: pd.DataFrame) -> pd.DataFrame:
    """Group ties with the number of receivers both groups' stolen items went to, said in the explanation."""
    shared = receivers.groupby("pair")["receiver"].nunique() if len(receivers) else pd.Series(dtype=int)
    out = ties.assign(shared_receivers=ties["pair"].map(shared).fillna(0).astype(int))
    note = (
        "; stolen items of both went to "
        + out["shared_receivers"].astype(str)
        + " shared receivers (fences, dealers: a tie of their own kind, not counted in the test)."
    )
    has = out["shared_receivers"] > 0
    out.loc[has, "explanation"] = out.loc[has, "explanation"].str.rstrip(".") + note[has]
    return out


def restore_item_ties(store: Store) -> None:
    store.execute(f"INSERT INTO {sql.SCRATCH_EVENTS} SELECT * FROM {ITEM_EVENTS}")
    store.execute(sql.drop_sql(ITEM_EVENTS))


def communities_onto(
    pg_all: PersonGraph, pg: PersonGraph, computed: tuple[np.ndarray, str]
) -> Callable[[], tuple[np.ndarray, str]]:
    """Communities found without item ties, carried onto the graph with them by person (a person only an item
    ties is a community of their own)."""
    membership, method = computed
    of = dict(zip(pg.names.tolist(), np.asarray(membership).tolist(), strict=True))
    nxt = int(np.max(membership)) + 1 if len(membership) else 0
    out = np.empty(len(pg_all.names), dtype=np.int64)
    for k, name in enumerate(pg_all.names.tolist()):
        if name in of:
            out[k] = of[name]
        else:
            out[k], nxt = nxt, nxt + 1
    return lambda: (out, method)


def drop_scratch(store: Store) -> None:
    for table in sql.SCRATCHES:
        store.execute(sql.drop_sql(table))


def edge_count(store: Store) -> int:
    return int(store.scalar(f"SELECT count(*) FROM ({sql.edges_sql()}) e"))


def load_graph(store: Store) -> tuple[PersonGraph, pd.DataFrame]:
    """The graph over the scratch tables (vertex i = the i-th person number in `people`), and each
    vertex's person number, id, group and number of groups."""
    people = store.df(sql.people_sql())
    edges = store.df(sql.edges_sql())
    pidx = people["pidx"].to_numpy(np.int64)
    edges["a"] = np.searchsorted(pidx, edges["a"].to_numpy(np.int64))
    edges["b"] = np.searchsorted(pidx, edges["b"].to_numpy(np.int64))
    pg = build_graph(people["person_id"].to_numpy(object), people["group_id"].to_numpy(object), edges)
    return pg, people


def evidence_window(store: Store) -> tuple[float | None, float | None]:
    """First and latest dated evidence, in days since 1970."""
    row = store.rows(sql.evidence_window_sql())
    first, last = row[0] if row else (None, None)
    return (float(first) if first is not None else None, float(last) if last is not None else None)


def pair_evidence(store: Store, max_evidence: int) -> pd.DataFrame:
    """Per pair of groups: joint events, kinds, first/last dates and evidence ids of its cross ties."""
    return store.df(sql.pair_evidence_sql(max_evidence))


def event_days(store: Store, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], np.ndarray]:
    """Days (since 1970) of every distinct joint event of the given pairs of groups."""
    if not pairs:
        return {}
    frame = pd.DataFrame(pairs, columns=["group_a", "group_b"])
    with store.registered("_tmp_network_wanted", frame) as wanted:
        rows = store.df(sql.event_days_sql(wanted))
    return {(a, b): g["day"].to_numpy(float) for (a, b), g in rows.groupby(["group_a", "group_b"])}
