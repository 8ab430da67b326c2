"""What real Chromium does with websvc's answers: one test per CORS promise.

Every test runs against ``websvc serve`` and gunicorn (the ``stack``
fixture). Each uses its own path so that preflight counts and Chromium's
preflight cache never mix between tests.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.browser.conftest import Stack

PUT_CUSTOM = {"method": "PUT", "headers": {"X-Custom-Header": "1"}, "body": "hello"}


@pytest.fixture
def path(request: pytest.FixtureRequest) -> str:
    """A path of this test's own below /ws/rest/echo (every kind has its servers)."""
    return f"/ws/rest/echo/{request.node.originalname}"


def _logged(stack: Stack, method: str, path: str, status: int, config: str = "main") -> int:
    """How many such requests the server logged, once its log has settled.

    A server writes its access line after the response is on its way, so
    the page can see the answer a moment before the line exists: wait until
    the count has not changed for a short while (5 s at most).
    """
    line = re.compile(rf'"{method} {re.escape(path)}[? ][^"]*" {status}\b')
    deadline = time.monotonic() + 5
    count, stable_since = -1, time.monotonic()
    while True:
        now = len(line.findall(stack.servers[config].log))
        if now != count:
            count, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since > 0.3 or time.monotonic() > deadline:
            return count
        time.sleep(0.02)


def test_allowed_put_with_allowed_custom_header(stack: Stack, path: str) -> None:
    result = stack.fetch(path, **PUT_CUSTOM)
    assert result["ok"] and result["status"] == 200, result
    body = json.loads(result["body"])
    assert (body["method"], body["body"], body["tenant"]) == ("PUT", "hello", "alpha")


def test_header_not_allowed_fails(stack: Stack, path: str) -> None:
    result = stack.fetch(path, method="PUT", headers={"X-Other": "1"})
    assert not result["ok"] and "Failed to fetch" in result["error"]
    assert _logged(stack, "PUT", path, 200) == 0, "the PUT must never be sent"


def test_method_not_allowed_fails(stack: Stack, path: str) -> None:
    result = stack.fetch(path, method="DELETE")
    assert not result["ok"]
    assert _logged(stack, "OPTIONS", path, 200) == 1 and _logged(stack, "DELETE", path, 200) == 0


def test_credentials_include_reads_only_exposed_headers(stack: Stack, path: str) -> None:
    result = stack.fetch(path, credentials="include", read=("X-Echo-Method", "X-Echo-Tenant"))
    assert result["ok"] and result["status"] == 200, result
    assert result["headers"] == {"X-Echo-Method": "GET", "X-Echo-Tenant": None}


def test_credentials_include_fails_without_allow_credentials(stack: Stack) -> None:
    path = "/ws/rest/echo/nocred/x"
    assert stack.fetch(path, read=("X-Echo-Method",))["headers"] == {"X-Echo-Method": "GET"}
    result = stack.fetch(path, credentials="include")
    assert not result["ok"], "no Access-Control-Allow-Credentials: Chromium refuses"


def test_simple_get_from_unlisted_origin_is_unreadable(stack: Stack, path: str) -> None:
    result = stack.fetch(path, page="unlisted")
    assert not result["ok"]
    assert _logged(stack, "GET", path, 200) == 1, "sent and answered, but JS cannot read it"
    assert _logged(stack, "OPTIONS", path, 200) == 0, "a simple GET is not preflighted"


def test_method_case_trap_patch_vs_PATCH(stack: Stack) -> None:
    # Chromium upper-cases only DELETE GET HEAD OPTIONS POST PUT: 'patch' stays
    # 'patch' in Access-Control-Request-Method and does not match the rule's PATCH.
    assert not stack.fetch("/ws/rest/echo/patch/lower", method="patch")["ok"]
    result = stack.fetch("/ws/rest/echo/patch/upper", method="PATCH")
    assert result["ok"] and json.loads(result["body"])["method"] == "PATCH"


def test_boomi_auth_selects_the_tenant(stack: Stack) -> None:
    result = stack.fetch("/ws/rest/echo/beta/x", user="bob", **PUT_CUSTOM)
    assert result["ok"] and result["status"] == 200, result
    assert json.loads(result["body"])["tenant"] == "beta"
    # alpha would allow this path for the page's origin; beta (named by boomi_auth) does not.
    assert not stack.fetch("/ws/rest/echo/not-beta", user="bob", **PUT_CUSTOM)["ok"]
    assert stack.fetch("/ws/rest/echo/not-beta", user="alice", **PUT_CUSTOM)["ok"]


def test_bad_token_401_is_readable(stack: Stack, path: str) -> None:
    result = stack.fetch(path, token="wrong", **PUT_CUSTOM)
    assert result["ok"] and result["status"] == 401, result
    assert _logged(stack, "OPTIONS", path, 200) == 1, "the preflight passed without a token check"


def test_preflight_cached_with_allow_caching(stack: Stack) -> None:
    path = "/ws/rest/echo/cached/x"
    for _ in range(3):
        assert stack.fetch(path, **PUT_CUSTOM)["status"] == 200
    assert _logged(stack, "OPTIONS", path, 200) == 1
    assert _logged(stack, "PUT", path, 200) == 3


def test_every_call_preflights_without_caching(stack: Stack, path: str) -> None:
    for _ in range(3):
        assert stack.fetch(path, **PUT_CUSTOM)["status"] == 200
    assert _logged(stack, "OPTIONS", path, 200) == 3, "Max-Age: 0 disables Chromium's cache"


def test_preflight_status_204(stack: Stack, path: str) -> None:
    result = stack.fetch(path, config="status204", **PUT_CUSTOM)
    assert result["ok"] and result["status"] == 200
    assert _logged(stack, "OPTIONS", path, 204, config="status204") == 1


def test_reject_disallowed_fails_the_fetch(stack: Stack, path: str) -> None:
    assert not stack.fetch(path, config="reject", method="PUT", headers={"X-Other": "1"})["ok"]
    assert _logged(stack, "OPTIONS", path, 403, config="reject") == 1
    assert not stack.fetch(path, config="reject", page="unlisted")["ok"]
    assert _logged(stack, "GET", path, 403, config="reject") == 1, "refused before the API"
    assert stack.fetch(path, config="reject", **PUT_CUSTOM)["ok"]


def test_wrap_legacy_app_behaves_the_same(stack: Stack) -> None:
    result = stack.fetch("/legacy/any/path", config="wrap", read=("X-Echo-Method",), **PUT_CUSTOM)
    assert result["ok"] and result["headers"] == {"X-Echo-Method": "PUT"}, result
    assert json.loads(result["body"])["path"] == "/legacy/any/path"
    assert not stack.fetch("/legacy/x", config="wrap", method="PUT", headers={"X-Other": "1"})["ok"]
    assert stack.fetch("/legacy/x", config="wrap", token="bad", **PUT_CUSTOM)["status"] == 401


def test_any_origin_rule_star_without_credentials_only(stack: Stack) -> None:
    path = "/ws/rest/echo/public/x"
    assert stack.fetch(path, page="unlisted")["ok"], "Access-Control-Allow-Origin: * is readable"
    assert not stack.fetch(path, page="unlisted", credentials="include")["ok"], (
        "Chromium refuses * with credentials"
    )


def test_star_request_headers_never_cover_authorization(stack: Stack) -> None:
    path = "/ws/rest/echo/anyheader/x"
    assert stack.fetch(path, method="PUT", headers={"X-Anything-At-All": "1"})["ok"]
    result = stack.fetch(
        path, user=None, method="PUT", headers={"Authorization": "Basic YWxpY2U6YWxpY2UtdG9rZW4="}
    )
    assert not result["ok"]


def test_post_with_safelisted_content_type_is_not_preflighted(stack: Stack, path: str) -> None:
    result = stack.fetch(path, method="POST", headers={"Content-Type": "text/plain"}, body="x")
    assert result["ok"] and result["status"] == 200
    assert _logged(stack, "OPTIONS", path, 200) == 0
