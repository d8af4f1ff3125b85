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
        (open(path, "rb"), "python"),
        (io.BytesIO(marc_bytes), "python"),
        (os.fdopen(r_fd, "rb"), "python"),
        (b.makefile("rb"), "python"),
    ]
    for src, backend in sources:
        for threads in (1, 2):
            if threads == 2 and backend == "python" and not isinstance(src, io.BytesIO):
                continue  # one-shot streams: read once below
            if isinstance(src, io.BytesIO):
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
    return r.as_marc()


def test_bad_record_mid_batch_strict_and_permissive():
    good = [make("r%d" % i) for i in range(120)]
    wrong = bytearray(make("bad"))
    wrong[0:5] = b"%05d" % (len(wrong) + 7)  # wrong length in the leader
    data = b"".join(good[:50]) + bytes(wrong) + b"".join(good[50:])
    # strict: the error comes exactly at record 51, reading goes on after it
    for threads in (1, 2):
        r = MARCReader(data, threads=threads)
        ids = [next(r)["001"].data for _ in range(50)]
        assert ids[-1] == "r49"
        with pytest.raises(pymarc.RecordLengthInvalid) as ei:
            next(r)
        assert ei.value.record == 51 and ei.value.offset == sum(map(len, good[:50]))
        assert r.current_exception is ei.value and r.current_chunk == b""
        rest = [x["001"].data for x in r]
        assert rest[0] == "r50" and len(rest) == 70
    # permissive: the codec resyncs at the record terminator and keeps it
    out = list(MARCReader(data, permissive=True))
    assert len(out) == 121 and out[50]["001"].data == "bad"
    # a record that cannot be repaired: None plus current_exception, in place
    broken = b"00050nam a2200000   4500" + b"garbage" + b"\x1d"
    broken = b"%05d" % len(broken) + broken[5:]
    data = b"".join(good[:3]) + broken + good[3]
    r = MARCReader(data, permissive=True)
    got = [x for x in r][:5]
    assert [x is None for x in got] == [False, False, False, True, False]
    r = MARCReader(data, permissive=True)
    for _ in range(4):
        x = next(r)
    assert x is None and isinstance(r.current_exception, pymarc.PymarcException)
    assert r.current_chunk == broken


def test_truncated_and_large_records():
    a, b = make("a"), make("b")
    data = a + b[:-10]
    r = MARCReader(data)
    assert next(r)["001"].data == "a"
    with pytest.raises(pymarc.TruncatedRecord):
        next(r)
    with pytest.raises(StopIteration):
        next(r)
    r = MARCReader(data, permissive=True)
    assert next(r) is not None and next(r) is None
    assert isinstance(r.current_exception, pymarc.TruncatedRecord)
    big = make("big", size=5000)  # > 4 KB
    assert len(big) > 4096
    assert next(MARCReader(big))["500"]["a"] == "x" * 9000
    huge = make("huge", size=120000)  # > 99,999 bytes: the leader says 99999
    assert len(huge) > 99999 and huge[:5] == b"99999"
    with pytest.raises(pymarc.RecordLengthInvalid):
        next(MARCReader(huge + a))
    out = list(MARCReader(huge + a, permissive=True))
    assert out[0]["001"].data == "huge" and len(out[0].get_fields("500")) == 14 and out[1]["001"].data == "a"


def test_four_python_threads_same_file():
    path = shared("records", "marc4j-selectedRecs.mrc")
    want = dicts(MARCReader(path, permissive=True))
    results = [None] * 4

    def work(i):
        results[i] = dicts(MARCReader(path, permissive=True, threads=1 + i % 2))

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
    seq = MARCReader(path, permissive=True, threads=1)
    a = [(None, str(seq.current_exception)) if r is None else r.as_dict() for r in seq]
    par = MARCReader(path, permissive=True, threads=3, batch_size=7)
    b = [(None, str(par.current_exception)) if r is None else r.as_dict() for r in par]
    assert a == b
    strict_seq, strict_par = [], []
    for out, th in ((strict_seq, 1), (strict_par, 2)):
        r = MARCReader(path, threads=th, batch_size=3)
        while True:
            try:
                x = next(r)
            except StopIteration:
                break
            except (pymarc.PymarcException, UnicodeDecodeError) as e:
                out.append(("error", type(e).__name__, str(e)))
                continue
            out.append(x.as_dict())
    assert strict_seq == strict_par


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
    env = dict(os.environ, PYTHONPATH=os.path.join(BUILD, "python"))
    res = subprocess.run([sys.executable, script, shared("records", "pymarc-marc.dat")], capture_output=True,
                         text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "The pragmatic programmer : from journeyman to master /" in res.stdout
    assert "records: 20" in res.stdout
