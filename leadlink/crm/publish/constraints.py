"""Step 4: the foreign key leads_master.customer_id -> customers.id and NOT NULL on customer_id,
added without a long lock and only when the data allows them.

- FK: `add constraint ... not valid` (a brief SHARE ROW EXCLUSIVE lock on both tables, taken under
  lock_timeout and retried), then `validate constraint` (a scan under SHARE UPDATE EXCLUSIVE, which
  blocks neither reads nor writes).
- NOT NULL: `check (customer_id is not null) not valid`, `validate`, then `set not null`, which
  PostgreSQL proves from the validated check without scanning (the ACCESS EXCLUSIVE lock lasts
  milliseconds), then the check is dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg2.extensions

from leadlink.crm.publish.batches import Figures, in_transaction
from leadlink.crm.publish.target import PublishTarget

FK_NAME = "leads_master_customer_id_fkey"
# not `<table>_<column>_not_null`: PostgreSQL 18 names its own NOT NULL constraints that way
CHECK_NAME = "leads_master_customer_id_present"


@dataclass
class ConstraintResult:
    name: str
    kind: str
    state: str  # present | added | can_add | blocked
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class ConstraintState:
    fk_name: str | None
    fk_validated: bool
    check_validated: bool | None
    not_null: bool


def read_state(target: PublishTarget, cursor: psycopg2.extensions.cursor) -> ConstraintState:
    leads = f"{target.sql('{crm}')}.leads_master"
    customers = f"{target.sql('{crm}')}.customers"
    cursor.execute(
        """
        select con.conname, con.convalidated
        from pg_constraint as con
        inner join pg_attribute as att
            on att.attrelid = con.conrelid and att.attnum = con.conkey[1]
        where con.contype = 'f' and con.conrelid = to_regclass(%s)
            and con.confrelid = to_regclass(%s) and att.attname = 'customer_id'
            and cardinality(con.conkey) = 1
        order by con.convalidated desc, con.conname
        limit 1
        """, (leads, customers))
    fk = cursor.fetchone()
    cursor.execute("select convalidated from pg_constraint where conrelid = to_regclass(%s)"
                   " and conname = %s and contype = 'c'", (leads, CHECK_NAME))
    check = cursor.fetchone()
    cursor.execute("select attnotnull from pg_attribute where attrelid = to_regclass(%s)"
                   " and attname = 'customer_id'", (leads,))
    return ConstraintState(fk_name=fk[0] if fk else None, fk_validated=bool(fk and fk[1]),
                           check_validated=None if check is None else bool(check[0]),
                           not_null=bool(cursor.fetchone()[0]))


def count_violations(target: PublishTarget, cursor: psycopg2.extensions.cursor) -> tuple[int, int]:
    """(leads pointing at a missing customer, leads without customer_id) right now."""
    cursor.execute(target.sql("""
        select
            count(*) filter (where lm.customer_id is not null and c.id is null),
            count(*) filter (where lm.customer_id is null)
        from {crm}.leads_master as lm
        left join {crm}.customers as c on c.id = lm.customer_id
    """))
    missing, nulls = cursor.fetchone()
    return int(missing), int(nulls)


def _record(target: PublishTarget, cursor: psycopg2.extensions.cursor, batch_id: int, kind: str,
            name: str) -> None:
    cursor.execute(target.sql(
        "insert into {pub}.schema_changes (batch_id, table_name, kind, object_name)"
        " values (%s, 'leads_master', %s, %s)"), (batch_id, kind, name))


def apply_constraints(target: PublishTarget, conn: psycopg2.extensions.connection,
                      figures: Figures, batch_id: int) -> list[ConstraintResult]:
    def read(cursor: psycopg2.extensions.cursor) -> tuple[ConstraintState, int, int]:
        return (read_state(target, cursor), *count_violations(target, cursor))

    state, missing, nulls = in_transaction(target, conn, figures, "read constraints", read,
                                           kind="read")
    results: list[ConstraintResult] = []

    # foreign key
    fk_name = state.fk_name or FK_NAME
    if state.fk_name and state.fk_validated:
        results.append(ConstraintResult(fk_name, "foreign_key", "present"))
    elif missing:
        results.append(ConstraintResult(fk_name, "foreign_key", "blocked",
                                        f"{missing} lead(s) point at a customer id that does not"
                                        " exist"))
    else:
        if state.fk_name is None:
            def add_fk(cursor: psycopg2.extensions.cursor) -> None:
                cursor.execute(target.sql(
                    f"alter table {{crm}}.leads_master add constraint {FK_NAME}"
                    " foreign key (customer_id) references {crm}.customers (id) not valid"))
                _record(target, cursor, batch_id, "foreign_key", FK_NAME)

            in_transaction(target, conn, figures, "add foreign key not valid", add_fk, kind="ddl")
        in_transaction(target, conn, figures, "validate foreign key", lambda cursor: cursor.execute(
            target.sql(f"alter table {{crm}}.leads_master validate constraint {fk_name}")),
            kind="validate")
        results.append(ConstraintResult(fk_name, "foreign_key", "added",
                                        "added not valid, then validated"))

    # NOT NULL
    if state.not_null:
        results.append(ConstraintResult("customer_id not null", "not_null", "present"))
    elif nulls:
        if state.check_validated is not None:  # left by an interrupted run: it would reject
            in_transaction(target, conn, figures, "drop not-null check", lambda cursor:  # nulls
                           cursor.execute(target.sql(f"alter table {{crm}}.leads_master drop"
                                                     f" constraint if exists {CHECK_NAME}")),
                           kind="ddl")
        results.append(ConstraintResult(
            "customer_id not null", "not_null", "blocked",
            f"{nulls} lead(s) have no customer_id (unlinkable ones: --archive-unlinkable; leads"
            " created after the build: rebuild and publish again)"))
    else:
        if state.check_validated is None:
            def add_check(cursor: psycopg2.extensions.cursor) -> None:
                cursor.execute(target.sql(
                    f"alter table {{crm}}.leads_master add constraint {CHECK_NAME}"
                    " check (customer_id is not null) not valid"))
                _record(target, cursor, batch_id, "check", CHECK_NAME)

            in_transaction(target, conn, figures, "add not-null check not valid", add_check,
                           kind="ddl")
        in_transaction(target, conn, figures, "validate not-null check", lambda cursor:
                       cursor.execute(target.sql(f"alter table {{crm}}.leads_master validate"
                                                 f" constraint {CHECK_NAME}")),
                       kind="validate")

        def set_not_null(cursor: psycopg2.extensions.cursor) -> None:
            cursor.execute(target.sql(
                "alter table {crm}.leads_master alter column customer_id set not null"))
            _record(target, cursor, batch_id, "not_null", "customer_id")
            cursor.execute(target.sql(
                f"alter table {{crm}}.leads_master drop constraint {CHECK_NAME}"))

        in_transaction(target, conn, figures, "set not null (proved by the check)", set_not_null,
                       kind="ddl")
        results.append(ConstraintResult("customer_id not null", "not_null", "added",
                                        "validated check, then set not null"))
    return results
