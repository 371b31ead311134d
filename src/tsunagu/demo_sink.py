"""A stand-in for organizations' local systems in the demo: a webhook that stores what it gets.

``POST /{node}`` appends the notification to ``{out}/{node}.jsonl`` with its ``Idempotency-Key``
and whether that key was seen before (a local system must process each key once; the mesh
delivers at least once). ``GET /{node}`` lists what arrived. Not for production.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def create_sink(out: Path) -> Starlette:
    out.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    seen: dict[str, set[str]] = {}

    def keys(node: str) -> set[str]:
        if node not in seen:
            path = out / f"{node}.jsonl"
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            seen[node] = {json.loads(line)["key"] for line in lines if line.strip()}
        return seen[node]

    async def receive(request: Request) -> JSONResponse:
        node = request.path_params["node"]
        if not node.isidentifier():
            return JSONResponse({"error": "bad node name"}, status_code=404)
        body: Any = await request.json()
        key = request.headers.get("idempotency-key", "")
        with lock:
            known = keys(node)
            duplicate = key in known
            known.add(key)
            line = {"key": key, "duplicate": duplicate, "body": body}
            with (out / f"{node}.jsonl").open("a", encoding="utf-8") as f:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        return JSONResponse({"status": "duplicate" if duplicate else "accepted"})

    async def listing(request: Request) -> JSONResponse:
        node = request.path_params["node"]
        path = out / f"{node}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return JSONResponse([json.loads(line) for line in lines if line.strip()])

    async def index(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/{node}", receive, methods=["POST"]),
            Route("/{node}", listing, methods=["GET"]),
        ]
    )
