"""ATOM's IntegrationService contract, as ATOM's backend calls it."""

import socket
from datetime import datetime

from atom_bitbucket import BitbucketService

ATOM_CODES = {
    "AUTH_EXPIRED", "AUTH_INVALID", "PERMISSION_DENIED", "RATE_LIMIT", "CIRCUIT_OPEN",
    "QUOTA_EXCEEDED", "SERVICE_DOWN", "NETWORK_ERROR", "TIMEOUT", "VALIDATION_ERROR",
    "OPERATION_NOT_FOUND", "RESOURCE_NOT_FOUND", "INTERNAL_ERROR",
}


def test_operations_have_schemas_as_objects_and_complexity_levels(acme):
    operations = {op["name"]: op for op in acme.get_operations()}
    assert len(operations) >= 40
    for op in operations.values():
        # ATOM's four keys, and the facts an agent needs to tell a safe call
        # from a dangerous one.
        assert {"name", "description", "parameters", "complexity"} <= set(op)
        assert {"title", "read_only", "destructive", "idempotent", "scopes"} <= set(op)
        assert not (op["read_only"] and op["destructive"])
        assert isinstance(op["parameters"], dict) and op["parameters"].get("type") == "object"
        assert op["complexity"] in (1, 2, 3, 4)
    assert operations["list_repositories"]["complexity"] == 1
    assert operations["analytics_summary"]["complexity"] == 2
    assert operations["create_issue"]["complexity"] == 3
    assert operations["merge_pull_request"]["complexity"] == 4
    assert operations["merge_pull_request"]["destructive"] is True
    assert operations["get_review_bundle"]["read_only"] is True
    assert "pullrequest" in operations["get_review_bundle"]["scopes"]
    assert "workspace" in operations["list_repositories"]["parameters"]["properties"]


def test_operations_are_found_by_either_spelling(acme):
    for spelling in ("list_repositories", "list-repositories"):
        details = acme.get_operation_details(spelling)
        assert details is not None, spelling
        assert details["name"] == "list_repositories"
    assert acme.get_operation_details("no_such_operation") is None


def test_capabilities_name_operations_by_id(acme):
    capabilities = acme.get_capabilities()
    ids = {op["id"] for op in capabilities["operations"]}
    assert {"list_repositories", "merge_pull_request"} <= ids
    assert capabilities["supports_webhooks"] is True
    assert capabilities["required_params"] == []
    assert isinstance(capabilities["rate_limits"]["requests_per_hour"], int)


def test_health_reports_the_connection(acme, globex):
    health = acme.health_check()
    assert health["healthy"] is True, health
    datetime.fromisoformat(health["last_check"].replace("Z", "+00:00"))
    assert globex.health_check()["healthy"] is False, "globex has no credential"


async def test_execute_answers_atoms_envelope(acme):
    outcome = await acme.execute_operation(
        "list_repositories",
        {"workspace": "atom-labs"},
        {"tenant_id": "acme", "agent_id": "agent-7", "connector_id": "bitbucket"},
    )
    assert outcome["success"] is True, outcome
    assert outcome["error"] is None
    slugs = {repo["slug"] for repo in outcome["result"]["items"]}
    assert "bitbucket-plugin" in slugs
    assert outcome["details"]["request_id"]


async def test_failures_carry_atom_codes(acme, globex):
    cases = [
        (acme, "no-such-operation", {}, "OPERATION_NOT_FOUND", 404),
        (acme, "list-repositories", {}, "VALIDATION_ERROR", 400),
        (acme, "get-repository", {"workspace": "atom-labs", "repo_slug": "nope"}, "RESOURCE_NOT_FOUND", 404),
        (globex, "list-workspaces", {}, "AUTH_INVALID", 401),
    ]
    for service, operation, parameters, code, status in cases:
        outcome = await service.execute_operation(operation, parameters, {})
        assert outcome["success"] is False, outcome
        details = outcome["details"]
        assert details["error_code"] == code, outcome
        assert details["error_code"] in ATOM_CODES
        assert details["status_code"] == status
        assert details["retryable"] is False
        assert isinstance(outcome["error"], str) and outcome["error"]
    invalid = await acme.execute_operation("list-repositories", {}, {})
    assert "workspace" in invalid["error"] + str(invalid["details"])


async def test_another_tenants_context_is_refused_before_any_call(acme):
    outcome = await acme.execute_operation("list-workspaces", {}, {"tenant_id": "globex"})
    assert outcome["success"] is False
    assert outcome["details"]["error_code"] == "PERMISSION_DENIED"


async def test_a_bad_key_and_an_unreachable_gateway_are_typed(gateway_url):
    forged = BitbucketService("acme", {"gateway_url": gateway_url, "api_key": "atom_0000000000000000_" + "A" * 43})
    outcome = await forged.execute_operation("list-workspaces", {}, {})
    assert outcome["details"]["error_code"] == "AUTH_INVALID"
    assert "A" * 43 not in str(outcome) and "A" * 43 not in repr(forged)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    gone = BitbucketService("acme", {"gateway_url": f"http://127.0.0.1:{closed_port}", "api_key": "k", "timeout": 5})
    outcome = await gone.execute_operation("list-workspaces", {}, {})
    assert outcome["details"]["error_code"] == "NETWORK_ERROR"
    assert outcome["details"]["retryable"] is True
    assert gone.health_check()["healthy"] is False


def test_a_refused_key_is_reported_as_refused_not_unreachable(gateway_url):
    forged = BitbucketService("acme", {"gateway_url": gateway_url, "api_key": "atom_0000000000000000_" + "B" * 43})
    health = forged.health_check()
    assert health["healthy"] is False
    assert "refused the API key" in health["message"], health
    assert "unreachable" not in health["message"]
    assert "B" * 43 not in str(health)
    datetime.fromisoformat(health["last_check"].replace("Z", "+00:00"))
