from hypothesis import given
from hypothesis import strategies as st

from tsunagu.catalog.text import index_tokens, query_tokens


def test_two_character_word_is_one_bigram() -> None:
    assert query_tokens("人口") == ["人口"]


def test_one_character_query_is_a_unigram_present_in_the_index() -> None:
    assert query_tokens("税") == ["税"]
    assert "税" in index_tokens("消費税の推移")


def test_longer_words_become_their_bigrams() -> None:
    assert query_tokens("人口統計") == ["人口", "口統", "統計"]


def test_width_and_case_are_folded() -> None:
    assert query_tokens("ＣＳＶ") == ["csv"]
    assert index_tokens("ﾊﾞｽ") == index_tokens("バス")


def test_fts_syntax_characters_are_separators() -> None:
    assert query_tokens("\"人口\" * NEAR '税'") == ["人口", "near", "税"]
    assert query_tokens('"*()^:-') == []


@given(st.text(min_size=1, max_size=40))
def test_every_query_token_of_a_text_is_indexed_for_that_text(value: str) -> None:
    indexed = set(index_tokens(value))
    assert set(query_tokens(value)) <= indexed
