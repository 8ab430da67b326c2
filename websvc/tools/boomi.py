"""Convert a Boomi SharedWebServer object (JSON) into a websvc config (TOML).

Used by ``websvc import-boomi FILE --tenant NAME``. :func:`convert` maps the
object's ``corsConfiguration.origins[]`` to ``[[tenants.NAME.cors]]`` rules and
its API type and authentication to ``[server]``, or raises
:class:`BoomiImportError` naming **every** problem at once, one line each, in
the style of :mod:`websvc.config`::

    shared.json: corsConfiguration.origins[2].ports: 70000 is not a port (1-65535)

The importer reads what only Boomi has (comma-separated lists, the HTTP and
HTTPS switches, ``cacheTimeout``, rule order) and maps each origin to a rule;
websvc's own checks then run on all the rules at once
(:func:`websvc.config.check_rules`), and each problem's key path is named by
the Boomi field it came from (``rules[2].methods`` is
``corsConfiguration.origins[2].allowMethods``). What cannot be mapped
faithfully is refused, never guessed: docs/boomi.md has the mapping table and
the reasons. The emitted TOML is parsed and validated once more before it is
returned: a config that websvc would refuse is a bug here and raises
:class:`RuntimeError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from websvc.config import (
    API_TYPES,
    decode_text,
)
from websvc.problems import NO_VALUE, Problem, describe, key_path, render
from websvc.tools.boomi_origins import ORIGIN_FIELDS as ORIGIN_FIELDS
from websvc.tools.boomi_origins import ORIGINS, OriginMapper, emitted, text_problem
from websvc.tools.boomi_toml import emit

#: Top-level objects read: the origins, and the settings sections holding SERVER_FIELDS.
MAPPED_FIELDS = ("corsConfiguration", "generalSettings", "cloudTennantGeneral")
#: Fields with an obvious ``[server]`` counterpart, at the top level or in a settings section.
SERVER_FIELDS = ("apiType", "authentication", "auth", "authType")
#: Settings sections: Boomi answers ``generalSettings`` for a local runtime and
#: ``cloudTennantGeneral`` (sic) for a cloud attachment.
SETTINGS_SECTIONS = ("generalSettings", "cloudTennantGeneral")
#: Network, TLS and runtime settings: websvc takes these from its own command
#: line and deployment (``--host``/``--port``, gunicorn, a TLS proxy), so they
#: are ignored wherever they appear (top level or a settings section).
IGNORED_SETTINGS = (
    "baseUrl",
    "externalHost",
    "internalHost",
    "httpPort",
    "httpsPort",
    "sslPort",
    "externalHttpPort",
    "externalHttpsPort",
    "listenerPorts",
    "sslCertificate",
    "examineForwardHeaders",
    "overrideUrl",
    "maxNumberOfThreads",
    "protectedHeaders",
)
#: Top-level fields that only identify the object or concern Boomi itself.
IGNORED_TOP = ("atomId", "id", "shouldRestartPlugin", "userManagement")
#: Keys of an ``authentication`` object besides ``authType``; they only tune
#: Boomi's own authentication modules, so they are ignored.
IGNORED_AUTH = (
    "cacheAuthenticationTimeout",
    "cacheAuthorizationCredentials",
    "clientCertificateHeaderName",
    "loginModuleClassName",
    "loginModuleOptions",
)
#: Boomi ``authType`` (case-insensitive) -> websvc ``server.authentication``.
AUTHENTICATIONS = {"none": "none", "basic": "basic"}


class BoomiImportError(Exception):
    """A Boomi object was refused; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_json(path: str) -> Any:
    """Read a JSON file; raise :class:`BoomiImportError` with one line if it cannot."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise BoomiImportError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except (ValueError, MemoryError) as exc:  # a NUL in the name; a file too large to hold
        raise BoomiImportError([f"{path}: cannot read: {describe(exc)}"]) from None
    text: str | bytes = raw  # UTF-16 and UTF-32 (RFC 4627): json reads those itself
    if json.detect_encoding(raw) in ("utf-8", "utf-8-sig"):
        try:
            text = decode_text(raw)  # a byte-order mark is dropped; a bad byte located
        except ValueError as exc:
            raise BoomiImportError([f"{path}: {exc}"]) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise BoomiImportError([f"{path}: invalid JSON: nested too deeply"]) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, duplicate key
        raise BoomiImportError([f"{path}: invalid JSON: {exc}"]) from None


def convert(data: Mapping[str, Any], *, tenant: str, source: str) -> str:
    """The websvc config (TOML text) for Boomi SharedWebServer *data*, as *tenant*.

    *source* names the input in problem lines and in the generated header.
    Raises :class:`BoomiImportError` listing every problem.
    """
    converter = _Converter()
    if not isinstance(data, Mapping):
        raise BoomiImportError(
            [f"{source}: the JSON is not an object (expected a Boomi SharedWebServer)"]
        )
    server, origins = converter.convert(data)
    lines = [problem.line(source) for problem in sorted(converter.problems, key=_rank)]
    why = text_problem(tenant) if tenant else "is empty"
    if why:
        lines.insert(0, Problem("--tenant", tenant, f"{why}: not a usable tenant name").line(""))
    if lines:
        raise BoomiImportError(lines)
    return emit(data, server, origins, tenant=tenant, source=source)


def boomi_rules(data: object) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The websvc rules of a Boomi ``{"corsConfiguration": ...}`` or SharedWebServer object.

    For the admin API's ``PUT .../cors``: only the origins are read (the
    server settings are the operator's); problems are named by Boomi's fields.
    """
    mapper = _Converter()
    if not isinstance(data, Mapping):
        return [], [Problem("", data, "is not an object")]
    known = (*MAPPED_FIELDS, *SERVER_FIELDS, *IGNORED_SETTINGS, *IGNORED_TOP)
    mapper.fields("", data, known, "a SharedWebServer")
    origins = mapper.origins(data.get("corsConfiguration", NO_VALUE))
    mapper.check(origins)
    rules = [emitted(rule) for rule in origins if rule is not None]
    return rules, sorted(mapper.problems, key=_rank)


#: The order of an origin's problems: by the field they are about (unknown fields first).
_ORDER = (
    "domain",
    "allowCredentials",
    "EnableHTTPRequestHandling",
    "EnableHTTPSRequestHandling",
    "ports",
    "allowMethods",
    "allowRequestHeaders",
    "allowResponseHeaders",
    "cacheTimeout",
)


# -- private helpers -------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {render(key)}")
        out[key] = value
    return out


class _Converter(OriginMapper):
    """Walks the Boomi object once, collecting every problem."""

    # the object ------------------------------------------------------------

    def convert(
        self, data: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]]]:
        self.fields(
            "",
            data,
            (*MAPPED_FIELDS, *SERVER_FIELDS, *IGNORED_SETTINGS, *IGNORED_TOP),
            "a SharedWebServer",
        )
        api_types, authentications = self.server(data)
        origins = self.origins(data.get("corsConfiguration", NO_VALUE))
        api_type = self.agree(api_types) or "advanced"
        if origins and api_type != "advanced":
            path, raw, _ = api_types[0]
            self.bad(
                path,
                raw,
                "does not allow CORS rules (Boomi applies corsConfiguration only with the"
                ' advanced API type, and so does websvc): set it to "advanced" or remove'
                " the origins",
            )
        server: dict[str, Any] = {"api_type": api_type}
        authentication = self.agree(authentications)
        if authentication is not None:
            server["authentication"] = authentication
        self.check(origins)
        return server, [(i, emitted(rule)) for i, rule in enumerate(origins) if rule is not None]

    # [server] ----------------------------------------------------------------

    def server(self, data: Mapping[str, Any]) -> tuple[list[_Found], list[_Found]]:
        """API types and authentications found at the top level and in the settings sections."""
        places: list[tuple[str, Mapping[str, Any]]] = [("", data)]
        for section in SETTINGS_SECTIONS:
            value = data.get(section)
            if value is None:
                continue
            if not isinstance(value, Mapping):
                self.bad(section, value, "is not an object")
                continue
            self.fields(section, value, (*SERVER_FIELDS, *IGNORED_SETTINGS), section)
            places.append((section, value))
        api_types: list[_Found] = []
        authentications: list[_Found] = []
        for prefix, place in places:
            if place.get("apiType") is not None:
                api_types += self.api_type(key_path(prefix, "apiType"), place["apiType"])
            for name in ("authentication", "auth", "authType"):
                if place.get(name) is not None:
                    authentications += self.authentication(key_path(prefix, name), place[name])
        return api_types, authentications

    def agree(self, found: list[_Found]) -> str | None:
        """The one value every place agrees on; a problem when two places differ."""
        if not found:
            return None
        first_path, _, first = found[0]
        for path, raw, value in found[1:]:
            if value != first:
                self.bad(path, raw, f"contradicts {first_path} ({render(first)})")
        return first

    def api_type(self, path: str, value: object) -> list[_Found]:
        if isinstance(value, str) and value.lower() in API_TYPES:
            return [(path, value, value.lower())]
        self.bad(path, value, f"is not a Boomi API type ({', '.join(API_TYPES)})")
        return []

    def authentication(self, path: str, value: object) -> list[_Found]:
        """``"BASIC"``, or an object whose ``authType`` is (as Boomi's API answers)."""
        if isinstance(value, Mapping):
            self.fields(path, value, ("authType", *IGNORED_AUTH), "an authentication object")
            path, value = f"{path}.authType", value.get("authType")
            if value is None:
                self.fail(path, "missing")
                return []
        if isinstance(value, str) and value.lower() in AUTHENTICATIONS:
            return [(path, value, AUTHENTICATIONS[value.lower()])]
        self.bad(
            path,
            value,
            "is not an authentication websvc has built in (NONE or BASIC); for client"
            " certificates or a custom login module, write an authentication plugin"
            " (docs/plugins.md) and set server.authentication yourself",
        )
        return []

    # corsConfiguration ------------------------------------------------------------

    def origins(self, value: object) -> list[dict[str, Any] | None]:
        """Each origin mapped to a websvc rule (None when it is not an object)."""
        path = "corsConfiguration"
        if value is NO_VALUE:
            self.fail(path, "missing (is this a Boomi SharedWebServer object?)")
            return []
        if value is None:
            return []
        if not isinstance(value, Mapping):
            self.bad(path, value, "is not an object")
            return []
        self.fields(path, value, ("origins",), path)
        items = value.get("origins")
        if items is None:
            return []
        if not isinstance(items, list):
            self.bad(f"{path}.origins", items, "is not a list")
            return []
        return [
            self.origin(f"corsConfiguration.origins[{i}]", item) for i, item in enumerate(items)
        ]


_Found = tuple[str, object, str]  # a value found: (json path, as written, websvc value)


def _rank(problem: Problem) -> tuple[int, int]:
    """Where a problem goes: its origin's index (-1 outside), then its field's place."""
    head, _, rest = problem.path.partition("[")
    if head != ORIGINS or not rest:
        return -1, 0
    index, _, field = rest.partition("]")
    name = field.lstrip(".").split("[", 1)[0]
    rank = (
        _ORDER.index(name)
        if name in _ORDER
        else (-1 if name else _ORDER.index("EnableHTTPRequestHandling"))
    )
    return int(index), rank
