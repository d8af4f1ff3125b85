"""One throwaway `wirebuf serve` (trust auth, 127.0.0.1, a fresh DATADIR and
a free port) around a test body, for the Python tests that start their own
server (test_vector.py, test_hnsw.py); free_port() also serves test_catalog.py
and test_proxy.py. The server's stderr goes to
$WB_TEST_SERVER_LOG (WB_ENGINE_DEBUG=1 prints each translation there)."""
import os
import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def with_server(cli, prefix, body, check):
    """Start the server, call body(port), stop it with SIGTERM. check(cond,
    what) records a failure: a non-zero exit status (under ASAN: a leak or
    error report) or a server that does not stop within 60 s. Returns 1 if
    the server exited before accepting connections, else 0."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    port = free_port()
    log = open(os.environ.get("WB_TEST_SERVER_LOG", os.devnull), "w")
    srv = subprocess.Popen([cli, "serve", "-D", tmp, "-h", "127.0.0.1", "-p", str(port), "-k", tmp,
                            "--auth", "trust"], stdout=subprocess.DEVNULL, stderr=log)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if srv.poll() is not None:
                    print("server exited with", srv.returncode)
                    return 1
                time.sleep(0.05)
        body(port)
    finally:
        srv.terminate()
        try:
            rc = srv.wait(60)
            check(rc == 0, "server exit status %s" % rc)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
            check(False, "server did not stop on SIGTERM")
        shutil.rmtree(tmp, ignore_errors=True)
        log.close()
    return 0
