"""PUT /api/v1/datastore/{resource_id}: load a CSV/XLSX body (problem+json on bad input)."""

from __future__ import annotations

import io

import openpyxl
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.catalog.datastore import DatastoreTable

from .datastore_helpers import AED_HEADER, AED_ROWS, make_resource

CSV = "text/csv"
BODY = "\r\n".join([AED_HEADER, *AED_ROWS, "4,病院,34.2,135.1,二台,2020-01-01"]) + "\r\n"


def _put(client: TestClient, rid: str, body: bytes, token: str | None, **kw: str) -> Response:
    headers = {"Content-Type": kw.pop("content_type", CSV)}
    if token:
        headers["Authorization"] = token
    return client.put(f"/api/v1/datastore/{rid}", content=body, headers=headers, params=kw)


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(DatastoreTable)) or 0)


def test_put_loads_a_cp932_csv_and_reports_rows_and_validation(
    client: TestClient, session: Session, org_token: tuple[Caller, str]
) -> None:
    resource = make_resource(session, org_token[0])
    session.commit()
    response = _put(client, resource.id, BODY.encode("cp932"), org_token[1])
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["meta"]["count"] == 3 and result["meta"]["encoding"] == "cp932"
    assert [(e["row"], e["field"]) for e in result["load_errors"]] == [(5, "設置台数")]
    assert result["validation"]["valid"] is False
    shown = client.get(f"/api/v1/datastore/{resource.id}").json()
    assert shown["meta"]["count"] == 3
    rows = client.get("/api/3/action/datastore_search", params={"resource_id": resource.id}).json()[
        "result"
    ]["records"]
    assert [r["名称"] for r in rows] == ["市役所本庁舎", "中央公民館", "市立体育館"]


def test_put_an_xlsx_with_the_standard_dictionary(
    client: TestClient, session: Session, org_token: tuple[Caller, str]
) -> None:
    resource = make_resource(session, org_token[0], dictionary=[])
    session.commit()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for line in [AED_HEADER, *AED_ROWS]:
        sheet.append(line.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = _put(
        client, resource.id, buffer.getvalue(), org_token[1], content_type=xlsx,
        standard="no-such-standard",
    )  # fmt: skip
    assert response.status_code == 422
    response = _put(client, resource.id, buffer.getvalue(), org_token[1], content_type=xlsx)
    assert response.status_code == 200
    assert response.json()["meta"]["format"] == "xlsx"


def test_put_bad_input_is_problem_json_and_stores_nothing(
    client: TestClient, session: Session, org_token: tuple[Caller, str]
) -> None:
    resource = make_resource(session, org_token[0])
    other = create_organization(session, "other-city", "他市", corporate_number="2000012010019")
    _, other_token = create_token(session, other.name, "tests")
    session.commit()
    body = BODY.encode()
    cases = [
        (_put(client, resource.id, body, None), 401, "unauthorized"),
        (_put(client, resource.id, body, other_token), 403, "forbidden"),
        (_put(client, "no-such-id", body, org_token[1]), 404, "not-found"),
        (_put(client, resource.id, body, org_token[1], content_type="application/json"), 422,
         "validation-error"),
        (_put(client, resource.id, b"\x80\xff\xfe\x00broken", org_token[1]), 422,
         "datastore-load-error"),
        (_put(client, resource.id, b"PK\x03\x04" + b"\x00" * 40, org_token[1],
              content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
         422, "datastore-load-error"),
        (_put(client, resource.id, b"", org_token[1]), 422, "datastore-load-error"),
        (_put(client, resource.id, body, org_token[1], encoding="no-such-codec"), 422,
         "datastore-load-error"),
    ]  # fmt: skip
    for response, status, slug in cases:
        assert response.status_code == status, (status, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("#" + slug)
    assert _count(session) == 0
    big = client.put(
        f"/api/v1/datastore/{resource.id}", content=b"a," * 2_000_000,
        headers={"Content-Type": CSV, "Authorization": org_token[1]},
    )  # fmt: skip
    assert big.status_code == 413
    assert client.get(f"/api/v1/datastore/{resource.id}").status_code == 404
