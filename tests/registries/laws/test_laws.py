"""Laws: e-Gov 法令API v2 answers and 法令標準XML import, units by address, search, as-of."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.db import events_for
from tsunagu.registries.laws import LawImportProblem, import_law_file, unit_path
from tsunagu.registries.laws.document import to_xml
from tsunagu.registries.laws.models import LawArticle, LawRevision

LAWS = SHARED / "laws" / "egov-law-api-v2"
LAW_DATA = LAWS / "law_data.415AC0000000057.trimmed.2026-07-10.json"
LAW_LIST = LAWS / "laws.kojin-joho.2026-07-10.json"
REVISION = "415AC0000000057_20260624_508AC0000000046"


@pytest.fixture
def loaded(session: Session) -> Session:
    import_law_file(session, LAW_DATA.read_bytes(), LAW_DATA.name)
    import_law_file(session, LAW_LIST.read_bytes(), LAW_LIST.name)
    session.commit()
    return session


def test_import_stores_revisions_units_and_events(loaded: Session) -> None:
    assert loaded.scalar(select(func.count()).select_from(LawRevision)) == 3
    paths = loaded.scalars(select(LawArticle.path).where(LawArticle.revision_id == REVISION)).all()
    assert "article/2/paragraph/1/item/1" in paths and "article/1" in paths
    assert [e.topic for e in events_for(loaded, "law.revision", REVISION)] == [
        "law.revision.added", "law.revision.body_changed"]  # fmt: skip


def test_reimport_changes_nothing(loaded: Session) -> None:
    report = import_law_file(loaded, LAW_DATA.read_bytes(), LAW_DATA.name)
    assert (report.revisions_new, report.bodies_written, report.unchanged) == (0, 0, 1)


def test_xml_round_trip_imports_the_same_units(loaded: Session) -> None:
    body = loaded.get(LawRevision, REVISION).body  # type: ignore[union-attr]
    xml = to_xml(body).encode()  # type: ignore[arg-type]
    report = import_law_file(loaded, xml, f"{REVISION}.xml")
    assert report.unchanged == 1  # the same tree, so the same content hash


def test_xml_without_file_name_id_derives_the_law_id(session: Session) -> None:
    xml = ('<Law Era="Heisei" Year="15" Num="057" LawType="Act" Lang="ja"><LawNum>'
           '平成十五年法律第五十七号</LawNum><LawBody><LawTitle>個人情報の保護に関する法律</LawTitle><MainProvision>'
           '<Article Num="1"><ArticleTitle>第一条</ArticleTitle><Paragraph Num="1"><ParagraphNum/>'
           '<ParagraphSentence><Sentence>目的。</Sentence></ParagraphSentence></Paragraph>'
           '</Article></MainProvision></LawBody></Law>')  # fmt: skip
    report = import_law_file(session, xml.encode(), "law.xml")
    assert report.units == 2
    with pytest.raises(LawImportProblem, match="truncated"):
        import_law_file(session, xml[:50].encode(), "cut.xml")


def test_unit_paths() -> None:
    assert unit_path("27", "1", "2") == "article/27/paragraph/1/item/2"
    assert unit_path("2の2") == "article/2_2"
    assert unit_path("2", item="3") == "article/2/paragraph/1/item/3"


def test_api_law_article_and_item(client: TestClient, loaded: Session) -> None:
    law = client.get("/api/v1/laws/415AC0000000057").json()
    assert law["revision"]["revision_id"] == REVISION and law["articles"][0]["path"] == "article/1"
    item = client.get("/api/v1/laws/415AC0000000057/articles/2?paragraph=1&item=1").json()
    assert item["id"] == "415AC0000000057/article/2/paragraph/1/item/1"
    assert "身体" in item["text"] or item["text"]
    article = client.get("/api/v1/laws/415AC0000000057/articles/1").json()
    assert article["caption"] == "（目的）" and article["children"][0]["kind"] == "paragraph"
    xml = client.get("/api/v1/laws/415AC0000000057?format=xml")
    assert xml.text.startswith("<?xml") and "<LawTitle" in xml.text


def test_as_of_picks_the_revision_in_force(client: TestClient, loaded: Session) -> None:
    assert client.get("/api/v1/laws/415AC0000000057?as_of=2000-01-01").status_code == 404
    repealed = client.get("/api/v1/laws/415AC0000000058?as_of=2023-01-01").json()
    assert repealed["revision"]["repeal_status"] == "Repeal"


def test_search_by_title_and_keyword(client: TestClient, loaded: Session) -> None:
    by_title = client.get("/api/v1/laws", params={"q": "個人情報保護法"}).json()
    assert "415AC0000000057" in [i["law_id"] for i in by_title["items"]]
    by_text = client.get("/api/v1/laws", params={"q": "個人識別符号 生存"}).json()
    assert [i["law_id"] for i in by_text["items"]] == ["415AC0000000057"]
    assert by_text["items"][0]["matches"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/laws/not-a-law", 422),
        ("/api/v1/laws/415AC0000000999", 404),
        ("/api/v1/laws/415AC0000000057?as_of=2026-02-30", 422),
        ("/api/v1/laws/415AC0000000057/articles/abc", 422),
        ("/api/v1/laws/415AC0000000057/articles/999", 404),
        ("/api/v1/laws/415AC0000000057/articles/1?item=x", 422),
        ("/api/v1/laws/415AC0000000057?format=pdf", 422),
        ("/api/v1/laws?q=", 422),
        ("/api/v1/laws?q=%20", 422),
        ("/api/v1/laws?q=%25_", 200),
        ("/api/v1/laws?q=%00", 422),
    ],
)
def test_bad_input_is_problem_json(
    client: TestClient, loaded: Session, url: str, status: int
) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"


def test_not_a_law_file(session: Session) -> None:
    with pytest.raises(LawImportProblem):
        import_law_file(session, b'{"laws": [{"law_info": {}}]}', "x.json")
    with pytest.raises(LawImportProblem):
        import_law_file(session, b"[1,2", "y.json")


def test_an_entity_expansion_bomb_is_refused(session: Session) -> None:
    """A 法令XML whose entities expand to a billion characters is refused by the parser's
    amplification limit with one clear problem, and no law is stored."""
    from tsunagu.registries.laws.models import Law

    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    bomb = (f'<?xml version="1.0"?><!DOCTYPE Law [{"".join(entities)}]><Law Era="Heisei" '
            'Year="15" Num="57" LawType="Act" Lang="ja"><LawNum>&lol9;</LawNum></Law>')  # fmt: skip
    with pytest.raises(LawImportProblem, match="amplification"):
        import_law_file(session, bomb.encode(), "415AC0000000057_20250601_000000000000000.xml")
    assert session.scalar(select(func.count()).select_from(Law)) == 0
