"""Exceptions (pymarc.exceptions).

Readers raise these with a message naming the record number and byte offset
(``str(exc)``); ``exc.record`` and ``exc.offset`` hold them as integers when
the error comes from the C reader. Without a message, ``str(exc)`` is
pymarc's fixed text.
"""


class PymarcException(Exception):
    """Base class of every wirebuf.marc (pymarc) exception."""

    default = "MARC error"
    record = None
    offset = None

    def __str__(self):
        if self.args and self.args[0]:
            return str(self.args[0])
        return self.default


class FatalReaderError(PymarcException):
    """Error preventing further reading: MARCReader's iteration ends after
    the record that raised it (RecordLengthInvalid, TruncatedRecord,
    EndOfRecordNotFound), as in pymarc."""

    default = "Fatal reader error"


class RecordLengthInvalid(FatalReaderError):
    default = "Invalid record length in first 5 bytes of record"


class TruncatedRecord(FatalReaderError):
    default = "Record length in leader is greater than the length of data"


class EndOfRecordNotFound(FatalReaderError):
    default = "Unable to locate end of record marker"


class RecordLeaderInvalid(PymarcException):
    default = "Unable to extract record leader"


class RecordDirectoryInvalid(PymarcException):
    default = "Invalid directory"


class NoFieldsFound(PymarcException):
    default = "Unable to locate fields in record data"


class BaseAddressInvalid(PymarcException):
    default = "Base address exceeds size of record"


class BaseAddressNotFound(PymarcException):
    default = "Unable to locate base address of record"


class WriteNeedsRecord(PymarcException):
    default = "Write requires a pymarc.Record object as an argument"


class NoActiveFile(PymarcException):
    default = "There is no active file to write to in call to write"


class FieldNotFound(PymarcException):
    default = "Record does not contain the specified field"


class BadLeaderValue(PymarcException):
    default = "Leader value is of the wrong length"


class MissingLinkedFields(PymarcException):
    default = "Record has no linked fields for the field"

    def __init__(self, field=None):
        super().__init__()
        self.field = field

    def __str__(self):
        if self.field is not None:
            return "%s field references missing linked fields" % self.field.tag
        return self.default


class BadSubfieldCodeWarning(Warning):
    """An improperly encoded subfield code was found."""


__all__ = [
    "PymarcException", "FatalReaderError", "RecordLengthInvalid", "TruncatedRecord",
    "EndOfRecordNotFound", "RecordLeaderInvalid", "RecordDirectoryInvalid", "NoFieldsFound",
    "BaseAddressInvalid", "BaseAddressNotFound", "WriteNeedsRecord", "NoActiveFile",
    "FieldNotFound", "BadLeaderValue", "MissingLinkedFields", "BadSubfieldCodeWarning",
]
