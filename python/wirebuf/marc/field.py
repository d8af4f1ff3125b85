"""Fields (pymarc.field): control fields hold ``data``; data fields hold
``indicators`` (an Indicators pair) and ``subfields`` (a list of
Subfield(code, value)). Fields read by a reader are built by the C core the
first time the caller touches them."""

from collections import namedtuple

from .. import _marc
from .constants import END_OF_FIELD, SUBFIELD_INDICATOR

Subfield = namedtuple("Subfield", ["code", "value"])
Indicators = namedtuple("Indicators", ["first", "second"])

_SUBJECT_VXYZ = ("v", "x", "y", "z")


class Field(_marc.FieldBase):
    """A MARC field. ``Field(tag, indicators=None, subfields=None, data=None)``.

    Control fields (numeric tags below 010) take ``data``; data fields take
    two indicators and a list of Subfield(code, value) items. As pymarc 5: a
    numeric tag is zero-padded (``42`` -> ``'042'``), a flat list of strings
    as subfields is a ValueError, control fields have no indicators
    (``indicator1 == ''``)."""

    # the C reader fills these without running __init__; other attributes
    # live in __dict__ as usual
    __slots__ = ("tag", "data", "control_field", "_indicators", "subfields", "__dict__", "__weakref__")
    _pos = 0

    def __init__(self, tag, indicators=None, subfields=None, data=None):
        try:
            self.tag = "%03d" % int(tag)
        except ValueError:
            self.tag = "%s" % (tag,)
        if subfields and isinstance(subfields[0], str):
            raise ValueError(
                "The subfield input no longer accepts strings, and should use Subfield. "
                "Please consult the documentation for details.")
        self.subfields = []
        self._indicators = None
        self.data = None
        self.control_field = False
        if self.tag < "010" and self.tag.isdigit():
            self.control_field = True
            self.data = data
        else:
            self.subfields = subfields or []
            if not indicators:
                self.indicators = Indicators(" ", " ")
            elif isinstance(indicators, (list, tuple)) and len(indicators) == 2:
                self.indicators = Indicators(*indicators)
            else:
                self.indicators = indicators

    @classmethod
    def convert_legacy_subfields(cls, subfields):
        """['a', 'x', 'b', 'y'] -> [Subfield('a', 'x'), Subfield('b', 'y')]."""
        it = iter(subfields)
        return [Subfield._make(t) for t in zip(it, it)]

    # indicators -----------------------------------------------------------
    @property
    def indicators(self):
        return self._indicators

    @indicators.setter
    def indicators(self, value):
        if value and isinstance(value, (list, tuple)) and len(value) != 2:
            raise ValueError(
                "The indicators input no longer accepts an iterable of arbitrary length. "
                "Use the Indicators() named tuple instead.")
        if value is not None:
            self._indicators = value if isinstance(value, Indicators) else Indicators(*value)

    @property
    def indicator1(self):
        return self._indicators.first if self._indicators else ""

    @indicator1.setter
    def indicator1(self, value):
        if self.control_field:
            self._indicators = None
        self._indicators = self._indicators._replace(first=value)

    @property
    def indicator2(self):
        return self._indicators.second if self._indicators else ""

    @indicator2.setter
    def indicator2(self, value):
        if self.control_field:
            self._indicators = None
        self._indicators = self._indicators._replace(second=value)

    # subfield access ------------------------------------------------------
    def __iter__(self):
        self._pos = 0
        return self

    def __next__(self):
        if self.control_field:
            raise StopIteration
        try:
            sf = self.subfields[self._pos]
        except IndexError:
            raise StopIteration from None
        self._pos += 1
        return sf

    # field[code] (the value of the first subfield `code`; a bare KeyError
    # if there is none, or for a control field) is _marc.FieldBase's, in C.

    def __setitem__(self, code, value):
        """Replace the value of subfield `code`; KeyError if it is absent or
        repeated, or for a control field."""
        if self.control_field:
            raise KeyError("field is a control field")
        hits = [i for i, sf in enumerate(self.subfields) if sf[0] == code]
        if len(hits) > 1:
            raise KeyError("more than one code '%s'" % code)
        if not hits:
            raise KeyError("no code '%s'" % code)
        self.subfields[hits[0]] = Subfield(code=code, value=value)

    def __contains__(self, code):
        if self.control_field:
            return False
        for sf in self.subfields:
            if sf[0] == code:
                return True
        return False

    def get(self, code, default=None):
        try:
            return self[code]
        except KeyError:
            return default

    def get_subfields(self, *codes):
        """Values of the subfields with these codes, in field order."""
        if self.control_field:
            return []
        return [sf[1] for sf in self.subfields if sf[0] in codes]

    def add_subfield(self, code, value, pos=None):
        if self.control_field:
            return None
        sf = Subfield(code=code, value=value)
        if pos is None or pos > len(self.subfields):
            self.subfields.append(sf)
        else:
            self.subfields.insert(pos, sf)
        return None

    def delete_subfield(self, code):
        """Remove the first subfield `code` and return its value (None if
        absent or a control field)."""
        if self.control_field or code not in self:
            return None
        for i, sf in enumerate(self.subfields):
            if sf[0] == code:
                del self.subfields[i]
                return sf[1]
        return None

    def subfields_as_dict(self):
        if self.control_field:
            return {}
        out = {}
        for code, value in self.subfields:
            out.setdefault(code, []).append(value)
        return out

    def is_control_field(self):
        return self.control_field

    def is_subject_field(self):
        return self.tag.startswith("6")

    def linkage_occurrence_num(self):
        """The occurrence number of $6 linkage ('245-01/...' -> '01'), or
        None without $6 (pymarc's rule: IndexError when $6 has no '-')."""
        ocn = self.get("6", "")
        return ocn.split("-")[1].split("/")[0] if ocn else None

    def value(self):
        if self.control_field:
            return self.data or ""
        return " ".join(sf[1].strip() for sf in self.subfields)

    def format_field(self):
        """Human-readable value: subfields joined by spaces ($6 left out);
        subject fields put ' -- ' before $v $x $y $z."""
        if self.control_field:
            return self.data or ""
        out = ""
        subject = self.is_subject_field()
        for code, value in self.subfields:
            if code == "6":
                continue
            if subject and code in _SUBJECT_VXYZ:
                out += " -- %s" % (value,)
            else:
                out += " %s" % (value,)
        return out.strip()

    def as_marc(self, encoding):
        """The field's ISO 2709 bytes (with the field terminator)."""
        if self.control_field:
            return ("%s%s" % (self.data, END_OF_FIELD)).encode(encoding)
        subs = "".join("%s%s%s" % (SUBFIELD_INDICATOR, code, value) for code, value in self.subfields)
        return ("%s%s%s%s" % (self.indicator1, self.indicator2, subs, END_OF_FIELD)).encode(encoding)

    as_marc21 = as_marc

    def __str__(self):
        if self.control_field:
            return "=%s  %s" % (self.tag, self.data.replace(" ", "\\") if self.data else "")
        ind = "".join("\\" if i in (" ", "\\") else "%s" % (i,) for i in self.indicators)
        subs = "".join("$%s%s" % (code, value) for code, value in self.subfields)
        return "=%s  %s%s" % (self.tag, ind, subs)

    def __repr__(self):
        return "<Field %s>" % str(self)


class RawField(Field):
    """A field whose values stay bytes (MARCReader(to_unicode=False)):
    control data and subfield values are bytes, codes and indicators str."""

    def as_marc(self, encoding=None):
        if self.control_field:
            return self.data + END_OF_FIELD.encode("ascii")
        out = self.indicator1.encode("ascii") + self.indicator2.encode("ascii")
        for code, value in self.subfields:
            out += SUBFIELD_INDICATOR.encode("ascii") + code.encode("ascii") + value
        return out + END_OF_FIELD.encode("ascii")

    as_marc21 = as_marc


def map_marc8_field(f):
    """Convert a field's values from MARC-8 to Unicode in place (pymarc)."""
    from .marc8 import marc8_to_unicode
    if f.control_field:
        f.data = marc8_to_unicode(f.data)
    else:
        f.subfields = [Subfield(sf.code, marc8_to_unicode(sf.value)) for sf in f.subfields]
    return f


__all__ = ["Field", "RawField", "Subfield", "Indicators", "map_marc8_field"]
