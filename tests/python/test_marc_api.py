"""pymarc-behaviour tests of wirebuf.marc on the shared real files."""
import io
import json
import unicodedata

import pytest

import wirebuf.marc as pymarc
from wirebuf.marc import Field, Indicators, Leader, MARCReader, Record, Subfield
from conftest import shared


def records(path, **kw):
    return list(MARCReader(path, **kw))


def test_module_layout():
    for name in ("MARCReader", "Record", "Field", "Subfield", "Indicators", "Leader", "MARCWriter",
                 "XMLWriter", "JSONWriter", "TextWriter", "JSONReader", "parse_xml_to_array", "map_xml",
                 "record_to_xml", "marc8_to_unicode", "MARC8ToUnicode"):
        assert hasattr(pymarc, name), name
    for sub in ("leader", "field", "record", "reader", "writer", "exceptions", "marcxml", "marcjson",
                "marc8", "constants"):
        assert hasattr(pymarc, sub), sub
    from wirebuf.marc.exceptions import RecordLengthInvalid, PymarcException
    assert issubclass(RecordLengthInvalid, PymarcException)
    assert pymarc.constants.END_OF_RECORD == "\x1d"


def test_read_fields_subfields_indicators():
    recs = records(shared("records", "pymarc-marc.dat"))
    assert len(recs) == 20
    r = recs[0]
    assert r.title == "The pragmatic programmer : from journeyman to master /"
    f = r["245"]
    assert f is r["245"]  # the same object every time
    assert f.tag == "245" and f.indicators == Indicators("1", "4") and f.indicator1 == "1"
    assert f["a"] == "The pragmatic programmer :"
    assert isinstance(f.subfields[0], Subfield) and f.subfields[0].code == "a"
    assert f.get("z") is None and "a" in f and "z" not in f
    with pytest.raises(KeyError):
        f["z"]
    with pytest.raises(KeyError):
        r["999"]
    assert r.get("999") is None and "245" in r
    assert r["001"].is_control_field() and r["001"].data == r["001"].value()
    assert r.isbn == "020161622X"
    assert r.author == "Hunt, Andrew, 1964-"
    assert [x.tag for x in r.get_fields("650", "100")] == [x.tag for x in r.fields if x.tag in ("650", "100")]
    assert len(r.subjects) == len([x for x in r.fields if x.tag.startswith("6")])
    assert str(f).startswith("=245  14$aThe pragmatic programmer :")
    assert r.fields[[x.tag for x in r.fields].index("245")] is f
    assert r.leader[9] == " " and isinstance(r.leader, Leader)


def test_edit_and_as_marc_round_trip():
    r = records(shared("records", "pymarc-marc.dat"))[1]
    r["245"]["a"] = "New title /"
    r["245"].add_subfield("z", "added")
    r.add_field(Field("500", [" ", " "], [Subfield("a", "A note.")]))
    r.leader[5] = "c"
    r.leader.type_of_record = "a"
    r.remove_fields("650")
    data = r.as_marc()
    back = Record(data)
    assert back["245"]["a"] == "New title /" and back["245"]["z"] == "added"
    assert back["500"]["a"] == "A note." and "650" not in back
    assert back.leader[5] == "c" and int(str(back.leader)[:5]) == len(data)
    assert [str(x) for x in back.fields] == [str(x) for x in r.fields]
    with pytest.raises(pymarc.FieldNotFound):
        r.remove_field(Field("999", [" ", " "], []))


def test_build_record_from_scratch():
    r = Record(force_utf8=True)
    r.add_field(Field("001", data="id1"), Field("245", Indicators("0", "0"), [Subfield("a", "Título ñ")]))
    data = r.as_marc()
    back = next(MARCReader(data))
    assert back["245"]["a"] == "Título ñ" and back["001"].data == "id1" and back.leader[9] == "a"
    with pytest.raises(ValueError):  # pymarc 5: a flat list of strings is refused
        Field("245", ["0", "0"], ["a", "x", "b", "y"])
    assert Field.convert_legacy_subfields(["a", "x", "b", "y"]) == [Subfield("a", "x"), Subfield("b", "y")]


def test_marc8_records_are_converted_and_nfc():
    recs = [r for r in records(shared("encodings", "pymarc-marc8.dat"), permissive=True) if r]
    assert recs
    values = [sf.value for r in recs for f in r.fields if not f.control_field for sf in f.subfields]
    assert any(ord(c) > 127 for v in values for c in v)
    assert all(unicodedata.is_normalized("NFC", v) for v in values)
    assert recs[0].leader[9] == " "  # the leader is kept as read, like pymarc
    assert pymarc.marc8_to_unicode(b"\xe2e") == "\u00e9"
    assert pymarc.MARC8ToUnicode().translate(b"caf\xe2e") == "caf\u00e9"


def utf8_record(value_bytes, title="T"):
    r = Record(force_utf8=True)
    r.add_field(Field("001", data="x"), Field("245", ["0", "0"], [Subfield("a", "PLACEHOLDER")]))
    return r.as_marc().replace(b"PLACEHOLDER", value_bytes)


def fix_length(data):
    return b"%05d" % len(data) + data[5:]


def test_utf8_handling_modes():
    good = Record(force_utf8=True)
    good.add_field(Field("245", ["0", "0"], [Subfield("a", "fine")]))
    bad = fix_length(utf8_record(b"caf\xc3 \xff!"))
    data = good.as_marc() + bad + good.as_marc()
    out = list(MARCReader(data))
    assert out[0] is not None and out[1] is None and out[2] is not None
    r = MARCReader(data)
    assert next(r)["245"]["a"] == "fine"
    assert next(r) is None  # pymarc: None and the exception, never raised
    ex = r.current_exception
    assert isinstance(ex, UnicodeDecodeError)
    # the directory is trusted as pymarc trusts it: its (stale) length reaches past the field
    assert ex.object == b"caf\xc3 \xff!\x1e\x1d" and ex.start == 3 and ex.encoding == "utf-8"
    assert r.current_chunk == bad
    assert next(r)["245"]["a"] == "fine"  # reading goes on after the bad record
    assert next(MARCReader(bad, utf8_handling="replace"))["245"]["a"] == "caf\ufffd \ufffd!\x1e\x1d"
    assert next(MARCReader(bad, utf8_handling="ignore"))["245"]["a"] == "caf !\x1e\x1d"
    raw = next(MARCReader(bad, to_unicode=False))
    assert raw["245"]["a"] == b"caf\xc3 \xff!\x1e\x1d"
    assert isinstance(raw["245"], pymarc.RawField) and raw.to_unicode is False
    assert raw["245"].indicators == ("0", "0")


def test_force_utf8_and_file_encoding():
    path = shared("encodings", "pymarc-utf8_without_leader_flag.dat")
    forced = [r for r in MARCReader(path, force_utf8=True) if r]
    assert forced and all(isinstance(sf.value, str) for r in forced for f in r.fields if not f.control_field
                          for sf in f.subfields)
    cp = [r for r in MARCReader(shared("encodings", "pymarc-1251.dat"), file_encoding="cp1251") if r]
    assert any("\u0400" <= c <= "\u04ff" for r in cp for c in str(r))


def test_writers_round_trip(tmp_path):
    recs = records(shared("records", "pymarc-test.dat"))
    dicts = [r.as_dict() for r in recs]
    # ISO 2709
    buf = io.BytesIO()
    w = pymarc.MARCWriter(buf)
    for r in recs:
        w.write(r)
    w.close(close_fh=False)
    assert [r.as_dict()["fields"] for r in MARCReader(buf.getvalue())] == [d["fields"] for d in dicts]
    dicts = [r.as_dict() for r in recs]  # as_marc() set leader/09 to 'a', as pymarc does
    # MARCXML
    buf = io.BytesIO()
    w = pymarc.XMLWriter(buf)
    for r in recs:
        w.write(r)
    w.close(close_fh=False)
    xml_recs = pymarc.parse_xml_to_array(io.BytesIO(buf.getvalue()))
    assert [r.as_dict()["fields"] for r in xml_recs] == [d["fields"] for d in dicts]
    # MARC-in-JSON
    tbuf = io.StringIO()
    w = pymarc.JSONWriter(tbuf)
    for r in recs:
        w.write(r)
    w.close(close_fh=False)
    assert json.loads(tbuf.getvalue()) == dicts
    assert [r.as_dict() for r in pymarc.JSONReader(tbuf.getvalue())] == dicts
    assert [r.as_dict() for r in pymarc.parse_json_to_array(io.StringIO(tbuf.getvalue()))] == dicts
    # text
    tbuf = io.StringIO()
    w = pymarc.TextWriter(tbuf)
    for r in recs:
        w.write(r)
    w.close(close_fh=False)
    assert tbuf.getvalue() == "\n".join(str(r) for r in recs)
    with pytest.raises(pymarc.WriteNeedsRecord):
        pymarc.MARCWriter(io.BytesIO()).write("not a record")
    # record_to_xml
    x = pymarc.record_to_xml(recs[0], namespace=True)
    assert x.startswith(b'<record xmlns="http://www.loc.gov/MARC21/slim" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.loc.gov/MARC21/slim http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"><leader>')
    node = pymarc.record_to_xml_node(recs[0], namespace=True)
    assert node.find("leader").text == str(recs[0].leader)  # as pymarc builds it: xmlns is an attribute


def test_shared_xml_and_json_files():
    xml = pymarc.parse_xml_to_array(shared("xml-json", "pymarc-batch.xml"))
    assert len(xml) == 2 and xml[0].title
    seen = []
    pymarc.map_xml(seen.append, shared("xml-json", "pymarc-batch.xml"))
    assert len(seen) == 2
    js = list(pymarc.JSONReader(shared("xml-json", "pymarc-batch.json")))
    assert len(js) == 2 and js[0].title


def test_record_from_bytes_and_errors():
    raw = open(shared("records", "pymarc-one.dat"), "rb").read()
    r = Record(raw)
    assert r.title and r.as_marc() == raw
    with pytest.raises(pymarc.exceptions.PymarcException):  # a 10-byte "record": no leader
        Record(b"00010xxxxx\x1d")


def test_leader_class():
    ld = Leader("00000cam a2200000 a 4500")
    assert ld.record_status == "c" and ld.coding_scheme == "a" and ld[6:8] == "am"
    ld.record_status = "n"
    ld[0:5] = "00123"
    assert str(ld) == "00123nam a2200000 a 4500"
    with pytest.raises(pymarc.exceptions.BadLeaderValue):
        ld[0:5] = "1"
    with pytest.raises(pymarc.exceptions.RecordLeaderInvalid):
        Leader("short")


def test_count():
    assert pymarc.count(shared("records", "pymarc-marc.dat")) == 20


def test_lookups_by_tag_and_code_as_pymarc():
    """record[tag] and field[code] (in C): pymarc's results and bare
    KeyErrors, the same Field object on every access, for records read
    (payload form), built (fields list) and copied or pickled."""
    import copy
    import pickle
    recs = [r for r in records(shared("records", "marc4j-summerland.mrc")) if r is not None]
    r = recs[0]
    f = r["245"]
    assert f is r["245"] and f is r.get_fields("245")[0] and f["a"] == f.get_subfields("a")[0]
    for bad in ("999", 245, "24", "2455", None):
        with pytest.raises(KeyError) as e:
            r[bad]
        assert e.value.args == ()
    with pytest.raises(KeyError) as e:
        f["9"]
    assert e.value.args == ()
    with pytest.raises(KeyError):
        r["001"]["a"]  # a control field has no subfields
    assert r["001"].subfields == [] and r["001"].indicator1 == ""

    class AnyTag(str):
        def __eq__(self, other):
            return other == "245"

        __hash__ = str.__hash__
    assert r[AnyTag("xxx")] is f
    for other in (copy.deepcopy(r), pickle.loads(pickle.dumps(r)), copy.copy(r)):
        assert other["245"]["a"] == f["a"] and other.as_marc() == r.as_marc()
    r.fields  # the record becomes a list of fields: lookups go through it
    f["a"]  # noqa: B018
    r.remove_field(f)
    with pytest.raises(KeyError):
        r["245"]
    r.add_field(Field("245", Indicators("1", "0"), [Subfield("b", "x"), Subfield("a", "New")]))
    assert r["245"]["a"] == "New"
    r["245"].subfields = (("a", "tuple"),)  # any iterable of pairs, as pymarc
    assert r["245"]["a"] == "tuple"
    made = Record()
    with pytest.raises(KeyError):
        made["245"]
    made.add_field(Field("245", subfields=[Subfield("a", "T")]), Field("001", data="x"))
    assert made["245"]["a"] == "T" and made["001"].data == "x"
    made.custom = 1  # records and fields keep arbitrary attributes
    made["245"].custom = 2
    assert made.custom == 1 and made["245"].custom == 2


def test_field_subclass_overriding_subfields():
    class Computed(Field):
        @property
        def subfields(self):
            return [Subfield("a", "computed")]

        @subfields.setter
        def subfields(self, value):
            pass
    f = Computed("245", subfields=[Subfield("a", "stored")])
    assert f["a"] == "computed"
    with pytest.raises(KeyError):
        f["b"]
