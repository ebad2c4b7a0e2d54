"""The suite runs against a live gateway and fake Bitbucket, started by the
Rust test `the_python_adapter_serves_atom` (`scripts/test` runs it), which
passes where they are in the environment, and the `atom-harness` binary the
MCP tests start over stdio. Run alone, it fails rather than skips."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run this suite through `scripts/test` (it runs `cargo test --locked`)", pytrace=False)
    return value


@pytest.fixture
def gateway_url() -> str:
    return _required("ATOM_TEST_GATEWAY_URL")


@pytest.fixture
def acme(gateway_url):
    from atom_bitbucket import BitbucketService

    return BitbucketService("acme", {"gateway_url": gateway_url, "api_key": _required("ATOM_TEST_ACME_KEY")})


@pytest.fixture
def globex(gateway_url):
    from atom_bitbucket import BitbucketService

    return BitbucketService("globex", {"gateway_url": gateway_url, "api_key": _required("ATOM_TEST_GLOBEX_KEY")})


@pytest.fixture
def acme_key() -> str:
    return _required("ATOM_TEST_ACME_KEY")


@pytest.fixture
def globex_key() -> str:
    return _required("ATOM_TEST_GLOBEX_KEY")


@pytest.fixture
def stdio_server(tmp_path):
    """How an MCP client starts `atom-harness mcp` for Ada's token against the
    fake: a fresh store, the fake's address allowed and its API base URL."""
    return {
        "harness": _required("ATOM_TEST_HARNESS"),
        "fake_addr": _required("ATOM_TEST_FAKE_ADDR"),
        "api_base_url": _required("ATOM_TEST_FAKE_API_BASE_URL"),
        "access_token": _required("ATOM_TEST_ACCESS_TOKEN"),
        "dir": tmp_path,
    }


@pytest.fixture
def acme_webhook_secret() -> str:
    """The secret acme's webhook intake verifies deliveries with."""
    return _required("ATOM_TEST_ACME_WEBHOOK_SECRET")


@pytest.fixture
def narrow_store() -> dict:
    """A credential store holding tenant `narrow`: an OAuth token whose
    consent granted the scopes listed, and nothing else."""
    return {
        "store": _required("ATOM_TEST_NARROW_STORE"),
        "key_file": _required("ATOM_TEST_NARROW_KEY_FILE"),
        "scopes": _required("ATOM_TEST_NARROW_SCOPES").split(),
    }
