"""The JSON Schema that ``websvc schema`` prints agrees with what ``load_config`` does.

Every config the tests accept (tests/test_config.py's tables, the docs'
examples, the demo) is valid against the schema, and the schema refuses each
refused config of tests/test_config.py's refusal table at the same key path,
except the problems a JSON Schema cannot express (listed in :data:`BEYOND`
and in docs/config.md, "Checks beyond the schema"). The schema is read with
the ``jsonschema`` package, as any other tool would read it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import test_config as table
from websvc.cli import main
from websvc.config import ConfigError, load_config
from websvc.demo import DEMO_CONFIG
from websvc.problems import loc_path
from websvc.tools.schemadoc import json_schema

if sys.version_info >= (3, 11):  # pragma: no cover - version dependent
    import tomllib
else:  # pragma: no cover - version dependent
    import tomli as tomllib

jsonschema = pytest.importorskip(
    "jsonschema", reason="jsonschema (the test extra) reads the schema"
)

ROOT = Path(__file__).resolve().parents[1]
VALIDATOR = jsonschema.Draft202012Validator(json_schema())

#: Refusals (ids of tests/test_config.py's REFUSALS) that no JSON Schema can
#: express: they need IDNA or the URL standard's host parser, an import, the
#: authentication names plugins register, or two keys at once.
BEYOND = {
    # domains: parsed as URLs and IDNA, or checked against other keys
    *("star-origin-with-credentials", "bare-star-without-allow_any_origin"),
    *("bare-star-with-allow_any_origin-false", "allow_any_origin-on-exact-domain"),
    *("allow_any_origin-on-wildcard-domain", "expose-star-with-credentials"),
    *("domain-null", "domain-NULL-upper-case", "domain-null-with-scheme", "domain-scheme-ftp"),
    *("domain-scheme-wss", "domain-with-trailing-slash", "domain-with-userinfo"),
    *("domain-port-out-of-range", "domain-port-zero", "domain-star-inside"),
    *("domain-star-without-dot", "domain-empty", "domain-empty-label", "domain-wildcard-ip"),
    *("domain-xn--not-punycode", "domain-xn--not-punycode-in-wildcard-with-scheme-and-port"),
    *("domain-xn--empty", "domain-xn--all-ascii", "domain-xn--decodes-to-control-characters"),
    *("domain-xn--upper-case-letter-inside", "domain-xn--leading-combining-mark"),
    *("domain-xn--not-nfc", "domain-ends-in-a-hex-number"),
    *("ports-contradict-domain-port", "protocols-contradict-domain-scheme"),
    # hosts: the same host parser; a host of two tenants
    *("hosts-with-port", "hosts-ipv6-with-port", "hosts-not-a-name", "hosts-xn--not-punycode"),
    "hosts-shared-by-two-tenants",
    # users: unique across tenants; one of token_sha256 and token
    *("user-name-duplicated-across-tenants", "user-name-duplicated-in-tenant"),
    *("token-and-token_sha256", "token-missing"),
    # [server]: names plugins register; CORS rules against api_type
    *("control-in-authentication", "authentication-unknown-name"),
    *("api_type-basic-with-rules", "api_type-intermediate-with-rules"),
    "api_type-basic-with-only-bad-rules",
    # [[apis]] and plugins: imported, mounted once
    *("api-app-module-missing", "api-app-attribute-missing"),
    *("api-app-not-callable", "api-path-mounted-twice"),
    "tenant-plugin-not-importable",
    # JSON numbers: 204.0 is the integer 204 to a JSON Schema
    "preflight_status-float",
}


def schema_paths(config: object) -> set[str]:
    """The key paths where the schema refuses *config* (websvc's spelling)."""
    paths: set[str] = set()
    for error in VALIDATOR.iter_errors(config):
        path = loc_path(error.absolute_path)
        if error.validator == "additionalProperties":
            known = set(error.schema.get("properties", {}))
            paths |= {loc_path([*error.absolute_path, k]) for k in error.instance if k not in known}
        elif error.validator == "required":
            gone = [k for k in error.validator_value if k not in error.instance]
            paths |= {loc_path([*error.absolute_path, k]) for k in gone}
        else:
            paths.add(path)
    return paths


def refused_at(paths: set[str], path: str) -> bool:
    """Whether *paths* hold *path*, or an item of it (websvc names a bad item at its list)."""
    return path in paths or any(p.startswith(f"{path}[") for p in paths)


def test_websvc_schema_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json_schema()
    jsonschema.Draft202012Validator.check_schema(printed)
    rule = printed["$defs"]["CorsRuleTable"]["properties"]
    assert rule["max_age"]["description"].startswith("seconds for Access-Control-Max-Age")
    assert (rule["max_age"]["minimum"], rule["max_age"]["maximum"]) == (0, 86400)


# -- every accepted config is valid ---------------------------------------------------


def accepted_configs() -> Iterator[Any]:
    """Configs from tests/test_config.py's tables, the docs' examples and the demo."""
    yield pytest.param(DEMO_CONFIG, id="demo")
    for page in (ROOT / "README.md", ROOT / "docs" / "config.md"):
        for i, block in enumerate(page.read_text(encoding="utf-8").split("```toml\n")[1:]):
            text = block.split("```", 1)[0]
            if not text.startswith("# snippet"):
                yield pytest.param(tomllib.loads(text), id=f"{page.name}-{i}")
    for case in table.WARNINGS:
        yield pytest.param(case.values[0], id=f"warned-{case.id}")
    for case in table.NOT_CONFLICTS:
        yield pytest.param(table.rules(*case.values), id=f"not-conflict-{case.id}")
    builders = {
        "test_domain_protocol_and_port_defaults": lambda keys, *_: table.rules(keys),
        "test_not_warned": lambda keys: table.rules(keys),
        "test_valid_paths_are_accepted": lambda p: table.rules(table.rule(paths=[p])),
        "test_max_age_bounds_are_accepted": lambda n: table.rules(table.rule(max_age=n)),
        "test_cors_defaults_table": lambda d, _: {"cors": {"defaults": d}},
    }
    for name, build in builders.items():
        (mark,) = getattr(table, name).pytestmark
        for case in mark.args[1]:
            values = case.values if hasattr(case, "values") else (case,)
            yield pytest.param(
                build(*values), id=f"{name[5:]}-{case.id if hasattr(case, 'id') else case}"
            )


@pytest.mark.parametrize("config", list(accepted_configs()))
def test_an_accepted_config_is_valid_against_the_schema(config: Any) -> None:
    load_config(config)  # accepted by websvc ...
    assert schema_paths(config) == set()  # ... and by the schema


@pytest.mark.parametrize(
    ("first", "second"), [pytest.param(*c.values, id=c.id) for c in table.CONFLICTS]
)
def test_conflicts_are_beyond_the_schema(first: dict[str, Any], second: dict[str, Any]) -> None:
    config = table.rules(first, second)
    with pytest.raises(ConfigError):
        load_config(config)
    assert schema_paths(config) == set()


# -- each refusal is refused at the same key path --------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"), [pytest.param(*c.values, id=c.id) for c in table.REFUSALS]
)
def test_the_schema_refuses_at_the_same_key_path(
    source: Any, expected: list[str], request: pytest.FixtureRequest
) -> None:
    case = request.node.callspec.id
    with pytest.raises(ConfigError) as info:
        load_config(source)
    paths = schema_paths(source)
    named = [p for p in info.value.items if any(text in p.line("") for text in expected)]
    assert named, info.value.items
    for problem in named:  # the problem the case is about (not a consequence of it)
        if case in BEYOND:
            assert not refused_at(paths, problem.path), f"{case} is not beyond the schema"
        else:
            assert refused_at(paths, problem.path), (problem, paths)


def test_beyond_names_only_refusals_of_the_table() -> None:
    assert {case.id for case in table.REFUSALS} >= BEYOND
