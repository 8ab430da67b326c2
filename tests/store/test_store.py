"""The store's operations, on each backend: versions, revisions, rollback, changes, import."""

from __future__ import annotations

import re

import pytest

from tests.store.conftest import OPERATOR, as_tenant, digest, rule, user
from websvc.store import (
    Audit,
    NoSuchRevision,
    NoSuchTenant,
    Store,
    Taken,
    TenantData,
    VersionConflict,
)

UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# -- tenants and versions -------------------------------------------------------


def test_an_empty_store(store: Store) -> None:
    assert store.change_seq() == 0
    assert store.changes_since(0) == []
    assert store.snapshot().tenants == {}
    assert store.snapshot().seq == 0
    assert store.list_tenants() == []
    assert store.tenant("acme") is None
    assert store.tenants(["a", "b"]) == {"a": None, "b": None}
    assert store.revisions("acme") == []
    assert store.revision("acme", 1) is None
    assert store.audit_entries() == []


def test_put_tenant_creates_version_1_then_settings_make_new_versions(store: Store) -> None:
    created = store.put_tenant(
        "acme", hosts=["acme.example.net"], users=[user("a")], plugins=["m:p"], audit=OPERATOR
    )
    assert created == (True, 1)
    state = store.tenant("acme")
    assert state is not None
    assert (state.name, state.version, state.rules) == ("acme", 1, ())
    assert state.hosts == ("acme.example.net",)
    assert state.users == (user("a"),)
    assert state.plugins == ("m:p",)

    assert store.put_tenant(
        "acme", hosts=["acme.example.net", "b.example"], users=[user("a")], plugins=["m:p"], audit=OPERATOR
    ) == (False, 2)  # fmt: skip
    assert store.list_tenants() == [("acme", 2)]
    [settings, create] = store.revisions("acme")
    assert (settings.version, settings.action, create.version, create.action) == (
        2,
        "settings",
        1,
        "create",
    )
    assert "hosts" in settings.summary and "\n" not in settings.summary


def test_put_tenant_with_the_same_settings_changes_nothing(acme: Store) -> None:
    seq = acme.change_seq()
    again = acme.put_tenant(
        "acme", hosts=["acme.example.net"], users=[user("acme-1")], plugins=[], audit=OPERATOR
    )
    assert again == (False, 1)
    assert acme.change_seq() == seq
    assert len(acme.revisions("acme")) == 1
    assert [e.status for e in acme.audit_entries()] == [200, 201]  # audited all the same


def test_put_tenant_keeps_the_rules(acme: Store) -> None:
    acme.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)
    acme.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR)
    state = acme.tenant("acme")
    assert state is not None and state.rules == (rule("a.com"),) and state.version == 3


def test_put_tenant_if_match(acme: Store) -> None:
    with pytest.raises(VersionConflict) as caught:
        acme.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR, if_match=7)
    assert caught.value.current == 1
    with pytest.raises(VersionConflict) as caught:
        acme.put_tenant("new", hosts=[], users=[], plugins=[], audit=OPERATOR, if_match=1)
    assert caught.value.current == 0
    assert acme.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR, if_match=1) == (
        False,
        2,
    )


@pytest.mark.parametrize(
    ("users", "hosts", "why"),
    [
        pytest.param([{"name": "u", "token": "secret"}], [], "exactly", id="plain-token-refused"),
        pytest.param([{"name": "u", "token_sha256": "ABC"}], [], "hex", id="not-a-digest"),
        pytest.param([{"name": "u", "token_sha256": "A" * 64}], [], "lower-case", id="upper-hex"),
        pytest.param([], [3], "not a string", id="host-not-a-string"),
    ],
)  # fmt: skip
def test_the_store_refuses_shapes_it_cannot_keep(
    store: Store, users: list[dict[str, str]], hosts: list[str], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        store.put_tenant("acme", hosts=hosts, users=users, plugins=[], audit=OPERATOR)
    assert store.tenant("acme") is None and store.audit_entries() == []


def test_hosts_and_user_names_belong_to_one_tenant(acme: Store) -> None:
    with pytest.raises(Taken, match=r"host 'acme\.example\.net' already belongs to tenant 'acme'"):
        acme.put_tenant("other", hosts=["ACME.example.net"], users=[], plugins=[], audit=OPERATOR)
    with pytest.raises(Taken) as caught:
        acme.put_tenant("other", hosts=[], users=[user("acme-1")], plugins=[], audit=OPERATOR)
    assert (caught.value.kind, caught.value.value, caught.value.owner) == ("user", "acme-1", "acme")
    assert acme.tenant("other") is None
    # Released by a settings change or a deletion.
    acme.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR)
    assert acme.put_tenant("other", hosts=["acme.example.net"], users=[user("acme-1")], plugins=[], audit=OPERATOR)[0]  # fmt: skip
    acme.delete_tenant("other", audit=OPERATOR)
    assert acme.put_tenant("third", hosts=["acme.example.net"], users=[], plugins=[], audit=OPERATOR)[0]  # fmt: skip


# -- rules, revisions, rollback ---------------------------------------------------


def test_put_rules_is_a_new_version_with_its_revision(acme: Store) -> None:
    rules = [rule("a.com", methods=["GET"], max_age=60), rule("*.b.com", allow_credentials=True)]
    assert acme.put_rules("acme", rules, if_match=1, audit=as_tenant("acme")) == 2
    state = acme.tenant("acme")
    assert state is not None and state.version == 2 and list(state.rules) == rules
    [latest, _] = acme.revisions("acme")
    assert (latest.version, latest.actor, latest.action) == (2, "tenant:acme", "put")
    assert latest.summary == "put 2 rules (was 0)"
    assert UTC_Z.fullmatch(latest.at)
    revision = acme.revision("acme", 2)
    assert revision is not None and list(revision.rules) == rules
    assert revision.data.hosts == ("acme.example.net",)
    assert acme.revision("acme", 1) is not None and acme.revision("acme", 1).rules == ()  # type: ignore[union-attr]


def test_rules_are_kept_exactly_as_given(acme: Store) -> None:
    odd = {"domain": "ü.example", "ports": ["*"], "nested": {"b": [1, 2.5, None], "a": True}}
    acme.put_rules("acme", [odd], if_match=1, audit=OPERATOR)
    assert acme.tenant("acme").rules == (odd,)  # type: ignore[union-attr]


def test_put_rules_needs_the_current_version(acme: Store) -> None:
    acme.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)
    seq, audited = acme.change_seq(), len(acme.audit_entries())
    with pytest.raises(VersionConflict) as caught:
        acme.put_rules("acme", [rule("b.com")], if_match=1, audit=OPERATOR)
    assert caught.value.current == 2
    assert acme.tenant("acme").rules == (rule("a.com"),)  # type: ignore[union-attr]
    assert (acme.change_seq(), len(acme.audit_entries())) == (seq, audited)
    with pytest.raises(NoSuchTenant):
        acme.put_rules("nobody", [], if_match=1, audit=OPERATOR)


def test_rollback_writes_a_new_version_with_the_old_rules(acme: Store) -> None:
    acme.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)  # v2
    acme.put_rules("acme", [rule("b.com")], if_match=2, audit=OPERATOR)  # v3
    assert acme.rollback("acme", 2, if_match=3, audit=as_tenant("acme", "POST")) == 4
    state = acme.tenant("acme")
    assert state is not None and (state.version, state.rules) == (4, (rule("a.com"),))
    top = acme.revisions("acme")[0]
    assert (top.version, top.action, top.summary) == (
        4,
        "rollback",
        "rolled back to version 2: 1 rule",
    )
    assert [r.version for r in acme.revisions("acme")] == [4, 3, 2, 1]  # history kept
    with pytest.raises(VersionConflict):
        acme.rollback("acme", 3, if_match=3, audit=OPERATOR)
    with pytest.raises(NoSuchRevision):
        acme.rollback("acme", 99, if_match=4, audit=OPERATOR)
    with pytest.raises(NoSuchTenant):
        acme.rollback("nobody", 1, if_match=1, audit=OPERATOR)
    assert acme.tenant("acme").version == 4  # type: ignore[union-attr]


# -- deletion ---------------------------------------------------------------------------


def test_delete_keeps_the_history_and_a_new_tenant_continues_its_numbers(acme: Store) -> None:
    token_id = acme.add_admin_token("acme", digest("t"), audit=OPERATOR)
    assert acme.delete_tenant("acme", audit=OPERATOR) is True
    assert acme.tenant("acme") is None and acme.list_tenants() == []
    assert acme.find_admin_token(digest("t")) is None
    assert acme.admin_tokens("acme")[0].revoked_at is not None
    assert [(r.version, r.action) for r in acme.revisions("acme")] == [(2, "delete"), (1, "create")]
    assert acme.changes_since(1)[0].version is None
    assert acme.delete_tenant("acme", audit=OPERATOR) is False
    assert acme.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR) == (True, 3)
    assert acme.find_admin_token(digest("t")) is None and token_id


# -- the change sequence -------------------------------------------------------------


def test_the_change_sequence_grows_by_one_per_write_and_names_the_tenant(
    store: Store,
) -> None:
    store.put_tenant("a", hosts=[], users=[], plugins=[], audit=OPERATOR)
    store.put_tenant("b", hosts=[], users=[], plugins=[], audit=OPERATOR)
    store.put_rules("a", [rule("x.com")], if_match=1, audit=OPERATOR)
    store.rollback("a", 1, if_match=2, audit=OPERATOR)
    store.delete_tenant("b", audit=OPERATOR)
    changes = store.changes_since(0)
    assert [(c.seq, c.tenant, c.version) for c in changes] == [
        (1, "a", 1), (2, "b", 1), (3, "a", 2), (4, "a", 3), (5, "b", None),
    ]  # fmt: skip
    assert all(UTC_Z.fullmatch(c.at) for c in changes)
    assert store.change_seq() == 5
    assert [c.seq for c in store.changes_since(3)] == [4, 5]
    assert store.changes_since(5) == []
    # What does not touch a tenant's config is no change.
    store.add_admin_token("a", digest("x"), audit=OPERATOR)
    store.record_audit(Audit("anonymous", "GET", "/admin/v1/tenants", status=401, outcome="denied"))
    assert store.change_seq() == 5


def test_delta_and_snapshot_read_one_consistent_state(store: Store) -> None:
    for name in ("a", "b", "c"):
        store.put_tenant(name, hosts=[], users=[], plugins=[], audit=OPERATOR)
    seen = store.change_seq()
    store.put_rules("a", [rule("x.com")], if_match=1, audit=OPERATOR)
    store.delete_tenant("b", audit=OPERATOR)
    delta = store.delta(seen)
    assert delta.seq == 5
    assert set(delta.tenants) == {"a", "b"}
    assert delta.tenants["b"] is None
    assert delta.tenants["a"] is not None and delta.tenants["a"].version == 2
    snapshot = store.snapshot()
    assert snapshot.seq == 5 and sorted(snapshot.tenants) == ["a", "c"]
    assert store.delta(5).tenants == {}
    assert store.tenants(["c", "b", "c"]) == {"c": snapshot.tenants["c"], "b": None}


# -- import ---------------------------------------------------------------------------


def test_import_of_an_export_changes_nothing(acme: Store) -> None:
    acme.put_rules("acme", [rule("a.com", methods=["GET", "PUT"])], if_match=1, audit=OPERATOR)
    acme.put_tenant("beta", hosts=["beta.example"], users=[], plugins=["x:y"], audit=OPERATOR)
    exported = dict(acme.snapshot().tenants)
    seq = acme.change_seq()
    cli = Audit("cli", "CLI", "websvc store import")
    assert acme.import_tenants(exported, audit=cli) == []
    # ... and so does the same content rebuilt from plain data (as from a TOML file).
    rebuilt = {n: TenantData.of(hosts=list(s.hosts), users=[dict(u) for u in s.users], plugins=s.plugins, rules=[dict(r) for r in s.rules]) for n, s in exported.items()}  # fmt: skip
    assert acme.import_tenants(rebuilt, audit=cli) == []
    assert acme.change_seq() == seq
    assert acme.audit_entries(limit=1)[0].actor == "cli"


def test_import_writes_only_what_differs(acme: Store) -> None:
    states = {
        "acme": TenantData.of(hosts=["acme.example.net"], users=[user("acme-1")], rules=[rule("a.com")]),
        "new": TenantData.of(hosts=["new.example"]),
    }  # fmt: skip
    assert acme.import_tenants(states, audit=Audit("cli", "CLI", "import")) == ["acme", "new"]
    assert acme.list_tenants() == [("acme", 2), ("new", 1)]
    assert [r.action for r in acme.revisions("acme")] == ["import", "create"]
    assert acme.revisions("new")[0].action == "import"
    assert {(e.tenant, e.status) for e in acme.audit_entries(actor="cli")} == {
        ("acme", 200),
        ("new", 201),
    }
    assert [c.tenant for c in acme.changes_since(1)] == ["acme", "new"]


def test_import_is_all_or_nothing(acme: Store) -> None:
    # "a" and "b" would be written before "c" fails: it claims acme's host.
    states = {
        "a": TenantData.of(rules=[rule("a.com")]),
        "b": TenantData.of(hosts=["b.example"]),
        "c": TenantData.of(hosts=["acme.example.net"]),
    }
    before = (acme.snapshot(), acme.change_seq(), acme.audit_entries())
    with pytest.raises(Taken):
        acme.import_tenants(states, audit=Audit("cli", "CLI", "import"))
    assert (acme.snapshot(), acme.change_seq(), acme.audit_entries()) == before
    assert acme.revisions("a") == []


def test_import_can_move_a_host_between_tenants(store: Store) -> None:
    store.put_tenant("a", hosts=["one.example"], users=[], plugins=[], audit=OPERATOR)
    store.put_tenant("b", hosts=["two.example"], users=[], plugins=[], audit=OPERATOR)
    swapped = {"a": TenantData.of(hosts=["two.example"]), "b": TenantData.of(hosts=["one.example"])}
    assert store.import_tenants(swapped, audit=OPERATOR) == ["a", "b"]
    assert store.tenant("a").hosts == ("two.example",)  # type: ignore[union-attr]


def test_put_rules_as_an_import_and_unknown_actions(acme: Store) -> None:
    assert acme.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR, action="import") == 2
    assert acme.revisions("acme")[0].action == "import"
    with pytest.raises(ValueError, match="'put' or 'import'"):
        acme.put_rules("acme", [], if_match=2, audit=OPERATOR, action="rollback")


def test_many_tenants_in_one_read(store: Store) -> None:
    names = [f"t{i}" for i in range(1_200)]  # more than one IN (...) list
    store.import_tenants({n: TenantData() for n in names[::2]}, audit=OPERATOR)
    found = store.tenants(names)
    assert list(found) == names
    assert sum(state is not None for state in found.values()) == 600
