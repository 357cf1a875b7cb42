"""The official MIG XSDs (vendored unmodified under xsd/, see xsd/SOURCE.txt) as validators."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

XSD_DIR = Path(__file__).parent / "xsd"
SCHEMA_FILES = {
    "F0401": "v41/F0401.xsd",
    "E0501": "common/v40/E0501.xsd",
    "ProcessResult": "common/v40/ProcessResult.xsd",
    "SummaryResult": "common/v40/SummaryResult.xsd",
}
NAMESPACES = {
    "F0401": "urn:GEINV:eInvoiceMessage:F0401:4.1",
    "E0501": "urn:GEINV:E0501:4.0",
    "ProcessResult": "urn:GEINV:ProcessResult:4.0",
    "SummaryResult": "urn:GEINV:SummaryResult:4.0",
}


class SchemaViolation(ValueError):
    """A document does not validate against its official XSD."""

    def __init__(self, message_type: str, errors: list[str]):
        self.message_type = message_type
        self.errors = errors
        super().__init__(f"{message_type} XSD: " + "; ".join(errors[:3]))


@lru_cache(maxsize=None)
def schema(message_type: str) -> etree.XMLSchema:
    # Includes resolve relative to the file, offline (no_network) and without entities.
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(XSD_DIR / SCHEMA_FILES[message_type]), parser))


def validate(message_type: str, root: etree._Element) -> None:
    """Raise SchemaViolation with libxml2's messages when `root` is not valid."""
    checker = schema(message_type)
    if not checker.validate(root):
        raise SchemaViolation(message_type, [f"line {e.line}: {e.message}" for e in checker.error_log])


def message_type_of(root: etree._Element) -> str | None:
    namespace = etree.QName(root).namespace
    return next((name for name, uri in NAMESPACES.items() if uri == namespace), None)
