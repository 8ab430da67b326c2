"""Every store operation in portable SQL, for any dialect that supplies transactions.

A dialect (:mod:`websvc.store.sqlite`, :mod:`websvc.store.postgres`) subclasses
:class:`SQLStore` and supplies two context managers: :meth:`~SQLStore._reading`
opens one consistent read transaction, :meth:`~SQLStore._writing` a write
transaction that no other writer runs beside (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: a transaction-level advisory lock). Both commit when their block
ends and roll back when it raises. So a write reads, compares and writes
with no other write in between: compare-and-set on a version is a plain
comparison, and the change seq is ``MAX(seq) + 1``, gapless and committed in
order. The statements themselves live in :mod:`websvc.store.queries`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from websvc.store import queries as q
from websvc.store import records as rec
from websvc.store.base import NoSuchRevision, NoSuchTenant, Store, StoreError, VersionConflict
from websvc.store.schema import Tx, utc_now


class SQLStore(Store):
    """A :class:`~websvc.store.base.Store` over a SQL database; see the module doc."""

    #: Whether writes wake :meth:`wait_for_change` (a dialect with ``NOTIFY`` says True).
    notifications = False

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    # -- what a dialect supplies ------------------------------------------------

    def _reading(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _writing(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _changed(self, tx: Tx, change: rec.Change) -> None:
        """Called in the write transaction for each change record (PostgreSQL: NOTIFY)."""

    def wait_for_change(self, timeout: float) -> bool:
        """No notifications here: sleep *timeout* seconds and say nothing came."""
        time.sleep(max(0.0, timeout))
        return False

    # -- reads ------------------------------------------------------------------

    def change_seq(self) -> int:
        with self._reading() as tx:
            return q.max_seq(tx)

    def changes_since(self, seq: int) -> list[rec.Change]:
        with self._reading() as tx:
            rows = tx.all(
                "SELECT seq, tenant, version, at FROM changes WHERE seq > ? ORDER BY seq", seq
            )
        return [rec.Change(int(s), t, None if v is None else int(v), at) for s, t, v, at in rows]

    def delta(self, since: int) -> rec.Delta:
        with self._reading() as tx:
            seq = q.max_seq(tx)
            changed = tx.all("SELECT DISTINCT tenant FROM changes WHERE seq > ?", since)
            names = sorted(row[0] for row in changed)
            rows = q.tenant_rows(tx, names)
        found = q.states(rows)
        return rec.Delta(seq, {name: found.get(name) for name in names})

    def snapshot(self) -> rec.Snapshot:
        with self._reading() as tx:
            seq = q.max_seq(tx)
            rows = tx.all(f"SELECT {q.TENANT} FROM tenants")
        return rec.Snapshot(seq, q.states(rows))

    def tenant(self, name: str) -> rec.TenantState | None:
        return self.tenants([name])[name]

    def tenants(self, names: Iterable[str]) -> dict[str, rec.TenantState | None]:
        wanted = list(dict.fromkeys(names))
        with self._reading() as tx:
            rows = q.tenant_rows(tx, wanted)
        found = q.states(rows)
        return {name: found.get(name) for name in wanted}

    def list_tenants(self) -> list[tuple[str, int]]:
        with self._reading() as tx:
            rows = tx.all("SELECT name, version FROM tenants ORDER BY name")
        return [(name, int(version)) for name, version in rows]

    def revisions(self, name: str) -> list[rec.RevisionInfo]:
        with self._reading() as tx:
            rows = tx.all(
                f"SELECT {q.REVISION} FROM revisions WHERE tenant = ? ORDER BY version DESC", name
            )
        return [rec.RevisionInfo(int(row[0]), *row[1:]) for row in rows]

    def revision(self, name: str, version: int) -> rec.Revision | None:
        with self._reading() as tx:
            row = tx.one(
                f"SELECT {q.REVISION}, hosts, users, plugins, rules FROM revisions"
                " WHERE tenant = ? AND version = ?",
                name,
                version,
            )
        if row is None:
            return None
        content = {f: tuple(json.loads(text)) for f, text in zip(q.FIELDS, row[5:], strict=True)}
        return rec.Revision(int(row[0]), *row[1:5], data=rec.TenantData(**content))

    def audit_entries(  # the parameters of Store.audit_entries, documented there
        self, *, tenant: str | None = None, actor: str | None = None, **more: Any
    ) -> list[rec.AuditEntry]:
        visible_to: str | None = more.pop("visible_to", None)
        limit: int = more.pop("limit", 100)
        if more:
            raise TypeError(f"audit_entries() got unexpected arguments: {sorted(more)}")
        where: list[str] = []
        args: list[object] = []
        if tenant is not None:
            where.append("tenant = ?")
            args.append(tenant)
        if actor is not None:
            where.append("actor = ?")
            args.append(actor)
        if visible_to is not None:
            where.append("(tenant = ? OR actor = ?)")
            args += [visible_to, f"tenant:{visible_to}"]
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._reading() as tx:
            rows = tx.all(
                f"SELECT {q.AUDIT} FROM audit{clause} ORDER BY id DESC LIMIT ?",
                *args,
                max(0, int(limit)),
            )
        return [
            rec.AuditEntry(
                id=int(r[0]),
                at=r[1],
                actor=r[2],
                tenant=r[3],
                method=r[4],
                path=r[5],
                status=int(r[6]),
                outcome=r[7],
                request_id=r[8],
                remote_addr=r[9],
            )
            for r in rows
        ]

    def find_admin_token(self, token_sha256: str) -> tuple[str, str] | None:
        if not rec.is_sha256_hex(token_sha256):
            return None
        with self._reading() as tx:
            row = tx.one(
                "SELECT tenant, id FROM admin_tokens WHERE token_sha256 = ? AND revoked_at IS NULL",
                token_sha256,
            )
        return None if row is None else (row[0], row[1])

    def admin_tokens(self, tenant: str) -> list[rec.AdminToken]:
        with self._reading() as tx:
            rows = tx.all(
                "SELECT id, tenant, created_at, revoked_at FROM admin_tokens"
                " WHERE tenant = ? ORDER BY created_at, id",
                tenant,
            )
        return [rec.AdminToken(*row) for row in rows]

    # -- writes -----------------------------------------------------------------

    def put_tenant(  # keyword arguments as Store.put_tenant documents them
        self,
        name: str,
        *,
        audit: rec.Audit,
        hosts: Iterable[str],
        plugins: Iterable[str],
        users: Iterable[Mapping[str, str]],
        if_match: int | None = None,
    ) -> tuple[bool, int]:
        q.check_name(name)
        q.check_audit(audit)
        given = rec.TenantData.of(hosts=hosts, users=users, plugins=plugins)
        with self._writing() as tx:
            old = q.load(tx, name)
            if if_match is not None and (old is None or old.version != if_match):
                raise VersionConflict(name, old.version if old else 0)
            if old is None:
                return True, q.write_version(
                    tx, name, None, given, "create", audit, 201, self._changed
                )
            new = rec.TenantData(
                hosts=given.hosts, users=given.users, plugins=given.plugins, rules=old.rules
            )
            if q.same(old, new):
                q.audit_row(tx, audit, name, 200, utc_now())
                return False, old.version
            return False, q.write_version(tx, name, old, new, "settings", audit, 200, self._changed)

    def delete_tenant(self, name: str, *, audit: rec.Audit) -> bool:
        q.check_audit(audit)
        with self._writing() as tx:
            old = q.load(tx, name)
            if old is not None:
                q.delete(tx, old, audit, self._changed)
            return old is not None

    def put_rules(
        self,
        name: str,
        rules: Iterable[Mapping[str, Any]],
        *,
        if_match: int,
        audit: rec.Audit,
        action: str = "put",
    ) -> int:
        if action not in ("put", "import"):
            raise ValueError(f"put_rules action must be 'put' or 'import', not {action!r}")
        q.check_audit(audit)
        given = rec.TenantData.of(rules=rules).rules
        with self._writing() as tx:
            old = q.current(tx, name, if_match)
            new = rec.TenantData(hosts=old.hosts, users=old.users, plugins=old.plugins, rules=given)
            return q.write_version(tx, name, old, new, action, audit, 200, self._changed)

    def rollback(self, name: str, to_version: int, *, if_match: int, audit: rec.Audit) -> int:
        q.check_audit(audit)
        with self._writing() as tx:
            old = q.current(tx, name, if_match)
            row = tx.one(
                "SELECT rules FROM revisions WHERE tenant = ? AND version = ?", name, to_version
            )
            if row is None:
                raise NoSuchRevision(name, to_version)
            rules = tuple(json.loads(row[0]))
            new = rec.TenantData(hosts=old.hosts, users=old.users, plugins=old.plugins, rules=rules)
            detail = f"to version {to_version}"
            return q.write_version(
                tx, name, old, new, "rollback", audit, 200, self._changed, detail
            )

    def import_tenants(
        self, states: Mapping[str, rec.TenantData], *, audit: rec.Audit
    ) -> list[str]:
        q.check_audit(audit)
        given: dict[str, rec.TenantData] = {}
        for name in sorted(states):
            q.check_name(name)
            s = states[name]
            given[name] = rec.TenantData.of(
                hosts=s.hosts, users=s.users, plugins=s.plugins, rules=s.rules
            )
        with self._writing() as tx:
            stored = q.states(q.tenant_rows(tx, list(given)))
            changed = [n for n in given if n not in stored or not q.same(stored[n], given[n])]
            # Free the names of every tenant about to claim anew first, so that
            # a host moving from one imported tenant to another is no conflict.
            for name in changed:
                if name in stored and q.claims_differ(stored[name], given[name]):
                    tx.run("DELETE FROM claims WHERE tenant = ?", name)
            for name in changed:
                old = stored.get(name)
                status = 201 if old is None else 200
                q.write_version(tx, name, old, given[name], "import", audit, status, self._changed)
            if not changed:
                q.audit_row(tx, audit, None, 200, utc_now())
        return changed

    def add_admin_token(self, tenant: str, token_sha256: str, *, audit: rec.Audit) -> str:
        if not rec.is_sha256_hex(token_sha256):
            raise ValueError("token_sha256 is not 64 lower-case hex digits")
        q.check_audit(audit)
        with self._writing() as tx:
            if q.load(tx, tenant) is None:
                raise NoSuchTenant(tenant)
            if tx.one("SELECT id FROM admin_tokens WHERE token_sha256 = ?", token_sha256):
                raise StoreError("that admin token is already stored")
            token_id = secrets.token_hex(6)
            while tx.one("SELECT id FROM admin_tokens WHERE id = ?", token_id):
                token_id = secrets.token_hex(6)  # pragma: no cover - one in 2**48
            at = utc_now()
            tx.run(
                "INSERT INTO admin_tokens (id, tenant, token_sha256, created_at, revoked_at)"
                " VALUES (?, ?, ?, ?, NULL)",
                *(token_id, tenant, token_sha256, at),
            )
            q.audit_row(tx, audit, tenant, 201, at)
            return token_id

    def revoke_admin_token(self, tenant: str, token_id: str, *, audit: rec.Audit) -> bool:
        q.check_audit(audit)
        with self._writing() as tx:
            at = utc_now()
            done = tx.run(
                "UPDATE admin_tokens SET revoked_at = ?"
                " WHERE id = ? AND tenant = ? AND revoked_at IS NULL",
                *(at, token_id, tenant),
            )
            if done:
                q.audit_row(tx, audit, tenant, 204, at)
            return bool(done)

    def record_audit(self, entry: rec.Audit) -> None:
        q.check_audit(entry)
        with self._writing() as tx:
            q.audit_row(tx, entry, None, 200, utc_now())
