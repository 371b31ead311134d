"""Japanese identifiers and their check digits.

Corporate number (法人番号): 法人番号の指定等に関する省令 第2条.
Individual number (個人番号, マイナンバー): 番号法施行規則 第5条.
"""

from __future__ import annotations

from .errors import ValidationProblem


def corporate_number_check_digit(base12: str) -> int:
    """Check digit (prepended) for a 12-digit 会社法人等番号 base."""
    if len(base12) != 12 or not base12.isascii() or not base12.isdigit():
        raise ValueError("a corporate number base is 12 ASCII digits")
    # P_n counts from the rightmost digit; Q_n is 1 for odd n, 2 for even n: from the left,
    # the even positions (0, 2, …, 10) weigh 2 and the odd ones 1. Summing the ASCII bytes
    # (each digit + 48, 6 × 2 + 6 × 1 = 18 times) rather than a loop per digit: a full NTA file
    # checks millions of numbers.
    digits = base12.encode()
    total = 2 * sum(digits[0::2]) + sum(digits[1::2]) - 18 * 48
    return 9 - total % 9


def is_valid_corporate_number(value: str) -> bool:
    """True if ``value`` is a 13-digit corporate number (法人番号) with a correct check digit."""
    if len(value) != 13 or not value.isascii() or not value.isdigit():
        return False
    # corporate_number_check_digit(value[1:]), inline on the bytes: an NTA file checks millions.
    digits = value.encode()
    total = 2 * sum(digits[1::2]) + sum(digits[2::2]) - 18 * 48
    return digits[0] - 48 == 9 - total % 9


def validate_corporate_number(value: str) -> str:
    """Return ``value`` if it is a valid corporate number, else raise a ValidationProblem."""
    if len(value) != 13 or not value.isascii() or not value.isdigit():
        raise ValidationProblem(
            f"corporate number must be 13 digits, got {value!r}", field="corporate_number"
        )
    expected = corporate_number_check_digit(value[1:])
    if int(value[0]) != expected:
        raise ValidationProblem(
            f"corporate number {value} has a wrong check digit (expected {expected}{value[1:]})",
            field="corporate_number",
        )
    return value


def individual_number_check_digit(base11: str) -> int:
    """Check digit (appended) for the first 11 digits of an individual number (個人番号)."""
    if len(base11) != 11 or not base11.isascii() or not base11.isdigit():
        raise ValueError("an individual number base is 11 ASCII digits")
    total = 0
    for n, d in enumerate(reversed(base11), start=1):
        q = n + 1 if n <= 6 else n - 5
        total += int(d) * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid_individual_number(value: str) -> bool:
    """True if ``value`` is a 12-digit individual number with a correct check digit."""
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return False
    return int(value[-1]) == individual_number_check_digit(value[:11])


def is_valid_lg_code(value: str) -> bool:
    """True if ``value`` is a 6-digit local government code with a valid check digit.

    全国地方公共団体コード, JIS X 0402.
    """
    if len(value) != 6 or not value.isascii() or not value.isdigit():
        return False
    # The check digit: 11 - (sum of digits weighted 6,5,4,3,2) mod 11, last digit of the result.
    total = sum(int(d) * w for d, w in zip(value[:5], (6, 5, 4, 3, 2), strict=True))
    check = (11 - total % 11) % 10 if total % 11 else 1
    return int(value[5]) == check
