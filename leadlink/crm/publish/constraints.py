"""Step 4: the foreign key leads_master.customer_id -> customers.id and NOT NULL on customer_id,
added without a long lock and only when the data allows them.

- FK: `add constraint ... not valid` (a brief SHARE ROW EXCLUSIVE lock on both tables, taken under
  lock_timeout and retried), then `validate constraint` (a scan under SHARE UPDATE EXCLUSIVE, which
  blocks neither reads nor writes).
- NOT NULL: `check (customer_id is not null) not valid`, `validate`, then `set not null`, which
  PostgreSQL proves from the validated check without scanning (the ACCESS EXCLUSIVE lock lasts
  milliseconds), then the check is dropped.

The facts both depend on (leads on a missing customer, leads without one) are defined once, by the
dbt macro `lead_customer_violations` (macros/readiness/), which the model `readiness_checks` uses
too: rendered here for the live tables and for the state the plan predicts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg2.extensions
from psycopg2 import sql

from leadlink.crm.publish import queries
from leadlink.crm.publish.batches import Figures, in_transaction
from leadlink.crm.publish.target import PUBLISH_SCHEMA, PublishTarget

FK_NAME = "leads_master_customer_id_fkey"
# not `<table>_<column>_not_null`: PostgreSQL 18 names its own NOT NULL constraints that way
CHECK_NAME = "leads_master_customer_id_present"
NOT_NULL = "customer_id not null"
VIOLATIONS_MACRO = Path("macros", "readiness", "lead_customer_violations.sql")


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

    @property
    def complete(self) -> bool:
        return bool(self.fk_name and self.fk_validated and self.not_null)


def read_state(target: PublishTarget, cursor: psycopg2.extensions.cursor) -> ConstraintState:
    cursor.execute(queries.text("constraint_state"), {
        "leads": target.crm_regclass(cursor, "leads_master"),
        "customers": target.crm_regclass(cursor, "customers"), "check_name": CHECK_NAME})
    fk_name, fk_validated, check_validated, not_null = cursor.fetchone()
    return ConstraintState(fk_name, bool(fk_validated), check_validated, bool(not_null))


def violations_statement(target: PublishTarget, lead_customers: sql.Composable,
                         customer_ids: sql.Composable) -> sql.Composed:
    """The macro's query over `lead_customers` (rows with a customer_id) and `customer_ids` (rows
    with the ids that exist, an id column)."""
    return queries.macro_statement(target.project_dir / VIOLATIONS_MACRO, "lead_customer_violations",
                                   lead_customers=lead_customers, customer_ids=customer_ids)


def count_violations(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                     lead_customers: sql.Composable, customer_ids: sql.Composable,
                     params: dict | None = None) -> tuple[int, int]:
    """(leads pointing at a missing customer, leads without customer_id) over the given rows."""
    cursor.execute(violations_statement(target, lead_customers, customer_ids), params)
    missing, nulls = cursor.fetchone()
    return int(missing), int(nulls)


def live_violations(target: PublishTarget, cursor: psycopg2.extensions.cursor) -> tuple[int, int]:
    return count_violations(target, cursor, target.crm_table("leads_master"),
                            target.crm_table("customers"))


def _record(cursor: psycopg2.extensions.cursor, batch_id: int, kind: str, name: str) -> None:
    cursor.execute(sql.SQL(
        "insert into {}.schema_changes (batch_id, table_name, kind, object_name)"
        " values (%s, 'leads_master', %s, %s)").format(sql.Identifier(PUBLISH_SCHEMA)),
        (batch_id, kind, name))


def _foreign_key(target: PublishTarget, conn: psycopg2.extensions.connection, figures: Figures,
                 batch_id: int, state: ConstraintState, missing: int) -> ConstraintResult:
    fk_name = state.fk_name or FK_NAME
    leads = target.crm_table("leads_master")
    if state.fk_name and state.fk_validated:
        return ConstraintResult(fk_name, "foreign_key", "present")
    if missing:
        return ConstraintResult(fk_name, "foreign_key", "blocked",
                                f"{missing} lead(s) point at a customer id that does not exist")
    if state.fk_name is None:
        def add_fk(cursor: psycopg2.extensions.cursor) -> None:
            cursor.execute(sql.SQL(
                "alter table {} add constraint {} foreign key (customer_id) references {} (id)"
                " not valid").format(leads, sql.Identifier(FK_NAME),
                                     target.crm_table("customers")))
            _record(cursor, batch_id, "foreign_key", FK_NAME)

        in_transaction(target, conn, figures, "add foreign key not valid", add_fk, kind="ddl")
    in_transaction(target, conn, figures, "validate foreign key", lambda cursor: cursor.execute(
        sql.SQL("alter table {} validate constraint {}").format(leads, sql.Identifier(fk_name))),
        kind="validate")
    return ConstraintResult(fk_name, "foreign_key", "added", "added not valid, then validated")


def _not_null(target: PublishTarget, conn: psycopg2.extensions.connection, figures: Figures,
              batch_id: int, state: ConstraintState, nulls: int) -> ConstraintResult:
    leads, check = target.crm_table("leads_master"), sql.Identifier(CHECK_NAME)
    drop_check = sql.SQL("alter table {} drop constraint if exists {}").format(leads, check)
    if state.not_null:
        return ConstraintResult(NOT_NULL, "not_null", "present")
    if nulls:
        if state.check_validated is not None:  # left by an interrupted run: it would reject nulls
            in_transaction(target, conn, figures, "drop not-null check",
                           lambda cursor: cursor.execute(drop_check), kind="ddl")
        return ConstraintResult(
            NOT_NULL, "not_null", "blocked",
            f"{nulls} lead(s) have no customer_id (unlinkable ones: --archive-unlinkable; leads"
            " created after the build: rebuild and publish again)")
    if state.check_validated is None:
        def add_check(cursor: psycopg2.extensions.cursor) -> None:
            cursor.execute(sql.SQL(
                "alter table {} add constraint {} check (customer_id is not null) not valid"
            ).format(leads, check))
            _record(cursor, batch_id, "check", CHECK_NAME)

        in_transaction(target, conn, figures, "add not-null check not valid", add_check,
                       kind="ddl")
    in_transaction(target, conn, figures, "validate not-null check", lambda cursor: cursor.execute(
        sql.SQL("alter table {} validate constraint {}").format(leads, check)), kind="validate")

    def set_not_null(cursor: psycopg2.extensions.cursor) -> None:
        cursor.execute(sql.SQL("alter table {} alter column customer_id set not null").format(
            leads))
        _record(cursor, batch_id, "not_null", "customer_id")
        cursor.execute(drop_check)

    in_transaction(target, conn, figures, "set not null (proved by the check)", set_not_null,
                   kind="ddl")
    return ConstraintResult(NOT_NULL, "not_null", "added", "validated check, then set not null")


def apply_constraints(target: PublishTarget, conn: psycopg2.extensions.connection,
                      figures: Figures, batch_id: int) -> list[ConstraintResult]:
    def read(cursor: psycopg2.extensions.cursor) -> tuple[ConstraintState, int, int]:
        state = read_state(target, cursor)
        if state.complete:  # both in place: the CRM enforces them, nothing to count
            return state, 0, 0
        return (state, *live_violations(target, cursor))

    state, missing, nulls = in_transaction(target, conn, figures, "read constraints", read,
                                           kind="read")
    return [_foreign_key(target, conn, figures, batch_id, state, missing),
            _not_null(target, conn, figures, batch_id, state, nulls)]
