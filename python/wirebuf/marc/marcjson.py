"""MARC-in-JSON (pymarc.marcjson)."""

from .field import Field, Indicators
from .leader import Leader
from .reader import JSONReader
from .record import Record


class JSONHandler:
    """Builds Records from MARC-in-JSON objects (as pymarc's): ``elements``
    takes the parsed document (one object or a list of them), ``element``
    one record object; each Record goes to ``process_record``."""

    def __init__(self):
        self.records = []
        self._record = None
        self._field = None
        self._text = []

    def element(self, element_dict, name=None):
        if not name:
            self._record = Record()
            self.element(element_dict, "leader")
        elif name == "leader":
            self._record.leader = Leader(element_dict[name])
            self.element(element_dict, "fields")
        elif name == "fields":
            for field in element_dict[name]:
                tag, remaining = field.popitem()
                self._field = Field(tag)
                if self._field.control_field:
                    self._field.data = remaining
                else:
                    self.element(remaining, "subfields")
                    self._field.indicators = Indicators(remaining["ind1"], remaining["ind2"])
                self._record.add_field(self._field)
            self.process_record(self._record)
        elif name == "subfields":
            for subfield in element_dict[name]:
                code, text = subfield.popitem()
                self._field.add_subfield(code, text)

    def elements(self, dict_list):
        if type(dict_list) is not list:
            dict_list = [dict_list]
        for rec in dict_list:
            self.element(rec)
        return self.records

    def process_record(self, record):
        self.records.append(record)


def parse_json_to_array(json_file):
    """All records of a MARC-in-JSON document (path, text or file) as a list."""
    return JSONHandler().elements(JSONReader(json_file).records)


__all__ = ["JSONHandler", "parse_json_to_array"]
