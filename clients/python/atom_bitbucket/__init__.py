"""Bitbucket Cloud for ATOM: an ``IntegrationService`` that calls the
atom-harness gateway, where the WebAssembly component runs sandboxed and the
tenants' Bitbucket credentials stay.

Register it in ATOM's ``DEFAULT_SERVICE_REGISTRY`` as
``"bitbucket": "atom_bitbucket:BitbucketService"``. Configuration, from the
tenant's ``config`` or the environment:

- ``gateway_url`` / ``ATOM_BITBUCKET_GATEWAY_URL`` (default http://127.0.0.1:8080)
- ``api_key``: the tenant's gateway API key (``atom-harness tenants add``);
  else ``ATOM_BITBUCKET_API_KEYS`` (a JSON object tenant id -> key), else
  ``ATOM_BITBUCKET_API_KEY``
- ``timeout`` seconds (default 90: a merge may wait for Bitbucket)

Every answer has ATOM's shapes; every failure carries one of ATOM's error
codes in ``details["error_code"]`` with ``retryable``, ``status_code`` and,
for rate limits, ``wait_time``. The gateway maps the component's errors; this
module maps only what happens before the gateway answers.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import httpx

try:  # inside ATOM's backend
    from core.integration_service import IntegrationService
except ImportError:  # pragma: no cover - standalone use
    from ._contract import IntegrationService

from .operator import GatewayOperator, OperatorError

__all__ = ["BitbucketService", "GatewayOperator", "OperatorError"]

DEFAULT_GATEWAY = "http://127.0.0.1:8080"

# The gateway's own refusals (before any operation ran), by HTTP status.
_REFUSALS = {
    400: ("VALIDATION_ERROR", False),
    401: ("AUTH_INVALID", False),
    403: ("PERMISSION_DENIED", False),
    404: ("OPERATION_NOT_FOUND", False),
    413: ("VALIDATION_ERROR", False),
    415: ("VALIDATION_ERROR", False),
    421: ("PERMISSION_DENIED", False),
    429: ("RATE_LIMIT", True),
    503: ("SERVICE_DOWN", True),
}


class BitbucketService(IntegrationService):
    def __init__(self, tenant_id: str = "default", config: Optional[Dict[str, Any]] = None):
        config = dict(config or {})
        super().__init__(tenant_id=tenant_id, config=config)
        self.gateway_url = str(
            config.get("gateway_url") or os.environ.get("ATOM_BITBUCKET_GATEWAY_URL") or DEFAULT_GATEWAY
        ).rstrip("/")
        self.timeout = float(config.get("timeout", 90))
        self._api_key = config.get("api_key") or _key_from_env(tenant_id)

    def __repr__(self) -> str:  # never the key
        return f"BitbucketService(tenant_id={self.tenant_id!r}, gateway_url={self.gateway_url!r})"

    # -- ATOM's contract ---------------------------------------------------

    def get_capabilities(self) -> Dict[str, Any]:
        return self._get("/atom/v1/capabilities")

    def get_operations(self) -> List[Dict[str, Any]]:
        return self._get("/atom/v1/operations")

    def get_operation_details(self, operation_name: str) -> Optional[Dict[str, Any]]:
        # The gateway publishes snake_case ids, as ATOM's integrations do;
        # its own names are kebab-case, and either finds the operation.
        wanted = _operation_id(operation_name)
        for operation in self.get_operations():
            if _operation_id(str(operation.get("name", ""))) == wanted:
                return operation
        return None

    def health_check(self) -> Dict[str, Any]:
        try:
            return self._get("/atom/v1/health")
        except httpx.HTTPStatusError as error:
            # The gateway answered: say what it said, not that it was unreachable.
            return {"healthy": False, "message": str(error), "last_check": _now()}
        except (httpx.HTTPError, ValueError) as error:
            return {"healthy": False, "message": f"gateway unreachable: {_describe(error)}", "last_check": _now()}

    async def execute_operation(
        self,
        operation: str,
        parameters: Dict[str, Any],
        context: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        context = dict(context or {})
        request_id = str(context.get("request_id") or uuid.uuid4().hex)
        if context.get("tenant_id") not in (None, self.tenant_id):
            return _failure(operation, request_id, "PERMISSION_DENIED", "Tenant ID mismatch", False, 403)
        # The API key decides the gateway tenant; ATOM's ids travel for the logs.
        forwarded = {k: context[k] for k in ("agent_id", "workspace_id", "connector_id") if context.get(k)}
        body = {"operation": operation, "parameters": parameters or {}, "context": forwarded}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(
                    f"{self.gateway_url}/atom/v1/execute",
                    headers=self._headers(request_id),
                    content=json.dumps(body),
                )
        except httpx.TimeoutException as error:
            return _failure(operation, request_id, "TIMEOUT", _describe(error), True, 504)
        except httpx.HTTPError as error:
            return _failure(operation, request_id, "NETWORK_ERROR", _describe(error), True, 503)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and "success" in answer:
            return answer
        return _refusal(operation, request_id, response, answer)

    # -- plumbing ------------------------------------------------------------

    def _headers(self, request_id: Optional[str] = None) -> Dict[str, str]:
        headers = {"content-type": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        if request_id:
            headers["x-request-id"] = request_id
        return headers

    def _get(self, path: str) -> Any:
        with httpx.Client(timeout=self.timeout) as client:
            response = client.get(f"{self.gateway_url}{path}", headers=self._headers())
        if response.status_code != 200:
            detail = _error_of(response.json() if _is_json(response) else None)
            raise httpx.HTTPStatusError(
                f"gateway answered {response.status_code}: {detail.get('message', '')}",
                request=response.request,
                response=response,
            )
        return response.json()


def _key_from_env(tenant_id: str) -> Optional[str]:
    keys = os.environ.get("ATOM_BITBUCKET_API_KEYS")
    if keys:
        try:
            mapping = json.loads(keys)
        except ValueError:
            mapping = {}
        if isinstance(mapping, dict) and mapping.get(tenant_id):
            return str(mapping[tenant_id])
    return os.environ.get("ATOM_BITBUCKET_API_KEY") or None


def _refusal(operation: str, request_id: str, response: httpx.Response, answer: Any) -> Dict[str, Any]:
    error = _error_of(answer)
    code, retryable = _REFUSALS.get(response.status_code, ("INTERNAL_ERROR", response.status_code >= 500))
    wait = error.get("retry_after_seconds") or _int(response.headers.get("retry-after"))
    message = error.get("message") or f"gateway answered HTTP {response.status_code}"
    return _failure(operation, request_id, code, message, retryable, response.status_code, wait)


def _failure(
    operation: str,
    request_id: str,
    code: str,
    message: str,
    retryable: bool,
    status_code: int,
    wait_time: Optional[int] = None,
) -> Dict[str, Any]:
    details: Dict[str, Any] = {
        "error_code": code,
        "retryable": retryable,
        "status_code": status_code,
        "operation": operation,
        "request_id": request_id,
    }
    if wait_time is not None:
        details["wait_time"] = wait_time
    return {"success": False, "result": None, "error": message, "details": details}


def _error_of(answer: Any) -> Dict[str, Any]:
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return answer["error"]
    # ATOM's envelope: the message is `error`, the rest is in `details`.
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        return {"message": answer["error"]}
    return {}


def _operation_id(name: str) -> str:
    return name.strip().replace("-", "_")


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
