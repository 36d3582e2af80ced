r"""Sigma (PCRE-style) regular expressions translated to Lucene ``regexp`` syntax, or refused.

Lucene regular expressions match the whole term, so an unanchored Sigma regex gets ``.*`` on the
side(s) it is not anchored; ``^``/``$`` are only accepted at the start/end of a top-level
alternative (a pattern wrapped in one group is unwrapped first). ``\d \w \s`` become character
classes; ``(?:...)`` and named groups become plain groups; lazy quantifiers drop their ``?`` (the set
of matched terms is the same); literal ``" # @ & < > ~`` are escaped (Lucene operators with the
``ALL`` flags). Look-arounds, back-references, word boundaries, possessive quantifiers, inline flags
other than a leading ``(?i)``/``(?s)``, and anchors inside groups cannot be expressed and raise
:class:`RegexUnsupported`. Flags: ``i`` -> ``case_insensitive``; ``s`` is Lucene's own behaviour
(``.`` matches a newline); ``m`` is refused when the pattern uses anchors. Known difference: without
``s``, PCRE's ``.`` does not match a newline while Lucene's does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLASS_BODIES = {"d": "0-9", "w": "a-zA-Z0-9_", "s": " \t\n\r\f\v"}
_CONTROL = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
_LUCENE_RESERVED = frozenset('"#@&<>~')
_REFUSED_ESCAPES = frozenset("bBAzZGkpPQE123456789")
_LEADING_FLAGS = re.compile(r"^\(\?([imsx]+)\)")


class RegexUnsupported(ValueError):
    """A regular expression construct Lucene cannot express."""


@dataclass(frozen=True)
class LuceneRegex:
    """A translated expression and whether it must be matched case-insensitively."""

    pattern: str
    case_insensitive: bool


def to_lucene(pattern: str, flags: frozenset[str] = frozenset()) -> LuceneRegex:
    """Translate a Sigma regular expression with its flags (``i``, ``m``, ``s``) to Lucene.

    Args:
        pattern: The expression as written in the rule.
        flags: Sigma's ``|i``, ``|m``, ``|s`` modifiers as letters.

    Returns:
        The Lucene pattern and the case-insensitivity flag.

    Raises:
        RegexUnsupported: The expression uses a construct Lucene has no equivalent for.
    """
    found = _LEADING_FLAGS.match(pattern)
    if found:
        flags = flags | frozenset(found.group(1))
        pattern = pattern[found.end() :]
    if "x" in flags:
        raise RegexUnsupported("the x (verbose) flag is not supported")
    alternatives = _alternatives(pattern)
    anchored = any(a.startswith("^") or _ends_anchored(a) for a in alternatives)
    if "m" in flags and anchored:
        raise RegexUnsupported("the m (multi-line) flag with ^ or $ anchors cannot be expressed")
    parts = []
    for alternative in alternatives:
        body = alternative
        start = body.startswith("^")
        body = body[1:] if start else body
        end = _ends_anchored(body)
        body = body[:-1] if end else body
        lucene = _translate(body)
        prefix = "" if start or lucene.startswith(".*") else ".*"
        suffix = "" if end or (lucene.endswith(".*") and not lucene.endswith("\\.*")) else ".*"
        parts.append(prefix + lucene + suffix)
    return LuceneRegex("|".join(parts), "i" in flags)


def _ends_anchored(text: str) -> bool:
    if not text.endswith("$"):
        return False
    backslashes = len(text[:-1]) - len(text[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _scan(text: str) -> list[tuple[int, str, int]]:
    """Top-level tokens as (start, text, depth) with escapes and classes kept whole."""
    out: list[tuple[int, str, int]] = []
    depth = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            out.append((i, text[i : i + 2], depth))
            i += 2
            continue
        if c == "[":
            end = _class_end(text, i)
            out.append((i, text[i:end], depth))
            i = end
            continue
        if c == ")":
            depth -= 1
        out.append((i, c, depth))
        if c == "(":
            depth += 1
        i += 1
    return out


def _class_end(text: str, start: int) -> int:
    i = start + 1
    if i < len(text) and text[i] == "^":
        i += 1
    if i < len(text) and text[i] == "]":
        i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "]":
            return i + 1
        i += 1
    raise RegexUnsupported("unterminated character class")


def _unwrap(text: str) -> str:
    """``(a|b)`` -> ``a|b`` while one group spans the whole pattern."""
    while text.startswith("(") and text.endswith(")"):
        tokens = _scan(text)
        closes = [pos for pos, tok, depth in tokens if tok == ")" and depth == 0]
        if closes != [len(text) - 1]:
            return text
        inner = text[1:-1]
        if inner.startswith("?") and not inner.startswith("?:"):
            return text  # look-around or flags: refused later, not unwrapped
        text = inner[2:] if inner.startswith("?:") else inner
    return text


def _alternatives(text: str) -> list[str]:
    """Top-level alternatives, unwrapping groups that hold a whole alternative: ``(^a$)|(^b$)``."""
    out: list[str] = []
    for alternative in _split_alternatives(_unwrap(text)):
        inner = _unwrap(alternative)
        out.extend(_alternatives(inner) if inner != alternative else [alternative])
    return out


def _split_alternatives(text: str) -> list[str]:
    cuts = [pos for pos, tok, depth in _scan(text) if tok == "|" and depth == 0]
    bounds = zip([-1, *cuts], [*cuts, len(text)], strict=True)
    return [text[a + 1 : b] for a, b in bounds]


_GROUP_PREFIX = re.compile(r"\(\?(?::|P?<[A-Za-z_]\w*>)")


def _translate(body: str) -> str:
    out: list[str] = []
    tokens = _scan(body)
    skip_until = -1
    for index, (pos, tok, _) in enumerate(tokens):
        if pos < skip_until:
            continue
        if tok == "(" and body.startswith("(?", pos):
            group = _GROUP_PREFIX.match(body, pos)
            if group is None:
                raise RegexUnsupported("(?...) groups (look-around, inline flags) cannot be expressed")
            out.append("(")  # non-capturing and named groups: Lucene groups do not capture anyway
            skip_until = group.end()
            continue
        previous = tokens[index - 1][1] if index else ""
        out.append(_token(tok, previous))
    return "".join(out)


def _token(tok: str, previous: str) -> str:
    if tok.startswith("\\"):
        return _escape(tok[1:])
    if tok.startswith("["):
        return _char_class(tok)
    if tok in "^$":
        raise RegexUnsupported(f"anchor {tok!r} inside the expression cannot be expressed")
    if tok == "?" and previous in {"*", "+", "?", "}"}:
        return ""  # lazy quantifier: same set of whole-term matches
    if tok == "+" and previous in {"*", "+", "?", "}"}:
        raise RegexUnsupported("possessive quantifiers cannot be expressed")
    if tok in _LUCENE_RESERVED:
        return "\\" + tok
    return tok


def _escape(c: str) -> str:
    if c in _CLASS_BODIES:
        return f"[{_CLASS_BODIES[c]}]"
    if c.lower() in _CLASS_BODIES:
        return f"[^{_CLASS_BODIES[c.lower()]}]"
    if c in _CONTROL:
        return _CONTROL[c]
    if c in _REFUSED_ESCAPES or c == "":
        raise RegexUnsupported(f"escape \\{c} cannot be expressed")
    return "\\" + c


def _char_class(tok: str) -> str:
    if "[:" in tok:
        raise RegexUnsupported("POSIX character classes cannot be expressed")
    out: list[str] = []
    i = 0
    while i < len(tok):
        c = tok[i]
        if c == "\\" and i + 1 < len(tok):
            nxt = tok[i + 1]
            if nxt in _CLASS_BODIES:
                out.append(_CLASS_BODIES[nxt])
            elif nxt.lower() in _CLASS_BODIES:
                raise RegexUnsupported(f"\\{nxt} inside a character class cannot be expressed")
            else:
                out.append(_CONTROL.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)
