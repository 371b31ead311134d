"""Errors of the mesh.

On the message protocol (``/r1/...`` for local systems, ``/mesh/v1/...`` between nodes) errors
use the X-Road REST shape ``{"type", "message", "detail"}`` with X-Road's type names:
``Client.*`` (the caller's fault), ``Server.ClientProxy.*`` (raised by the consumer's own node),
``Server.ServerProxy.*`` (raised by the provider's node). Management APIs use problem+json like
the rest of tsunagu.
"""

from __future__ import annotations

import uuid
from typing import Any

from tsunagu.kernel import Problem

# The fault's shape as OpenAPI documents it (the hub's signed calls, a node's /r1).
FAULT_CONTENT: dict[str, Any] = {
    "application/json": {
        "schema": {
            "title": "MeshFault",
            "type": "object",
            "required": ["type", "message", "detail"],
            "properties": {
                "type": {"type": "string", "description": "X-Road's fault type, e.g. Client.*"},
                "message": {"type": "string"},
                "detail": {"type": "string", "description": "an error id, to find it in logs"},
            },
        }
    }
}


class MeshFault(Exception):
    """A refused or failed message; ``fault_type`` is the X-Road type name."""

    def __init__(self, fault_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.fault_type = fault_type
        self.message = message
        self.status = status
        self.detail = str(uuid.uuid4())  # X-Road puts an error id here, to find it in logs

    def body(self) -> dict[str, Any]:
        return {"type": self.fault_type, "message": self.message, "detail": self.detail}


def client_fault(code: str, message: str, status: int = 400) -> MeshFault:
    return MeshFault(f"Client.{code}", message, status)


def consumer_fault(code: str, message: str, status: int = 500) -> MeshFault:
    return MeshFault(f"Server.ClientProxy.{code}", message, status)


def provider_fault(code: str, message: str, status: int = 500) -> MeshFault:
    return MeshFault(f"Server.ServerProxy.{code}", message, status)


class MeshProblem(Problem):
    slug = "mesh-error"
    title = "Mesh request refused"
    status = 422


class NodeNotEnrolled(MeshProblem):
    slug = "node-not-enrolled"
    title = "This node has no certificate yet"
    status = 503


class HubRefused(MeshProblem):
    slug = "hub-refused"
    title = "The hub refused the node's call"
    status = 403
