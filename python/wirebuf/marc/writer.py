"""Writers (pymarc.writer): MARCWriter (ISO 2709), XMLWriter (MARCXML),
JSONWriter (MARC-in-JSON), TextWriter (mnemonic text, as str(record))."""

import json
import xml.etree.ElementTree as ET

from .exceptions import WriteNeedsRecord
from .record import Record


class Writer:
    def __init__(self, file_handle):
        self.file_handle = file_handle

    def write(self, record):
        if not isinstance(record, Record):
            raise WriteNeedsRecord()

    def close(self, close_fh=True):
        if close_fh and self.file_handle is not None:
            self.file_handle.close()
        self.file_handle = None


class MARCWriter(Writer):
    """Write ISO 2709 records to a binary file object."""

    def write(self, record):
        Writer.write(self, record)
        self.file_handle.write(record.as_marc())


class TextWriter(Writer):
    """Write records as text (str(record)), separated by a blank line."""

    def __init__(self, file_handle):
        super().__init__(file_handle)
        self.write_count = 0

    def write(self, record):
        Writer.write(self, record)
        if self.write_count > 0:
            self.file_handle.write("\n")
        self.file_handle.write(str(record))
        self.write_count += 1


class XMLWriter(Writer):
    """Write a MARCXML collection to a binary file object; close() ends it."""

    def __init__(self, file_handle):
        super().__init__(file_handle)
        self.file_handle.write(b'<?xml version="1.0" encoding="UTF-8"?>')
        self.file_handle.write(b'<collection xmlns="http://www.loc.gov/MARC21/slim">')

    def write(self, record):
        """Each record as pymarc writes it (ElementTree, UTF-8, with its own
        XML declaration: byte-identical to pymarc's documents)."""
        from .marcxml import record_to_xml_node
        Writer.write(self, record)
        self.file_handle.write(ET.tostring(record_to_xml_node(record), encoding="utf-8"))

    def close(self, close_fh=True):
        self.file_handle.write(b"</collection>")
        super().close(close_fh)


class JSONWriter(Writer):
    """Write a JSON array of MARC-in-JSON records to a text file object."""

    def __init__(self, file_handle):
        super().__init__(file_handle)
        self.write_count = 0
        self.file_handle.write("[")

    def write(self, record):
        Writer.write(self, record)
        if self.write_count > 0:
            self.file_handle.write(",")
        json.dump(record.as_dict(), self.file_handle, separators=(",", ":"))
        self.write_count += 1

    def close(self, close_fh=True):
        self.file_handle.write("]")
        super().close(close_fh)


__all__ = ["Writer", "MARCWriter", "TextWriter", "XMLWriter", "JSONWriter"]
