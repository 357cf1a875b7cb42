"""Region rules without servers: FX rounding, the regional product, conflict strategies, the regions file."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from commerce_core.regions.central_products import CentralProduct
from commerce_core.regions.config import DEFAULT_REGIONS_FILE, RegionConfig, load_regions, local_api_key
from commerce_core.regions.conflicts import STRATEGIES, resolve
from commerce_core.regions.fx import FxRates, UnknownCurrency, format_amount, round_to_minor_unit
from commerce_core.regions.regional_product import to_regional_product
from commerce_core.settings import ConfigurationError

FX = FxRates({"TWD": Decimal("1"), "USD": Decimal("0.0317"), "JPY": Decimal("4.70")})
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def region(**changes) -> RegionConfig:
    base = RegionConfig(code="JP", name="Japan", base_url="http://jp", api_key="k", enabled=True, priority=3,
                        schedule="0 4 * * *", languages=("ja-JP", "en-US", "zh-TW"), currencies=("JPY", "USD"),
                        conflict_strategy="CentralWins", batch_size=50)
    return replace(base, **changes)


def product(**changes) -> CentralProduct:
    base = CentralProduct(
        id=uuid.UUID(int=7), supplier_id="SERP", external_id="SERP-0000007", name="Taipei food tour",
        description="Night market walk.", language="en-US", category="Food", product_type="Tour",
        available_seats=12, status="Published", is_active=True, archived=False, content_hash="h1",
        first_delivery=True,
        created_at=T0, updated_at=T0,
        translations={"en-US": {"name": "Taipei food tour", "description": "Night market walk."},
                      "zh-TW": {"name": "台北美食之旅", "description": "夜市散步。"}},
        prices=[{"amount": Decimal("1000"), "currency": "TWD", "priceType": "Base"},
                {"amount": Decimal("33.00"), "currency": "USD", "priceType": "Base"}],
        images=[{"url": "https://img/1.jpg", "isPrimary": True, "order": 0}],
    )
    return replace(base, **changes)


# --- FX ------------------------------------------------------------------------------

@pytest.mark.parametrize("amount, currency, shown", [
    ("1234.5", "TWD", "1235"), ("1234.49", "JPY", "1234"), ("12.345", "USD", "12.35"), ("12.344", "USD", "12.34"),
    ("0.005", "USD", "0.01"), ("7", "USD", "7.00"), ("1E+3", "JPY", "1000"), ("0", "USD", "0.00"),
])
def test_amounts_are_rounded_half_up_to_the_minor_unit(amount, currency, shown):
    assert format_amount(Decimal(amount), currency) == shown


def test_conversion_is_exact_until_shown():
    converted = FX.convert(Decimal("1000"), "TWD", "JPY")
    assert converted == Decimal("4700.00")
    assert format_amount(FX.convert(Decimal("33.00"), "USD", "JPY"), "JPY") == "4893"  # 33 / 0.0317 * 4.70 = 4892.74


def test_unknown_currencies_are_refused_by_name():
    with pytest.raises(UnknownCurrency, match="EUR"):
        FX.convert(Decimal("1"), "EUR", "TWD")
    with pytest.raises(UnknownCurrency, match="GBP"):
        round_to_minor_unit(Decimal("1"), "GBP")


# --- the regional product -------------------------------------------------------------

def test_regional_product_has_only_the_regions_languages_with_fallback_counted():
    regional = to_regional_product(product(), region(), FX, "2026-03-01T09:00:00.000000Z")
    dto = regional.dto
    assert list(dto["name"]) == ["ja-JP", "en-US", "zh-TW"]
    # No Japanese text and no text in the default language either: the product's own language stands in.
    assert dto["name"]["ja-JP"] == "Taipei food tour"
    assert regional.untranslated == ("ja-JP",)
    assert dto["name"]["zh-TW"] == "台北美食之旅"
    us = to_regional_product(product(), region(languages=("en-US", "zh-TW"), currencies=("USD",)), FX, "x")
    assert us.untranslated == ()


def test_missing_language_falls_back_to_the_regions_default_language_first():
    tw = region(code="TW", languages=("zh-TW", "en-US", "ja-JP"), currencies=("TWD",))
    dto = to_regional_product(product(), tw, FX, "x").dto
    assert dto["name"]["ja-JP"] == "台北美食之旅"


def test_prices_use_the_given_currency_or_convert_from_the_first_price_of_the_type():
    dto = to_regional_product(product(), region(), FX, "x").dto
    assert dto["prices"] == [
        {"amount": "4700", "currency": "JPY", "priceType": "Base"},  # converted from 1000 TWD
        {"amount": "33.00", "currency": "USD", "priceType": "Base"},  # given
    ]
    assert all(isinstance(p["amount"], str) for p in dto["prices"])


def test_withdrawn_products_go_out_archived():
    assert to_regional_product(product(archived=True), region(), FX, "x").dto["status"] == "Archived"
    assert to_regional_product(product(is_active=False), region(), FX, "x").dto["status"] == "Archived"
    assert to_regional_product(product(status="Draft"), region(), FX, "x").dto["status"] == "Draft"


def test_dto_carries_ids_times_and_metadata():
    dto = to_regional_product(product(), region(), FX, "2026-03-01T09:00:00.000000Z").dto
    assert dto["globalHubProductId"] == str(uuid.UUID(int=7))
    assert dto["updatedAt"] == "2026-03-01T08:00:00Z"
    assert dto["metadata"] == {"SourceSystem": "GlobalHub", "OriginalSupplier": "SERP",
                               "SyncedAt": "2026-03-01T09:00:00.000000Z"}


# --- conflict strategies ----------------------------------------------------------------

CENTRAL = {
    "globalHubProductId": "p1", "name": {"ja-JP": "中央の名前", "en-US": "Central name"},
    "description": {"ja-JP": "中央の説明", "en-US": "Central text"},
    "prices": [{"amount": "4700", "currency": "JPY", "priceType": "Base"}], "availableSeats": 5,
    "images": [{"url": "c.jpg", "isPrimary": True, "order": 0}], "status": "Published",
    "updatedAt": "2026-03-02T00:00:00Z",
}
REGIONAL = {
    "globalHubProductId": "p1", "name": {"ja-JP": "地域の名前", "en-US": "Regional name"},
    "description": {"ja-JP": "地域の説明", "en-US": "Regional text"},
    "prices": [{"amount": "9999", "currency": "JPY", "priceType": "Base"}], "availableSeats": 1,
    "images": [{"url": "r.jpg", "isPrimary": True, "order": 0}], "status": "Draft",
    "updatedAt": "2026-03-01T00:00:00Z",
}


def test_central_wins_sends_the_central_copy_as_is():
    assert resolve(CENTRAL, REGIONAL, "CentralWins", "ja-JP") == CENTRAL


def test_regional_wins_keeps_every_regional_translation_but_central_prices_and_status():
    sent = resolve(CENTRAL, REGIONAL, "RegionalWins", "ja-JP")
    assert sent["name"] == REGIONAL["name"] and sent["description"] == REGIONAL["description"]
    assert sent["prices"] == CENTRAL["prices"] and sent["status"] == "Published"


def test_latest_wins_sends_central_only_when_it_is_newer():
    assert resolve(CENTRAL, REGIONAL, "LatestWins", "ja-JP") == CENTRAL
    newer_regional = {**REGIONAL, "updatedAt": "2026-03-03T00:00:00Z"}
    assert resolve(CENTRAL, newer_regional, "LatestWins", "ja-JP") is None


def test_smart_merge_takes_central_facts_and_default_language_but_keeps_regional_edits_and_status():
    sent = resolve(CENTRAL, {**REGIONAL, "updatedAt": "2026-03-05T00:00:00Z"}, "SmartMerge", "ja-JP")
    assert sent["name"] == {"ja-JP": "中央の名前", "en-US": "Regional name"}
    assert sent["description"] == {"ja-JP": "中央の説明", "en-US": "Regional text"}
    assert (sent["prices"], sent["availableSeats"], sent["images"]) == (
        CENTRAL["prices"], CENTRAL["availableSeats"], CENTRAL["images"])
    assert sent["status"] == "Draft"
    assert sent["updatedAt"] == "2026-03-05T00:00:00Z"


def test_the_four_strategies_give_four_different_answers():
    answers = [resolve(CENTRAL, REGIONAL, strategy, "ja-JP") for strategy in STRATEGIES]
    newer = {**REGIONAL, "updatedAt": "2026-03-03T00:00:00Z"}
    answers[2] = resolve(CENTRAL, newer, "LatestWins", "ja-JP")
    assert len({repr(a) for a in answers}) == 4


def test_without_a_regional_copy_every_strategy_sends_central():
    assert all(resolve(CENTRAL, None, strategy, "ja-JP") == CENTRAL for strategy in STRATEGIES)


def test_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="Newest"):
        resolve(CENTRAL, REGIONAL, "Newest", "ja-JP")


# --- the regions file --------------------------------------------------------------------

def test_the_shipped_regions_file_matches_the_contract():
    regions = load_regions(DEFAULT_REGIONS_FILE, environ={})
    table = {r.code: (r.languages, r.currencies, r.schedule, r.priority, r.batch_size) for r in regions.enabled()}
    assert table == {
        "TW": (("zh-TW", "en-US"), ("TWD", "USD"), "*/30 * * * *", 1, 50),
        "US": (("en-US", "zh-TW"), ("USD",), "0 3 * * *", 2, 50),
        "JP": (("ja-JP", "en-US", "zh-TW"), ("JPY", "USD"), "0 4 * * *", 3, 50),
    }
    assert regions.get("TW").api_key == local_api_key("TW")


def test_environment_overrides_url_and_key():
    regions = load_regions(DEFAULT_REGIONS_FILE, environ={"REGION_US_URL": "https://us.example/",
                                                          "REGION_US_API_KEY": "secret"})
    us = regions.get("US")
    assert (us.base_url, us.api_key) == ("https://us.example", "secret")


def test_prod_refuses_a_region_without_a_key():
    with pytest.raises(ConfigurationError, match="REGION_TW_API_KEY"):
        load_regions(DEFAULT_REGIONS_FILE, environ={"HUB_ENV": "prod"})


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "regions.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_adding_a_region_is_configuration(tmp_path):
    path = _write(tmp_path, DEFAULT_REGIONS_FILE.read_text(encoding="utf-8") + '''
[regions.HK]
name = "Hong Kong"
url = "http://127.0.0.1:8114"
priority = 4
schedule = "0 5 * * *"
languages = ["zh-TW", "en-US"]
currencies = ["TWD"]
conflict_strategy = "LatestWins"
''')
    regions = load_regions(path, environ={})
    assert [r.code for r in regions.enabled()] == ["TW", "US", "JP", "HK"]
    assert regions.get("HK").batch_size == 50


@pytest.mark.parametrize("key, value, message", [
    ("conflict_strategy", '"Newest"', "conflict_strategy 'Newest'"),
    ("batch_size", "80", "batch_size must be 1..50"),
    ("currencies", '["EUR"]', "unknown: EUR"),
    ("languages", "[]", "languages must be a non-empty list"),
    ("schedule", "3", "schedule must be str"),
])
def test_bad_region_tables_name_the_region_and_the_rule(tmp_path, key, value, message):
    table = {"url": '"http://x"', "schedule": '"0 1 * * *"', "languages": '["en-US"]', "currencies": '["USD"]',
             key: value}
    body = "[regions.XX]\n" + "\n".join(f"{k} = {v}" for k, v in table.items()) + '\n[fx.per_twd]\nTWD = "1"\n'
    with pytest.raises(ConfigurationError, match=r"regions\.XX") as error:
        load_regions(_write(tmp_path, body), environ={})
    assert message in str(error.value)


def test_a_missing_regions_file_says_which(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_regions(tmp_path / "nope.toml", environ={})


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_archived_product_reaches_the_region_whatever_the_strategy(strategy):
    archived = {**CENTRAL, "status": "Archived", "updatedAt": "2020-01-01T00:00:00Z"}
    newer_regional = {**REGIONAL, "status": "Published", "updatedAt": "2026-03-09T00:00:00Z"}
    assert resolve(archived, newer_regional, strategy, "ja-JP")["status"] == "Archived"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_malformed_regional_copy_counts_as_holding_nothing(strategy):
    broken = {"globalHubProductId": "p1", "name": None, "description": "x", "updatedAt": "yesterday"}
    sent = resolve(CENTRAL, broken, strategy, "ja-JP")
    assert sent["name"] == CENTRAL["name"] and sent["description"] == CENTRAL["description"]
    naive = {**REGIONAL, "updatedAt": "2026-03-03T00:00:00"}  # no zone: read as UTC
    assert resolve(CENTRAL, naive, "LatestWins", "ja-JP") is None


def test_conversion_uses_the_first_price_with_a_known_rate():
    euro_first = product(prices=[{"amount": Decimal("9"), "currency": "EUR", "priceType": "Base"},
                                 {"amount": Decimal("1000"), "currency": "TWD", "priceType": "Base"}])
    dto = to_regional_product(euro_first, region(currencies=("JPY",)), FX, "x").dto
    assert dto["prices"] == [{"amount": "4700", "currency": "JPY", "priceType": "Base"}]


def test_fx_rates_must_be_positive():
    with pytest.raises(ValueError, match="USD=0"):
        FxRates({"TWD": Decimal("1"), "USD": Decimal("0")})
