"""Readers (pymarc.reader).

MARCReader takes its input by type, and says which it chose in
``reader.backend``:
  * str or os.PathLike: a path, read by C with the GIL released ('file');
  * bytes, bytearray, memoryview: read in place, zero copy ('memory');
  * an object with .read() (open binary file, io.BytesIO, socket.makefile,
    a pipe): .read() called for 256 KiB at a time, the GIL held only around
    the call ('python');
  * anything else: TypeError.
Records are framed and decoded by C in batches (``batch_size`` records, at
most 300 KB), one GIL release per batch; with ``threads`` >= 2 a framer
thread and that many workers do it in parallel and records still come out in
input order. ``threads=None`` means WIREBUF_THREADS, else the core count.
"""

import io
import json
import os
import sys

from .. import _marc
from .exceptions import PymarcException
from .field import Field, Indicators, Subfield
from .leader import Leader
from .record import Record


class Reader:
    """Base class of the iterating readers."""

    def __iter__(self):
        return self


class MARCReader(Reader, _marc.Reader):
    """Iterate Records from ISO 2709 data, as pymarc 5.3.1's MARCReader.

    ``MARCReader(marc_target, to_unicode=True, force_utf8=False,
    hide_utf8_warnings=False, utf8_handling='strict',
    file_encoding='iso8859-1', permissive=False, recover=False,
    threads=None, batch_size=100)``

    As pymarc: next() never raises for bad data. A record that cannot be
    decoded gives None, with ``current_exception`` (pymarc's exception:
    RecordLeaderInvalid, BaseAddressNotFound, BaseAddressInvalid,
    RecordDirectoryInvalid, NoFieldsFound, UnicodeDecodeError, ValueError)
    and ``current_chunk`` (the exact bytes consumed), and reading goes on.
    Framing follows the leader's 5-digit length; when it cannot
    (TruncatedRecord, RecordLengthInvalid, EndOfRecordNotFound: the
    FatalReaderErrors) next() gives None once and then the iteration ends.
    ``permissive`` is accepted and, as in pymarc 5, changes nothing.

    ``recover=True`` (wirebuf's own): the C codec repairs what it can
    (skips junk, resyncs a wrong record length at the next record
    terminator, recovers a bad directory from the data), decodes with
    ``threads`` workers, and gives None plus ``current_exception`` (with the
    record number and byte offset) only for what it cannot repair."""

    def __init__(self, marc_target, to_unicode=True, force_utf8=False, hide_utf8_warnings=False,
                 utf8_handling="strict", file_encoding="iso8859-1", permissive=False, recover=False,
                 threads=None, batch_size=100):
        self.to_unicode = to_unicode
        self.force_utf8 = force_utf8
        self.hide_utf8_warnings = hide_utf8_warnings
        self.utf8_handling = utf8_handling
        self.file_encoding = file_encoding
        self.permissive = permissive
        self.recover = recover
        self.file_handle = marc_target if hasattr(marc_target, "read") else None
        _marc.Reader.__init__(self, marc_target, "iso2709", threads, batch_size, 300000, to_unicode,
                              force_utf8, utf8_handling, file_encoding, permissive, recover=recover)

    def close(self):
        """Stop reading; close the file handle if one was given."""
        _marc.Reader.close(self)
        if self.file_handle is not None:
            self.file_handle.close()
            self.file_handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def map_records(f, *files):
    """Apply f to every record of each file (path, bytes or file object)."""
    for file in files:
        for record in MARCReader(file):
            f(record)


class JSONReader(Reader):
    """Iterate Records from MARC-in-JSON (one object or an array of them),
    as pymarc's: ``JSONReader(marc_target, encoding='utf-8', stream=False)``
    takes a file object (``file_handle``), a path or the JSON text; the
    parsed document is ``records``. A leader that is not 24 characters
    raises RecordLeaderInvalid."""

    def __init__(self, marc_target, encoding="utf-8", stream=False):
        self.encoding = encoding
        if isinstance(marc_target, io.IOBase):
            self.file_handle = marc_target
        elif isinstance(marc_target, str) and os.path.exists(marc_target):
            self.file_handle = open(marc_target)  # noqa: SIM115 - as pymarc
        else:
            self.file_handle = io.StringIO(marc_target)
        if stream:
            sys.stderr.write("Streaming not yet implemented, your data will be loaded into memory\n")
        self.records = json.load(self.file_handle, strict=False)

    def __iter__(self):
        if hasattr(self.records, "__iter__") and not isinstance(self.records, dict):
            self.iter = iter(self.records)
        else:
            self.iter = iter([self.records])
        return self

    def __next__(self):
        jobj = next(self.iter)
        rec = Record()
        rec.leader = Leader(jobj["leader"])
        for field in jobj["fields"]:
            k, v = list(field.items())[0]
            if "subfields" in v and hasattr(v, "update"):
                subfields = [Subfield(code=code, value=value) for sub in v["subfields"]
                             for code, value in sub.items()]
                fld = Field(tag=k, subfields=subfields, indicators=Indicators(v["ind1"], v["ind2"]))
            else:
                fld = Field(tag=k, data=v)
            rec.add_field(fld)
        return rec


class MARCMakerReader(Reader):
    """Iterate Records from MARCMaker text (``=LDR  ...``, ``=245  10$a...``),
    as pymarc's: ``MARCMakerReader(target, encoding='utf-8')`` takes an
    open text file, a path or the text itself; records are separated by a
    blank line. Tags below 010 are control fields kept exactly as written;
    other fields have two indicator characters, then ``$``-separated
    subfields (the first character is the code). No mnemonic decoding. A
    line that cannot be parsed raises PymarcException('Unable to parse line
    "..."') from the ValueError that says why."""

    def __init__(self, target, encoding="utf-8"):
        if isinstance(target, io.IOBase):
            fh = target
        elif isinstance(target, str) and os.path.exists(target):
            fh = open(target, encoding=encoding)  # noqa: SIM115
        else:
            fh = io.StringIO(target)
        content = fh.read()
        fh.close()
        self.records = list(content.split("\n\n"))
        self.iter = iter(self.records)

    def _parse_line(self, line):
        if line[0] != "=":
            raise ValueError('Line should start with a "=".')
        if line[4:6] != "  ":
            raise ValueError("Tag should be separated from the rest of the field by two spaces.")
        tag, data = line[1:4], line[6:]
        if tag == "LDR":
            return Leader(data)
        if tag < "010":
            return Field(tag, data=data)
        return Field(tag, indicators=Indicators(data[0], data[1]),
                     subfields=[Subfield(s[:1], s[1:]) for s in data[3:].split("$")])

    def __next__(self):
        text = next(self.iter)
        record = Record()
        for line in text.splitlines():
            try:
                item = self._parse_line(line)
            except Exception as exc:
                raise PymarcException('Unable to parse line "%s"' % line) from exc
            if isinstance(item, Leader):
                record.leader = item
            else:
                record.add_field(item)
        return record


__all__ = ["Reader", "MARCReader", "JSONReader", "MARCMakerReader", "map_records"]
