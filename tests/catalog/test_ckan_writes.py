"""CKAN write actions: create, update, patch, delete, and every kind of bad input.

Each rejected write is checked twice: the CKAN error envelope, and that the stored catalog is
exactly as before (re-read through package_show and a row count).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.catalog.conftest import sample_dataset
from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.app import create_app
from tsunagu.catalog import Dataset, Group
from tsunagu.kernel import Settings

API = "/api/3/action/"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


def snapshot(client: TestClient, session: Session, token: str) -> tuple[int, Any]:
    """Everything a rejected write must leave alone: row count and the stored record."""
    count = session.scalar(select(func.count()).select_from(Dataset))
    shown = client.get(API + "package_show", params={"id": "population-2024"}, headers=auth(token))
    return count or 0, shown.json().get("result")


@pytest.fixture
def token(org_token: tuple[Caller, str], population_group: Group) -> str:
    return org_token[1]


@pytest.fixture
def other_token(session: Session) -> str:
    create_organization(session, "other-org", "他市", corporate_number="7000012050002")
    _, other = create_token(session, "other-org")
    session.commit()
    return other


@pytest.fixture
def existing(client: TestClient, token: str) -> dict[str, Any]:
    response = client.post(API + "package_create", json=sample_dataset(), headers=auth(token))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def post(client: TestClient, action: str, body: Any, token: str | None) -> Any:
    headers = auth(token) if token else {}
    return client.post(API + action, json=body, headers=headers)


def assert_error(response: Any, status: int, kind: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["__type"] == kind
    assert body["error"]["message"]
    if field:
        assert field in body["error"], body["error"]


class TestCreate:
    def test_create_returns_the_stored_package(self, client: TestClient, token: str) -> None:
        created = post(client, "package_create", sample_dataset(), token).json()["result"]
        shown = client.get(API + "package_show", params={"id": created["id"]}).json()["result"]
        assert created == shown
        assert shown["title"] == "人口統計（令和6年）" and shown["temporal_start"] == "2024-01-01"

    def test_read_only_ckan_fields_are_ignored(self, client: TestClient, token: str) -> None:
        body = sample_dataset(
            id="11111111-1111-1111-1111-111111111111", metadata_created="2000-01-01T00:00:00",
            num_resources=99, state="deleted", type="dataset", organization={"name": "x"},
        )  # fmt: skip
        result = post(client, "package_create", body, token).json()["result"]
        assert result["id"] != body["id"] and result["state"] == "active"
        assert result["num_resources"] == 1 and not result["metadata_created"].startswith("2000")

    def test_owner_org_may_be_a_corporate_number(self, client: TestClient, token: str) -> None:
        body = sample_dataset(owner_org="8000012050001")
        result = post(client, "package_create", body, token).json()["result"]
        assert result["organization"]["name"] == "test-org"

    def test_form_encoded_create_works(self, client: TestClient, token: str) -> None:
        form = {"name": "form-made", "title": "フォーム", "owner_org": "test-org"}
        response = client.post(API + "package_create", data=form, headers=auth(token))
        assert response.json()["result"]["name"] == "form-made"

    def test_x_ckan_api_key_header_is_accepted(self, client: TestClient, token: str) -> None:
        response = client.post(
            API + "package_create", json=sample_dataset(), headers={"X-CKAN-API-Key": token}
        )
        assert response.json()["success"] is True

    def test_aware_datetimes_are_stored_in_utc(self, client: TestClient, token: str) -> None:
        body = sample_dataset(issued="2024-04-01T09:00:00+09:00")
        result = post(client, "package_create", body, token).json()["result"]
        assert result["issued"] == "2024-04-01T00:00:00"


BAD_CREATES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown field", {"colour": "blue"}, "colour"),
    ("missing title", {"title": None}, "title"),
    ("title not a string", {"title": 123}, "title"),
    ("tags not a list", {"tags": "人口"}, "tags"),
    ("private not a boolean", {"private": "maybe"}, "private"),
    ("bad name", {"name": "Has Spaces"}, "name"),
    ("over-long title", {"title": "長" * 501}, "title"),
    ("over-long notes", {"notes": "x" * 100_001}, "notes"),
    ("over-long tag", {"tags": [{"name": "t" * 101}]}, "tags.0.name"),
    ("NUL in title", {"title": "a\x00b"}, "title"),
    ("unknown licence", {"license_id": "wtfpl"}, "license_id"),
    ("unknown group", {"groups": [{"name": "nope"}]}, "groups"),
    ("bad municipality code", {"municipalities": ["13101"]}, "municipalities.0"),
    ("negative size", {"resources": [{"url": "x", "size": -1}]}, "resources.size"),
    ("size beyond BIGINT", {"resources": [{"url": "x", "size": 2**63}]}, "resources.size"),
    ("temporal range reversed", {"temporal_start": "2025-01-01"}, "temporal_start"),
    ("unknown owner", {"owner_org": "no-such-org"}, "owner_org"),
    ("corporate number check digit", {"owner_org": "9000012050001"}, "owner_org"),
    ("repeated resource ids", {"resources": [{"id": "r1"}, {"id": "r1"}]}, "resources"),
]


class TestCreateRejects:
    @pytest.mark.parametrize(
        ("overrides", "field"), [c[1:] for c in BAD_CREATES], ids=[c[0] for c in BAD_CREATES]
    )
    def test_bad_record_is_a_validation_error_and_stores_nothing(
        self, client: TestClient, session: Session, token: str, overrides: dict[str, Any],
        field: str,
    ) -> None:  # fmt: skip
        body = {k: v for k, v in sample_dataset(**overrides).items() if v is not None}
        response = post(client, "package_create", body, token)
        assert_error(response, 409, "Validation Error", field)
        assert snapshot(client, session, token) == (0, None)

    def test_invalid_json_body(self, client: TestClient, session: Session, token: str) -> None:
        response = client.post(
            API + "package_create", content=b'{"name": "x", ',
            headers={**auth(token), "Content-Type": "application/json"},
        )  # fmt: skip
        assert_error(response, 400, "Validation Error")
        assert "JSON" in response.json()["error"]["message"]
        assert snapshot(client, session, token) == (0, None)

    def test_json_body_that_is_not_an_object(self, client: TestClient, token: str) -> None:
        response = post(client, "package_create", [sample_dataset()], token)
        assert_error(response, 400, "Validation Error")

    def test_duplicate_name(
        self, client: TestClient, session: Session, token: str, existing: dict[str, Any]
    ) -> None:
        before = snapshot(client, session, token)
        response = post(client, "package_create", sample_dataset(title="別物"), token)
        assert_error(response, 409, "Validation Error", "name")
        assert snapshot(client, session, token) == before

    def test_resource_id_of_another_dataset(
        self, client: TestClient, session: Session, token: str, existing: dict[str, Any]
    ) -> None:
        before = snapshot(client, session, token)
        stolen = existing["resources"][0]["id"]
        body = sample_dataset(name="thief", resources=[{"id": stolen, "url": "x"}])
        assert_error(post(client, "package_create", body, token), 409, "Validation Error")
        assert snapshot(client, session, token) == before

    def test_missing_token(self, client: TestClient, session: Session, token: str) -> None:
        response = post(client, "package_create", sample_dataset(), None)
        assert_error(response, 403, "Authorization Error")
        assert snapshot(client, session, token) == (0, None)

    def test_invalid_token(self, client: TestClient, session: Session, token: str) -> None:
        response = post(client, "package_create", sample_dataset(), "tsu_not-a-real-token")
        assert_error(response, 401, "Authorization Error")
        assert snapshot(client, session, token) == (0, None)

    def test_token_of_another_organization(
        self, client: TestClient, session: Session, token: str, other_token: str
    ) -> None:
        response = post(client, "package_create", sample_dataset(), other_token)
        assert_error(response, 403, "Authorization Error")
        assert snapshot(client, session, token) == (0, None)

    def test_writes_need_post(self, client: TestClient, session: Session, token: str) -> None:
        response = client.get(
            API + "package_create", params=sample_dataset(tags=None), headers=auth(token)
        )
        assert_error(response, 400, "Validation Error")
        assert snapshot(client, session, token) == (0, None)


class TestUpdateAndPatch:
    def test_show_output_round_trips_into_update(
        self, client: TestClient, token: str, existing: dict[str, Any]
    ) -> None:
        updated = post(client, "package_update", existing, token).json()["result"]
        ignore = {"metadata_modified"}
        assert {k: v for k, v in updated.items() if k not in ignore} == {
            k: v for k, v in existing.items() if k not in ignore
        }

    def test_update_replaces_and_keeps_resource_ids(
        self, client: TestClient, token: str, existing: dict[str, Any]
    ) -> None:
        body = {**existing, "title": "人口統計（改訂）", "tags": [{"name": "改訂"}],
                "license_id": "cc-zero"}  # fmt: skip
        result = post(client, "package_update", body, token).json()["result"]
        assert result["title"] == "人口統計（改訂）" and [t["name"] for t in result["tags"]] == [
            "改訂"
        ]
        assert result["license_title"] == "クリエイティブ・コモンズ CC0"
        assert result["resources"][0]["id"] == existing["resources"][0]["id"]

    def test_update_by_name_without_id(
        self, client: TestClient, token: str, existing: dict[str, Any]
    ) -> None:
        body = sample_dataset(title="名前で更新")
        result = post(client, "package_update", body, token).json()["result"]
        assert result["id"] == existing["id"] and result["title"] == "名前で更新"

    def test_patch_changes_only_given_fields(
        self, client: TestClient, token: str, existing: dict[str, Any]
    ) -> None:
        patch = {"id": existing["id"], "notes": "更新した説明"}
        result = post(client, "package_patch", patch, token).json()["result"]
        assert result["notes"] == "更新した説明"
        assert result["title"] == existing["title"] and result["tags"] == existing["tags"]
        assert result["resources"] == existing["resources"]

    @pytest.mark.parametrize("action", ["package_update", "package_patch"])
    @pytest.mark.parametrize(
        ("change", "status", "kind"),
        [
            ({"colour": "blue"}, 409, "Validation Error"),
            ({"title": ""}, 409, "Validation Error"),
            ({"title": ["not", "text"]}, 409, "Validation Error"),
            ({"license_id": "wtfpl"}, 409, "Validation Error"),
            ({"tags": [{"name": "x" * 101}]}, 409, "Validation Error"),
            ({"owner_org": "other-org"}, 403, "Authorization Error"),
            ({"resources": [{"id": "x" * 37}]}, 409, "Validation Error"),
        ],
    )
    def test_bad_change_is_rejected_and_nothing_changes(
        self, client: TestClient, session: Session, token: str, other_token: str,
        existing: dict[str, Any], action: str, change: dict[str, Any], status: int, kind: str,
    ) -> None:  # fmt: skip
        before = snapshot(client, session, token)
        body = (
            {**existing, **change}
            if action == "package_update"
            else {"id": existing["id"], **change}
        )
        assert_error(post(client, action, body, token), status, kind)
        assert snapshot(client, session, token) == before

    @pytest.mark.parametrize("action", ["package_update", "package_patch", "package_delete"])
    def test_token_of_another_organization_may_not_change_it(
        self, client: TestClient, session: Session, token: str, other_token: str,
        existing: dict[str, Any], action: str,
    ) -> None:  # fmt: skip
        before = snapshot(client, session, token)
        body = {**existing, "title": "乗っ取り"}
        assert_error(post(client, action, body, other_token), 403, "Authorization Error")
        assert_error(post(client, action, body, None), 403, "Authorization Error")
        assert snapshot(client, session, token) == before

    @pytest.mark.parametrize("action", ["package_update", "package_patch", "package_delete"])
    def test_missing_dataset_or_identifier(
        self, client: TestClient, token: str, action: str
    ) -> None:
        assert_error(post(client, action, {"id": "nope"}, token), 404, "Not Found Error")
        assert_error(post(client, action, {}, token), 409, "Validation Error", "id")

    def test_rename_to_a_taken_name(
        self, client: TestClient, session: Session, token: str, existing: dict[str, Any]
    ) -> None:
        post(client, "package_create", sample_dataset(name="second"), token)
        before = snapshot(client, session, token)
        patch = {"id": existing["id"], "name": "second"}
        assert_error(post(client, "package_patch", patch, token), 409, "Validation Error", "name")
        assert snapshot(client, session, token) == before


class TestDelete:
    def test_deleted_dataset_leaves_reads_and_search(
        self, client: TestClient, token: str, existing: dict[str, Any]
    ) -> None:
        response = post(client, "package_delete", {"id": existing["id"]}, token)
        assert response.json() == {**response.json(), "success": True, "result": None}
        shown = client.get(API + "package_show", params={"id": existing["id"]}, headers=auth(token))
        assert shown.status_code == 404
        assert client.get(API + "package_search").json()["result"]["count"] == 0
        again = post(client, "package_delete", {"id": existing["id"]}, token)
        assert_error(again, 404, "Not Found Error")


def test_write_rate_limit_answers_429_in_the_ckan_envelope(
    tmp_path: Path, engine: Engine, session_factory: sessionmaker[Session],
    org_token: tuple[Caller, str],
) -> None:  # fmt: skip
    settings = Settings(
        data_dir=tmp_path,
        secret_key="k" * 32,
        rate_limit_write="1/minute",  # type: ignore[arg-type]
    )
    app = create_app(settings, engine)
    app.state.sessionmaker = session_factory
    with TestClient(app) as limited:
        first = post(limited, "package_create", sample_dataset(groups=[]), org_token[1])
        second = post(
            limited, "package_create", sample_dataset(name="two", groups=[]), org_token[1]
        )
    assert first.status_code == 200
    assert second.status_code == 429 and second.headers["Retry-After"]
    assert second.json()["error"]["__type"] == "Rate Limit Error"
