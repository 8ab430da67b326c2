"""Convert a Boomi SharedWebServer object (JSON) into a websvc config (TOML).

Used by ``websvc import-boomi FILE --tenant NAME``. :func:`convert` maps the
object's ``corsConfiguration.origins[]`` to ``[[tenants.NAME.cors]]`` rules and
its API type and authentication to ``[server]``, or raises
:class:`BoomiImportError` naming **every** problem at once, one line each, in
the style of :mod:`websvc.config`::

    shared.json: corsConfiguration.origins[2].ports: 70000 is not a port (1-65535)

What cannot be mapped faithfully is refused, never guessed: docs/boomi.md has
the mapping table and the reasons. Each rule is validated by
:func:`websvc.config.load_config` as it is built (so websvc's own checks, such
as domain syntax, are reported against the Boomi field), and the emitted TOML
is parsed and validated once more before it is returned: a config that websvc
would refuse is a bug here and raises :class:`RuntimeError`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from websvc.config import (
    API_TYPES,
    MAX_MAX_AGE,
    ConfigError,
    RuleConfig,
    decode_text,
    describe,
    load_config,
    render,
)
from websvc.syntax import DEFAULT_PORTS, FORBIDDEN_METHODS, is_loopback_name, is_token, split_domain

if sys.version_info >= (3, 11):  # pragma: no cover - version dependent
    import tomllib
else:  # pragma: no cover - version dependent
    import tomli as tomllib

#: The fields of one ``corsConfiguration.origins[]`` entry that are mapped.
ORIGIN_FIELDS = (
    "domain",
    "ports",
    "EnableHTTPRequestHandling",
    "EnableHTTPSRequestHandling",
    "allowMethods",
    "allowRequestHeaders",
    "allowResponseHeaders",
    "allowCredentials",
    "cacheTimeout",
)
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
#: What an origin without ``allowMethods`` gets (websvc's default).
DEFAULT_METHODS = ("GET", "HEAD", "POST")

_TYPE_KEY = "@type"  # Boomi's JSON names each object's type; ignored everywhere
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BARE = re.compile(r"[A-Za-z0-9_-]+")
_CHECKED = re.compile(r"<dict>: tenants\.t\.cors\[0\](?:\.(\w+))?(?:\[\d+\])?: (.*)", re.DOTALL)
#: websvc rule key -> the Boomi origin field it comes from (for websvc's own messages).
_FIELD_OF = {
    "domain": "domain",
    "allow_any_origin": "domain",
    "ports": "ports",
    "methods": "allowMethods",
    "request_headers": "allowRequestHeaders",
    "expose_headers": "allowResponseHeaders",
    "allow_credentials": "allowCredentials",
    "allow_caching": "cacheTimeout",
    "max_age": "cacheTimeout",
}


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
    return _Converter(source, tenant).convert(data)


def toml_string(value: str) -> str:
    """*value* as a TOML basic string; control characters are escaped.

    Raises ValueError for a lone surrogate, which no TOML string can hold.
    """
    out = ['"']
    for char in value:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"{render(value)} holds a lone surrogate")
        elif code < 0x20 or 0x7F <= code <= 0x9F or not char.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_key(name: str) -> str:
    """*name* as a TOML key: bare when it can be, quoted otherwise."""
    return name if _BARE.fullmatch(name) else toml_string(name)


def toml_value(value: object) -> str:
    """A string, int, bool or list of those, as TOML; TypeError for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


# -- private helpers -------------------------------------------------------

_MISSING = object()
#: A value found in the Boomi object: (json path, value as written, websvc value).
_Found = tuple[str, object, str]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {render(key)}")
        out[key] = value
    return out


def _key(path: str, name: str) -> str:
    text = name if _BARE.fullmatch(name) else render(name)
    return f"{path}.{text}" if path else text


def _text_problem(value: str) -> str | None:
    if _SURROGATE.search(value):
        return "is not valid Unicode text (a lone surrogate)"
    if _CONTROL.search(value):
        return "contains a control character"
    return None


def _share_pair(a: RuleConfig, b: RuleConfig) -> bool:
    """Whether one (protocol, port) is accepted by both rules."""
    return any(
        scheme == other and (port is None or other_port is None or port == other_port)
        for scheme, port in a.pairs
        for other, other_port in b.pairs
    )


def _covers(broad: str, narrow: str) -> bool:
    """Whether every origin host of the normalised domain *narrow* matches *broad*."""
    if broad == "*":
        return narrow != "*"
    return broad.startswith("*.") and narrow.endswith(broad[1:])


class _Origin:
    """One converted origin: its rule (as a websvc config dict) and where it came from."""

    __slots__ = ("index", "rule", "validated")

    def __init__(self, index: int, rule: dict[str, Any], validated: RuleConfig) -> None:
        self.index = index
        self.rule = rule
        self.validated = validated


class _Converter:
    """Walks the Boomi object once, collecting every problem."""

    def __init__(self, source: str, tenant: str) -> None:
        self.source = source
        self.tenant = tenant
        self.problems: list[str] = []
        self.origin_count = 0  # entries in corsConfiguration.origins, converted or not

    def _origin_index(self, problem: str) -> int:
        """Sort key of a problem line: its origin's index, -1 outside the origins."""
        m = re.match(r"corsConfiguration\.origins\[(\d+)\]", problem[len(self.source) + 2 :])
        return int(m.group(1)) if m else -1

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{self.source}: {path}: {message}")

    def bad(self, path: str, value: object, why: str) -> None:
        self.fail(path, f"{render(value)} {why}")

    # generic readers -------------------------------------------------------

    def fields(self, path: str, value: Mapping[str, Any], known: Sequence[str], what: str) -> None:
        """Refuse every field of *value* that is not in *known* (or ``@type``)."""
        listed = f"known: {', '.join(known)}" if len(known) < 12 else "see docs/boomi.md"
        for name in value:
            if name != _TYPE_KEY and name not in known:
                self.fail(
                    _key(path, name), f"unknown field in {what}: websvc cannot map it ({listed})"
                )

    def text(self, path: str, value: object) -> str | None:
        if value is _MISSING or value is None:
            self.fail(path, "missing")
            return None
        if not isinstance(value, str):
            self.bad(path, value, "is not a string")
            return None
        problem = _text_problem(value)
        if problem:
            self.bad(path, value, problem)
            return None
        if not value:
            self.bad(path, value, "is empty")
            return None
        return value

    def flag(self, path: str, value: object) -> bool | None:
        """A boolean field: None when absent (or null)."""
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, bool):
            self.bad(path, value, "is not true or false")
            return None
        return value

    def items(self, path: str, value: object) -> list[str] | None:
        """A list of strings or one comma-separated string; None when absent."""
        if value is _MISSING or value is None:
            return None
        raw: list[tuple[str, object]]
        if isinstance(value, str):
            raw = [(path, value)]
        elif isinstance(value, list):
            raw = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
        else:
            self.bad(path, value, "is not a list of strings or a comma-separated string")
            return None
        out: list[str] = []
        ok = True
        for item_path, item in raw:
            if not isinstance(item, str):
                self.bad(item_path, item, "is not a string")
                ok = False
                continue
            problem = _text_problem(item)
            if problem:
                self.bad(item_path, item, problem)
                ok = False
                continue
            parts = item.split(",") if isinstance(value, str) else [item]
            out.extend(part.strip(" ") for part in parts if part.strip(" "))
        return out if ok else None

    # the object ------------------------------------------------------------

    def convert(self, data: object) -> str:
        if not isinstance(data, Mapping):
            self.problems.append(
                f"{self.source}: the JSON is not an object (expected a Boomi SharedWebServer)"
            )
            raise BoomiImportError(self.problems)
        problem = _text_problem(self.tenant) if self.tenant else "is empty"
        if problem:
            self.problems.append(
                f"--tenant: {render(self.tenant)} {problem}: not a usable tenant name"
            )
        self.fields(
            "",
            data,
            (*MAPPED_FIELDS, *SERVER_FIELDS, *IGNORED_SETTINGS, *IGNORED_TOP),
            "a SharedWebServer",
        )
        api_types, authentications = self.server(data)
        origins = self.origins(data.get("corsConfiguration", _MISSING))
        api_type = self.agree(api_types) or "advanced"
        if self.origin_count and api_type != "advanced":
            path, raw, _ = api_types[0]
            self.bad(
                path,
                raw,
                "does not allow CORS rules (Boomi applies corsConfiguration only with the"
                ' advanced API type, and so does websvc): set it to "advanced" or remove'
                " the origins",
            )
        authentication = self.agree(authentications)
        self.overlaps(origins)
        if self.problems:
            raise BoomiImportError(sorted(self.problems, key=self._origin_index))
        server: dict[str, Any] = {"api_type": api_type}
        if authentication is not None:
            server["authentication"] = authentication
        return self.emit(data, server, origins)

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
                found = self.api_type(_key(prefix, "apiType"), place["apiType"])
                if found is not None:
                    api_types.append(found)
            for name in ("authentication", "auth", "authType"):
                if place.get(name) is not None:
                    found = self.authentication(_key(prefix, name), place[name])
                    if found is not None:
                        authentications.append(found)
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

    def api_type(self, path: str, value: object) -> _Found | None:
        if isinstance(value, str) and value.lower() in API_TYPES:
            return path, value, value.lower()
        self.bad(path, value, f"is not a Boomi API type ({', '.join(API_TYPES)})")
        return None

    def authentication(self, path: str, value: object) -> _Found | None:
        """``"BASIC"``, or an object whose ``authType`` is (as Boomi's API answers)."""
        if isinstance(value, Mapping):
            self.fields(path, value, ("authType", *IGNORED_AUTH), "an authentication object")
            path, value = f"{path}.authType", value.get("authType", _MISSING)
            if value is _MISSING or value is None:
                self.fail(path, "missing")
                return None
        if isinstance(value, str) and value.lower() in AUTHENTICATIONS:
            return path, value, AUTHENTICATIONS[value.lower()]
        self.bad(
            path,
            value,
            "is not an authentication websvc has built in (NONE or BASIC); for client"
            " certificates or a custom login module, write an authentication plugin"
            " (docs/plugins.md) and set server.authentication yourself",
        )
        return None

    # corsConfiguration ------------------------------------------------------------

    def origins(self, value: object) -> list[_Origin]:
        path = "corsConfiguration"
        if value is _MISSING:
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
        self.origin_count = len(items)
        out: list[_Origin] = []
        for i, item in enumerate(items):
            origin = self.origin(f"{path}.origins[{i}]", i, item)
            if origin is not None:
                out.append(origin)
        return out

    def origin(self, path: str, index: int, value: object) -> _Origin | None:
        if not isinstance(value, Mapping):
            self.bad(path, value, "is not an object")
            return None
        before = len(self.problems)
        self.fields(path, value, ORIGIN_FIELDS, "a CORS origin")
        get = value.get
        raw_domain = self.text(f"{path}.domain", get("domain", _MISSING))
        parsed = self.domain(f"{path}.domain", raw_domain) if raw_domain is not None else None
        credentials = self.flag(f"{path}.allowCredentials", get("allowCredentials", _MISSING))
        any_origin = raw_domain == "*"
        if any_origin and credentials:
            self.bad(
                f"{path}.allowCredentials",
                True,
                'is not allowed with the domain "*" (a response to any origin never'
                " carries credentials): list the domains instead",
            )
        protocols = self.protocols(path, value, parsed, raw_domain)
        ports = self.ports(f"{path}.ports", get("ports", _MISSING))
        methods = self.methods(f"{path}.allowMethods", get("allowMethods", _MISSING))
        request_headers = self.headers(
            f"{path}.allowRequestHeaders", get("allowRequestHeaders", _MISSING)
        )
        expose_headers = self.headers(
            f"{path}.allowResponseHeaders", get("allowResponseHeaders", _MISSING)
        )
        if expose_headers and "*" in expose_headers and credentials:
            self.bad(
                f"{path}.allowResponseHeaders",
                "*",
                "is not allowed with allowCredentials (browsers then read it as a header name)",
            )
        cache = self.cache_timeout(f"{path}.cacheTimeout", get("cacheTimeout", _MISSING))
        if len(self.problems) > before or parsed is None or protocols is None:
            return None
        assert raw_domain is not None and methods is not None
        host, _, fixed_port = parsed
        if fixed_port is not None:
            if ports not in (None, [fixed_port]):
                self.bad(
                    f"{path}.ports",
                    get("ports"),
                    f"contradicts the port {fixed_port} in domain {render(raw_domain)}",
                )
                return None
            ports = [fixed_port]
        elif ports is None and (any_origin or is_loopback_name(host)):
            # websvc's default for these is any port; Boomi's is the default port.
            ports = sorted({DEFAULT_PORTS[p] for p in protocols})
        rule: dict[str, Any] = {"domain": raw_domain}
        if any_origin:
            rule["allow_any_origin"] = True
        rule["protocols"] = protocols
        if ports is not None:
            rule["ports"] = ports
        rule["methods"] = methods
        rule["request_headers"] = request_headers or []
        rule["expose_headers"] = expose_headers or []
        rule["allow_credentials"] = bool(credentials)
        rule["allow_caching"] = cache > 0
        if cache > 0:
            rule["max_age"] = cache
        validated = self.validate(path, rule)
        return _Origin(index, rule, validated) if validated is not None else None

    def domain(self, path: str, raw: str) -> tuple[str, str | None, int | None] | None:
        """(host, scheme, port) of a domain as Boomi writes it; websvc checks the host."""
        if raw == "*":
            return "*", None, None
        try:
            return split_domain(raw)
        except ValueError as exc:
            self.bad(path, raw, str(exc))
            return None

    def protocols(
        self,
        path: str,
        value: Mapping[str, Any],
        parsed: tuple[str, str | None, int | None] | None,
        raw_domain: str | None,
    ) -> list[str] | None:
        """EnableHTTP(S)RequestHandling -> protocols, consistent with a scheme in domain."""
        http = self.flag(
            f"{path}.EnableHTTPRequestHandling", value.get("EnableHTTPRequestHandling", _MISSING)
        )
        https = self.flag(
            f"{path}.EnableHTTPSRequestHandling",
            value.get("EnableHTTPSRequestHandling", _MISSING),
        )
        if parsed is None:
            return None
        host, scheme, _ = parsed
        if http is None and https is None:
            if scheme is not None:
                return [scheme]
            broad = host == "*" or is_loopback_name(host)
            return ["http", "https"] if broad else ["https"]
        chosen = [name for name, on in (("http", http), ("https", https)) if on]
        if not chosen:
            self.fail(
                path,
                "EnableHTTPRequestHandling and EnableHTTPSRequestHandling are both false"
                " (or absent): the origin accepts no protocol",
            )
            return None
        if scheme is not None and chosen != [scheme]:
            for name, field, on in (
                ("http", "EnableHTTPRequestHandling", http),
                ("https", "EnableHTTPSRequestHandling", https),
            ):
                if bool(on) != (name == scheme):
                    self.bad(
                        f"{path}.{field}",
                        bool(on),
                        f"contradicts the scheme {scheme} in domain {render(raw_domain)}"
                        " (a scheme in the domain fixes the protocol; write the domain"
                        " without it to choose protocols with these switches)",
                    )
            return None
        return chosen

    def ports(self, path: str, value: object) -> list[int | str] | None:
        """A list of ports, ``["*"]`` for any port, or None when none is listed."""
        raw: list[object]
        if value is _MISSING or value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            raw = [value]
        elif isinstance(value, str):
            raw = [part.strip(" ") for part in value.split(",") if part.strip(" ")]
        elif isinstance(value, list):
            raw = [item.strip(" ") if isinstance(item, str) else item for item in value]
        else:
            self.bad(path, value, 'is not a list of ports, a comma-separated string or "*"')
            return None
        if not raw:
            return None
        if "*" in raw:
            if any(item != "*" for item in raw):
                self.bad(path, "*", "must be alone (it means any port)")
                return None
            return ["*"]
        out: list[int] = []
        for item in raw:
            port = _port(item)
            if port is None:
                self.bad(path, item, "is not a port (1-65535)")
            else:
                out.append(port)
        return list(sorted(set(out))) if len(out) == len(raw) else None

    def methods(self, path: str, value: object) -> list[str] | None:
        items = self.items(path, value)
        if items is None:
            return None if value not in (_MISSING, None) else list(DEFAULT_METHODS)
        if not items:
            self.bad(
                path,
                value,
                "allows no method, so no request from this origin could pass:"
                " list the methods, or remove the origin",
            )
            return None
        out: list[str] = []
        for item in items:
            if item == "*":
                self.bad(path, item, "is not a method (websvc has no method wildcard: list them)")
            elif not is_token(item):
                self.bad(path, item, "is not a method (an HTTP token)")
            elif item.upper() in FORBIDDEN_METHODS:
                self.bad(path, item, "is a forbidden method (CONNECT, TRACE, TRACK)")
            else:
                out.append(item.upper())
        return list(dict.fromkeys(out)) if len(out) == len(items) else None

    def headers(self, path: str, value: object) -> list[str] | None:
        items = self.items(path, value)
        if items is None:
            return None
        ok = True
        for item in items:
            if item != "*" and not is_token(item):
                self.bad(path, item, "is not an HTTP header name (token)")
                ok = False
        first: dict[str, str] = {}
        for item in items:
            first.setdefault(item.lower(), item)
        return list(first.values()) if ok else None

    def cache_timeout(self, path: str, value: object) -> int:
        if value is _MISSING or value is None:
            return 0
        seconds: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            seconds = value
        elif isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip(" ")):
            seconds = int(value)
        if seconds is None:
            self.bad(path, value, "is not a whole number of seconds")
        elif seconds < 0:
            self.bad(path, value, f"is negative (seconds, from 0 to {MAX_MAX_AGE})")
        elif seconds > MAX_MAX_AGE:
            self.bad(
                path,
                value,
                f"is more than {MAX_MAX_AGE} seconds (one day), the most websvc sends as"
                " Access-Control-Max-Age (browsers cap it lower anyway)",
            )
        else:
            return seconds
        return 0

    def validate(self, path: str, rule: dict[str, Any]) -> RuleConfig | None:
        """Let websvc check the rule; report its problems against the Boomi fields."""
        try:
            config = load_config({"tenants": {"t": {"cors": [rule]}}})
        except ConfigError as exc:
            for line in exc.problems:
                m = _CHECKED.fullmatch(line)
                if m is None:
                    self.fail(path, line)
                    continue
                name, message = m.groups()
                field = _FIELD_OF.get(name or "")
                self.fail(_key(path, field) if field else path, message)
            return None
        return config.tenants[0].cors[0]

    def overlaps(self, origins: list[_Origin]) -> None:
        """Refuse origins that Boomi (first match) and websvc (most specific) would treat apart."""
        for j, later in enumerate(origins):
            b = later.validated
            for earlier in origins[:j]:
                a = earlier.validated
                if not _share_pair(a, b):
                    continue
                path = f"corsConfiguration.origins[{later.index}]"
                if a.domain == b.domain:
                    self.bad(
                        f"{path}.domain",
                        later.rule["domain"],
                        f"repeats the domain of origins[{earlier.index}]"
                        f" ({render(earlier.rule['domain'])}) with a protocol and port in"
                        " common: Boomi uses only the first of them and websvc refuses such"
                        " duplicates; merge them into one origin",
                    )
                    break
                if _covers(a.domain, b.domain):
                    self.fail(
                        f"{path}.domain",
                        f"{render(later.rule['domain'])} comes after origins[{earlier.index}]"
                        f" ({render(earlier.rule['domain'])}), which also matches it: Boomi"
                        " uses the first matching origin, so this one never applies there,"
                        " while websvc uses the most specific one; list it first in Boomi"
                        " (most specific first), or remove it",
                    )
                    break

    # output ------------------------------------------------------------------

    def emit(self, data: Mapping[str, Any], server: dict[str, Any], origins: list[_Origin]) -> str:
        tenant_key = toml_key(self.tenant)
        lines = [
            f"# websvc config generated by `websvc import-boomi` from {render(self.source)}",
        ]
        atom = data.get("atomId")
        if isinstance(atom, str) and atom:
            lines.append(
                f"# (Boomi SharedWebServer of atom {render(atom)}), for tenant {render(self.tenant)}."
            )
        else:
            lines.append(f"# (a Boomi SharedWebServer), for tenant {render(self.tenant)}.")
        lines.append("# The mapping and what it ignores: docs/boomi.md.")
        if data.get("userManagement") is not None:
            lines.append(
                "# userManagement is not imported: add users with"
                f" `websvc token --tenant {render(self.tenant)} --user NAME`."
            )
        lines += ["", "[server]"]
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in server.items()]
        lines += ["", f"[tenants.{tenant_key}]"]
        if not origins:
            lines.append(
                "# no CORS origins in the Boomi object: no cross-origin request is allowed"
            )
        for origin in origins:
            lines += ["", f"# corsConfiguration.origins[{origin.index}]"]
            lines.append(f"[[tenants.{tenant_key}.cors]]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in origin.rule.items()]
        text = "\n".join(lines) + "\n"
        expected = {
            "server": server,
            "tenants": {self.tenant: {"cors": [o.rule for o in origins]} if origins else {}},
        }
        _guard(text, expected)
        return text


def _guard(text: str, expected: dict[str, Any]) -> None:
    """The emitted TOML must read back as *expected* and be a config websvc accepts."""
    try:
        parsed = tomllib.loads(text)
        if parsed != expected:
            raise ValueError(f"reads back as {parsed!r}, not {expected!r}")
        load_config(parsed)
    except (ValueError, ConfigError) as exc:
        raise RuntimeError(
            "websvc import-boomi produced a config websvc refuses; this is a bug in"
            f" websvc.boomi, please report it:\n{exc}\n--- emitted:\n{text}"
        ) from exc


def _port(item: object) -> int | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, str) and item.isascii() and item.isdigit():
        item = int(item)
    if isinstance(item, int) and 1 <= item <= 65535:
        return item
    return None
