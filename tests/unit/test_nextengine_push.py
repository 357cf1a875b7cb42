"""Next Engine stock push: parsing, every verification rule, and the EUC-JP XML answer."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from urllib.parse import quote_from_bytes

import pytest
from lxml import etree

from commerce_core.stock.nextengine_push import (
    CONTENT_TYPE,
    JST,
    PARAMETER_ORDER,
    PROCESSED_CLIENT_ERROR,
    PROCESSED_OK,
    PROCESSED_SYSTEM_ERROR,
    PushRejected,
    decode_value,
    expected_signature,
    parse_ts,
    raw_arguments,
    readable_arguments,
    response_xml,
    verify_push,
)

KEYS = {"samplestore": "aaa"}
TS = "201801150830"
NOW = datetime(2018, 1, 15, 8, 30, tzinfo=JST)  # the ts itself, well inside the window


def md5_sig(store: bytes, code: bytes, stock: bytes, ts: bytes, key: bytes) -> str:
    return hashlib.md5(b"StoreAccount=" + store + b"&Code=" + code + b"&Stock=" + stock + b"&ts=" + ts + key).hexdigest()


def query(store=b"samplestore", code=b"test-aaa", stock=b"10", ts=TS.encode(), key=b"aaa", sig=None, extra=b"") -> bytes:
    if sig is None:
        sig = md5_sig(store, code, stock, ts, key).encode()
    q = lambda v: quote_from_bytes(v, safe="").encode()  # noqa: E731
    return (b"StoreAccount=" + q(store) + b"&Code=" + q(code) + b"&Stock=" + q(stock)
            + b"&ts=" + q(ts) + b"&.sig=" + sig + extra)


def rejected(qs: bytes, now: datetime = NOW, keys=KEYS) -> str:
    with pytest.raises(PushRejected) as info:
        verify_push(qs, keys, now)
    return info.value.reason


# --- the vendor's example -----------------------------------------------------

def test_vendor_example_vector():
    sig = hashlib.md5(b"StoreAccount=samplestore&Code=test-aaa&Stock=10&ts=201801150830" + b"aaa").hexdigest()
    qs = f"StoreAccount=samplestore&Code=test-aaa&Stock=10&ts=201801150830&.sig={sig}".encode()
    values = dict(raw_arguments(qs))
    assert expected_signature(values, "aaa") == sig

    push = verify_push(qs, KEYS, now=datetime(2018, 1, 14, 23, 40, tzinfo=timezone.utc))
    assert (push.store_account, push.code, push.stock, push.ts, push.signature) == ("samplestore", "test-aaa", 10, TS, sig)
    assert push.sent_at == datetime(2018, 1, 14, 23, 30, tzinfo=timezone.utc)
    assert push.sent_at.tzinfo == timezone.utc
    assert push.arguments == (("StoreAccount", "samplestore"), ("Code", "test-aaa"), ("Stock", "10"),
                              ("ts", TS), (".sig", sig))


def test_fourteen_digit_ts():
    push = verify_push(query(ts=b"20180115083045"), KEYS, NOW)
    assert push.ts == "20180115083045"
    assert push.sent_at == datetime(2018, 1, 14, 23, 30, 45, tzinfo=timezone.utc)


def test_parse_ts():
    assert parse_ts("201801150900") == datetime(2018, 1, 15, 0, 0, tzinfo=timezone.utc)
    assert parse_ts("20180101000000") == datetime(2017, 12, 31, 15, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("ts", ["", "2018011508", "2018011508300", "201801150830451", "2018-01-15T08",
                                "20180115083a", "201813150830", "201802300830", "201801152430",
                                "201801150860", "20180115083060", " 201801150830", "２０１８０１１５０８３０"])
def test_malformed_ts(ts):
    with pytest.raises(PushRejected, match=r"^ts: "):
        parse_ts(ts)
    assert rejected(query(ts=ts.encode())).startswith("ts: ")


# --- window ---------------------------------------------------------------------

SENT = datetime(2018, 1, 15, 8, 30, tzinfo=JST)


@pytest.mark.parametrize("now", [
    SENT + timedelta(days=1),                              # exactly one day old
    SENT + timedelta(days=1) - timedelta(seconds=1),
    SENT - timedelta(days=1, minutes=10),                  # exactly 1 day 10 min ahead
    SENT - timedelta(days=1, minutes=10) + timedelta(seconds=1),
])
def test_ts_window_inside(now):
    assert verify_push(query(), KEYS, now).stock == 10


def test_ts_window_outside_past():
    reason = rejected(query(), now=SENT + timedelta(days=1, seconds=1))
    assert reason == "ts: more than one day in the past"


def test_ts_window_outside_future():
    reason = rejected(query(), now=SENT - timedelta(days=1, minutes=10, seconds=1))
    assert reason == "ts: more than one day and ten minutes in the future"


def test_naive_now_is_a_programming_error():
    with pytest.raises(ValueError):
        verify_push(query(), KEYS, datetime(2018, 1, 15))


# --- Stock ----------------------------------------------------------------------

def test_empty_stock_is_unlimited_not_zero():
    push = verify_push(query(stock=b""), KEYS, NOW)
    assert push.stock is None
    assert dict(push.arguments)["Stock"] == ""


def test_zero_stock_is_zero():
    assert verify_push(query(stock=b"0"), KEYS, NOW).stock == 0


@pytest.mark.parametrize("stock", [b"-1", b"1.5", b"abc", b" 3", b"+3", b"1e3", b"\xef\xbc\x93", b"9" * 20,
                                   b"9223372036854775808"])
def test_bad_stock_rejected_naming_stock(stock):
    assert rejected(query(stock=stock)).startswith("Stock: ")


# --- presence, duplicates, store, signature ---------------------------------------

@pytest.mark.parametrize("missing", PARAMETER_ORDER)
def test_missing_parameter(missing):
    parts = [p for p in query().split(b"&") if not p.startswith(missing.encode() + b"=")]
    reason = rejected(b"&".join(parts))
    assert reason == f"{missing}: missing"


@pytest.mark.parametrize("name", PARAMETER_ORDER)
def test_duplicated_parameter(name):
    value = dict(raw_arguments(query()))[name]
    reason = rejected(query() + b"&" + name.encode() + b"=" + quote_from_bytes(value, safe="").encode())
    assert reason == f"{name}: sent more than once"


def test_unknown_extra_parameters_ignored():
    assert verify_push(query(extra=b"&foo=bar&foo=baz&&x"), KEYS, NOW).code == "test-aaa"


def test_unknown_store():
    reason = rejected(query(), keys={"otherstore": "aaa"})
    assert reason.startswith("StoreAccount: unknown store account")


def test_empty_code_rejected():
    assert rejected(query(code=b"")) == "Code: empty"


@pytest.mark.parametrize("sig", [b"0" * 32, b"", b"zz", md5_sig(b"samplestore", b"test-aaa", b"10", TS.encode(), b"bbb").encode(),
                                 b"%E3%83%86"])
def test_bad_signature(sig):
    assert rejected(query(sig=sig)) == ".sig: signature does not match"


def test_signature_over_other_values_rejected():
    sig = md5_sig(b"samplestore", b"test-aaa", b"11", TS.encode(), b"aaa").encode()
    assert rejected(query(sig=sig)) == ".sig: signature does not match"


def test_uppercase_hex_signature_accepted():
    sig = md5_sig(b"samplestore", b"test-aaa", b"10", TS.encode(), b"aaa")
    push = verify_push(query(sig=sig.upper().encode()), KEYS, NOW)
    assert push.signature == sig  # normalised to lowercase
    assert dict(push.arguments)[".sig"] == sig.upper()  # echoed as sent


def test_rejection_carries_readable_arguments():
    with pytest.raises(PushRejected) as info:
        verify_push(query(stock=b"-1"), KEYS, NOW)
    assert dict(info.value.arguments)["Stock"] == "-1"
    assert [n for n, _ in info.value.arguments] == list(PARAMETER_ORDER)


# --- raw parsing and decoding ---------------------------------------------------

def test_raw_arguments_plus_and_percent():
    assert raw_arguments(b"a=x+y%2B%26&b=&c&%2Esig=1") == [("a", b"x y+&"), ("b", b""), ("c", b""), (".sig", b"1")]


def test_decode_value_fallbacks():
    assert decode_value("商品".encode("utf-8")) == "商品"
    assert decode_value("商品".encode("euc_jp")) == "商品"
    assert decode_value(b"\xff\xfe") == "\xff\xfe"


# --- Japanese / special characters end to end ---------------------------------------

NASTY = "テスト&<\"商品'>"


@pytest.mark.parametrize("encoding", ["utf-8", "euc_jp"])
def test_code_with_special_and_japanese_characters(encoding):
    code_bytes = NASTY.encode(encoding)
    qs = query(code=code_bytes)
    assert b"&<" not in qs  # it really went percent-encoded
    # signature over the decoded bytes, computed independently
    expected = hashlib.md5(b"StoreAccount=samplestore&Code=" + code_bytes + b"&Stock=10&ts=" + TS.encode() + b"aaa").hexdigest()
    assert expected_signature(dict(raw_arguments(qs)), "aaa") == expected

    push = verify_push(qs, KEYS, NOW)
    assert push.code == NASTY
    assert push.signature == expected

    body = response_xml(push.arguments, PROCESSED_OK)
    body.decode("euc_jp")  # really EUC-JP
    assert body.startswith(b'<?xml version="1.0" encoding="EUC-JP"?>')
    root = etree.fromstring(body)
    echoed = [(a.get("Name"), a.get("Value")) for a in root.iter("Argument")]
    assert echoed == list(push.arguments)
    assert dict(echoed)["Code"] == NASTY
    assert root.findtext(".//Processed") == "0"


@pytest.mark.parametrize("value", ["絵文字😀テスト", "¥100‾", "～①髙", "tab\there\nnl\rcr", "a\x01b"])
def test_characters_outside_euc_jp_become_references(value):
    body = response_xml([("Code", value)], PROCESSED_OK)
    text = body.decode("euc_jp")
    got = etree.fromstring(body).find(".//Argument").get("Value")
    if value == "a\x01b":  # not an XML character at all: replaced, still well-formed
        assert got == "a\ufffdb"
        return
    assert got == value
    if "😀" in value:
        assert "&#128512;" in text
    if "¥" in value:  # euc_jp would silently turn it into a backslash
        assert "&#165;" in text and "\\" not in text


def test_emoji_code_end_to_end():
    code = "商品😀".encode("utf-8")
    push = verify_push(query(code=code), KEYS, NOW)
    assert push.code == "商品😀"
    root = etree.fromstring(response_xml(push.arguments, PROCESSED_OK))
    assert root.find(".//Argument[@Name='Code']").get("Value") == "商品😀"


# --- responses for errors -------------------------------------------------------------

@pytest.mark.parametrize("processed", [PROCESSED_CLIENT_ERROR, PROCESSED_SYSTEM_ERROR])
def test_response_xml_errors(processed):
    args = readable_arguments(b"StoreAccount=samplestore&Code=%E5%95%86&Stock=-5")
    assert args == (("StoreAccount", "samplestore"), ("Code", "商"), ("Stock", "-5"))
    root = etree.fromstring(response_xml(args, processed))
    assert root.tag == "ShoppingUpdateStock" and root.get("version") == "1.0"
    assert root.find("ResultSet").get("TotalResult") == "1"
    assert [(a.get("Name"), a.get("Value")) for a in root.iter("Argument")] == list(args)
    assert root.find("ResultSet/Result").get("No") == "1"
    assert root.findtext("ResultSet/Result/Processed") == str(processed)


def test_response_xml_with_nothing_readable():
    assert readable_arguments(b"") == ()
    root = etree.fromstring(response_xml((), PROCESSED_CLIENT_ERROR))
    assert list(root.iter("Argument")) == []
    assert root.find("ResultSet/Request") is not None
    assert root.findtext(".//Processed") == "-2"


def test_response_xml_rejects_unknown_processed_code():
    with pytest.raises(ValueError):
        response_xml((), 1)


def test_content_type():
    assert CONTENT_TYPE == "text/xml; charset=EUC-JP"
