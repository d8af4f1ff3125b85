"""Canonical form of a MARCXML document for differential tests: the records
as plain tuples, so whitespace, attribute order, namespace prefixes and
entity spelling do not matter."""
import xml.etree.ElementTree as ET


def local(tag):
    return tag.rsplit('}', 1)[-1]


def canon(xml_bytes):
    root = ET.fromstring(xml_bytes)
    out = []
    for rec in root.iter():
        if local(rec.tag) != 'record':
            continue
        r = []
        for el in rec:
            t = local(el.tag)
            if t == 'leader':
                r.append(('LDR', el.text or ''))
            elif t == 'controlfield':
                r.append((el.get('tag'), el.text or ''))
            elif t == 'datafield':
                subs = tuple((s.get('code'), s.text or '') for s in el if local(s.tag) == 'subfield')
                r.append((el.get('tag'), el.get('ind1'), el.get('ind2'), subs))
        out.append(r)
    return out
