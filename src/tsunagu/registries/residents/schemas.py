"""Request bodies of the resident registry API (responses are :func:`.services.record_dict`)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from tsunagu.kernel import InputModel

from .addresses import AddressInput
from .services import PersonName


class _Body(InputModel):
    model_config = ConfigDict(extra="forbid")


class NameIn(_Body):
    """氏名 and フリガナ."""

    family_name: str = Field(max_length=100)
    given_name: str = Field(max_length=100)
    family_name_kana: str = Field(max_length=100)
    given_name_kana: str = Field(max_length=100)

    def to_name(self) -> PersonName:
        return PersonName(self.family_name, self.given_name, self.family_name_kana,
                          self.given_name_kana)  # fmt: skip


class AddressIn(_Body):
    """Address registry keys (ABR field names) and what the registry does not hold."""

    lg_code: str = Field(max_length=6)
    machiaza_id: str | None = Field(None, max_length=7)
    blk_id: str | None = Field(None, max_length=3)
    rsdt_id: str | None = Field(None, max_length=3)
    rsdt2_id: str | None = Field(None, max_length=4)
    detail: str = Field("", max_length=200, description="番地, building, room")
    text: str = Field("", max_length=500, description="Whole address, where nothing is loaded")

    def to_input(self) -> AddressInput:
        return AddressInput(self.lg_code, self.machiaza_id, self.blk_id, self.rsdt_id,
                            self.rsdt2_id, self.detail, self.text)  # fmt: skip


class MoveIn(_Body):
    """転入 (or 出生 when ``moved_from`` is empty)."""

    name: NameIn
    birth_date: str = Field(description="YYYY-MM-DD")
    sex: str = Field(description="ISO 5218: 1 male, 2 female")
    # Plain str with a generous bound: our own check reports what is wrong without echoing it.
    individual_number: str = Field(max_length=64, description="個人番号, 12 digits")
    address: AddressIn
    moved_in_on: str = Field(description="YYYY-MM-DD")
    moved_from: str = Field("", max_length=500, description="従前の住所; empty for a birth")
    household_id: str | None = Field(None, max_length=32, description="None: a new household")
    relationship: str = Field("head", max_length=20)


class MoveOut(_Body):
    """転出."""

    moved_out_on: str
    moved_to: str = Field(max_length=500)


class AddressChange(_Body):
    """転居 within the municipality."""

    changed_on: str
    address: AddressIn
    household_id: str | None = Field(None, max_length=32)
    relationship: str | None = Field(None, max_length=20)


class NameChange(_Body):
    """氏名の変更."""

    changed_on: str
    name: NameIn


class Death(_Body):
    """死亡."""

    died_on: str


class Lookup(_Body):
    """A lookup by individual number: in the body, so it stays out of URLs and access logs."""

    individual_number: str = Field(max_length=64)
