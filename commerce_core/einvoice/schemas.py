"""The official MIG XSDs (vendored unmodified under xsd/, see xsd/SOURCE.txt) as validators."""

from __future__ import annotations

from collections.abc import Sequence
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


ROOT_ELEMENTS = {"F0401": "Invoice", "E0501": "InvoiceAssignNo", "ProcessResult": "ProcessResult",
                 "SummaryResult": "SummaryResult"}
BATCH_NAMESPACE = "urn:commerce-hub:xsd-batch"
# Our own documents only (never untrusted input): no entities, no network.
_BATCH_PARSER = etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=True)


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


@lru_cache(maxsize=None)
def _batch_schema(message_type: str) -> etree.XMLSchema:
    """A wrapper whose only content is a sequence of the official root element, imported unmodified:
    each document in the batch is judged by exactly the declaration that judges it alone."""
    wrapper = (f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:m="{NAMESPACES[message_type]}" '
               f'targetNamespace="{BATCH_NAMESPACE}" elementFormDefault="qualified">'
               f'<xs:import namespace="{NAMESPACES[message_type]}" schemaLocation="{SCHEMA_FILES[message_type]}"/>'
               '<xs:element name="Batch"><xs:complexType><xs:sequence>'
               f'<xs:element ref="m:{ROOT_ELEMENTS[message_type]}" maxOccurs="unbounded"/>'
               '</xs:sequence></xs:complexType></xs:element></xs:schema>')
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), parser, base_url=f"{XSD_DIR}/"))


def all_valid(message_type: str, documents: Sequence[bytes]) -> bool:
    """Whether every document (each a whole XML document of `message_type`, declaration optional) is
    valid: one parse and one validation for the lot, which costs a third less than one each. False
    says only that some document is not; `validate` each to learn which and why."""
    bodies = [data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data for data in documents]
    try:
        root = etree.fromstring(b"".join((f'<Batch xmlns="{BATCH_NAMESPACE}">'.encode(), *bodies, b"</Batch>")),
                                _BATCH_PARSER)
    except etree.XMLSyntaxError:
        return False
    return _batch_schema(message_type).validate(root)


def validate(message_type: str, root: etree._Element) -> None:
    """Raise SchemaViolation with libxml2's messages when `root` is not valid."""
    checker = schema(message_type)
    if not checker.validate(root):
        raise SchemaViolation(message_type, [f"line {e.line}: {e.message}" for e in checker.error_log])


def message_type_of(root: etree._Element) -> str | None:
    namespace = etree.QName(root).namespace
    return next((name for name, uri in NAMESPACES.items() if uri == namespace), None)
