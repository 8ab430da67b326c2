"""Load and validate a websvc config (TOML file or dict of the same shape).

:func:`load_config` returns a :class:`Config` of frozen dataclasses, every
value normalised (domains lower-cased and IDNA-encoded, methods normalised,
ports and protocols resolved into ``(scheme, port)`` pairs), or raises
:class:`ConfigError` naming **every** problem at once, one line each::

    websvc.toml: tenants.acme.cors[2].ports: 70000 is not a port (1-65535)

Nothing here runs per request: :mod:`websvc.registry` compiles the result.
"""

from __future__ import annotations

import codecs
import hashlib
import importlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from websvc.syntax import (
    DEFAULT_PORTS,
    FORBIDDEN_METHODS,
    FORBIDDEN_RESPONSE_HEADERS,
    LOOPBACK_HOSTS,
    host_problem,
    is_forbidden_request_header,
    is_ipv4,
    is_loopback,
    is_public_suffix,
    is_token,
    normalise_host,
    normalize_method,
    split_domain,
)

if sys.version_info >= (3, 11):  # pragma: no cover - version dependent
    import tomllib
else:  # pragma: no cover - version dependent
    import tomli as tomllib

API_TYPES = ("basic", "intermediate", "advanced")
BUILTIN_AUTHENTICATION = ("none", "basic")
DEFAULT_REQUEST_HEADERS = ("Accept", "Accept-Language", "Content-Language", "Content-Type", "Range")
DEFAULT_METHODS = ("GET", "HEAD", "POST")
MAX_MAX_AGE = 86400

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")

_V = TypeVar("_V")


class ConfigError(Exception):
    """A config was refused; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ServerConfig:
    api_type: str = "advanced"
    authentication: str = "none"
    preflight_status: int = 200
    reject_disallowed: bool = False
    log_format: str = "text"
    debug_header: bool = False
    metrics_path: str | None = None
    metrics_token_sha256: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class CorsDefaults:
    request_headers: tuple[str, ...] = DEFAULT_REQUEST_HEADERS
    expose_headers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiConfig:
    path: str
    app_ref: str
    app: Callable[..., Any] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class UserConfig:
    name: str
    tenant: str
    token_sha256: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """One validated CORS rule; ``pairs`` are the accepted (scheme, port)s."""

    domain: str  # normalised: "a.com", "*.a.com", "[::1]" or "*"
    pairs: frozenset[tuple[str, int | None]]  # port None = any port
    paths: tuple[str, ...] | None
    methods: tuple[str, ...]
    request_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    allow_credentials: bool = False
    allow_caching: bool = False
    max_age: int = 600
    allow_private_network: bool = False
    allow_any_origin: bool = False


@dataclass(frozen=True, slots=True)
class TenantConfig:
    name: str
    hosts: tuple[str, ...]
    plugin_refs: tuple[str, ...]
    plugins: tuple[object, ...] = field(compare=False, repr=False)
    users: tuple[UserConfig, ...]
    cors: tuple[RuleConfig, ...]


@dataclass(frozen=True, slots=True)
class Config:
    source: str
    server: ServerConfig
    defaults: CorsDefaults
    apis: tuple[ApiConfig, ...]
    tenants: tuple[TenantConfig, ...]
    warnings: tuple[str, ...] = ()
    #: The file's text as read and validated (None for a dict or the demo).
    text: str | None = field(default=None, repr=False, compare=False)


ConfigSource = str | Path | Mapping[str, Any] | None


def load_config(
    source: ConfigSource,
    *,
    authentication_names: Iterable[str] = BUILTIN_AUTHENTICATION,
    demo_apis: bool = True,
    text: str | None = None,
) -> Config:
    """Read and validate *source*: a TOML path, a dict, or None for the demo.

    With *text*, that string is taken as the content of the file *source*
    (which is then not read). Raises :class:`ConfigError` listing every
    problem, each line starting with the file name (``<dict>`` for a dict)
    and the key path; no other exception escapes.
    """
    if source is None:
        from websvc.demo import DEMO_CONFIG

        label, data, text = "<demo>", dict(DEMO_CONFIG), None
        if not demo_apis:
            del data["apis"]
    elif isinstance(source, Mapping):
        label, data, text = "<dict>", dict(source), None
    else:
        label = str(source)
        if text is None:
            text = read_config_text(source)
        data = parse_toml(label, text)
    validator = _Validator(label, frozenset(authentication_names))
    try:
        return validator.config(data, text)
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError([f"{label}: the config is nested too deeply"]) from None
    except Exception as exc:  # pragma: no cover - a bug; still one line, never a traceback
        raise ConfigError(
            [f"{label}: cannot be validated: internal error ({describe(exc)}); please report it"]
        ) from None


def read_config_text(source: str | Path) -> str:
    """The text of the config file *source*, read at once; ConfigError (one line) if it cannot be.

    The bytes are read with one ``read`` (a file replaced meanwhile is seen
    whole, old or new) and must be UTF-8; a leading byte-order mark is dropped.
    """
    label = str(source)
    try:
        with open(source, "rb") as fh:
            raw = fh.read()
    except OSError as exc:  # missing, a directory, no permission, an I/O error
        raise ConfigError([f"{label}: cannot read: {exc.strerror or exc}"]) from None
    except (ValueError, MemoryError) as exc:  # a NUL in the name; a file too large to hold
        raise ConfigError([f"{label}: cannot read: {describe(exc)}"]) from None
    try:
        return decode_text(raw)
    except ValueError as exc:
        raise ConfigError([f"{label}: {exc}"]) from None


def parse_toml(label: str, text: str) -> dict[str, Any]:
    """Parse config *text* (from the file *label*); ConfigError (one line) if it is not a config."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{label}: invalid TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{label}: invalid TOML: nested too deeply"]) from None
    except ValueError as exc:  # an integer over Python's digit limit
        why = describe(exc, name=False).split(":", 1)[0]
        raise ConfigError([f"{label}: invalid TOML: {why}"]) from None
    if not data:
        # Also what a file truncated by a half-finished write holds: never swap it in.
        raise ConfigError([f"{label}: the file is empty (no settings at all)"])
    return data


def decode_text(raw: bytes) -> str:
    """*raw* as UTF-8 text, without a leading byte-order mark.

    Raises ValueError naming the line and column (from 1, in characters, as
    TOML errors count) of the first byte that is not UTF-8.
    """
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8")
        line = before.count("\n") + 1
        column = len(before) - before.rfind("\n")
        where = f"line {line}, column {column}"
        byte = raw[exc.start]
        if exc.reason == "unexpected end of data":
            raise ValueError(
                f"{where}: the file ends inside a UTF-8 character (byte 0x{byte:02x}):"
                " a truncated file? (save the file as UTF-8)"
            ) from None
        raise ValueError(
            f"{where}: byte 0x{byte:02x} is not UTF-8 (save the file as UTF-8)"
        ) from None


def import_object(ref: str) -> object:
    """Resolve ``"module:attribute"`` (attribute may be dotted); raise ValueError.

    Whatever the module raises while it is imported (even SystemExit), or
    an attribute while it is looked up, becomes the ValueError's one-line
    reason; only KeyboardInterrupt goes through.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError("is not of the form module:attribute")
    try:
        obj: object = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # any import-time error is a config problem
        raise ValueError(f"cannot be imported: {describe(exc)}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"cannot be imported: {module_name} has no {attr}") from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise ValueError(f"cannot be imported: {module_name}.{attr}: {describe(exc)}") from None
    return obj


def describe(exc: BaseException, *, name: bool = True, limit: int = 300) -> str:
    """*exc* as one short line: ``Type: message``, control characters escaped."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(lines)
    if name:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


def key_path(path: str, name: str) -> str:
    """``path.name``, with *name* quoted (JSON) unless it is a bare TOML key."""
    name_text = name if _BARE_KEY.fullmatch(name) else render(name)
    return f"{path}.{name_text}" if path else name_text


def render(value: object) -> str:
    """A value as it appears in a problem line: JSON-escaped, never raw bytes."""
    try:
        return json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        try:
            return repr(value).encode("ascii", "backslashreplace").decode("ascii")
        except RecursionError:
            return "(a value nested too deeply)"


# -- private helpers -------------------------------------------------------

_TOP_KEYS = ("server", "cors", "apis", "tenants")
_SERVER_KEYS = (
    "api_type",
    "authentication",
    "preflight_status",
    "reject_disallowed",
    "log_format",
    "debug_header",
    "metrics_path",
    "metrics_token_sha256",
    "metrics_token",
)
LOG_FORMATS = ("text", "json")
_DEFAULTS_KEYS = ("request_headers", "expose_headers")
_TENANT_KEYS = ("hosts", "plugins", "users", "cors")
_USER_KEYS = ("name", "token_sha256", "token")
_API_KEYS = ("path", "app")
_RULE_KEYS = (
    "domain",
    "protocols",
    "ports",
    "methods",
    "request_headers",
    "expose_headers",
    "allow_credentials",
    "allow_caching",
    "max_age",
    "paths",
    "allow_private_network",
    "allow_any_origin",
)
_MISSING = object()


_key = key_path


class _Validator:
    """Walks the raw data once, collecting every problem."""

    def __init__(self, label: str, auth_names: frozenset[str]) -> None:
        self.label = label
        self.auth_names = auth_names
        self.problems: list[str] = []
        self.warnings: list[str] = []
        # Equal values of different rules become one object (large configs
        # repeat a few shapes: 100k rules, a handful of method lists).
        self.shared: dict[Any, Any] = {}
        self.ruled: list[str] = []  # tenants that wrote CORS rules, valid or not

    def one_copy(self, value: _V) -> _V:
        """*value*, or the equal object this config already holds."""
        kept: _V = self.shared.setdefault(value, value)
        return kept

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{self.label}: {path}: {message}")

    def bad(self, path: str, value: object, why: str) -> None:
        self.fail(path, f"{render(value)} {why}")

    def warn(self, path: str, value: object, why: str) -> None:
        self.warnings.append(f"{self.label}: {path}: {render(value)} {why}")

    def warn_headers(self, path: str, names: tuple[str, ...] | None, owner: str) -> None:
        """Warn about header names a browser never sends (request) or never shows (expose)."""
        for name in names or ():
            low = name.lower()
            if path.endswith("expose_headers"):
                if low in FORBIDDEN_RESPONSE_HEADERS:
                    self.warn(
                        path,
                        name,
                        "is a header browsers never expose to a page (a forbidden "
                        f"response-header name); {owner} exposes it for nothing",
                    )
            elif is_forbidden_request_header(low):
                self.warn(
                    path,
                    name,
                    "is a header browsers never let a page send (a forbidden request-header "
                    f"name); {owner} allows it for nothing",
                )
            elif low.startswith("access-control-"):
                self.warn(
                    path,
                    name,
                    "is a CORS protocol header (the browser or websvc sets it), not one a "
                    f"page sends; {owner} allows it for nothing",
                )

    # generic readers -------------------------------------------------------

    def table(self, path: str, value: object, keys: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.bad(path, value, "is not a table")
            return {}
        for name in value:
            if not isinstance(name, str) or name not in keys:
                self.fail(
                    _key(path, str(name)), f"unknown key (expected one of: {', '.join(keys)})"
                )
        return dict(value)

    def string(self, path: str, value: object) -> str | None:
        if value is _MISSING:
            self.fail(path, "missing")
            return None
        if not isinstance(value, str):
            self.bad(path, value, "is not a string")
            return None
        if _CONTROL.search(value):
            self.bad(path, value, "contains a control character")
            return None
        return value

    def boolean(self, path: str, value: object, default: bool) -> bool:
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.bad(path, value, "is not true or false")
            return default
        return value

    def strings(self, path: str, value: object, *, allow_empty: bool = True) -> list[str] | None:
        if not isinstance(value, list):
            self.bad(path, value, "is not a list of strings")
            return None
        if not value and not allow_empty:
            self.bad(path, value, "is empty (omit the key instead)")
            return None
        out: list[str] = []
        ok = True
        for i, item in enumerate(value):
            text = self.string(f"{path}[{i}]", item)
            if text is None:
                ok = False
            else:
                out.append(text)
        return out if ok else None

    def header_names(self, path: str, value: object, *, star: bool) -> tuple[str, ...] | None:
        names = self.strings(path, value)
        if names is None:
            return None
        ok = True
        for name in names:
            if name == "*" and not star:
                self.bad(path, name, "is not allowed here")
                ok = False
            elif not is_token(name):
                self.bad(path, name, "is not an HTTP header name (token)")
                ok = False
        return self.one_copy(tuple({n.lower(): n for n in names}.values())) if ok else None

    # sections --------------------------------------------------------------

    def config(self, data: object, text: str | None = None) -> Config:
        top = self.table("", data, _TOP_KEYS) if isinstance(data, Mapping) else {}
        if not isinstance(data, Mapping):
            self.problems.append(f"{self.label}: the config is not a table")
        server = self.server(top.get("server", {}))
        defaults = self.defaults(top.get("cors", {}))
        apis = self.apis(top.get("apis", []))
        tenants = self.tenants(top.get("tenants", {}), defaults)
        if server.api_type != "advanced" and self.ruled:
            self.bad(
                "server.api_type",
                server.api_type,
                f"does not allow CORS rules (tenants {', '.join(self.ruled)} have some);"
                ' use "advanced"',
            )
        if self.problems:
            raise ConfigError(self.problems)
        return Config(self.label, server, defaults, apis, tenants, tuple(self.warnings), text)

    def server(self, value: object) -> ServerConfig:
        raw = self.table("server", value, _SERVER_KEYS)
        base = ServerConfig()
        api_type = raw.get("api_type", base.api_type)
        if api_type not in API_TYPES:
            self.bad("server.api_type", api_type, f"is not one of: {', '.join(API_TYPES)}")
            api_type = base.api_type
        auth = raw.get("authentication", base.authentication)
        if not isinstance(auth, str) or auth not in self.auth_names:
            names = ", ".join(sorted(self.auth_names))
            self.bad("server.authentication", auth, f"is not a known authentication ({names})")
            auth = base.authentication
        status = raw.get("preflight_status", base.preflight_status)
        if isinstance(status, bool) or not isinstance(status, int) or status not in (200, 204):
            self.bad("server.preflight_status", status, "is not 200 or 204")
            status = base.preflight_status
        reject = self.boolean(
            "server.reject_disallowed", raw.get("reject_disallowed", _MISSING), False
        )
        log_format = raw.get("log_format", base.log_format)
        if log_format not in LOG_FORMATS:
            self.bad("server.log_format", log_format, 'is not "text" or "json"')
            log_format = base.log_format
        debug = self.boolean("server.debug_header", raw.get("debug_header", _MISSING), False)
        metrics_path, metrics_token = None, None
        if "metrics_path" in raw:
            metrics_path = self.string("server.metrics_path", raw["metrics_path"])
            if metrics_path is not None and (
                not metrics_path.startswith("/") or "*" in metrics_path or "?" in metrics_path
            ):
                self.bad("server.metrics_path", metrics_path, "is not a path like /metrics")
            metrics_token = self.token("server", raw, "metrics_token")
        elif "metrics_token_sha256" in raw or "metrics_token" in raw:
            self.fail("server.metrics_path", "missing (a metrics token is set without it)")
        return ServerConfig(
            api_type, auth, status, reject, log_format, debug, metrics_path, metrics_token
        )

    def defaults(self, value: object) -> CorsDefaults:
        cors = self.table("cors", value, ("defaults",))
        raw = self.table("cors.defaults", cors.get("defaults", {}), _DEFAULTS_KEYS)
        base = CorsDefaults()
        request = base.request_headers
        if "request_headers" in raw:
            got = self.header_names(
                "cors.defaults.request_headers", raw["request_headers"], star=False
            )
            request = got if got is not None else request
            self.warn_headers("cors.defaults.request_headers", got, "[cors.defaults]")
        expose = base.expose_headers
        if "expose_headers" in raw:
            got = self.header_names(
                "cors.defaults.expose_headers", raw["expose_headers"], star=False
            )
            expose = got if got is not None else expose
            self.warn_headers("cors.defaults.expose_headers", got, "[cors.defaults]")
        return CorsDefaults(request, expose)

    def apis(self, value: object) -> tuple[ApiConfig, ...]:
        if not isinstance(value, list):
            self.bad("apis", value, "is not a list of tables ([[apis]])")
            return ()
        out: list[ApiConfig] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            path = f"apis[{i}]"
            raw = self.table(path, item, _API_KEYS)
            if not isinstance(item, Mapping):
                continue
            mount = self.string(f"{path}.path", raw.get("path", _MISSING))
            if mount is not None:
                if not mount.startswith("/") or "*" in mount or "?" in mount:
                    self.bad(f"{path}.path", mount, "is not a path prefix like /ws/rest/echo")
                    mount = None
                elif mount != "/" and mount.endswith("/"):
                    self.bad(f"{path}.path", mount, "ends with / (write it without)")
                    mount = None
                elif mount in seen:
                    self.bad(f"{path}.path", mount, f"is already mounted by apis[{seen[mount]}]")
                    mount = None
                else:
                    seen[mount] = i
            ref = self.string(f"{path}.app", raw.get("app", _MISSING))
            app = self.resolve(f"{path}.app", ref) if ref is not None else None
            if app is not None and not callable(app):
                self.bad(f"{path}.app", ref, "is not a WSGI callable")
                app = None
            if mount is not None and ref is not None and app is not None:
                out.append(ApiConfig(mount.rstrip("/") or "/", ref, app))
        return tuple(out)

    def resolve(self, path: str, ref: str) -> object | None:
        try:
            return import_object(ref)
        except ValueError as exc:
            self.bad(path, ref, str(exc))
            return None

    def tenants(self, value: object, defaults: CorsDefaults) -> tuple[TenantConfig, ...]:
        if not isinstance(value, Mapping):
            self.bad("tenants", value, "is not a table of tenants")
            return ()
        out: list[TenantConfig] = []
        users_seen: dict[str, str] = {}
        hosts_seen: dict[str, str] = {}
        for name, body in value.items():
            path = _key("tenants", name)
            if not name or _CONTROL.search(name):
                self.bad("tenants", name, "is not a usable tenant name")
                continue
            raw = self.table(path, body, _TENANT_KEYS)
            hosts = self.hosts(f"{path}.hosts", raw.get("hosts", []), name, hosts_seen)
            refs, plugins = self.plugins(f"{path}.plugins", raw.get("plugins", []))
            users = self.users(f"{path}.users", raw.get("users", []), name, users_seen)
            rules = self.rules(f"{path}.cors", raw.get("cors", []), defaults)
            if raw.get("cors"):
                self.ruled.append(name)
            out.append(TenantConfig(name, hosts, refs, plugins, users, rules))
        return tuple(out)

    def hosts(self, path: str, value: object, tenant: str, seen: dict[str, str]) -> tuple[str, ...]:
        names = self.strings(path, value) or []
        out: list[str] = []
        for host in names:
            if ":" in host and not host.startswith("["):
                self.bad(path, host, "has a port; hosts are names without a port")
                continue
            why = host_problem(host)
            norm = normalise_host(host) if why is None else None
            if why is not None:
                self.bad(path, host, f"is not a valid host: {why}")
            elif norm is None:
                self.bad(path, host, "is not a host name")
            elif norm in seen and seen[norm] != tenant:
                self.bad(path, host, f"already belongs to tenant {render(seen[norm])}")
            else:
                seen[norm] = tenant
                out.append(norm)
        return tuple(dict.fromkeys(out))

    def plugins(self, path: str, value: object) -> tuple[tuple[str, ...], tuple[object, ...]]:
        refs = list(dict.fromkeys(self.strings(path, value) or []))
        objects: list[object] = []
        good: list[str] = []
        for ref in refs:
            obj = self.resolve(path, ref)
            if obj is not None:
                good.append(ref)
                objects.append(obj)
        return tuple(good), tuple(objects)

    def users(
        self, path: str, value: object, tenant: str, seen: dict[str, str]
    ) -> tuple[UserConfig, ...]:
        if not isinstance(value, list):
            self.bad(path, value, "is not a list of tables ([[tenants.NAME.users]])")
            return ()
        out: list[UserConfig] = []
        for i, item in enumerate(value):
            upath = f"{path}[{i}]"
            raw = self.table(upath, item, _USER_KEYS)
            name = self.string(f"{upath}.name", raw.get("name", _MISSING))
            if name is not None:
                if not name or ":" in name:
                    self.bad(f"{upath}.name", name, "is not a user name (non-empty, no colon)")
                    name = None
                elif name in seen:
                    self.bad(
                        f"{upath}.name", name, f"is already a user of tenant {render(seen[name])}"
                    )
                    name = None
                else:
                    seen[name] = tenant
            digest = self.token(upath, raw)
            if name is not None and digest is not None:
                out.append(UserConfig(name, tenant, digest))
        return tuple(out)

    def token(self, path: str, raw: dict[str, Any], key: str = "token") -> bytes | None:
        """Read ``KEY_sha256`` (or a plain ``KEY``, with a warning) as a digest."""
        hashed = f"{key}_sha256"
        if hashed in raw and key in raw:
            self.fail(f"{path}.{key}", f"set together with {hashed} (keep only {hashed})")
            return None
        if hashed in raw:
            value = raw[hashed]
            if not isinstance(value, str) or not _HEX64.fullmatch(value):
                self.fail(f"{path}.{hashed}", "is not 64 hex digits (the sha256 of the token)")
                return None
            return bytes.fromhex(value)
        if key in raw:
            value = raw[key]
            if not isinstance(value, str) or not value or _CONTROL.search(value):
                self.fail(f"{path}.{key}", "is not a non-empty string without control characters")
                return None
            self.warnings.append(
                f"{self.label}: {path}.{key}: plain token in the config; "
                f"store {hashed} instead (websvc token prints it)"
            )
            return hashlib.sha256(value.encode("utf-8")).digest()
        self.fail(f"{path}.{hashed}", f"missing (websvc token prints a {hashed} line)")
        return None

    def rules(self, path: str, value: object, defaults: CorsDefaults) -> tuple[RuleConfig, ...]:
        if not isinstance(value, list):
            self.bad(path, value, "is not a list of tables ([[tenants.NAME.cors]])")
            return ()
        out: list[tuple[int, RuleConfig]] = []
        by_domain: dict[str, list[tuple[int, RuleConfig]]] = {}  # conflicts need one domain
        for i, item in enumerate(value):
            rule = self.rule(f"{path}[{i}]", item)
            if rule is not None:
                same = by_domain.setdefault(rule.domain, [])
                for j, other in same:
                    if _conflict(rule, other):
                        self.fail(
                            f"{path}[{i}]",
                            f"conflicts with {path.rsplit('.', 1)[-1]}[{j}]: same domain "
                            f"{render(rule.domain)}, a shared protocol/port and a shared path",
                        )
                        break
                else:
                    out.append((i, rule))
                    same.append((i, rule))
        return tuple(rule for _, rule in out)

    def rule(self, path: str, value: object) -> RuleConfig | None:
        raw = self.table(path, value, _RULE_KEYS)
        if not isinstance(value, Mapping):
            return None
        before = len(self.problems)
        domain_raw = self.string(f"{path}.domain", raw.get("domain", _MISSING))
        any_origin = self.boolean(
            f"{path}.allow_any_origin", raw.get("allow_any_origin", _MISSING), False
        )
        credentials = self.boolean(
            f"{path}.allow_credentials", raw.get("allow_credentials", _MISSING), False
        )
        parsed = self.domain(f"{path}.domain", domain_raw) if domain_raw is not None else None
        if parsed is not None:
            domain = parsed[0]
            if domain == "*" and not any_origin:
                self.bad(
                    f"{path}.domain",
                    domain_raw,
                    "matches any origin: set allow_any_origin = true to mean it",
                )
            if domain != "*" and any_origin:
                self.fail(f"{path}.allow_any_origin", 'is only allowed on the domain "*"')
            if domain == "*" and credentials:
                self.fail(
                    f"{path}.allow_credentials",
                    'must be false on the "*" domain (never * with credentials)',
                )
            if domain.startswith("*.") and is_public_suffix(domain[2:]):
                if credentials:
                    self.bad(
                        f"{path}.domain",
                        domain_raw,
                        "covers every site under a public suffix: refused with "
                        "allow_credentials (anyone can register a name there)",
                    )
                else:
                    self.warnings.append(
                        f"{self.label}: {path}.domain: {render(domain_raw)} covers every "
                        "site under a public suffix"
                    )
        pairs = self.pairs(path, raw, parsed)
        paths = None
        if "paths" in raw:
            paths = self.paths(f"{path}.paths", raw["paths"])
        methods = self.methods(f"{path}.methods", raw.get("methods", list(DEFAULT_METHODS)))
        request_headers = self.header_names(
            f"{path}.request_headers", raw.get("request_headers", []), star=True
        )
        expose = self.header_names(
            f"{path}.expose_headers", raw.get("expose_headers", []), star=True
        )
        if expose is not None and "*" in expose and credentials:
            self.bad(
                f"{path}.expose_headers",
                "*",
                "is not allowed with allow_credentials (browsers read it as a header name)",
            )
        caching = self.boolean(f"{path}.allow_caching", raw.get("allow_caching", _MISSING), False)
        max_age = raw.get("max_age", 600)
        if (
            isinstance(max_age, bool)
            or not isinstance(max_age, int)
            or not 0 <= max_age <= MAX_MAX_AGE
        ):
            self.bad(
                f"{path}.max_age", max_age, f"is not a number of seconds from 0 to {MAX_MAX_AGE}"
            )
        private = self.boolean(
            f"{path}.allow_private_network", raw.get("allow_private_network", _MISSING), False
        )
        if len(self.problems) > before or parsed is None or pairs is None:
            return None
        assert methods is not None and request_headers is not None and expose is not None
        self.warn_headers(f"{path}.request_headers", request_headers, "the rule")
        self.warn_headers(f"{path}.expose_headers", expose, "the rule")
        if credentials and not is_loopback(parsed[0]) and any(s == "http" for s, _ in pairs):
            key, value = (
                ("protocols", raw["protocols"]) if "protocols" in raw else ("domain", domain_raw)
            )
            self.warn(
                f"{path}.{key}",
                value,
                "allows http together with allow_credentials on a host that is not loopback: "
                "cookies and responses travel in clear text, and a network attacker can "
                "forge that origin (allow https only)",
            )
        return RuleConfig(
            domain=parsed[0],
            pairs=pairs,
            paths=paths,
            methods=methods,
            request_headers=request_headers,
            expose_headers=expose,
            allow_credentials=credentials,
            allow_caching=caching,
            max_age=max_age,
            allow_private_network=private,
            allow_any_origin=any_origin,
        )

    def domain(self, path: str, raw: str) -> tuple[str, str | None, int | None] | None:
        """Parse a rule's domain into (normalised domain, scheme, port)."""
        if raw == "*":
            return "*", None, None
        try:
            host, scheme, port = split_domain(raw)
        except ValueError as exc:
            self.bad(path, raw, str(exc))
            return None
        if host.lower() == "null":
            self.bad(path, raw, "is refused: the null origin never matches a domain rule")
            return None
        wildcard = host.startswith("*.")
        name = host[2:] if wildcard else host
        if "*" in name:
            self.bad(path, raw, 'has a * that is not a leading "*." label')
            return None
        why = host_problem(name)
        if why is not None:
            self.bad(path, raw, f"is not a valid host: {why}")
            return None
        norm = normalise_host(name)
        if norm is None or (wildcard and (norm.startswith("[") or is_ipv4(norm))):
            self.bad(path, raw, "is not a domain name or IP address")
            return None
        return ("*." + norm if wildcard else norm), scheme, port

    def pairs(
        self,
        path: str,
        raw: dict[str, Any],
        parsed: tuple[str, str | None, int | None] | None,
    ) -> frozenset[tuple[str, int | None]] | None:
        domain, scheme, fixed_port = parsed if parsed else ("", None, None)
        broad = domain in LOOPBACK_HOSTS or domain == "*"
        protocols: list[str] | None
        if "protocols" in raw:
            protocols = self.strings(f"{path}.protocols", raw["protocols"], allow_empty=False)
            for p in protocols or []:
                if p not in DEFAULT_PORTS:
                    self.bad(f"{path}.protocols", p, 'is not "http" or "https"')
                    protocols = None
            if protocols is not None and scheme is not None and set(protocols) != {scheme}:
                self.bad(
                    f"{path}.protocols", protocols, f"contradicts the scheme {scheme} in domain"
                )
                protocols = None
        else:
            protocols = [scheme] if scheme else (["http", "https"] if broad else ["https"])
        ports: list[int | None] | None
        if "ports" in raw:
            ports = self.ports(f"{path}.ports", raw["ports"])
            if ports is not None and fixed_port is not None and ports != [fixed_port]:
                self.bad(
                    f"{path}.ports", raw["ports"], f"contradicts the port {fixed_port} in domain"
                )
                ports = None
        elif fixed_port is not None:
            ports = [fixed_port]
        else:
            ports = [None] if broad else []  # [] = each protocol's default port
        if protocols is None or ports is None or parsed is None:
            return None
        if not ports:
            return self.one_copy(frozenset((p, DEFAULT_PORTS[p]) for p in protocols))
        return self.one_copy(frozenset((p, port) for p in protocols for port in ports))

    def ports(self, path: str, value: object) -> list[int | None] | None:
        if not isinstance(value, list) or not value:
            self.bad(path, value, 'is not a non-empty list of ports (or ["*"])')
            return None
        if value == ["*"]:
            return [None]
        out: list[int | None] = []
        for port in value:
            if port == "*":
                self.bad(path, port, "must be alone in the list (any port)")
            elif isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                self.bad(path, port, "is not a port (1-65535)")
            else:
                out.append(port)
        if len(out) < len(value):
            return None
        return sorted(set(out), key=lambda p: p or 0)

    def paths(self, path: str, value: object) -> tuple[str, ...] | None:
        items = self.strings(path, value, allow_empty=False)
        if items is None:
            return None
        ok = True
        for item in items:
            star = item.find("*")
            if not item.startswith("/"):
                self.bad(path, item, "does not start with /")
                ok = False
            elif star >= 0 and (not item.endswith("/*") or star != len(item) - 1):
                self.bad(path, item, 'has a * that is not a trailing "/*" prefix')
                ok = False
        return tuple(dict.fromkeys(items)) if ok else None

    def methods(self, path: str, value: object) -> tuple[str, ...] | None:
        items = self.strings(path, value, allow_empty=False)
        if items is None:
            return None
        out: list[str] = []
        for item in items:
            method = normalize_method(item)
            if method is None:
                self.bad(path, item, "is not a method (an HTTP token)")
            elif method.upper() in FORBIDDEN_METHODS:
                self.bad(path, item, "is a forbidden method (CONNECT, TRACE, TRACK)")
            else:
                out.append(method)
        return self.one_copy(tuple(dict.fromkeys(out))) if len(out) == len(items) else None


def _conflict(a: RuleConfig, b: RuleConfig) -> bool:
    if a.domain != b.domain:
        return False
    if a.paths is None or b.paths is None:
        if a.paths is not b.paths:
            return False
    elif not set(a.paths) & set(b.paths):
        return False
    for scheme, port in a.pairs:
        for other_scheme, other_port in b.pairs:
            if scheme == other_scheme and (
                port is None or other_port is None or port == other_port
            ):
                return True
    return False
