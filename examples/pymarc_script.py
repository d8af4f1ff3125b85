"""A script written for pymarc 5, run with wirebuf: only the import differs.

    python3 examples/pymarc_script.py FILE.mrc
"""
import io
import sys

import wirebuf.marc as pymarc
from wirebuf.marc import Field, MARCReader, MARCWriter, Subfield

n = 0
out = io.BytesIO()
writer = MARCWriter(out)
with open(sys.argv[1], "rb") as fh:
    reader = MARCReader(fh)
    for record in reader:
        if record is None:
            print("skipped:", reader.current_exception)
            continue
        n += 1
        print(record.title)
        for f in record.get_fields("650"):
            print("  subject:", f.format_field())
        if record.isbn:
            print("  isbn:", record.isbn)
        record.add_field(Field(tag="999", indicators=[" ", " "], subfields=[Subfield(code="a", value="seen")]))
        writer.write(record)
print("records:", n)
back = list(pymarc.MARCReader(out.getvalue()))
assert all(r["999"]["a"] == "seen" for r in back)
print(pymarc.record_to_xml(back[0]).decode()[:60])
