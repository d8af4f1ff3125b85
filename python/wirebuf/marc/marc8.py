"""MARC-8 to Unicode (pymarc.marc8), done by the C codec with the LoC
tables; results are NFC-normalised as pymarc's are."""

from .. import _marc

BASIC_LATIN = 0x42
ANSEL = 0x45


def marc8_to_unicode(marc8, hide_utf8_warnings=False):
    """MARC-8 bytes (or a str holding them as latin-1) -> str."""
    return _marc.marc8_to_unicode(marc8)


class MARC8ToUnicode:
    """``MARC8ToUnicode(G0=BASIC_LATIN, G1=ANSEL, quiet=False).translate(b)``."""

    def __init__(self, G0=BASIC_LATIN, G1=ANSEL, quiet=False):
        self.g0 = G0
        self.g1 = G1
        self.quiet = quiet

    def translate(self, marc8_string):
        return _marc.marc8_to_unicode(marc8_string)


__all__ = ["marc8_to_unicode", "MARC8ToUnicode"]
