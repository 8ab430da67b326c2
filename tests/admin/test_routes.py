"""Every route of ADMIN-API §3 through werkzeug's test client, against a real SQLite file."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.admin.conftest import (
    A_HOSTS,
    A_RULES,
    B_RULES,
    GHOST,
    PREFIX,
    A,
    Api,
    B,
    body_of,
    make_api,
    seed,
    sha256,
    user,
)
from websvc.admin import rules as rule_forms
from websvc.admin.routes import ROUTES
from websvc.config import ConfigError, load_config
from websvc.problems import render
from websvc.tools.boomi import boomi_rules

BOOMI = Path(__file__).resolve().parents[1] / "data" / "boomi"
RULE_KEYS = list(rule_forms.KEYS)


def rules_of(api: Api, tenant: str) -> list[dict[str, Any]]:
    state = api.store.tenant(tenant)
    assert state is not None
    return list(state.rules)


# -- openapi.json, whoami, tenants ----------------------------------------------


def test_openapi_needs_no_token_and_names_every_route(api: Api) -> None:
    answer = api.call("GET", "/openapi.json", None)
    assert answer.status_code == 200
    document = body_of(answer)
    assert document["openapi"].startswith("3.1")
    for route in ROUTES:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.path)
        assert route.method.lower() in document["paths"][path], (route.method, path)
        operation = document["paths"][path][route.method.lower()]
        assert ("security" in operation) == (route.who != "anyone")


def test_openapi_is_valid_openapi_3_1(api: Api) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    document = body_of(api.call("GET", "/openapi.json", None))
    validator.validate(document)  # raises on an invalid document
    # a token changes nothing
    assert body_of(api.call("GET", "/openapi.json", "A")) == document


def test_whoami(api: Api) -> None:
    assert body_of(api.call("GET", "/whoami")) == {"role": "operator", "tenant": None}
    assert body_of(api.call("GET", "/whoami", "A")) == {"role": "tenant", "tenant": A}
    assert body_of(api.call("GET", "/whoami", "B")) == {"role": "tenant", "tenant": B}


def test_list_tenants(api: Api) -> None:
    answer = api.call("GET", "/tenants")
    assert answer.status_code == 200
    assert body_of(answer) == {"tenants": [{"name": A, "version": 2}, {"name": B, "version": 2}]}


def test_put_tenant_creates_then_updates(empty_api: Api) -> None:
    api = empty_api
    body = {"hosts": ["new.test"], "users": [user("new-1")], "plugins": []}
    created = api.call("PUT", "/tenants/new", json_body=body)
    assert created.status_code == 201
    assert body_of(created) == {"name": "new", "version": 1}
    assert created.headers["ETag"] == '"1"'
    state = api.store.tenant("new")
    assert state is not None
    assert (list(state.hosts), [dict(u) for u in state.users], list(state.rules)) == (
        ["new.test"],
        [user("new-1")],
        [],
    )
    updated = api.call("PUT", "/tenants/new", json_body={**body, "hosts": ["new.test", "b.test"]})
    assert updated.status_code == 200
    assert body_of(updated) == {"name": "new", "version": 2}
    # the absent keys take their defaults
    assert api.call("PUT", "/tenants/bare", json_body={}).status_code == 201


def test_put_tenant_problems_are_relative_to_the_body(empty_api: Api) -> None:
    body_of_request = {
        "hosts": ["ok.test", "bad host"],
        "users": [{"name": "a:b", "token_sha256": "x"}],
    }
    answer = empty_api.call("PUT", "/tenants/new", json_body=body_of_request)
    assert answer.status_code == 400
    problems = body_of(answer)["problems"]
    assert all(set(p) == {"path", "value", "why"} for p in problems)
    paths = {p["path"] for p in problems}
    assert {"hosts", "users[0].name", "users[0].token_sha256"} <= paths
    assert {"path": "hosts", "value": "bad host"}.items() <= next(
        p for p in problems if p["path"] == "hosts"
    ).items()  # a bad host is named at its list, as websvc check names it
    with pytest.raises(ConfigError) as refused:
        load_config({"tenants": {"new": body_of_request}})
    for problem in problems:
        path = f"tenants.new.{problem['path']}"
        line = f"<dict>: {path}: {render(problem['value'])} {problem['why']}"
        assert line in refused.value.problems or f"<dict>: {path}: {problem['why']}" in (
            refused.value.problems
        ), (problem, refused.value.problems)
    assert empty_api.store.tenant("new") is None


def test_put_tenant_with_another_tenants_host_is_a_conflict(api: Api) -> None:
    answer = api.call("PUT", "/tenants/new", json_body={"hosts": A_HOSTS})
    assert answer.status_code == 409
    assert "error" in body_of(answer)
    assert api.store.tenant("new") is None


def test_delete_tenant(api: Api) -> None:
    assert api.call("DELETE", f"/tenants/{A}").status_code == 204
    assert api.store.tenant(A) is None
    again = api.call("DELETE", f"/tenants/{A}")
    assert (again.status_code, body_of(again)) == (404, {"error": "no such tenant"})
    gone = api.call("GET", f"/tenants/{A}/cors")
    assert (gone.status_code, body_of(gone)) == (404, {"error": "no such tenant"})
    # deleting a tenant revokes its tokens
    assert api.call("GET", "/whoami", "A").status_code == 401


# -- tokens ----------------------------------------------------------------------


def test_tokens_are_shown_once_and_stop_working_at_once(api: Api) -> None:
    created = api.call("POST", f"/tenants/{A}/tokens")
    assert created.status_code == 201
    body = body_of(created)
    assert set(body) == {"id", "token"}
    api.tokens["new"] = body["token"]
    assert body_of(api.call("GET", "/whoami", "new")) == {"role": "tenant", "tenant": A}
    # the store keeps the sha256 only
    assert api.store.find_admin_token(sha256(body["token"])) == (A, body["id"])
    assert body["token"] not in Path(api.db).read_bytes().decode("latin-1")
    revoked = api.call("DELETE", f"/tenants/{A}/tokens/{body['id']}")
    assert revoked.status_code == 204
    assert revoked.data == b""
    assert api.call("GET", "/whoami", "new").status_code == 401
    again = api.call("DELETE", f"/tenants/{A}/tokens/{body['id']}")
    assert again.status_code == 404
    # a token id of another tenant is not revoked through this one's path
    other = api.call("DELETE", f"/tenants/{A}/tokens/{api.token_ids['B']}")
    assert other.status_code == 404
    assert api.call("GET", "/whoami", "B").status_code == 200


def test_a_token_for_a_tenant_that_does_not_exist(api: Api) -> None:
    answer = api.call("POST", f"/tenants/{GHOST}/tokens")
    assert (answer.status_code, body_of(answer)) == (404, {"error": "no such tenant"})


# -- GET .../cors ------------------------------------------------------------------


def test_get_rules_fills_in_every_key(api: Api) -> None:
    answer = api.call("GET", f"/tenants/{A}/cors", "A")
    assert answer.status_code == 200
    assert answer.headers["ETag"] == '"2"'
    body = body_of(answer)
    assert (body["tenant"], body["version"]) == (A, 2)
    [rule] = body["rules"]
    assert list(rule) == RULE_KEYS
    assert rule == {
        "domain": "app.acme.example",
        "protocols": ["https"],
        "ports": [443],
        "paths": ["/*"],
        "methods": ["GET", "PUT"],
        "request_headers": [],
        "expose_headers": [],
        "allow_credentials": False,
        "allow_caching": False,
        "max_age": 60,
        "allow_any_origin": False,
        "allow_private_network": False,
    }


@pytest.mark.parametrize(
    ("rule", "ports"),
    [
        ({"domain": "a.example", "ports": ["*"]}, ["*"]),
        ({"domain": "a.example", "protocols": ["http"]}, [80]),
        ({"domain": "a.example", "protocols": ["http", "https"], "ports": [8443]}, [8443]),
        ({"domain": "https://a.example:8443"}, [8443]),
        ({"domain": "a.example", "protocols": ["http", "https"]}, None),  # http:80 and https:443
    ],
)
def test_get_rules_ports(api: Api, rule: dict[str, Any], ports: list[Any] | None) -> None:
    put = api.call(
        "PUT", f"/tenants/{A}/cors", json_body={"rules": [rule]}, headers=api.if_match(A)
    )
    assert put.status_code == 200, put.get_json()
    [got] = body_of(api.call("GET", f"/tenants/{A}/cors"))["rules"]
    if ports is None:
        assert "ports" not in got
        assert list(got) == [k for k in RULE_KEYS if k != "ports"]
    else:
        assert got["ports"] == ports
    # what GET answers, PUT back, means the same thing
    again = api.call(
        "PUT", f"/tenants/{A}/cors", json_body={"rules": [got]}, headers=api.if_match(A)
    )
    assert again.status_code == 200, again.get_json()
    assert body_of(api.call("GET", f"/tenants/{A}/cors"))["rules"] == [got]


def test_get_rules_in_boomis_shape(api: Api) -> None:
    answer = api.call("GET", f"/tenants/{B}/cors", "B", query={"format": "boomi"})
    assert answer.status_code == 200
    assert answer.headers["ETag"] == '"2"'
    body = body_of(answer)
    assert list(body) == ["corsConfiguration"]
    [origin] = body["corsConfiguration"]["origins"]
    assert origin["domain"] == "app.bravo.example"
    assert origin["allowCredentials"] is True
    assert origin["EnableHTTPSRequestHandling"] is True
    assert origin["EnableHTTPRequestHandling"] is False


def test_boomis_shape_round_trips(api: Api) -> None:
    boomi = body_of(api.call("GET", f"/tenants/{B}/cors", query={"format": "boomi"}))
    before = body_of(api.call("GET", f"/tenants/{B}/cors"))["rules"]
    put = api.call("PUT", f"/tenants/{B}/cors", json_body=boomi, headers=api.if_match(B))
    assert put.status_code == 200, put.get_json()
    assert body_of(api.call("GET", f"/tenants/{B}/cors"))["rules"] == before


# -- PUT .../cors: ETag and If-Match ----------------------------------------------------


def test_put_rules_needs_if_match(api: Api) -> None:
    before = api.raw_row(A)
    answer = api.call("PUT", f"/tenants/{A}/cors", json_body={"rules": []})
    assert answer.status_code == 428
    assert set(body_of(answer)) == {"error"}
    assert api.raw_row(A) == before


@pytest.mark.parametrize(
    "stale",
    ['"1"', '"3"', '"99"', "1", 'W/"1"', '"abc"', "*", '"2", "3"', '"²"', '"٢"', '""',
     '"' + "9" * 5000 + '"', '"99999999999999999999"'],
    ids=lambda v: v[:12],
)  # fmt: skip
def test_a_stale_if_match_writes_nothing(api: Api, stale: str) -> None:
    before = api.raw_row(A)
    answer = api.call(
        "PUT", f"/tenants/{A}/cors", json_body={"rules": []}, headers={"If-Match": stale}
    )
    assert answer.status_code == 412
    body = body_of(answer)
    assert set(body) == {"error", "version"}
    assert body["version"] == 2  # the current version, whatever If-Match held
    assert api.raw_row(A) == before


def test_put_rules_saves_a_new_version(api: Api) -> None:
    new_rules = [{"domain": "one.example"}, {"domain": "two.example", "protocols": ["http"]}]
    answer = api.call(
        "PUT",
        f"/tenants/{A}/cors",
        "A",
        json_body={"rules": new_rules},
        headers={"If-Match": '"2"'},
    )
    assert answer.status_code == 200
    assert body_of(answer) == {"version": 3, "warnings": []}
    assert answer.headers["ETag"] == '"3"'
    assert rules_of(api, A) == new_rules
    got = api.call("GET", f"/tenants/{A}/cors", "A")
    assert got.headers["ETag"] == '"3"'
    assert [r["domain"] for r in body_of(got)["rules"]] == ["one.example", "two.example"]
    # the old ETag is now stale
    stale = api.call(
        "PUT", f"/tenants/{A}/cors", "A", json_body={"rules": []}, headers={"If-Match": '"2"'}
    )
    assert (stale.status_code, body_of(stale)["version"]) == (412, 3)
    # the same rules again still make a new version: a guarded save always gives a new ETag
    same = api.call(
        "PUT",
        f"/tenants/{A}/cors",
        "A",
        json_body={"rules": new_rules},
        headers={"If-Match": '"3"'},
    )
    assert (same.status_code, same.headers["ETag"]) == (200, '"4"')


def test_put_rules_answers_websvc_checks_warnings(api: Api) -> None:
    rules = [
        {"domain": "ok.example"},
        {"domain": "a.example", "expose_headers": ["X-Total", "Set-Cookie"]},
    ]
    answer = api.call(
        "PUT", f"/tenants/{A}/cors", "A", json_body={"rules": rules}, headers=api.if_match(A)
    )
    assert answer.status_code == 200  # a warning does not stop the save
    warnings = body_of(answer)["warnings"]
    assert [(w["path"], w["value"]) for w in warnings] == [
        ("rules[1].expose_headers", "Set-Cookie")
    ]
    config = load_config({"tenants": {A: {"hosts": A_HOSTS, "cors": rules}}})
    assert list(config.warnings) == [
        f"<dict>: tenants.{A}.cors[1].expose_headers: {render(w['value'])} {w['why']}"
        for w in warnings
    ]
    assert rules_of(api, A) == rules


# -- problems: every one at once, websvc check's words -------------------------------------

BAD_RULES: list[dict[str, Any]] = [
    {"domain": "app.example", "max_age": 90000, "ports": [70000]},
    {"domain": "", "methods": ["TRACE", 7], "bogus": 1},
    {"domain": "ok.example", "request_headers": ["X Bad"], "expose_headers": ["X-A\r\nB: c"]},
    {"domain": "*", "allow_credentials": True, "allow_caching": "yes"},
]


def check_lines(rules: list[dict[str, Any]], **base: Any) -> list[str]:
    """What ``websvc check`` says about these rules as tenant acme's, in a file."""
    with pytest.raises(ConfigError) as refused:
        load_config({**base, "tenants": {A: {"hosts": A_HOSTS, "cors": rules}}})
    return refused.value.problems


def as_check_line(problem: dict[str, Any], label: str = "<dict>") -> tuple[str, str]:
    """The two ways ``websvc check`` may print an API problem (with its value, or without).

    A problem's path is relative to the body (``rules[1]``) where websvc check's is
    relative to the file (``tenants.acme.cors[1]``); a why that names another rule
    names it as its own path does (``conflicts with rules[0]`` / ``... cors[0]``).
    """
    path = re.sub(r"^rules", f"tenants.{A}.cors", problem["path"])
    why = re.sub(r"\brules\[", "cors[", problem["why"])
    return (
        f"{label}: {path}: {render(problem['value'])} {why}",
        f"{label}: {path}: {why}",
    )


def test_every_problem_at_once_in_websvc_checks_words(api: Api) -> None:
    before = api.raw_row(A)
    answer = api.call(
        "PUT", f"/tenants/{A}/cors", "A", json_body={"rules": BAD_RULES}, headers=api.if_match(A)
    )
    assert answer.status_code == 400
    body = body_of(answer)
    assert set(body) == {"error", "problems"}
    problems = body["problems"]
    assert all(set(p) == {"path", "value", "why"} for p in problems)
    paths = [p["path"] for p in problems]
    for expected in ("rules[0].max_age", "rules[0].ports", "rules[1].domain", "rules[1].bogus"):
        assert any(p == expected or p.startswith(expected + "[") for p in paths), (expected, paths)
    by_path = {p["path"]: p for p in problems}
    assert by_path["rules[0].max_age"]["value"] == 90000
    assert "bogus" in json.dumps(by_path["rules[1].bogus"])
    # the same problems, and the same words, as websvc check on an equivalent file
    lines = check_lines(BAD_RULES)
    cors_lines = [line for line in lines if f"tenants.{A}.cors" in line]
    assert len(cors_lines) == len(problems), (cors_lines, problems)
    for problem in problems:
        with_value, without = as_check_line(problem)
        assert with_value in lines or without in lines, (problem, lines)
    assert api.raw_row(A) == before


@pytest.mark.parametrize(
    "rule",
    [
        {"domain": "app.example", "max_age": 90000},
        {"domain": "app.example", "max_age": -1},
        {"domain": "app.example", "ports": [0]},
        {"domain": "app.example", "methods": "GET"},
        {"domain": "ftp://app.example"},
        {"domain": "app.example", "protocols": []},
        {"domain": "app.example", "paths": ["no-slash"]},
        {"domain": "app.example", "allow_private_network": 1},
        {"max_age": 5},
        {"domain": "app.example", "unknown": True},
    ],
)
def test_one_problem_in_websvc_checks_words(api: Api, rule: dict[str, Any]) -> None:
    answer = api.call(
        "PUT", f"/tenants/{A}/cors", json_body={"rules": [rule]}, headers=api.if_match(A)
    )
    assert answer.status_code == 400
    problems = body_of(answer)["problems"]
    assert problems
    lines = check_lines([rule])
    for problem in problems:
        assert problem["path"].startswith("rules[0]")
        with_value, without = as_check_line(problem)
        assert with_value in lines or without in lines, (problem, lines)


def test_conflicting_rules_are_a_problem_as_in_websvc_check(api: Api) -> None:
    rules = [{"domain": "app.example"}, {"domain": "app.example", "methods": ["PUT"]}]
    answer = api.call(
        "PUT", f"/tenants/{A}/cors", json_body={"rules": rules}, headers=api.if_match(A)
    )
    try:
        lines = check_lines(rules)
    except pytest.fail.Exception:  # websvc check accepts them: so must the API
        assert answer.status_code == 200, answer.get_json()
        return
    assert answer.status_code == 400
    for problem in body_of(answer)["problems"]:
        with_value, without = as_check_line(problem)
        assert with_value in lines or without in lines, (problem, lines)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"rules": [], "tenant": B}, "tenant"),
        ({"rules": [], "extra": 1}, "extra"),
        ({"rules": [{"domain": "a.example", "Domain": "b.example"}]}, "rules[0].Domain"),
    ],
)
def test_an_unknown_key_in_a_body_is_named(api: Api, body: dict[str, Any], named: str) -> None:
    before = api.raw_row(A)
    answer = api.call("PUT", f"/tenants/{A}/cors", json_body=body, headers=api.if_match(A))
    assert answer.status_code == 400
    problems = body_of(answer)["problems"]
    assert any(p["path"] == named and "unknown key" in p["why"] for p in problems), problems
    assert api.raw_row(A) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "named"),
    [
        ("PUT", f"/tenants/{A}", {"hosts": [], "tenant": B}, "tenant"),
        ("PUT", f"/tenants/{A}", {"hosts": [], "users": [{"name": "u", "token": "t"}]}, "users[0].token"),
        ("POST", f"/tenants/{A}/cors/rollback", {"version": 1, "tenant": B}, "tenant"),
        ("POST", f"/tenants/{A}/cors/evaluate", {"origin": "https://a.example", "method": "GET",
                                                 "tenant": B}, "tenant"),
    ],
)  # fmt: skip
def test_unknown_keys_in_every_body(
    api: Api, method: str, path: str, body: dict[str, Any], named: str
) -> None:
    before = (api.raw_row(A), api.raw_row(B))
    answer = api.call(method, path, json_body=body, headers=api.if_match(A))
    assert answer.status_code == 400
    problems = body_of(answer)["problems"]
    assert any(p["path"] == named and "unknown key" in p["why"] for p in problems), problems
    assert (api.raw_row(A), api.raw_row(B)) == before


def test_a_body_that_is_not_json(api: Api) -> None:
    answer = api.call("PUT", f"/tenants/{A}/cors", data=b"{rules: [", headers=api.if_match(A))
    assert answer.status_code == 400
    assert "JSON" in body_of(answer)["error"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_a_body_of_the_wrong_type(api: Api, content_type: str) -> None:
    answer = api.call(
        "PUT",
        f"/tenants/{A}/cors",
        data=json.dumps({"rules": []}),
        content_type=content_type,
        headers=api.if_match(A),
    )
    assert answer.status_code == 415
    assert set(body_of(answer)) == {"error"}


def test_json_with_a_charset_is_json(api: Api) -> None:
    answer = api.call(
        "PUT",
        f"/tenants/{A}/cors",
        data=json.dumps({"rules": []}),
        content_type="application/json; charset=utf-8",
        headers=api.if_match(A),
    )
    assert answer.status_code == 200


def test_a_body_that_is_not_an_object(api: Api) -> None:
    for body in ([], "rules", 7, None):
        answer = api.call(
            "PUT", f"/tenants/{A}/cors", data=json.dumps(body), headers=api.if_match(A)
        )
        assert answer.status_code == 400, body
        assert "problems" in body_of(answer)


def test_caps_on_the_body_and_the_rules(db: Path) -> None:
    api = seed(make_api(db, max_body_bytes=2048, max_rules_per_tenant=3))
    before = api.raw_row(A)
    big = {"rules": [{"domain": "a.example", "request_headers": ["X-" + "a" * 3000]}]}
    answer = api.call("PUT", f"/tenants/{A}/cors", json_body=big, headers=api.if_match(A))
    assert answer.status_code == 413
    assert set(body_of(answer)) == {"error"}
    # without Content-Length (a chunked body): read up to the limit, no further
    answer = api.client.open(
        f"{PREFIX}/tenants/{A}/cors",
        method="PUT",
        input_stream=io.BytesIO(json.dumps(big).encode()),
        headers={**api.auth("operator"), **api.if_match(A), "Content-Type": "application/json"},
        # a chunked body, as a server hands it over: no length, the stream ends at its end
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": "",
                           "HTTP_TRANSFER_ENCODING": "chunked"},
    )  # fmt: skip
    assert answer.request.content_length is None
    assert answer.status_code == 413
    many = {"rules": [{"domain": f"r{i}.example"} for i in range(4)]}
    answer = api.call("PUT", f"/tenants/{A}/cors", json_body=many, headers=api.if_match(A))
    assert answer.status_code == 413
    draft = {"origin": "https://a.example", "method": "GET", "rules": many["rules"]}
    assert api.call("POST", f"/tenants/{A}/cors/evaluate", json_body=draft).status_code == 413
    three = {"rules": many["rules"][:3]}
    answer = api.call("PUT", f"/tenants/{A}/cors", json_body=three, headers=api.if_match(A))
    assert answer.status_code == 200
    assert api.raw_row(A) != before
    api.store.close()


# -- Boomi's shapes ----------------------------------------------------------------------------


def test_boomis_cors_configuration_is_accepted(api: Api) -> None:
    body = {
        "corsConfiguration": {
            "origins": [
                {
                    "domain": "https://portal.example.org",
                    "allowMethods": ["GET", "POST"],
                    "allowCredentials": True,
                    "cacheTimeout": 120,
                }
            ]
        }
    }
    answer = api.call("PUT", f"/tenants/{A}/cors", "A", json_body=body, headers=api.if_match(A))
    assert answer.status_code == 200, answer.get_json()
    assert answer.headers["ETag"] == '"3"'
    [rule] = body_of(api.call("GET", f"/tenants/{A}/cors", "A"))["rules"]
    assert rule["domain"] in ("portal.example.org", "https://portal.example.org")
    assert rule["protocols"] == ["https"]
    assert rule["methods"] == ["GET", "POST"]
    assert rule["allow_credentials"] is True
    assert (rule["allow_caching"], rule["max_age"]) == (True, 120)


@pytest.mark.parametrize("name", ["shared.json", "minimal.json", "public.json"])
def test_a_whole_shared_web_server_object_is_accepted(api: Api, name: str) -> None:
    data = json.loads((BOOMI / name).read_text())
    expected, problems = boomi_rules(data)
    answer = api.call("PUT", f"/tenants/{A}/cors", json_body=data, headers=api.if_match(A))
    if problems:
        assert answer.status_code == 400
        return
    assert answer.status_code == 200, answer.get_json()
    assert rules_of(api, A) == expected
    got = body_of(api.call("GET", f"/tenants/{A}/cors"))["rules"]
    assert got == rule_forms.filled(expected)


def test_boomi_problems_are_named_by_boomis_fields(api: Api) -> None:
    data = json.loads((BOOMI / "broken.json").read_text())
    before = api.raw_row(A)
    answer = api.call("PUT", f"/tenants/{A}/cors", json_body=data, headers=api.if_match(A))
    assert answer.status_code == 400
    problems = body_of(answer)["problems"]
    assert len(problems) > 1
    paths = " ".join(p["path"] for p in problems)
    assert "corsConfiguration.origins[0]" in paths
    assert "cacheTimeout" in paths
    assert api.raw_row(A) == before
    # an unknown field of Boomi's shape is a problem naming it
    answer = api.call(
        "PUT",
        f"/tenants/{A}/cors",
        json_body={"corsConfiguration": {"origins": []}, "tenant": B},
        headers=api.if_match(A),
    )
    assert answer.status_code == 400
    assert any(p["path"] == "tenant" for p in body_of(answer)["problems"])


# -- revisions and rollback ------------------------------------------------------------------


def test_revisions_newest_first(api: Api) -> None:
    api.call("PUT", f"/tenants/{A}/cors", "A", json_body={"rules": []}, headers=api.if_match(A))
    answer = api.call("GET", f"/tenants/{A}/cors/revisions", "A")
    assert answer.status_code == 200
    revisions = body_of(answer)["revisions"]
    assert [r["version"] for r in revisions] == [3, 2, 1]
    for revision in revisions:
        assert set(revision) == {"version", "actor", "at", "action", "summary"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", revision["at"])
    assert [r["action"] for r in revisions] == ["put", "put", "create"]
    assert revisions[0]["actor"] == f"tenant:{A}"
    assert revisions[1]["actor"].startswith("operator:")


def test_a_revisions_rules(api: Api) -> None:
    api.call("PUT", f"/tenants/{A}/cors", json_body={"rules": []}, headers=api.if_match(A))
    answer = api.call("GET", f"/tenants/{A}/cors/revisions/2", "A")
    assert answer.status_code == 200
    body = body_of(answer)
    assert set(body) == {"version", "actor", "at", "action", "rules"}
    assert (body["version"], body["action"]) == (2, "put")
    assert body["rules"] == rule_forms.filled(A_RULES)
    assert body_of(api.call("GET", f"/tenants/{A}/cors/revisions/3"))["rules"] == []
    assert body_of(api.call("GET", f"/tenants/{A}/cors/revisions/1"))["rules"] == []
    missing = api.call("GET", f"/tenants/{A}/cors/revisions/99")
    assert missing.status_code == 404
    assert body_of(missing) == {"error": "no such revision"}
    assert api.call("GET", f"/tenants/{A}/cors/revisions/x").status_code == 404


def test_rollback_writes_a_new_version(api: Api) -> None:
    api.call("PUT", f"/tenants/{A}/cors", json_body={"rules": []}, headers=api.if_match(A))
    assert rules_of(api, A) == []
    answer = api.call(
        "POST", f"/tenants/{A}/cors/rollback", "A", json_body={"version": 2},
        headers={"If-Match": '"3"'},
    )  # fmt: skip
    assert answer.status_code == 200
    assert body_of(answer) == {"version": 4}
    assert answer.headers["ETag"] == '"4"'
    assert rules_of(api, A) == A_RULES
    revisions = body_of(api.call("GET", f"/tenants/{A}/cors/revisions"))["revisions"]
    assert [(r["version"], r["action"]) for r in revisions[:2]] == [(4, "rollback"), (3, "put")]
    got = body_of(api.call("GET", f"/tenants/{A}/cors/revisions/4"))["rules"]
    assert got == body_of(api.call("GET", f"/tenants/{A}/cors/revisions/2"))["rules"]


def test_rollback_needs_if_match_and_a_known_version(api: Api) -> None:
    before = api.raw_row(A)
    path = f"/tenants/{A}/cors/rollback"
    assert api.call("POST", path, json_body={"version": 1}).status_code == 428
    stale = api.call("POST", path, json_body={"version": 1}, headers={"If-Match": '"1"'})
    assert (stale.status_code, body_of(stale)["version"]) == (412, 2)
    unknown = api.call("POST", path, json_body={"version": 9}, headers=api.if_match(A))
    assert unknown.status_code == 404
    for bad in ({"version": 0}, {"version": "1"}, {}, {"version": 1.5}):
        assert api.call("POST", path, json_body=bad, headers=api.if_match(A)).status_code == 400
    assert api.raw_row(A) == before


# -- evaluate: exactly what the data plane sends ------------------------------------------------


def test_evaluate_against_the_saved_rules(api: Api) -> None:
    answer = api.call(
        "POST",
        f"/tenants/{A}/cors/evaluate",
        "A",
        json_body={"origin": "https://app.acme.example", "method": "PUT", "path": "/ws/x"},
    )
    assert answer.status_code == 200
    body = body_of(answer)
    assert set(body) == {"allowed", "rule", "reason", "detail", "status", "headers"}
    assert (body["allowed"], body["rule"], body["status"]) == (True, 0, 200)
    headers = dict(map(tuple, body["headers"]))
    assert headers["Access-Control-Allow-Origin"] == "https://app.acme.example"
    refused = body_of(
        api.call(
            "POST",
            f"/tenants/{A}/cors/evaluate",
            json_body={"origin": "https://app.acme.example", "method": "DELETE"},
        )
    )
    assert (refused["allowed"], refused["rule"]) == (False, None) or refused["allowed"] is False
    assert refused["reason"] != "allowed"


def test_evaluate_a_draft_writes_nothing(api: Api) -> None:
    before = api.raw_row(A)
    draft = [{"domain": "draft.example", "methods": ["DELETE"]}]
    body = {"origin": "https://draft.example", "method": "DELETE", "rules": draft}
    answer = api.call("POST", f"/tenants/{A}/cors/evaluate", "A", json_body=body)
    assert answer.status_code == 200, answer.get_json()
    got = body_of(answer)
    assert (got["allowed"], got["rule"]) == (True, 0)
    saved = body_of(
        api.call("POST", f"/tenants/{A}/cors/evaluate", json_body={**body, "rules": None})
    )
    assert saved["allowed"] is False
    assert api.raw_row(A) == before


def test_evaluate_an_invalid_draft_names_its_problems(api: Api) -> None:
    body = {
        "origin": "https://a.example",
        "method": "GET",
        "rules": [{"domain": "a.example", "max_age": 90000, "bogus": 1}],
    }
    answer = api.call("POST", f"/tenants/{A}/cors/evaluate", json_body=body)
    assert answer.status_code == 400
    problems = body_of(answer)["problems"]
    assert {p["path"] for p in problems} == {"rules[0].max_age", "rules[0].bogus"}
    lines = check_lines(body["rules"])
    for problem in problems:
        with_value, without = as_check_line(problem)
        assert with_value in lines or without in lines


EVALUATE_CASES = [
    # (name, body without rules)
    ("preflight allowed", {"origin": "https://app.acme.example", "method": "PUT", "path": "/ws/a"}),
    ("preflight with headers", {"origin": "https://app.acme.example", "method": "PUT",
                                "request_headers": ["X-Custom", "Content-Type"], "path": "/ws/a"}),
    ("preflight with a refused header", {"origin": "https://app.acme.example", "method": "GET",
                                         "request_headers": ["X-Other"], "path": "/"}),
    ("preflight refused method", {"origin": "https://app.acme.example", "method": "DELETE"}),
    ("preflight unknown origin", {"origin": "https://evil.example", "method": "GET"}),
    ("preflight wrong scheme", {"origin": "http://app.acme.example", "method": "GET"}),
    ("preflight other path", {"origin": "https://paths.example", "method": "GET", "path": "/other"}),
    ("preflight path", {"origin": "https://paths.example", "method": "GET", "path": "/api/v1/x"}),
    ("preflight credentials", {"origin": "https://creds.example", "method": "POST"}),
    ("preflight any origin", {"origin": "https://any.example", "method": "GET", "path": "/pub/x"}),
    ("request allowed", {"origin": "https://app.acme.example", "method": "GET", "preflight": False}),
    ("request refused", {"origin": "https://evil.example", "method": "GET", "preflight": False}),
    ("request credentials", {"origin": "https://creds.example", "method": "POST", "preflight": False}),
    ("request no path match", {"origin": "https://paths.example", "method": "GET", "path": "/o",
                               "preflight": False}),
]  # fmt: skip
EVALUATE_RULES = [
    {"domain": "app.acme.example", "methods": ["GET", "PUT"], "request_headers": ["X-Custom"],
     "expose_headers": ["X-Out"], "allow_caching": True, "max_age": 120},
    {"domain": "paths.example", "paths": ["/api/*"]},
    {"domain": "creds.example", "allow_credentials": True, "methods": ["POST"],
     "allow_private_network": True},
    {"domain": "*", "allow_any_origin": True, "paths": ["/pub/*"]},
]  # fmt: skip
SERVER_VARIANTS = {
    "defaults": {},
    "reject and debug": {
        "server": {"reject_disallowed": True, "debug_header": True, "preflight_status": 204},
        "cors": {"defaults": {"request_headers": ["X-Trace"], "expose_headers": ["X-Req"]}},
    },
}


def _data_plane_answer(
    base: dict[str, Any], body: dict[str, Any]
) -> tuple[int, list[tuple[str, str]]]:
    """What the file-mode data plane sends for the request *body* describes."""
    from werkzeug.test import Client

    import websvc

    token = "data-plane-token"
    config = {
        **base,
        "tenants": {
            A: {
                "hosts": A_HOSTS,
                "users": [{"name": "dp-user", "token_sha256": sha256(token)}],
                "cors": EVALUATE_RULES,
            }
        },
    }
    client = Client(websvc.create_app(config))
    preflight = body.get("preflight", True)
    headers = {"Origin": body["origin"]}
    if preflight:
        headers["Access-Control-Request-Method"] = body["method"]
        if body.get("request_headers"):
            headers["Access-Control-Request-Headers"] = ",".join(body["request_headers"])
    else:
        import base64

        headers["Authorization"] = "Basic " + base64.b64encode(f"dp-user:{token}".encode()).decode()
    answer = client.open(
        body.get("path", "/"),
        method="OPTIONS" if preflight else body["method"],
        base_url=f"https://{A_HOSTS[0]}",
        headers=headers,
    )
    return answer.status_code, list(answer.headers.items())


def _cors(headers: list[tuple[str, str]] | list[list[str]]) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name, value in headers
        if name.lower().startswith("access-control-")
        or name.lower() in ("vary", "x-websvc-cors-reason")
    ]


@pytest.mark.parametrize("variant", list(SERVER_VARIANTS))
@pytest.mark.parametrize(("case", "body"), EVALUATE_CASES, ids=[c for c, _ in EVALUATE_CASES])
def test_evaluate_headers_equal_the_data_planes(
    db: Path, variant: str, case: str, body: dict[str, Any]
) -> None:
    base = SERVER_VARIANTS[variant]
    api = make_api(db)
    api.app.settings.base.update(base)  # as if the config file held these tables
    api.call("PUT", f"/tenants/{A}", json_body={"hosts": A_HOSTS})
    for shape in ("saved", "draft"):
        if shape == "saved":
            put = api.call("PUT", f"/tenants/{A}/cors", json_body={"rules": EVALUATE_RULES},
                           headers=api.if_match(A))  # fmt: skip
            assert put.status_code == 200, put.get_json()
            sent = body
        else:
            api.call("PUT", f"/tenants/{A}/cors", json_body={"rules": []}, headers=api.if_match(A))
            sent = {**body, "rules": EVALUATE_RULES}
        answer = api.call("POST", f"/tenants/{A}/cors/evaluate", json_body=sent)
        assert answer.status_code == 200, answer.get_json()
        got = body_of(answer)
        status, plane_headers = _data_plane_answer(base, body)
        preflight = body.get("preflight", True)
        if preflight or got["status"] is not None:
            # websvc answers itself: the status and every header are the data plane's
            assert got["status"] == status, (shape, got, status)
            assert got["headers"] == [list(h) for h in plane_headers], shape
        else:
            # the API answers (here a 404: no API is mounted); websvc adds its CORS headers
            plane_cors = _cors(plane_headers)
            evaluated = _cors(got["headers"])
            assert [h for h in evaluated if h[0] != "Vary"] == [
                h for h in plane_cors if h[0] != "Vary"
            ], shape
            for name, value in evaluated:
                if name == "Vary":
                    assert any(n == "Vary" and value in v for n, v in plane_cors), shape
        assert _cors(got["headers"]) == _cors(plane_headers) or not preflight
    api.store.close()


def test_evaluate_treats_a_normal_request_as_authenticated(api: Api) -> None:
    body = {"origin": "https://app.acme.example", "method": "GET", "preflight": False}
    got = body_of(api.call("POST", f"/tenants/{A}/cors/evaluate", json_body=body))
    assert got["status"] is None  # the API would answer (no 401: evaluate asks about CORS only)
    assert got["allowed"] is True


# -- the audit log ----------------------------------------------------------------------------------


def test_audit_operator_sees_everything_newest_first(api: Api) -> None:
    api.call("GET", f"/tenants/{B}/cors", "A")  # denied
    answer = api.call("GET", "/audit")
    assert answer.status_code == 200
    entries = body_of(answer)["entries"]
    keys = {"at", "actor", "tenant", "method", "path", "status", "outcome", "request_id",
            "remote_addr"}  # fmt: skip
    assert all(set(e) == keys for e in entries)
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    newest = entries[0]
    assert (newest["actor"], newest["tenant"], newest["method"], newest["status"],
            newest["outcome"]) == (f"tenant:{A}", B, "GET", 404, "denied")  # fmt: skip
    assert newest["path"] == f"{PREFIX}/tenants/{B}/cors"
    assert {e["tenant"] for e in entries} >= {A, B}
    assert entries[-1]["method"] == "PUT" and entries[-1]["path"] == f"{PREFIX}/tenants/{A}"


def test_audit_request_id_is_the_answers(api: Api) -> None:
    answer = api.call("GET", f"/tenants/{GHOST}/cors")
    newest = body_of(api.call("GET", "/audit", query={"limit": "1"}))["entries"][0]
    assert newest["request_id"] == answer.headers["X-Request-Id"]


def test_audit_filters(api: Api) -> None:
    only_b = body_of(api.call("GET", "/audit", query={"tenant": B}))["entries"]
    assert only_b and all(e["tenant"] == B for e in only_b)
    two = body_of(api.call("GET", "/audit", query={"limit": "2"}))["entries"]
    assert len(two) == 2
    # a read that succeeds is not audited: the second read sees what the first saw
    assert two == body_of(api.call("GET", "/audit"))["entries"][:2]
    assert api.call("GET", "/audit", query={"limit": "x"}).status_code == 400


def test_audit_a_tenant_sees_its_own(api: Api) -> None:
    api.call("GET", f"/tenants/{B}/cors", "A")  # by A, about B: A sees it, B does too
    api.call("GET", f"/tenants/{B}/cors/revisions", "B")  # by B about B: A does not see it
    api.call("PUT", f"/tenants/{B}/cors", "B", json_body={"rules": []}, headers=api.if_match(B))
    a_sees = body_of(api.call("GET", "/audit", "A"))["entries"]
    assert a_sees
    assert all(e["actor"] == f"tenant:{A}" or e["tenant"] == A for e in a_sees)
    assert any(e["tenant"] == B and e["actor"] == f"tenant:{A}" for e in a_sees)
    b_sees = body_of(api.call("GET", "/audit", "B"))["entries"]
    assert all(e["actor"] == f"tenant:{B}" or e["tenant"] == B for e in b_sees)
    assert any(e["actor"] == f"tenant:{A}" for e in b_sees)  # A's attempt on B's path
    assert any(e["method"] == "PUT" and e["actor"] == f"tenant:{B}" for e in b_sees)
    # a tenant asking for another tenant's entries: the same 404 as for any other path
    other = api.call("GET", "/audit", "A", query={"tenant": B})
    assert (other.status_code, body_of(other)) == (404, {"error": "no such tenant"})
    own = body_of(api.call("GET", "/audit", "A", query={"tenant": A}))["entries"]
    assert own and all(e["actor"] == f"tenant:{A}" or e["tenant"] == A for e in own)


def test_every_answer_is_json_and_not_cached(api: Api) -> None:
    for method, path in (("GET", "/whoami"), ("GET", "/nope"), ("POST", "/whoami"),
                         ("GET", f"/tenants/{A}/cors")):  # fmt: skip
        answer = api.call(method, path)
        assert answer.mimetype == "application/json"
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Request-Id"]
    assert api.call("POST", "/whoami").status_code == 405
    assert api.call("GET", "/nope").status_code == 404


def test_the_data_plane_rules_are_those_the_api_saved(api: Api) -> None:
    """What GET answers, written into a file, loads and means what the store holds."""
    rules = body_of(api.call("GET", f"/tenants/{B}/cors"))["rules"]
    config = load_config({"tenants": {B: {"hosts": ["x.test"], "cors": rules}}})
    assert config is not None
    assert rules_of(api, B) == B_RULES


# -- what the fuzzing and the probes found (each was a 500, or an answer that was not JSON) ------------


def test_a_user_digest_in_upper_case_is_kept_in_lower_case(empty_api: Api) -> None:
    digest = sha256("token-of-u1").upper()
    answer = empty_api.call(
        "PUT", "/tenants/new", json_body={"users": [{"name": "u1", "token_sha256": digest}]}
    )
    assert answer.status_code == 201, answer.data
    state = empty_api.store.tenant("new")
    assert state is not None
    assert [dict(u) for u in state.users] == [{"name": "u1", "token_sha256": digest.lower()}]


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("origin", "https://a.example\r\nSet-Cookie: x=1", "origin"),
        ("method", "GET\n", "method"),
        ("path", "/a\x00b", "path"),
        ("request_headers", ["X-Ok", "X\rY"], "request_headers[1]"),
    ],
)
def test_evaluate_refuses_what_no_http_request_can_hold(
    api: Api, field: str, value: Any, path: str
) -> None:
    body = {"origin": "https://app.acme.example", "method": "GET", field: value}
    answer = api.call("POST", f"/tenants/{A}/cors/evaluate", json_body=body)
    assert answer.status_code == 400
    [problem] = body_of(answer)["problems"]
    assert (problem["path"], problem["why"]) == (path, "contains a control character")


@pytest.mark.parametrize("field", ["origin", "path", "method"])
def test_evaluate_refuses_a_lone_surrogate(api: Api, field: str) -> None:
    body = {"origin": "https://app.acme.example", "method": "GET", field: "/\ud800"}
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as \\ud800, as JSON allows
    answer = api.call("POST", f"/tenants/{A}/cors/evaluate", data=raw.encode())
    assert answer.status_code == 400
    [problem] = body_of(answer)["problems"]
    assert problem["path"] == field


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_numbers_json_cannot_hold_are_not_json(api: Api, number: str) -> None:
    raw = '{"rules": [{"domain": "a.example", "max_age": ' + number + "}]}"
    answer = api.call("PUT", f"/tenants/{A}/cors", data=raw.encode(), headers=api.if_match(A))
    assert answer.status_code == 400
    json.loads(answer.data, parse_constant=pytest.fail)  # the answer itself is strict JSON
    assert "not JSON" in body_of(answer)["error"]


def test_versions_beyond_what_a_store_holds(api: Api) -> None:
    huge = 2**63
    assert api.call("GET", f"/tenants/{A}/cors/revisions/{huge}").status_code == 404
    answer = api.call(
        "POST", f"/tenants/{A}/cors/rollback", json_body={"version": huge}, headers=api.if_match(A)
    )
    assert answer.status_code == 400
    assert body_of(answer)["problems"][0]["path"] == "version"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (f"/tenants/{A}/cors", {"format": "xml"}),
        (f"/tenants/{A}/cors", {"formt": "boomi"}),
        (f"/tenants/{A}/cors/revisions", {"limit": "1"}),
        ("/audit", {"tenat": B}),
        ("/audit", {"limit": "0"}),
        ("/audit", {"limit": "1001"}),
        ("/audit", {"limit": "-1"}),
        ("/audit", {"limit": "²"}),
        ("/whoami", {"x": "1"}),
    ],
)
def test_an_unknown_or_bad_query_parameter_is_400(
    api: Api, path: str, query: dict[str, str]
) -> None:
    answer = api.call("GET", path, query=query)
    assert answer.status_code == 400
    assert set(body_of(answer)) == {"error"}
    entry = api.store.audit_entries(limit=1)[0]
    assert (entry.status, entry.outcome) == (400, "invalid")


def test_query_parameters_are_checked_after_the_token(api: Api) -> None:
    assert api.call("GET", "/whoami", None, query={"x": "1"}).status_code == 401
    assert api.call("GET", f"/tenants/{B}/cors", "A", query={"x": "1"}).status_code == 404
    assert api.call("GET", "/openapi.json", None, query={"v": "2"}).status_code == 200


def test_limit_bounds(api: Api) -> None:
    assert api.call("GET", "/audit", query={"limit": "1000"}).status_code == 200
    assert len(body_of(api.call("GET", "/audit", query={"limit": "1"}))["entries"]) == 1


def test_put_tenant_audits_the_status_it_answers(api: Api) -> None:
    for status in (200, 201):
        name = A if status == 200 else "fresh"
        answer = api.call("PUT", f"/tenants/{name}", json_body={"hosts": [f"{name}.other.test"]})
        assert answer.status_code == status
        entry = api.store.audit_entries(limit=1)[0]
        assert (entry.status, entry.outcome, entry.tenant) == (status, "ok", name)


def test_a_bug_is_still_one_json_line_and_audited(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(request: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api.app.handlers, "revisions", broken)
    answer = api.call("GET", f"/tenants/{A}/cors/revisions", "A")
    assert answer.status_code == 500
    assert set(body_of(answer)) == {"error"}
    assert "a bug" not in answer.get_data(as_text=True)  # nothing of the internals
    entry = api.store.audit_entries(limit=1)[0]
    assert (entry.status, entry.actor) == (500, f"tenant:{A}")
