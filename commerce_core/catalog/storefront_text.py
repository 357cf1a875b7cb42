"""Supplier text made safe for the storefronts, with a kept allow-list sanitizer (nh3, Rust's ammonia).

Every text a storefront may render comes from outside: suppliers, shops, a
language model. Two kinds of field, one rule each:

- plain text (names, categories; what the regions receive, descriptions with their paragraphs as
  blank lines, `clean_description`): no markup at all. Tags are removed, and
  elements that are active content (script, style, iframe, object, ...) are
  removed with their content; entities are decoded to characters, and when
  decoding reveals markup (`&lt;script&gt;`) it is cleaned again, so the
  result holds nothing a browser would read as a tag even if a site inserted
  it unescaped.
- formatted text (descriptions): an allow-list of formatting elements
  (paragraphs, lists, emphasis, headings, links to http/https/mailto with
  rel="noopener noreferrer nofollow"); every attribute but a link's href and
  title is dropped, event handlers and javascript:/data: URLs with them.

The supplier's raw payload stays only in staging (supplier_records), for audit.
"""

from __future__ import annotations

import html
import re

import nh3

from commerce_core.catalog.models import UnifiedProduct
from commerce_core.catalog.serp_mapping import Violation

FORMATTING_TAGS = frozenset({"p", "br", "ul", "ol", "li", "strong", "em", "b", "i", "u", "h2", "h3", "h4",
                             "blockquote", "a"})
# Removed together with what is inside them: their content is code, or never meant as text.
ACTIVE_CONTENT_TAGS = frozenset({"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet",
                                 "noscript", "noembed", "noframes", "template", "svg", "math", "textarea",
                                 "select", "title", "xmp"})
_ROUNDS = 4  # decode-and-clean rounds before giving up on text that keeps revealing markup

_FORMATTED = nh3.Cleaner(
    tags=set(FORMATTING_TAGS), clean_content_tags=set(ACTIVE_CONTENT_TAGS), attributes={"a": {"href", "title"}},
    url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow", strip_comments=True,
)
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=set(ACTIVE_CONTENT_TAGS), attributes={},
                         strip_comments=True)

_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6])\s*/?\s*>", re.IGNORECASE)
# Runs of spaces, tabs, no-break and ideographic spaces become one space: the others are
# turned into spaces (str.translate), then runs of spaces collapse (a plain " " is found fast).
_TO_SPACE = str.maketrans({"\t": " ", "\u00a0": " ", "\u3000": " "})
_SPACE_RUN = re.compile(r"  +")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def safe_html(text: str) -> str:
    """Formatted text with only the allowed elements and attributes."""
    if "<" not in text and "&" not in text and ">" not in text:  # nothing to parse: most supplier text
        return text
    return _FORMATTED.clean(text)


def plain_text(text: str) -> str:
    """Text with no markup, entities decoded; stripped of surrounding whitespace."""
    for _ in range(_ROUNDS):
        if "<" not in text and "&" not in text:
            return text.strip()
        cleaned = html.unescape(_TEXT_ONLY.clean(text))
        if cleaned == text or "<" not in cleaned:
            return cleaned.strip()
        text = cleaned
    # Markup hidden under more layers of entities than any real text has: keep no angle bracket at all.
    return text.replace("<", "").replace(">", "").strip()


def clean_description(raw: str) -> str:
    """HTML to plain text: active content removed with what is inside it, tags out, entities decoded,
    whitespace fixed, paragraphs kept."""
    text = plain_text(_BREAKS.sub("\n", raw or ""))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text or "\u00a0" in text or "\u3000" in text:
        text = text.translate(_TO_SPACE)
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", "\n".join([line.strip() for line in text.split("\n")])).strip()


def storefront_safe(product: UnifiedProduct) -> tuple[UnifiedProduct, list[Violation]]:
    """The product with every storefront text field sanitized; a violation when a required text is
    nothing but markup (it would reach the storefront empty)."""
    name = plain_text(product["name"])
    problems = [] if name else [Violation("name_markup_only", "name is empty once its markup is removed")]
    translations = {}
    for language, text in product["translations"].items():
        translated_name = plain_text(text["name"])
        if not translated_name:
            problems.append(Violation("translation_markup_only",
                                      f"translations[{language!r}].name is empty once its markup is removed"))
        translations[language] = {"name": translated_name, "description": safe_html(text["description"])}
    return {
        **product,
        "name": name,
        "description": safe_html(product["description"]),
        "category": plain_text(product["category"]),
        "translations": translations,
    }, problems
