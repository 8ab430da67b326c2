"""What a browser does with a page's ``fetch()``, per the Fetch standard.

:func:`browser_request` predicts the preflight Chromium sends for
``fetch(url, {method, headers})`` (the method as sent, the
``Access-Control-Request-Headers``, whether a preflight goes first, whether
``fetch()`` throws), so that the playground can ask the server about the very
preflight the browser is about to send. :func:`hint` names the usual cause of
an outcome, given the server's explanation.

The names (forbidden methods and headers, tokens) come from
:mod:`websvc.syntax`, the same definitions the CORS engine uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from websvc.syntax import (
    FORBIDDEN_METHODS,
    NORMALISED_METHODS,
    is_forbidden_request_header,
    is_token,
)

if TYPE_CHECKING:
    from websvc.tools.explain import Explanation

#: Methods a "simple" request may use: no preflight unless a header needs one.
SIMPLE_METHODS = frozenset({"GET", "HEAD", "POST"})

_UNSAFE_BYTES = frozenset('"():<>?@[\\]{}\x7f')
_LANGUAGE = re.compile(r"[0-9A-Za-z *,\-.;=]*")
_RANGE = re.compile(r"bytes=([0-9]+)-([0-9]*)")
_SIMPLE_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)


def is_safelisted(name: str, value: str) -> bool:
    """Fetch's "CORS-safelisted request-header": sent without a preflight."""
    name = name.lower()
    if len(value) > 128:
        return False
    if name == "accept":
        return not _has_unsafe_byte(value)
    if name in ("accept-language", "content-language"):
        return _LANGUAGE.fullmatch(value) is not None
    if name == "content-type":
        essence = value.split(";", 1)[0].strip().lower()
        return not _has_unsafe_byte(value) and essence in _SIMPLE_TYPES
    if name == "range":
        match = _RANGE.fullmatch(value)
        return match is not None and (not match[2] or int(match[1]) <= int(match[2]))
    return False


@dataclass(frozen=True, slots=True)
class BrowserRequest:
    """What Chromium does with a ``fetch()`` of this method and these headers."""

    method: str  # as sent: the six Fetch methods upper-cased, any other unchanged
    preflight_headers: tuple[str, ...]  # Access-Control-Request-Headers: lower-case, sorted
    preflight: bool  # whether a preflight (OPTIONS) goes first
    throws: bool = False  # fetch() rejects before sending anything
    notes: tuple[str, ...] = ()  # what the browser did, one sentence each


def browser_request(method: str, headers: Sequence[tuple[str, str]]) -> BrowserRequest:
    """Predict the preflight a browser sends for ``fetch(url, {method, headers})``."""
    notes: list[str] = []
    throws = False
    sent = method.upper() if method.upper() in NORMALISED_METHODS else method
    if sent != method:
        notes.append(f"fetch() upper-cases the method: {method} is sent as {sent}.")
    if not is_token(method):
        notes.append(f"{method!r} is not a method name: fetch() throws and sends nothing.")
        throws = True
    elif method.upper() in FORBIDDEN_METHODS:
        notes.append(f"{method} is a forbidden method: fetch() throws and sends nothing.")
        throws = True
    unsafe: set[str] = set()
    for name, value in headers:
        if not is_token(name) or any(c in value for c in "\0\r\n"):
            notes.append(f"header {name!r} is not a valid header: fetch() throws.")
            throws = True
        elif is_forbidden_request_header(name):
            notes.append(f"{name} is a forbidden request header: fetch() silently drops it.")
        elif not is_safelisted(name, value):
            unsafe.add(name.lower())
    preflight = sent not in SIMPLE_METHODS or bool(unsafe)
    if not preflight and not throws:
        notes.append(
            "No preflight: this is a simple request, sent directly; the server applies "
            "the same rule to it (the explanation below is for its origin and method)."
        )
    return BrowserRequest(sent, tuple(sorted(unsafe)), preflight, throws, tuple(notes))


def hint(result: Explanation, *, credentials: bool) -> str:
    """One line on the usual cause of a refusal (or of a browser-side failure); "" if none."""
    decision = result.decision
    if decision is None:  # no Origin: not a CORS request
        return ""
    rule = decision.rule
    if decision.allowed:
        if credentials and rule is not None and not rule.allow_credentials:
            return (
                'credentials: "include" needs Access-Control-Allow-Credentials: true, and '
                f"{rule.label} has no allow_credentials: the browser will refuse the response."
            )
        return ""
    reason = decision.reason
    if reason == "method":
        methods = ", ".join(sorted(rule.methods)) if rule is not None else ""
        if rule is not None and result.method.upper() in rule.methods:
            return (
                f"Method case trap: fetch() upper-cases only DELETE, GET, HEAD, OPTIONS, "
                f"POST and PUT, so {result.method} is sent as written, and methods are "
                f"case-sensitive: it does not match {result.method.upper()} in the rule. "
                f"Send {result.method.upper()}."
            )
        return f"Method {result.method} is not in the rule's methods ({methods})."
    if reason.startswith("header"):
        name = reason.partition(":")[2] or "a requested header"
        return (
            f"Header not allowed: {name} is not in the rule's request_headers (nor in "
            "[cors.defaults]); add it there, or do not send it."
        )
    if reason in ("origin_not_listed", "protocol", "port", "origin_invalid"):
        return (
            f"No rule allows the origin {result.origin}: the demo rule allows "
            "http(s)://localhost on any port, so open this page as http://localhost:PORT/."
        )
    if reason == "path":
        return f"The rule's paths do not cover {result.path}."
    if reason == "no_tenant":
        return "No tenant was identified for this request, so no rule applies."
    return ""


def _has_unsafe_byte(value: str) -> bool:
    return any((c < " " and c != "\t") or c in _UNSAFE_BYTES for c in value)
