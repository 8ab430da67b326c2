"""The config's keys, declared once: name, type, default, check and doc.

Each TOML table is a pydantic model (unknown keys refused, nothing coerced);
each key has its type (a constrained type or a ``Literal`` where one can say
it), default, websvc's words for a refused value (:class:`~websvc.problems.Why`),
the checks no type can say (validators in websvc's words) and its doc: the
``description`` in ``websvc schema``'s JSON Schema and the start of its row in
docs/config.md. Checks between keys: :mod:`websvc.checks`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError, PydanticKnownError

from websvc import syntax
from websvc.domains import Domain, rule_domain
from websvc.problems import JsonKeywords, Why, never

ApiType = Literal["basic", "intermediate", "advanced"]
LogFormat = Literal["text", "json"]
API_TYPES: tuple[str, ...] = get_args(ApiType)
LOG_FORMATS: tuple[str, ...] = get_args(LogFormat)
BUILTIN_AUTHENTICATION = ("none", "basic")
DEFAULT_REQUEST_HEADERS = ("Accept", "Accept-Language", "Content-Language", "Content-Type", "Range")
DEFAULT_METHODS = ("GET", "HEAD", "POST")
MAX_MAX_AGE = 86400

#: A control character, searched for (JSON Schema keeps a refused string refused
#: even where a pattern's ``$`` matches before a final newline, as in Python's ``re``).
CONTROL = r"[\x00-\x1f\x7f]"
_TEXT = r"[^\x00-\x1f\x7f]"
#: An HTTP token (RFC 9110), exactly as :func:`websvc.syntax.is_token` reads one.
TOKEN = f"^{syntax.TOKEN_PATTERN}$"


class Memo:
    """The validation context of one load: the known authentication names, and each
    domain parsed (or why not), so that none is parsed twice."""

    __slots__ = ("auth_names", "domains")

    def __init__(self, auth_names: Iterable[str] = BUILTIN_AUTHENTICATION) -> None:
        self.auth_names = frozenset(auth_names)
        self.domains: dict[str, Domain | str] = {}

    def domain(self, raw: str) -> Domain | str:
        """*raw* parsed (:func:`rule_domain`), or why it is refused."""
        got = self.domains.get(raw)
        if got is None:
            try:
                got = rule_domain(raw)
            except ValueError as exc:
                got = str(exc)
            self.domains[raw] = got
        return got


# -- the checks no type can say (validators in websvc's words) ---------------


def _refuse(why: str, *, at_list: bool = False, **ctx: object) -> PydanticCustomError:
    return PydanticCustomError("websvc", "{why}", {"why": why, "at_list": at_list, **ctx})


def _memo(info: ValidationInfo) -> Memo:
    return info.context if isinstance(info.context, Memo) else Memo()


def _domain(raw: str, info: ValidationInfo) -> str:
    got = _memo(info).domain(raw)
    if isinstance(got, str):
        raise _refuse(got)
    return raw


def _host(host: str) -> str:
    if ":" in host and not host.startswith("["):
        raise _refuse("has a port; hosts are names without a port", at_list=True)
    why = syntax.host_problem(host)
    if why is not None:
        raise _refuse(f"is not a valid host: {why}", at_list=True)
    if syntax.normalise_host(host) is None:
        raise _refuse("is not a host name", at_list=True)
    return host


def _authentication(name: object, info: ValidationInfo) -> object:
    known = _memo(info).auth_names
    if not isinstance(name, str) or name not in known:
        raise _refuse(f"is not a known authentication ({', '.join(sorted(known))})")
    return name


def _allowed_method(method: str) -> str:
    if method.upper() in syntax.FORBIDDEN_METHODS:
        raise _refuse("is a forbidden method (CONNECT, TRACE, TRACK)", at_list=True)
    return method


def _not_star(name: str) -> str:
    if name == "*":
        raise _refuse("is not allowed here", at_list=True)
    return name


def _star_alone(ports: list[int | str]) -> list[int | str]:
    if "*" in ports and len(ports) > 1:
        raise _refuse("must be alone in the list (any port)", value="*")
    return ports


def _whole_number(value: object) -> object:
    if type(value) is not int:  # not a bool, not 204.0
        raise PydanticKnownError("int_type")
    return value


_NO_CONTROL = never(CONTROL)
_ANY_CASE = ("".join(f"[{c}{c.lower()}]" for c in m) for m in sorted(syntax.FORBIDDEN_METHODS))
_FORBIDDEN = f"^({'|'.join(_ANY_CASE)})$"


def _path_why(value: object) -> str:
    if isinstance(value, str) and not value.startswith("/"):
        return "does not start with /"
    return 'has a * that is not a trailing "/*" prefix'


def _mount_why(value: object) -> str:
    if isinstance(value, str) and value.startswith("/") and not set(value) & set("*?"):
        return "ends with / (write it without)"
    return "is not a path prefix like /ws/rest/echo"


# -- the types of the keys ------------------------------------------------------

Text = Annotated[str, Field(pattern=f"^{_TEXT}*$"), _NO_CONTROL]
DomainText = Annotated[Text, AfterValidator(_domain)]
Host = Annotated[Text, AfterValidator(_host)]
_REF = r"^[^:\x00-\x1f\x7f]+:[^\x00-\x1f\x7f]+$"  # imported when the config is loaded
PluginRef = Annotated[
    str, Field(pattern=_REF), Why("is not of the form module:attribute", at_list=True)
]
AppRef = Annotated[str, Field(pattern=_REF), Why("is not of the form module:attribute")]
Authentication = Annotated[str, BeforeValidator(_authentication)]
ApiTypeKey = Annotated[ApiType, Why(f"is not one of: {', '.join(API_TYPES)}", control=False)]
PreflightStatus = Annotated[
    Literal[200, 204], BeforeValidator(_whole_number), Why("is not 200 or 204")
]
Method = Annotated[
    str,
    Field(pattern=TOKEN),
    AfterValidator(_allowed_method),
    Why("is not a method (an HTTP token)", at_list=True),
    _NO_CONTROL,
    never(_FORBIDDEN),
]
HeaderName = Annotated[
    str, Field(pattern=TOKEN), Why("is not an HTTP header name (token)", at_list=True), _NO_CONTROL
]
DefaultHeaderName = Annotated[HeaderName, AfterValidator(_not_star), never(r"^\*$")]
Protocol = Annotated[Literal["http", "https"], Why('is not "http" or "https"', at_list=True)]
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
Port = Annotated[
    Annotated[int, Field(ge=1, le=65535)] | Literal["*"],
    Why("is not a port (1-65535)", at_list=True),
]
PathPattern = Annotated[
    str,
    Field(pattern=r"^/(?:[^*\x00-\x1f\x7f]*|(?:[^*\x00-\x1f\x7f]*/)?\*)$"),
    Why(_path_why, at_list=True),
    _NO_CONTROL,
]
MountPath = Annotated[
    str,
    Field(pattern=r"^(?:/|/[^*?\x00-\x1f\x7f]*[^/*?\x00-\x1f\x7f])$"),
    Why(_mount_why),
    _NO_CONTROL,
]
StoreUrl = Annotated[
    str,
    Field(pattern=r"^(sqlite|postgresql|postgres)://[^\x00-\x1f\x7f]+$"),
    Why('is not a store URL ("sqlite:///PATH" or "postgresql://...")'),
]
MetricsPath = Annotated[
    str, Field(pattern=r"^/[^*?\x00-\x1f\x7f]*$"), Why("is not a path like /metrics"), _NO_CONTROL
]
UserName = Annotated[
    str, Field(pattern=r"^[^:\x00-\x1f\x7f]+$"), Why("is not a user name (non-empty, no colon)")
]
TenantName = Annotated[
    str, Field(pattern=f"^{_TEXT}+$"), Why("is not a usable tenant name", control=False)
]
Sha256 = Annotated[
    str,
    Field(pattern="^[0-9a-fA-F]{64}$"),
    Why("is not 64 hex digits (the sha256 of the token)", control=False, show=False),
]
PlainToken = Annotated[
    str,
    Field(pattern=f"^{_TEXT}+$"),
    Why("is not a non-empty string without control characters", control=False, show=False),
    _NO_CONTROL,
]
Ports = Annotated[
    list[Port],
    Field(min_length=1),
    AfterValidator(_star_alone),
    Why('is not a non-empty list of ports (or ["*"])'),
    WithJsonSchema({"anyOf": [{"type": "array", "minItems": 1, "items": _PORT}, {"const": ["*"]}]}),
]


def key(default: object, doc: str) -> Any:
    """A key's default and doc (a list or table default is made anew for each table)."""
    if isinstance(default, list | tuple):
        items: list[Any] = list(default)
        extra: dict[str, Any] = {"default": items}
        return Field(default_factory=lambda: list(items), description=doc, json_schema_extra=extra)
    if isinstance(default, dict):
        return Field(default_factory=dict, description=doc, json_schema_extra={"default": {}})
    if isinstance(default, type) and issubclass(default, BaseModel):
        return Field(default_factory=default, description=doc)
    return Field(default, description=doc)


def required(doc: str) -> Any:
    """A key without a default."""
    return Field(description=doc)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# -- the tables -------------------------------------------------------------------
# A default of None means "absent" (TOML has no null): a null value is refused.


class ServerTable(_Table):
    """[server]: how the whole server answers."""

    api_type: ApiTypeKey = key("advanced", '"basic", "intermediate" or "advanced", as in Boomi')
    authentication: Authentication = key(
        "none",
        'how a normal request is authenticated: "none", "basic", or a name a plugin registers',
    )
    preflight_status: PreflightStatus = key(
        200, "status of every preflight answer, allowed or refused: 200 (as Boomi) or 204"
    )
    reject_disallowed: bool = key(
        False, "true: a refused preflight and a refused normal request both get 403"
    )
    log_format: Annotated[LogFormat, Why('is not "text" or "json"', control=False)] = key(
        "text",
        "format of the line websvc logs (logger websvc, level INFO) for every refused CORS request",
    )
    debug_header: bool = key(False, "true: a refused request with Origin gets X-Websvc-Cors-Reason")
    metrics_path: MetricsPath = key(None, "serve Prometheus metrics at this exact path")
    status_path: MetricsPath = key(
        None, "answer this exact path with the config version and the store's health (JSON)"
    )
    metrics_token_sha256: Sha256 = key(None, "64 hex digits: the sha256 of the metrics token")
    metrics_token: PlainToken = key(
        None,
        "the plain metrics token; accepted with a warning",
    )


class CorsDefaultsTable(_Table):
    """[cors.defaults]: header names added to every rule's own lists."""

    request_headers: list[DefaultHeaderName] = key(
        DEFAULT_REQUEST_HEADERS, "request headers every rule allows"
    )
    expose_headers: list[DefaultHeaderName] = key([], "response headers every rule exposes")


class CorsTable(_Table):
    """[cors]: CORS settings for every tenant."""

    defaults: CorsDefaultsTable = key(CorsDefaultsTable, "Added to every rule.")


class ApiTable(_Table):
    """[[apis]]: one WSGI application mounted under a path prefix."""

    path: MountPath = required("the mount prefix: starts with /, no * or ?, no trailing /")
    app: AppRef = required('"module:attribute" (the attribute may be dotted)')


class UserTable(_Table):
    """[[tenants.NAME.users]]: one user of a tenant."""

    name: UserName = required("the user name: non-empty, no :; unique across the whole config")
    token_sha256: Sha256 = key(None, "64 hex digits: the sha256 of the user's token (UTF-8)")
    token: PlainToken = key(None, "the plain token, accepted with a warning")


class CorsRuleTable(_Table):
    """[[tenants.NAME.cors]]: one CORS rule."""

    domain: DomainText = required("which origins the rule is for")
    protocols: Annotated[list[Protocol], Field(min_length=1)] = key(None, "allowed origin schemes")
    ports: Ports = key(None, "allowed origin ports; explicit ports apply to every allowed protocol")
    methods: Annotated[list[Method], Field(min_length=1)] = key(
        DEFAULT_METHODS,
        "methods the rule allows, in this order",
    )
    request_headers: list[HeaderName] = key(
        [], "request headers allowed in addition to [cors.defaults].request_headers"
    )
    expose_headers: list[HeaderName] = key(
        [], "response headers exposed in addition to [cors.defaults].expose_headers"
    )
    allow_credentials: bool = key(False, "send Access-Control-Allow-Credentials: true")
    allow_caching: bool = key(False, "let browsers cache the preflight answer for max_age seconds")
    max_age: Annotated[
        int, Field(ge=0, le=MAX_MAX_AGE), Why(f"is not a number of seconds from 0 to {MAX_MAX_AGE}")
    ] = key(600, "seconds for Access-Control-Max-Age, used only when allow_caching")
    paths: Annotated[list[PathPattern], Field(min_length=1)] = key(
        None,
        "the rule applies only to these request paths",
    )
    allow_private_network: bool = key(
        False,
        "answer a preflight that sends Access-Control-Request-Private-Network: true",
    )
    allow_any_origin: bool = key(False, 'required on (and only allowed on) the domain "*"')


class TenantTable(_Table):
    """[tenants.NAME]: one tenant (account)."""

    hosts: list[Host] = key(
        [],
        "requests whose Host header (without its port, case-insensitively) is one of these belong to this tenant",
    )
    plugins: list[PluginRef] = key([], "plugin objects registered for this tenant's requests only")
    users: Annotated[list[UserTable], Why("is not a list of tables ([[tenants.NAME.users]])")] = (
        key([], "the tenant's users")
    )
    cors: Annotated[list[CorsRuleTable], Why("is not a list of tables ([[tenants.NAME.cors]])")] = (
        key([], "the tenant's CORS rules")
    )


class StoreTable(_Table):
    """[store]: tenants live in a database (store mode), not in this file."""

    url: StoreUrl = required(
        "the store's URL: sqlite:///relative/path.db, sqlite:////absolute/path.db"
        " or postgresql://user@host:port/database"
    )
    poll_interval: Annotated[
        float | int, Field(gt=0, le=60), Why("is not a number of seconds above 0, at most 60")
    ] = key(0.25, "seconds between checks of the store's change sequence")
    listen: bool = key(True, "PostgreSQL: also LISTEN for change notifications (false: poll only)")
    snapshot_path: Annotated[str, _NO_CONTROL] = key(
        None,
        "a file keeping the last tenants read, for a worker that boots while the store is down",
    )


class AdminTable(_Table):
    """[admin]: the admin API (websvc admin serve)."""

    operator_tokens_sha256: list[Sha256] = key([], "sha256 of each operator token (every route)")
    max_rules_per_tenant: Annotated[int, Field(ge=1, le=100_000), Why("is not 1-100000")] = key(
        1000, "a PUT with more rules gets 413"
    )
    max_body_bytes: Annotated[int, Field(ge=1024, le=67_108_864), Why("is not 1024-67108864")] = (
        key(1_048_576, "a longer request body gets 413")
    )


class ConfigTable(_Table):
    """A websvc config: every table is optional."""

    server: ServerTable = key(ServerTable, "Settings of the whole server.")
    cors: CorsTable = key(CorsTable, "CORS settings for every tenant.")
    apis: Annotated[list[ApiTable], Why("is not a list of tables ([[apis]])")] = key(
        [], "Web-service APIs mounted by path prefix."
    )
    store: StoreTable = key(None, "Store mode: tenants live in this database (docs/admin.md).")
    admin: AdminTable = key(AdminTable, "The admin API's settings.")
    tenants: Annotated[
        dict[TenantName, TenantTable],
        Why("is not a table of tenants"),
        JsonKeywords(propertyNames={"pattern": f"^{_TEXT}+$", "not": {"pattern": CONTROL}}),
    ] = key({}, "One table per tenant (account).")
