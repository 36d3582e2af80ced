"""Exception files: schema, one-line errors with file, line and field, status by expiry, the must_not query."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from soar.detect.exception_files import describe, exceptions_in_force, load_exceptions, read_exception
from soar.detect.exceptions import RuleException, apply_exceptions, rule_exceptions
from soar.detect.models import DetectRule
from soar.detect.settings import RuleOptions
from soar.errors import InputError
from soar.rules.compile import rule_paths
from soar.rules.loader import rule_files
from soar.rules.models import CompiledRule
from soar.telemetry.sources import Source

TODAY = date(2026, 11, 23)
GOOD = """\
id: office-typos
rule: r1
owner: soc@bank.example
reason: employees mistyping from the office
created: 2026-11-01
expires: 2027-01-31
match:
  source.ip: {cidr: [194.25.0.0/22, "2001:db8::/32"]}
  event.reason: INVALID_CREDENTIALS
  user.name: [a@bank.example, b@bank.example]
  user_agent.original: {wildcard: "Mozilla/*"}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, "utf-8")
    return path


def _rule(rule_id: str, name: str | None = None) -> DetectRule:
    compiled = CompiledRule(
        rule_id=rule_id,
        name=name,
        title=rule_id,
        source=Source.OKTA,
        index="logs-okta.system-*",
        query={"match_all": {}},
        content_hash="h",
        path="r.yml",
    )
    return DetectRule(rule=compiled, options=RuleOptions())


def test_a_good_file_becomes_one_must_not_clause(tmp_path: Path) -> None:
    exception = read_exception(_write(tmp_path, "office-typos.yml", GOOD))
    assert exception.query() == {
        "bool": {
            "filter": [
                {
                    "bool": {
                        "should": [
                            {"term": {"source.ip": "194.25.0.0/22"}},
                            {"term": {"source.ip": "2001:db8::/32"}},
                        ],
                        "minimum_should_match": 1,
                    }
                },
                {"term": {"event.reason": "INVALID_CREDENTIALS"}},
                {"terms": {"user.name": ["a@bank.example", "b@bank.example"]}},
                {"wildcard": {"user_agent.original": {"value": "Mozilla/*"}}},
            ]
        }
    }


def test_a_list_of_alternatives_is_ored(tmp_path: Path) -> None:
    text = GOOD.split("match:")[0] + "match:\n  - user.name: a\n  - {user.name: b, event.reason: X}\n"
    exception = read_exception(_write(tmp_path, "office-typos.yml", text))
    assert exception.query() == {
        "bool": {
            "should": [
                {"term": {"user.name": "a"}},
                {"bool": {"filter": [{"term": {"user.name": "b"}}, {"term": {"event.reason": "X"}}]}},
            ],
            "minimum_should_match": 1,
        }
    }


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("194.25.0.0/22", "194.25.0.0/33"), ":8: match.source.ip.cidr: not an address or CIDR range"),
        (("owner: soc@bank.example\n", ""), ":1: owner: Field required"),
        (("expires: 2027-01-31", "expires: 2026-10-01"), ":6: expires: 2026-10-01 is before created"),
        (("expires: 2027-01-31", "expires: 2028-01-31"), ":6: expires: more than 366 days after created"),
        (
            ("  event.reason: INVALID_CREDENTIALS", "  event.reason: {cidr: 10.0.0.0/8, equals: x}"),
            ":9: match.event.reason: write exactly one",
        ),
        (("rule: r1", "rule: r1\ncolour: red"), ":3: colour: Extra inputs are not permitted"),
        (("id: office-typos", "id: Office Typos"), ":1: id: lower-case letters"),
        ((GOOD[GOOD.index("match:") :], "match: []\n"), ":7: match: List should have at least 1 item"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], where: str
) -> None:
    path = _write(tmp_path, "office-typos.yml", GOOD.replace(*change))
    with pytest.raises(InputError) as caught:
        read_exception(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path) + ":")
    assert where in message


def test_the_file_is_named_after_its_id_and_yaml_errors_have_a_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"other\.yml:1: id: the file must be named office-typos\.yml"):
        read_exception(_write(tmp_path, "other.yml", GOOD))
    with pytest.raises(InputError, match=r"broken\.yml:4: not valid YAML"):
        read_exception(_write(tmp_path, "broken.yml", "id: x\nrule: [\nowner: y\n"))
    with pytest.raises(InputError, match="one exception"):
        read_exception(_write(tmp_path, "two.yml", GOOD + "---\n" + GOOD))


def test_one_bad_file_never_stops_the_others_and_ids_are_unique(tmp_path: Path) -> None:
    _write(tmp_path, "office-typos.yml", GOOD)
    _write(tmp_path, "bad.yml", GOOD.replace("office-typos", "bad").replace("owner: soc@bank.example\n", ""))
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "office-typos.yml", GOOD)
    files = load_exceptions(tmp_path)
    assert [f.exception.id for f in files.files] == ["office-typos"]
    assert [e.field for e in files.errors] == ["owner", "id"]
    assert "duplicate id" in str(files.errors[1])
    assert load_exceptions(tmp_path / "absent").files == []


def test_status_by_expiry_day(tmp_path: Path) -> None:
    exception = read_exception(_write(tmp_path, "office-typos.yml", GOOD))
    assert exception.status(date(2027, 1, 1)) == "active"
    assert exception.status(date(2027, 1, 17)) == "expiring"  # 14 days left
    assert exception.status(date(2027, 1, 31)) == "expiring"  # applies through its expiry day
    assert exception.status(date(2027, 2, 1)) == "expired"
    row = describe(load_exceptions(tmp_path).files[0], date(2027, 1, 21))
    assert (row["status"], row["days_left"], row["owner"]) == ("expiring", 10, "soc@bank.example")


def test_the_version_follows_the_meaning_not_the_layout(tmp_path: Path) -> None:
    first = read_exception(_write(tmp_path, "office-typos.yml", GOOD))
    relaid = read_exception(_write(tmp_path, "office-typos.yml", "# a comment\n" + GOOD))
    changed = read_exception(_write(tmp_path, "office-typos.yml", GOOD.replace("/22", "/24")))
    assert first.version == relaid.version != changed.version


def _exception(exception_id: str, rule: str, expires: date) -> RuleException:
    return RuleException(
        id=exception_id,
        rule=rule,
        owner="o",
        reason="r",
        created=date(2026, 11, 1),
        expires=expires,
        match=[{"user.name": {"equals": exception_id}}],  # type: ignore[dict-item]  # validated from data
    )


def test_rules_get_the_exceptions_in_force_for_them() -> None:
    live = date(2027, 1, 1)
    exceptions = [
        _exception("for-r1", "r1", live),
        _exception("for-all", "*", live),
        _exception("by-name", "rule_two", live),
        _exception("expired", "r1", date(2026, 11, 22)),
        _exception("elsewhere", "r9", live),
    ]
    rules, in_force = apply_exceptions([_rule("r1"), _rule("r2", "rule_two")], exceptions, ["bad"], TODAY)
    one, two = rules
    assert one.exceptions is not None
    assert two.exceptions is not None
    assert [v.split("@")[0] for v in one.exceptions.versions] == ["for-all", "for-r1"]
    assert [v.split("@")[0] for v in two.exceptions.versions] == ["by-name", "for-all"]
    assert len(one.exceptions.must_not) == 2
    assert in_force.expired == ["expired"]  # named a rule of the sweep, no longer applied
    assert sorted(v.split("@")[0] for v in in_force.active) == ["by-name", "for-all", "for-r1"]
    assert in_force.errors == ["bad"]
    # The hash says which versions were in force, whatever their order.
    again = rule_exceptions(list(reversed(exceptions[:2])), "r1", None)
    assert again is not None
    assert again.hash == one.exceptions.hash
    assert rule_exceptions(exceptions, "r7", None) is not None  # "*" applies to every rule
    assert rule_exceptions(exceptions[:1], "r7", None) is None


def test_no_folder_no_exceptions() -> None:
    rules, in_force = exceptions_in_force([_rule("r1")], None, TODAY)
    assert rules[0].exceptions is None
    assert in_force.active == in_force.expired == in_force.errors == []


def test_rule_discovery_skips_an_exceptions_folder(tmp_path: Path) -> None:
    (tmp_path / "idp" / "exceptions").mkdir(parents=True)
    (tmp_path / "exceptions").mkdir()
    for name in ("idp/r.yml", "exceptions/e.yml", "idp/exceptions/e.yml", "exceptions.yml"):
        _write(tmp_path, name, "x: 1\n")
    expected = [str(tmp_path / "exceptions.yml"), str(tmp_path / "idp" / "r.yml")]
    assert [str(p) for p in rule_files([tmp_path])] == expected
    assert rule_paths([tmp_path]) == expected
    assert rule_paths([tmp_path, tmp_path / "idp"]) == [
        str(p) for p in rule_files([tmp_path, tmp_path / "idp"])
    ]


def test_the_content_packs_exceptions_are_valid_and_name_existing_rules() -> None:
    folder = Path(__file__).resolve().parents[3] / "detections"
    files = load_exceptions(folder / "exceptions")
    assert files.errors == []
    assert files.files, "the pack ships at least one exception"
    rule_text = "\n".join(p.read_text("utf-8") for p in rule_files([folder]))
    for file in files.files:
        assert f"id: {file.exception.rule}" in rule_text or f"name: {file.exception.rule}" in rule_text
