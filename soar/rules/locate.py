"""Line numbers of keys in a rule file, found by composing its YAML (only on the error path)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import yaml

_KEY_BY_ERROR = (  # pySigma error class name fragment -> the top-level key it is about
    ("Title", "title"),
    ("Identifier", "id"),
    ("Level", "level"),
    ("Status", "status"),
    ("Date", "date"),
    ("Modified", "modified"),
    ("Logsource", "logsource"),
    ("Tag", "tags"),
    ("Description", "description"),
    ("Author", "author"),
    ("Reference", "references"),
    ("Correlation", "correlation"),
    ("Detection", "detection"),
    ("Condition", "detection"),
    ("Modifier", "detection"),
    ("Value", "detection"),
    ("Regular", "detection"),
)


_UNKNOWN_MODIFIER = re.compile(r"Unknown modifier '?([A-Za-z0-9_]+)'?")


def _documents(data: bytes) -> list[yaml.Node]:
    try:
        return [doc for doc in yaml.compose_all(data, Loader=yaml.CSafeLoader) if doc is not None]
    except yaml.YAMLError:
        return []


def _pairs(node: yaml.Node) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        yield from node.value


def key_line(data: bytes, key: str, document: int = 0) -> int | None:
    """The 1-based line of a top-level key of the n-th YAML document, if present.

    A text scan, not a parse: top-level keys of a block mapping start in column 0, documents are
    separated by ``---`` lines (fast enough for thousands of errors).
    """
    current = 0
    prefixes = (f"{key}:", f"'{key}':", f'"{key}":')
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if line.startswith("---"):
            current += 1 if number > 1 else 0
        elif current == document and line.startswith(prefixes):
            return number
    return None


def field_line(data: bytes, field: str, document: int = 0, selection: str | None = None) -> int | None:
    """The line of the first detection key naming ``field`` (before any ``|modifier``).

    Args:
        data: The rule file's bytes.
        field: The field name as written in the rule.
        document: Which YAML document of the file.
        selection: Look in this detection (selection) first, when known.
    """
    docs = _documents(data)
    if document >= len(docs):
        return None
    for k, v in _pairs(docs[document]):
        if isinstance(k, yaml.ScalarNode) and k.value == "detection":
            inside = [sv for sk, sv in _pairs(v) if isinstance(sk, yaml.ScalarNode) and sk.value == selection]
            first = _find_field(inside[0], field) if inside else None
            return first or _find_field(v, field)
    return None


def _find_field(node: yaml.Node, field: str) -> int | None:
    return _find_key(node, lambda key: key.split("|", 1)[0] == field)


def modifier_line(data: bytes, modifier: str, document: int = 0) -> int | None:
    """The line of the first detection key that uses ``|modifier``."""
    docs = _documents(data)
    if document >= len(docs):
        return None
    for k, v in _pairs(docs[document]):
        if isinstance(k, yaml.ScalarNode) and k.value == "detection":
            return _find_key(v, lambda key: modifier in key.split("|")[1:])
    return None


def _find_key(node: yaml.Node, wanted: Callable[[str], bool]) -> int | None:
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if (line := _find_key(item, wanted)) is not None:
                return line
    for k, v in _pairs(node):
        if isinstance(k, yaml.ScalarNode) and wanted(str(k.value)):
            return int(k.start_mark.line) + 1
        if (line := _find_key(v, wanted)) is not None:
            return line
    return None


def error_line(data: bytes, error_class: str, document: int = 0, message: str = "") -> int | None:
    """The line of the key a pySigma error is most likely about (``SigmaTitleError`` -> title).

    Args:
        data: The rule file's bytes.
        error_class: The pySigma exception class name.
        document: Which YAML document of the file.
        message: The error message; an unknown modifier is looked up by name.
    """
    unknown = _UNKNOWN_MODIFIER.search(message)
    if unknown and (line := modifier_line(data, unknown.group(1), document)) is not None:
        return line
    for fragment, key in _KEY_BY_ERROR:
        if fragment in error_class:
            return key_line(data, key, document)
    return None
