"""A MARCReader cannot crash the interpreter: shared by threads, closed from
another thread, re-entered from its own file object's read(), dropped
mid-batch (run under ASAN+UBSAN by `make asan`). And file objects with a
real descriptor are read natively, from their position, and left where
pymarc would leave them."""
import gc
import gzip
import io
import os
import pathlib
import subprocess
import threading

import pytest

from wirebuf.marc import MARCReader
from conftest import shared

# (recover, threads): pymarc mode decodes in the calling thread (threads=1) or in
# one worker filling the next batch (threads>=2); recover=True
# runs the pipeline, with a framer thread calling .read() when threads >= 2
THREADS = [(False, 1), (False, 2), (True, 1), (True, 2), (True, 3)]


@pytest.fixture(scope="module")
def data():
    return open(shared("records", "loc-bibliographic-386.mrc"), "rb").read()


def record_ends(data):
    """Byte offset just past each record (the 0x1D terminators)."""
    return [i + 1 for i, b in enumerate(data) if b == 0x1D]


def ids(records):
    return [r["001"].data for r in records if r is not None]


@pytest.mark.parametrize("recover,threads", THREADS)
def test_one_reader_many_threads(data, recover, threads):
    want = ids(MARCReader(data, recover=recover, threads=threads))
    reader = MARCReader(data, recover=recover, threads=threads)
    got, errors = [], []
    lock = threading.Lock()

    def work():
        try:
            for rec in reader:
                if rec is not None:
                    with lock:
                        got.append(rec["001"].data)
        except Exception as ex:  # pragma: no cover - would be a failure below
            errors.append(ex)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
        assert not t.is_alive(), "a thread hung"
    assert errors == []
    assert sorted(got) == sorted(want)  # every record exactly once, none wrong


@pytest.mark.parametrize("recover,threads", THREADS)
def test_close_from_another_thread(data, recover, threads):
    reader = MARCReader(data * 20, recover=recover, threads=threads, batch_size=7)
    seen = []
    started = threading.Event()
    outcome = []

    def loop():
        try:
            for rec in reader:
                seen.append(rec)
                started.set()
            outcome.append("stopped")
        except Exception as ex:
            outcome.append(ex)
        started.set()

    t = threading.Thread(target=loop)
    t.start()
    started.wait(30)
    reader.close()
    t.join(60)
    assert not t.is_alive()
    assert outcome == ["stopped"]
    assert 0 < len(seen) <= 386 * 20
    assert all(r is not None for r in seen)
    with pytest.raises(StopIteration):
        next(reader)
    reader.close()  # twice is fine


@pytest.mark.parametrize("recover,threads", THREADS)
def test_current_chunk_read_from_another_thread(data, recover, threads):
    reader = MARCReader(data * 5, recover=recover, threads=threads, batch_size=5)
    stop = threading.Event()
    seen = []

    def poll():
        while not stop.is_set():
            c = reader.current_chunk
            e = reader.current_exception
            if c:
                seen.append(len(c))
            del e

    t = threading.Thread(target=poll)
    t.start()
    try:
        n = sum(1 for rec in reader if rec is not None)
    finally:
        stop.set()
        t.join(30)
    assert n == 386 * 5
    assert all(x > 0 for x in seen)


class Calling(io.RawIOBase):
    """A file-like whose read() calls back into the reader that reads it."""

    def __init__(self, data, action):
        self.bio = io.BytesIO(data)
        self.action = action
        self.reader = None
        self.raised = []
        # set once .reader is: with threads > 1 the framer thread may ask
        # for the second chunk before the test has stored the reader, and
        # that read must still call back into it (seen under load)
        self.armed = threading.Event()

    def readable(self):
        return True

    def read(self, n=-1):
        if self.bio.tell() > 0:
            self.armed.wait(30)
            try:
                self.action(self.reader)
            except RuntimeError as ex:
                self.raised.append(str(ex))
                raise
        return self.bio.read(n)


@pytest.mark.parametrize("recover,threads", THREADS)
@pytest.mark.parametrize("action", [
    lambda r: r.close(),
    lambda r: r.__init__(b""),
    lambda r: next(r),
    lambda r: list(r),
])
def test_read_that_reenters_the_reader(data, recover, threads, action):
    src = Calling(data, action)
    reader = MARCReader(src, recover=recover, threads=threads)
    src.reader = reader
    src.armed.set()
    got = 0
    with pytest.raises(RuntimeError, match="re-entered from its own read"):
        for rec in reader:
            got += 1
    assert src.raised and "re-entered" in src.raised[0]
    assert got < 386
    # the reader is still usable for closing, and then ends
    reader.close()
    with pytest.raises(StopIteration):
        next(reader)


@pytest.mark.parametrize("recover,threads", THREADS)
def test_reader_dropped_mid_batch(data, recover, threads):
    for src in (data, io.BytesIO(data)):
        reader = MARCReader(src, recover=recover, threads=threads, batch_size=50)
        next(reader)
        next(reader)
        del reader
        gc.collect()


@pytest.mark.parametrize("recover,threads", THREADS)
def test_reinit_replaces_the_source(data, recover, threads):
    reader = MARCReader(data, recover=recover, threads=threads)
    first = next(reader)
    reader.__init__(data[record_ends(data)[0]:], recover=recover, threads=threads)
    second = next(reader)
    assert first["001"].data != second["001"].data
    assert len(list(reader)) == 384


def test_path_with_nul_raises_value_error(tmp_path, data):
    path = tmp_path / "x.mrc"
    path.write_bytes(data)
    with pytest.raises(ValueError):
        open(str(path) + "\0junk", "rb")
    with pytest.raises(ValueError):
        MARCReader(str(path) + "\0junk")
    with pytest.raises(ValueError):
        MARCReader(pathlib.Path(str(path) + "\0"))


def as_marc_all(reader):
    return [None if r is None else r.as_marc() for r in reader]


@pytest.mark.parametrize("recover,threads", THREADS)
def test_file_object_is_read_natively_and_equals_path(tmp_path, data, recover, threads):
    path = tmp_path / "x.mrc"
    path.write_bytes(data)
    want = as_marc_all(MARCReader(str(path), recover=recover, threads=threads))
    with open(path, "rb") as f:
        reader = MARCReader(f, recover=recover, threads=threads)
        assert reader.backend == "fd"
        assert as_marc_all(reader) == want
        assert f.tell() == len(data)  # at the end, as pymarc leaves it
    with open(path, "rb", buffering=0) as f:
        reader = MARCReader(f, recover=recover, threads=threads)
        assert reader.backend == "fd"
        assert as_marc_all(reader) == want
    assert as_marc_all(MARCReader(io.BytesIO(data), recover=recover, threads=threads)) == want
    assert as_marc_all(MARCReader(data, recover=recover, threads=threads)) == want


@pytest.mark.parametrize("recover,threads", THREADS)
def test_file_object_from_its_position_and_left_where_pymarc_would(tmp_path, data, recover, threads):
    path = tmp_path / "x.mrc"
    path.write_bytes(b"JUNK!" + data)
    ends = record_ends(data)
    with open(path, "rb") as f:
        f.read(5)  # the object has buffered far more: its position is what counts
        f.seek(5 + ends[2])
        reader = MARCReader(f, recover=recover, threads=threads)
        recs = [next(reader) for _ in range(4)]
        assert recs[0].as_marc() == data[ends[2]:ends[3]]
        reader.close()
        # pymarc would have read exactly four records
        assert f.closed
    with open(path, "rb") as f:
        f.seek(5)
        reader = MARCReader(f, recover=recover, threads=threads)
        for _ in range(10):
            next(reader)
        del reader
        gc.collect()
        assert f.tell() == 5 + ends[9]
        assert f.read(5) == data[ends[9]:ends[9] + 5]


@pytest.mark.parametrize("recover,threads", THREADS)
def test_seekable_read_object_put_back_on_close(data, recover, threads):
    ends = record_ends(data)
    src = io.BytesIO(b"xx" + data)
    src.seek(2)
    reader = MARCReader(src, recover=recover, threads=threads)
    assert reader.backend == "python"
    for _ in range(3):
        next(reader)
    _marc_close = reader.close
    reader.file_handle = None  # keep the BytesIO open to look at it
    _marc_close()
    assert src.tell() == 2 + ends[2]
    src.seek(2)
    assert len(list(MARCReader(src, recover=recover, threads=threads))) == len(ends)
    assert src.tell() == len(data) + 2


@pytest.mark.parametrize("recover,threads", THREADS)
def test_pipe_file_object(data, recover, threads):
    want = as_marc_all(MARCReader(data, recover=recover, threads=threads))
    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    feeder = threading.Thread(target=lambda: (proc.stdin.write(data), proc.stdin.close()))
    feeder.start()
    head = proc.stdout.peek(1)[:1]  # the object holds buffered bytes: they must not be lost
    assert head
    reader = MARCReader(proc.stdout, recover=recover, threads=threads)
    assert reader.backend == "fd"
    assert as_marc_all(reader) == want
    feeder.join()
    proc.stdout.close()
    proc.wait()


def test_wrappers_with_a_fileno_use_read(tmp_path, data):
    path = tmp_path / "x.mrc.gz"
    with gzip.open(path, "wb") as g:
        g.write(data)
    with gzip.open(path, "rb") as g:
        reader = MARCReader(g)
        assert reader.backend == "python"  # fileno() is the compressed file's
        assert as_marc_all(reader) == as_marc_all(MARCReader(data))
    with open(path.with_suffix(""), "w") as t:
        t.write("x")
    with open(path.with_suffix(""), "r") as t:
        with pytest.raises(TypeError, match="binary"):
            list(MARCReader(t))
