"""The `\\uXXXX` encoding of stanza text and the decoding of upload headers (DECISIONS.md#files)."""

from __future__ import annotations

import pytest

from wschats.domain.errors import BadRequest
from wschats.domain.escapes import decode_header, encode_text


def test_every_character_becomes_a_lowercase_escape() -> None:
    assert encode_text("peanuts.jpg") == (
        "\\u0070\\u0065\\u0061\\u006e\\u0075\\u0074\\u0073\\u002e\\u006a\\u0070\\u0067"
    )


def test_special_characters_and_newlines_are_encoded_as_the_original_did() -> None:
    assert encode_text("àèéìòù&") == "\\u00e0\\u00e8\\u00e9\\u00ec\\u00f2\\u00f9\\u0026"
    assert encode_text("a\nb") == "\\u0061\\u000a\\u0062"


def test_emoji_become_surrogate_pairs_instead_of_question_marks() -> None:
    assert encode_text("😀") == "\\ud83d\\ude00"
    assert encode_text("ok 👍🏽") == "\\u006f\\u006b\\u0020\\ud83d\\udc4d\\ud83c\\udffd"


def test_empty_text_stays_empty() -> None:
    assert encode_text("") == ""


@pytest.mark.parametrize(
    "text",
    ["peanuts.jpg", "àèéìòù&", "rapport final (v2).pdf", "😀 smile.png", "日本語.txt", "a\\b"],
)
def test_encoded_header_decodes_back_to_the_text(text: str) -> None:
    assert decode_header(encode_text(text)) == text


def test_uppercase_hex_digits_are_accepted() -> None:
    assert decode_header("\\u00E9\\uD83D\\uDE00") == "é😀"


def test_values_without_escapes_are_taken_as_they_are() -> None:
    assert decode_header("test.txt") == "test.txt"
    assert decode_header("C:\\temp\\x.txt") == "C:\\temp\\x.txt"
    assert decode_header("") == ""


def test_escapes_and_plain_text_can_be_mixed() -> None:
    assert decode_header("caf\\u00e9 menu.pdf") == "café menu.pdf"


@pytest.mark.parametrize(
    "value",
    ["\\u12", "\\uZZZZ", "\\u", "abc\\u", "\\u00e9\\u12.txt", "\\u00g1"],
)
def test_malformed_escapes_are_rejected(value: str) -> None:
    with pytest.raises(BadRequest, match="Unable to decode the file name"):
        decode_header(value, field="file name")


@pytest.mark.parametrize(
    "value",
    ["\\ud83d", "\\ude00", "\\ud83dx\\ude00", "\\ud83d\\u0041", "\\ude00\\ud83d"],
)
def test_lone_surrogates_are_rejected(value: str) -> None:
    with pytest.raises(BadRequest, match="Unable to decode the description"):
        decode_header(value, field="description")


def test_a_decoded_nul_is_refused() -> None:
    # Text columns cannot hold NUL (PostgreSQL refuses it): a 400, not a 500 at insert time.
    with pytest.raises(BadRequest):
        decode_header("a\\u0000b.png", field="file name")
    with pytest.raises(BadRequest):
        decode_header("a\x00b", field="file name")


def test_raw_utf8_read_as_latin1_is_decoded_as_utf8() -> None:
    # HTTP servers hand header bytes over as Latin-1; UTF-8 bytes read that way are UTF-8.
    assert decode_header("résumé ☕.txt".encode().decode("latin-1")) == "résumé ☕.txt"
    assert decode_header("café.txt") == "café.txt"  # Latin-1 text that is not UTF-8 stays
    assert decode_header("\\u00e9t\\u00e9") == "été"  # escapes are plain ASCII: unaffected
