"""Product enrichment (GlobalHub design: ProductEnrichmentService, docs/background.md): clean text, tags,
catalog translations.

The offline enricher never invents text: a language it has no source for is
recorded as missing. The LLM enricher fills those gaps through an
OpenAI-compatible chat endpoint. Results are cached by the hash of the
enrichable text, so unchanged content is never enriched twice.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import TypedDict

import orjson

from commerce_core.catalog.models import CATALOG_LANGUAGES, CatalogTranslation, stable_hash
from commerce_core.catalog.storefront_text import clean_description, plain_text
from commerce_core.http.resilience import HttpCallError, ResilientHttpClient

# Keyword -> tag, matched on lower-cased names and categories in every catalog language.
TAG_KEYWORDS = {
    "temple": "culture", "shrine": "culture", "museum": "culture", "寺": "culture", "神社": "culture",
    "food": "food", "market": "food", "美食": "food", "夜市": "food", "グルメ": "food",
    "onsen": "hot-spring", "hot spring": "hot-spring", "溫泉": "hot-spring", "温泉": "hot-spring",
    "hiking": "outdoor", "mountain": "outdoor", "island": "outdoor", "登山": "outdoor", "島": "outdoor",
    "cruise": "water", "boat": "water", "diving": "water",
    "family": "family", "kids": "family", "親子": "family",
    "night": "night", "夜": "night",
    "rail": "rail", "train": "rail", "鐵道": "rail", "鉄道": "rail",
}


class EnrichableText(TypedDict):
    name: str
    description: str
    language: str
    translations: dict[str, dict]
    productType: str
    category: str


class Enrichment(TypedDict):
    enrichedDescription: str
    tags: list[str]
    catalogTranslations: dict[str, CatalogTranslation]
    missingLanguages: list[str]


class EnrichmentError(RuntimeError):
    """One product could not be enriched; the pipeline keeps its original content."""


def enrichable_text(product: dict) -> EnrichableText:
    return {
        "name": product["name"],
        "description": product["description"],
        "language": product["language"],
        "translations": product["translations"],
        "productType": product["productType"],
        "category": product["category"],
    }


def text_hash(text: EnrichableText) -> str:
    return stable_hash(text)


# Latin keywords match whole words ("rail" is not in "trail"); CJK has no spaces, so substrings.
_LATIN_KEYWORDS = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in TAG_KEYWORDS if k.isascii()) + r")\b"
)
_CJK_KEYWORDS = [k for k in TAG_KEYWORDS if not k.isascii()]


_WHITESPACE_RUN = re.compile(r"\s+")


def generate_tags(text: EnrichableText, translations: dict[str, CatalogTranslation]) -> list[str]:
    tags = {text["productType"].lower()}
    if text["category"]:
        tags.add("category:" + _WHITESPACE_RUN.sub("-", text["category"].strip().lower()))
    haystack = " ".join([text["name"], text["category"], *(t["name"] for t in translations.values())]).lower()
    tags.update(TAG_KEYWORDS[match] for match in _LATIN_KEYWORDS.findall(haystack))
    if not haystack.isascii():  # every CJK keyword is non-ASCII
        tags.update(TAG_KEYWORDS[keyword] for keyword in _CJK_KEYWORDS if keyword in haystack)
    return sorted(tags)


def offline_translations(text: EnrichableText) -> dict[str, CatalogTranslation]:
    """The catalog languages this product already has text for, from the supplier."""
    found: dict[str, CatalogTranslation] = {}
    if text["language"] in CATALOG_LANGUAGES:
        found[text["language"]] = {
            "name": text["name"],
            "description": clean_description(text["description"]),
            "source": "original",
        }
    for language, given in text["translations"].items():
        if language in CATALOG_LANGUAGES and language not in found:
            found[language] = {
                "name": plain_text(given["name"]),
                "description": clean_description(given.get("description", "")),
                "source": "supplier",
            }
    return found


class Enricher(ABC):
    """Turns a product's text into its enrichment; `name` versions the cache."""

    name: str
    # Worth a cache lookup: calling it costs more than reading a row.
    costly: bool = False

    @abstractmethod
    def enrich(self, text: EnrichableText) -> Enrichment: ...

    def close(self) -> None:
        """Release connections; the offline enricher has none."""


class OfflineEnricher(Enricher):
    name = "offline-v1"

    def enrich(self, text: EnrichableText) -> Enrichment:
        translations = offline_translations(text)
        return _enrichment(text, translations)


def _enrichment(text: EnrichableText, translations: dict[str, CatalogTranslation]) -> Enrichment:
    original = translations.get(text["language"])
    return {
        "enrichedDescription": original["description"] if original else clean_description(text["description"]),
        "tags": generate_tags(text, translations),
        "catalogTranslations": {language: translations[language] for language in sorted(translations)},
        "missingLanguages": [language for language in CATALOG_LANGUAGES if language not in translations],
    }


class LlmEnricher(Enricher):
    """Offline rules first, then an OpenAI-compatible chat model translates what is still missing."""

    def __init__(self, http: ResilientHttpClient, model: str):
        self.http = http
        self.model = model
        self.name = f"llm:{model}-v1"[:64]
        self.costly = True

    def enrich(self, text: EnrichableText) -> Enrichment:
        translations = offline_translations(text)
        source = translations.get(text["language"]) or {
            "name": text["name"],
            "description": clean_description(text["description"]),
        }
        for language in CATALOG_LANGUAGES:
            if language not in translations:
                translated = self._translate(source["name"], source["description"], text["language"], language)
                translations[language] = {**translated, "source": "llm"}
        return _enrichment(text, translations)

    def _translate(self, name: str, description: str, source: str, target: str) -> dict:
        request = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {
                    "role": "system",
                    "content": "You translate travel product listings. Answer only with JSON "
                    '{"name": "...", "description": "..."} in the target language.',
                },
                {
                    "role": "user",
                    "content": orjson.dumps(
                        {"from": source, "to": target, "name": name, "description": description}
                    ).decode(),
                },
            ],
        }
        try:
            answer = self.http.post_json("/chat/completions", request)
            content = orjson.loads(answer["choices"][0]["message"]["content"])
            # A model can echo markup it was given or invent some: its answer is plain text like any other.
            translated = {"name": plain_text(str(content["name"])),
                          "description": clean_description(str(content["description"]))}
        except (HttpCallError, KeyError, IndexError, TypeError, orjson.JSONDecodeError) as error:
            raise EnrichmentError(f"LLM translation to {target} failed: {error}") from error
        if not translated["name"]:
            raise EnrichmentError(f"LLM translation to {target} returned an empty name")
        return translated

    def close(self) -> None:
        self.http.close()
