"""Domain events: what changed, recorded in the same transaction as the change (outbox).

Registries emit events (a corporation renamed, a town abolished, a resident moved); the mesh
will deliver them to subscribers. An event names its ``topic`` (``<context>.<entity>.<change>``,
e.g. ``address.machiaza.changed``), the ``key`` of the entity, and ``data`` with ``before`` and
``after`` where that applies. Events never carry an individual number (マイナンバー).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import naive_utcnow

TOPIC_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){2,}\Z")


@dataclass(frozen=True)
class Event:
    """A fact about a change, for subscribers."""

    topic: str
    key: str
    data: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=naive_utcnow)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        if not TOPIC_RE.match(self.topic):
            raise ValueError(f"event topic {self.topic!r} is not <context>.<entity>.<change>")
