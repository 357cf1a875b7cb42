"""Platform converters: ids and pagination cursors."""

import pytest

from commerce_core.connectors.converters import from_gid, next_page_info, to_gid


def test_ids_round_trip_between_plain_and_gid():
    assert to_gid("Product", "32398389389389") == "gid://shopline/Product/32398389389389"
    assert from_gid("gid://shopline/Product/32398389389389", "Product") == "32398389389389"
    assert from_gid("32398389389389") == "32398389389389"
    assert from_gid(to_gid("ProductVariant", 7), "ProductVariant") == "7"


@pytest.mark.parametrize("bad", ["gid://shopline/Product/abc", "gid://other/Product/1", "", "12a"])
def test_bad_ids_are_refused(bad):
    with pytest.raises(ValueError):
        from_gid(bad)


def test_a_gid_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="Product"):
        from_gid("gid://shopline/Order/5", "Product")
    with pytest.raises(ValueError):
        to_gid("Product", "-1")


def test_next_page_info_reads_the_link_header():
    header = ('<https://s.myshopline.com/admin/openapi/v1/products/products.json?limit=2&page_info=abc>; rel="previous", '
              '<https://s.myshopline.com/admin/openapi/v1/products/products.json?limit=2&page_info=xyz%3D>; rel="next"')
    assert next_page_info(header) == "xyz="
    assert next_page_info('<https://x/p.json?page_info=abc>; rel="previous"') is None
    assert next_page_info(None) is None and next_page_info("") is None


def test_one_filter_in_each_platforms_syntax():
    from datetime import datetime, timezone

    from commerce_core.connectors.converters import (
        UnifiedFilter,
        nextengine_fields,
        shopline_graphql_query,
        shopline_rest_params,
    )

    since = datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc)
    spec = UnifiedFilter(updated_since=since, ids=("gid://shopline/Product/12", "34"), status="Published")
    assert shopline_rest_params(spec) == {"updated_at_min": "2026-03-01T00:00:00Z", "ids": "12,34", "status": "active"}
    assert shopline_graphql_query(spec) == "updated_at:>='2026-03-01T00:00:00+00:00' AND (id:12 OR id:34) AND status:active"
    assert nextengine_fields(UnifiedFilter(updated_since=since, ids=("NE-1", "NE-2"))) == {
        "goods_last_modified_date-gte": "2026-03-01 09:00:00", "goods_id-in": "NE-1,NE-2"}
    assert shopline_graphql_query(UnifiedFilter()) is None and shopline_rest_params(UnifiedFilter()) == {}
    with pytest.raises(ValueError, match="status"):
        nextengine_fields(UnifiedFilter(status="Draft"))
