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

from .. import _marc
from .field import Field
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


def _json_source(marc_target, encoding):
    if hasattr(marc_target, "read"):
        data = marc_target.read()
    elif isinstance(marc_target, (str, os.PathLike)) and os.path.exists(marc_target):
        with open(marc_target, "rb") as fh:
            data = fh.read()
    else:
        data = marc_target
    if isinstance(data, str):
        data = data.encode(encoding)
    return data


class JSONReader(Reader):
    """Iterate Records from MARC-in-JSON (one object or an array of them).
    ``JSONReader(marc_target, encoding='utf-8', stream=False)``: a path, JSON
    text (str/bytes) or a file object. Parsed by the C core (jansson)."""

    def __init__(self, marc_target, encoding="utf-8", stream=False):
        self.encoding = encoding
        self.stream = stream
        data = _json_source(marc_target, encoding)
        self._reader = _marc.Reader(data, "json", 1, 100, 300000, True, False, "strict", "iso8859-1",
                                    True)
        self.records = data

    def __next__(self):
        rec = next(self._reader)
        if rec is None:
            raise ValueError("bad MARC-in-JSON record: %s" % self._reader.current_exception)
        return rec


__all__ = ["Reader", "MARCReader", "JSONReader", "map_records"]
