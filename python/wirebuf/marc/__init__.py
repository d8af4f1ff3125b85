"""wirebuf.marc: a pymarc-compatible MARC 21 API over the wirebuf C core.

``import wirebuf.marc as pymarc`` and pymarc 5 code runs unchanged: the same
classes, functions, submodules (leader, field, record, reader, writer,
exceptions, marcxml, marcjson, marc8, constants), arguments and exceptions.
Parsing, MARC-8 conversion and I/O are in C; readers decode in batches with
the GIL released, and optionally in parallel (``MARCReader(...,
threads=N)``), and fields become Python objects only when touched.
Beyond pymarc: ``count(path)``, ``MARCReader(threads=, batch_size=)``,
``reader.backend``.
"""

from .. import _marc
from . import constants, exceptions, field, leader, marc8, marcjson, marcxml, reader, record, writer
from .constants import *  # noqa: F401,F403
from .exceptions import *  # noqa: F401,F403
from .field import Field, Indicators, RawField, Subfield, map_marc8_field
from .leader import Leader
from .marc8 import MARC8ToUnicode, marc8_to_unicode
from .marcjson import JSONHandler, parse_json_to_array
from .marcxml import (MARC_XML_NS, MARC_XML_SCHEMA, XSI_NS, XmlHandler, map_xml, parse_xml,
                      parse_xml_to_array, record_to_xml, record_to_xml_node)
from .reader import JSONReader, MARCMakerReader, MARCReader, Reader, map_records
from .record import Record, isbn_regex, logger, map_marc8_record, normalize_subfield_code
from .writer import JSONWriter, MARCWriter, TextWriter, Writer, XMLWriter

_marc.setup(Record=Record, Field=Field, RawField=RawField, Subfield=Subfield, Indicators=Indicators,
            normalize_code=record._normalize_code,
            **{name: getattr(exceptions, name) for name in (
                "PymarcException", "RecordLengthInvalid", "RecordLeaderInvalid",
                "RecordDirectoryInvalid", "BaseAddressInvalid", "BaseAddressNotFound", "NoFieldsFound",
                "EndOfRecordNotFound", "TruncatedRecord", "FatalReaderError")})


def __getattr__(name):
    # pymarc.marc8_mapping: its tables are built on first use
    if name == "marc8_mapping":
        import importlib
        return importlib.import_module(".marc8_mapping", __name__)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def count(path):
    """Number of readable ISO 2709 records in the file at `path` (C, no GIL)."""
    return _marc.count(path)
