"""Field-level differences between two dataset snapshots (CKAN package dicts).

Top-level fields are compared as values; tags and groups as lists of names, extras as a mapping
by key; distributions (``resources``) are matched by their id, so a changed URL or data
dictionary shows as a change of that distribution, not as one removed and one added.
"""

from __future__ import annotations

from typing import Any

# Derived from other fields or from other records (the organization's own title, the licence's
# title), or changed by every write: not a change of the dataset itself.
IGNORED = frozenset({
    "metadata_modified", "num_tags", "num_resources", "organization", "license_title",
    "license_url", "isopen", "relationships_as_object", "relationships_as_subject",
    "creator_user_id", "resources", "attribution",
})  # fmt: skip
RESOURCE_IGNORED = frozenset({"package_id"})


def _normalized(snapshot: dict[str, Any], key: str) -> Any:
    value = snapshot.get(key)
    if key == "tags" and isinstance(value, list):
        return sorted(str(t.get("name", "")) for t in value if isinstance(t, dict))
    if key == "groups" and isinstance(value, list):
        return sorted(str(g.get("name", "")) for g in value if isinstance(g, dict))
    if key == "extras" and isinstance(value, list):
        return {str(e.get("key")): e.get("value") for e in value if isinstance(e, dict)}
    return value


def _field_changes(
    before: dict[str, Any], after: dict[str, Any], ignored: frozenset[str]
) -> list[dict[str, Any]]:
    changes = []
    for key in sorted((before.keys() | after.keys()) - ignored):
        old, new = _normalized(before, key), _normalized(after, key)
        if old != new:
            changes.append({"field": key, "before": old, "after": new})
    return changes


def _resources(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = snapshot.get("resources") or []
    return {str(r["id"]): r for r in found if isinstance(r, dict) and "id" in r}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed from ``before`` to ``after``: fields and distributions by id."""
    old, new = _resources(before), _resources(after)
    changed = []
    for rid in [r for r in new if r in old]:
        fields = _field_changes(old[rid], new[rid], RESOURCE_IGNORED)
        if fields:
            changed.append({"id": rid, "name": new[rid].get("name", ""), "fields": fields})
    return {
        "fields": _field_changes(before, after, IGNORED),
        "resources": {
            "added": [new[r] for r in new if r not in old],
            "removed": [old[r] for r in old if r not in new],
            "changed": changed,
        },
    }


def summarize(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """The change summary stored with a version: changed field names and distribution counts."""
    if before is None:
        return {"fields": [], "resources_added": len(_resources(after)),
                "resources_removed": 0, "resources_changed": 0}  # fmt: skip
    found = diff(before, after)
    res = found["resources"]
    return {
        "fields": [c["field"] for c in found["fields"]],
        "resources_added": len(res["added"]),
        "resources_removed": len(res["removed"]),
        "resources_changed": len(res["changed"]),
    }


def is_empty(summary: dict[str, Any]) -> bool:
    return not summary["fields"] and not any(
        summary[k] for k in ("resources_added", "resources_removed", "resources_changed")
    )
