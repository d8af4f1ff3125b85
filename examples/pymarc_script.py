"""A script written for pymarc 5.3.1 and nothing else. Run it with pymarc,
or unchanged on wirebuf.marc:

    PYTHONPATH=build/python python3 -m wirebuf.marc examples/pymarc_script.py FILE.mrc

(or change its first import to ``import wirebuf.marc as pymarc``).
"""
import io
import sys

import pymarc
from pymarc import Field, Indicators, MARCReader, MARCWriter, Subfield, XMLWriter

n = bad = 0
out = io.BytesIO()
writer = MARCWriter(out)
with open(sys.argv[1], "rb") as fh:
    reader = MARCReader(fh)
    for record in reader:
        if record is None:
            bad += 1
            print("skipped:", type(reader.current_exception).__name__, len(reader.current_chunk or b""), "bytes")
            continue
        n += 1
        print(record.title)
        for f in record.get_fields("650"):
            print("  subject:", f.format_field())
        if record.isbn:
            print("  isbn:", record.isbn)
        record.add_field(Field(tag="999", indicators=Indicators(" ", " "), subfields=[Subfield(code="a", value="seen")]))
        writer.write(record)
    print("position after the loop:", fh.tell())
print("records:", n, "skipped:", bad)
back = list(pymarc.MARCReader(out.getvalue()))
assert all(r["999"]["a"] == "seen" for r in back)
xml = io.BytesIO()
w = XMLWriter(xml)
for r in back[:2]:
    w.write(r)
w.close(close_fh=False)
print(xml.getvalue()[:120].decode())
print(back[0].as_json()[:80])
