"""MARCXML (pymarc.marcxml): read with the C core (expat, streaming);
write with the C writer."""

import unicodedata
import xml.etree.ElementTree as ET

from .. import _marc
from .field import Subfield
from .record import Record

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MARC_XML_NS = "http://www.loc.gov/MARC21/slim"
MARC_XML_SCHEMA = "http://www.loc.gov/MARC21/slim http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"


class XmlHandler:
    """Receives each record of a parse_xml() run; the default keeps them in
    ``self.records`` (or passes them to ``process_record`` overrides)."""

    def __init__(self, strict=False, normalize_form=None):
        self.records = []
        self.strict = strict
        self.normalize_form = normalize_form

    def process_record(self, record):
        self.records.append(record)


def _normalize(record, form):
    for f in record.fields:
        if f.control_field:
            f.data = unicodedata.normalize(form, f.data or "")
        else:
            f.subfields = [Subfield(c, unicodedata.normalize(form, v)) for c, v in f.subfields]
    return record


def _source(xml_file):
    return xml_file.read() if hasattr(xml_file, "read") and isinstance(xml_file.read(0), str) else xml_file


def parse_xml(xml_file, handler):
    """Feed every record of a MARCXML document (path, bytes or binary file
    object) to handler.process_record()."""
    src = _source(xml_file)
    if isinstance(src, str) and src.lstrip().startswith("<"):
        src = src.encode("utf-8")
    reader = _marc.Reader(src, "marcxml", 1, 100, 300000, True, False, "strict", "iso8859-1", True)
    form = getattr(handler, "normalize_form", None)
    for record in reader:
        if record is None:
            raise ValueError("bad MARCXML: %s" % reader.current_exception)
        if form:
            _normalize(record, form)
        handler.process_record(record)


def parse_xml_to_array(xml_file, strict=False, normalize_form=None):
    """All records of a MARCXML document as a list."""
    handler = XmlHandler(strict, normalize_form)
    parse_xml(xml_file, handler)
    return handler.records


def map_xml(function, *files):
    """Call function(record) for every record of each MARCXML file."""
    handler = XmlHandler()
    handler.process_record = function
    for xml_file in files:
        parse_xml(xml_file, handler)


def record_to_xml(record, quiet=False, namespace=False):
    """One record as MARCXML bytes, byte-identical to pymarc's: one
    <record> element, no declaration, ASCII with character references,
    attributes ind1, ind2, tag, the leader as str(record.leader)."""
    return ET.tostring(record_to_xml_node(record, quiet, namespace))


def record_to_xml_node(record, quiet=False, namespace=False):
    """One record as an ElementTree element (as pymarc builds it); bytes
    values (RawField) are read as MARC-8."""
    from .marc8 import MARC8ToUnicode
    marc8 = MARC8ToUnicode(quiet=quiet)

    def text(value):
        return value if type(value) is str else marc8.translate(value)

    root = ET.Element("record")
    if namespace:
        root.set("xmlns", MARC_XML_NS)
        root.set("xmlns:xsi", XSI_NS)
        root.set("xsi:schemaLocation", MARC_XML_SCHEMA)
    ET.SubElement(root, "leader").text = str(record.leader)
    for field in record.fields:
        if field.control_field:
            el = ET.SubElement(root, "controlfield")
            el.set("tag", field.tag)
            el.text = text(field.data)
        else:
            el = ET.SubElement(root, "datafield")
            el.set("ind1", field.indicators.first)
            el.set("ind2", field.indicators.second)
            el.set("tag", field.tag)
            for code, value in field.subfields:
                sub = ET.SubElement(el, "subfield")
                sub.set("code", code)
                sub.text = text(value)
    return root


__all__ = ["XmlHandler", "parse_xml", "parse_xml_to_array", "map_xml", "record_to_xml",
           "record_to_xml_node", "MARC_XML_NS", "MARC_XML_SCHEMA", "XSI_NS"]
