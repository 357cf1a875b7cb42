"""Parse XML that came from outside: no DTD, no entity expansion, no network, bounded size.

Anything with a DOCTYPE is refused outright: the messages we accept (E0501,
ProcessResult, SummaryResult) never carry one, and refusing it closes the door on
billion-laughs and external-entity tricks before libxml2 sees them.
"""

from __future__ import annotations

from lxml import etree

DEFAULT_MAX_BYTES = 1_000_000


class UnsafeXmlError(ValueError):
    """The document is too large, not well-formed, or declares a DTD or entities."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def parse_untrusted(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, name: str = "document") -> etree._Element:
    if len(data) > max_bytes:
        raise UnsafeXmlError(f"{name}: {len(data)} bytes is over the limit of {max_bytes}")
    head = data[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in data.upper():
        raise UnsafeXmlError(f"{name}: DOCTYPE/ENTITY declarations are not allowed")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as error:
        raise UnsafeXmlError(f"{name}: not well-formed XML ({error})") from None
    if root.getroottree().docinfo.doctype:
        raise UnsafeXmlError(f"{name}: DOCTYPE declarations are not allowed")
    return root
