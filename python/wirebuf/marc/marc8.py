"""MARC-8 to Unicode (pymarc.marc8): pymarc 5.3.1's converter, reproduced in
C (wb_marc8_to_utf8_pymarc), results NFC-normalised as pymarc's are.

The CLI and ``MARCReader(recover=True)`` use wirebuf's LoC/yaz-compatible
converter instead; where the two differ (unmappable codes, truncated
sequences, pymarc's table choices) this module follows pymarc."""

from .. import _marc


def marc8_to_unicode(marc8, hide_utf8_warnings=False):
    """MARC-8 bytes -> str. Where pymarc's converter fails (an escape
    sequence cut short) this raises UnicodeDecodeError, as pymarc does."""
    converter = MARC8ToUnicode(quiet=hide_utf8_warnings)
    try:
        return converter.translate(marc8)
    except (IndexError, TypeError) as err:
        raise UnicodeDecodeError("marc8_to_unicode", marc8, 0, len(marc8),
                                 "invalid multibyte character encoding") from err


class MARC8ToUnicode:
    """``MARC8ToUnicode(G0=basic_latin, G1=ansel, quiet=False)``:
    ``translate(bytes)`` converts with G0/G1 as the sets in use; escape
    sequences in the data change ``g0``/``g1`` and the change stays for the
    next translate() call, as in pymarc. ``quiet`` is accepted (wirebuf
    never writes to stderr)."""

    basic_latin = 0x42
    ansel = 0x45

    def __init__(self, G0=basic_latin, G1=ansel, quiet=False):
        self.g0 = G0
        self.g0_set = {b"(", b",", b"$"}
        self.g1 = G1
        self.g1_set = {b")", b"-", b"$"}
        self.quiet = quiet

    def translate(self, marc8_string):
        if not marc8_string:
            return ""
        text, self.g0, self.g1, _ = _marc.marc8_to_unicode(marc8_string, self.g0, self.g1)
        return text


__all__ = ["marc8_to_unicode", "MARC8ToUnicode"]
