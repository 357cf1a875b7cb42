"""Storefront text: known XSS vectors leave nothing executable; ordinary formatting survives where allowed."""

from __future__ import annotations

import pytest

from commerce_core.catalog.storefront_text import clean_description, plain_text, safe_html, storefront_safe
from commerce_core.connectors.nextengine_mapping import map_goods
from commerce_core.connectors.shopline_mapping import map_product_node
from tests.catalog.storefront_safety import FORMATTED, XSS_VECTORS, assert_plain_text, assert_safe_html


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_every_vector_is_harmless_in_each_kind_of_field(vector: str) -> None:
    assert_safe_html(safe_html(vector), "formatted")
    assert_plain_text(plain_text(vector), "plain")
    assert_plain_text(clean_description(vector), "description as plain text")


def test_the_reported_description_loses_the_script_with_its_content() -> None:
    description = "<p>Day 1: <script>alert(1)</script> visit&nbsp;spots</p>"
    assert safe_html(description) == "<p>Day 1:  visit&nbsp;spots</p>"
    assert clean_description(description) == "Day 1: visit spots"
    for vector in XSS_VECTORS:  # code inside active elements goes with them
        if "<script>alert" in vector.lower() and "<scr<" not in vector and "<<" not in vector:
            assert "alert(" not in plain_text(vector) and "alert(" not in safe_html(vector), vector


def test_ordinary_formatting_survives_in_formatted_text_and_becomes_lines_in_plain_text() -> None:
    assert safe_html(FORMATTED) == (
        "<p>Day 1: <strong>Longshan Temple</strong></p><ul><li>Lunch</li><li>Tea</li></ul>"
        '<p>See <a href="https://example.com/map" rel="noopener noreferrer nofollow">the map</a></p>')
    assert clean_description(FORMATTED) == "Day 1: Longshan Temple\nLunch\nTea\nSee the map"


@pytest.mark.parametrize(("text", "plain"), [
    ("Tom &amp; Jerry", "Tom & Jerry"),
    ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
    ("  九份老街 一日遊  ", "九份老街 一日遊"),
    ("<b>Bold</b> name", "Bold name"),
])
def test_plain_text_keeps_what_is_text(text: str, plain: str) -> None:
    assert plain_text(text) == plain


def _unified(**fields) -> dict:
    return {"supplierId": "SERP", "externalId": "X1", "name": "Tour", "description": "", "language": "zh-TW",
            "translations": {}, "productType": "Tour", "category": "", "prices": [], "images": [],
            "availableSeats": None, "status": "Published", "isActive": True, "sourceCreatedAt": None,
            "sourceUpdatedAt": None, **fields}


def test_a_product_has_every_storefront_field_sanitized() -> None:
    product, problems = storefront_safe(_unified(
        name="<b>Night</b> market<script>alert(1)</script>", description=FORMATTED + XSS_VECTORS[2],
        category="<i>Food</i> &amp; drink",
        translations={"en-US": {"name": "Night <img src=x onerror=alert(2)>market",
                                "description": '<a href="javascript:alert(3)">x</a>'}}))
    assert problems == []
    assert product["name"] == "Night market"
    assert product["category"] == "Food & drink"
    assert product["description"] == safe_html(FORMATTED)
    assert product["translations"]["en-US"]["name"] == "Night market"
    assert_safe_html(product["translations"]["en-US"]["description"], "translation")


def test_a_name_that_is_only_markup_is_a_named_violation() -> None:
    _, problems = storefront_safe(_unified(name="<script>alert(1)</script>",
                                           translations={"ja-JP": {"name": "<img src=x>", "description": ""}}))
    assert [p.rule for p in problems] == ["name_markup_only", "translation_markup_only"]
    assert "ja-JP" in problems[1].message


def test_shopline_body_html_and_next_engine_names_go_through_the_same_rules() -> None:
    node = {"id": "gid://shopline/Product/7", "title": "Mug <script>alert(1)</script>", "status": "ACTIVE",
            "descriptionHtml": "<p>Ceramic</p><img src=x onerror=alert(2)>",
            "variants": {"edges": [{"node": {"price": "100", "inventoryQuantity": 3}}]}}
    product, problems = storefront_safe(map_product_node(node))
    assert problems == [] and product["name"] == "Mug" and product["description"] == "<p>Ceramic</p>"
    goods = {"goods_id": "NE-1", "goods_name": "Tea <svg onload=alert(3)>set</svg>", "goods_selling_price": "500",
             "stock_quantity": "4", "goods_deleted_flag": "0"}
    product, problems = storefront_safe(map_goods(goods))
    assert_plain_text(product["name"], "next engine name")
