"""Known XSS vectors and what a storefront may receive: the corpus and the checks the tests share."""

from __future__ import annotations

import re

import lxml.html

from commerce_core.catalog.storefront_text import FORMATTING_TAGS

# Each vector is supplier text; `alert` marks code that must never survive as markup.
XSS_VECTORS = [
    "<p>Day 1: <script>alert(1)</script> visit&nbsp;spots</p>",
    "<ScRiPt>alert(2)</sCrIpT>",
    "<img src=x onerror=alert(3)>",
    "<svg onload=alert(4)><circle r=1 /></svg>",
    '<a href="javascript:alert(5)">click</a>',
    '<a href="JaVaScRiPt&#x3A;alert(6)">click</a>',
    '<a href="jav&#x09;ascript:alert(7)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg4KTwvc2NyaXB0Pg==">click</a>',
    "&lt;script&gt;alert(9)&lt;/script&gt;",
    "&amp;lt;script&amp;gt;alert(10)&amp;lt;/script&amp;gt;",
    "<iframe src=//evil.example>alert(11)</iframe>",
    "<object data=x.swf>alert(12)</object>",
    "<style>body{background:url(javascript:alert(13))}</style>",
    '<div style="background:url(javascript:alert(14))" onmouseover="alert(14)">hover</div>',
    "<p>unclosed <b>bold <script>alert(15)",
    "<<script>script>alert(16)<</script>/script>",
    "<scr<script>ipt>alert(17)</scr</script>ipt>",
    "台北夜市<script>alert(18)</script>美食之旅",
    "<p>東京<img src=x onerror='alert(19)'>タワー</p>",
    "<details open ontoggle=alert(20)>x</details>",
    "<body onload=alert(21)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(22)>",
    "<!--<img src=x onerror=alert(23)>-->",
    '<a href="https://ok.example/" onclick="alert(24)">safe link</a>',
    "<noscript><p title=\"</noscript><img src=x onerror=alert(25)>\">",
    "<template><script>alert(26)</script></template>",
    "<input autofocus onfocus=alert(27)>",
    "<IMG SRC=JaVaScRiPt:alert(28)>",
]

FORMATTED = ("<p>Day 1: <strong>Longshan Temple</strong></p><ul><li>Lunch</li><li>Tea</li></ul>"
             '<p>See <a href="https://example.com/map">the map</a></p>')

_TAG_START = re.compile(r"<[a-zA-Z!/?]")
_ALLOWED_SCHEMES = ("http://", "https://", "mailto:")


def assert_plain_text(text: str, where: str) -> None:
    """A plain-text field: nothing a browser would read as a tag, even inserted unescaped (what is left of
    a broken vector, such as `ipt>alert(17)`, is inert text)."""
    assert not _TAG_START.search(text), f"{where}: markup in plain text: {text!r}"


def assert_safe_html(text: str, where: str) -> None:
    """A formatted field: only allowed elements, only a link's href (http/https/mailto), title and rel."""
    if not text.strip():
        return
    for element in lxml.html.fragment_fromstring(text, create_parent="div").iter():
        if element.tag == "div" and element.getparent() is None:
            continue
        assert isinstance(element.tag, str) and element.tag in FORMATTING_TAGS, \
            f"{where}: element {element.tag!r} in {text!r}"
        for name, value in element.attrib.items():
            assert element.tag == "a" and name in ("href", "title", "rel"), f"{where}: attribute {name} in {text!r}"
            if name == "href":
                assert value.startswith(_ALLOWED_SCHEMES), f"{where}: link {value!r}"
