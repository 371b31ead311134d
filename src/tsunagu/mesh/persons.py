"""Linking a municipality's residents with the hub's pseudonym service.

The node computes each resident's link (HMAC of the individual number under the linking key)
locally and sends only links; the hub answers with this organization's pseudonyms, which the
node keeps beside its own resident ids. The individual number never leaves the node.
"""

from __future__ import annotations

from collections.abc import Callable

from tsunagu.registries.residents import current_numbers

from .errors import NodeNotEnrolled
from .runtime import NodeRuntime
from .services import link_of, remember_persons

BATCH = 1000


def sync_residents(
    rt: NodeRuntime, lg_code: str, progress: Callable[[int], None] | None = None
) -> int:
    """Get pseudonyms for every current resident of ``lg_code``; returns how many are new."""
    if rt.link_key is None:
        raise NodeNotEnrolled("this node has no linking key (TSUNAGU_NODE_LINK_KEY_FILE)")
    after, new = "", 0
    while True:
        with rt.session() as session:
            batch = current_numbers(session, lg_code, after, BATCH)
        if not batch:
            return new
        links = [link_of(rt.link_key, number) for _, number in batch]
        reply = rt.hub.call("POST", "/mesh/hub/pseudonyms", {"links": links})
        pairs = list(zip(reply["pseudonyms"], (rid for rid, _ in batch), strict=True))
        with rt.write_session() as session:
            new += remember_persons(session, pairs)
            session.commit()
        after = batch[-1][0]
        if progress is not None:
            progress(len(batch))
