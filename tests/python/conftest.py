"""pytest setup: the built package (build/python) and the shared MARC files."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("WIREBUF_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(BUILD, "python"))
SHARED = os.environ.get("WIREBUF_SHARED", os.path.join(os.path.dirname(ROOT), "shared", "data", "marc"))


def shared(*parts):
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        pytest.skip("shared MARC data not found at %s (put ../shared beside the repo)" % path)
    return path


def shared_files(folder, exts=(".mrc", ".dat")):
    d = os.path.join(SHARED, folder)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(exts))
