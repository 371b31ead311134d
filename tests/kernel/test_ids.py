import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SHARED
from tsunagu.kernel import (
    ValidationProblem,
    corporate_number_check_digit,
    is_valid_corporate_number,
    is_valid_individual_number,
    is_valid_lg_code,
    validate_corporate_number,
)

VECTORS = json.loads((SHARED / "identifiers" / "jp-identifier-test-values.json").read_text())


@pytest.mark.parametrize("entry", VECTORS["corporate_numbers"], ids=lambda e: e["number"])
def test_accepts_published_corporate_numbers(entry: dict[str, str]) -> None:
    assert is_valid_corporate_number(entry["number"])


@pytest.mark.parametrize("entry", VECTORS["corporate_numbers_invalid"], ids=lambda e: e["number"])
def test_rejects_corporate_numbers_with_wrong_check_digit(entry: dict[str, str]) -> None:
    assert not is_valid_corporate_number(entry["number"])
    with pytest.raises(ValidationProblem, match="check digit"):
        validate_corporate_number(entry["number"])


@pytest.mark.parametrize(
    "entry", VECTORS["individual_numbers_synthetic"], ids=lambda e: e["number"]
)
def test_individual_number_check_digit_matches_vectors(entry: dict[str, object]) -> None:
    assert is_valid_individual_number(str(entry["number"])) is entry["valid"]


@pytest.mark.parametrize(
    "bad", ["", "123", "12345678901234", "abcdefghijklm", "８７００１１０００５９０１"]
)
def test_rejects_malformed_corporate_numbers(bad: str) -> None:
    assert not is_valid_corporate_number(bad)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_every_base_gets_exactly_one_valid_check_digit(base: str) -> None:
    valid = [d for d in "123456789" if is_valid_corporate_number(d + base)]
    assert valid == [str(corporate_number_check_digit(base))]
    assert not is_valid_corporate_number("0" + base)


@pytest.mark.parametrize("code", ["011002", "131059", "302015", "465054", "130001"])
def test_accepts_real_local_government_codes(code: str) -> None:
    assert is_valid_lg_code(code)


def test_rejects_local_government_code_with_wrong_check_digit() -> None:
    assert not is_valid_lg_code("131058")
