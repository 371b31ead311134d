"""``/api/v1/address/geocode``: addresses → ABR identifiers, in abr-geocoder's formats."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from tsunagu.kernel import InputModel, ValidationProblem
from tsunagu.registries.address.geocoder.formats import MEDIA_TYPES, render
from tsunagu.registries.address.geocoder.matcher import Geocoder
from tsunagu.registries.address.geocoder.service import app_geocoder

MAX_ADDRESS_CHARS = 10_000
MAX_BATCH = 10_000

router = APIRouter(prefix="/api/v1/address", tags=["Address geocoder"])

Target = Literal["all", "residential", "parcel"]
Format = Literal["json", "ndjson", "csv", "geojson"]
PROBLEM = {"description": "Problem (RFC 9457)", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {422: PROBLEM, 503: PROBLEM}
CONTENT: dict[str, Any] = {"content": {m.split(";")[0]: {} for m in MEDIA_TYPES.values()}}


class GeocodeBatch(InputModel):
    """Many addresses in one request (answered in order, streamed)."""

    addresses: list[str] = Field(max_length=MAX_BATCH)
    target: Target = "all"
    format: Format = "json"


def geocoder_for(request: Request) -> Geocoder:
    """The app's geocoder over the registry database (built once, rebuilt after imports)."""
    return app_geocoder(request.app.state)


def _check(address: str) -> str:
    if "\x00" in address:
        raise ValidationProblem("the address contains a NUL character")
    if len(address) > MAX_ADDRESS_CHARS:
        raise ValidationProblem(f"an address is at most {MAX_ADDRESS_CHARS} characters")
    return address


def _respond(geocoder: Geocoder, addresses: list[str], target: str, fmt: str) -> StreamingResponse:
    def results() -> Iterator[Any]:
        for address in addresses:
            yield geocoder.geocode(address, target)

    return StreamingResponse(
        (chunk.encode() for chunk in render(results(), fmt)), media_type=MEDIA_TYPES[fmt]
    )


@router.get("/geocode", responses={200: CONTENT, **ERRORS},
            summary="Geocode an address (abr-geocoder fields and match levels)")  # fmt: skip
def geocode(
    request: Request,
    address: Annotated[str, Query(description="The address as written (紀尾井町1-3)")],
    target: Annotated[Target, Query(description="all, residential or parcel")] = "all",
    format: Annotated[Format, Query(description="json, ndjson, csv or geojson")] = "json",
) -> StreamingResponse:
    """One address → one result, in abr-geocoder's output shape."""
    return _respond(geocoder_for(request), [_check(address)], target, format)


@router.post("/geocode", responses={200: CONTENT, **ERRORS},
             summary="Geocode many addresses in one request")  # fmt: skip
def geocode_batch(request: Request, batch: GeocodeBatch) -> StreamingResponse:
    """Up to 10,000 addresses, answered in order."""
    addresses = [_check(a) for a in batch.addresses]
    return _respond(geocoder_for(request), addresses, batch.target, batch.format)
