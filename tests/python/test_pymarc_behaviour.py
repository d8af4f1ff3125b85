"""pymarc 5.3.1 behaviour, tested on inputs built here and the shared files
(our own tests; the differential test against pymarc is test_pymarc_diff)."""
import io
import json
import os
import warnings

import pytest

import wirebuf.marc as pymarc
from wirebuf.marc import (Field, Indicators, Leader, MARCMakerReader, MARCReader, RawField, Record,
                          Subfield)
from conftest import shared

LEADER = "00000nam a2200000 a 4500"


def iso(fields, leader=LEADER):
    """ISO 2709 bytes from (tag, body-bytes) pairs, built by hand."""
    data, directory, off = b"", b"", 0
    for tag, body in fields:
        body = body + b"\x1e"
        directory += tag + b"%04d%05d" % (len(body), off)
        data += body
        off += len(body)
    base = 24 + len(directory) + 1
    total = base + len(data) + 1
    lead = (b"%05d" % total) + leader[5:12].encode() + (b"%05d" % base) + leader[17:].encode()
    return lead + directory + b"\x1e" + data + b"\x1d"


GOOD = iso([(b"001", b"id-1"), (b"245", b"10\x1faTitle\x1fbsub")])


def read_all(data, **kw):
    r = MARCReader(data, **kw)
    out = []
    for rec in r:
        out.append((rec, r.current_exception, r.current_chunk))
    return out


# ---- MARCReader: framing and decoding errors, in pymarc's order ------------

@pytest.mark.parametrize("bad,exc,fatal", [
    (b"012", pymarc.TruncatedRecord, True),                        # fewer than 5 bytes
    (b"0a123" + GOOD[5:], pymarc.RecordLengthInvalid, True),       # not digits
    (GOOD[:-3], pymarc.TruncatedRecord, True),                     # fewer bytes than the length
    (GOOD[:-1] + b"X", pymarc.EndOfRecordNotFound, True),          # last byte not 0x1D
    (GOOD[:-1] + b"X" + GOOD, pymarc.EndOfRecordNotFound, True),   # ... and more data after it
    (b"00020abcdefghijklmn\x1d", pymarc.RecordLeaderInvalid, False),  # leader < 24
    (GOOD[:12] + b"0000X" + GOOD[17:], ValueError, False),        # base address not numeric
    (GOOD[:12] + b"00000" + GOOD[17:], pymarc.BaseAddressNotFound, False),
    (GOOD[:12] + b"99998" + GOOD[17:], pymarc.BaseAddressInvalid, False),
    (GOOD[:12] + b"%05d" % (int(GOOD[12:17]) - 1) + GOOD[17:], pymarc.RecordDirectoryInvalid, False),
    (iso([]), pymarc.NoFieldsFound, False),
    (GOOD[:24] + b"24\xe9" + GOOD[27:], UnicodeDecodeError, False),  # non-ASCII tag byte
    (GOOD[:7] + b"\xe9" + GOOD[8:], UnicodeDecodeError, False),      # non-ASCII leader
    (iso([(b"245", b"1\xe9\x1faT")]), UnicodeDecodeError, False),    # non-ASCII indicator
    (iso([(b"245", b"10\x1faT\xff")]), UnicodeDecodeError, False),   # invalid UTF-8 value
])
def test_reader_errors_as_pymarc(bad, exc, fatal):
    data = GOOD + bad + (b"" if fatal else GOOD)
    out = read_all(data)
    assert out[0][0] is not None and out[0][1] is None and out[0][2] == GOOD
    rec, ex, chunk = out[1]
    assert rec is None and isinstance(ex, exc), ex
    assert isinstance(ex, pymarc.FatalReaderError) == fatal
    if fatal:
        assert len(out) == 2  # the iteration ends
    else:
        assert chunk == bad  # exactly the bytes consumed
        assert len(out) == 3 and out[2][0]["001"].data == "id-1"


def test_exception_classes_derive_as_pymarc():
    for name in ("RecordLengthInvalid", "TruncatedRecord", "EndOfRecordNotFound"):
        assert issubclass(getattr(pymarc, name), pymarc.FatalReaderError)
    for name in ("RecordLeaderInvalid", "RecordDirectoryInvalid", "NoFieldsFound", "BaseAddressInvalid",
                 "BaseAddressNotFound"):
        cls = getattr(pymarc, name)
        assert issubclass(cls, pymarc.PymarcException) and not issubclass(cls, pymarc.FatalReaderError)
    assert str(pymarc.BaseAddressNotFound()) == "Unable to locate base address of record"


def test_directory_trusted_as_pymarc_trusts_it():
    # a directory length one byte short: the value loses its last character
    data = bytearray(iso([(b"245", b"10\x1faTitle")]))
    entry = data.index(b"245")
    data[entry + 3:entry + 7] = b"%04d" % (int(data[entry + 3:entry + 7]) - 1)
    assert next(MARCReader(bytes(data)))["245"]["a"] == "Titl"


def test_value_error_message_is_pythons():
    data = GOOD[:12] + b"0000X" + GOOD[17:]
    r = MARCReader(data)
    assert next(r) is None
    assert str(r.current_exception) == "invalid literal for int() with base 10: b'0000X'"


def test_recover_option_repairs_instead():
    data = GOOD[:-1] + b"X" + GOOD  # a record without its terminator
    assert [x is None for x, _, _ in read_all(data)] == [True]
    out = list(MARCReader(data, recover=True))
    assert out and out[-1]["001"].data == "id-1"
    assert MARCReader(GOOD, permissive=True).permissive is True  # accepted, as pymarc


@pytest.mark.parametrize("body", [b"\xff\xfe", b"10\x1fa\xff\xfe", b"ok"])
def test_recover_never_raises_and_escapes_bytes(body):
    bad = iso([(b"\xe905", body)])
    r = MARCReader(GOOD + bad + GOOD, recover=True)
    out = []
    for x in r:
        out.append((x, r.current_exception))
    assert [x is None for x, _ in out] == [False, True, False]
    ex = out[1][1]
    assert isinstance(ex, (pymarc.PymarcException, UnicodeDecodeError))
    assert "\\xe9" in str(ex)  # the tag byte, escaped
    # pymarc mode: the directory is not ASCII
    r = MARCReader(GOOD + bad + GOOD)
    assert [x is None for x in r] == [False, True, False]


# ---- Records and fields -----------------------------------------------------

def test_as_marc_leader_and_encoding():
    rec = next(MARCReader(shared("encodings", "pymarc-marc8.dat")))
    assert rec.leader[9] == " "
    before = str(rec.leader)
    out = rec.as_marc()
    assert out[9:10] == b"a" and rec.leader[9] == "a"
    assert str(rec.leader)[:5] == before[:5] and str(rec.leader)[12:17] == before[12:17]
    assert int(out[:5]) == len(out)
    out.decode("utf-8")


def test_to_unicode_false_gives_rawfields():
    rec = next(MARCReader(GOOD, to_unicode=False))
    assert rec.to_unicode is False
    f = rec["245"]
    assert isinstance(f, RawField) and f["a"] == b"Title" and f.indicators == Indicators("1", "0")
    assert isinstance(rec["001"].data, bytes)
    assert rec.as_marc() == GOOD.replace(b"a2200000", b"a2200000")


def test_record_and_field_behaviour():
    r = Record()
    assert r  # always true
    with pytest.raises(TypeError):
        len(r)
    r = Record(GOOD, fields=[Field("500", Indicators(" ", " "), [Subfield("a", "n")])])
    assert [f.tag for f in r.fields] == ["500"]
    r.leader = "x" * 24
    assert r.leader == "x" * 24 and isinstance(r.leader, str)
    assert Field(42, Indicators(" ", " ")).tag == "042"
    assert Field("001", data="x").indicator1 == "" and Field("001", data="x").indicators is None
    with pytest.raises(ValueError):
        Field("245", Indicators(" ", " "), ["a", "x"])
    f = Field("245", Indicators("1", "0"), [Subfield("a", "A"), Subfield("b", "B")])
    assert [sf for sf in f] == [Subfield("a", "A"), Subfield("b", "B")]
    assert next(iter(f)) == Subfield("a", "A")
    assert list(iter(Field("001", data="x"))) == []


def test_isbn_uniformtitle_notes():
    r = Record()
    r.add_field(Field("020", Indicators(" ", " "), [Subfield("a", "(pbk.) 0-201-61622-X : $25")]))
    assert r.isbn == "020161622X"
    r2 = Record()
    r2.add_field(Field("020", Indicators(" ", " "), [Subfield("a", "no digits here")]))
    assert r2.isbn is None
    r.add_field(Field("240", Indicators("1", "0"), [Subfield("a", "Works."), Subfield("k", "Selections")]))
    assert r.uniformtitle == "Works. Selections"
    r.add_field(Field("500", Indicators(" ", " "), [Subfield("a", "n1")]),
                Field("503", Indicators(" ", " "), [Subfield("a", "not a note tag")]),
                Field("590", Indicators(" ", " "), [Subfield("a", "n2")]))
    assert [f.tag for f in r.notes] == ["500", "590"]


def test_bad_subfield_code_warning_and_normalisation():
    data = iso([(b"245", b"10\x1f\xc3\xa1Title")])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        rec = next(MARCReader(data))
    assert any(issubclass(x.category, pymarc.BadSubfieldCodeWarning) for x in w)
    assert rec["245"].subfields == [Subfield("a", "Title")]
    assert pymarc.normalize_subfield_code(b"\xc3\xa1x") == ("a", 2)
    assert pymarc.normalize_subfield_code(b"\xe1x") == ("a", 1)


# ---- XML / JSON ----------------------------------------------------------------

def test_record_to_xml_exact_form():
    r = Record()
    r.leader = Leader(LEADER)
    r.add_field(Field("001", data="a&b"), Field("245", Indicators("1", "0"), [Subfield("a", "Caf\u00e9 <x>")]))
    assert pymarc.record_to_xml(r) == (
        b'<record><leader>' + LEADER.encode() + b'</leader><controlfield tag="001">a&amp;b</controlfield>'
        b'<datafield ind1="1" ind2="0" tag="245"><subfield code="a">Caf&#233; &lt;x&gt;</subfield>'
        b'</datafield></record>')
    ns = pymarc.record_to_xml(r, namespace=True)
    assert ns.startswith(b'<record xmlns="http://www.loc.gov/MARC21/slim" '
                         b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation=')
    buf = io.BytesIO()
    w = pymarc.XMLWriter(buf)
    w.write(r)
    w.close(close_fh=False)
    assert buf.getvalue().startswith(b'<?xml version="1.0" encoding="UTF-8"?><collection xmlns=')
    assert buf.getvalue().endswith(b"</record></collection>")


def test_xml_strict_and_leader_length():
    doc = (b'<?xml version="1.0"?><collection xmlns="http://www.loc.gov/MARC21/slim" xmlns:o="urn:other">'
           b'<record><leader>' + LEADER.encode() + b'</leader><o:junk/>'
           b'<datafield tag="42" ind1="1" ind2="0"><subfield code="a">x</subfield></datafield>'
           b'</record></collection>')
    recs = pymarc.parse_xml_to_array(io.BytesIO(doc), strict=True)
    assert recs[0]["042"]["a"] == "x"
    bad = doc.replace(LEADER.encode(), b"short")
    with pytest.raises(pymarc.RecordLeaderInvalid):
        pymarc.parse_xml_to_array(io.BytesIO(bad))
    js = json.dumps([{"leader": "short", "fields": []}])
    with pytest.raises(pymarc.RecordLeaderInvalid):
        list(pymarc.JSONReader(js))
    assert issubclass(pymarc.XmlHandler, __import__("xml.sax.handler").sax.handler.ContentHandler)


def test_json_key_order_and_handler():
    r = next(MARCReader(GOOD))
    assert list(r.as_dict()["fields"][1]["245"]) == ["ind1", "ind2", "subfields"]
    h = pymarc.JSONHandler()
    recs = h.elements(json.loads(r.as_json()))
    assert recs[0]["245"]["a"] == "Title"
    jr = pymarc.JSONReader(r.as_json())
    assert jr.records == json.loads(r.as_json()) and isinstance(jr.file_handle, io.StringIO)


# ---- MARCMaker ---------------------------------------------------------------

def test_marcmaker_reader():
    text = ("=LDR  " + LEADER + "\n=001  id\\1\n=245  10$aTitle$bsub\n\n"
            "=LDR  " + LEADER + "\n=008  x y\n=650  \\0$aA$xB")
    recs = list(MARCMakerReader(text))
    assert len(recs) == 2 and str(recs[0].leader) == LEADER
    assert recs[0]["001"].data == "id\\1"  # kept exactly as written
    assert recs[0]["245"].subfields == [Subfield("a", "Title"), Subfield("b", "sub")]
    assert recs[1]["650"].indicators == Indicators("\\", "0")
    with pytest.raises(pymarc.PymarcException, match='Unable to parse line "245  10"') as ei:
        list(MARCMakerReader("=LDR  " + LEADER + "\n245  10"))
    assert isinstance(ei.value.__cause__, ValueError)
    path = shared("encodings", "marc4j-brkrtest.mrk")
    assert len(list(MARCMakerReader(path))) >= 1
    with open(path, encoding="utf-8") as fh:
        assert len(list(MARCMakerReader(fh))) >= 1


# ---- MARC-8 --------------------------------------------------------------------

def test_marc8_pymarc_rules():
    t = pymarc.marc8_to_unicode
    assert t(b"caf\xe2e") == "caf\u00e9"
    assert t(b"a\x1b$1!0") == "a "              # truncated 3-byte code: a space
    assert t(b"a\x01\x85b") == "ab"             # controls and 0x81-0x9F dropped
    assert t(b"a\x1b(") == "a\x1b("             # escape cut short keeps the ESC
    assert t(b"x\xe2") == "x"                   # leftover combining mark dropped
    assert t(b"\x1b$1\x21\x20\x3d") == "\u2026"  # III's 3-byte codes (ODD_MAP)
    with pytest.raises(UnicodeDecodeError):
        t(b"a\x1b")
    conv = pymarc.MARC8ToUnicode(G0=0x53)  # Basic Greek
    assert conv.translate(b"\x41") == "\u0391"
    assert conv.translate(b"\x1bsA") == "A" and conv.g0 == 0x42
    assert pymarc.MARC8ToUnicode.basic_latin == 0x42 and pymarc.MARC8ToUnicode.ansel == 0x45
    m = pymarc.marc8_mapping
    assert m.CODESETS[0x45][0xE2] == (0x301, 1) and m.ODD_MAP[0x7F2122] == 0x2122
    assert m.CHARSET_42[0x41] == (0x41, 0)


def test_top_level_names():
    for name in ("map_marc8_field", "normalize_subfield_code", "isbn_regex", "logger", "MARC_XML_NS",
                 "MARC_XML_SCHEMA", "XSI_NS", "MARCMakerReader", "marc8_mapping", "RawField"):
        assert getattr(pymarc, name) is not None
    assert pymarc.isbn_regex.search("ISBN 12-3X").group(1) == "12-3X"
    assert pymarc.logger.name == "pymarc"
