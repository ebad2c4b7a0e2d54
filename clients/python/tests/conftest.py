"""The suite runs against a live gateway and fake Bitbucket, started by the
Rust test `python_adapter_serves_atom` (`scripts/test` runs it), which passes
where they are in the environment. Run alone, it fails rather than skips."""

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
