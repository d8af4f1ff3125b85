/* libFuzzer target: arbitrary bytes as if from a hostile client, through
 * the wire server's whole frontend path from startup on: the sans-I/O
 * session (src/server/session.c: startup packets, SSL/GSSENC/Cancel
 * requests, protocol negotiation, password/md5/SCRAM exchanges), the
 * message reader's size caps, and in READY the frontend checks and a test
 * engine (tests/test_engine.c built with WB_TEST_ENGINE_FUZZ: no sleeping,
 * short series). The first byte picks the authentication method and the
 * size of the chunks the bytes are pushed in (messages split anywhere).
 * Must never crash, over-read, leak or hang; the session must end in a
 * consistent state (CLOSE, or WAIT with nothing half-consumed). */
#include "../src/server/session.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static wb_engine *engine;
static wb_srv_passwords pw;
static char dir[] = "/tmp/wb_fuzz_frontend.XXXXXX";

static void cleanup(void)
{
    char path[sizeof dir + 32];
    snprintf(path, sizeof path, "%s/postgres.test", dir);
    unlink(path);
    rmdir(dir);
}

static void setup(void)
{
    if (engine)
        return;
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    wb_engine_error err;
    engine = wb_engine_open(dir, NULL, &err);
    if (!engine || wb_srv_passwords_add(&pw, "postgres", "pw") != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1)
        return 0;
    wb_srv_session s;
    if (wb_srv_session_init(&s, 64) != 0)
        return 0;
    s.auth = data[0] & 3; /* trust, password, md5, scram */
    s.pw = &pw;
    s.pid = 1;
    s.key = 2;
    size_t chunk = ((data[0] >> 2) & 31) + 1;
    if (data[0] & 0x80)
        chunk = size; /* all at once */
    data++;
    size--;
    size_t off = 0;
    int done = 0;
    while (!done) {
        if (off < size) {
            size_t n = size - off < chunk ? size - off : chunk;
            size_t room;
            wb_pg_reader_consume(&s.rd);
            uint8_t *w = wb_stream_reserve(s.in, n, &room);
            if (!w)
                break;
            memcpy(w, data + off, n);
            wb_stream_commit(s.in, n);
            off += n;
        } else if (!wb_stream_ended(s.in)) {
            wb_stream_set_eof(s.in);
        }
        for (;;) {
            enum wb_srv_action a = wb_srv_session_step(&s);
            if (a == WB_SRV_LOGIN)
                a = wb_srv_session_login(&s, engine);
            while (a == WB_SRV_ENGINE || a == WB_SRV_FLUSH) {
                wb_buf_clear(&s.out);
                a = wb_srv_session_run(&s);
            }
            wb_buf_clear(&s.out);
            if (a == WB_SRV_CLOSE || a == WB_SRV_CANCEL || a == WB_SRV_TLS) {
                done = 1;
                break;
            }
            if (a == WB_SRV_WAIT)
                break;
        }
        if (off >= size && wb_stream_ended(s.in) && !done) {
            /* at EOF a session must close (nothing more can arrive) */
            if (wb_srv_session_step(&s) != WB_SRV_CLOSE && s.state != WB_SRV_ST_READY)
                abort();
            done = 1;
        }
        if (wb_stream_capacity(s.in) > 64 + 2 * size + 4096 + 256 * 1024)
            abort(); /* the buffer grows only as bytes arrive */
    }
    if (s.es) {
        wb_engine_session_free(s.es);
        s.es = NULL;
    }
    wb_srv_session_destroy(&s);
    return 0;
}
