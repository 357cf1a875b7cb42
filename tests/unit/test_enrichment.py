"""clean_description, OfflineEnricher and LlmEnricher (against a real local fake chat server)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from commerce_core.catalog.enrichment import (
    EnrichmentError,
    LlmEnricher,
    OfflineEnricher,
    enrichable_text,
    generate_tags,
)
from commerce_core.catalog.storefront_text import clean_description
from commerce_core.http.resilience import ResilientHttpClient, RetrySettings
from simulators.asgi_server import ServedApp

# --- clean_description --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<p>Hello <b>world</b></p>", "Hello world"),
        ("a<br>b<br/>c<BR />d", "a\nb\nc\nd"),
        ("<p>one</p><p>two</p>", "one\ntwo"),
        ("<div>x</div><ul><li>y</li><li>z</li></ul><h2>t</h2>", "x\ny\nz\nt"),
        ("Fish &amp; Chips", "Fish & Chips"),
        ("a&nbsp;&nbsp;b", "a b"),
        # Markup spelled with entities is markup once decoded: plain text never carries a tag.
        ("&lt;b&gt; is not kept, 1 &lt; 2 is", "is not kept, 1 < 2 is"),
        ("a    b\t\tc", "a b c"),
        ("東京\u3000\u3000タワー", "東京 タワー"),
        ("a \u00a0\t b\u3000 \u00a0c", "a b c"),
        ("x\ty  z\u00a0w", "x y z w"),
        ("  padded  \n  lines  ", "padded\nlines"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("a\n  \n \t \nb", "a\n\nb"),
        ("<p>a</p>\n\n<p>b</p>", "a\n\nb"),
        ("", ""),
        (None, ""),
        ("<br><br>", ""),
    ],
)
def test_clean_description(raw: str | None, clean: str) -> None:
    assert clean_description(raw) == clean


def test_clean_description_crlf_is_one_line_break() -> None:
    assert clean_description("line one\r\nline two") == "line one\nline two"


# --- OfflineEnricher -------------------------------------------------------------


def text(**overrides) -> dict:
    product = {
        "name": "Taipei Temple and 溫泉 Day Trip",
        "description": "<p>Visit&nbsp;the <b>temple</b></p><p>Then relax</p>",
        "language": "zh-TW",
        "translations": {"en-US": {"name": "  Temple Tour  ", "description": "Old &amp; calm<br>Nice"}},
        "productType": "Tour",
        "category": "Day Tours",
        "prices": [], "images": [],
    }
    product.update(overrides)
    return enrichable_text(product)


def test_enrichable_text_keeps_only_text_fields() -> None:
    assert set(text()) == {"name", "description", "language", "translations", "productType", "category"}


def test_offline_uses_original_and_supplier_translations() -> None:
    result = OfflineEnricher().enrich(text())
    assert result["catalogTranslations"] == {
        "en-US": {"name": "Temple Tour", "description": "Old & calm\nNice", "source": "supplier"},
        "zh-TW": {"name": "Taipei Temple and 溫泉 Day Trip", "description": "Visit the temple\nThen relax",
                  "source": "original"},
    }
    assert result["missingLanguages"] == ["ja-JP"]
    assert result["enrichedDescription"] == "Visit the temple\nThen relax"


def test_offline_never_invents_a_language() -> None:
    result = OfflineEnricher().enrich(text(translations={}))
    assert list(result["catalogTranslations"]) == ["zh-TW"]
    assert result["missingLanguages"] == ["en-US", "ja-JP"]


def test_original_language_wins_over_supplier_translation_of_same_language() -> None:
    result = OfflineEnricher().enrich(text(translations={"zh-TW": {"name": "other", "description": ""}}))
    assert result["catalogTranslations"]["zh-TW"]["source"] == "original"
    assert result["catalogTranslations"]["zh-TW"]["name"] == "Taipei Temple and 溫泉 Day Trip"


def test_non_catalog_original_language_is_not_a_catalog_translation() -> None:
    t = text(language="ko-KR", name="사원 투어", description="<p>설명</p>",
             translations={"ja-JP": {"name": "寺ツアー", "description": "説明"}, "fr-FR": {"name": "Visite"}})
    result = OfflineEnricher().enrich(t)
    assert list(result["catalogTranslations"]) == ["ja-JP"]
    assert result["catalogTranslations"]["ja-JP"]["source"] == "supplier"
    assert result["missingLanguages"] == ["en-US", "zh-TW"]
    assert result["enrichedDescription"] == "설명"


def test_tags_include_type_category_and_keywords() -> None:
    tags = OfflineEnricher().enrich(text())["tags"]
    assert tags == sorted(tags)
    assert {"tour", "category:day-tours", "culture", "hot-spring"} <= set(tags)
    assert "food" not in tags and "water" not in tags


def test_tags_come_from_translation_names_too() -> None:
    t = text(name="小旅行", category="", translations={"en-US": {"name": "Night Market Food Walk"}})
    tags = OfflineEnricher().enrich(t)["tags"]
    assert tags == ["food", "night", "tour"]


def test_tags_without_category_have_no_category_tag() -> None:
    tags = generate_tags(text(name="Plain", category="", productType="Voucher", translations={}), {})
    assert tags == ["voucher"]


def test_hiking_trail_is_not_tagged_rail() -> None:
    tags = generate_tags(text(name="Mountain Trail Hiking", category="", translations={}), {})
    assert "outdoor" in tags
    assert "rail" not in tags


# --- LlmEnricher against a local fake OpenAI-compatible server -----------------------


class FakeChat:
    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict] = []

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"body": body, "authorization": request.headers.get("authorization")})
        if self.mode == "500":
            return JSONResponse({"error": "boom"}, status_code=500)
        asked = json.loads(body["messages"][1]["content"])
        if self.mode == "nonjson":
            content = "Sure! Here is your translation: hello"
        elif self.mode == "empty-name":
            content = json.dumps({"name": "  ", "description": "x"})
        elif self.mode == "markup":  # a model echoing markup, or adding its own
            content = json.dumps({"name": f"<b>{asked['name']}</b><script>alert(1)</script>",
                                  "description": '<p>Day 1</p><img src=x onerror="alert(2)"><p>Day 2</p>'})
        else:
            content = json.dumps({"name": f"[{asked['to']}] {asked['name']}",
                                  "description": f"[{asked['to']}] {asked['description']}"})
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": content}}]})


@pytest.fixture(scope="module")
def chat_server() -> Iterator[tuple[FakeChat, str]]:
    fake = FakeChat()
    app = Starlette(routes=[Route("/chat/completions", fake.completions, methods=["POST"])])
    with ServedApp(app) as served:
        yield fake, served.url


@pytest.fixture
def chat(chat_server) -> Iterator[tuple[FakeChat, LlmEnricher]]:
    fake, url = chat_server
    fake.mode, fake.requests = "ok", []
    http = ResilientHttpClient(url, headers={"Authorization": "Bearer k"}, timeout_seconds=5,
                               retry=RetrySettings(max_attempts=2, backoff_seconds=0.01))
    enricher = LlmEnricher(http, model="test-model")
    yield fake, enricher
    enricher.close()


def test_llm_fills_only_missing_languages(chat) -> None:
    fake, enricher = chat
    assert enricher.costly is True and enricher.name == "llm:test-model-v1"
    result = enricher.enrich(text())
    assert result["missingLanguages"] == []
    assert result["catalogTranslations"]["ja-JP"] == {
        "name": "[ja-JP] Taipei Temple and 溫泉 Day Trip",
        "description": "[ja-JP] Visit the temple\nThen relax",
        "source": "llm",
    }
    assert result["catalogTranslations"]["zh-TW"]["source"] == "original"
    assert result["catalogTranslations"]["en-US"]["source"] == "supplier"
    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request["authorization"] == "Bearer k"
    assert request["body"]["model"] == "test-model"
    asked = json.loads(request["body"]["messages"][1]["content"])
    assert asked == {"from": "zh-TW", "to": "ja-JP", "name": "Taipei Temple and 溫泉 Day Trip",
                     "description": "Visit the temple\nThen relax"}


def test_llm_translates_every_catalog_language_from_non_catalog_original(chat) -> None:
    fake, enricher = chat
    result = enricher.enrich(text(language="ko-KR", name="사원 투어", description="설명", translations={}))
    assert result["missingLanguages"] == []
    assert sorted(result["catalogTranslations"]) == ["en-US", "ja-JP", "zh-TW"]
    assert all(t["source"] == "llm" for t in result["catalogTranslations"].values())
    assert result["catalogTranslations"]["en-US"]["name"] == "[en-US] 사원 투어"
    asked = [json.loads(r["body"]["messages"][1]["content"]) for r in fake.requests]
    assert sorted(a["to"] for a in asked) == ["en-US", "ja-JP", "zh-TW"]
    assert {a["from"] for a in asked} == {"ko-KR"}


def test_llm_sends_nothing_when_nothing_is_missing(chat) -> None:
    fake, enricher = chat
    t = text(translations={"en-US": {"name": "A", "description": ""}, "ja-JP": {"name": "B", "description": ""}})
    result = enricher.enrich(t)
    assert result["missingLanguages"] == []
    assert fake.requests == []


def test_llm_server_error_raises_enrichment_error(chat) -> None:
    fake, enricher = chat
    fake.mode = "500"
    with pytest.raises(EnrichmentError, match="ja-JP"):
        enricher.enrich(text())
    assert len(fake.requests) == 2, "retried up to max_attempts"


def test_llm_non_json_content_raises_enrichment_error(chat) -> None:
    fake, enricher = chat
    fake.mode = "nonjson"
    with pytest.raises(EnrichmentError):
        enricher.enrich(text())


def test_llm_empty_name_raises_enrichment_error(chat) -> None:
    fake, enricher = chat
    fake.mode = "empty-name"
    with pytest.raises(EnrichmentError, match="empty name"):
        enricher.enrich(text())


def test_llm_markup_is_removed_like_a_supplier_s(chat) -> None:
    fake, enricher = chat
    fake.mode = "markup"
    translated = enricher.enrich(text())["catalogTranslations"]["ja-JP"]
    assert translated == {"name": "Taipei Temple and 溫泉 Day Trip", "description": "Day 1\nDay 2", "source": "llm"}
