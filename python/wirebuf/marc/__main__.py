"""Run a pymarc script unchanged on wirebuf.marc:

    python3 -m wirebuf.marc SCRIPT.py [ARGS...]

``import pymarc`` (and ``pymarc.record``, ``from pymarc.reader import ...``,
...) inside the script get wirebuf.marc and its submodules."""

import importlib
import runpy
import sys

import wirebuf.marc as _wb

_SUBMODULES = ("constants", "exceptions", "field", "leader", "marc8", "marc8_mapping", "marcjson", "marcxml",
               "reader", "record", "writer")


def install():
    """Make ``import pymarc`` resolve to wirebuf.marc in this process."""
    sys.modules["pymarc"] = _wb
    for name in _SUBMODULES:
        sys.modules["pymarc." + name] = importlib.import_module("wirebuf.marc." + name)


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    install()
    sys.argv = argv[1:]
    runpy.run_path(argv[1], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
