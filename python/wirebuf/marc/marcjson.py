"""MARC-in-JSON (pymarc.marcjson)."""

from .reader import JSONReader


class JSONHandler:
    """Receives each record of parse_json_to_array(); keeps them in records."""

    def __init__(self):
        self.records = []

    def process_record(self, record):
        self.records.append(record)


def parse_json_to_array(json_file):
    """All records of a MARC-in-JSON document (path, text or file) as a list."""
    handler = JSONHandler()
    for record in JSONReader(json_file):
        handler.process_record(record)
    return handler.records


__all__ = ["JSONHandler", "parse_json_to_array"]
