"""The record leader (pymarc.leader): 24 characters with named positions."""

from .constants import LEADER_LEN
from .exceptions import BadLeaderValue, RecordLeaderInvalid

_POSITIONS = {
    "record_length": slice(0, 5),
    "record_status": 5,
    "type_of_record": 6,
    "bibliographic_level": 7,
    "type_of_control": 8,
    "coding_scheme": 9,
    "indicator_count": 10,
    "subfield_code_count": 11,
    "base_address": slice(12, 17),
    "encoding_level": 17,
    "cataloging_form": 18,
    "multipart_ressource": 19,
    "length_of_field_length": 20,
    "starting_character_position_length": 21,
    "implementation_defined_length": 22,
}


class Leader:
    """Mutable MARC leader. ``str(leader)`` is the 24 characters; items and
    slices read and write positions; named properties (``record_status``,
    ``coding_scheme``, ...) read and write theirs. Raises RecordLeaderInvalid
    when not 24 characters, BadLeaderValue when a write has the wrong length."""

    def __init__(self, leader):
        leader = str(leader)
        if len(leader) != LEADER_LEN:
            raise RecordLeaderInvalid("leader must be %d characters, got %d" % (LEADER_LEN, len(leader)))
        self.leader = leader

    def __getitem__(self, item):
        if isinstance(item, (int, slice)):
            return self.leader[item]
        return getattr(self, item)

    def __setitem__(self, item, value):
        if isinstance(item, slice):
            start, stop, _ = item.indices(LEADER_LEN)
            if len(value) != stop - start:
                raise BadLeaderValue("%r does not fit leader[%d:%d]" % (value, start, stop))
            self.leader = self.leader[:start] + value + self.leader[stop:]
        elif isinstance(item, int):
            if len(value) != 1:
                raise BadLeaderValue("leader[%d] takes one character, got %r" % (item, value))
            pos = item % LEADER_LEN
            self.leader = self.leader[:pos] + value + self.leader[pos + 1:]
        else:
            setattr(self, item, value)

    def __str__(self):
        return self.leader

    def __repr__(self):
        return "Leader(%r)" % self.leader

    def __len__(self):
        return LEADER_LEN

    def __eq__(self, other):
        return str(self) == str(other)

    def __hash__(self):
        return hash(self.leader)

    def __add__(self, other):
        return self.leader + str(other)

    def __radd__(self, other):
        return str(other) + self.leader


def _make_property(name, pos):
    def get(self):
        return self.leader[pos]

    def set(self, value):
        self[pos] = value

    return property(get, set, doc="leader position %s" % (
        "%d-%d" % (pos.start, pos.stop - 1) if isinstance(pos, slice) else "%d" % pos))


for _name, _pos in _POSITIONS.items():
    setattr(Leader, _name, _make_property(_name, _pos))

__all__ = ["Leader"]
