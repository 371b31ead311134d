"""Dataset versions: every write path records one; list, show, as-of, diff; bad input."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from tests.catalog.conftest import sample_dataset
from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.catalog import Dataset, Group, Source
from tsunagu.catalog.bulk import upsert_source, write_datasets
from tsunagu.catalog.records import DatasetRecord, OrgRecord, ResourceRecord
from tsunagu.catalog.versions.diff import diff
from tsunagu.catalog.versions.models import DatasetVersion

V1 = "/api/v1"
PROBLEM = "application/problem+json"
NAME = "population-2024"


def naive(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """A stored timestamp: naive UTC."""
    return datetime(year, month, day, hour, tzinfo=UTC).replace(tzinfo=None)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("#" + slug) and body["detail"]
    return body


def versions_of(session: Session, name: str) -> list[DatasetVersion]:
    pk = session.scalar(select(Dataset.pk).where(Dataset.name == name))
    return list(
        session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_pk == pk)
            .order_by(DatasetVersion.number)
        )
    )


@pytest.fixture
def token(org_token: tuple[Caller, str], population_group: Group) -> str:
    return org_token[1]


@pytest.fixture
def edited(client: TestClient, token: str) -> dict[str, Any]:
    """population-2024 created, then retitled, its CSV moved and a second file added."""
    created = client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token))
    assert created.status_code == 201
    data = copy.deepcopy(sample_dataset())
    resource = created.json()["resources"][0]
    data["title"] = "人口統計（令和6年・確定値）"
    data["resources"] = [
        {**data["resources"][0], "id": resource["id"], "url": "https://example.jp/v2.csv"},
        {"name": "PDF 版", "url": "https://example.jp/population.pdf", "format": "PDF"},
    ]
    updated = client.put(f"{V1}/datasets/{NAME}", json=data, headers=auth(token))
    assert updated.status_code == 200, updated.text
    return {"resource_id": resource["id"], "data": data}


class TestRecording:
    def test_create_records_version_one_by_the_token(
        self, client: TestClient, session: Session, token: str, org_token: tuple[Caller, str]
    ) -> None:
        client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token))
        (v1,) = versions_of(session, NAME)
        assert (v1.number, v1.change, v1.author_type) == (1, "created", "token")
        assert v1.author_ref == str(org_token[0].token_id)
        assert v1.author_organization == "test-org"
        assert v1.snapshot["title"] == "人口統計（令和6年）"
        assert v1.snapshot["resources"][0]["data_dictionary"][0]["name"] == "population"
        assert v1.summary["resources_added"] == 1

    def test_update_records_what_changed(self, session: Session, edited: dict[str, Any]) -> None:
        v1, v2 = versions_of(session, NAME)
        assert v2.change == "updated" and v2.number == 2
        assert v2.summary == {
            "fields": ["title"], "resources_added": 1, "resources_removed": 0,
            "resources_changed": 1,
        }  # fmt: skip
        assert v1.snapshot["title"] != v2.snapshot["title"]

    def test_an_update_that_changes_nothing_records_nothing(
        self, client: TestClient, session: Session, token: str, edited: dict[str, Any]
    ) -> None:
        current = client.get(f"{V1}/datasets/{NAME}").json()  # read back, written back as is
        again = client.put(f"{V1}/datasets/{NAME}", json=current, headers=auth(token))
        assert again.status_code == 200, again.text
        assert len(versions_of(session, NAME)) == 2

    def test_ckan_patch_and_delete_record_versions(
        self, client: TestClient, session: Session, token: str
    ) -> None:
        client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token))
        patched = client.post(
            "/api/3/action/package_patch", json={"id": NAME, "notes": "新しい説明"},
            headers=auth(token),
        )  # fmt: skip
        assert patched.json()["success"] is True
        deleted = client.post("/api/3/action/package_delete", json={"id": NAME},
                              headers=auth(token))  # fmt: skip
        assert deleted.json()["success"] is True
        changes = [(v.change, v.summary["fields"]) for v in versions_of(session, NAME)]
        assert changes == [("created", []), ("updated", ["notes"]), ("deleted", ["state"])]

    def test_a_failed_write_records_no_version(
        self, client: TestClient, session: Session, token: str
    ) -> None:
        client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token))
        bad = client.put(f"{V1}/datasets/{NAME}", json=sample_dataset(license_id="nope"),
                         headers=auth(token))  # fmt: skip
        assert bad.status_code == 422
        assert len(versions_of(session, NAME)) == 1

    def test_dataset_from_before_versioning_gets_a_baseline_first(
        self, client: TestClient, session: Session, token: str
    ) -> None:
        client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token))
        for v in versions_of(session, NAME):  # as if created before migration 0012
            session.delete(v)
        session.commit()
        client.put(f"{V1}/datasets/{NAME}", json=sample_dataset(title="新題"), headers=auth(token))
        v1, v2 = versions_of(session, NAME)
        assert (v1.change, v1.snapshot["title"]) == ("baseline", "人口統計（令和6年）")
        assert (v2.change, v2.summary["fields"]) == ("updated", ["title"])


def _record(i: int, modified: datetime, title: str = "") -> DatasetRecord:
    return DatasetRecord(
        id=f"00000000-0000-4000-8000-{i:012d}", name=f"bulk-{i}", title=title or f"データ{i}",
        organization=OrgRecord(name="bulk-city", title="一括市"),
        metadata_created=naive(2023, 1, 1), metadata_modified=modified,
        resources=[ResourceRecord(id=f"10000000-0000-4000-8000-{i:012d}", position=0,
                                  url=f"https://example.jp/{i}.csv", format="CSV")],
    )  # fmt: skip


class TestBulk:
    @pytest.fixture(autouse=True)
    def _source(self, session: Session) -> None:
        upsert_source(session, Source(id="seed-test", title="Seed test"))

    def test_bulk_write_records_versions_with_one_executemany(self, session: Session) -> None:
        inserts: list[bool] = []

        def count(
            conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool
        ) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO DATASET_VERSION"):
                inserts.append(many)

        t0 = naive(2024, 1, 1)
        bind = session.connection()
        event.listen(bind, "before_cursor_execute", count)
        try:
            stats = write_datasets(session, "seed-test", [_record(i, t0) for i in range(60)])
        finally:
            event.remove(bind, "before_cursor_execute", count)
        assert stats.inserted == 60
        assert inserts == [True]  # one executemany for the batch, not a statement per dataset
        rows = session.execute(
            select(DatasetVersion.change, DatasetVersion.author_type, DatasetVersion.author_ref,
                   func.count()).group_by(DatasetVersion.change, DatasetVersion.author_type,
                                          DatasetVersion.author_ref)
        ).all()  # fmt: skip
        assert rows == [("created", "seed", "seed-test", 60)]

    def test_bulk_update_records_a_diffable_version_and_skips_unchanged(
        self, session: Session
    ) -> None:
        t0, t1 = naive(2024, 1, 1), naive(2024, 2, 1)
        write_datasets(session, "seed-test", [_record(1, t0), _record(2, t0)])
        stats = write_datasets(session, "seed-test", [_record(1, t1, "改題"), _record(2, t1)])
        assert stats.updated == 2
        changed = versions_of(session, "bulk-1")
        assert [v.change for v in changed] == ["created", "updated"]
        assert changed[1].summary["fields"] == ["title"]
        # bulk-2 was rewritten with the same content: no second version.
        assert [v.change for v in versions_of(session, "bulk-2")] == ["created"]

    def test_harvest_withdrawal_and_revival_are_versions(self, session: Session) -> None:
        from tsunagu.catalog.harvest.models import HarvestJob, HarvestSource
        from tsunagu.catalog.harvest.run import Harvested, store

        source = HarvestSource(name="remote", url="https://remote.example/", type="ckan")
        session.add(source)
        session.flush()

        def run(records: list[DatasetRecord]) -> HarvestJob:
            job = HarvestJob(source=source)
            session.add(job)
            session.flush()
            store(session, source, Harvested(records=records), job)
            return job

        t0 = naive(2024, 1, 1)
        first = run([_record(1, t0), _record(2, t0)])
        second = run([_record(1, t0)])
        third = run([_record(1, t0), _record(2, t0)])
        history = [(v.change, v.author_type, v.author_ref) for v in versions_of(session, "bulk-2")]
        assert history == [
            ("created", "harvest", str(first.id)),
            ("deleted", "harvest", str(second.id)),
            ("restored", "harvest", str(third.id)),
        ]


class TestReads:
    def test_list_newest_first_without_snapshots(
        self, client: TestClient, edited: dict[str, Any]
    ) -> None:
        body = client.get(f"{V1}/datasets/{NAME}/versions").json()
        assert body["dataset"] == NAME and body["total"] == 2
        assert [v["number"] for v in body["items"]] == [2, 1]
        assert body["items"][0]["author"]["organization"] == "test-org"
        assert "dataset" not in body["items"][0]
        page = client.get(f"{V1}/datasets/{NAME}/versions", params={"limit": 1, "offset": 1})
        assert [v["number"] for v in page.json()["items"]] == [1]

    def test_show_one_version(self, client: TestClient, edited: dict[str, Any]) -> None:
        body = client.get(f"{V1}/datasets/{NAME}/versions/1").json()
        assert body["number"] == 1 and body["change"] == "created"
        assert body["dataset"]["title"] == "人口統計（令和6年）"
        assert len(body["dataset"]["resources"]) == 1

    def test_diff_by_field_and_distribution_id(
        self, client: TestClient, edited: dict[str, Any]
    ) -> None:
        body = client.get(f"{V1}/datasets/{NAME}/versions/diff").json()  # default: 1 → 2
        assert (body["from"]["number"], body["to"]["number"]) == (1, 2)
        assert body["fields"] == [
            {
                "field": "title",
                "before": "人口統計（令和6年）",
                "after": "人口統計（令和6年・確定値）",
            }
        ]
        res = body["resources"]
        assert [r["name"] for r in res["added"]] == ["PDF 版"] and res["removed"] == []
        (changed,) = res["changed"]
        assert changed["id"] == edited["resource_id"]
        assert changed["fields"] == [
            {"field": "url", "before": "https://example.jp/population.csv",
             "after": "https://example.jp/v2.csv"}
        ]  # fmt: skip
        backwards = client.get(f"{V1}/datasets/{NAME}/versions/diff",
                               params={"from": 2, "to": 2}).json()  # fmt: skip
        assert backwards["fields"] == [] and backwards["resources"]["changed"] == []

    def test_as_of_a_date_and_a_moment(
        self, client: TestClient, session: Session, edited: dict[str, Any]
    ) -> None:
        v1, v2 = versions_of(session, NAME)
        v1.created = naive(2024, 4, 1, 3)  # recorded on different days
        v2.created = naive(2024, 5, 1, 3)
        session.commit()
        url = f"{V1}/datasets/{NAME}/versions/as-of"
        assert client.get(url, params={"date": "2024-04-30"}).json()["number"] == 1
        assert client.get(url, params={"date": "2024-05-01"}).json()["number"] == 2
        # 11:59 on 1 May in Japan is 02:59 UTC: before version 2.
        moment = "2024-05-01T11:59:00+09:00"
        assert client.get(url, params={"date": moment}).json()["number"] == 1
        assert_problem(client.get(url, params={"date": "2024-03-31"}), 404, "version-not-found")

    def test_rest_and_ckan_show_serve_latest_unless_asked(
        self, client: TestClient, edited: dict[str, Any]
    ) -> None:
        latest = "人口統計（令和6年・確定値）"
        old = "人口統計（令和6年）"
        assert client.get(f"{V1}/datasets/{NAME}").json()["title"] == latest
        assert client.get(f"{V1}/datasets/{NAME}", params={"version": 1}).json()["title"] == old
        future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        as_of = client.get(f"{V1}/datasets/{NAME}", params={"as_of": future}).json()
        assert as_of["title"] == latest
        show = "/api/3/action/package_show"
        assert client.get(show, params={"id": NAME}).json()["result"]["title"] == latest
        assert (
            client.get(show, params={"id": NAME, "version": "1"}).json()["result"]["title"] == old
        )

    def test_versions_recorded_while_private_stay_with_the_organization(
        self, client: TestClient, token: str
    ) -> None:
        client.post(f"{V1}/datasets", json=sample_dataset(private=True, notes="内部メモ"),
                    headers=auth(token))  # fmt: skip
        assert_problem(client.get(f"{V1}/datasets/{NAME}/versions"), 404, "not-found")
        client.put(f"{V1}/datasets/{NAME}", json=sample_dataset(), headers=auth(token))
        public = client.get(f"{V1}/datasets/{NAME}/versions").json()
        assert [v["number"] for v in public["items"]] == [2]
        assert_problem(client.get(f"{V1}/datasets/{NAME}/versions/1"), 404, "version-not-found")
        own = client.get(f"{V1}/datasets/{NAME}/versions", headers=auth(token)).json()
        assert [v["number"] for v in own["items"]] == [2, 1]


@pytest.mark.usefixtures("edited")
class TestBadInput:
    @pytest.mark.parametrize("number", ["abc", "0", "-1", "1.5", "１"])
    def test_version_that_is_not_a_number(self, client: TestClient, number: str) -> None:
        assert_problem(client.get(f"{V1}/datasets/{NAME}/versions/{number}"), 400, "bad-request")

    def test_unknown_version(self, client: TestClient) -> None:
        body = assert_problem(client.get(f"{V1}/datasets/{NAME}/versions/3"), 404,
                              "version-not-found")  # fmt: skip
        assert "3" in body["detail"]

    def test_versions_of_an_unknown_dataset(self, client: TestClient) -> None:
        assert_problem(client.get(f"{V1}/datasets/nothing/versions"), 404, "not-found")
        assert_problem(client.get(f"{V1}/datasets/nothing/versions/1"), 404, "not-found")

    @pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "2024/04/01", ""])
    def test_bad_date(self, client: TestClient, value: str) -> None:
        response = client.get(f"{V1}/datasets/{NAME}/versions/as-of", params={"date": value})
        body = assert_problem(response, 400, "bad-request")
        assert body["field"] == "date"

    def test_missing_date(self, client: TestClient) -> None:
        assert_problem(client.get(f"{V1}/datasets/{NAME}/versions/as-of"), 422, "validation-error")

    def test_diff_bad_numbers(self, client: TestClient) -> None:
        url = f"{V1}/datasets/{NAME}/versions/diff"
        assert_problem(client.get(url, params={"from": "x"}), 400, "bad-request")
        assert_problem(client.get(url, params={"from": 2, "to": 1}), 422, "validation-error")
        assert_problem(client.get(url, params={"from": 1, "to": 9}), 404, "version-not-found")

    @pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 5000}, {"offset": -1}])
    def test_bad_paging(self, client: TestClient, params: dict[str, int]) -> None:
        response = client.get(f"{V1}/datasets/{NAME}/versions", params=params)
        assert_problem(response, 422, "validation-error")

    def test_show_with_bad_version_or_both(self, client: TestClient) -> None:
        url = f"{V1}/datasets/{NAME}"
        assert_problem(client.get(url, params={"version": "x"}), 400, "bad-request")
        assert_problem(client.get(url, params={"as_of": "soon"}), 400, "bad-request")
        both = client.get(url, params={"version": 1, "as_of": "2024-01-01"})
        assert_problem(both, 400, "bad-request")
        assert_problem(client.get(url, params={"version": 7}), 404, "version-not-found")

    def test_ckan_package_show_bad_version_uses_ckan_envelope(self, client: TestClient) -> None:
        show = "/api/3/action/package_show"
        bad = client.get(show, params={"id": NAME, "as_of": "not-a-date"})
        assert bad.status_code == 400 and bad.json()["success"] is False
        missing = client.get(show, params={"id": NAME, "version": "9"})
        assert missing.status_code == 404 and missing.json()["success"] is False


class TestDiff:
    def test_tags_groups_and_extras_ignore_order(self) -> None:
        before = {"tags": [{"name": "a"}, {"name": "b"}], "groups": [], "extras": [
            {"key": "x", "value": "1"}, {"key": "y", "value": "2"}]}  # fmt: skip
        after = {"tags": [{"name": "b"}, {"name": "a"}], "groups": [], "extras": [
            {"key": "y", "value": "2"}, {"key": "x", "value": "3"}]}  # fmt: skip
        assert diff(before, after)["fields"] == [
            {"field": "extras", "before": {"x": "1", "y": "2"}, "after": {"x": "3", "y": "2"}}
        ]

    def test_derived_fields_are_not_changes(self) -> None:
        before = {"metadata_modified": "2024-01-01", "num_tags": 1, "organization": {"t": 1}}
        after = {"metadata_modified": "2024-02-01", "num_tags": 2, "organization": {"t": 2}}
        assert diff(before, after)["fields"] == []

    def test_distribution_removed_and_added_by_id(self) -> None:
        before = {"resources": [{"id": "a", "url": "u"}, {"id": "b", "url": "v"}]}
        after = {"resources": [{"id": "b", "url": "v"}, {"id": "c", "url": "w"}]}
        res = diff(before, after)["resources"]
        assert [r["id"] for r in res["removed"]] == ["a"]
        assert [r["id"] for r in res["added"]] == ["c"]
        assert res["changed"] == []


def test_another_organization_cannot_rewrite_history(
    client: TestClient, session: Session, token: str
) -> None:
    client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token))
    create_organization(session, "other", "他市")
    _, other = create_token(session, "other", "t")
    session.commit()
    denied = client.put(f"{V1}/datasets/{NAME}", json=sample_dataset(title="乗っ取り"),
                        headers=auth(other))  # fmt: skip
    assert denied.status_code == 403
    assert [v.number for v in versions_of(session, NAME)] == [1]
