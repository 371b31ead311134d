"""link_addresses with the real address registry: NTA seats → ABR 町字 (machiaza_id)."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.registries.address import import_files, iter_towns
from tsunagu.registries.corporations import as_of, import_file, link_addresses

NTA = SHARED / "corporate-number" / "nta-webapi-v4-samples"
ABR = SHARED / "abr-data"


def machiaza_of(session: Session, lg_code: str, oaza_cho: str, chome_number: str) -> str:
    (town,) = [
        t
        for t in iter_towns(session, lg_codes=[lg_code])
        if t["oaza_cho"] == oaza_cho and t["chome_number"] == chome_number and not t["koaza"]
    ]
    return str(town["machiaza_id"])


def test_link_addresses_fills_machiaza_id_from_the_address_registry(
    connection: Connection, session: Session
) -> None:
    for name in ("num.7010001008844.2026-07-10.xml", "num_1_ver4_x4.xml"):
        import_file(session, (NTA / name).read_bytes(), name)
    assert as_of(session, "7010001008844").machiaza_id is None
    assert link_addresses(session) == 0  # no ABR data yet: nothing resolves
    import_files(connection, [ABR / "mt_city_all.csv.zip", ABR / "mt_town_pref13.csv.zip"])

    linked = link_addresses(session)

    hitachi = as_of(session, "7010001008844")
    assert (hitachi.lg_code, hitachi.street_number) == ("131016", "丸の内１丁目６番６号")
    assert hitachi.machiaza_id == machiaza_of(session, "131016", "丸の内", "1")
    kanda = as_of(session, "4111101000007")  # 「神田小川町１丁目２０番地」, also 千代田区
    assert kanda.machiaza_id == machiaza_of(session, "131016", "神田小川町", "1")
    assert linked >= 2
    assert link_addresses(session) == 0  # linked rows are not looked at again
