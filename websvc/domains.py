"""A CORS rule's ``domain``: ``[scheme://]host[:port]``, ``*.suffix`` or ``*``, parsed."""

from __future__ import annotations

from typing import NamedTuple

from websvc import syntax

__all__ = ["Domain", "rule_domain"]


class Domain(NamedTuple):
    """A rule's domain, parsed: the normalised name, and the scheme and port written in it."""

    name: str  # "a.com", "*.a.com", "[::1]" or "*"
    scheme: str | None
    port: int | None


def rule_domain(raw: str) -> Domain:
    """Parse a rule's ``domain``; raise ValueError with websvc's words (after the value)."""
    if raw == "*":
        return Domain("*", None, None)
    host, scheme, port = syntax.split_domain(raw)
    if host.lower() == "null":
        raise ValueError("is refused: the null origin never matches a domain rule")
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    if "*" in name:
        raise ValueError('has a * that is not a leading "*." label')
    why = syntax.host_problem(name)
    if why is not None:
        raise ValueError(f"is not a valid host: {why}")
    norm = syntax.normalise_host(name)
    if norm is None or (wildcard and (norm.startswith("[") or syntax.is_ipv4(norm))):
        raise ValueError("is not a domain name or IP address")
    return Domain("*." + norm if wildcard else norm, scheme, port)
