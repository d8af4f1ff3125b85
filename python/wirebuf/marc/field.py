"""Fields (pymarc.field): control fields hold ``data``; data fields hold
``indicators`` (an Indicators pair) and ``subfields`` (a list of
Subfield(code, value)). Fields read by a reader are built by the C core the
first time the caller touches them."""

import warnings
from collections import namedtuple

from .constants import END_OF_FIELD, SUBFIELD_INDICATOR

Subfield = namedtuple("Subfield", ["code", "value"])
Indicators = namedtuple("Indicators", ["first", "second"])

_SUBJECT_VXYZ = ("v", "x", "y", "z")


class Field:
    """A MARC field. ``Field(tag, indicators=None, subfields=None, data=None)``.

    Control fields (tags 000-009) take ``data``; data fields take two
    indicators and a list of Subfield items (a flat legacy list
    ``['a', 'x', 'b', 'y']`` is converted, with a DeprecationWarning)."""

    data = None
    control_field = False
    _indicators = None

    def __init__(self, tag, indicators=None, subfields=None, data=None):
        tag = str(tag)
        if len(tag) < 3:
            tag = tag.rjust(3, "0")
        self.tag = tag
        self.control_field = tag < "010" and tag.isdigit()
        if self.control_field:
            self.data = data
            self.subfields = []
        else:
            self.indicators = indicators if indicators is not None else Indicators(" ", " ")
            subfields = list(subfields) if subfields else []
            if subfields and not isinstance(subfields[0], tuple):
                warnings.warn("subfields as a flat list of strings is deprecated; use Subfield(code, value)",
                              DeprecationWarning, stacklevel=2)
                subfields = self.convert_legacy_subfields(subfields)
            self.subfields = subfields

    @classmethod
    def convert_legacy_subfields(cls, subfields):
        """['a', 'x', 'b', 'y'] -> [Subfield('a', 'x'), Subfield('b', 'y')]."""
        it = iter(subfields)
        return [Subfield(code, value) for code, value in zip(it, it)]

    # indicators -----------------------------------------------------------
    @property
    def indicators(self):
        return self._indicators

    @indicators.setter
    def indicators(self, value):
        if value is None:
            self._indicators = None
            return
        value = tuple(value)
        if len(value) != 2:
            raise ValueError("indicators must be two values, got %r" % (value,))
        self._indicators = Indicators(*value)

    @property
    def indicator1(self):
        return self._indicators.first if self._indicators else None

    @indicator1.setter
    def indicator1(self, value):
        self._indicators = Indicators(value, self._indicators.second if self._indicators else " ")

    @property
    def indicator2(self):
        return self._indicators.second if self._indicators else None

    @indicator2.setter
    def indicator2(self, value):
        self._indicators = Indicators(self._indicators.first if self._indicators else " ", value)

    # subfield access ------------------------------------------------------
    def __iter__(self):
        return iter(self.subfields)

    def __getitem__(self, code):
        """The value of the first subfield `code`; KeyError if there is none
        (or for a control field)."""
        if not self.control_field:
            for sf in self.subfields:
                if sf[0] == code:
                    return sf[1]
        raise KeyError(code)

    def __setitem__(self, code, value):
        """Replace the value of subfield `code`; KeyError if it is absent or
        repeated."""
        hits = [i for i, sf in enumerate(self.subfields) if sf[0] == code]
        if not hits:
            raise KeyError("no subfield %r" % code)
        if len(hits) > 1:
            raise KeyError("more than one subfield %r" % code)
        self.subfields[hits[0]] = Subfield(code, value)

    def __contains__(self, code):
        return any(sf[0] == code for sf in self.subfields)

    def get(self, code, default=None):
        try:
            return self[code]
        except KeyError:
            return default

    def get_subfields(self, *codes):
        """Values of the subfields with these codes, in field order."""
        return [sf[1] for sf in self.subfields if sf[0] in codes]

    def add_subfield(self, code, value, pos=None):
        sf = Subfield(code, value)
        if pos is None or pos > len(self.subfields):
            self.subfields.append(sf)
        else:
            self.subfields.insert(pos, sf)

    def delete_subfield(self, code):
        """Remove the first subfield `code` and return its value (None if
        absent)."""
        for i, sf in enumerate(self.subfields):
            if sf[0] == code:
                del self.subfields[i]
                return sf[1]
        return None

    def subfields_as_dict(self):
        out = {}
        for code, value in self.subfields:
            out.setdefault(code, []).append(value)
        return out

    def is_control_field(self):
        return self.control_field

    def is_subject_field(self):
        return self.tag.startswith("6")

    def linkage_occurrence_num(self):
        """The occurrence number of $6 linkage ('245-01/...' -> '01'), or None."""
        ocn = self.get("6", "")
        return ocn.split("-")[1].split("/")[0] if "-" in ocn else None

    def value(self):
        if self.control_field:
            return self.data or ""
        return " ".join(sf[1].strip() for sf in self.subfields)

    def format_field(self):
        """Human-readable value: subfields joined by spaces ($6 left out);
        subject fields put ' -- ' before $v $x $y $z."""
        if self.control_field:
            return self.data
        out = ""
        subject = self.is_subject_field()
        for code, value in self.subfields:
            if code == "6":
                continue
            if subject and code in _SUBJECT_VXYZ:
                out += " -- %s" % value
            else:
                out += " %s" % value
        return out.strip()

    def as_marc(self, encoding):
        """The field's ISO 2709 bytes (with the field terminator)."""
        if self.control_field:
            data = self.data or ""
            return data.encode(encoding) + END_OF_FIELD.encode(encoding) if isinstance(data, str) \
                else bytes(data) + b"\x1e"
        parts = ["".join(str(i) for i in self.indicators)]
        for code, value in self.subfields:
            parts.append(SUBFIELD_INDICATOR + code + value)
        return ("".join(parts) + END_OF_FIELD).encode(encoding)

    as_marc21 = as_marc

    def __str__(self):
        if self.control_field:
            return "=%s  %s" % (self.tag, (self.data or "").replace(" ", "\\"))
        ind = "".join("\\" if i in (" ", "\\") else str(i) for i in (self.indicators or ("\\", "\\")))
        subs = "".join("$%s%s" % (code, value) for code, value in self.subfields)
        return "=%s  %s%s" % (self.tag, ind, subs)

    def __repr__(self):
        return "<Field %s>" % str(self)


class RawField(Field):
    """A field whose values are bytes (MARCReader(to_unicode=False))."""

    def as_marc(self, encoding=None):
        if self.control_field:
            return bytes(self.data or b"") + b"\x1e"
        out = b"".join(i if isinstance(i, bytes) else str(i).encode("ascii") for i in self.indicators)
        for code, value in self.subfields:
            out += b"\x1f" + (code.encode("latin-1") if isinstance(code, str) else code) + value
        return out + b"\x1e"


__all__ = ["Field", "RawField", "Subfield", "Indicators"]
