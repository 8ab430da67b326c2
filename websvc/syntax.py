"""HTTP and URL syntax: origins, hosts, ports, methods and header names.

The one place websvc parses and serialises these, per the Fetch and URL
standards, for every layer above: config validation, the CORS engine,
tenant identification, the same-origin check, the Boomi importer and the
playground. Nothing here knows about tenants, rules or requests; everything
is a pure function of strings, and the request-time ones are bounded and
linear (or cached).
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from encodings import idna
from functools import lru_cache
from typing import NamedTuple

from publicsuffixlist import PublicSuffixList

#: Methods the Fetch standard normalises to upper case; every other method is
#: compared byte for byte (``patch`` is not ``PATCH``).
NORMALISED_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})
#: Methods no rule may allow (Fetch "forbidden methods").
FORBIDDEN_METHODS = frozenset({"CONNECT", "TRACE", "TRACK"})
DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})

#: An Origin longer than this is not a valid origin (no browser sends one).
MAX_ORIGIN_LENGTH = 2048
#: ``Access-Control-Request-Headers`` longer than this is refused unread.
MAX_REQUEST_HEADERS_LENGTH = 8192
#: ``Access-Control-Request-Headers`` with more comma-separated items than
#: this (empty ones included) is refused unread; browsers send a handful.
MAX_REQUEST_HEADER_ITEMS = 256

#: Request headers a page can never set (the Fetch standard's forbidden
#: request-header names, lower-cased); names starting with ``proxy-`` or
#: ``sec-`` are forbidden too (:func:`is_forbidden_request_header`).
FORBIDDEN_REQUEST_HEADERS = frozenset(
    {
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    }
)
#: Response headers a browser never exposes to a page (forbidden response-header names).
FORBIDDEN_RESPONSE_HEADERS = frozenset({"set-cookie", "set-cookie2"})

#: An HTTP token (RFC 9110 ``tchar``+), as a regular expression.
TOKEN_PATTERN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN = re.compile(TOKEN_PATTERN)
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")
_ORIGIN = re.compile(r"(https?)://([^:/\[\]]+|\[[0-9a-f:.]+\])(?::([1-9][0-9]{0,4}))?")
#: Characters browsers keep in a domain (UTS #46 non-transitional) where IDNA 2003 maps them.
_DEVIATION = re.compile("([\u00df\u03c2])")  # ß and final sigma ς
_HEX_NUMBER = re.compile(r"0x[0-9a-f]*")
#: The shape of a dotted-quad IPv4 address (the values are checked by ipaddress).
_DOTTED_QUAD = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_IDNA_FAILED = re.compile(r"encoding with 'idna' codec failed \(UnicodeError: (.*)\)")


# -- header names and methods ------------------------------------------------


def is_token(value: str) -> bool:
    """True when *value* is an HTTP token (RFC 9110 ``tchar``+)."""
    return _TOKEN.fullmatch(value) is not None


def is_forbidden_request_header(name: str) -> bool:
    """Whether *name* is a Fetch forbidden request-header name: a page can never send it."""
    lower = name.lower()
    return lower in FORBIDDEN_REQUEST_HEADERS or lower.startswith(("proxy-", "sec-"))


def normalize_method(value: str) -> str | None:
    """Normalise a method per Fetch, or None when it is not a single token.

    ``get`` becomes ``GET`` (one of the six normalised methods); ``patch``
    stays ``patch`` and so never matches a rule's ``PATCH``.
    """
    if value in NORMALISED_METHODS:
        return value
    if _TOKEN.fullmatch(value) is None:
        return None
    upper = value.upper()
    return upper if upper in NORMALISED_METHODS else value


@lru_cache(maxsize=256)
def parse_request_headers(value: str) -> tuple[str, ...] | None:
    """Split ``Access-Control-Request-Headers`` into lower-cased unique names.

    Items are separated by commas with optional whitespace; empty items are
    ignored; order of first appearance is kept. Returns None when the value
    is too long, has more than :data:`MAX_REQUEST_HEADER_ITEMS` items (empty
    ones included), or an item is not a header name. Linear in the input;
    browsers send few distinct values, so recent answers are cached
    (bounded: 256 entries of at most 8 KiB).
    """
    if len(value) > MAX_REQUEST_HEADERS_LENGTH or value.count(",") >= MAX_REQUEST_HEADER_ITEMS:
        return None
    names: dict[str, None] = {}
    for item in value.split(","):
        name = item.strip(" \t")
        if not name:
            continue
        if _TOKEN.fullmatch(name) is None:  # before lower(): "\u212a" lower-cases to "k"
            return None
        names[name.lower()] = None
    return tuple(names)


# -- origins -----------------------------------------------------------------


class Origin(NamedTuple):
    """A parsed, canonical ``Origin``: scheme, host and effective port.

    ``key`` and ``any_key`` are the ``(scheme, port)`` and ``(scheme, None)``
    lookup keys of the rule tables, built once per distinct Origin.
    """

    scheme: str
    host: str
    port: int
    key: tuple[str, int | None]
    any_key: tuple[str, int | None]


@lru_cache(maxsize=4096)
def parse_origin(value: str) -> Origin | None:
    """Parse a serialized origin exactly as browsers send it, or return None.

    Valid: ``scheme "://" host [":" port]`` with scheme ``http``/``https``,
    lower-case host (a DNS name in ASCII/punycode, a dotted IPv4 address or a
    compressed bracketed IPv6 address) and no default port. Anything else --
    upper case, ``:443`` on https, a path, a trailing slash, userinfo, ``null``
    -- is not a canonical origin and matches no domain rule.
    """
    if len(value) > MAX_ORIGIN_LENGTH:
        return None
    m = _ORIGIN.fullmatch(value)
    if m is None:
        return None
    scheme, host, port_text = m.groups()
    default = DEFAULT_PORTS[scheme]
    if port_text is None:
        port = default
    else:
        port = int(port_text)
        if port == default or port > 65535:
            return None
    if not is_canonical_host(host):
        return None
    return Origin(scheme, host, port, (scheme, port), (scheme, None))


def same_origin(origin: str, scheme: str, host_header: str | None) -> bool:
    """Whether *origin* is the request's own *scheme* and ``Host`` (so not CORS)."""
    parsed = parse_origin(origin)
    if parsed is None or not host_header:
        return False
    own = parse_origin(f"{scheme}://{host_header.lower()}")
    if own is None:
        # The Host may carry the default port explicitly ("a.com:443").
        name, _, port = host_header.lower().rpartition(":")
        own = parse_origin(f"{scheme}://{name}") if port.isascii() and port.isdigit() else None
        if own is None or int(port) != own.port:
            return False
    return own == parsed


# -- hosts -------------------------------------------------------------------


def host_name(host_header: str) -> str:
    """The ``Host`` header without its port, lower-cased."""
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1].lower()
    return host_header.partition(":")[0].lower()


def is_canonical_host(host: str) -> bool:
    """Whether *host* is serialised as the URL standard (and so a browser) writes it."""
    if host.startswith("["):
        return host.endswith("]") and serialize_ipv6(host[1:-1]) == host
    if _HOSTNAME.fullmatch(host) is None:
        return False
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if last.isdigit() or (last.startswith("0x") and host.replace(".", "").isalnum()):
        # A numeric last label makes it an IPv4 address to a browser, which
        # serializes it in canonical dotted-quad form.
        return is_ipv4(host)
    return True


def serialize_ipv6(text: str) -> str | None:
    """``[address]`` as the URL standard (and so a browser) serializes it, or None.

    Lower-case hex pieces, the first longest run of two or more zero pieces
    written ``::``, never a dotted IPv4 tail: ``[::ffff:102:304]``. (Python's
    ``IPv6Address.compressed`` writes ``::ffff:1.2.3.4`` since 3.13.)
    """
    if "%" in text:  # a zone id is not part of any origin
        return None
    try:
        packed = ipaddress.IPv6Address(text).packed
    except ValueError:
        return None
    pieces = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]
    start, length, i = -1, 1, 0
    while i < 8:
        j = i
        while j < 8 and pieces[j] == 0:
            j += 1
        if j - i > length:
            start, length = i, j - i
        i = max(j, i + 1)
    hexes = [f"{piece:x}" for piece in pieces]
    if start < 0:
        return "[" + ":".join(hexes) + "]"
    return "[" + ":".join(hexes[:start]) + "::" + ":".join(hexes[start + length :]) + "]"


def is_ipv4(host: str) -> bool:
    """Whether *host* is an IPv4 address in canonical dotted-quad form."""
    if not _DOTTED_QUAD.fullmatch(host):
        return False  # a name: no ValueError to raise and catch (every *. rule asks)
    try:
        return str(ipaddress.IPv4Address(host)) == host
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    """Whether a normalised *host* only names this machine: localhost, 127.x, [::1]."""
    if host in LOOPBACK_HOSTS or host == "localhost." or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False


def is_loopback_name(host: str) -> bool:
    """Whether *host*, as written, is ``localhost``, ``127.0.0.1`` or ``[::1]``.

    Rules for these names default to http and https on any port (SPEC §3).
    """
    return normalise_host(host) in LOOPBACK_HOSTS


def split_domain(raw: str) -> tuple[str, str | None, int | None]:
    """Split ``[scheme://]host[:port]`` into (host as written, scheme, port).

    Raises ValueError with the reason (phrased to follow the value) when
    *raw* has another scheme, a path, query or userinfo, or a bad port.
    """
    scheme: str | None = None
    rest = raw
    if "://" in raw:
        scheme, rest = raw.split("://", 1)
        scheme = scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError("has a scheme other than http or https")
    if "/" in rest or "@" in rest or "?" in rest or "#" in rest:
        raise ValueError("is not a domain (no path, query or userinfo)")
    host, port_text = rest, None
    if rest.startswith("["):
        end = rest.find("]")
        host, after = rest[: end + 1], rest[end + 1 :]
        if end < 0 or (after and not after.startswith(":")):
            raise ValueError("is not a domain")
        port_text = after[1:] if after else None
    elif ":" in rest:
        host, port_text = rest.rsplit(":", 1)
    if port_text is None:
        return host, scheme, None
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise ValueError("has a port that is not a port (1-65535)")
    return host, scheme, int(port_text)


def normalise_host(host: str) -> str | None:
    """Lower-case and IDNA-encode a host name as a browser would; None when it is not one."""
    if host.startswith("["):
        return serialize_ipv6(host[1:-1]) if host.endswith("]") else None
    try:
        # ASCII needs no encoding: the pattern below checks what the codec would.
        ascii_host = host.lower() if host.isascii() else to_ascii(host).lower()
    except UnicodeError:
        return None
    if not _HOSTNAME.fullmatch(ascii_host):
        return None
    last = ascii_host.rstrip(".").rsplit(".", 1)[-1]
    if last.isdigit() or _HEX_NUMBER.fullmatch(last):  # the URL standard reads it as IPv4
        return ascii_host if is_ipv4(ascii_host) else None
    return ascii_host


def to_ascii(host: str) -> str:
    """IDNA-encode *host* as browsers do (UTS #46 non-transitional); raise UnicodeError.

    Python's ``idna`` codec is IDNA 2003, which maps ß to ss and final sigma to sigma, so
    ``straße.de`` would become ``strasse.de`` while browsers send
    ``xn--strae-oqa.de``. Labels with those characters are encoded here.
    """
    if host.isascii():
        # What the idna codec does to ASCII, without its per-label encode/decode
        # (a 100k-rule config parses 100k domains): check each label's length.
        labels = host.split(".")
        if len(labels) > 1 and not labels[-1]:
            labels.pop()  # one trailing dot is allowed
        if not all(0 < len(label) < 64 for label in labels) and host:
            raise UnicodeError("label empty or too long")
        return host
    if not _DEVIATION.search(host):
        return host.encode("idna").decode("ascii")
    return ".".join(_label_to_ascii(label) for label in host.split("."))


def host_problem(host: str) -> str | None:
    """Why the URL standard's host parser rejects *host* for its ``xn--`` labels, or None.

    Browsers (UTS #46) decode each ``xn--`` label and refuse it when it is not
    Punycode, decodes to nothing or to plain ASCII, is not NFC, begins with a
    combining mark, or is not what its Unicode form encodes to. Other faults
    (bad characters, empty labels) are left to :func:`normalise_host`.
    """
    if host.startswith("[") or (host.isascii() and "xn--" not in host.lower()):
        return None  # no xn-- label to check
    try:
        ascii_host = to_ascii(host).lower()
    except UnicodeError:
        return None
    for label in ascii_host.split("."):
        if label.startswith("xn--"):
            why = _ace_label_problem(label)
            if why is not None:
                return why
    return None


def is_public_suffix(name: str) -> bool:
    """Whether *name* is a public suffix (ICANN or private section: co.uk, github.io)."""
    name = name.rstrip(".")
    # "localhost" is on the list, but *.localhost names only loopback addresses.
    return name != "localhost" and bool(_public_suffixes().is_public(name))


# -- private helpers -------------------------------------------------------


def _label_to_ascii(label: str) -> str:
    if label.isascii():
        return label  # an empty label is refused by _HOSTNAME afterwards
    if not _DEVIATION.search(label):
        return idna.ToASCII(label).decode("ascii")
    parts = _DEVIATION.split(label)  # odd items are the kept characters
    mapped = "".join(part if i % 2 else idna.nameprep(part) for i, part in enumerate(parts))
    return "xn--" + mapped.encode("punycode").decode("ascii")


def _ace_label_problem(label: str) -> str | None:
    start = f"the xn-- label {_quoted(label)}"
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return f"{start} is not valid Punycode"
    if not decoded:
        return f"{start} decodes to an empty label"
    shown = f"{start} decodes to {_quoted(decoded)}"
    if decoded.isascii():
        return f"{shown}, which is all ASCII (an xn-- label must hold other characters)"
    if unicodedata.normalize("NFC", decoded) != decoded:
        return f"{shown}, which is not in Unicode normalization form NFC"
    if unicodedata.category(decoded[0]).startswith("M"):
        return f"{shown}, which begins with a combining mark"
    try:
        again = to_ascii(decoded).lower()
    except UnicodeError as exc:
        why = str(exc)
        inner = _IDNA_FAILED.fullmatch(why)
        return f"{shown}, which is not a valid label ({inner.group(1) if inner else why})"
    if again != label:
        return f"{shown}, which browsers encode as {_quoted(again)}"
    return None


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=True)


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped with the package: no network
