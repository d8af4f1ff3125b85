"""MARCReader: input types, batches, EOF, errors at their position, threads,
GIL release, parallel == sequential on every shared file."""
import io
import os
import pathlib
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

import wirebuf.marc as pymarc
from wirebuf.marc import Field, MARCReader, Record, Subfield
from conftest import BUILD, shared, shared_files


def dicts(reader):
    return [None if r is None else r.as_dict() for r in reader]


@pytest.fixture(scope="module")
def marc_bytes():
    return open(shared("records", "pymarc-marc.dat"), "rb").read()


class CountingReader(io.RawIOBase):
    def __init__(self, data):
        self.bio = io.BytesIO(data)
        self.calls = 0

    def read(self, n=-1):
        self.calls += 1
        return self.bio.read(n)


def test_eight_input_types_and_unknown(tmp_path, marc_bytes):
    path = tmp_path / "x.mrc"
    path.write_bytes(marc_bytes)
    want = dicts(MARCReader(str(path)))
    assert len(want) == 20
    r_fd, w_fd = os.pipe()

    def feed():
        with os.fdopen(w_fd, "wb") as w:
            w.write(marc_bytes)

    t = threading.Thread(target=feed)
    t.start()
    a, b = socket.socketpair()

    def feed_sock():
        a.sendall(marc_bytes)
        a.close()

    t2 = threading.Thread(target=feed_sock)
    t2.start()
    sources = [
        (str(path), "file"),
        (pathlib.Path(path), "file"),
        (marc_bytes, "memory"),
        (bytearray(marc_bytes), "memory"),
        (memoryview(marc_bytes), "memory"),
        (open(path, "rb"), "fd"),
        (io.BytesIO(marc_bytes), "python"),
        (os.fdopen(r_fd, "rb"), "fd"),
        (b.makefile("rb"), "python"),
    ]
    for src, backend in sources:
        for threads in (1, 2):
            if backend in ("python", "fd"):
                if not src.seekable():
                    if threads == 2:
                        continue  # one-shot streams: read once
                else:
                    src.seek(0)
            rd = MARCReader(src, threads=threads)
            assert rd.backend == backend
            assert dicts(rd) == want, (type(src), threads)
    t.join()
    t2.join()
    b.close()
    with pytest.raises(TypeError, match="bytes-like object"):
        MARCReader(12345)
    with pytest.raises(TypeError):
        next(MARCReader(io.StringIO("text")))


def test_eof_is_idempotent_without_io(marc_bytes):
    src = CountingReader(marc_bytes)
    r = MARCReader(src, threads=1)
    assert len(list(r)) == 20
    calls = src.calls
    for _ in range(3):
        with pytest.raises(StopIteration):
            next(r)
    assert src.calls == calls


def test_partial_last_batch_217(marc_bytes):
    recs = list(MARCReader(marc_bytes))
    data = b"".join(r.as_marc() for r in (recs * 11)[:217])
    for threads in (1, 2, 3):
        out = list(MARCReader(data, threads=threads, batch_size=100))
        assert len(out) == 217
        assert [r["001"].data for r in out] == [r["001"].data for r in (recs * 11)[:217]]
    with pytest.raises(ValueError):
        MARCReader(data, batch_size=201)


def make(tag_a, n_extra=0, size=0):
    r = Record(force_utf8=True)
    r.add_field(Field("001", data=tag_a))
    r.add_field(Field("245", ["1", "0"], [Subfield("a", "Title " + tag_a)]))
    if size:
        chunk = "x" * 9000
        for i in range(size // 9000 + 1):
            r.add_field(Field("500", [" ", " "], [Subfield("a", chunk)]))
        # wirebuf's writer caps the leader's length at 99999 (pymarc's as_marc
        # would write six digits)
        from wirebuf import _marc
        return _marc.serialize(str(r.leader), r.fields, "marc", "utf-8")
    return r.as_marc()


def test_bad_record_mid_batch_pymarc_and_recover():
    good = [make("r%d" % i) for i in range(120)]
    wrong = bytearray(make("bad"))
    wrong[0:5] = b"%05d" % (len(wrong) + 7)  # wrong length in the leader
    data = b"".join(good[:50]) + bytes(wrong) + b"".join(good[50:])
    # pymarc: the chunk of that length does not end in 0x1D: None with
    # EndOfRecordNotFound (a FatalReaderError), then the iteration ends
    r = MARCReader(data)
    ids = [next(r)["001"].data for _ in range(50)]
    assert ids[-1] == "r49"
    assert next(r) is None
    assert isinstance(r.current_exception, pymarc.EndOfRecordNotFound)
    assert isinstance(r.current_exception, pymarc.FatalReaderError)
    assert r.current_chunk == bytes(wrong) + good[50][:7]
    assert list(r) == []
    # recover=True: the codec resyncs at the record terminator and keeps it
    for threads in (1, 2):
        out = list(MARCReader(data, recover=True, threads=threads))
        assert len(out) == 121 and out[50]["001"].data == "bad"
    # a record pymarc cannot decode: None plus current_exception, in place,
    # and reading goes on
    broken = b"00050nam a2200000   4500" + b"garbage" + b"\x1d"
    broken = b"%05d" % len(broken) + broken[5:]
    data = b"".join(good[:3]) + broken + good[3]
    for kw in ({}, {"recover": True}):
        r = MARCReader(data, **kw)
        got = [x for x in r][:5]
        assert [x is None for x in got] == [False, False, False, True, False]
    r = MARCReader(data)
    for _ in range(4):
        x = next(r)
    assert x is None and isinstance(r.current_exception, pymarc.BaseAddressNotFound)
    assert r.current_chunk == broken


def test_truncated_and_large_records():
    a, b = make("a"), make("b")
    data = a + b[:-10]
    r = MARCReader(data)
    assert next(r)["001"].data == "a"
    assert next(r) is None
    assert isinstance(r.current_exception, pymarc.TruncatedRecord)
    assert r.current_chunk == b[:-10]
    with pytest.raises(StopIteration):
        next(r)
    big = make("big", size=5000)  # > 4 KB
    assert len(big) > 4096
    assert next(MARCReader(big))["500"]["a"] == "x" * 9000
    huge = make("huge", size=120000)  # > 99,999 bytes: the leader says 99999
    assert len(huge) > 99999 and huge[:5] == b"99999"
    r = MARCReader(huge + a)
    assert next(r) is None and isinstance(r.current_exception, pymarc.EndOfRecordNotFound)
    assert list(r) == []
    out = list(MARCReader(huge + a, recover=True))
    assert out[0]["001"].data == "huge" and len(out[0].get_fields("500")) == 14 and out[1]["001"].data == "a"


def test_four_python_threads_same_file():
    path = shared("records", "marc4j-selectedRecs.mrc")
    want = dicts(MARCReader(path))
    results = [None] * 4

    def work(i):
        results[i] = dicts(MARCReader(path, recover=bool(i % 2), threads=1 + i % 2))

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(r == want for r in results)


def test_gil_released_during_native_read(tmp_path, marc_bytes):
    # A reader thread blocks inside C on a FIFO that nobody has written yet;
    # the main thread can only write to it if the GIL was released. If it was
    # not, the child deadlocks and the timeout (not a timing race) fails it.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code = textwrap.dedent(f"""
        import sys, threading
        sys.path.insert(0, {os.path.join(BUILD, 'python')!r})
        import wirebuf.marc as pymarc
        out = []
        t = threading.Thread(target=lambda: out.extend(pymarc.MARCReader({str(fifo)!r}, threads=1)))
        t.start()
        with open({str(fifo)!r}, "wb") as w:   # runs only while the reader waits in C
            w.write(open({shared('records', 'pymarc-marc.dat')!r}, "rb").read())
        t.join()
        print(len(out))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "20"


@pytest.mark.parametrize("path", shared_files("records") + shared_files("encodings") + shared_files("broken"),
                         ids=os.path.basename)
def test_parallel_equals_sequential(path):
    def run(src, **kw):
        r = MARCReader(src, **kw)
        out = []
        for x in r:
            if x is None:
                e = r.current_exception
                out.append((type(e).__name__, str(e), r.current_chunk))
            else:
                out.append(x.as_dict())
        return out
    # recover=True: the parallel pipeline gives what the sequential one does
    assert run(path, recover=True, threads=1) == run(path, recover=True, threads=3, batch_size=7)
    # pymarc mode: path, bytes, file object and .read() give the same records and errors
    data = open(path, "rb").read()
    want = run(path, batch_size=3)
    assert run(data) == want
    with open(path, "rb") as f:
        assert run(f) == want
    assert run(io.BytesIO(data), batch_size=1) == want


def test_drop_reader_mid_stream():
    data = b"".join(make("r%d" % i) for i in range(2000))
    for _ in range(20):
        r = MARCReader(data, threads=3, batch_size=10)
        next(r)
        del r  # frees threads and buffers while the framer is ahead
    r = MARCReader(io.BytesIO(data), threads=2)
    next(r)
    r.close()
    with pytest.raises(StopIteration):
        next(r)


def test_read_error_from_file_object():
    class Boom(io.RawIOBase):
        def read(self, n=-1):
            raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        next(MARCReader(Boom(), threads=2))


def test_pymarc_script_runs_unchanged():
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "examples", "pymarc_script.py")
    assert "wirebuf" not in "".join(l for l in open(script) if l.startswith(("import", "from")))
    env = dict(os.environ, PYTHONPATH=os.path.join(BUILD, "python"))
    outs = []
    for name in ("pymarc-marc.dat", "pymarc-bad_records.mrc"):
        res = subprocess.run([sys.executable, "-m", "wirebuf.marc", script, shared("records", name) if name.endswith(".dat")
                              else shared("broken", name)], capture_output=True, text=True, env=env, timeout=60)
        assert res.returncode == 0, res.stderr
        outs.append(res.stdout)
    assert "The pragmatic programmer : from journeyman to master /" in outs[0]
    assert "records: 20 skipped: 0" in outs[0]
    pymarc_src = os.environ.get("WB_PYMARC_SRC")
    if pymarc_src and os.path.isdir(os.path.join(pymarc_src, "pymarc")):
        # the same script on real pymarc prints the same
        for name, ours in zip(("pymarc-marc.dat", "pymarc-bad_records.mrc"), outs):
            env2 = dict(os.environ, PYTHONPATH=pymarc_src)
            res = subprocess.run([sys.executable, script, shared("records", name) if name.endswith(".dat")
                                  else shared("broken", name)], capture_output=True, text=True, env=env2, timeout=60)
            assert res.returncode == 0, res.stderr
            assert res.stdout == ours
