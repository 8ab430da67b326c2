"""Default header emission: the ``Access-Control-*`` headers of an allowed decision.

Constant values come pre-rendered from the compiled rule; only the echoed
Origin and requested header names are per request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from websvc import hookimpl

if TYPE_CHECKING:
    from websvc.cors import CorsRequest, Decision


@hookimpl(trylast=True)
def websvc_emit_headers(
    request: CorsRequest, decision: Decision, headers: list[tuple[str, str]]
) -> None:
    rule = decision.rule
    if not decision.allowed or rule is None:
        return
    headers.append(("Access-Control-Allow-Origin", "*" if rule.any_origin else request.origin))
    if not request.preflight:
        headers.extend(rule.actual_headers)
        return
    headers.extend(rule.preflight_headers)
    if request.request_headers:
        headers.append(("Access-Control-Allow-Headers", ", ".join(request.request_headers)))
    if request.private_network and rule.allow_private_network:
        headers.append(("Access-Control-Allow-Private-Network", "true"))
