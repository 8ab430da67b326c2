"""The steps of every store transaction, as functions over a :class:`~websvc.store.schema.Tx`.

Portable SQL with ``?`` parameters; the caller holds the transaction open
(and, for writes, holds the single-writer lock), so a read followed by a
write here sees no other write in between.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from typing import Any

from websvc.store.base import NoSuchTenant, Taken, VersionConflict
from websvc.store.records import OUTCOMES, Audit, Change, TenantData, TenantState
from websvc.store.schema import Tx, utc_now

TENANT = "name, version, hosts, users, plugins, rules"
REVISION = "version, actor, at, action, summary"
AUDIT = "id, at, actor, tenant, method, path, status, outcome, request_id, remote_addr"
FIELDS = ("hosts", "users", "plugins", "rules")

#: Called for every change record, inside its transaction (PostgreSQL: NOTIFY).
Notify = Callable[[Tx, Change], None]

_CHUNK = 500  # names per IN (...) list


# -- reading ------------------------------------------------------------------


#: The highest change seq (NULL when none): one seek at the end of the primary key.
MAX_SEQ = "SELECT MAX(seq) FROM changes"


def max_seq(tx: Tx) -> int:
    """The highest change seq, 0 when none: one seek at the end of the primary key."""
    row = tx.one(MAX_SEQ)
    return int(row[0]) if row and row[0] is not None else 0


def tenant_rows(tx: Tx, names: list[str]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(names), _CHUNK):
        chunk = names[i : i + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows += tx.all(f"SELECT {TENANT} FROM tenants WHERE name IN ({marks})", *chunk)
    return rows


def state(row: tuple[Any, ...]) -> TenantState:
    """A ``SELECT {TENANT}`` row as a :class:`TenantState`."""
    loads = json.loads
    return TenantState(
        name=row[0],
        version=int(row[1]),
        hosts=tuple(loads(row[2])),
        users=tuple(loads(row[3])),
        plugins=tuple(loads(row[4])),
        rules=tuple(loads(row[5])),
    )


def states(rows: list[tuple[Any, ...]]) -> dict[str, TenantState]:
    """Decode many ``SELECT {TENANT}`` rows, by name.

    The garbage collector is paused meanwhile: JSON makes no reference
    cycles, and a snapshot's hundreds of thousands of new lists and dicts
    would otherwise set off full collections of the whole heap, which made
    a snapshot of 10,000 tenants four times slower. (It is switched back on
    only if it was on: the worst a race between two threads can do is let
    the collector run during the other's decoding.)
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return {row[0]: state(row) for row in rows}
    finally:
        if paused:
            gc.enable()


def load(tx: Tx, name: str) -> TenantState | None:
    rows = tenant_rows(tx, [name])
    return state(rows[0]) if rows else None


def current(tx: Tx, name: str, if_match: int) -> TenantState:
    """The tenant, when it exists and is at version *if_match*."""
    found = load(tx, name)
    if found is None:
        raise NoSuchTenant(name)
    if found.version != if_match:
        raise VersionConflict(name, found.version)
    return found


# -- writing ------------------------------------------------------------------


def write_version(
    tx: Tx,
    name: str,
    old: TenantState | None,
    new: TenantData,
    action: str,
    audit: Audit,
    status: int,
    notify: Notify,
    detail: str = "",
) -> int:
    """Write *new* as the next version of *name*: the row, revision, change and audit entry.

    A tenant created again after a deletion continues its history's numbers.
    """
    at = utc_now()
    hosts, users, plugins, rules = (dump(getattr(new, f)) for f in FIELDS)
    if old is None:
        row = tx.one("SELECT MAX(version) FROM revisions WHERE tenant = ?", name)
        version = (int(row[0]) if row and row[0] is not None else 0) + 1
        tx.run(
            f"INSERT INTO tenants ({TENANT}, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            *(name, version, hosts, users, plugins, rules, at, at),
        )
    else:
        version = old.version + 1
        done = tx.run(
            "UPDATE tenants SET version = ?, hosts = ?, users = ?, plugins = ?, rules = ?,"
            " updated_at = ? WHERE name = ? AND version = ?",
            *(version, hosts, users, plugins, rules, at, name, old.version),
        )
        if done != 1:  # only if the dialect failed to serialise its writers
            raise VersionConflict(name, old.version)
    if old is None or claims_differ(old, new):
        claim(tx, name, new)
    summary = _summary(action, old, new, detail)
    revision(tx, name, version, audit.actor, at, action, summary, new)
    change(tx, name, version, at, notify)
    audit_row(tx, audit, name, status, at)
    return version


def delete(tx: Tx, old: TenantState, audit: Audit, notify: Notify) -> None:
    """Delete a tenant, revoke its admin tokens, and close its history with a revision."""
    at = utc_now()
    tx.run("DELETE FROM claims WHERE tenant = ?", old.name)
    tx.run("DELETE FROM tenants WHERE name = ?", old.name)
    tx.run(
        "UPDATE admin_tokens SET revoked_at = ? WHERE tenant = ? AND revoked_at IS NULL",
        at,
        old.name,
    )
    summary = f"deleted at version {old.version}"
    revision(tx, old.name, old.version + 1, audit.actor, at, "delete", summary, TenantData())
    change(tx, old.name, None, at, notify)
    audit_row(tx, audit, old.name, 204, at)


def claim(tx: Tx, name: str, data: TenantData) -> None:
    """Make *name* the owner of its hosts and user names, or raise :class:`Taken`."""
    tx.run("DELETE FROM claims WHERE tenant = ?", name)
    wanted = [("host", h.lower()) for h in data.hosts] + [("user", u["name"]) for u in data.users]
    for kind, value in dict.fromkeys(wanted):
        row = tx.one("SELECT tenant FROM claims WHERE kind = ? AND value = ?", kind, value)
        if row is not None:
            raise Taken(kind, value, row[0])
        tx.run("INSERT INTO claims (kind, value, tenant) VALUES (?, ?, ?)", kind, value, name)


def revision(
    tx: Tx,
    name: str,
    version: int,
    actor: str,
    at: str,
    action: str,
    summary: str,
    data: TenantData,
) -> None:
    tx.run(
        f"INSERT INTO revisions ({REVISION}, tenant, hosts, users, plugins, rules)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        *(version, actor, at, action, summary, name),
        *(dump(getattr(data, f)) for f in FIELDS),
    )


def change(tx: Tx, name: str, version: int | None, at: str, notify: Notify) -> None:
    """Append a change record; its seq is the highest plus one (writers are serialised)."""
    seq = max_seq(tx) + 1
    tx.run(
        "INSERT INTO changes (seq, tenant, version, at) VALUES (?, ?, ?, ?)", seq, name, version, at
    )
    notify(tx, Change(seq, name, version, at))


def audit_row(tx: Tx, audit: Audit, tenant: str | None, status: int, at: str) -> None:
    """Append *audit*; its own ``tenant`` and ``status`` win over the ones given here."""
    tx.run(
        f"INSERT INTO audit ({AUDIT.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        at,
        audit.actor,
        audit.tenant if audit.tenant is not None else tenant,
        audit.method,
        audit.path,
        audit.status if audit.status is not None else status,
        audit.outcome,
        audit.request_id,
        audit.remote_addr,
    )


# -- checking and comparing -----------------------------------------------------


def check_audit(audit: Audit) -> None:
    if audit.outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {OUTCOMES}, not {audit.outcome!r}")


def check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a tenant name is a non-empty string, not {name!r}")


def dump(value: object) -> str:
    """The stored JSON text: sorted keys, no spaces, so equal content is equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def same(a: TenantData, b: TenantData) -> bool:
    return all(dump(getattr(a, f)) == dump(getattr(b, f)) for f in FIELDS)


def claims_differ(a: TenantData, b: TenantData) -> bool:
    return a.hosts != b.hosts or a.users != b.users


def _summary(action: str, old: TenantData | None, new: TenantData, detail: str) -> str:
    counts = ", ".join(_plural(len(getattr(new, f)), f.removesuffix("s")) for f in FIELDS)
    if old is None:
        return f"{action}: new tenant, {counts}"
    if action == "rollback":
        return f"rolled back {detail}: {_plural(len(new.rules), 'rule')}"
    if action == "put":
        return f"put {_plural(len(new.rules), 'rule')} (was {len(old.rules)})"
    diff = [f for f in FIELDS if dump(getattr(old, f)) != dump(getattr(new, f))]
    return f"{action}: {', '.join(diff) or 'nothing'} changed; {counts}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
