"""The operator client against the live gateway: onboarding a tenant the way
ATOM's backend does when a user connects Bitbucket, without a shell on the
gateway host."""

import os
import secrets

import pytest

from atom_bitbucket import BitbucketService, GatewayOperator, OperatorError


@pytest.fixture
def operator(gateway_url):
    token = os.environ.get("ATOM_TEST_OPERATOR_TOKEN")
    if not token:
        pytest.fail("ATOM_TEST_OPERATOR_TOKEN is not set: run this suite through `scripts/test`", pytrace=False)
    return GatewayOperator(gateway_url, token)


def test_a_tenant_onboarded_by_the_operator_calls_with_its_key_until_revoked(operator, gateway_url):
    name = f"onboarded-{secrets.token_hex(4)}"
    added = operator.add_tenant(name)
    assert added["tenant"] == name
    assert added["api_key"].startswith("atom_")
    assert name in {t["name"] for t in operator.list_tenants()}
    assert "api_key" not in repr(operator) and added["api_key"] not in repr(operator)

    service = BitbucketService(name, {"gateway_url": gateway_url, "api_key": added["api_key"]})
    assert service.get_operations(), "the new key opens the gateway"

    made = operator.set_webhook_secret(name)
    assert len(made["secret"]) >= 32 and made["webhook_path"] == f"/bitbucket/webhooks/{name}"
    chosen = operator.set_webhook_secret(name, "a-secret-of-our-own-choosing")
    assert "secret" not in chosen, "a secret the caller chose is not echoed back"

    rotated = operator.rotate_key(name)
    assert rotated["api_key"] != added["api_key"]
    with pytest.raises(Exception):
        service.get_operations()  # the old key stopped working

    operator.revoke_tenant(name)
    revoked = [t for t in operator.list_tenants() if t["name"] == name][0]
    assert revoked["revoked_at"] is not None and revoked["active_keys"] == 0


def test_operator_failures_are_typed_and_name_the_field(operator, gateway_url, acme_key):
    with pytest.raises(OperatorError) as taken:
        operator.add_tenant("acme")
    assert (taken.value.code, taken.value.status_code, taken.value.retryable) == ("conflict", 409, False)

    with pytest.raises(OperatorError) as invalid:
        operator.add_tenant("not a name")
    assert (invalid.value.code, invalid.value.field) == ("validation", "name")

    with pytest.raises(OperatorError) as unknown:
        operator.rotate_key("nobody-here")
    assert unknown.value.code == "not_found"

    with pytest.raises(OperatorError) as short:
        operator.set_webhook_secret("acme", "short")
    assert (short.value.code, short.value.field) == ("validation", "secret")

    # A tenant's key is not the operator's.
    as_tenant = GatewayOperator(gateway_url, acme_key)
    with pytest.raises(OperatorError) as refused:
        as_tenant.list_tenants()
    assert (refused.value.code, refused.value.status_code) == ("auth_invalid", 401)
