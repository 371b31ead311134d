"""The datastore page of a resource: data preview, rejected rows and validation errors."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.catalog.datastore_helpers import AED_HEADER, AED_ROWS, make_resource, write_csv
from tsunagu.accounts import Caller
from tsunagu.catalog.datastore import load_file

from .htmlcheck import check_page


def _loaded(session: Session, caller: Caller, tmp_path: Path, *, private: bool = False) -> str:
    resource = make_resource(session, caller, private=private)
    rows = [*AED_ROWS, "4,病院,34.2,135.1,二台,2020-01-01"]  # rejected: not an integer
    load_file(session, resource, write_csv(tmp_path / "aed.csv", [AED_HEADER, *rows]))
    session.commit()
    return resource.id


def test_page_shows_rows_rejected_rows_and_validation_in_both_languages(
    client: TestClient, session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    rid = _loaded(session, org_token[0], tmp_path)
    response = client.get(f"/dataset/aed-list/resource/{rid}/data")
    assert response.status_code == 200
    page = check_page(response)
    text = " ".join(page.text_parts)
    assert "市役所本庁舎" in text and "市立体育館" in text
    assert "二台" in text and "type-error" in text  # the load's and Frictionless's report
    english = client.get(f"/dataset/aed-list/resource/{rid}/data?lang=en")
    check_page(english, "en")
    assert "Rows not loaded" in english.text
    dataset = client.get("/dataset/aed-list")
    assert f"/dataset/aed-list/resource/{rid}/data" in dataset.text


def test_page_bad_input_and_private_resources(
    client: TestClient, session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    rid = _loaded(session, org_token[0], tmp_path, private=True)
    assert client.get(f"/dataset/aed-list/resource/{rid}/data").status_code == 404
    assert client.get("/dataset/aed-list/resource/nope/data").status_code == 404
    public = make_resource(session, org_token[0], name="aed-public")
    load_file(session, public, write_csv(tmp_path / "b.csv", [AED_HEADER, *AED_ROWS]))
    session.commit()
    url = f"/dataset/aed-public/resource/{public.id}/data"
    assert client.get(url + "?offset=-1").status_code == 400
    assert client.get(url + "?bogus=1").status_code == 400
    assert client.get(f"/dataset/other/resource/{public.id}/data").status_code == 404
    assert client.get(url + "?offset=2").status_code == 200
