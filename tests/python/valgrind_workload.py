"""Run under valgrind (PYTHONMALLOC=malloc) by tests/python/valgrind.sh:
read real files through every path of the extension, sequential and
parallel, touching fields and writing them back."""
import io
import os
import sys

sys.path.insert(0, os.path.join(sys.argv[1], "python"))
import wirebuf.marc as pymarc  # noqa: E402

shared = sys.argv[2]
for sub in ("records", "encodings", "broken"):
    d = os.path.join(shared, sub)
    for name in sorted(os.listdir(d)):
        if not name.endswith((".mrc", ".dat")):
            continue
        path = os.path.join(d, name)
        for recover, threads in ((False, 1), (True, 1), (True, 2)):
            for rec in pymarc.MARCReader(path, recover=recover, threads=threads, batch_size=5):
                if rec is None:
                    continue
                rec.get("245")
                rec.get_fields("650", "100")
                try:
                    rec.as_marc()  # MARC-8 records encode as ISO 8859-1, as in pymarc
                except UnicodeEncodeError:
                    pass
                pymarc.record_to_xml(rec)
        with open(path, "rb") as fh:  # read natively from the descriptor, dropped mid-stream
            r = pymarc.MARCReader(fh, recover=True, threads=2)
            try:
                next(r)
            except Exception:
                pass
            del r
with open(os.path.join(shared, "records", "pymarc-marc.dat"), "rb") as fh:
    data = fh.read()
for src in (io.BytesIO(data), data):
    r = pymarc.MARCReader(src)
    next(r)
    r.close()
pymarc.parse_xml_to_array(os.path.join(shared, "xml-json", "pymarc-batch.xml"))
list(pymarc.JSONReader(os.path.join(shared, "xml-json", "pymarc-batch.json")))
print("ok")
