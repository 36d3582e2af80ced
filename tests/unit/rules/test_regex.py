"""Sigma regular expressions to Lucene: anchoring, classes, escaping, flags and refusals."""

from __future__ import annotations

import pytest

from soar.rules.regex import RegexUnsupported, to_lucene


@pytest.mark.parametrize(
    ("sigma", "lucene"),
    [
        ("foo", ".*foo.*"),
        ("^foo", "foo.*"),
        ("foo$", ".*foo"),
        ("^foo$", "foo"),
        (".*foo", ".*foo.*"),
        ("a|^b", ".*a.*|b.*"),
        ("(^0oa.*|x@y)", "0oa.*|.*x\\@y.*"),
        ("(^[a-z]{4}$)|(^[a-z]{8}$)", "[a-z]{4}|[a-z]{8}"),
        ("(?:ab)+c", ".*(ab)+c.*"),
        ("(?P<n>ab)c", ".*(ab)c.*"),
        (r"\d+\.exe$", ".*[0-9]+\\.exe"),
        (r"[\w-]+", ".*[a-zA-Z0-9_-]+.*"),
        (r"\W", ".*[^a-zA-Z0-9_].*"),
        ("a.*?b", ".*a.*b.*"),
        ('say "hi" #1 <a> ~&', '.*say \\"hi\\" \\#1 \\<a\\> \\~\\&.*'),
        (r"foo\$", ".*foo\\$.*"),
    ],
)
def test_translation(sigma: str, lucene: str) -> None:
    assert to_lucene(sigma).pattern == lucene


def test_flags() -> None:
    assert to_lucene("abc", frozenset("i")).case_insensitive
    assert to_lucene("(?i)abc").case_insensitive
    assert to_lucene("(?i)abc").pattern == ".*abc.*"
    assert not to_lucene("abc", frozenset("s")).case_insensitive
    assert to_lucene("abc", frozenset("m")).pattern == ".*abc.*"


@pytest.mark.parametrize(
    ("sigma", "flags"),
    [
        ("(?=x)y", ""),
        ("(?<!x)y", ""),
        (r"\bword", ""),
        (r"(a)\1", ""),
        ("a++", ""),
        ("a(^b)", ""),
        ("(a|(^b))c", ""),
        ("a(b$)c", ""),
        ("^abc", "m"),
        ("[[:alpha:]]", ""),
        (r"[\D]", ""),
        ("abc", "x"),
    ],
)
def test_refused(sigma: str, flags: str) -> None:
    with pytest.raises(RegexUnsupported):
        to_lucene(sigma, frozenset(flags))
