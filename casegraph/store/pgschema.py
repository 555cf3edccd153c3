"""A server store's database: tables from the schema, the roles, row-level security, and the functions that
sign users in, add users and keep the audit chain. Generated once from the declarations, run by `casegraph
init` as the database's superuser or owner.

Who sees what is PostgreSQL's decision, on every path:
- every casegraph user is a LOGIN role (SCRAM password) and a member of cg_user and of its role's group
  (cg_analyst, cg_supervisor, cg_auditor, cg_admin, cg_platform); grants follow the roles' actions;
- record tables: a user reads the rows of their agency, of agencies that share with it, and of its task forces'
  members; adds rows of their own agency (a platform admin: any); supervisors and admins purge their own;
- derived tables carry a scope (an agency or a task force): a user reads and replaces the rows of their scopes
  only, so no run of one agency can change another's results;
- the audit log is appended only through casegraph.audit_append (a keyed MAC chain, the key in a schema no
  user can read); a trigger refuses UPDATE, DELETE and TRUNCATE to everyone, the owner included.
Every table has FORCE ROW LEVEL SECURITY; the functions run as cg_owner (BYPASSRLS), with a fixed search_path,
and check who calls them. The workspace connects as cg_authenticator (NOINHERIT, no privileges of its own) and
acts for a signed-in user with SET LOCAL ROLE, as PostgREST does.
"""

from __future__ import annotations

from casegraph.schema import Field, Table, model

SCHEMA, PRIVATE = "casegraph", "casegraph_private"
OWNER, AUTHENTICATOR, SIGNIN = "cg_owner", "cg_authenticator", "cg_signin"
GROUPS = {  # casegraph role -> PostgreSQL group role
    "analyst": "cg_analyst",
    "supervisor": "cg_supervisor",
    "auditor": "cg_auditor",
    "admin": "cg_admin",
    "platform": "cg_platform",
}
RUNS = ("cg_analyst", "cg_supervisor", "cg_admin", "cg_platform")  # may import and run stages
PURGES = ("cg_supervisor", "cg_admin", "cg_platform")
SEES_PROTECTED = ("cg_supervisor", "cg_auditor", "cg_platform")  # the fairness check reads them
PG_TYPES = {
    "id": "text",
    "string": "text",
    "text": "text",
    "code": "text",
    "json": "text",
    "list": "text[]",
    "int": "bigint",
    "float": "double precision",
    "date": "date",
    "timestamp": "timestamp",
    "bool": "boolean",
}
# Lookups the workspace and the stage snapshots make, besides each record table's (agency, key) and (key): a
# record is also asked for by its id alone (the agency is whichever the reader may see).
INDEXES = {
    # Newest first as the workspace sorts (DuckDB's order: NULLS LAST), so an index serves ORDER BY ... LIMIT;
    # agency last: row-level security's test reads it from the index (a count needs no table row).
    "incidents": [
        "occurred_from DESC NULLS LAST, incident_id, agency",
        "area, occurred_from DESC NULLS LAST, incident_id, agency",
        "offence, occurred_from DESC NULLS LAST, incident_id, agency",
    ],
    "person_records": ["family_name", "given_name"],
    "involvements": ["agency, incident_id", "agency, record_id"],
    "arrests": ["agency, incident_id", "agency, record_id"],
    "contact_participants": ["agency, contact_id", "agency, record_id"],
    "membership_claims": ["group_id", "agency, record_id"],
    "person_identities": ["scope, record_id, agency", "scope, person_id"],
    "incident_links": ["scope, agency_a, incident_a", "scope, agency_b, incident_b", "scope, link_id"],
    "series": ["scope, series_id", "scope, agency, incident_id"],
    "group_incidents": ["scope, group_id", "scope, agency, incident_id"],
    "person_ties": ["scope, person_a", "scope, person_b"],
    "alerts": ["scope, alert_id", "scope, created_at"],
    "audit_log": ["agency, seq"],
    "rejects": ["agency, source_id"],
}


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def t(table: str) -> str:
    return f"{SCHEMA}.{q(table)}"


def column_sql(f: Field) -> str:
    return f"{q(f.name)} {PG_TYPES[f.type]}" + (" NOT NULL" if f.name == "scope" else "")


def table_sql(table: Table) -> list[str]:
    cols = [column_sql(f) for f in table.fields]
    if table.kind == "record":
        cols.append(f"PRIMARY KEY (agency, {q(table.key)})")
    elif table.name == "audit_log":
        cols.append("PRIMARY KEY (seq)")
    out = [f"CREATE TABLE {t(table.name)} ({', '.join(cols)})"]
    if table.kind == "record":
        out.append(f"CREATE INDEX {q(f'{table.name}_key')} ON {t(table.name)} ({q(table.key)})")
    for n, columns in enumerate(INDEXES.get(table.name, [])):
        out.append(f"CREATE INDEX {q(f'{table.name}_{n}')} ON {t(table.name)} ({columns})")
    if table.scoped and table.name not in INDEXES:
        out.append(f"CREATE INDEX {q(f'{table.name}_scope')} ON {t(table.name)} (scope)")
    return out


def roles_sql(authenticator_password: str) -> list[str]:
    """Group roles (created once per cluster; a second casegraph database reuses them)."""
    wanted = [
        (OWNER, "NOLOGIN CREATEROLE BYPASSRLS"),
        ("cg_user", "NOLOGIN"),
        *[(g, "NOLOGIN") for g in GROUPS.values()],
        (AUTHENTICATOR, f"LOGIN NOINHERIT PASSWORD {lit(authenticator_password)}"),
        (SIGNIN, f"LOGIN PASSWORD {lit(SIGNIN)}"),  # public: it may only record a failed sign-in
    ]
    return [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {lit(name)}) THEN "
        f"CREATE ROLE {q(name)} {options}; ELSE ALTER ROLE {q(name)} {options}; END IF; END $$"
        for name, options in wanted
    ] + [f"GRANT cg_user TO {g}" for g in GROUPS.values()]


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def schema_sql() -> list[str]:
    out = [
        f"CREATE SCHEMA {SCHEMA} AUTHORIZATION {OWNER}",
        f"CREATE SCHEMA {PRIVATE} AUTHORIZATION {OWNER}",
        f"CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA {PRIVATE}",
        f"CREATE SCHEMA casegraph_stage AUTHORIZATION {OWNER}",
        f"SET ROLE {OWNER}",
    ]
    for table in model.tables.values():
        out += table_sql(table)
    out += [
        f"CREATE TABLE {PRIVATE}.audit_key (id int PRIMARY KEY CHECK (id = 1), key bytea NOT NULL)",
        f"INSERT INTO {PRIVATE}.audit_key VALUES (1, {PRIVATE}.gen_random_bytes(32))",
        f"CREATE TABLE {PRIVATE}.audit_anchor (id int PRIMARY KEY CHECK (id = 1), head_seq bigint NOT NULL, "
        "head_hash text NOT NULL, entries bigint NOT NULL)",
        f"INSERT INTO {PRIVATE}.audit_anchor VALUES (1, 0, repeat('0', 64), 0)",
        f"CREATE TABLE {PRIVATE}.web_sessions (token_hash text PRIMARY KEY, user_id text NOT NULL, "
        "purpose text, csrf text NOT NULL, scope text, created_at timestamptz NOT NULL DEFAULT now(), "
        "expires_at timestamptz NOT NULL, revoked_at timestamptz)",
        f"CREATE TABLE {PRIVATE}.signin_failures (user_id text, origin text, at timestamptz DEFAULT now())",
        f"CREATE TABLE {PRIVATE}.tokens (role_name text PRIMARY KEY, user_id text NOT NULL, "
        "expires_at timestamptz NOT NULL, revoked_at timestamptz)",
    ]
    return out


def _policy(table: str, name: str, command: str, using: str | None, check: str | None = None) -> str:
    using = None if command == "INSERT" else using  # an insert has only its WITH CHECK
    check = None if command in ("SELECT", "DELETE") else check
    clauses = (f" USING ({using})" if using else "") + (f" WITH CHECK ({check})" if check else "")
    return f"CREATE POLICY {q(name)} ON {t(table)} FOR {command} TO cg_user{clauses}"


READABLE = f"agency = ANY ((SELECT {SCHEMA}.readable_agencies())::text[])"
MINE = f"agency = (SELECT {SCHEMA}.my_agency())"
PLATFORM = f"(SELECT {SCHEMA}.is_platform())"
# A session works in one scope at a time (the setting casegraph.scope, default the user's agency), and only ever
# one of the user's scopes: reads of derived rows never mix two scopes' results, and a run replaces only its own.
IN_SCOPE = (
    f"scope = ANY ((SELECT {SCHEMA}.my_scopes())::text[]) AND scope = (SELECT {SCHEMA}.working_scope())"
)


def _record_policies(table: Table) -> list[str]:
    shown = ", ".join(q(f.name) for f in table.fields if not f.protected)
    return [
        # A platform admin reads every agency's rows, registered or not: an import's already-stored check must
        # see the rows of every agency a file names, or a re-import would store them twice.
        _policy(table.name, "read", "SELECT", f"{READABLE} OR {PLATFORM}"),
        _policy(table.name, "add", "INSERT", None, f"{MINE} OR {PLATFORM}"),
        _policy(table.name, "purge", "DELETE", f"{MINE} OR {PLATFORM}"),
        f"GRANT SELECT ({shown}) ON {t(table.name)} TO cg_user",
        f"GRANT SELECT ON {t(table.name)} TO {', '.join(SEES_PROTECTED)}",
        f"GRANT INSERT ON {t(table.name)} TO {', '.join(RUNS)}",
        f"GRANT DELETE ON {t(table.name)} TO {', '.join(PURGES)}",
    ]


def _scoped_policies(table: Table) -> list[str]:
    return [
        _policy(table.name, "scope", "ALL", IN_SCOPE, IN_SCOPE),
        f"GRANT SELECT ON {t(table.name)} TO cg_user",
        f"GRANT INSERT, UPDATE, DELETE ON {t(table.name)} TO {', '.join(RUNS)}",
    ]


AUDITORS = f"(SELECT {SCHEMA}.my_role()) IN ('auditor', 'supervisor', 'admin')"
SYSTEM_POLICIES: dict[str, list[tuple[str, str, str | None, str | None]]] = {
    # table: (name, command, using, check)
    "agencies": [
        ("read", "SELECT", f"{READABLE} OR {PLATFORM}", None),
        ("add", "INSERT", PLATFORM, PLATFORM),
    ],
    "users": [
        (
            "read",
            "SELECT",
            f"user_id = (SELECT {SCHEMA}.my_user()) OR ({MINE} AND {AUDITORS}) OR {PLATFORM}",
            None,
        )
    ],
    "sharing_rules": [
        (
            "read",
            "SELECT",
            f"owner = (SELECT {SCHEMA}.my_agency()) OR grantee = (SELECT {SCHEMA}.my_agency()) OR {PLATFORM}",
            None,
        ),
        (
            "grant",
            "INSERT",
            None,
            f"(owner = (SELECT {SCHEMA}.my_agency()) AND (SELECT {SCHEMA}.my_role()) = "
            f"'admin') OR {PLATFORM}",
        ),
        (
            "revoke",
            "UPDATE",
            f"(owner = (SELECT {SCHEMA}.my_agency()) AND (SELECT {SCHEMA}.my_role()) = 'admin') "
            f"OR {PLATFORM}",
            None,
        ),
    ],
    "task_forces": [
        ("read", "SELECT", f"(SELECT {SCHEMA}.my_agency()) = ANY (agencies) OR {PLATFORM}", None),
        ("add", "ALL", PLATFORM, PLATFORM),
    ],
    "sources": [
        ("read", "SELECT", f"{READABLE} OR {PLATFORM}", None),
        ("add", "INSERT", None, f"{MINE} OR {PLATFORM}"),
    ],
    "rejects": [
        ("read", "SELECT", f"{MINE} OR {PLATFORM}", None),
        ("add", "INSERT", None, f"{MINE} OR {PLATFORM}"),
        ("purge", "DELETE", f"{MINE} OR {PLATFORM}", None),
    ],
    "tombstones": [
        ("read", "SELECT", f"{READABLE} OR {PLATFORM}", None),
        ("add", "INSERT", None, f"{MINE} OR {PLATFORM}"),
    ],
    "reviews": [
        ("read", "SELECT", f"{READABLE} OR {PLATFORM}", None),
        ("add", "INSERT", None, f"{MINE} OR {PLATFORM}"),
    ],
    "disseminations": [
        ("read", "SELECT", f"{MINE} OR {PLATFORM}", None),
        ("add", "INSERT", None, f"{MINE} OR {PLATFORM}"),
        ("stamp", "UPDATE", f"{MINE} OR {PLATFORM}", None),
    ],
    "dissemination_items": [
        (
            "read",
            "SELECT",
            f"EXISTS (SELECT 1 FROM {t('disseminations')} d WHERE d.dissemination_id = "
            "dissemination_items.dissemination_id)",
            None,
        ),
        (
            "add",
            "INSERT",
            None,
            f"EXISTS (SELECT 1 FROM {t('disseminations')} d WHERE d.dissemination_id = "
            "dissemination_items.dissemination_id)",
        ),
    ],
    "audit_log": [("read", "SELECT", f"({MINE} AND {AUDITORS}) OR {PLATFORM}", None)],
}
SYSTEM_GRANTS = {
    "agencies": ["SELECT"],
    "users": ["SELECT"],
    "sharing_rules": ["SELECT", "INSERT", "UPDATE"],
    "task_forces": ["SELECT", "INSERT", "UPDATE", "DELETE"],
    "sources": ["SELECT", "INSERT"],
    "rejects": ["SELECT", "INSERT", "DELETE"],
    "tombstones": ["SELECT", "INSERT"],
    "reviews": ["SELECT", "INSERT"],
    "disseminations": ["SELECT", "INSERT", "UPDATE"],
    "dissemination_items": ["SELECT", "INSERT"],
    "audit_log": ["SELECT"],
}


def policies_sql() -> list[str]:
    out = [
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO cg_user",
        f"GRANT USAGE, CREATE ON SCHEMA casegraph_stage TO {', '.join(RUNS)}",
        f"REVOKE ALL ON SCHEMA {PRIVATE} FROM PUBLIC",
    ]
    for table in model.tables.values():
        out += [
            f"ALTER TABLE {t(table.name)} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {t(table.name)} FORCE ROW LEVEL SECURITY",
        ]
        if table.kind == "record":
            out += _record_policies(table)
        elif table.scoped:
            out += _scoped_policies(table)
        else:
            for name, command, using, check in SYSTEM_POLICIES.get(table.name, []):
                out.append(_policy(table.name, name, command, using, check))
            for grant in SYSTEM_GRANTS.get(table.name, []):
                out.append(f"GRANT {grant} ON {t(table.name)} TO cg_user")
    return out


def functions_sql() -> list[str]:
    """Identity, scopes, user administration and the audit chain, as SECURITY DEFINER functions of cg_owner.

    Identity functions take `who DEFAULT current_user`: a default is evaluated where the function is called, so
    in a policy it is the user running the query (inside the function current_user is the owner). A caller may
    ask only about a role it is (the CLI's login role) or may become (the workspace's authenticator)."""
    d = f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {SCHEMA}, pg_temp"
    p = f"LANGUAGE plpgsql SECURITY DEFINER SET search_path = {SCHEMA}, {PRIVATE}, pg_temp"
    me = (  # a `casegraph login` token is a role of its own, standing for its user until it expires
        "SELECT u.user_id, u.agency, u.role FROM users u WHERE u.user_id = coalesce((SELECT k.user_id FROM "
        f"{PRIVATE}.tokens k WHERE k.role_name = who::text AND k.expires_at > now() AND k.revoked_at IS NULL), "
        "who::text) AND coalesce(u.active, true) AND (who = session_user OR pg_has_role(session_user, who, "
        "'MEMBER'))"
    )
    return [
        f"CREATE FUNCTION {SCHEMA}.me(who name DEFAULT current_user) RETURNS TABLE (user_id text, agency text, "
        f"role text) {d} AS $$ {me} $$",
        f"CREATE FUNCTION {SCHEMA}.my_user(who name DEFAULT current_user) RETURNS text {d} AS "
        f"$$ SELECT user_id FROM {SCHEMA}.me(who) $$",
        f"CREATE FUNCTION {SCHEMA}.my_agency(who name DEFAULT current_user) RETURNS text {d} AS "
        f"$$ SELECT agency FROM {SCHEMA}.me(who) $$",
        f"CREATE FUNCTION {SCHEMA}.my_role(who name DEFAULT current_user) RETURNS text {d} AS "
        f"$$ SELECT role FROM {SCHEMA}.me(who) $$",
        f"CREATE FUNCTION {SCHEMA}.is_platform(who name DEFAULT current_user) RETURNS boolean {d} AS "
        f"$$ SELECT coalesce((SELECT role = 'platform' FROM {SCHEMA}.me(who)), false) $$",
        # own agency, agencies sharing with it (unrevoked), and the members of its task forces
        f"CREATE FUNCTION {SCHEMA}.readable_agencies(who name DEFAULT current_user) RETURNS text[] {d} AS $$ "
        f"WITH m AS (SELECT * FROM {SCHEMA}.me(who)) SELECT CASE WHEN (SELECT role FROM m) = 'platform' "
        "THEN (SELECT array_agg(agency) FROM agencies) ELSE array(SELECT agency FROM m UNION "
        "SELECT owner FROM sharing_rules WHERE grantee = (SELECT agency FROM m) AND revoked_at IS NULL UNION "
        "SELECT unnest(agencies) FROM task_forces WHERE (SELECT agency FROM m) = ANY (agencies)) END $$",
        f"CREATE FUNCTION {SCHEMA}.my_scopes(who name DEFAULT current_user) RETURNS text[] {d} AS $$ "
        f"WITH m AS (SELECT * FROM {SCHEMA}.me(who)) SELECT CASE WHEN (SELECT role FROM m) = 'platform' "
        "THEN array(SELECT agency FROM agencies UNION SELECT scope FROM task_forces) ELSE array("
        "SELECT agency FROM m UNION SELECT scope FROM task_forces WHERE (SELECT agency FROM m) = ANY (agencies)) "
        "END $$",
        f"CREATE FUNCTION {SCHEMA}.working_scope(who name DEFAULT current_user) RETURNS text {d} AS $$ "
        f"SELECT coalesce(nullif(current_setting('casegraph.scope', true), ''), {SCHEMA}.my_agency(who)) $$",
        f"CREATE FUNCTION {SCHEMA}.scope_agencies(scope text, who name DEFAULT current_user) RETURNS text[] {d} "
        f"AS $$ SELECT CASE WHEN NOT scope = ANY ({SCHEMA}.my_scopes(who)) THEN NULL WHEN EXISTS (SELECT 1 FROM "
        "task_forces f WHERE f.scope = scope_agencies.scope) THEN (SELECT agencies FROM task_forces f WHERE "
        "f.scope = scope_agencies.scope) ELSE ARRAY[scope] END $$",
        _add_user_sql(p),
        _audit_append_sql(p),
        _audit_verify_sql(p),
        _signin_failed_sql(p),
        _web_session_sql(p),
        _token_sql(p),
        f"CREATE FUNCTION {PRIVATE}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP; END $$",
        f"CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON {t('audit_log')} FOR EACH ROW "
        f"EXECUTE FUNCTION {PRIVATE}.refuse_change()",
        f"CREATE TRIGGER no_truncate BEFORE TRUNCATE ON {t('audit_log')} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {PRIVATE}.refuse_change()",
        f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {SCHEMA} FROM PUBLIC",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {SCHEMA} TO cg_user",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {SIGNIN}, {AUTHENTICATOR}",
        f"GRANT EXECUTE ON FUNCTION {SCHEMA}.signin_failed(text, text) TO {SIGNIN}, {AUTHENTICATOR}",
        f"GRANT EXECUTE ON FUNCTION {SCHEMA}.web_session(text) TO {AUTHENTICATOR}",
        f"REVOKE EXECUTE ON FUNCTION {SCHEMA}.audit_append_for(jsonb) FROM cg_user",
        f"GRANT EXECUTE ON FUNCTION {SCHEMA}.audit_append_for(jsonb) TO {AUTHENTICATOR}",
    ]


def _add_user_sql(p: str) -> str:
    """Add a user (a LOGIN role with the SCRAM verifier the client computed: the password never reaches the
    server): a platform admin for any agency (creating it if new), an agency's admin for their own only."""
    return f"""CREATE FUNCTION {SCHEMA}.add_user(name text, agency text, role text, verifier text,
  who name DEFAULT current_user) RETURNS void {p} AS $$
DECLARE caller record;
BEGIN
  SELECT * INTO caller FROM {SCHEMA}.me(who);
  IF NOT (caller.role = 'platform' OR (caller.role = 'admin' AND caller.agency = add_user.agency
          AND add_user.role <> 'platform')) THEN
    RAISE EXCEPTION 'only a platform admin, or an admin of %, may add users of %', add_user.agency, add_user.agency
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF name !~ '^[a-z][a-z0-9_.]{{0,62}}$' THEN
    RAISE EXCEPTION 'a user name is lower-case letters, digits, _ and . (starting with a letter): %', name;
  END IF;
  IF NOT role = ANY (ARRAY{list(GROUPS)}) THEN RAISE EXCEPTION 'unknown role %', role; END IF;
  IF verifier !~ '^SCRAM-SHA-256\\$' THEN RAISE EXCEPTION 'send a SCRAM-SHA-256 verifier, not a password'; END IF;
  IF NOT EXISTS (SELECT 1 FROM agencies a WHERE a.agency = add_user.agency) THEN
    IF caller.role <> 'platform' THEN RAISE EXCEPTION 'no agency %', add_user.agency; END IF;
    INSERT INTO agencies (agency) VALUES (add_user.agency);
  END IF;
  EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE cg_user, %I', name, verifier, 'cg_' || role);
  EXECUTE format('GRANT %I TO {AUTHENTICATOR}', name);
  INSERT INTO users (user_id, agency, role, active, created_by, created_at)
    VALUES (name, add_user.agency, add_user.role, true, caller.user_id, now());
END $$"""


def _audit_append_sql(p: str) -> str:
    """Append entries, hash-chained, each hash an HMAC-SHA256 with a key no user can read; the anchor (head and
    count) moves with them. The chain has one head: `chain` takes the anchor's row lock, so appends follow one
    another in one total order, and a batch of entries (the workspace's group commit) takes it once.
    audit_append: one entry for the calling user (the CLI). audit_append_for: the entries of the workspace's
    requests, each naming the user it acted for; only a role that may act for that user (the authenticator, by
    SET ROLE) may name them, and the user's agency and role are the server's, not the caller's."""
    return f"""CREATE FUNCTION {PRIVATE}.chain(items {SCHEMA}.audit_log[]) RETURNS bigint LANGUAGE plpgsql
SET search_path = {SCHEMA}, {PRIVATE}, pg_temp AS $$
DECLARE a record; entry audit_log%ROWTYPE;
BEGIN
  SELECT * INTO a FROM {PRIVATE}.audit_anchor WHERE id = 1 FOR UPDATE;
  FOREACH entry IN ARRAY items LOOP
    a.head_seq := a.head_seq + 1;
    entry.seq := a.head_seq; entry.at := (clock_timestamp() AT TIME ZONE 'UTC')::timestamp;
    entry.prev_hash := a.head_hash;
    entry.hash := {PRIVATE}.entry_mac(entry);
    INSERT INTO audit_log SELECT entry.*;
    a.head_hash := entry.hash;
  END LOOP;
  UPDATE {PRIVATE}.audit_anchor SET head_seq = a.head_seq, head_hash = a.head_hash,
    entries = entries + cardinality(items) WHERE id = 1;
  RETURN a.head_seq;
END $$;
CREATE FUNCTION {PRIVATE}.entry_for(who name, e jsonb) RETURNS {SCHEMA}.audit_log LANGUAGE plpgsql
SET search_path = {SCHEMA}, {PRIVATE}, pg_temp AS $$
DECLARE m record; entry audit_log%ROWTYPE;
BEGIN
  SELECT * INTO m FROM {SCHEMA}.me(who);
  IF m.user_id IS NULL THEN RAISE EXCEPTION 'not a casegraph user' USING ERRCODE = 'insufficient_privilege'; END IF;
  entry.user_id := m.user_id; entry.agency := m.agency; entry.role := m.role; entry.action := e->>'action';
  entry.target := e->>'target'; entry.purpose := e->>'purpose'; entry.origin := e->>'origin';
  entry.detail := e->>'detail'; entry.outcome := e->>'outcome'; entry.row_count := (e->>'row_count')::bigint;
  RETURN entry;
END $$;
CREATE FUNCTION {SCHEMA}.audit_append(action text, target text, purpose text, origin text,
  detail text, outcome text, row_count bigint, who name DEFAULT current_user) RETURNS bigint {p} AS $$
BEGIN
  RETURN {PRIVATE}.chain(ARRAY[{PRIVATE}.entry_for(who, jsonb_build_object('action', action, 'target', target,
    'purpose', purpose, 'origin', origin, 'detail', detail, 'outcome', outcome, 'row_count', row_count))]);
END $$;
CREATE FUNCTION {SCHEMA}.audit_append_for(entries jsonb) RETURNS bigint {p} AS $$
BEGIN
  RETURN {PRIVATE}.chain(array(SELECT {PRIVATE}.entry_for((e->>'user_id')::name, e)
    FROM jsonb_array_elements(entries) WITH ORDINALITY AS x(e, n) ORDER BY n));
END $$;
CREATE FUNCTION {PRIVATE}.entry_mac(e {SCHEMA}.audit_log) RETURNS text LANGUAGE sql STABLE
SET search_path = {SCHEMA}, {PRIVATE}, pg_temp AS $$
  SELECT encode(hmac(convert_to(json_build_array(e.seq, e.at, e.user_id, e.agency, e.role, e.action, e.target,
    e.purpose, e.origin, e.detail, e.outcome, e.row_count, e.prev_hash)::text, 'UTF8'),
    (SELECT key FROM {PRIVATE}.audit_key WHERE id = 1), 'sha256'), 'hex') $$"""


def _audit_verify_sql(p: str) -> str:
    """Walk the chain: every MAC, every link, no gaps; then the anchor's head and count. Auditors, supervisors,
    admins of any agency and platform admins may run it (it names no record)."""
    return f"""CREATE FUNCTION {SCHEMA}.audit_verify(who name DEFAULT current_user)
RETURNS TABLE (seq bigint, kind text, message text) {p} AS $$
DECLARE e audit_log%ROWTYPE; prev text := repeat('0', 64); expected bigint := 1; n bigint := 0; a record;
BEGIN
  IF coalesce({SCHEMA}.my_role(who), '') NOT IN ('auditor', 'supervisor', 'admin', 'platform') THEN
    RAISE EXCEPTION 'verifying the audit log needs the role auditor, supervisor, admin or platform'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  FOR e IN SELECT * FROM audit_log l ORDER BY l.seq LOOP
    n := n + 1;
    IF e.seq > expected THEN seq := e.seq; kind := 'missing';
      message := format('entries %s to %s are missing (deleted)', expected, e.seq - 1); RETURN NEXT;
    ELSIF e.seq < expected THEN seq := e.seq; kind := 'duplicate';
      message := format('entry %s appears more than once or out of order', e.seq); RETURN NEXT;
    ELSIF e.prev_hash <> prev THEN seq := e.seq; kind := 'relinked';
      message := format('entry %s does not follow entry %s', e.seq, e.seq - 1); RETURN NEXT;
    END IF;
    IF {PRIVATE}.entry_mac(e) <> e.hash THEN seq := e.seq; kind := 'edited';
      message := format('entry %s does not carry the MAC of its contents (edited, or written without the key)',
                        e.seq); RETURN NEXT;
    END IF;
    prev := e.hash; expected := e.seq + 1;
  END LOOP;
  SELECT * INTO a FROM {PRIVATE}.audit_anchor WHERE id = 1;
  IF a.entries <> n OR a.head_seq <> expected - 1 OR a.head_hash <> prev THEN
    seq := a.head_seq; kind := CASE WHEN n < a.entries THEN 'truncated' ELSE 'anchor' END;
    message := format('the anchor records %s entries ending at %s; the log holds %s ending at %s', a.entries,
                      a.head_seq, n, expected - 1); RETURN NEXT;
  END IF;
END $$"""


def _signin_failed_sql(p: str) -> str:
    """A failed sign-in, on the record: written by the public cg_signin role (or the workspace), at most one entry
    per claimed user and second, each call slowed by a second (PostgreSQL's auth_delay slows the login itself)."""
    return f"""CREATE FUNCTION {SCHEMA}.signin_failed(claimed text, origin text) RETURNS void {p} AS $$
DECLARE entry audit_log%ROWTYPE;
BEGIN
  PERFORM pg_sleep(1);
  IF EXISTS (SELECT 1 FROM {PRIVATE}.signin_failures f WHERE f.user_id = claimed
             AND f.at > now() - interval '1 second') THEN RETURN; END IF;
  INSERT INTO {PRIVATE}.signin_failures (user_id, origin) VALUES (claimed, origin);
  entry.user_id := left(claimed, 100); entry.agency := (SELECT u.agency FROM users u WHERE u.user_id = claimed);
  entry.action := 'login'; entry.origin := left(origin, 200);
  entry.outcome := 'denied: wrong user name or password';
  PERFORM {PRIVATE}.chain(ARRAY[entry]);
END $$"""


def _web_session_sql(p: str) -> str:
    """The user of a live workspace session (by the hash of its cookie) and the scope it works in (the user's
    agency, or a task force of theirs they chose), for the authenticator to take the user's role."""
    sql = f"LANGUAGE sql SECURITY DEFINER SET search_path = {SCHEMA}, {PRIVATE}, pg_temp"
    return f"""CREATE FUNCTION {SCHEMA}.web_session(token_hash text) RETURNS TABLE (user_id text, purpose text,
  csrf text, scope text) {sql} AS $$
  SELECT s.user_id, s.purpose, s.csrf, s.scope FROM {PRIVATE}.web_sessions s
  WHERE s.token_hash = web_session.token_hash AND s.revoked_at IS NULL AND s.expires_at > now()
$$;
CREATE FUNCTION {SCHEMA}.web_session_open(token_hash text, purpose text, csrf text, hours double precision,
  who name DEFAULT current_user) RETURNS void {sql} AS $$
  INSERT INTO {PRIVATE}.web_sessions (token_hash, user_id, purpose, csrf, expires_at)
  SELECT web_session_open.token_hash, m.user_id, web_session_open.purpose, web_session_open.csrf,
         now() + make_interval(secs => hours * 3600) FROM {SCHEMA}.me(who) m
$$;
CREATE FUNCTION {SCHEMA}.web_session_close(token_hash text, who name DEFAULT current_user) RETURNS void {sql} AS $$
  UPDATE {PRIVATE}.web_sessions SET revoked_at = now() WHERE web_sessions.token_hash = web_session_close.token_hash
    AND user_id = (SELECT user_id FROM {SCHEMA}.me(who))
$$;
CREATE FUNCTION {SCHEMA}.web_session_purpose(token_hash text, purpose text, who name DEFAULT current_user)
  RETURNS void {sql} AS $$
  UPDATE {PRIVATE}.web_sessions SET purpose = web_session_purpose.purpose
    WHERE web_sessions.token_hash = web_session_purpose.token_hash AND revoked_at IS NULL
    AND user_id = (SELECT user_id FROM {SCHEMA}.me(who))
$$;
CREATE FUNCTION {SCHEMA}.web_session_scope(token_hash text, scope text, who name DEFAULT current_user)
  RETURNS void {p} AS $$
BEGIN
  IF NOT web_session_scope.scope = ANY ({SCHEMA}.my_scopes(who)) THEN
    RAISE EXCEPTION 'not in the scope %', web_session_scope.scope USING ERRCODE = 'insufficient_privilege';
  END IF;
  UPDATE {PRIVATE}.web_sessions s SET scope = web_session_scope.scope
    WHERE s.token_hash = web_session_scope.token_hash AND s.revoked_at IS NULL
    AND s.user_id = (SELECT user_id FROM {SCHEMA}.me(who));
END $$"""


def _token_sql(p: str) -> str:
    """`casegraph login`: a token is a LOGIN role of its own with a random password that expires (VALID UNTIL)
    and stands for its user (member of the user's role); `casegraph logout` takes its login away at once."""
    return f"""CREATE FUNCTION {SCHEMA}.issue_token(r text, verifier text, hours double precision,
  who name DEFAULT current_user) RETURNS timestamptz {p} AS $$
DECLARE m record; until timestamptz;
BEGIN
  SELECT * INTO m FROM {SCHEMA}.me(who);
  IF m.user_id IS NULL OR who <> m.user_id::name THEN
    RAISE EXCEPTION 'sign in with your password to get a token' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF r !~ '^cgt_[0-9a-f]{{24}}$' OR verifier !~ '^SCRAM-SHA-256\\$' THEN
    RAISE EXCEPTION 'a token is cgt_ and 24 hex digits, with a SCRAM-SHA-256 verifier';
  END IF;
  until := now() + make_interval(secs => least(hours, 24 * 30) * 3600);
  EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L VALID UNTIL %L IN ROLE %I', r, verifier, until, m.user_id);
  EXECUTE format('GRANT %I TO {AUTHENTICATOR}', r);
  INSERT INTO {PRIVATE}.tokens VALUES (r, m.user_id, until, NULL);
  RETURN until;
END $$;
CREATE FUNCTION {SCHEMA}.revoke_token(who name DEFAULT current_user) RETURNS void {p} AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM {PRIVATE}.tokens WHERE role_name = who::text) THEN RETURN; END IF;
  UPDATE {PRIVATE}.tokens SET revoked_at = now() WHERE role_name = who::text;
  EXECUTE format('ALTER ROLE %I NOLOGIN VALID UNTIL %L', who, '-infinity');
END $$"""


def bootstrap_sql(authenticator_password: str) -> list[str]:
    """Everything `casegraph init` runs on an empty database, in order (tables, then the functions that read
    them, then the policies that call the functions)."""
    return [
        *roles_sql(authenticator_password),
        *schema_sql(),
        *functions_sql(),
        *policies_sql(),
        "RESET ROLE",
    ]
