"""validate_serp_record / map_serp_record against docs/protocols/serp-supplier.md."""

from __future__ import annotations

import copy

import pytest

from commerce_core.catalog.serp_mapping import SERP_SUPPLIER_ID, Violation, map_serp_record, validate_serp_record


def valid_record(**overrides) -> dict:
    record = {
        "id": "SERP-0000001",
        "name": "  Taipei Temple Walk  ",
        "description": "<p>Old temples</p>",
        "language": "zh-TW",
        "translations": {
            "ja-JP": {"name": "台北寺院散歩", "description": "古い寺"},
            "en-US": {"name": "Taipei Temple Walk", "description": "Old temples"},
        },
        "productType": "Tour",
        "category": " Day Tours ",
        "prices": [
            {"amount": "12900.00", "currency": "TWD", "priceType": "Base", "validFrom": None, "validTo": None},
            {"amount": "0.50", "currency": "USD", "priceType": "Sale",
             "validFrom": "2026-01-01T00:00:00Z", "validTo": "2026-12-31T23:59:59Z"},
        ],
        "images": [
            {"url": "https://img.example/3.jpg", "isPrimary": False, "order": 3},
            {"url": "https://img.example/1.jpg", "isPrimary": True, "order": 1},
            {"url": "http://img.example/2.jpg", "isPrimary": False, "order": 2},
        ],
        "availableSeats": 12,
        "status": "Published",
        "isActive": True,
        "createdAt": "2025-01-01T00:00:00Z",
        "updatedAt": "2026-02-07T02:00:00Z",
    }
    record.update(overrides)
    return record


def rules(record: object) -> list[str]:
    return [v.rule for v in validate_serp_record(record)]


def with_price(**price_overrides) -> dict:
    record = valid_record()
    record["prices"] = [{**record["prices"][0], **price_overrides}]
    return record


def test_valid_record_has_no_violations() -> None:
    assert validate_serp_record(valid_record()) == []


def test_minimal_valid_record_with_optional_fields_absent() -> None:
    record = valid_record()
    for optional in ("description", "translations", "category", "images", "availableSeats"):
        del record[optional]
    assert validate_serp_record(record) == []


def test_name_of_exactly_200_chars_is_valid() -> None:
    assert validate_serp_record(valid_record(name="x" * 200)) == []


def test_zero_seats_is_valid() -> None:
    assert validate_serp_record(valid_record(availableSeats=0)) == []


def _without(key: str) -> dict:
    record = valid_record()
    del record[key]
    return record


@pytest.mark.parametrize(
    ("record", "rule"),
    [
        pytest.param(_without("id"), "id_required", id="id-missing"),
        pytest.param(valid_record(id="   "), "id_required", id="id-blank"),
        pytest.param(valid_record(id=123), "id_required", id="id-not-string"),
        pytest.param(valid_record(id="x" * 129), "id_length", id="id-too-long"),
        pytest.param(_without("name"), "name_required", id="name-missing"),
        pytest.param(valid_record(name=""), "name_required", id="name-empty"),
        pytest.param(valid_record(name="x" * 201), "name_length", id="name-201"),
        pytest.param(valid_record(status="Live"), "status_enum", id="status-unknown"),
        pytest.param(_without("status"), "status_enum", id="status-missing"),
        pytest.param(valid_record(status="published"), "status_enum", id="status-case"),
        pytest.param(valid_record(productType="Cruise"), "product_type_enum", id="type-unknown"),
        pytest.param(valid_record(isActive="true"), "is_active_type", id="active-string"),
        pytest.param(valid_record(isActive=1), "is_active_type", id="active-int"),
        pytest.param(valid_record(language="Chinese"), "language_code", id="language-word"),
        pytest.param(_without("language"), "language_code", id="language-missing"),
        pytest.param(valid_record(description=5), "description_type", id="description-int"),
        pytest.param(valid_record(category=["a"]), "category_type", id="category-list"),
        pytest.param(_without("prices"), "price_required", id="prices-missing"),
        pytest.param(valid_record(prices=[]), "price_required", id="prices-empty"),
        pytest.param(valid_record(prices={"amount": "1"}), "price_required", id="prices-not-list"),
        pytest.param(valid_record(prices=["12900"]), "price_shape", id="price-not-object"),
        pytest.param(with_price(amount="-1.00"), "price_amount", id="amount-negative"),
        pytest.param(with_price(amount="0"), "price_amount", id="amount-zero"),
        pytest.param(with_price(amount="0.00"), "price_amount", id="amount-zero-decimal"),
        pytest.param(with_price(amount="abc"), "price_amount", id="amount-abc"),
        pytest.param(with_price(amount=None), "price_amount", id="amount-missing"),
        pytest.param(with_price(amount="NaN"), "price_amount", id="amount-nan"),
        pytest.param(with_price(amount="Infinity"), "price_amount", id="amount-inf"),
        pytest.param(with_price(currency="XX1"), "price_currency", id="currency-digit"),
        pytest.param(with_price(currency="usd"), "price_currency", id="currency-lower"),
        pytest.param(with_price(currency="USDT"), "price_currency", id="currency-4"),
        pytest.param(with_price(currency=None), "price_currency", id="currency-missing"),
        pytest.param(with_price(priceType="Promo"), "price_type", id="price-type"),
        pytest.param(with_price(validFrom="tomorrow"), "timestamp_format", id="valid-from"),
        pytest.param(with_price(validTo="2026-01-01T00:00:00"), "timestamp_format", id="valid-to-naive"),
        pytest.param(valid_record(createdAt="2025-13-01T00:00:00Z"), "timestamp_format", id="created-bad"),
        pytest.param(valid_record(updatedAt="2026-02-07T02:00:00"), "timestamp_format", id="updated-naive"),
        pytest.param(_without("updatedAt"), "timestamp_format", id="updated-missing"),
        pytest.param(valid_record(images=[{"url": "ftp://x/1.jpg", "order": 1}]), "image_url", id="image-ftp"),
        pytest.param(valid_record(images=[{"order": 1}]), "image_url", id="image-no-url"),
        pytest.param(valid_record(images=["https://x/1.jpg"]), "image_url", id="image-not-object"),
        pytest.param(valid_record(images="https://x/1.jpg"), "image_shape", id="images-not-list"),
        pytest.param(valid_record(translations=["en-US"]), "translation_shape", id="translations-list"),
        pytest.param(valid_record(translations={"en-US": "Hello"}), "translation_shape", id="translation-str"),
        pytest.param(valid_record(translations={"en-US": {"description": "d"}}), "translation_shape",
                     id="translation-no-name"),
        pytest.param(valid_record(translations={"English": {"name": "n"}}), "translation_shape",
                     id="translation-bad-language"),
        pytest.param(valid_record(availableSeats=-1), "seats_range", id="seats-negative"),
        pytest.param(valid_record(availableSeats=True), "seats_range", id="seats-bool"),
        pytest.param(valid_record(availableSeats=2.5), "seats_range", id="seats-float"),
        pytest.param(valid_record(availableSeats="3"), "seats_range", id="seats-string"),
    ],
)
def test_each_rule_fires_alone(record: dict, rule: str) -> None:
    violations = validate_serp_record(record)
    assert [v.rule for v in violations] == [rule], violations
    assert all(isinstance(v, Violation) and v.message for v in violations)


def test_name_length_message_names_the_length() -> None:
    (violation,) = validate_serp_record(valid_record(name="n" * 201))
    assert "201" in violation.message and "200" in violation.message


def test_price_violation_message_names_the_position() -> None:
    record = valid_record()
    record["prices"][1]["amount"] = "-5"
    (violation,) = validate_serp_record(record)
    assert violation.rule == "price_amount"
    assert "prices[1]" in violation.message


def test_multiple_violations_are_all_listed() -> None:
    record = valid_record(id="", name="", status="Nope", productType="Boat", isActive=None, language="??",
                          availableSeats=-3, createdAt="x",
                          images=[{"url": "file:///etc/passwd"}],
                          translations={"en-US": {"description": "no name"}})
    record["prices"] = [{"amount": "abc", "currency": "usd", "priceType": "Promo"},
                        {"amount": "-1", "currency": "XX1", "priceType": "Base"}]
    found = rules(record)
    assert sorted(found) == sorted([
        "id_required", "name_required", "status_enum", "product_type_enum", "is_active_type",
        "language_code", "price_amount", "price_currency", "price_type", "price_amount", "price_currency",
        "image_url", "translation_shape", "seats_range", "timestamp_format",
    ])


@pytest.mark.parametrize("record", [None, [], "SERP-1", 42, ["id", "name"]])
def test_non_dict_record_is_record_shape(record: object) -> None:
    (violation,) = validate_serp_record(record)
    assert violation.rule == "record_shape"
    assert type(record).__name__ in violation.message


@pytest.mark.parametrize("record", [with_price(currency="USD\n"), valid_record(language="zh-TW\n")],
                         ids=["currency", "language"])
def test_trailing_newline_is_not_a_valid_code(record: dict) -> None:
    assert validate_serp_record(record) != []


def test_non_numeric_image_order_is_rejected() -> None:
    record = valid_record(images=[{"url": "https://img.example/1.jpg", "isPrimary": True, "order": "first"}])
    assert [v.rule for v in validate_serp_record(record)] == ["image_order"]


# --- mapping -----------------------------------------------------------------


def test_mapping_produces_canonical_unified_product() -> None:
    record = valid_record()
    original = copy.deepcopy(record)
    product = map_serp_record(record)
    assert record == original, "mapping must not mutate its input"
    assert product["supplierId"] == SERP_SUPPLIER_ID == "SERP"
    assert product["externalId"] == "SERP-0000001"
    assert product["name"] == "Taipei Temple Walk"
    assert product["category"] == "Day Tours"
    assert product["description"] == "<p>Old temples</p>"
    assert product["language"] == "zh-TW"
    assert product["productType"] == "Tour"
    assert product["status"] == "Published"
    assert product["isActive"] is True
    assert product["availableSeats"] == 12
    assert product["sourceCreatedAt"] == "2025-01-01T00:00:00Z"
    assert product["sourceUpdatedAt"] == "2026-02-07T02:00:00Z"


@pytest.mark.parametrize(
    ("amount", "canonical"),
    [("12900.00", "12900"), ("0.50", "0.5"), ("100", "100"), ("1E+3", "1000"), ("0.0100", "0.01"),
     (12900, "12900"), ("12900.1234", "12900.1234")],
)
def test_mapping_canonicalises_amounts(amount: object, canonical: str) -> None:
    product = map_serp_record(with_price(amount=amount))
    assert product["prices"][0]["amount"] == canonical


def test_mapping_keeps_price_fields() -> None:
    prices = map_serp_record(valid_record())["prices"]
    assert prices == [
        {"amount": "12900", "currency": "TWD", "priceType": "Base", "validFrom": None, "validTo": None},
        {"amount": "0.5", "currency": "USD", "priceType": "Sale",
         "validFrom": "2026-01-01T00:00:00Z", "validTo": "2026-12-31T23:59:59Z"},
    ]


def test_mapping_sorts_images_by_order() -> None:
    images = map_serp_record(valid_record())["images"]
    assert [i["url"] for i in images] == [
        "https://img.example/1.jpg", "http://img.example/2.jpg", "https://img.example/3.jpg"]
    assert [i["order"] for i in images] == [1, 2, 3]
    assert [i["isPrimary"] for i in images] == [True, False, False]


def test_mapping_keeps_image_order_zero() -> None:
    record = valid_record(images=[
        {"url": "https://img.example/b.jpg", "isPrimary": False, "order": 1},
        {"url": "https://img.example/a.jpg", "isPrimary": True, "order": 0},
    ])
    images = map_serp_record(record)["images"]
    assert [(i["url"], i["order"]) for i in images] == [
        ("https://img.example/a.jpg", 0), ("https://img.example/b.jpg", 1)]


def test_mapping_without_images_or_translations() -> None:
    record = valid_record()
    del record["images"], record["translations"], record["category"], record["description"]
    product = map_serp_record(record)
    assert product["images"] == []
    assert product["translations"] == {}
    assert product["category"] == ""
    assert product["description"] == ""


def test_mapping_keeps_supplier_translations() -> None:
    record = valid_record(translations={
        "ja-JP": {"name": "台北寺院散歩", "description": "古い寺"},
        "en-US": {"name": "Temple Walk"},
        "ko-KR": {"name": "사원 산책", "description": None},
    })
    product = map_serp_record(record)
    assert product["translations"] == {
        "en-US": {"name": "Temple Walk", "description": ""},
        "ja-JP": {"name": "台北寺院散歩", "description": "古い寺"},
        "ko-KR": {"name": "사원 산책", "description": ""},
    }
    assert list(product["translations"]) == ["en-US", "ja-JP", "ko-KR"]


def test_mapping_keeps_null_seats() -> None:
    assert map_serp_record(valid_record(availableSeats=None))["availableSeats"] is None
