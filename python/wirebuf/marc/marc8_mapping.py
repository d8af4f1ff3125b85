"""MARC-8 code tables (pymarc.marc8_mapping): ``CODESETS`` maps the ISO
final of each set to its table ``{code: (code point, is_combining)}``,
``CHARSET_42`` ... ``CHARSET_4E`` are those tables, ``ODD_MAP`` holds the
3-byte codes of III systems. Built on first use from wirebuf's tables
(generated from the LoC code tables) with pymarc's choices where pymarc's
differ, so they are the tables the converter uses."""

from .. import _marc

_NAMES = {0x34: "CHARSET_34", 0x45: "CHARSET_45", 0x33: "CHARSET_33", 0x32: "CHARSET_32",
          0x31: "CHARSET_31", 0x70: "CHARSET_70", 0x51: "CHARSET_51", 0x53: "CHARSET_53",
          0x42: "CHARSET_42", 0x62: "CHARSET_62", 0x67: "CHARSET_67", 0x4E: "CHARSET_4E"}

# III's 3-byte codes (horizontal ellipsis, quotation marks, em dash, trade mark)
ODD_MAP = {0x21203D: 0x2026, 0x212040: 0x201C, 0x7F2014: 0x2014, 0x7F2019: 0x2019,
           0x7F2020: 0x201D, 0x7F2122: 0x2122}

CODESETS = {final: _marc.marc8_table(final) for final in _NAMES}
globals().update({name: CODESETS[final] for final, name in _NAMES.items()})

__all__ = ["CODESETS", "ODD_MAP"] + sorted(_NAMES.values())
