"""MARCXML (pymarc.marcxml): read with a SAX handler (expat) as pymarc
does, written with ElementTree as pymarc writes it, so documents are
byte-identical to pymarc's."""

import unicodedata
import xml.etree.ElementTree as ET
from xml.sax import make_parser
from xml.sax.handler import ContentHandler, feature_namespaces

from .field import Field, Indicators
from .leader import Leader
from .record import Record

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MARC_XML_NS = "http://www.loc.gov/MARC21/slim"
MARC_XML_SCHEMA = "http://www.loc.gov/MARC21/slim http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"


class XmlHandler(ContentHandler):
    """A SAX ContentHandler that builds Records from MARCXML (as pymarc's).

    ``parse_xml`` drives it; subclass it and override ``process_record`` to
    stream records elsewhere. ``strict=True`` ignores elements outside the
    MARC 21 slim namespace; ``normalize_form`` ('NFC', 'NFD', ...) is
    applied to all text. A leader that is not 24 characters raises
    RecordLeaderInvalid."""

    def __init__(self, strict=False, normalize_form=None):
        super().__init__()
        self.records = []
        self._record = None
        self._field = None
        self._subfield_code = None
        self._text = []
        self._strict = strict
        self.normalize_form = normalize_form

    def startElementNS(self, name, qname, attrs):
        if self._strict and name[0] != MARC_XML_NS:
            return
        element = name[1]
        self._text = []
        if element == "record":
            self._record = Record()
        elif element == "controlfield":
            self._field = Field(attrs.getValue((None, "tag")))
        elif element == "datafield":
            self._field = Field(attrs.getValue((None, "tag")),
                                Indicators(attrs.get((None, "ind1"), " "), attrs.get((None, "ind2"), " ")))
        elif element == "subfield":
            self._subfield_code = attrs[(None, "code")]

    def endElementNS(self, name, qname):
        if self._strict and name[0] != MARC_XML_NS:
            return
        element = name[1]
        text = "".join(self._text)
        if self.normalize_form is not None:
            text = unicodedata.normalize(self.normalize_form, text)
        if element == "record":
            self.process_record(self._record)
            self._record = None
        elif element == "leader":
            self._record.leader = Leader(text)
        elif element == "controlfield":
            self._field.data = text
            self._record.add_field(self._field)
            self._field = None
        elif element == "datafield":
            self._record.add_field(self._field)
            self._field = None
        elif element == "subfield":
            self._field.add_subfield(self._subfield_code, text)
            self._subfield_code = None
        self._text = []

    def characters(self, chars):
        self._text.append(chars)

    def process_record(self, record):
        self.records.append(record)


def parse_xml(xml_file, handler):
    """Run a SAX parse of `xml_file` (path, URL or file object) with
    namespaces on, feeding `handler` (a ContentHandler, e.g. XmlHandler)."""
    parser = make_parser()
    parser.setContentHandler(handler)
    parser.setFeature(feature_namespaces, 1)
    parser.parse(xml_file)


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
