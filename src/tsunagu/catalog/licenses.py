"""The licences every catalog knows, with the EU licence vocabulary URI where there is one."""

from __future__ import annotations

from sqlalchemy.orm import Session

from .models import License

EU = "http://publications.europa.eu/resource/authority/licence/"

# (id, title ja, title en, url, open, EU vocabulary URI)
LICENSES: tuple[tuple[str, str, str, str, bool, str], ...] = (
    ("cc-by-4.0", "クリエイティブ・コモンズ 表示 4.0 国際", "Creative Commons Attribution 4.0",
     "https://creativecommons.org/licenses/by/4.0/", True, EU + "CC_BY_4_0"),
    ("gov-std-2.0", "政府標準利用規約（第2.0版）", "Government of Japan Standard Terms of Use 2.0",
     "https://www.digital.go.jp/resources/open_data/public_data_license_v1.0", True,
     EU + "CC_BY_4_0"),
    ("pdl-1.0", "公共データ利用規約（第1.0版）", "Public Data License 1.0",
     "https://www.digital.go.jp/resources/open_data/public_data_license_v1.0", True,
     EU + "CC_BY_4_0"),
    ("cc-zero", "クリエイティブ・コモンズ CC0", "Creative Commons CCZero",
     "https://creativecommons.org/publicdomain/zero/1.0/", True, EU + "CC0"),
    ("cc-by-sa-4.0", "クリエイティブ・コモンズ 表示-継承 4.0 国際",
     "Creative Commons Attribution Share-Alike 4.0",
     "https://creativecommons.org/licenses/by-sa/4.0/", True, EU + "CC_BYSA_4_0"),
    ("cc-by-nd-4.0", "クリエイティブ・コモンズ 表示-改変禁止 4.0 国際",
     "Creative Commons Attribution-NoDerivatives 4.0",
     "https://creativecommons.org/licenses/by-nd/4.0/", False, EU + "CC_BYND_4_0"),
    ("cc-by-nc-4.0", "クリエイティブ・コモンズ 表示-非営利 4.0 国際",
     "Creative Commons Attribution-NonCommercial 4.0",
     "https://creativecommons.org/licenses/by-nc/4.0/", False, EU + "CC_BYNC_4_0"),
    ("cc-by-nc-nd-4.0", "クリエイティブ・コモンズ 表示-非営利-改変禁止 4.0 国際",
     "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0",
     "https://creativecommons.org/licenses/by-nc-nd/4.0/", False, EU + "CC_BYNCND_4_0"),
    ("cc-by-2.1-jp", "クリエイティブ・コモンズ 表示 2.1 日本",
     "Creative Commons Attribution 2.1 Japan",
     "https://creativecommons.org/licenses/by/2.1/jp/", True, ""),
    ("odc-by", "Open Data Commons Attribution License", "Open Data Commons Attribution License",
     "https://opendatacommons.org/licenses/by/", True, EU + "ODC_BY"),
    ("ogl-uk-3.0", "Open Government Licence v3.0 (UK)", "Open Government Licence v3.0",
     "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/", True,
     EU + "OGL_3_0"),
    ("other-closed", "その他（非オープン）", "Other (Not Open)", "", False, ""),
    ("notspecified", "ライセンス未指定", "License not specified", "", False, ""),
)  # fmt: skip


def ensure_licenses(session: Session) -> int:
    """Insert or refresh the known licences; returns how many there are."""
    for lid, title, title_en, url, is_open, eu in LICENSES:
        row = session.get(License, lid) or License(id=lid)
        row.title, row.title_en, row.url, row.is_open, row.eu_uri = (
            title,
            title_en,
            url,
            is_open,
            eu,
        )
        session.add(row)
    session.flush()
    return len(LICENSES)
