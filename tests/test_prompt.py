"""Tests of sora_nb._prompt: technical-content detection and prompt enhancement."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sora_nb._errors import SoraParameterError
from sora_nb._params import MAX_PROMPT_CHARS
from sora_nb._prompt import ENHANCEMENT, TECHNICAL_KEYWORDS, enhance_prompt, is_technical

# Text that mixes technical keywords into arbitrary characters, so both branches are hit.
_texts = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.one_of(st.sampled_from(TECHNICAL_KEYWORDS), st.text(max_size=20)), max_size=12
    ).map(" ".join),
)


@pytest.mark.parametrize(
    "text",
    [
        "Explain recursion with a factorial example",
        "A BINARY SEARCH over a sorted ARRAY",
        "How does a hash table work?",
        "an API call travelling between two servers",
        "data   structures for beginners",
        "the bubble sort algorithm, step by step",
    ],
)
def test_technical_prompts_are_detected(text: str) -> None:
    assert is_technical(text)


@pytest.mark.parametrize(
    "text",
    [
        "A calico cat playing piano",
        "Sunset over a barcode-like skyline",  # "code" only inside a word
        "Classical music in a classroom",  # "class" only inside words
        "Sorted socks, researched recipes",  # "sort", "search" only inside words
        "",
    ],
)
def test_non_technical_prompts_are_not(text: str) -> None:
    assert not is_technical(text)
    assert enhance_prompt(text) == text


def test_enhancement_appends_educational_style_and_framing() -> None:
    text = "Explain recursion with a factorial example"
    out = enhance_prompt(text)
    assert out == text + ". " + ENHANCEMENT
    assert "educational" in out[len(text) :]
    assert "16:9" in out[len(text) :]


@pytest.mark.parametrize(
    ("text", "separator"),
    [("Sort an array.", " "), ("Sort an array?", " "), ("Sort an array\n", ""), ("sort", ". ")],
)
def test_separator_follows_the_punctuation(text: str, separator: str) -> None:
    assert enhance_prompt(text) == text + separator + ENHANCEMENT


def test_addition_that_would_overflow_is_dropped() -> None:
    room = MAX_PROMPT_CHARS - len(ENHANCEMENT) - 2
    fits = "recursion " + "x" * (room - len("recursion "))
    assert len(enhance_prompt(fits)) == MAX_PROMPT_CHARS
    too_long = fits + "y"
    assert enhance_prompt(too_long) == too_long


def test_non_string_is_refused_naming_parameter_and_value() -> None:
    with pytest.raises(SoraParameterError) as info:
        enhance_prompt(42)  # type: ignore[arg-type]
    assert info.value.param == "text"
    assert "text=42" in str(info.value)


@given(_texts)
def test_enhance_is_idempotent(text: str) -> None:
    once = enhance_prompt(text)
    assert enhance_prompt(once) == once


@given(_texts)
def test_enhance_keeps_the_text_as_prefix_and_respects_the_limit(text: str) -> None:
    out = enhance_prompt(text)
    assert out.startswith(text)
    assert len(out) <= max(len(text), MAX_PROMPT_CHARS)
    added = out[len(text) :]
    assert added == "" or (is_technical(text) and added.endswith(ENHANCEMENT))
