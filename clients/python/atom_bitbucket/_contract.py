"""The part of ATOM's ``core.integration_service.IntegrationService`` the
adapter relies on, for use outside ATOM's backend (tests, scripts). Inside
ATOM the real base class is imported instead."""

from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional


class IntegrationService(ABC):
    def __init__(self, tenant_id: str, config: Dict[str, Any]):
        self.tenant_id = tenant_id
        self.config = config

    @abstractmethod
    def get_capabilities(self) -> Dict[str, Any]: ...

    @abstractmethod
    def health_check(self) -> Dict[str, Any]: ...

    @abstractmethod
    async def execute_operation(
        self,
        operation: str,
        parameters: Dict[str, Any],
        context: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]: ...

    def get_operations(self) -> List[Dict[str, Any]]:
        return []

    def get_operation_details(self, operation_name: str) -> Optional[Dict[str, Any]]:
        for operation in self.get_operations():
            if operation.get("name") == operation_name:
                return operation
        return None
