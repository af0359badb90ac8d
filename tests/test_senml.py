"""SenML (RFC 8428) resolution: base fields, times, values, and every way a pack is refused."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.data.senml import Resolver, SenMLError, iter_json_lines, parse_pack

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
NOW_DT = datetime.fromtimestamp(NOW, tz=UTC)
T0 = 1_600_000_000.0  # an absolute time (>= 2**28)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(0, tz=UTC) + timedelta(microseconds=round(seconds * 1e6))


def test_it_prefixes_names_with_the_base_name():
    [record] = parse_pack([{"bn": "urn:dev:ow:10e2073a01080063:", "n": "temp", "v": 23.1}], now=NOW)
    assert record.name == "urn:dev:ow:10e2073a01080063:temp"
    assert record.value == 23.1


def test_it_accepts_a_base_name_alone_as_the_name():
    [record] = parse_pack([{"bn": "urn:dev:mac:0024befffe804ff1", "v": 1}], now=NOW)
    assert record.name == "urn:dev:mac:0024befffe804ff1"


def test_it_carries_base_fields_forward_until_a_record_changes_them():
    records = parse_pack(
        [
            {"bn": "2001:db8::2/", "bt": T0, "bu": "Cel", "n": "temperature", "v": 25.2},
            {"n": "humidity", "u": "%RH", "t": 10, "v": 30},
            {"n": "temperature", "t": 20, "v": 25.5},
            {"bn": "2001:db8::1/", "n": "temperature", "v": 12.3},
        ],
        now=NOW,
    )
    assert [(r.name, r.unit, r.time) for r in records] == [
        ("2001:db8::2/temperature", "Cel", at(T0)),
        ("2001:db8::2/humidity", "%RH", at(T0 + 10)),
        ("2001:db8::2/temperature", "Cel", at(T0 + 20)),
        ("2001:db8::1/temperature", "Cel", at(T0)),  # bt still applies; only bn changed
    ]


@pytest.mark.parametrize(
    "record, expected",
    [
        ({"n": "x", "v": 1}, NOW_DT),  # no time at all: "now"
        ({"n": "x", "t": -5, "v": 1}, NOW_DT - timedelta(seconds=5)),
        ({"n": "x", "t": 20, "v": 1}, NOW_DT + timedelta(seconds=20)),  # future, relative
        ({"n": "x", "bt": -60, "t": 30, "v": 1}, NOW_DT - timedelta(seconds=30)),
        ({"n": "x", "t": 2**28 - 1, "v": 1}, NOW_DT + timedelta(seconds=2**28 - 1)),
        ({"n": "x", "t": 2**28, "v": 1}, at(2**28)),  # from 2**28 on, times are absolute
        ({"n": "x", "bt": T0, "t": -5, "v": 1}, at(T0 - 5)),  # the sum decides, not t alone
        ({"n": "x", "t": T0 + 0.123456, "v": 1}, at(T0 + 0.123456)),
    ],
)
def test_it_resolves_times_relative_to_now_below_2_to_the_28(record, expected):
    [resolved] = parse_pack([record], now=NOW)
    assert resolved.time == expected
    assert resolved.time.tzinfo is UTC


def test_it_uses_the_base_unit_unless_the_record_has_a_unit():
    records = parse_pack(
        [
            {"bn": "d:", "bu": "kWh", "n": "a", "v": 1},
            {"n": "b", "u": "W", "v": 2},
            {"n": "c", "v": 3},
        ],
        now=NOW,
    )
    assert [r.unit for r in records] == ["kWh", "W", "kWh"]


def test_it_leaves_the_unit_empty_without_unit_or_base_unit():
    assert parse_pack([{"n": "x", "v": 1}], now=NOW)[0].unit == ""


def test_it_adds_the_base_value_to_each_numeric_value():
    records = parse_pack(
        [{"bn": "m", "bv": 100, "v": 1.5}, {"v": -2}, {"bv": 0.5, "v": 1}, {"vs": "text"}],
        now=NOW,
    )
    assert [r.value for r in records] == [101.5, 98.0, 1.5, None]
    assert records[3].string_value == "text"


def test_it_adds_the_base_sum_to_the_sum():
    records = parse_pack(
        [{"bn": "e", "bs": 1000, "s": 5}, {"s": 7.5}, {"v": 3}, {"bs": 0, "v": 1}], now=NOW
    )
    assert [r.sum for r in records] == [1005.0, 1007.5, 1000.0, 0.0]
    assert records[0].value is None  # a sum alone is a valid record


def test_it_keeps_a_value_next_to_a_sum():
    [record] = parse_pack([{"n": "flow", "u": "l/s", "v": 2.5, "s": 1200}], now=NOW)
    assert (record.value, record.sum) == (2.5, 1200.0)


@pytest.mark.parametrize(
    "field, value, attribute",
    [
        ("vs", "open", "string_value"),
        ("vb", True, "bool_value"),
        ("vb", False, "bool_value"),
        ("vd", "aGVsbG8", "data_value"),
        ("vd", "aGVsbG8=", "data_value"),
        ("vd", "-_-_", "data_value"),
    ],
)
def test_it_keeps_string_boolean_and_data_values(field, value, attribute):
    [record] = parse_pack([{"n": "x", field: value}], now=NOW)
    assert getattr(record, attribute) == value
    assert record.value is None


def test_it_keeps_the_update_time():
    assert parse_pack([{"n": "x", "v": 1, "ut": 300}], now=NOW)[0].update_time == 300.0


@pytest.mark.parametrize("version", [10, 10.0, 5])
def test_it_accepts_versions_up_to_10(version):
    records = parse_pack(
        [{"bver": version, "n": "x", "v": 1}, {"bver": version, "n": "y", "v": 2}], now=NOW
    )
    assert [r.name for r in records] == ["x", "y"]


def test_it_accepts_a_lone_record_object_as_a_pack_of_one():
    assert parse_pack({"n": "x", "v": 1}, now=NOW)[0].name == "x"


def test_it_ignores_unknown_fields_that_are_not_must_understand():
    [record] = parse_pack([{"n": "x", "v": 1, "l": "[]", "comment": "hi"}], now=NOW)
    assert record.value == 1.0


@pytest.mark.parametrize(
    "pack, index, reason",
    [
        ([{"n": "a", "v": 1}, {"v": 2}], 1, "the name is empty"),
        ([{"n": "temp erature", "v": 1}], 0, "name 'temp erature' must start with a letter"),
        ([{"n": "-x", "v": 1}], 0, "name '-x' must start with a letter or digit"),
        ([{"n": "tëmp", "v": 1}], 0, "contain only A-Z a-z 0-9 - : . / _"),
        ([{"n": "x"}], 0, "no value: give one of v, vs, vb, vd, or a sum s"),
        ([{"n": "x", "bv": 4}], 0, "no value"),
        ([{"n": "x", "v": 1, "vs": "a"}], 0, "a record holds one value, not v, vs"),
        ([{"n": "x", "vb": True, "vd": "AA"}], 0, "a record holds one value, not vb, vd"),
        ([{"n": "x", "v": "1"}], 0, "v must be a number, not the string '1'"),
        ([{"n": "x", "v": True}], 0, "v must be a number, not true"),
        ([{"n": "x", "v": None}], 0, "v must be a number, not null"),
        ([{"n": "x", "v": float("nan")}], 0, "v must be a finite number"),
        ([{"n": "x", "vs": 1}], 0, "vs must be a string, not the number 1"),
        ([{"n": "x", "vb": "true"}], 0, "vb must be true or false"),
        ([{"n": "x", "vb": 1}], 0, "vb must be true or false"),
        ([{"n": "x", "vd": "not base64!"}], 0, "vd must be base64url data"),
        ([{"n": "x", "vd": "aGVsbG8+"}], 0, "vd must be base64url data"),  # standard alphabet
        ([{"n": "x", "vd": "abcde"}], 0, "vd is not valid base64url data: wrong length"),
        ([{"n": "x", "s": "5"}], 0, "s must be a number"),
        ([{"n": "x", "v": 1, "t": "2024-01-01"}], 0, "t must be a number"),
        ([{"n": "x", "v": 1, "ut": []}], 0, "ut must be a number, not an array"),
        ([{"n": 5, "v": 1}], 0, "n must be a string"),
        ([{"n": "x", "u": 1, "v": 1}], 0, "u must be a string"),
        ([{"bn": {}, "n": "x", "v": 1}], 0, "bn must be a string, not an object"),
        ([{"n": "x", "v": 1}, {"bt": "now", "n": "x", "v": 1}], 1, "bt must be a number"),
        ([{"bu": 1, "n": "x", "v": 1}], 0, "bu must be a string"),
        ([{"bv": "1", "n": "x", "v": 1}], 0, "bv must be a number"),
        ([{"bs": False, "n": "x", "v": 1}], 0, "bs must be a number, not false"),
        ([{"bver": 11, "n": "x", "v": 1}], 0, "SenML version 11 is newer than the supported 10"),
        ([{"bver": 0, "n": "x", "v": 1}], 0, "bver must be a positive integer"),
        ([{"bver": 9.5, "n": "x", "v": 1}], 0, "bver must be a positive integer"),
        ([{"bver": "10", "n": "x", "v": 1}], 0, "bver must be a positive integer"),
        (
            [{"bver": 10, "n": "x", "v": 1}, {"n": "y", "v": 1}, {"bver": 9, "n": "z", "v": 1}],
            2,
            "bver changes from 10 to 9",
        ),
        ([{"n": "x", "v": 1, "foo_": 1}], 0, "unsupported must-understand field 'foo_'"),
        ([{"n": "x", "v": 1}, 5], 1, "a record must be a JSON object, not the number 5"),
        ([{"n": "x", "v": 1}, [{"n": "y"}]], 1, "a record must be a JSON object, not an array"),
        ([{"n": "x", "t": 1e20, "v": 1}], 0, "the resolved time 1e+20 is out of range"),
        ([{"n": "x", "t": -1e12, "v": 1}], 0, "is out of range"),
        ([{"n": "x", "bv": 1e308, "v": 1e308}], 0, "the resolved value is out of range"),
        ([{"n": "x", "bs": 1e308, "s": 1e308}], 0, "the resolved sum is out of range"),
    ],
)
def test_it_rejects_a_malformed_record_with_its_index_and_reason(pack, index, reason):
    with pytest.raises(SenMLError) as caught:
        parse_pack(pack, now=NOW)
    assert caught.value.index == index
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"record {index}: ")


@pytest.mark.parametrize("pack", ["text", 5, None, True])
def test_it_rejects_a_pack_that_is_not_an_array(pack):
    with pytest.raises(SenMLError, match="a SenML pack is a JSON array of records"):
        parse_pack(pack, now=NOW)


def test_it_accepts_an_empty_pack():
    assert parse_pack([], now=NOW) == []


def test_it_reads_json_lines_as_one_stream_of_records():
    lines = io.StringIO(
        f'{{"bn": "dev:", "bt": {T0}, "bu": "Cel", "n": "a", "v": 1}}\n'
        "\n"
        '[{"n": "b", "t": 5, "v": 2}, {"n": "c", "u": "%RH", "v": 3}]\n'
        '{"n": "d", "vb": true}\n'
    )
    records = list(iter_json_lines(lines, now=NOW))
    assert [(r.name, r.unit, r.time) for r in records] == [
        ("dev:a", "Cel", at(T0)),
        ("dev:b", "Cel", at(T0 + 5)),
        ("dev:c", "%RH", at(T0)),
        ("dev:d", "Cel", at(T0)),
    ]
    assert records[3].bool_value is True


def test_it_reports_the_line_and_stream_index_of_a_bad_json_line_record():
    lines = io.StringIO('{"n": "a", "v": 1}\n[{"n": "b", "v": 2}, {"n": "c"}]\n')
    with pytest.raises(SenMLError) as caught:
        list(iter_json_lines(lines, now=NOW))
    assert (caught.value.line, caught.value.index) == (2, 2)
    assert (
        str(caught.value) == "line 2 (record 2): no value: give one of v, vs, vb, vd, or a sum s."
    )


def test_it_reports_the_line_of_invalid_json():
    lines = io.StringIO('{"n": "a", "v": 1}\n\n{"n": "b", v: 2}\n')
    with pytest.raises(SenMLError) as caught:
        list(iter_json_lines(lines, now=NOW))
    assert caught.value.line == 3
    assert "not valid JSON" in caught.value.reason


# --- the short path for plain records ---------------------------------------------------------
# Resolver.resolve takes plain records (n, u, v, t only) through Resolver._plain; every case
# below is resolved with and without it and must give the same records or the same error.

PLAIN_CASES = [
    [{"n": "x", "v": 1}],
    [{"n": "x", "v": 1.5, "t": T0, "u": "Cel"}],
    [{"n": "x", "v": -0.0, "t": -0.0}, {"n": "x", "v": 0, "t": 0}],
    [{"n": "x", "v": 10**20, "t": T0 + 0.0000005}, {"n": "x", "v": 2**1000, "t": T0}],
    [{"n": "x", "v": 10**400}],
    [{"n": "x", "v": -(10**400)}],
    [{"n": "x", "v": 1, "t": 10**400}],
    [{"n": "x", "v": float("nan")}],
    [{"n": "x", "v": float("inf")}],
    [{"n": "x", "v": 1, "t": float("-inf")}],
    [{"n": "x", "v": 1, "t": 1e20}],
    [{"n": "x", "v": 1, "t": -1e12}],
    [{"n": "x", "v": 1, "t": 2**28 - 1}, {"n": "x", "v": 1, "t": 2**28}],
    [{"n": "x", "v": 1, "t": 5}, {"n": "y", "v": 2, "t": 5}, {"n": "x", "v": 3, "t": 5.0}],
    [{"n": "x", "v": True}],
    [{"n": "x", "v": None}],
    [{"n": "x", "v": "1"}],
    [{"n": "x", "v": [1]}],
    [{"n": "x", "t": "1", "v": 1}],
    [{"n": "x", "t": None, "v": 1}],
    [{"n": "x", "t": False, "v": 1}],
    [{"n": "x"}],
    [{"v": 1}],
    [{"n": "", "v": 1}],
    [{"n": 5, "v": 1}],
    [{"n": ["x"], "v": 1}],
    [{"n": "x y", "v": 1}],
    [{"n": "-x", "v": 1}],
    [{"n": "x\x00", "v": 1}],
    [{"n": "x\ud800", "v": 1}],
    [{"n": "tëmp", "v": 1}],
    [{"n": "x", "u": None, "v": 1}],
    [{"n": "x", "u": 1, "v": 1}],
    [{"n": "x", "u": ["Cel"], "v": 1}],
    [{"n": "x", "u": {"a": 1}, "v": 1}],
    [{"n": "x", "u": "°C", "v": 1}, {"n": "x", "u": "", "v": 1}],
    [{"n": "x", "u": "C\x00", "v": 1}],
    [{"n": "x", "u": "\udfff", "v": 1}],
    [{"n": "x", "v": 1, "vs": "a"}],
    [{"n": "x", "v": 1, "s": 2}],
    [{"n": "x", "v": 1, "ut": 2}],
    [{"n": "x", "v": 1, "l": "[]"}],
    [{"n": "x", "v": 1, "x_": 1}],
    [{"bn": "dev:", "bt": T0, "bu": "K", "n": "a", "v": 1}, {"n": "b", "t": 1, "v": 2}],
    [{"bn": "dev:", "v": 1}, {"v": 2}, {"n": "", "v": 3}, {"n": " ", "v": 4}],
    [{"bn": "dev:", "n": "a", "v": 1}, {"n": "b\x00", "v": 2}],
    [{"bu": "K", "n": "a", "v": 1}, {"n": "b", "v": 2}, {"n": "c", "u": "Cel", "v": 3}],
    [{"bv": 100, "n": "a", "v": 1}, {"n": "a", "v": 0.25}, {"n": "a", "v": 1e308}],
    [{"bv": 1e308, "n": "a", "v": 1}, {"n": "a", "v": 1e308}],
    [{"bv": -0.0, "n": "a", "v": -0.0}, {"n": "a", "v": 0.0}],
    [{"bs": 5, "n": "a", "v": 1}, {"n": "a", "v": 2}],
    [{"bs": -0.0, "n": "a", "v": 1}, {"n": "a", "v": 2}],
    [{"bt": -60, "n": "a", "v": 1}, {"n": "a", "t": 30, "v": 2}, {"n": "a", "t": 2**28, "v": 3}],
    [{"bt": 1e20, "n": "a", "s": 1}, {"n": "a", "v": 2}, {"n": "a", "t": -1e20, "v": 3}],
    [{"bt": T0, "n": "a", "v": 1, "t": 0.1}, {"n": "a", "v": 2, "t": 0.1}, {"n": "a", "v": 3}],
    [{"bver": 10, "n": "a", "v": 1}, {"n": "b", "v": 2}],
]


def resolved(pack):
    """The records (exactly: types and signs of zero too) or the error of a pack."""
    try:
        return [repr(record) for record in parse_pack(pack, now=NOW)]
    except SenMLError as exc:
        return str(exc)


def general(pack, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(Resolver, "_plain", lambda self, record: None)
        return resolved(pack)


@pytest.mark.parametrize("pack", PLAIN_CASES)
def test_the_short_path_resolves_a_pack_exactly_as_the_general_path(pack, monkeypatch):
    assert resolved(pack) == general(pack, monkeypatch)


def test_the_short_path_is_taken_for_plain_records_only(monkeypatch):
    general_calls = []
    resolve = Resolver._resolve

    def counted(self, record):
        general_calls.append(record)
        return resolve(self, record)

    monkeypatch.setattr(Resolver, "_resolve", counted)
    pack = [
        {"bn": "dev:", "bt": T0, "n": "a", "v": 1},  # base fields: general
        {"n": "a", "t": 1, "v": 2},
        {"n": "b", "u": "%RH", "t": 1, "v": 3},
        {"n": "c", "t": 2, "vs": "on"},  # a string value: general
        {"v": 4},
    ]
    assert [r.name for r in parse_pack(pack, now=NOW)] == [
        "dev:a",
        "dev:a",
        "dev:b",
        "dev:c",
        "dev:",
    ]
    assert general_calls == [pack[0], pack[3]]


def test_records_of_one_reading_share_their_time_and_the_next_time_is_its_own():
    records = parse_pack(
        [
            {"bt": T0, "n": "a", "t": 1, "v": 1},
            {"n": "b", "t": 1, "v": 2},
            {"n": "a", "t": 1.5, "v": 3},
            {"n": "b", "t": 1, "v": 4},
        ],
        now=NOW,
    )
    assert [r.time for r in records] == [at(T0 + 1), at(T0 + 1), at(T0 + 1.5), at(T0 + 1)]
    assert records[1].time is records[0].time


def test_a_stream_of_ever_new_names_is_checked_with_bounded_memory(monkeypatch):
    monkeypatch.setattr("exports.data.senml._CHECKED_LIMIT", 3)
    resolver = Resolver(now=NOW)
    for index in range(10):
        assert resolver.resolve({"n": f"m{index}", "u": f"u{index}", "v": 1}).name == f"m{index}"
        assert len(resolver._names) <= 3 and len(resolver._units) <= 3
    with pytest.raises(SenMLError, match="record 10: name 'm 1' must start"):
        resolver.resolve({"n": "m 1", "v": 1})
    assert resolver.resolve({"n": "m9", "v": 1}).name == "m9"  # still known


plain_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**1100), max_value=2**1100),
    st.floats(),
    st.sampled_from([0.0, -0.0, 2**28, 2**28 - 1, T0, 1e308, -1e308, 0.0000005]),
)
plain_texts = st.one_of(
    st.sampled_from(["x", "dev:", "", " ", "°C", "-a", "x\x00", "x\ud800", "Cel"]),
    st.text(max_size=4),
)
plain_records = st.dictionaries(
    st.sampled_from(["n", "u", "v", "t"]),
    st.one_of(plain_numbers, plain_texts, st.booleans(), st.none()),
    max_size=4,
)
any_records = st.one_of(
    plain_records,
    plain_records.map(lambda record: {**record, "n": "x", "v": 1.5}),
    st.dictionaries(
        st.sampled_from(["bn", "bt", "bu", "bv", "bs", "n", "u", "v", "t", "s", "vs"]),
        st.one_of(plain_numbers, plain_texts),
        max_size=5,
    ),
)


@settings(max_examples=400, deadline=None)
@given(pack=st.lists(any_records, max_size=6))
def test_the_short_path_matches_the_general_path_on_any_pack(pack):
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert resolved(pack) == general(pack, monkeypatch)
