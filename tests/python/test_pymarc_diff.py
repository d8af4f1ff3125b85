"""Differential test: wirebuf.marc against real pymarc on every shared file.

pymarc is not packaged for Debian and there is no PyPI here, so this runs
only when a pymarc source tree is given: WB_PYMARC_SRC=/path/to/checkout
(the directory that contains pymarc/, e.g. pymarc 5.3.1's sdist or a git
checkout of tag v5.3.1). Otherwise every test skips with that message.
"""
import importlib
import io
import os
import sys
import warnings

import pytest

import wirebuf.marc as wb
from conftest import SHARED, shared_files

SRC = os.environ.get("WB_PYMARC_SRC")


def load_pymarc():
    if not SRC or not os.path.isdir(os.path.join(SRC, "pymarc")):
        pytest.skip("set WB_PYMARC_SRC to a pymarc 5.3.1 source tree (the directory holding pymarc/) "
                    "to compare wirebuf.marc with pymarc")
    if SRC not in sys.path:
        sys.path.insert(0, SRC)
    return importlib.import_module("pymarc")


FILES = shared_files("records") + shared_files("encodings") + shared_files("broken")


def exc_key(e):
    if e is None:
        return None
    return (type(e).__name__, str(e), [c.__name__ for c in type(e).__mro__[1:3]])


def props(rec):
    return [rec.title, rec.isbn, rec.author, rec.uniformtitle, rec.issn, rec.publisher, rec.pubyear,
            rec.sudoc, [str(f) for f in rec.notes], [f.format_field() for f in rec.subjects]]


def run_reader(mod, path, **kw):
    out = []
    with open(path, "rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = mod.MARCReader(fh, **kw)
        for rec in reader:
            if rec is None:
                out.append(("None", exc_key(reader.current_exception), reader.current_chunk))
                continue
            item = {"chunk": reader.current_chunk}
            for key, fn in (("dict", rec.as_dict), ("str", lambda: str(rec)), ("props", lambda: props(rec)),
                            ("marc", rec.as_marc)):
                try:
                    item[key] = fn()
                except Exception as ex:  # noqa: BLE001 - the same failure is expected of both
                    item[key] = exc_key(ex)
            item["leader_after"] = str(rec.leader)
            out.append(item)
        tail = fh.tell()
    return out, tail


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
@pytest.mark.parametrize("kw", [{}, {"to_unicode": False}, {"force_utf8": True},
                                {"utf8_handling": "replace"}], ids=str)
def test_reader_same_as_pymarc(path, kw):
    pm = load_pymarc()
    ours, ours_tail = run_reader(wb, path, **kw)
    theirs, their_tail = run_reader(pm, path, **kw)
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, "record %d of %s differs" % (i, os.path.basename(path))
    assert ours_tail == their_tail  # the file object is left where pymarc leaves it


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_xml_and_json_same_as_pymarc(path):
    pm = load_pymarc()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = [r for r in wb.MARCReader(open(path, "rb").read()) if r is not None]
        theirs = [r for r in pm.MARCReader(open(path, "rb").read()) if r is not None]
    for a, b in zip(ours, theirs):
        assert wb.record_to_xml(a) == pm.record_to_xml(b)
        assert wb.record_to_xml(a, namespace=True) == pm.record_to_xml(b, namespace=True)
        assert a.as_json() == b.as_json()
    for mod, recs, out in ((wb, ours, io.BytesIO()), (pm, theirs, io.BytesIO())):
        w = mod.XMLWriter(out)
        for r in recs:
            w.write(r)
        w.close(close_fh=False)
    # the two documents
    bufs = []
    for mod, recs in ((wb, ours), (pm, theirs)):
        out = io.BytesIO()
        w = mod.XMLWriter(out)
        for r in recs:
            w.write(r)
        w.close(close_fh=False)
        bufs.append(out.getvalue())
    assert bufs[0] == bufs[1]


@pytest.mark.parametrize("name", ["pymarc-batch.xml", "pymarc-batch.json"])
def test_xml_json_readers_same_as_pymarc(name):
    pm = load_pymarc()
    path = os.path.join(SHARED, "xml-json", name)
    if not os.path.exists(path):
        pytest.skip("%s not found" % path)
    if name.endswith(".xml"):
        a = [r.as_dict() for r in wb.parse_xml_to_array(path)]
        b = [r.as_dict() for r in pm.parse_xml_to_array(path)]
    else:
        a = [r.as_dict() for r in wb.JSONReader(path)]
        b = [r.as_dict() for r in pm.JSONReader(path)]
    assert a == b


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("base_file", [("records", "pymarc-marc.dat"), ("encodings", "pymarc-marc8.dat"),
                                       ("encodings", "marc4j-chinese_mangled_multibyte.mrc")], ids=str)
@pytest.mark.parametrize("kw", [{}, {"to_unicode": False}], ids=str)
def test_mutated_records_same_as_pymarc(seed, base_file, kw):
    """Random byte mutations of real records (leader, directory, data):
    both readers give the same records, exceptions and chunks."""
    import random
    pm = load_pymarc()
    rng = random.Random(seed)
    path = os.path.join(SHARED, *base_file)
    if not os.path.exists(path):
        pytest.skip("%s not found" % path)
    base = open(path, "rb").read()
    alphabet = b"0123456789 \x1d\x1e\x1f\x1b$1(,)-gbpsN!a-\xe9\xff\xc3\xe2\x80\x8a\xa1"
    for _ in range(100):
        data = bytearray(base[:rng.randrange(min(2000, len(base) - 1), len(base))])
        for _ in range(rng.randrange(1, 6)):
            i = rng.randrange(len(data))
            if rng.random() < 0.5:
                i = rng.randrange(min(60, len(data)))  # leader and first directory entries
            data[i] = rng.choice(alphabet)
        data = bytes(data)
        got = []
        for mod in (wb, pm):
            out = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = mod.MARCReader(io.BytesIO(data), **kw)
                for rec in r:
                    if rec is None:
                        out.append((exc_key(r.current_exception), r.current_chunk))
                    else:
                        try:
                            out.append(rec.as_dict())
                        except Exception as ex:  # noqa: BLE001
                            out.append(exc_key(ex))
            got.append(out)
        assert got[0] == got[1], data[:80]
