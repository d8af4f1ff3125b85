"""A small harness for the real-client tests (tests/clients/*.py).

Each test file registers checks with @check and calls main(). The target is
described by the environment of scripts/with_serve.sh (`wirebuf serve`) or
scripts/with_pg.sh (real PostgreSQL 15), the same variables for both:
WB_PG_HOST (socket dir), WB_PG_PORT, WB_PG_ADDR (TCP address, default
127.0.0.1), WB_PG_DB, WB_PG_SUPER (role), WB_PG_PASSWORD, WB_PG_TARGET
("serve" or unset).

Every check runs even when an earlier one failed; each prints "ok" or
"FAIL name: error", and the process exits 1 if any failed, 77 (ctest skip)
when the client library is missing or no target is described. A check that
hangs longer than WB_CHECK_TIMEOUT seconds (default 60) makes the process
print every thread's traceback and exit 1. WB_TEST_ONLY=a,b runs only the
checks with those names; WB_TEST_SKIP=a,b leaves those out (ctest uses it
for the checks known to fail against wirebuf serve, see CMakeLists.txt).
"""
import faulthandler
import os
import sys
import time
import traceback

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


def need(module):
    """Import a client library or skip the whole file (exit 77)."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        skip("%s not installed (%s); /usr/bin/python3 needs Debian's package" % (module, e))


def env():
    if not os.environ.get("WB_PG_PORT"):
        skip("no server: run under scripts/with_serve.sh or scripts/with_pg.sh")
    return {
        "host": os.environ["WB_PG_HOST"],
        "addr": os.environ.get("WB_PG_ADDR", "127.0.0.1"),
        "port": int(os.environ["WB_PG_PORT"]),
        "db": os.environ.get("WB_PG_DB", "postgres"),
        "user": os.environ.get("WB_PG_SUPER", "postgres"),
        "password": os.environ.get("WB_PG_PASSWORD", ""),
        "target": os.environ.get("WB_PG_TARGET", "postgres"),
    }


def _short(v, limit=300):
    r = repr(v)
    return r if len(r) <= limit else r[:limit] + "... (%d chars)" % len(r)


def eq(got, want, what=""):
    """Assert got == want; long values are shown around the first difference."""
    if got == want:
        return
    if isinstance(got, (str, bytes)) and isinstance(want, type(got)):
        i = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        raise AssertionError("%s: differs at offset %d of %d/%d: got %s, want %s" % (
            what or "value", i, len(got), len(want), _short(got[max(0, i - 40):i + 80]),
            _short(want[max(0, i - 40):i + 80])))
    raise AssertionError("%s: got %s, want %s" % (what or "value", _short(got), _short(want)))


def main(setup=None):
    env()
    only = [s for s in os.environ.get("WB_TEST_ONLY", "").split(",") if s]
    skipped = [s for s in os.environ.get("WB_TEST_SKIP", "").split(",") if s]
    timeout = float(os.environ.get("WB_CHECK_TIMEOUT", "60"))
    name = os.path.basename(sys.argv[0])
    if setup is not None:
        setup()
    failed = []
    ran = 0
    for fn in CHECKS:
        if only and fn.__name__ not in only:
            continue
        if fn.__name__ in skipped:
            print("skip %s (WB_TEST_SKIP)" % fn.__name__)
            continue
        ran += 1
        t0 = time.monotonic()
        faulthandler.dump_traceback_later(timeout, exit=True)
        try:
            fn()
        except Exception as e:  # report and go on with the next check
            failed.append(fn.__name__)
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            print("FAIL %s: %s: %s" % (fn.__name__, type(e).__name__, first))
            if os.environ.get("WB_VERBOSE"):
                traceback.print_exc()
            else:
                tb = traceback.extract_tb(e.__traceback__)
                mine = [f for f in tb if f.filename.endswith(name)]
                if mine:
                    print("     at %s line %d: %s" % (name, mine[-1].lineno, mine[-1].line))
        else:
            print("ok   %s (%.2f s)" % (fn.__name__, time.monotonic() - t0))
        finally:
            faulthandler.cancel_dump_traceback_later()
        sys.stdout.flush()
    print("%s: %d checks, %d failed%s" % (name, ran, len(failed),
                                          (": " + ", ".join(failed)) if failed else ""))
    sys.exit(1 if failed else 0)
