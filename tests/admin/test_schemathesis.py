"""schemathesis against ``openapi.json``, in-process on the WSGI app: no 500, every answer as documented.

Every operation of the document is fuzzed with an operator token and with a
tenant token, with data that fits the document (positive) and data that does
not (negative). Half the cases name a tenant that exists (the generated names
almost never do) and, for writes, send its current version as ``If-Match``, so
the handlers run past the 404 and the 412. Each answer must be no server error
and must pass schemathesis' conformance checks (status code documented, content
type, headers, body schema; negative data refused). Bounded: a few examples per
operation, derandomized, well under a minute in all.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode, checks  # noqa: E402

from tests.admin.conftest import A_HOSTS, A_RULES, OPERATOR_TOKEN, PREFIX, A, Api, make_api, seed  # noqa: E402
from websvc.store import Audit  # noqa: E402

#: A rule or a tenant that fits the document may still fail websvc check (a conflict
#: between two rules, a host name of another tenant, a host name's syntax): the
#: document declares that 400, with the problems. So positive data may be refused.
EXCLUDED = [checks.positive_data_acceptance]
MAX_EXAMPLES = 25  # per operation, caller and mode
SETUP = Audit("cli", "PUT", "schemathesis setup")


class World:
    """The app under test and the tenant the cases may name, kept alive between cases."""

    def __init__(self, api: Api, who: str) -> None:
        self.api = api
        self.who = who
        self.tenant_token = api.tokens["A"]

    def ensure(self) -> None:
        """Tenant A exists, with rules and a live token (a DELETE case may have removed them)."""
        store = self.api.store
        state = store.tenant(A)
        if state is None:
            store.put_tenant(A, hosts=A_HOSTS, users=[], plugins=[], audit=SETUP)
            state = store.tenant(A)
            assert state is not None
            store.put_rules(A, A_RULES, if_match=state.version, audit=SETUP)
        if store.find_admin_token(hashlib.sha256(self.tenant_token.encode()).hexdigest()) is None:
            self.tenant_token = secrets.token_urlsafe(16)
            digest = hashlib.sha256(self.tenant_token.encode()).hexdigest()
            store.add_admin_token(A, digest, audit=SETUP)

    def auth(self) -> dict[str, str]:
        token = OPERATOR_TOKEN if self.who == "operator" else self.tenant_token
        return {"Authorization": f"Bearer {token}"}


def fuzz(world: World, mode: GenerationMode) -> dict[str, Any]:
    """Run every operation of the document; the figures of the run."""
    schema = schemathesis.openapi.from_wsgi(f"{PREFIX}/openapi.json", world.api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert len(operations) >= 13, labels  # schemathesis may leave out the document's own path
    figures: dict[str, Any] = {"examples": 0, "operations": len(operations)}
    statuses: set[int] = set()
    started = time.monotonic()
    for operation in operations:
        params = operation.path_parameters
        names_tenant = any(p.name == "tenant" for p in params)
        strategies = [operation.as_strategy(generation_mode=mode)]
        if names_tenant:
            strategies.append(
                operation.as_strategy(generation_mode=mode, path_parameters={"tenant": A})
            )

        @given(case=st.one_of(strategies), current=st.booleans())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any, current: bool) -> None:
            world.ensure()
            if current and case.headers is not None and "If-Match" in case.headers:
                state = world.api.store.tenant(A)
                case.headers["If-Match"] = f'"{state.version if state else 1}"'
            headers = world.auth()
            response = case.call(headers=headers)
            figures["examples"] += 1
            statuses.add(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if mode is GenerationMode.POSITIVE and response.status_code == 400:
                # valid for the document, refused by websvc check: every problem is named
                assert response.json()["problems"], response.text
            case.validate_response(response, headers=headers, excluded_checks=EXCLUDED)

        run()
    figures["seconds"] = round(time.monotonic() - started, 2)
    figures["statuses"] = sorted(statuses)
    return figures


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("who", ["operator", "tenant"])
def test_schemathesis(tmp_path: Path, who: str, mode: GenerationMode) -> None:
    api = seed(make_api(tmp_path / "websvc.db"))
    try:
        figures = fuzz(World(api, who), mode)
    finally:
        api.store.close()
    print(f"schemathesis {who}/{mode}: {figures}")  # shown with -rP
    assert figures["examples"] >= figures["operations"]
    assert figures["seconds"] < 60
