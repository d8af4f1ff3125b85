"""Records (pymarc.record).

A Record read by a reader keeps its fields as one compact payload made by
the C core; Field objects are built only for the fields the caller touches
(``record['245']``, ``get_fields('650')``), and the same Field object comes
back on every access, so edits stick. Touching ``record.fields`` (or
iterating, adding, removing) builds them all and from then on the record is
an ordinary list of fields."""

import json
import logging
import re
import unicodedata
import warnings

from .. import _marc
from .constants import LEADER_LEN
from .constants import END_OF_FIELD, END_OF_RECORD
from .exceptions import BadSubfieldCodeWarning, FieldNotFound, MissingLinkedFields
from .field import Field, RawField, map_marc8_field
from .leader import Leader

isbn_regex = re.compile(r"([0-9\-xX]+)")
logger = logging.getLogger("pymarc")
_NOTE_TAGS = ("500", "501", "502", "504", "505", "506", "507", "508", "510", "511", "513", "514",
              "515", "516", "518", "520", "521", "522", "524", "525", "526", "530", "533", "534",
              "535", "536", "538", "540", "541", "544", "545", "546", "547", "550", "552", "555",
              "556", "561", "562", "563", "565", "567", "580", "581", "583", "584", "585", "586",
              "590", "591", "592", "593", "594", "595", "596", "597", "598", "599")
_SUBJECT_TAGS = ("600", "610", "611", "630", "648", "650", "651", "653", "654", "655", "656", "657",
                 "658", "662", "690", "691", "696", "697", "698", "699")
_ADDED_TAGS = ("700", "710", "711", "720", "730", "740", "752", "753", "754", "790", "791", "792",
               "793", "796", "797", "798", "799")
_SERIES_TAGS = ("440", "490", "800", "810", "811", "830")


class Record(_marc.RecordBase):
    """A MARC record: a Leader and a list of Fields.

    ``Record(data='', fields=None, to_unicode=True, force_utf8=False,
    hide_utf8_warnings=False, utf8_handling='strict', leader=' ' * 24,
    file_encoding='iso8859-1')``: with ``fields`` the record holds them;
    else with ``data`` (ISO 2709 bytes) it is decoded as pymarc's
    decode_marc does (same checks, same exceptions). A record is always
    true (``if record:``) and, as in pymarc, has no len()."""

    # payload state, in slots that the C reader fills without running
    # __init__: _raw (the payload, or None), _fields (the list of Fields once
    # built, else None), _cache (Fields built from the payload), _leader
    # (None until read). Other attributes live in __dict__ as usual.
    __slots__ = ("_raw", "_fields", "_cache", "_leader", "__dict__", "__weakref__")
    _mode = 0
    _enc = "iso8859-1"
    force_utf8 = False
    to_unicode = True
    pos = 0

    def __init__(self, data="", fields=None, to_unicode=True, force_utf8=False,
                 hide_utf8_warnings=False, utf8_handling="strict", leader=" " * LEADER_LEN,
                 file_encoding="iso8859-1"):
        self._raw = None
        self._cache = None
        self.leader = Leader(leader[0:10] + "22" + leader[12:20] + "4500")
        self._fields = []
        self.pos = 0
        self.force_utf8 = force_utf8
        self.to_unicode = to_unicode
        if fields:
            self._fields = fields
        elif len(data) > 0:
            self.decode_marc(data, to_unicode=to_unicode, force_utf8=force_utf8,
                             hide_utf8_warnings=hide_utf8_warnings, utf8_handling=utf8_handling,
                             encoding=file_encoding)
        elif force_utf8:
            self.leader = Leader(self.leader[0:9] + "a" + self.leader[10:])

    # fields ---------------------------------------------------------------
    @property
    def fields(self):
        f = self._fields
        if f is None:
            f = self._fields = _marc.get_fields(self, ())
        return f

    @fields.setter
    def fields(self, value):
        self._fields = value

    @property
    def leader(self):
        ld = self._leader
        if ld is None:
            ld = self._leader = Leader(_marc.leader(self) if self._raw is not None else " " * LEADER_LEN)
        return ld

    @leader.setter
    def leader(self, value):
        self._leader = value  # kept as given (a str stays a str), as pymarc

    # record[tag] (the first field with `tag`; a bare KeyError if there is
    # none) is _marc.RecordBase's, in C: a record still in payload form
    # builds only the field found.

    def __contains__(self, tag):
        try:
            self[tag]
        except KeyError:
            return False
        return True

    def get(self, tag, default=None):
        try:
            return self[tag]
        except KeyError:
            return default

    def __iter__(self):
        self.pos = 0
        return iter(self.fields)

    def __next__(self):
        if self.pos >= len(self.fields):
            raise StopIteration
        self.pos += 1
        return self.fields[self.pos - 1]

    def __str__(self):
        lines = ["=LDR  %s" % self.leader]
        lines.extend(str(f) for f in self.fields)
        return "\n".join(lines) + "\n"

    def __repr__(self):
        return "<Record %s>" % (self.get("001").data if "001" in self else "?")

    def get_fields(self, *tags):
        """Fields with any of `tags` in record order; all fields if none."""
        if not tags:
            return self.fields
        if self._fields is None:
            return _marc.get_fields(self, tags)
        return [f for f in self._fields if f.tag in tags]

    def add_field(self, *fields):
        self.fields.extend(fields)

    def add_grouped_field(self, *fields):
        """Add fields keeping a loose numeric order: each goes after the
        fields of its hundred (1XX, 2XX, ...), before any non-numeric tag."""
        for f in fields:
            self._insert_sorted(f, lambda tag: int(tag[0]))

    def add_ordered_field(self, *fields):
        """Add fields keeping a strict numeric order of tags."""
        for f in fields:
            self._insert_sorted(f, int)

    def _insert_sorted(self, field, key):
        flds = self.fields
        if not flds or not field.tag.isdigit():
            flds.append(field)
            return
        k = key(field.tag)
        for i, g in enumerate(flds):
            if not g.tag.isdigit() or key(g.tag) > k:
                flds.insert(i, field)
                return
        flds.append(field)

    def remove_field(self, *fields):
        """Remove these Field objects; FieldNotFound if one is absent."""
        flds = self.fields
        for f in fields:
            for i, g in enumerate(flds):
                if g is f:
                    del flds[i]
                    break
            else:
                raise FieldNotFound("field %s is not in the record" % getattr(f, "tag", f))

    def remove_fields(self, *tags):
        self.fields[:] = [f for f in self.fields if f.tag not in tags]

    def get_linked_fields(self, field):
        """880 fields linked to `field` by $6; MissingLinkedFields if $6 names
        an occurrence that no 880 has."""
        num = field.linkage_occurrence_num()
        linked = [f for f in self.get_fields("880") if f.linkage_occurrence_num() == num]
        if num is not None and not linked:
            raise MissingLinkedFields(field)
        return linked

    # decoding and encoding ------------------------------------------------
    def decode_marc(self, marc, to_unicode=True, force_utf8=False, hide_utf8_warnings=False,
                    utf8_handling="strict", encoding="iso8859-1"):
        """Replace this record's leader and fields with those of ISO 2709
        bytes `marc` (decoded in C, as MARCReader does)."""
        payload, kind = _marc.decode(bytes(marc), to_unicode, force_utf8, utf8_handling, encoding)
        self._raw = payload
        self._mode = kind & 0xFF
        self._enc = encoding
        self._fields = None
        self._cache = None
        self._leader = None
        self.force_utf8 = force_utf8
        self.to_unicode = to_unicode
        if kind & 0x100:
            self.fields  # non-ASCII subfield codes: normalised (and warned about) now, as pymarc

    def _encoding(self):
        return "utf-8" if (self.leader[9] == "a" or self.force_utf8) else "iso8859-1"

    def as_marc(self):
        """ISO 2709 bytes, as pymarc 5: with to_unicode leader/09 is set to
        'a' (in self.leader too) and values are UTF-8 (ISO 8859-1 when
        leader/09 is not 'a' and not force_utf8); the record length and base
        address are computed into the output only."""
        if self.to_unicode:
            if isinstance(self.leader, Leader):
                self.leader.coding_scheme = "a"
            else:
                self.leader = self.leader[0:9] + "a" + self.leader[10:]
        leader = self.leader
        encoding = "utf-8" if leader[9] == "a" or self.force_utf8 else "iso8859-1"
        data, directory, offset = [], [], 0
        for f in self.fields:
            fd = f.as_marc() if isinstance(f, RawField) else f.as_marc(encoding=encoding)
            data.append(fd)
            tag = f.tag
            directory.append(("%03d" % int(tag) if tag.isdigit() else "%s" % tag.rjust(3, "0")).encode(encoding))
            directory.append(("%04d%05d" % (len(fd), offset)).encode(encoding))
            offset += len(fd)
        directory.append(END_OF_FIELD.encode(encoding))
        data.append(END_OF_RECORD.encode(encoding))
        directory = b"".join(directory)
        data = b"".join(data)
        base = LEADER_LEN + len(directory)
        strleader = "%s%s%s%s" % (str(base + len(data)).rjust(5, "0"), leader[5:12],
                                  str(base).rjust(5, "0"), leader[17:])
        return strleader.encode(encoding) + directory + data

    as_marc21 = as_marc

    def as_dict(self):
        fields = []
        for f in self.fields:
            if f.control_field:
                fields.append({f.tag: f.data})
            else:
                fields.append({f.tag: {"ind1": f.indicator1, "ind2": f.indicator2,
                                       "subfields": [{c: v} for c, v in f.subfields]}})
        return {"leader": str(self.leader), "fields": fields}

    def as_json(self, **kwargs):
        return json.dumps(self.as_dict(), **kwargs)

    # convenience properties (pymarc) ---------------------------------------
    def _sub(self, tag, code):
        f = self.get(tag)
        return f.get(code) if f is not None and not f.control_field else None

    def _title_of(self, tag):
        """$a, plus ' ' and $b when both are present (pymarc's rule)."""
        f = self.get(tag)
        if f is None:
            return None
        title = f.get("a")
        if title:
            sub = f.get("b")
            if sub:
                title += f" {sub}"
        return title

    @property
    def title(self):
        return self._title_of("245")

    @property
    def issn_title(self):
        return self._title_of("222")

    @property
    def isbn(self):
        """The first run of [0-9-xX] in 020 $a, dashes removed, or None."""
        f = self.get("020")
        if not f:
            return None
        v = f.get("a")
        if not v:
            return None
        m = isbn_regex.search(v)
        return m.group(1).replace("-", "") if m else None

    @property
    def issn(self):
        f = self.get("022")
        return f.get("a") if (f and "a" in f) else None

    @property
    def issnl(self):
        f = self.get("022")
        return f["l"] if (f and "l" in f) else None

    @property
    def sudoc(self):
        f = self.get("086")
        return f.format_field() if f is not None else None

    @property
    def author(self):
        f = self.get("100") or self.get("110") or self.get("111")
        return f.format_field() if f else None

    @property
    def uniformtitle(self):
        f = self.get("130") or self.get("240")
        return f.format_field() if f else None

    @property
    def series(self):
        return self.get_fields(*_SERIES_TAGS)

    @property
    def subjects(self):
        return self.get_fields(*_SUBJECT_TAGS)

    @property
    def addedentries(self):
        return self.get_fields(*_ADDED_TAGS)

    @property
    def location(self):
        return self.get_fields("852")

    @property
    def notes(self):
        return self.get_fields(*_NOTE_TAGS)

    @property
    def physicaldescription(self):
        return self.get_fields("300")

    def _pub(self, code):
        for f in self.get_fields("260", "264"):
            if f.tag == "260":
                return f.get(code)
            if f.tag == "264" and f.indicator2 == "1":
                return f.get(code)
        return None

    @property
    def publisher(self):
        return self._pub("b")

    @property
    def pubyear(self):
        return self._pub("c")


def map_marc8_record(record):
    """Convert a record's values from MARC-8 to Unicode and set leader/09
    to 'a' (the leader becomes a str, as in pymarc)."""
    record.fields = [map_marc8_field(f) for f in record.fields]
    leader = list(record.leader)
    leader[9] = "a"
    record.leader = "".join(leader)
    return record


def normalize_subfield_code(subfield):
    """pymarc's repair of a non-ASCII subfield code: (ASCII code, bytes the
    code took). The code is the first character of the subfield (UTF-8 if
    the whole subfield is, else Latin-1) without its diacritics."""
    skip_bytes = 1
    try:
        text = subfield.decode("utf-8")
        skip_bytes = len(text[0].encode("utf-8"))
    except UnicodeDecodeError:
        text = subfield.decode("latin-1")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return plain[0], skip_bytes


def _normalize_code(subfield):
    """Called by the C core for each non-ASCII subfield code of a record
    being decoded: warn as pymarc does, then normalise."""
    warnings.warn(BadSubfieldCodeWarning(), stacklevel=2)
    return normalize_subfield_code(subfield)


__all__ = ["Record", "map_marc8_record", "normalize_subfield_code", "isbn_regex", "logger"]
