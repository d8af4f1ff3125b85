"""Records (pymarc.record).

A Record read by a reader keeps its fields as one compact payload made by
the C core; Field objects are built only for the fields the caller touches
(``record['245']``, ``get_fields('650')``), and the same Field object comes
back on every access, so edits stick. Touching ``record.fields`` (or
iterating, adding, removing) builds them all and from then on the record is
an ordinary list of fields."""

import json
import re

from .. import _marc
from .constants import LEADER_LEN
from .exceptions import FieldNotFound, MissingLinkedFields
from .field import Field
from .leader import Leader

_ISBN_RE = re.compile(r"^([0-9A-Za-z]+)")
_SUBJECT_TAGS = ("600", "610", "611", "630", "648", "650", "651", "653", "654", "655", "656", "657",
                 "658", "662", "690", "691", "696", "697", "698", "699")
_ADDED_TAGS = ("700", "710", "711", "720", "730", "740", "752", "753", "754", "790", "791", "792",
               "793", "796", "797", "798", "799")
_SERIES_TAGS = ("440", "490", "800", "810", "811", "830")


class Record:
    """A MARC record: a Leader and a list of Fields.

    ``Record(data='', to_unicode=True, force_utf8=False,
    hide_utf8_warnings=False, utf8_handling='strict', leader=' ' * 24,
    file_encoding='iso8859-1')``: with ``data`` (ISO 2709 bytes) the record
    is decoded as MARCReader would."""

    # payload state (set by the C reader without running __init__)
    _raw = None
    _mode = 0
    _enc = "iso8859-1"
    _fields = None
    _cache = None
    _leader = None
    force_utf8 = False
    to_unicode = True
    pos = 0

    def __init__(self, data="", to_unicode=True, force_utf8=False, hide_utf8_warnings=False,
                 utf8_handling="strict", leader=" " * LEADER_LEN, file_encoding="iso8859-1"):
        leader = str(leader)
        self.leader = Leader(leader[0:10] + "22" + leader[12:20] + "4500")
        self._fields = []
        self.pos = 0
        self.force_utf8 = force_utf8
        self.to_unicode = to_unicode
        if len(data) > 0:
            self.decode_marc(data, to_unicode=to_unicode, force_utf8=force_utf8,
                             hide_utf8_warnings=hide_utf8_warnings, utf8_handling=utf8_handling,
                             encoding=file_encoding)
        elif force_utf8:
            self.leader[9] = "a"

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
        self._leader = value if isinstance(value, Leader) else Leader(value)

    def __getitem__(self, tag):
        """The first field with `tag`; KeyError if there is none."""
        if self._fields is None:
            f = _marc.first_field(self, tag)
            if f is None:
                raise KeyError(tag)
            return f
        for f in self._fields:
            if f.tag == tag:
                return f
        raise KeyError(tag)

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

    def __len__(self):
        return len(self.fields)

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
        """Add each field after the last field of the same hundred (1XX ...)."""
        for f in fields:
            flds = self.fields
            i = len(flds)
            for j, g in enumerate(flds):
                if g.tag[0] > f.tag[0] and g.tag.isdigit():
                    i = j
                    break
            flds.insert(i, f)

    def add_ordered_field(self, *fields):
        """Add each field before the first field with a greater tag."""
        for f in fields:
            flds = self.fields
            i = len(flds)
            for j, g in enumerate(flds):
                if g.tag > f.tag and g.tag.isdigit():
                    i = j
                    break
            flds.insert(i, f)

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
        self._fields = [f for f in self.fields if f.tag not in tags]

    def get_linked_fields(self, field):
        """880 fields linked to `field` by $6; MissingLinkedFields if $6 names
        an occurrence that no 880 has."""
        num = field.linkage_occurrence_num()
        if num is None:
            return []
        linked = [f for f in self.get_fields("880")
                  if f.get("6", "")[:3] == field.tag and f.linkage_occurrence_num() == num]
        if not linked:
            raise MissingLinkedFields(field)
        return linked

    # decoding and encoding ------------------------------------------------
    def decode_marc(self, marc, to_unicode=True, force_utf8=False, hide_utf8_warnings=False,
                    utf8_handling="strict", encoding="iso8859-1"):
        """Replace this record's leader and fields with those of ISO 2709
        bytes `marc` (decoded in C, as MARCReader does)."""
        payload, kind = _marc.decode(bytes(marc), to_unicode, force_utf8, utf8_handling, encoding)
        self._raw = payload
        self._mode = kind
        self._enc = encoding
        self._fields = None
        self._cache = None
        self._leader = None
        self.force_utf8 = force_utf8
        self.to_unicode = to_unicode

    def _encoding(self):
        return "utf-8" if (self.leader[9] == "a" or self.force_utf8) else "iso8859-1"

    def as_marc(self):
        """ISO 2709 bytes; leader record length and base address are
        recomputed (and updated in self.leader, as pymarc does). Values are
        UTF-8 when leader/09 is 'a' or force_utf8, else ISO 8859-1."""
        data = _marc.serialize(str(self.leader), self.fields, "marc", self._encoding())
        self.leader = data[:LEADER_LEN].decode("ascii", "replace")
        return data

    as_marc21 = as_marc

    def as_dict(self):
        fields = []
        for f in self.fields:
            if f.control_field:
                fields.append({f.tag: f.data})
            else:
                fields.append({f.tag: {"subfields": [{c: v} for c, v in f.subfields],
                                       "ind1": f.indicator1, "ind2": f.indicator2}})
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
                title += " " + sub
        return title

    @property
    def title(self):
        return self._title_of("245")

    @property
    def issn_title(self):
        return self._title_of("222")

    @property
    def isbn(self):
        v = self._sub("020", "a")
        if v:
            m = _ISBN_RE.search(v)
            if m:
                return m.group(1)
        return v

    @property
    def issn(self):
        return self._sub("022", "a")

    @property
    def issnl(self):
        return self._sub("022", "l")

    @property
    def sudoc(self):
        f = self.get("086")
        return f.format_field() if f is not None else None

    @property
    def author(self):
        for tag in ("100", "110", "111"):
            f = self.get(tag)
            if f is not None:
                return f.format_field()
        return None

    @property
    def uniformtitle(self):
        return self._sub("130", "a") or self._sub("240", "a")

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
        return [f for f in self.fields if f.tag.startswith("5")]

    @property
    def physicaldescription(self):
        return self.get_fields("300")

    def _pub(self, code):
        for f in self.get_fields("260", "264"):
            if f.tag == "260" or f.indicator2 == "1":
                return f.get(code)
        return None

    @property
    def publisher(self):
        return self._pub("b")

    @property
    def pubyear(self):
        return self._pub("c")


def map_marc8_record(record):
    """Convert a record's values from MARC-8 (as bytes-decoded latin-1 text)
    to Unicode in place and set leader/09 to 'a'."""
    from .marc8 import marc8_to_unicode
    for f in record.fields:
        if f.control_field:
            continue
        f.subfields = [type(sf)(sf[0], marc8_to_unicode(sf[1].encode("latin-1", "replace")))
                       for sf in f.subfields]
    record.leader[9] = "a"
    return record


__all__ = ["Record", "map_marc8_record"]
