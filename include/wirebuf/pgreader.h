/* wirebuf/pgreader.h - framing PostgreSQL v3 messages out of a wb_stream,
 * and the plain/TLS transport both ends share.
 *
 * The buffer is state, the reader is a view: a wb_pg_reader borrows the
 * connection's wb_stream and hands out each whole message as a wb_pg_msg
 * view into the stream's buffer. The message is consumed lazily (on the
 * next call), so its view stays valid until the next wb_pg_reader_next(),
 * wb_pg_reader_consume() or any call that may refill/reserve the stream.
 *
 * Size caps (checked from the length word BEFORE any bytes are asked for,
 * so a hostile peer cannot make the buffer grow): frontend messages as
 * PostgreSQL 15's postgres.c SocketBackend does it: Query, Parse, Bind,
 * CopyData and FunctionCall may be up to 1 GiB (PQ_LARGE_MESSAGE_LIMIT);
 * every other type, and the password/SASL messages, at most 10,000 bytes
 * (PQ_SMALL_MESSAGE_LIMIT; SASL up to 64 KiB as PG_MAX_AUTH_TOKEN_LENGTH);
 * the untyped startup packet 10,000 bytes (MAX_STARTUP_PACKET_LENGTH).
 * Backend messages (what a client reads) may all be up to 1 GiB.
 *
 * Used by the server (src/server) on push streams (non-blocking: 0 = "would
 * block", come back when the event loop has pushed more bytes) and by the
 * client (src/pg/events.c), whose callback stream blocks inside
 * wb_stream_need until the bytes or an error arrive (a callback may also
 * return WB_STREAM_AGAIN to make it non-blocking). A message already whole
 * in the buffer is framed without calling into the stream's source.
 *
 * Threads: a reader is used by the thread that owns its stream.
 */
#ifndef WIREBUF_PGREADER_H
#define WIREBUF_PGREADER_H
#include "wirebuf/pgproto.h"
#include "wirebuf/stream.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#ifdef __cplusplus
extern "C" {
#endif

#define WB_PG_LARGE_MESSAGE_LIMIT (1024u * 1024u * 1024u - 1u) /* bytes after the type byte */
#define WB_PG_SMALL_MESSAGE_LIMIT 10000u
#define WB_PG_AUTH_MESSAGE_LIMIT 65535u
#define WB_PG_STARTUP_LIMIT 10000u

/* Which peer's messages a reader frames. */
enum wb_pg_side { WB_PG_FROM_FRONTEND = 0, WB_PG_FROM_BACKEND = 1 };

/* Largest length word (bytes, including the 4 of the word) accepted for a
 * message of this type coming from that side. */
size_t wb_pg_max_len(uint8_t type, int side);

/* Results of wb_pg_reader_next. */
enum wb_pg_read {
    WB_PG_READ_ERROR = -1, /* malformed framing / over the cap / source error /
                              EOF inside a message: message in r->err; the
                              stream is left where the bad message starts */
    WB_PG_READ_AGAIN = 0,  /* would block: no whole message buffered yet */
    WB_PG_READ_MSG = 1,    /* *m is the next message */
    WB_PG_READ_EOF = 2     /* clean end of stream at a message boundary */
};

typedef struct wb_pg_reader {
    wb_stream *in;     /* borrowed; outlives the reader */
    int side;          /* enum wb_pg_side */
    int startup;       /* 1: the next message is untyped (StartupMessage,
                          SSLRequest, GSSENCRequest, CancelRequest); set
                          by the server, cleared by the caller */
    size_t consume;    /* bytes of the message last returned */
    size_t need;       /* after AGAIN: total bytes the next message needs (for
                          the caller's reserve size) */
    uint64_t messages; /* messages returned so far */
    char err[256];
} wb_pg_reader;

/* Set up a reader on stream `in` (not owned). */
void wb_pg_reader_init(wb_pg_reader *r, wb_stream *in, int side);
/* Frame the next message (consuming the previous one first). Untyped
 * startup-phase messages come back with m->type 0 while r->startup is 1. */
int wb_pg_reader_next(wb_pg_reader *r, wb_pg_msg *m);
/* Consume the message last returned now (before reserving room in the
 * stream, so the room can reuse its bytes). */
void wb_pg_reader_consume(wb_pg_reader *r);
/* 1 if wb_pg_reader_next() would answer without more bytes: a whole
 * message is buffered, or a header whose length word is invalid (next()
 * then reports it). No consumption, no reads. */
int wb_pg_reader_has_message(const wb_pg_reader *r);

/* ------------------------------------------------------------------ */
/* Transport: one small ops table for plain sockets and TLS (PgBouncer's
 * SBufIO shape), shared by the server and the client. Non-blocking: recv/send return the byte count, 0 for a clean EOF
 * (recv only), WB_STREAM_AGAIN when the operation would block (io->want_write
 * says whether it waits for writability, e.g. a TLS renegotiation during
 * recv), or -1 with a message in io->err. The fd is not closed by close();
 * the TLS session is freed by it. */
typedef struct wb_pg_io wb_pg_io;
typedef struct wb_pg_io_ops {
    ssize_t (*recv)(wb_pg_io *io, void *buf, size_t n);
    ssize_t (*send)(wb_pg_io *io, const void *buf, size_t n);
    void (*close)(wb_pg_io *io);
} wb_pg_io_ops;

struct wb_pg_io {
    const wb_pg_io_ops *ops;
    int fd;
    void *ssl;      /* OpenSSL SSL * while TLS is in use, else NULL */
    int want_write; /* set by an AGAIN that waits for POLLOUT */
    int wait;       /* plain recv only: 1 = wait inside recv(2) for bytes
                       (the caller made fd blocking; one syscall per wait,
                       the client's hot path), 0 = never block (default) */
    char err[256];
};

/* Plain socket transport on fd (non-blocking recv/send with MSG_NOSIGNAL). */
void wb_pg_io_plain(wb_pg_io *io, int fd);
/* Switch io to TLS as the server (ctx: an SSL_CTX * with certificate and
 * key). Returns 0, or -1 with io->err. Then call wb_pg_io_handshake until it
 * returns 1 (done), 0 (AGAIN: wait for io->want_write ? POLLOUT : POLLIN)
 * or -1 (failed, io->err). */
int wb_pg_io_tls_server(wb_pg_io *io, void *ssl_ctx);
/* Switch io to TLS as the client (ctx: an SSL_CTX * set up by the caller
 * with its verification mode). host: the server name, sent as SNI unless it
 * is an IP address, and checked against the certificate when verify_host is
 * 1 (sslmode=verify-full); NULL for neither. 0, or -1 with io->err. Then
 * wb_pg_io_handshake as for the server. */
int wb_pg_io_tls_client(wb_pg_io *io, void *ssl_ctx, const char *host, int verify_host);
int wb_pg_io_handshake(wb_pg_io *io);
/* tls-server-end-point channel binding data (RFC 5929 §4.1) of the server
 * certificate of io's TLS session (ours on the server side, the peer's on a
 * client): the certificate hashed with its signature's digest (SHA-256 for
 * MD5/SHA-1). Returns the length (<= 64) written to out, or -1. */
int wb_pg_io_tls_end_point(const wb_pg_io *io, int server_side, uint8_t out[64]);

#ifdef __cplusplus
}
#endif
#endif
