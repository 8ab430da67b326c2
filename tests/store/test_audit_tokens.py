"""The audit log and the tenant admin tokens (each backend): written in the write's transaction."""

from __future__ import annotations

import re

import pytest

from tests.store.conftest import OPERATOR, as_tenant, digest, rule
from websvc.store import Audit, NoSuchTenant, SQLiteStore, Store, VersionConflict

UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# -- audit ---------------------------------------------------------------------------


def test_every_write_is_audited_in_its_transaction(acme: Store) -> None:
    acme.put_rules(
        "acme", [], if_match=1, audit=Audit("tenant:acme", "PUT", "/p", "r-9", "192.0.2.1")
    )
    entry = acme.audit_entries(limit=1)[0]
    assert (entry.actor, entry.tenant, entry.method, entry.path) == (
        "tenant:acme",
        "acme",
        "PUT",
        "/p",
    )
    assert (entry.status, entry.outcome, entry.request_id, entry.remote_addr) == (
        200,
        "ok",
        "r-9",
        "192.0.2.1",
    )
    assert UTC_Z.fullmatch(entry.at)


def test_a_failed_write_leaves_no_ok_entry_and_the_caller_records_its_own(
    acme: Store,
) -> None:
    before = acme.audit_entries()
    with pytest.raises(VersionConflict):
        acme.put_rules("acme", [], if_match=5, audit=as_tenant("acme"))
    assert acme.audit_entries() == before
    acme.record_audit(
        Audit("tenant:acme", "PUT", "/p", tenant="acme", status=412, outcome="invalid")
    )
    entry = acme.audit_entries(limit=1)[0]
    assert (entry.status, entry.outcome, entry.tenant) == (412, "invalid", "acme")
    with pytest.raises(ValueError, match="outcome"):
        acme.record_audit(Audit("x", "GET", "/", outcome="maybe"))


def test_a_write_whose_audit_entry_fails_writes_nothing(acme: Store, store_url: str) -> None:
    """The tenant row, revision, change and audit entry commit together or not at all."""
    if isinstance(acme, SQLiteStore):
        acme._connection().execute(
            "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit is full'); END"
        )
    else:
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute(
                "CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RAISE EXCEPTION 'audit is full'; END $$;"
                " CREATE TRIGGER no_audit BEFORE INSERT ON audit"
                " FOR EACH ROW EXECUTE FUNCTION no_audit()"
            )
    before = (acme.snapshot(), acme.revisions("acme"), acme.change_seq())
    with pytest.raises(Exception, match="audit is full"):
        acme.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)
    assert (acme.snapshot(), acme.revisions("acme"), acme.change_seq()) == before


def test_audit_filters_and_what_a_tenant_may_see(store: Store) -> None:
    store.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR)
    store.put_tenant("beta", hosts=[], users=[], plugins=[], audit=OPERATOR)
    store.put_rules("acme", [], if_match=1, audit=as_tenant("acme"))
    store.record_audit(Audit("tenant:acme", "GET", "/admin/v1/tenants/beta/cors", tenant="beta", status=404, outcome="denied"))  # fmt: skip
    store.record_audit(Audit("tenant:beta", "GET", "/admin/v1/whoami", status=200))
    paths = lambda entries: [(e.actor, e.tenant) for e in entries]  # noqa: E731
    assert paths(store.audit_entries(visible_to="acme")) == [
        ("tenant:acme", "beta"), ("tenant:acme", "acme"), ("operator:ops", "acme"),
    ]  # fmt: skip
    assert paths(store.audit_entries(tenant="beta")) == [
        ("tenant:acme", "beta"),
        ("operator:ops", "beta"),
    ]
    assert paths(store.audit_entries(actor="tenant:beta")) == [("tenant:beta", None)]
    assert paths(store.audit_entries(visible_to="beta", tenant="beta")) == [("tenant:acme", "beta"), ("operator:ops", "beta")]  # fmt: skip
    assert len(store.audit_entries(limit=2)) == 2
    ids = [e.id for e in store.audit_entries()]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5


# -- admin tokens ---------------------------------------------------------------------


def test_admin_tokens(acme: Store) -> None:
    token_id = acme.add_admin_token("acme", digest("secret"), audit=OPERATOR)
    assert re.fullmatch(r"[0-9a-f]{12}", token_id)
    assert acme.find_admin_token(digest("secret")) == ("acme", token_id)
    assert acme.find_admin_token(digest("other")) is None
    assert acme.find_admin_token("not hex") is None
    [token] = acme.admin_tokens("acme")
    assert (token.id, token.tenant, token.revoked_at) == (token_id, "acme", None)
    assert UTC_Z.fullmatch(token.created_at)
    with pytest.raises(NoSuchTenant):
        acme.add_admin_token("nobody", digest("x"), audit=OPERATOR)
    with pytest.raises(ValueError):
        acme.add_admin_token("acme", "secret", audit=OPERATOR)  # a token, not its digest
    assert acme.revoke_admin_token("beta", token_id, audit=OPERATOR) is False  # not beta's
    assert acme.revoke_admin_token("acme", token_id, audit=OPERATOR) is True
    assert acme.find_admin_token(digest("secret")) is None
    assert acme.revoke_admin_token("acme", token_id, audit=OPERATOR) is False
    assert [e.status for e in acme.audit_entries(limit=2)] == [204, 201]
