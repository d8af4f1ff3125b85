"""pytest setup for wirebuf.pg: the built package and the PostgreSQL that
scripts/with_pg.sh started (WB_PG_* variables); everything skips without it."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("WIREBUF_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(BUILD, "python"))


@pytest.fixture(scope="session")
def dsn():
    if "WB_PG_HOST" not in os.environ:
        pytest.skip("no PostgreSQL: run under scripts/with_pg.sh")
    return "host=%s port=%s dbname=%s user=wb_trust" % (
        os.environ["WB_PG_HOST"], os.environ["WB_PG_PORT"], os.environ["WB_PG_DB"])


@pytest.fixture
def conn(dsn):
    import wirebuf.pg
    c = wirebuf.pg.connect(dsn)
    yield c
    c.close()
