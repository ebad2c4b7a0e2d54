"""Onboarding tenants from ATOM's backend: the gateway's operator API.

When one of ATOM's users connects Bitbucket, the backend registers a tenant
and keeps the API key it is given (once) with the user's integration config;
no shell on a gateway host is needed. The operator token
(``ATOM_OPERATOR_TOKEN``, the same value the gateways were started with) is
never a tenant key and never leaves the backend: do not hand it to a
browser, where the gateway refuses it anyway.

    operator = GatewayOperator(gateway_url, token)
    key = operator.add_tenant("acme")["api_key"]
    BitbucketService("acme", {"gateway_url": gateway_url, "api_key": key})

Every failure raises :class:`OperatorError` with the gateway's code
(``conflict``, ``not_found``, ``validation``, ``service_down`` ...), whether
it is worth retrying, and the field at fault when there is one.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import httpx

__all__ = ["GatewayOperator", "OperatorError"]


class OperatorError(Exception):
    def __init__(self, code: str, message: str, retryable: bool, status_code: int, field: Optional[str] = None):
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.status_code = status_code
        self.field = field


class GatewayOperator:
    def __init__(self, gateway_url: Optional[str] = None, token: Optional[str] = None, timeout: float = 30):
        self.gateway_url = str(
            gateway_url or os.environ.get("ATOM_BITBUCKET_GATEWAY_URL") or "http://127.0.0.1:8080"
        ).rstrip("/")
        self._token = token or os.environ.get("ATOM_OPERATOR_TOKEN") or ""
        self.timeout = timeout

    def __repr__(self) -> str:  # never the token
        return f"GatewayOperator(gateway_url={self.gateway_url!r})"

    def add_tenant(self, name: str) -> Dict[str, Any]:
        """Registers ``name``; answers ``{"tenant", "api_key"}``: keep the key, it is shown once."""
        return self._call("POST", "/operator/v1/tenants", {"name": name})

    def list_tenants(self) -> List[Dict[str, Any]]:
        return self._call("GET", "/operator/v1/tenants")["tenants"]

    def revoke_tenant(self, name: str) -> Dict[str, Any]:
        return self._call("DELETE", f"/operator/v1/tenants/{_segment(name)}")

    def rotate_key(self, name: str) -> Dict[str, Any]:
        """A new key for ``name``; its older keys (and their sessions) stop working."""
        return self._call("POST", f"/operator/v1/tenants/{_segment(name)}/key", {})

    def set_webhook_secret(self, name: str, secret: Optional[str] = None) -> Dict[str, Any]:
        """Sets the secret ``name``'s webhooks sign with; without one, the gateway makes one and answers it once."""
        body = {} if secret is None else {"secret": secret}
        return self._call("PUT", f"/operator/v1/tenants/{_segment(name)}/webhook-secret", body)

    def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        headers = {"authorization": f"Bearer {self._token}"}
        content = None
        if body is not None:
            headers["content-type"] = "application/json"
            content = json.dumps(body)
        try:
            with httpx.Client(timeout=self.timeout) as client:
                response = client.request(method, f"{self.gateway_url}{path}", headers=headers, content=content)
        except httpx.HTTPError as error:
            raise OperatorError("network_error", f"gateway unreachable: {type(error).__name__}", True, 503) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.is_success:
            return answer
        error = answer.get("error") if isinstance(answer, dict) and isinstance(answer.get("error"), dict) else {}
        raise OperatorError(
            str(error.get("code") or "internal"),
            str(error.get("message") or f"gateway answered HTTP {response.status_code}"),
            bool(error.get("retryable", response.status_code >= 500)),
            response.status_code,
            error.get("field"),
        )


def _segment(name: str) -> str:
    return quote(name, safe="")
