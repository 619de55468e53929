"""Prompt enhancement, as the original TypeScript module did it: detect technical content
and append educational visual descriptors with 16:9 framing. Pure functions; the user's
words stay an exact prefix."""

from __future__ import annotations

import re

from ._errors import SoraParameterError

__all__ = ["ENHANCEMENT", "MAX_PROMPT_CHARS", "TECHNICAL_KEYWORDS", "enhance_prompt",
           "is_technical"]

#: The longest prompt the Videos API takes (characters). Defined here, not in ``_params``,
#: so that ``_params`` can import this module without a cycle.
MAX_PROMPT_CHARS = 32_000

#: Words and phrases that mark a prompt as technical (matched as whole words, any case;
#: a space inside a phrase matches any run of whitespace).
TECHNICAL_KEYWORDS: tuple[str, ...] = (
    "algorithm", "algorithms", "api", "apis", "array", "arrays", "big o", "binary",
    "binary search", "boolean", "bubble sort", "class", "classes", "code", "coding",
    "compile", "compiler", "complexity", "cpu", "data structure", "data structures",
    "database", "databases", "debug", "debugging", "function", "functions", "graph",
    "graphs", "hash table", "integer", "javascript", "linked list", "loop", "loops",
    "machine learning", "merge sort", "neural network", "object-oriented", "pointer",
    "pointers", "programming", "quicksort", "recursion", "recursive", "search", "software",
    "sort", "sorting", "sql", "tree", "typescript", "variable", "variables",
)

#: What enhancement appends (after a separator) to a technical prompt.
ENHANCEMENT = (
    "Visual style: clean educational animation, clear labelled diagrams, smooth "
    "step-by-step transitions, high contrast, readable on-screen text. "
    "Framing: 16:9 widescreen composition."
)

_KEYWORD_RE = re.compile(
    r"(?<!\w)(?:"
    + "|".join(
        re.escape(k).replace(r"\ ", r"\s+")
        for k in sorted(TECHNICAL_KEYWORDS, key=len, reverse=True)
    )
    + r")(?!\w)",
    re.IGNORECASE,
)


def is_technical(text: str) -> bool:
    """True when ``text`` contains one of ``TECHNICAL_KEYWORDS`` as a whole word."""
    return _KEYWORD_RE.search(_require_str(text)) is not None


def enhance_prompt(text: str) -> str:
    """Return ``text`` with ``ENHANCEMENT`` appended when it is technical, else unchanged.

    ``text`` is always an exact prefix of the result (``result[len(text):]`` is what was
    added), enhancing twice changes nothing, and the result never exceeds
    ``MAX_PROMPT_CHARS``: when the addition would not fit, ``text`` comes back unchanged.
    """
    text = _require_str(text)
    if ENHANCEMENT in text or not is_technical(text):
        return text
    stripped = text.rstrip()
    if len(stripped) < len(text):
        separator = ""  # the text already ends in whitespace
    elif stripped.endswith((".", "!", "?", ":", ";")):
        separator = " "
    else:
        separator = ". "
    enhanced = text + separator + ENHANCEMENT
    return enhanced if len(enhanced) <= MAX_PROMPT_CHARS else text


def _require_str(text: object) -> str:
    if not isinstance(text, str):
        raise SoraParameterError("text", text, "a string")
    return text
