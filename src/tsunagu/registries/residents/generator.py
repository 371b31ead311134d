"""Synthetic residents (架空の住民): plausible people at real ABR addresses, never a real person.

Households are drawn by type (one person, couple, family, one parent, three generations — 2020
census shares), ages from Japan's population pyramid, names from :mod:`.vocabulary` by era and
sex, and addresses from the municipality's 住居表示 residences in the address registry (or its
towns with a made-up 番地, where residences are not loaded). Some households moved within the
municipality, some spouses changed their name at marriage, some singles moved out or died: the
history is realistic too. Individual numbers are random 11 digits plus the check digit, unique.

The same municipality, count, seed and reference date give the same people, ids and numbers.
Every generated record is marked ``synthetic``. Generation is an initial load: like the address
registry's first import it records no events (residents who already live there did not just move
in).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tsunagu.kernel import ValidationProblem, individual_number_check_digit, naive_utcnow

from .addresses import ResolvedAddress, residence_text, residences, town_text, towns_by_id
from .models import Resident, ResidentIndividualNumber, ResidentVersion
from .services import check_lg_code, fold_kana, fold_name
from .vocabulary import ERAS, GIVEN_NAMES, HOUSEHOLD_TYPES, PYRAMID, SURNAMES

REFERENCE_DATE = date(2025, 4, 1)  # fixed, so a seed gives the same people on any day
MAX_COUNT = 1_000_000
Move = tuple[date, ResolvedAddress]  # a household's move within the municipality: when, where
# Where people came from (従前の住所): municipalities, not people.
ELSEWHERE = (
    "東京都世田谷区", "大阪府大阪市北区", "大阪府堺市堺区", "兵庫県神戸市中央区",
    "京都府京都市左京区", "奈良県奈良市", "愛知県名古屋市中村区", "福岡県福岡市博多区",
    "北海道札幌市中央区", "和歌山県海南市", "神奈川県横浜市港北区", "埼玉県さいたま市浦和区",
)  # fmt: skip


@dataclass
class GenerationReport:
    """What a generation run added."""

    lg_code: str
    residents: int = 0
    households: int = 0
    versions: int = 0
    former: int = 0  # moved out or deceased (除票)
    address_level: str = "residence"

    def summary(self) -> str:
        return (f"generated {self.residents} synthetic residents of {self.lg_code} in "
                f"{self.households} households ({self.versions} versions, {self.former} moved "
                f"out or deceased; {self.address_level}-level addresses)")  # fmt: skip


@dataclass
class _Person:
    sex: str
    birth: date
    relationship: str
    surname: tuple[str, str]
    given: tuple[str, str]
    maiden: tuple[str, str] | None = None  # surname before marrying into the household
    married_on: date | None = None
    end: tuple[str, date] | None = None  # ("moved_out" | "deceased", date)
    versions: list[dict[str, Any]] = field(default_factory=list)


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class Generator:
    """Draws households for one municipality from one seeded random source."""

    def __init__(self, session: Session, lg_code: str, seed: int, reference: date) -> None:
        self.session, self.lg_code, self.reference = session, lg_code, reference
        # Reproducible on purpose (the same seed, the same people); nothing here is a secret.
        self.rng = random.Random(f"tsunagu-residents:{lg_code}:{seed}")  # noqa: S311
        self.towns = towns_by_id(session, lg_code)
        if not self.towns:
            raise ValidationProblem(
                f"the address registry has no towns of {lg_code}; import its ABR files first",
                field="municipality",
            )
        self.addresses: list[ResolvedAddress] = [
            ResolvedAddress(lg_code, r["machiaza_id"], r["blk_id"], r["rsdt_id"], r["rsdt2_id"],
                            "residence", residence_text(self.towns[r["machiaza_id"]], r))
            for r in residences(session, lg_code) if r["machiaza_id"] in self.towns
        ]  # fmt: skip
        self.level = "residence" if self.addresses else "town"
        self.town_ids = sorted(self.towns)
        self.used_numbers = set(session.scalars(select(ResidentIndividualNumber.individual_number)))
        self.used_ids = set(session.scalars(select(Resident.id)))

    # -- drawing ------------------------------------------------------------------------------

    def new_id(self) -> str:
        """A resident or household id, drawn from the seed and unique in the registry."""
        while True:
            value = f"{self.rng.getrandbits(64):016x}"
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def individual_number(self) -> str:
        """Random 11 digits and their check digit, unique among stored and drawn numbers."""
        while True:
            base = f"{self.rng.randrange(10**11):011d}"
            number = base + str(individual_number_check_digit(base))
            if number not in self.used_numbers:
                self.used_numbers.add(number)
                return number

    def address(self) -> ResolvedAddress:
        if self.addresses:
            return self.rng.choice(self.addresses)
        town = self.towns[self.rng.choice(self.town_ids)]
        text = town_text(town) + f"{self.rng.randint(1, 1500)}番地"
        return ResolvedAddress(self.lg_code, town["machiaza_id"], None, None, None, "town", text)

    def _between(self, start: date, end: date) -> date:
        if end <= start:
            return start
        return start + timedelta(days=self.rng.randint(0, (end - start).days))

    def birth(self, low: int, high: int) -> date:
        """A birth date of someone aged ``low``..``high`` on the reference date, by the pyramid."""
        ages = list(range(max(low, 0), min(high, 104) + 1))
        weights = [PYRAMID[min(a // 5, len(PYRAMID) - 1)] / 5 for a in ages]
        age = self.rng.choices(ages, weights)[0]
        latest = _years_after(self.reference, -age)
        return self._between(_years_after(latest, -1) + timedelta(days=1), latest)

    def given(self, sex: str, birth: date, taken: set[str]) -> tuple[str, str]:
        era = sum(birth.year >= year for year in ERAS)
        names = GIVEN_NAMES[sex][era]
        choice = self.rng.choice(names)
        for _ in range(5):  # siblings do not share a name
            if choice[0] not in taken:
                break
            choice = self.rng.choice(names)
        taken.add(choice[0])
        return choice

    def person(self, sex: str, birth: date, relationship: str, surname: tuple[str, str],
               taken: set[str]) -> _Person:  # fmt: skip
        return _Person(sex, birth, relationship, surname, self.given(sex, birth, taken))

    def household(self) -> list[_Person]:
        """One household's members, head first."""
        kind = self.rng.choices([k for k, _ in HOUSEHOLD_TYPES], [w for _, w in HOUSEHOLD_TYPES])[0]
        surname = self.rng.choice(SURNAMES)
        taken: set[str] = set()
        if kind == "single":
            birth = self.birth(18, 100)
            old = (self.reference.year - birth.year) >= 75
            sex = "2" if self.rng.random() < (0.65 if old else 0.5) else "1"
            return [self.person(sex, birth, "head", surname, taken)]
        low, high = {"couple": (22, 95), "family": (25, 60), "one_parent": (25, 60),
                     "three_generations": (35, 60)}[kind]  # fmt: skip
        head_sex = ("2" if self.rng.random() < 0.85 else "1") if kind == "one_parent" else (
            "1" if self.rng.random() < 0.85 else "2")  # fmt: skip
        head = self.person(head_sex, self.birth(low, high), "head", surname, taken)
        members = [head]
        if kind != "one_parent":
            gap = timedelta(days=365 * self.rng.randint(-3, 5) + self.rng.randint(-180, 180))
            birth = min(head.birth + gap, _years_after(self.reference, -18))
            members.append(self.person("2" if head_sex == "1" else "1", birth, "spouse",
                                       surname, taken))  # fmt: skip
        if kind == "couple":
            return members
        youngest_parent = max(m.birth for m in members)
        for _ in range(self.rng.choices((1, 2, 3), (35, 45, 20))[0]):
            child = _years_after(youngest_parent, self.rng.randint(22, 42))
            child += timedelta(days=self.rng.randint(0, 364))
            if child <= self.reference:
                members.append(self.person(self.rng.choice("12"), child, "child", surname, taken))
        if kind == "three_generations":
            for sex in self.rng.sample("12", self.rng.choice((1, 2))):
                parent = _years_after(head.birth, -self.rng.randint(25, 35))
                parent -= timedelta(days=self.rng.randint(0, 364))
                if self.reference.year - parent.year <= 100:
                    members.append(self.person(sex, parent, "parent", surname, taken))
        return members

    # -- history ------------------------------------------------------------------------------

    def timeline(self, members: list[_Person]) -> tuple[date, ResolvedAddress, Move | None]:
        """When the household moved in and where, and a later move within the municipality."""
        adults = [m.birth for m in members if m.relationship != "child"]
        earliest = max(_years_after(max(adults), 18), _years_after(self.reference, -45))
        moved_in = self._between(earliest, self.reference - timedelta(days=30))
        first = self.address()
        later = None
        if (self.reference - moved_in).days > 5 * 365 and self.rng.random() < 0.15:
            later = (self._between(moved_in + timedelta(days=365), self.reference), self.address())
        head = members[0]
        if len(members) > 1 and members[1].relationship == "spouse" and self.rng.random() < 0.2:
            spouse = members[1]
            spouse.maiden = self.rng.choice([s for s in SURNAMES if s != head.surname])
            children = [m.birth for m in members if m.relationship == "child"] or [self.reference]
            spouse.married_on = self._between(moved_in + timedelta(days=30), min(children))
            if spouse.married_on <= moved_in or spouse.married_on > self.reference:
                spouse.maiden = spouse.married_on = None
        if len(members) == 1:
            age = self.reference.year - head.birth.year
            chance = self.rng.random()
            if age < 36 and chance < 0.08:
                head.end = ("moved_out", self._between(moved_in + timedelta(days=365),
                                                       self.reference))  # fmt: skip
            elif age >= 75 and chance < 0.10:
                head.end = ("deceased", self._between(moved_in + timedelta(days=30),
                                                      self.reference))  # fmt: skip
        return moved_in, first, later


def _version(person: _Person, household_id: str, change: str, on: date,
             address: ResolvedAddress, surname: tuple[str, str], relationship: str,
             moved_in_on: date, moved_from: str) -> dict[str, Any]:  # fmt: skip
    return {
        "change": change, "valid_from": on, "valid_to": None, "status": "resident",
        "family_name": surname[0], "given_name": person.given[0],
        "family_name_kana": surname[1], "given_name_kana": person.given[1],
        "name_key": fold_name(surname[0] + person.given[0]),
        "kana_key": fold_kana(surname[1] + person.given[1]),
        "birth_date": person.birth, "sex": person.sex, "household_id": household_id,
        "relationship": relationship, **address.fields(), "moved_in_on": moved_in_on,
        "moved_from": moved_from, "moved_out_on": None, "moved_to": "", "died_on": None,
    }  # fmt: skip


def _history(gen: Generator, person: _Person, household_id: str, moved_in: date,
             first: ResolvedAddress, later: Move | None,
             origin: str) -> list[dict[str, Any]]:  # fmt: skip
    """A person's versions, oldest first."""
    born_here = person.birth > moved_in
    start = person.birth if born_here else moved_in
    address = later[1] if later and start >= later[0] else first
    surname = person.maiden or person.surname
    relationship = "cohabitant" if person.maiden else person.relationship
    origin = "" if born_here else origin
    rows = [_version(person, household_id, "born" if born_here else "moved_in", start, address,
                     surname, relationship, start, origin)]  # fmt: skip
    changes: list[tuple[date, str, dict[str, Any]]] = []
    if later and start < later[0]:
        changes.append((later[0], "address_changed", later[1].fields()))
    if person.maiden and person.married_on:
        changes.append((person.married_on, "name_changed", {
            "family_name": person.surname[0], "family_name_kana": person.surname[1],
            "name_key": fold_name(person.surname[0] + person.given[0]),
            "kana_key": fold_kana(person.surname[1] + person.given[1]),
            "relationship": person.relationship}))  # fmt: skip
    if person.end:
        kind, on = person.end
        extra = ({"status": "moved_out", "moved_out_on": on, "moved_to": gen.rng.choice(ELSEWHERE)}
                 if kind == "moved_out" else {"status": "deceased", "died_on": on})  # fmt: skip
        changes.append((on, kind, extra))
    if person.end:  # nothing happens to a record after its 除票 date
        changes = [c for c in changes if c[0] <= person.end[1]]
    for on, change, fields in sorted(
        changes, key=lambda c: (c[0], c[1] in ("moved_out", "deceased"))
    ):
        rows[-1]["valid_to"] = on
        rows.append({**rows[-1], **fields, "change": change, "valid_from": on, "valid_to": None})
    return rows


def generate(session: Session, lg_code: str, count: int, *, seed: int = 0,
             reference: date = REFERENCE_DATE) -> GenerationReport:  # fmt: skip
    """Add ``count`` synthetic residents to ``lg_code`` in the caller's transaction."""
    check_lg_code(lg_code)
    if not 1 <= count <= MAX_COUNT:
        raise ValidationProblem(f"count must be 1 to {MAX_COUNT}", field="count")
    if reference > naive_utcnow().date():
        raise ValidationProblem("the reference date is in the future", field="as_of")
    gen = Generator(session, lg_code, seed, reference)
    report = GenerationReport(lg_code, address_level=gen.level)
    residents: list[dict[str, Any]] = []
    numbers: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    now = naive_utcnow()
    while report.residents < count:
        members = gen.household()[: count - report.residents]
        household_id = gen.new_id()
        moved_in, first, later = gen.timeline(members)
        # The household came from one place (従前の住所), not from the municipality itself.
        origin = gen.rng.choice([e for e in ELSEWHERE if not first.text.startswith(e[:3])])
        report.households += 1
        for person in members:
            resident_id = gen.new_id()
            residents.append({"id": resident_id, "lg_code": lg_code, "synthetic": True,
                              "created_at": now})  # fmt: skip
            numbers.append({"resident_id": resident_id,
                            "individual_number": gen.individual_number()})  # fmt: skip
            for number, row in enumerate(_history(gen, person, household_id, moved_in, first,
                                                  later, origin), start=1):  # fmt: skip
                versions.append({**row, "resident_id": resident_id, "version": number,
                                 "lg_code": lg_code, "recorded_at": now})  # fmt: skip
            report.residents += 1
            report.former += int(person.end is not None)
    connection = session.connection()
    for table, rows in ((Resident, residents), (ResidentIndividualNumber, numbers),
                        (ResidentVersion, versions)):  # fmt: skip
        connection.execute(insert(table), rows)
    report.versions = len(versions)
    return report
