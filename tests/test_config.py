"""Config validation (SPEC §3, the end of §4, §6): what ``load_config`` refuses and how.

Every refusal is a :class:`ConfigError` whose ``problems`` are one line each,
``FILE: key.path: value why``, all of them at once. The tables below name one
case per refusal; each case lists substrings that must appear in the problem
lines (each substring in some line).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from websvc.config import (
    DEFAULT_REQUEST_HEADERS,
    Config,
    ConfigError,
    CorsDefaults,
    RuleConfig,
    ServerConfig,
    load_config,
)

TOKEN_SHA = hashlib.sha256(b"acme-token").hexdigest()
PATH_APP = "websvc.demo:echo"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def rules(*cors: dict[str, Any], **server: Any) -> dict[str, Any]:
    """A config dict with tenant ``acme`` holding *cors* rules."""
    config: dict[str, Any] = {"tenants": {"acme": {"cors": list(cors)}}}
    if server:
        config["server"] = server
    return config


def rule(**keys: Any) -> dict[str, Any]:
    """A rule for ``a.com`` with *keys* added or replaced."""
    return {"domain": "a.com", **keys}


def tenant(**keys: Any) -> dict[str, Any]:
    """A config dict with tenant ``acme`` made of *keys*."""
    return {"tenants": {"acme": keys}}


def load(source: dict[str, Any] | str, tmp_path: Path) -> Config:
    """Load a dict as is, or TOML text from a real file in *tmp_path*."""
    if isinstance(source, str):
        path = tmp_path / "websvc.toml"
        path.write_text(source, encoding="utf-8")
        return load_config(path)
    return load_config(source)


def refused(source: dict[str, Any] | str, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(source, tmp_path)
    problems = info.value.problems
    assert problems, "a ConfigError must name at least one problem"
    assert str(info.value) == "\n".join(problems)
    label = str(tmp_path / "websvc.toml") if isinstance(source, str) else "<dict>"
    for line in problems:
        assert line.startswith(f"{label}: "), line
        assert not CONTROL.search(line), line  # never a raw control character
        assert "<object object" not in line, line
    return problems


def assert_named(problems: list[str], expected: list[str]) -> None:
    for text in expected:
        assert any(text in line for line in problems), f"{text!r} not in {problems}"


def only_rule(config: Config) -> RuleConfig:
    (only,) = config.tenants
    (one,) = only.cors
    return one


# -- refusals: one case each ---------------------------------------------------

REFUSALS = [
    # the "*" origin
    pytest.param(
        rules(rule(domain="*", allow_any_origin=True, allow_credentials=True)),
        ["tenants.acme.cors[0].allow_credentials: must be false"],
        id="star-origin-with-credentials",
    ),
    pytest.param(
        rules(rule(domain="*")),
        ['tenants.acme.cors[0].domain: "*" matches any origin'],
        id="bare-star-without-allow_any_origin",
    ),
    pytest.param(
        rules(rule(domain="*", allow_any_origin=False)),
        ['tenants.acme.cors[0].domain: "*" matches any origin'],
        id="bare-star-with-allow_any_origin-false",
    ),
    pytest.param(
        rules(rule(allow_any_origin=True)),
        ["tenants.acme.cors[0].allow_any_origin: is only allowed on the domain"],
        id="allow_any_origin-on-exact-domain",
    ),
    pytest.param(
        rules(rule(domain="*.a.com", allow_any_origin=True)),
        ["tenants.acme.cors[0].allow_any_origin: is only allowed on the domain"],
        id="allow_any_origin-on-wildcard-domain",
    ),
    pytest.param(
        rules(rule(domain="*", allow_any_origin="yes")),
        ['tenants.acme.cors[0].allow_any_origin: "yes" is not true or false'],
        id="allow_any_origin-not-bool",
    ),
    pytest.param(
        rules(rule(expose_headers=["*"], allow_credentials=True)),
        ['tenants.acme.cors[0].expose_headers: "*" is not allowed with allow_credentials'],
        id="expose-star-with-credentials",
    ),
    # max_age
    pytest.param(
        rules(rule(max_age=-1)),
        ["tenants.acme.cors[0].max_age: -1 is not a number of seconds from 0 to 86400"],
        id="max_age-negative",
    ),
    pytest.param(
        rules(rule(max_age=86401)),
        ["tenants.acme.cors[0].max_age: 86401 is not a number of seconds from 0 to 86400"],
        id="max_age-over-a-day",
    ),
    pytest.param(
        rules(rule(max_age=True)),
        ["tenants.acme.cors[0].max_age: true is not a number of seconds"],
        id="max_age-bool",
    ),
    pytest.param(
        rules(rule(max_age="600")),
        ['tenants.acme.cors[0].max_age: "600" is not a number of seconds'],
        id="max_age-string",
    ),
    pytest.param(
        rules(rule(max_age=60.5)),
        ["tenants.acme.cors[0].max_age: 60.5 is not a number of seconds"],
        id="max_age-float",
    ),
    # methods
    pytest.param(
        rules(rule(methods=["GET", "CONNECT"])),
        ['tenants.acme.cors[0].methods: "CONNECT" is a forbidden method'],
        id="method-CONNECT",
    ),
    pytest.param(
        rules(rule(methods=["trace"])),
        ['tenants.acme.cors[0].methods: "trace" is a forbidden method'],
        id="method-trace-lower-case",
    ),
    pytest.param(
        rules(rule(methods=["Track"])),
        ['tenants.acme.cors[0].methods: "Track" is a forbidden method'],
        id="method-Track-mixed-case",
    ),
    pytest.param(
        rules(rule(methods=["GET, DELETE"])),
        ['tenants.acme.cors[0].methods: "GET, DELETE" is not a method'],
        id="method-not-a-token",
    ),
    pytest.param(
        rules(rule(methods=[])),
        ["tenants.acme.cors[0].methods: [] is empty"],
        id="methods-empty",
    ),
    pytest.param(
        rules(rule(methods="GET")),
        ['tenants.acme.cors[0].methods: "GET" is not a list of strings'],
        id="methods-not-a-list",
    ),
    # header names
    pytest.param(
        rules(rule(request_headers=["X Custom"])),
        ['tenants.acme.cors[0].request_headers: "X Custom" is not an HTTP header name'],
        id="request-header-with-space",
    ),
    pytest.param(
        rules(rule(request_headers=["X-A:b"])),
        ['tenants.acme.cors[0].request_headers: "X-A:b" is not an HTTP header name'],
        id="request-header-with-colon",
    ),
    pytest.param(
        rules(rule(expose_headers=["Foo,Bar"])),
        ['tenants.acme.cors[0].expose_headers: "Foo,Bar" is not an HTTP header name'],
        id="expose-header-with-comma",
    ),
    pytest.param(
        rules(rule(request_headers=["X-Ä"])),
        ['tenants.acme.cors[0].request_headers: "X-\\u00c4" is not an HTTP header name'],
        id="request-header-non-ascii",
    ),
    pytest.param(
        rules(rule(request_headers=[""])),
        ['tenants.acme.cors[0].request_headers: "" is not an HTTP header name'],
        id="request-header-empty",
    ),
    pytest.param(
        {"cors": {"defaults": {"request_headers": ["bad header"]}}},
        ['cors.defaults.request_headers: "bad header" is not an HTTP header name'],
        id="defaults-request-header-not-token",
    ),
    pytest.param(
        {"cors": {"defaults": {"expose_headers": ["a b"]}}},
        ['cors.defaults.expose_headers: "a b" is not an HTTP header name'],
        id="defaults-expose-header-not-token",
    ),
    pytest.param(
        {"cors": {"defaults": {"request_headers": ["*"]}}},
        ['cors.defaults.request_headers: "*" is not allowed here'],
        id="defaults-request-headers-star",
    ),
    # control characters in any string value (header injection, log forging)
    pytest.param(
        rules(rule(domain="a.com\r\nSet-Cookie: x=1")),
        ['tenants.acme.cors[0].domain: "a.com\\r\\nSet-Cookie: x=1" contains a control character'],
        id="control-CRLF-in-domain",
    ),
    pytest.param(
        rules(rule(request_headers=["X-A\r\nSet-Cookie: x"])),
        ["tenants.acme.cors[0].request_headers[0]: ", "contains a control character"],
        id="control-CRLF-in-request-header",
    ),
    pytest.param(
        rules(rule(expose_headers=["Foo", "Bar\n"])),
        ['tenants.acme.cors[0].expose_headers[1]: "Bar\\n" contains a control character'],
        id="control-LF-in-expose-header",
    ),
    pytest.param(
        rules(rule(methods=["GET\r"])),
        ['tenants.acme.cors[0].methods[0]: "GET\\r" contains a control character'],
        id="control-CR-in-method",
    ),
    pytest.param(
        rules(rule(protocols=["https\t"])),
        ['tenants.acme.cors[0].protocols[0]: "https\\t" contains a control character'],
        id="control-TAB-in-protocol",
    ),
    pytest.param(
        rules(rule(paths=["/ws\x00/*"])),
        ['tenants.acme.cors[0].paths[0]: "/ws\\u0000/*" contains a control character'],
        id="control-NUL-in-path",
    ),
    pytest.param(
        {"cors": {"defaults": {"expose_headers": ["X-\x7f"]}}},
        ['cors.defaults.expose_headers[0]: "X-\\u007f" contains a control character'],
        id="control-DEL-in-defaults",
    ),
    pytest.param(
        tenant(hosts=["acme.example.net\r\n"]),
        ['tenants.acme.hosts[0]: "acme.example.net\\r\\n" contains a control character'],
        id="control-in-host",
    ),
    pytest.param(
        tenant(users=[{"name": "acme\n1", "token_sha256": TOKEN_SHA}]),
        ['tenants.acme.users[0].name: "acme\\n1" contains a control character'],
        id="control-in-user-name",
    ),
    pytest.param(
        tenant(users=[{"name": "acme-1", "token": "tok\r\nen"}]),
        ["tenants.acme.users[0].token: is not a non-empty string without control characters"],
        id="control-in-plain-token",
    ),
    pytest.param(
        {"tenants": {"ac\nme": {}}},
        ['tenants: "ac\\nme" is not a usable tenant name'],
        id="control-in-tenant-name",
    ),
    pytest.param(
        {"apis": [{"path": "/ws/\r\n", "app": PATH_APP}]},
        ['apis[0].path: "/ws/\\r\\n" contains a control character'],
        id="control-in-api-path",
    ),
    pytest.param(
        {"server": {"authentication": "basic\r\n"}},
        ['server.authentication: "basic\\r\\n" is not a known authentication'],
        id="control-in-authentication",
    ),
    # domains
    pytest.param(
        rules(rule(domain="null")),
        ['tenants.acme.cors[0].domain: "null" is refused: the null origin never matches'],
        id="domain-null",
    ),
    pytest.param(
        rules(rule(domain="NULL")),
        ['tenants.acme.cors[0].domain: "NULL" is refused'],
        id="domain-NULL-upper-case",
    ),
    pytest.param(
        rules(rule(domain="https://null")),
        ['tenants.acme.cors[0].domain: "https://null" is refused'],
        id="domain-null-with-scheme",
    ),
    pytest.param(
        rules(rule(domain="ftp://a.com")),
        ['tenants.acme.cors[0].domain: "ftp://a.com" has a scheme other than http or https'],
        id="domain-scheme-ftp",
    ),
    pytest.param(
        rules(rule(domain="wss://a.com")),
        ['tenants.acme.cors[0].domain: "wss://a.com" has a scheme other than http or https'],
        id="domain-scheme-wss",
    ),
    pytest.param(
        rules(rule(domain="https://a.com/")),
        ['tenants.acme.cors[0].domain: "https://a.com/" is not a domain (no path'],
        id="domain-with-trailing-slash",
    ),
    pytest.param(
        rules(rule(domain="https://user@a.com")),
        ['tenants.acme.cors[0].domain: "https://user@a.com" is not a domain'],
        id="domain-with-userinfo",
    ),
    pytest.param(
        rules(rule(domain="a.com:70000")),
        ['tenants.acme.cors[0].domain: "a.com:70000" has a port that is not a port (1-65535)'],
        id="domain-port-out-of-range",
    ),
    pytest.param(
        rules(rule(domain="https://a.com:0")),
        ['tenants.acme.cors[0].domain: "https://a.com:0" has a port that is not a port'],
        id="domain-port-zero",
    ),
    pytest.param(
        rules(rule(domain="a.*.com")),
        ['tenants.acme.cors[0].domain: "a.*.com" has a * that is not a leading "*." label'],
        id="domain-star-inside",
    ),
    pytest.param(
        rules(rule(domain="*a.com")),
        ['tenants.acme.cors[0].domain: "*a.com" has a *'],
        id="domain-star-without-dot",
    ),
    pytest.param(
        rules(rule(domain="")),
        ['tenants.acme.cors[0].domain: "" is not a domain name or IP address'],
        id="domain-empty",
    ),
    pytest.param(
        rules(rule(domain="a..com")),
        ['tenants.acme.cors[0].domain: "a..com" is not a domain name or IP address'],
        id="domain-empty-label",
    ),
    pytest.param(
        rules(rule(domain="*.10.0.0.1")),
        ['tenants.acme.cors[0].domain: "*.10.0.0.1" is not a domain name or IP address'],
        id="domain-wildcard-ip",
    ),
    # hosts the URL standard's host parser rejects (SPEC §4): xn-- labels browsers refuse
    pytest.param(
        rules(rule(domain="xn--f")),
        [
            'tenants.acme.cors[0].domain: "xn--f" is not a valid host: '
            'the xn-- label "xn--f" is not valid Punycode'
        ],
        id="domain-xn--not-punycode",
    ),
    pytest.param(
        rules(rule(domain="https://*.xn--f.a.com:8443")),
        ['"https://*.xn--f.a.com:8443" is not a valid host: the xn-- label "xn--f" is not valid'],
        id="domain-xn--not-punycode-in-wildcard-with-scheme-and-port",
    ),
    pytest.param(
        rules(rule(domain="a.xn--.com")),
        ['"a.xn--.com" is not a valid host: the xn-- label "xn--" decodes to an empty label'],
        id="domain-xn--empty",
    ),
    pytest.param(
        rules(rule(domain="xn--abc-.com")),
        [
            '"xn--abc-.com" is not a valid host: the xn-- label "xn--abc-" decodes to "abc", which is all ASCII'
        ],
        id="domain-xn--all-ascii",
    ),
    pytest.param(
        rules(rule(domain="xn--abc.com")),
        [
            '"xn--abc.com" is not a valid host: the xn-- label "xn--abc" decodes to '
            '"\\u0082\\u0081\\u0080", which is not a valid label'
        ],
        id="domain-xn--decodes-to-control-characters",
    ),
    pytest.param(
        rules(rule(domain="XN--BCHER-2PA.example")),
        [
            '"XN--BCHER-2PA.example" is not a valid host: the xn-- label "xn--bcher-2pa" decodes '
            'to "b\\u00dccher", which browsers encode as "xn--bcher-kva"'
        ],
        id="domain-xn--upper-case-letter-inside",
    ),
    pytest.param(
        rules(rule(domain="xn--a-wbb.com")),
        ['the xn-- label "xn--a-wbb" decodes to "\\u0301a", which begins with a combining mark'],
        id="domain-xn--leading-combining-mark",
    ),
    pytest.param(
        rules(rule(domain="xn--e-xbb.com")),
        [
            'the xn-- label "xn--e-xbb" decodes to "e\\u0301", which is not in Unicode normalization form NFC'
        ],
        id="domain-xn--not-nfc",
    ),
    pytest.param(
        rules(rule(domain="a.0x1")),
        ['tenants.acme.cors[0].domain: "a.0x1" is not a domain name or IP address'],
        id="domain-ends-in-a-hex-number",
    ),
    pytest.param(
        rules({"methods": ["GET"]}),
        ["tenants.acme.cors[0].domain: missing"],
        id="domain-missing",
    ),
    pytest.param(
        rules({}),
        ["tenants.acme.cors[0].domain: missing"],
        id="rule-empty-table",
    ),
    pytest.param(
        rules(rule(domain=["a.com"])),
        ['tenants.acme.cors[0].domain: ["a.com"] is not a string'],
        id="domain-not-a-string",
    ),
    # ports
    pytest.param(
        rules(rule(ports=[0])),
        ["tenants.acme.cors[0].ports: 0 is not a port (1-65535)"],
        id="ports-zero",
    ),
    pytest.param(
        rules(rule(ports=[443, 70000])),
        ["tenants.acme.cors[0].ports: 70000 is not a port (1-65535)"],
        id="ports-70000",
    ),
    pytest.param(
        rules(rule(ports=["*", 443])),
        ['tenants.acme.cors[0].ports: "*" must be alone in the list (any port)'],
        id="ports-star-mixed",
    ),
    pytest.param(
        rules(rule(ports=[443, "*"])),
        ['tenants.acme.cors[0].ports: "*" must be alone in the list (any port)'],
        id="ports-star-mixed-last",
    ),
    pytest.param(
        rules(rule(ports=443)),
        ['tenants.acme.cors[0].ports: 443 is not a non-empty list of ports (or ["*"])'],
        id="ports-not-a-list",
    ),
    pytest.param(
        rules(rule(ports=[])),
        ["tenants.acme.cors[0].ports: [] is not a non-empty list of ports"],
        id="ports-empty",
    ),
    pytest.param(
        rules(rule(ports=["443"])),
        ['tenants.acme.cors[0].ports: "443" is not a port (1-65535)'],
        id="ports-string-item",
    ),
    pytest.param(
        rules(rule(ports=[True])),
        ["tenants.acme.cors[0].ports: true is not a port (1-65535)"],
        id="ports-bool-item",
    ),
    pytest.param(
        rules(rule(domain="a.com:8443", ports=[443])),
        ["tenants.acme.cors[0].ports: [443] contradicts the port 8443 in domain"],
        id="ports-contradict-domain-port",
    ),
    # protocols
    pytest.param(
        rules(rule(protocols=["ftp"])),
        ['tenants.acme.cors[0].protocols: "ftp" is not "http" or "https"'],
        id="protocols-ftp",
    ),
    pytest.param(
        rules(rule(protocols=["https", "ws"])),
        ['tenants.acme.cors[0].protocols: "ws" is not "http" or "https"'],
        id="protocols-ws-among-valid",
    ),
    pytest.param(
        rules(rule(protocols=[])),
        ["tenants.acme.cors[0].protocols: [] is empty"],
        id="protocols-empty",
    ),
    pytest.param(
        rules(rule(protocols="https")),
        ['tenants.acme.cors[0].protocols: "https" is not a list of strings'],
        id="protocols-not-a-list",
    ),
    pytest.param(
        rules(rule(domain="http://a.com", protocols=["https"])),
        ['tenants.acme.cors[0].protocols: ["https"] contradicts the scheme http in domain'],
        id="protocols-contradict-domain-scheme",
    ),
    # paths
    pytest.param(
        rules(rule(paths=["ws/rest/*"])),
        ['tenants.acme.cors[0].paths: "ws/rest/*" does not start with /'],
        id="paths-no-leading-slash",
    ),
    pytest.param(
        rules(rule(paths=["*"])),
        ['tenants.acme.cors[0].paths: "*" does not start with /'],
        id="paths-bare-star",
    ),
    pytest.param(
        rules(rule(paths=["/ws/*/echo"])),
        ['tenants.acme.cors[0].paths: "/ws/*/echo" has a * that is not a trailing "/*" prefix'],
        id="paths-star-in-the-middle",
    ),
    pytest.param(
        rules(rule(paths=["/ws*"])),
        ['tenants.acme.cors[0].paths: "/ws*" has a * that is not a trailing "/*" prefix'],
        id="paths-star-without-slash",
    ),
    pytest.param(
        rules(rule(paths=["/ws/**"])),
        ['tenants.acme.cors[0].paths: "/ws/**" has a * that is not a trailing "/*" prefix'],
        id="paths-double-star",
    ),
    pytest.param(
        rules(rule(paths=[])),
        ["tenants.acme.cors[0].paths: [] is empty (omit the key instead)"],
        id="paths-empty-list",
    ),
    pytest.param(
        rules(rule(paths="/ws/*")),
        ['tenants.acme.cors[0].paths: "/ws/*" is not a list of strings'],
        id="paths-not-a-list",
    ),
    # hosts
    pytest.param(
        tenant(hosts=["acme.example.net:8080"]),
        ['tenants.acme.hosts: "acme.example.net:8080" has a port; hosts are names without a port'],
        id="hosts-with-port",
    ),
    pytest.param(
        tenant(hosts=["[::1]:8080"]),
        ['tenants.acme.hosts: "[::1]:8080"'],
        id="hosts-ipv6-with-port",
    ),
    pytest.param(
        tenant(hosts=["acme example"]),
        ['tenants.acme.hosts: "acme example" is not a host name'],
        id="hosts-not-a-name",
    ),
    pytest.param(
        tenant(hosts=["api.xn--f.example"]),
        [
            'tenants.acme.hosts: "api.xn--f.example" is not a valid host: '
            'the xn-- label "xn--f" is not valid Punycode'
        ],
        id="hosts-xn--not-punycode",
    ),
    pytest.param(
        {"tenants": {"acme": {"hosts": ["a.example"]}, "beta": {"hosts": ["A.example"]}}},
        ['tenants.beta.hosts: "A.example" already belongs to tenant "acme"'],
        id="hosts-shared-by-two-tenants",
    ),
    # users and tokens
    pytest.param(
        {
            "tenants": {
                "acme": {"users": [{"name": "shared", "token_sha256": TOKEN_SHA}]},
                "beta": {"users": [{"name": "shared", "token_sha256": TOKEN_SHA}]},
            }
        },
        ['tenants.beta.users[0].name: "shared" is already a user of tenant "acme"'],
        id="user-name-duplicated-across-tenants",
    ),
    pytest.param(
        tenant(
            users=[
                {"name": "u", "token_sha256": TOKEN_SHA},
                {"name": "u", "token_sha256": TOKEN_SHA},
            ]
        ),
        ['tenants.acme.users[1].name: "u" is already a user of tenant "acme"'],
        id="user-name-duplicated-in-tenant",
    ),
    pytest.param(
        tenant(users=[{"name": "a:b", "token_sha256": TOKEN_SHA}]),
        ['tenants.acme.users[0].name: "a:b" is not a user name (non-empty, no colon)'],
        id="user-name-with-colon",
    ),
    pytest.param(
        tenant(users=[{"token_sha256": TOKEN_SHA}]),
        ["tenants.acme.users[0].name: missing"],
        id="user-name-missing",
    ),
    pytest.param(
        tenant(users=[{"name": "u", "token_sha256": "abc123"}]),
        ["tenants.acme.users[0].token_sha256: is not 64 hex digits"],
        id="token_sha256-too-short",
    ),
    pytest.param(
        tenant(users=[{"name": "u", "token_sha256": TOKEN_SHA + "0"}]),
        ["tenants.acme.users[0].token_sha256: is not 64 hex digits"],
        id="token_sha256-65-digits",
    ),
    pytest.param(
        tenant(users=[{"name": "u", "token_sha256": "g" * 64}]),
        ["tenants.acme.users[0].token_sha256: is not 64 hex digits"],
        id="token_sha256-not-hex",
    ),
    pytest.param(
        tenant(users=[{"name": "u", "token_sha256": 12345}]),
        ["tenants.acme.users[0].token_sha256: is not 64 hex digits"],
        id="token_sha256-not-a-string",
    ),
    pytest.param(
        tenant(users=[{"name": "u", "token_sha256": TOKEN_SHA, "token": "acme-token"}]),
        ["tenants.acme.users[0].token: set together with token_sha256"],
        id="token-and-token_sha256",
    ),
    pytest.param(
        tenant(users=[{"name": "u"}]),
        ["tenants.acme.users[0].token_sha256: missing"],
        id="token-missing",
    ),
    pytest.param(
        tenant(users=[{"name": "u", "token": ""}]),
        ["tenants.acme.users[0].token: is not a non-empty string"],
        id="plain-token-empty",
    ),
    # server
    pytest.param(
        rules(rule(), api_type="basic"),
        ['server.api_type: "basic" does not allow CORS rules (tenants acme have some)'],
        id="api_type-basic-with-rules",
    ),
    pytest.param(
        rules(rule(), api_type="intermediate"),
        ['server.api_type: "intermediate" does not allow CORS rules'],
        id="api_type-intermediate-with-rules",
    ),
    pytest.param(
        rules(rule(domain="null"), api_type="basic"),
        ['server.api_type: "basic" does not allow CORS rules', "cors[0].domain"],
        id="api_type-basic-with-only-bad-rules",
    ),
    pytest.param(
        {"server": {"api_type": "expert"}},
        ['server.api_type: "expert" is not one of: basic, intermediate, advanced'],
        id="api_type-unknown",
    ),
    pytest.param(
        {"server": {"authentication": "oauth"}},
        ['server.authentication: "oauth" is not a known authentication (basic, none)'],
        id="authentication-unknown-name",
    ),
    pytest.param(
        {"server": {"authentication": 1}},
        ["server.authentication: 1 is not a known authentication"],
        id="authentication-not-a-string",
    ),
    pytest.param(
        {"server": {"preflight_status": 201}},
        ["server.preflight_status: 201 is not 200 or 204"],
        id="preflight_status-201",
    ),
    pytest.param(
        {"server": {"preflight_status": "204"}},
        ['server.preflight_status: "204" is not 200 or 204'],
        id="preflight_status-string",
    ),
    pytest.param(
        {"server": {"preflight_status": True}},
        ["server.preflight_status: true is not 200 or 204"],
        id="preflight_status-bool",
    ),
    pytest.param(
        {"server": {"preflight_status": 204.0}},
        ["server.preflight_status: 204.0 is not 200 or 204"],
        id="preflight_status-float",
    ),
    pytest.param(
        {"server": {"reject_disallowed": "yes"}},
        ['server.reject_disallowed: "yes" is not true or false'],
        id="reject_disallowed-not-bool",
    ),
    # unknown keys (typos)
    pytest.param(
        {"servers": {}},
        ["servers: unknown key (expected one of: server, cors, apis, store, admin, tenants)"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        {"server": {"preflight-status": 204}},
        ["server.preflight-status: unknown key"],
        id="unknown-server-key",
    ),
    pytest.param(
        {"cors": {"default": {}}},
        ["cors.default: unknown key (expected one of: defaults)"],
        id="unknown-cors-key",
    ),
    pytest.param(
        {"cors": {"defaults": {"request_header": ["X-A"]}}},
        ["cors.defaults.request_header: unknown key"],
        id="unknown-defaults-key",
    ),
    pytest.param(
        rules(rule(allow_credential=True)),
        ["tenants.acme.cors[0].allow_credential: unknown key"],
        id="unknown-rule-key",
    ),
    pytest.param(
        rules(rule(), rule(domain="b.com", method=["GET"])),
        ["tenants.acme.cors[1].method: unknown key"],
        id="unknown-rule-key-second-rule",
    ),
    pytest.param(
        tenant(user=[]),
        ["tenants.acme.user: unknown key"],
        id="unknown-tenant-key",
    ),
    pytest.param(
        tenant(users=[{"name": "u", "token_sha256": TOKEN_SHA, "password": "x"}]),
        ["tenants.acme.users[0].password: unknown key"],
        id="unknown-user-key",
    ),
    pytest.param(
        {"apis": [{"path": "/x", "app": PATH_APP, "route": "/y"}]},
        ["apis[0].route: unknown key"],
        id="unknown-api-key",
    ),
    pytest.param(
        rules(rule(**{"max age": 5})),
        ['tenants.acme.cors[0]."max age": unknown key'],
        id="unknown-key-quoted",
    ),
    # shapes
    pytest.param(
        {"tenants": {"acme": {"cors": {"domain": "a.com"}}}},
        ['tenants.acme.cors: {"domain": "a.com"} is not a list of tables'],
        id="cors-not-a-list",
    ),
    pytest.param(
        {"tenants": {"acme": {"cors": ["a.com"]}}},
        ['tenants.acme.cors[0]: "a.com" is not a table'],
        id="rule-not-a-table",
    ),
    pytest.param(
        {"tenants": []},
        ["tenants: [] is not a table of tenants"],
        id="tenants-not-a-table",
    ),
    # [[apis]]
    pytest.param(
        {"apis": [{"path": "/ws/x", "app": "no_such_module_websvc_test:app"}]},
        ['apis[0].app: "no_such_module_websvc_test:app" cannot be imported'],
        id="api-app-module-missing",
    ),
    pytest.param(
        {"apis": [{"path": "/ws/x", "app": "websvc.demo:no_such_app"}]},
        ['apis[0].app: "websvc.demo:no_such_app" cannot be imported'],
        id="api-app-attribute-missing",
    ),
    pytest.param(
        {"apis": [{"path": "/ws/x", "app": "websvc.demo"}]},
        ['apis[0].app: "websvc.demo" is not of the form module:attribute'],
        id="api-app-without-colon",
    ),
    pytest.param(
        {"apis": [{"path": "/ws/x", "app": "websvc.demo:DEMO_USER"}]},
        ['apis[0].app: "websvc.demo:DEMO_USER" is not a WSGI callable'],
        id="api-app-not-callable",
    ),
    pytest.param(
        {"apis": [{"path": "ws/x", "app": PATH_APP}]},
        ['apis[0].path: "ws/x" is not a path prefix'],
        id="api-path-relative",
    ),
    pytest.param(
        {"apis": [{"path": "/ws/x/", "app": PATH_APP}]},
        ['apis[0].path: "/ws/x/" ends with /'],
        id="api-path-trailing-slash",
    ),
    pytest.param(
        {"apis": [{"path": "/ws/x", "app": PATH_APP}, {"path": "/ws/x", "app": PATH_APP}]},
        ['apis[1].path: "/ws/x" is already mounted by apis[0]'],
        id="api-path-mounted-twice",
    ),
    pytest.param(
        {"apis": [{"app": PATH_APP}]},
        ["apis[0].path: missing"],
        id="api-path-missing",
    ),
    pytest.param(
        {"apis": [{}]},
        ["apis[0].path: missing", "apis[0].app: missing"],
        id="api-empty-table",
    ),
    pytest.param(
        {"apis": {"path": "/x", "app": PATH_APP}},
        ["apis: ", "is not a list of tables ([[apis]])"],
        id="apis-not-a-list",
    ),
    # tenant plugins
    pytest.param(
        tenant(plugins=["no_such_plugin_websvc_test:plugin"]),
        ['tenants.acme.plugins: "no_such_plugin_websvc_test:plugin" cannot be imported'],
        id="tenant-plugin-not-importable",
    ),
    pytest.param(
        tenant(plugins=["websvc.demo"]),
        ['tenants.acme.plugins: "websvc.demo" is not of the form module:attribute'],
        id="tenant-plugin-without-colon",
    ),
    pytest.param(
        tenant(plugins="websvc.demo:echo"),
        ['tenants.acme.plugins: "websvc.demo:echo" is not a list of strings'],
        id="tenant-plugins-not-a-list",
    ),
]


@pytest.mark.parametrize(("source", "expected"), REFUSALS)
def test_refused(source: dict[str, Any] | str, expected: list[str], tmp_path: Path) -> None:
    assert_named(refused(source, tmp_path), expected)


# -- conflicts between two rules of one tenant (§6) ---------------------------

CONFLICTS = [
    pytest.param(rule(), rule(), id="same-domain"),
    pytest.param(rule(domain="A.COM"), rule(domain="a.com"), id="case-differs"),
    pytest.param(
        rule(domain="bücher.example"), rule(domain="xn--bcher-kva.example"), id="idna-differs"
    ),
    pytest.param(rule(domain="https://a.com"), rule(), id="scheme-in-domain-equals-default"),
    pytest.param(rule(domain="a.com:443"), rule(), id="port-in-domain-equals-default"),
    pytest.param(
        rule(protocols=["http", "https"]), rule(protocols=["https"]), id="shared-protocol"
    ),
    pytest.param(rule(ports=["*"]), rule(ports=[8443]), id="any-port-and-one-port"),
    pytest.param(rule(ports=[443, 8443]), rule(ports=[8443, 9443]), id="shared-port"),
    pytest.param(rule(paths=["/ws/*"]), rule(paths=["/ws/*"]), id="same-paths"),
    pytest.param(rule(paths=["/a", "/b"]), rule(paths=["/b", "/a"]), id="same-paths-reordered"),
    pytest.param(rule(paths=["/a", "/b"]), rule(paths=["/b"]), id="overlapping-paths"),
    pytest.param(
        rule(domain="*.A.com"), rule(domain="*.a.com", max_age=5), id="same-wildcard-domain"
    ),
    pytest.param(rule(domain="localhost"), rule(domain="localhost:3000"), id="loopback-any-port"),
    pytest.param(rule(domain="[::1]"), rule(domain="[0:0:0:0:0:0:0:1]"), id="ipv6-spellings"),
    pytest.param(
        {"domain": "*", "allow_any_origin": True},
        {"domain": "*", "allow_any_origin": True},
        id="two-star-rules",
    ),
]


@pytest.mark.parametrize(("first", "second"), CONFLICTS)
def test_conflicting_rules_refused(
    first: dict[str, Any], second: dict[str, Any], tmp_path: Path
) -> None:
    problems = refused(rules(first, second), tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith("<dict>: tenants.acme.cors[1]: conflicts with cors[0]")


NOT_CONFLICTS = [
    pytest.param(rule(ports=[443]), rule(ports=[8443]), id="ports-differ"),
    pytest.param(rule(domain="https://a.com"), rule(domain="http://a.com"), id="protocols-differ"),
    pytest.param(rule(domain="a.com:8443"), rule(), id="port-in-domain-differs"),
    pytest.param(rule(paths=["/a/*"]), rule(paths=["/b/*"]), id="paths-differ"),
    pytest.param(rule(paths=["/a/*"]), rule(), id="paths-and-no-paths"),
    pytest.param(rule(paths=["/a"]), rule(paths=["/a/*"]), id="exact-and-prefix-path"),
    pytest.param(rule(), rule(domain="*.a.com"), id="exact-and-wildcard"),
    pytest.param(rule(), rule(domain="b.com"), id="domains-differ"),
    pytest.param(
        rule(domain="*", allow_any_origin=True), rule(domain="localhost"), id="star-and-loopback"
    ),
]


@pytest.mark.parametrize(("first", "second"), NOT_CONFLICTS)
def test_rules_that_do_not_conflict(first: dict[str, Any], second: dict[str, Any]) -> None:
    config = load_config(rules(first, second))
    assert len(config.tenants[0].cors) == 2


def test_same_domain_in_two_tenants_is_no_conflict() -> None:
    config = load_config({"tenants": {"acme": {"cors": [rule()]}, "beta": {"cors": [rule()]}}})
    assert [len(t.cors) for t in config.tenants] == [1, 1]


def test_conflict_names_both_rules_with_indices() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(rules(rule(), rule(domain="b.com"), rule(domain="A.com")))
    assert info.value.problems == [
        '<dict>: tenants.acme.cors[2]: conflicts with cors[0]: same domain "a.com", '
        "a shared protocol/port and a shared path"
    ]


# -- several problems at once, in a real file ---------------------------------

SEVERAL = """\
[server]
api_type = "advanced"
preflight_status = 201
authentication = "oauth"

[cors.defaults]
request_headers = ["Accept", "bad header"]

[[apis]]
path = "/ws/rest/echo"
app = "no_such_module_websvc_test:echo"

[tenants.acme]
hosts = ["acme.example.net:8080"]
plugins = ["no_such_plugin_websvc_test:plugin"]

[[tenants.acme.users]]
name = "acme-1"
token_sha256 = "xyz"

[[tenants.acme.cors]]
domain = "a.com"
max_age = 90000

[[tenants.acme.cors]]
domain = "null"
methods = ["GET", "TRACE"]

[[tenants.acme.cors]]
domain = "c.com"
ports = [70000]
paths = []

[[tenants.acme.cors]]
domain = "*"
allow_credentials = true
alow_caching = true

[tenants.beta]

[[tenants.beta.users]]
name = "acme-1"
token = "plain"
"""


def test_every_problem_named_at_once_with_file_and_key_path(tmp_path: Path) -> None:
    path = tmp_path / "websvc.toml"
    path.write_text(SEVERAL, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    prefix = f"{path}: "
    assert all(line.startswith(prefix) for line in problems), problems
    assert f"{path}: tenants.acme.cors[2].ports: 70000 is not a port (1-65535)" in problems
    keys = [line[len(prefix) :].split(": ", 1)[0] for line in problems]
    assert sorted(keys) == sorted(
        [
            "server.authentication",
            "server.preflight_status",
            "cors.defaults.request_headers",
            "apis[0].app",
            "tenants.acme.hosts",
            "tenants.acme.plugins",
            "tenants.acme.users[0].token_sha256",
            "tenants.acme.cors[0].max_age",
            "tenants.acme.cors[1].domain",
            "tenants.acme.cors[1].methods",
            "tenants.acme.cors[2].ports",
            "tenants.acme.cors[2].paths",
            "tenants.acme.cors[3].alow_caching",
            "tenants.acme.cors[3].domain",
            "tenants.acme.cors[3].allow_credentials",
            "tenants.beta.users[0].name",
        ]
    ), problems


def test_every_bad_item_of_a_list_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            rules(
                rule(
                    ports=[0, 443, 70000],
                    methods=["TRACE", "GET", "connect"],
                    paths=["a", "/b/*", "/c*"],
                    protocols=["ftp", "https", "ws"],
                )
            )
        )
    assert sorted(info.value.problems) == sorted(
        [
            "<dict>: tenants.acme.cors[0].ports: 0 is not a port (1-65535)",
            "<dict>: tenants.acme.cors[0].ports: 70000 is not a port (1-65535)",
            '<dict>: tenants.acme.cors[0].methods: "TRACE" is a forbidden method '
            "(CONNECT, TRACE, TRACK)",
            '<dict>: tenants.acme.cors[0].methods: "connect" is a forbidden method '
            "(CONNECT, TRACE, TRACK)",
            '<dict>: tenants.acme.cors[0].paths: "a" does not start with /',
            '<dict>: tenants.acme.cors[0].paths: "/c*" has a * that is not a trailing "/*" prefix',
            '<dict>: tenants.acme.cors[0].protocols: "ftp" is not "http" or "https"',
            '<dict>: tenants.acme.cors[0].protocols: "ws" is not "http" or "https"',
        ]
    )


def test_invalid_toml_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[server]\napi_type = "advanced\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (line,) = info.value.problems
    assert line.startswith(f"{path}: invalid TOML: ")
    assert "line 2" in line


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}: cannot read: No such file or directory"]


# -- defaults and normalisation of a valid config ------------------------------


def test_server_and_cors_defaults_when_absent() -> None:
    config = load_config({})
    assert config.server == ServerConfig("advanced", "none", 200, False)
    assert config.defaults == CorsDefaults(
        ("Accept", "Accept-Language", "Content-Language", "Content-Type", "Range"), ()
    )
    assert config.apis == ()
    assert config.tenants == ()
    assert config.warnings == ()
    assert config.source == "<dict>"


def test_server_values_are_read(tmp_path: Path) -> None:
    config = load(
        '[server]\napi_type = "basic"\nauthentication = "basic"\n'
        "preflight_status = 204\nreject_disallowed = true\n",
        tmp_path,
    )
    assert config.server == ServerConfig("basic", "basic", 204, True)
    assert config.source == str(tmp_path / "websvc.toml")


def test_authentication_names_registered_by_plugins_are_accepted() -> None:
    config = load_config(
        {"server": {"authentication": "oauth"}},
        authentication_names=("none", "basic", "oauth"),
    )
    assert config.server.authentication == "oauth"


@pytest.mark.parametrize(
    ("defaults", "expected"),
    [
        pytest.param(
            {"request_headers": ["X-Only"]},
            CorsDefaults(("X-Only",), ()),
            id="request_headers-only-keeps-expose-default",
        ),
        pytest.param(
            {"expose_headers": ["X-Exposed"]},
            CorsDefaults(DEFAULT_REQUEST_HEADERS, ("X-Exposed",)),
            id="expose_headers-only-keeps-request-default",
        ),
        pytest.param({}, CorsDefaults(DEFAULT_REQUEST_HEADERS, ()), id="empty-table"),
        pytest.param(
            {"request_headers": [], "expose_headers": []},
            CorsDefaults((), ()),
            id="both-emptied",
        ),
    ],
)
def test_cors_defaults_table(defaults: dict[str, Any], expected: CorsDefaults) -> None:
    assert load_config({"cors": {"defaults": defaults}}).defaults == expected


def test_rule_defaults_when_keys_absent() -> None:
    got = only_rule(load_config(rules(rule())))
    assert got == RuleConfig(
        domain="a.com",
        pairs=frozenset({("https", 443)}),
        paths=None,
        methods=("GET", "HEAD", "POST"),
        request_headers=(),
        expose_headers=(),
        allow_credentials=False,
        allow_caching=False,
        max_age=600,
        allow_private_network=False,
        allow_any_origin=False,
    )


ANY = None  # port None in a pair: any port


@pytest.mark.parametrize(
    ("keys", "domain", "pairs"),
    [
        pytest.param({"domain": "a.com"}, "a.com", {("https", 443)}, id="plain-domain-https-443"),
        pytest.param(
            {"domain": "localhost"},
            "localhost",
            {("http", ANY), ("https", ANY)},
            id="localhost-any-protocol-any-port",
        ),
        pytest.param(
            {"domain": "127.0.0.1"},
            "127.0.0.1",
            {("http", ANY), ("https", ANY)},
            id="127.0.0.1-loopback",
        ),
        pytest.param(
            {"domain": "[::1]"}, "[::1]", {("http", ANY), ("https", ANY)}, id="ipv6-loopback"
        ),
        pytest.param(
            {"domain": "[0:0::1]"},
            "[::1]",
            {("http", ANY), ("https", ANY)},
            id="ipv6-loopback-normalised",
        ),
        pytest.param(
            {"domain": "http://localhost"}, "localhost", {("http", ANY)}, id="scheme-fixes-protocol"
        ),
        pytest.param(
            {"domain": "localhost:3000"},
            "localhost",
            {("http", 3000), ("https", 3000)},
            id="port-fixes-loopback-port",
        ),
        pytest.param({"domain": "http://a.com"}, "a.com", {("http", 80)}, id="http-scheme-80"),
        pytest.param(
            {"domain": "https://a.com:8443"}, "a.com", {("https", 8443)}, id="scheme-and-port"
        ),
        pytest.param({"domain": "a.com:8080"}, "a.com", {("https", 8080)}, id="port-only"),
        pytest.param(
            {"domain": "HTTPS://A.com"}, "a.com", {("https", 443)}, id="scheme-case-folded"
        ),
        pytest.param(
            {"domain": "a.com", "protocols": ["http", "https"]},
            "a.com",
            {("http", 80), ("https", 443)},
            id="protocols-default-ports",
        ),
        pytest.param(
            {"domain": "a.com", "protocols": ["http"], "ports": [8080, 8081]},
            "a.com",
            {("http", 8080), ("http", 8081)},
            id="protocols-and-ports",
        ),
        pytest.param({"domain": "a.com", "ports": ["*"]}, "a.com", {("https", ANY)}, id="any-port"),
        pytest.param(
            {"domain": "https://a.com:8443", "protocols": ["https"], "ports": [8443]},
            "a.com",
            {("https", 8443)},
            id="consistent-domain-and-keys",
        ),
        pytest.param(
            {"domain": "*", "allow_any_origin": True},
            "*",
            {("http", ANY), ("https", ANY)},
            id="star-http-and-https-any-port",
        ),
        pytest.param(
            {"domain": "*.Example.COM"}, "*.example.com", {("https", 443)}, id="wildcard-lowered"
        ),
        pytest.param({"domain": "Example.COM"}, "example.com", {("https", 443)}, id="lowered"),
        pytest.param(
            {"domain": "bücher.example"},
            "xn--bcher-kva.example",
            {("https", 443)},
            id="idna-unicode-domain",
        ),
        pytest.param(
            {"domain": "https://BÜCHER.example:8443"},
            "xn--bcher-kva.example",
            {("https", 8443)},
            id="idna-upper-case-unicode-with-scheme-and-port",
        ),
        pytest.param(
            {"domain": "*.bücher.example"},
            "*.xn--bcher-kva.example",
            {("https", 443)},
            id="idna-wildcard",
        ),
        pytest.param(
            # Browsers use UTS #46 non-transitional processing: ß stays ß.
            {"domain": "straße.de"},
            "xn--strae-oqa.de",
            {("https", 443)},
            id="idna-eszett-as-browsers",
        ),
        pytest.param(
            {"domain": "xn--bcher-kva.example"},
            "xn--bcher-kva.example",
            {("https", 443)},
            id="punycode-kept",
        ),
    ],
)
def test_domain_protocol_and_port_defaults(
    keys: dict[str, Any], domain: str, pairs: set[tuple[str, int | None]]
) -> None:
    got = only_rule(load_config(rules(keys)))
    assert got.domain == domain
    assert got.pairs == frozenset(pairs)


def test_rule_values_are_read_and_normalised(tmp_path: Path) -> None:
    config = load(
        """\
[server]
authentication = "basic"

[tenants.acme]
hosts = ["ACME.Example.NET", "acme.example.net."]

[[tenants.acme.cors]]
domain = "https://app.example.com"
methods = ["get", "patch", "PUT", "GET"]
request_headers = ["X-Custom-Header", "x-custom-header", "*"]
expose_headers = ["Foo", "Bar"]
allow_credentials = true
allow_caching = true
max_age = 86400
paths = ["/ws/rest/*", "/exact", "/ws/rest/*"]
allow_private_network = true
""",
        tmp_path,
    )
    (acme,) = config.tenants
    assert acme.hosts == ("acme.example.net", "acme.example.net.")
    got = only_rule(config)
    # only the six Fetch methods are upper-cased; patch stays patch
    assert got.methods == ("GET", "patch", "PUT")
    assert got.request_headers == ("x-custom-header", "*")
    assert got.expose_headers == ("Foo", "Bar")
    assert got.allow_credentials is True
    assert got.allow_caching is True
    assert got.max_age == 86400
    assert got.paths == ("/ws/rest/*", "/exact")
    assert got.allow_private_network is True


@pytest.mark.parametrize("max_age", [0, 86400])
def test_max_age_bounds_are_accepted(max_age: int) -> None:
    assert only_rule(load_config(rules(rule(max_age=max_age)))).max_age == max_age


@pytest.mark.parametrize("pattern", ["/", "/*", "/ws/rest/*", "/ws/rest/echo", "/a b%20+"])
def test_valid_paths_are_accepted(pattern: str) -> None:
    assert only_rule(load_config(rules(rule(paths=[pattern])))).paths == (pattern,)


def test_a_bad_rule_is_named_alone() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(rules(rule(), rule(domain="b.com", max_age=-5)))
    assert info.value.problems == [
        "<dict>: tenants.acme.cors[1].max_age: -5 is not a number of seconds from 0 to 86400"
    ]


# -- users, tokens, apis, plugins ----------------------------------------------


def test_token_sha256_is_stored_as_digest_in_any_case() -> None:
    config = load_config(tenant(users=[{"name": "acme-1", "token_sha256": TOKEN_SHA.upper()}]))
    (user,) = config.tenants[0].users
    assert (user.name, user.tenant) == ("acme-1", "acme")
    assert user.token_sha256 == hashlib.sha256(b"acme-token").digest()
    assert config.warnings == ()
    assert TOKEN_SHA not in repr(user)


def test_plain_token_is_accepted_with_a_warning(tmp_path: Path) -> None:
    config = load(
        '[tenants.acme]\n[[tenants.acme.users]]\nname = "acme-1"\ntoken = "acme-token"\n',
        tmp_path,
    )
    (user,) = config.tenants[0].users
    assert user.token_sha256 == hashlib.sha256(b"acme-token").digest()
    (warning,) = config.warnings
    assert warning.startswith(f"{tmp_path / 'websvc.toml'}: tenants.acme.users[0].token: ")
    assert "token_sha256" in warning
    assert "acme-token" not in warning  # the secret never goes to a log line


def test_apis_are_imported() -> None:
    from websvc.demo import echo

    config = load_config({"apis": [{"path": "/ws/rest/echo", "app": PATH_APP}]})
    (api,) = config.apis
    assert (api.path, api.app_ref) == ("/ws/rest/echo", PATH_APP)
    assert api.app is echo


def test_api_at_root_is_accepted() -> None:
    (api,) = load_config({"apis": [{"path": "/", "app": PATH_APP}]}).apis
    assert api.path == "/"


def test_tenant_plugins_are_imported() -> None:
    import websvc.plugins.identify as identify

    config = load_config(tenant(plugins=["websvc.plugins.identify:websvc_identify_tenant"]))
    (acme,) = config.tenants
    assert acme.plugin_refs == ("websvc.plugins.identify:websvc_identify_tenant",)
    assert acme.plugins == (identify.websvc_identify_tenant,)


def test_demo_config_is_valid() -> None:
    config = load_config(None)
    assert config.source == "<demo>"
    assert [t.name for t in config.tenants] == ["demo"]


@pytest.mark.parametrize("domain", ["a.com:\u00b2", "a.com:\u0663", "https://a.com:\uff18\uff10"])
def test_non_ascii_digits_in_a_port_are_a_problem_not_a_crash(domain: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"tenants": {"t": {"cors": [{"domain": domain}]}}})
    assert info.value.problems == [
        f"<dict>: tenants.t.cors[0].domain: {json.dumps(domain)} has a port that is not a port (1-65535)"
    ]


# -- xn-- labels browsers accept stay accepted -----------------------------------


@pytest.mark.parametrize(
    ("domain", "normalised"),
    [
        pytest.param("xn--ls8h.la", "xn--ls8h.la", id="emoji"),
        pytest.param("xn--strae-oqa.de", "xn--strae-oqa.de", id="eszett-kept"),
        pytest.param("xn--zca.com", "xn--zca.com", id="eszett-alone"),
        pytest.param("XN--Bcher-KVA.example", "xn--bcher-kva.example", id="upper-case-ascii"),
        pytest.param("*.xn--bcher-kva.example", "*.xn--bcher-kva.example", id="wildcard"),
        pytest.param("a--b.com", "a--b.com", id="double-hyphen-not-xn"),
    ],
)
def test_valid_xn_labels_are_accepted(domain: str, normalised: str) -> None:
    config = load_config(
        {"tenants": {"acme": {"hosts": [domain.lstrip("*.")], "cors": [rule(domain=domain)]}}}
    )
    assert only_rule(config).domain == normalised
    assert config.tenants[0].hosts == (normalised.lstrip("*."),)


# -- warnings: accepted, but named (websvc check prints them on stderr) -----------

WARNINGS = [
    pytest.param(
        rules(rule(request_headers=["X-Ok", "Connection"])),
        [
            '<dict>: tenants.acme.cors[0].request_headers: "Connection" is a header browsers '
            "never let a page send (a forbidden request-header name); the rule allows it for nothing"
        ],
        id="request-header-forbidden",
    ),
    pytest.param(
        rules(rule(request_headers=["cookie", "Sec-Fetch-Mode", "proxy-authorization"])),
        [
            f'<dict>: tenants.acme.cors[0].request_headers: "{name}" is a header browsers never '
            "let a page send (a forbidden request-header name); the rule allows it for nothing"
            for name in ("cookie", "Sec-Fetch-Mode", "proxy-authorization")
        ],
        id="request-header-forbidden-any-case-and-prefixes",
    ),
    pytest.param(
        rules(rule(request_headers=["Access-Control-Allow-Origin"])),
        [
            '<dict>: tenants.acme.cors[0].request_headers: "Access-Control-Allow-Origin" is a '
            "CORS protocol header (the browser or websvc sets it), not one a page sends; "
            "the rule allows it for nothing"
        ],
        id="request-header-access-control",
    ),
    pytest.param(
        {"cors": {"defaults": {"request_headers": ["Accept", "Origin"]}}},
        [
            '<dict>: cors.defaults.request_headers: "Origin" is a header browsers never let a '
            "page send (a forbidden request-header name); [cors.defaults] allows it for nothing"
        ],
        id="defaults-request-header-forbidden",
    ),
    pytest.param(
        rules(rule(expose_headers=["X-Total", "Set-Cookie"])),
        [
            '<dict>: tenants.acme.cors[0].expose_headers: "Set-Cookie" is a header browsers '
            "never expose to a page (a forbidden response-header name); the rule exposes it for nothing"
        ],
        id="expose-set-cookie",
    ),
    pytest.param(
        {"cors": {"defaults": {"expose_headers": ["set-cookie2"]}}},
        [
            '<dict>: cors.defaults.expose_headers: "set-cookie2" is a header browsers never '
            "expose to a page (a forbidden response-header name); [cors.defaults] exposes it for nothing"
        ],
        id="defaults-expose-set-cookie2",
    ),
    pytest.param(
        rules(rule(protocols=["http", "https"], allow_credentials=True)),
        [
            '<dict>: tenants.acme.cors[0].protocols: ["http", "https"] allows http together with '
            "allow_credentials on a host that is not loopback: cookies and responses travel in "
            "clear text, and a network attacker can forge that origin (allow https only)"
        ],
        id="http-with-credentials-from-protocols",
    ),
    pytest.param(
        rules(rule(domain="http://a.com:8080", allow_credentials=True)),
        ['<dict>: tenants.acme.cors[0].domain: "http://a.com:8080" allows http together with'],
        id="http-with-credentials-from-domain-scheme",
    ),
    pytest.param(
        rules(rule(domain="*.a.com", protocols=["http"], allow_credentials=True)),
        ['<dict>: tenants.acme.cors[0].protocols: ["http"] allows http together with'],
        id="http-with-credentials-on-a-wildcard",
    ),
]


@pytest.mark.parametrize(("source", "expected"), WARNINGS)
def test_warned_but_accepted(source: dict[str, Any], expected: list[str]) -> None:
    warnings = list(load_config(source).warnings)
    assert len(warnings) == len(expected), warnings
    for line, start in zip(warnings, expected, strict=True):
        assert line.startswith(start), (line, start)
        assert not CONTROL.search(line)


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param({"domain": "localhost", "allow_credentials": True}, id="localhost"),
        pytest.param(
            {"domain": "http://localhost:5173", "allow_credentials": True}, id="localhost-http"
        ),
        pytest.param(
            {"domain": "*.localhost", "protocols": ["http"], "allow_credentials": True},
            id="wildcard-localhost",
        ),
        pytest.param(
            {"domain": "http://app.localhost", "allow_credentials": True}, id="sub-localhost"
        ),
        pytest.param({"domain": "127.0.0.1", "allow_credentials": True}, id="ipv4-loopback"),
        pytest.param(
            {"domain": "http://127.0.0.2", "allow_credentials": True}, id="ipv4-loopback-net"
        ),
        pytest.param({"domain": "[::1]", "allow_credentials": True}, id="ipv6-loopback"),
        pytest.param({"domain": "http://a.com"}, id="http-without-credentials"),
        pytest.param({"domain": "a.com", "allow_credentials": True}, id="https-with-credentials"),
        pytest.param(
            {"domain": "a.com", "request_headers": ["X-Cookie", "Authorization", "*"]},
            id="ordinary-headers",
        ),
        pytest.param(
            {"domain": "a.com", "expose_headers": ["X-Set-Cookie", "*"]}, id="ordinary-expose"
        ),
    ],
)
def test_not_warned(keys: dict[str, Any]) -> None:
    assert load_config(rules(keys)).warnings == ()


def test_the_demo_config_has_no_warning() -> None:
    assert load_config(None).warnings == ()


def test_warnings_are_printed_by_check_on_stderr_and_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from websvc.cli import main

    path = tmp_path / "websvc.toml"
    path.write_text(
        '[[tenants.acme.cors]]\ndomain = "http://a.com"\nallow_credentials = true\n'
        'request_headers = ["DNT"]\n',
        encoding="utf-8",
    )
    assert main(["check", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: ok (1 tenants, 1 CORS rules, 0 APIs)\n"
    assert err.splitlines() == [
        f'warning: {path}: tenants.acme.cors[0].request_headers: "DNT" is a header browsers never '
        "let a page send (a forbidden request-header name); the rule allows it for nothing",
        f'warning: {path}: tenants.acme.cors[0].domain: "http://a.com" allows http together with '
        "allow_credentials on a host that is not loopback: cookies and responses travel in clear "
        "text, and a network attacker can forge that origin (allow https only)",
    ]
