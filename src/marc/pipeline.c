/* The parallel ordered record pipeline (see wirebuf/pipeline.h).
 *
 * Why a ring of batches and three counters: the framer fills slot
 * frame_seq % nslots only when that slot is FREE (the consumer released it),
 * workers take batches in framing order (work_seq), and the consumer waits
 * for slot cons_seq % nslots to be DONE. Order therefore comes for free from
 * the ring, and the number of slots bounds memory: a slow consumer stops the
 * framer, a slow worker stops the consumer, nothing queues without limit.
 * One mutex guards the counters and slot states; it is never held while
 * framing, parsing or converting, so the threads only meet at batch
 * boundaries (once per ~100 records). */
#include "wirebuf/pipeline.h"
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SLOT_FREE, SLOT_READY, SLOT_WORKING, SLOT_DONE, SLOT_OUT };

struct wb_marc_pipeline {
    wb_stream *s;
    wb_marc_pipeline_opts o;
    /* framer state (framer thread only, or the caller with threads = 0) */
    uint64_t number; /* records framed so far */
    int eof;         /* the stream said no more bytes */
    int ended;       /* framing finished (end of input or fatal) */
    int fatal;       /* a read or memory error ended the stream */
    int fatal_told;
    wb_marc_error fatal_err;
    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv_space, cv_work, cv_done;
    uint64_t frame_seq, work_seq, cons_seq;
    int framing_done, stop;
    size_t nslots;
    wb_marc_batch *slots;
    wb_marc_record *scratch; /* one per worker (one for threads = 0) */
    pthread_t framer;
    pthread_t *workers;
    unsigned started; /* workers started */
    int framer_started;
};

unsigned wb_marc_default_threads(void)
{
    const char *e = getenv("WIREBUF_THREADS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == 0 && v >= 1)
            return v > WB_PIPELINE_MAX_THREADS ? WB_PIPELINE_MAX_THREADS : (unsigned)v;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (n > WB_PIPELINE_MAX_THREADS ? WB_PIPELINE_MAX_THREADS : (unsigned)n) : 1;
}

/* Frame up to batch_records records (or batch_bytes bytes) into b.
 * Returns the number of records framed; sets p->ended at the end of input
 * or on a fatal error (p->fatal, p->fatal_err). */
static size_t frame_batch(wb_marc_pipeline *p, wb_marc_batch *b)
{
    wb_stream *s = p->s;
    b->n = 0;
    b->raw.len = 0;
    b->out.len = 0;
    size_t scanned = 0; /* bytes already searched for a terminator */
    while (!p->ended && b->n < p->o.batch_records && b->raw.len < p->o.batch_bytes) {
        size_t avail;
        const uint8_t *ptr = wb_stream_peek(s, &avail);
        wb_marc_frame fr;
        enum wb_marc_frame_kind k = wb_marc_frame_scan(ptr, avail, p->eof, p->o.flags, scanned, &fr);
        if (k == WB_FRAME_NEED) {
            /* blanks need not stay buffered; resume the search where it stopped */
            wb_stream_consume(s, fr.skip);
            avail -= fr.skip;
            scanned = fr.scanned > fr.skip ? fr.scanned - fr.skip : 0;
            size_t want = fr.need > fr.skip + avail ? fr.need - fr.skip : avail + 1;
            if (!wb_stream_need(s, want, NULL)) {
                if (wb_stream_error(s)) {
                    p->fatal = 1;
                    p->ended = 1;
                    memset(&p->fatal_err, 0, sizeof p->fatal_err);
                    p->fatal_err.record = p->number + 1;
                    wb_marc_errorf(&p->fatal_err, wb_stream_offset(s), "%s", wb_stream_error(s));
                    break;
                }
                p->eof = 1;
            }
            continue;
        }
        if (k == WB_FRAME_END) {
            wb_stream_consume(s, fr.skip);
            p->ended = 1;
            break;
        }
        scanned = 0;
        wb_marc_item *it = &b->items[b->n];
        memset(it, 0, sizeof *it);
        it->raw_off = b->raw.len;
        if (k == WB_FRAME_JUNK) { /* record number 0 unless a rejected record */
            it->err.record = fr.record ? ++p->number : 0;
            it->status = WB_MARC_BAD;
            wb_marc_errorf(&it->err, wb_stream_offset(s), "%s", fr.msg);
            wb_stream_consume(s, fr.skip);
            b->n++;
            continue;
        }
        it->err.record = ++p->number;
        if (wb_buf_append(&b->raw, ptr + fr.skip, fr.len) != 0) {
            p->number--;
            p->fatal = p->ended = 1;
            memset(&p->fatal_err, 0, sizeof p->fatal_err);
            wb_marc_errorf(&p->fatal_err, wb_stream_offset(s), "out of memory");
            break;
        }
        wb_stream_consume(s, fr.skip);
        it->err.offset = wb_stream_offset(s);
        it->raw_len = fr.len;
        it->status = WB_MARC_OK;
        if (fr.resynced) {
            it->status = WB_MARC_RECOVERED;
            wb_marc_errorf(&it->err, it->err.offset, "%s", fr.msg);
        }
        wb_stream_consume(s, fr.len);
        b->n++;
    }
    return b->n;
}

/* Parse and run the work function on every framed record of b. */
static void work_batch(wb_marc_pipeline *p, wb_marc_batch *b, wb_marc_record *rec)
{
    for (size_t i = 0; i < b->n; i++) {
        wb_marc_item *it = &b->items[i];
        it->out_off = b->out.len;
        it->out_len = 0;
        if (it->status == WB_MARC_BAD)
            continue;
        const uint8_t *raw = b->raw.p + it->raw_off;
        uint64_t at = it->err.offset;
        wb_marc_error e = {0};
        int rc = wb_marc_parse(rec, raw, it->raw_len, p->o.flags, &e);
        char fm[sizeof it->err.msg]; /* copied only when a message is joined */
        if (rc < 0) {
            if (it->status == WB_MARC_RECOVERED) { /* why the framer distrusted the length, too */
                memcpy(fm, it->err.msg, sizeof fm);
                wb_marc_errorf(&it->err, at + e.offset, "%s (%s)", e.msg, fm);
            } else {
                wb_marc_errorf(&it->err, at + e.offset, "%s", e.msg);
            }
            it->status = WB_MARC_BAD;
            continue;
        }
        if (rc > 0) { /* the framer's resync, then every repair of the parser */
            if (it->status == WB_MARC_RECOVERED) {
                memcpy(fm, it->err.msg, sizeof fm);
                wb_marc_errorf(&it->err, at + e.offset, "%s; %s", fm, e.msg);
            } else {
                wb_marc_errorf(&it->err, at + e.offset, "%s", e.msg);
            }
            it->status = WB_MARC_RECOVERED;
        }
        if (!p->o.work)
            continue;
        rec->number = it->err.record;
        rec->offset = at;
        wb_marc_error we = {0};
        enum wb_marc_status st = p->o.work(p->o.arg, rec, raw, it->raw_len, &b->out, &it->user, &we);
        if (st == WB_MARC_BAD) {
            b->out.len = it->out_off;
            it->status = WB_MARC_BAD;
            wb_marc_errorf(&it->err, we.offset ? we.offset : at, "%s", we.msg[0] ? we.msg : "record rejected");
            continue;
        }
        if (st == WB_MARC_RECOVERED && it->status == WB_MARC_OK) {
            it->status = WB_MARC_RECOVERED;
            wb_marc_errorf(&it->err, we.offset ? we.offset : at, "%s", we.msg);
        } else if (st == WB_MARC_RECOVERED) { /* every problem, not only the first */
            memcpy(fm, it->err.msg, sizeof fm);
            wb_marc_errorf(&it->err, it->err.offset, "%s; %s", fm, we.msg);
        }
        it->out_len = b->out.len - it->out_off;
    }
}

static void *framer_main(void *arg)
{
    wb_marc_pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        wb_marc_batch *b = &p->slots[p->frame_seq % p->nslots];
        while (!p->stop && b->state != SLOT_FREE)
            pthread_cond_wait(&p->cv_space, &p->mu);
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->mu);
        size_t n = frame_batch(p, b);
        pthread_mutex_lock(&p->mu);
        if (n > 0) {
            b->seq = p->frame_seq++;
            b->state = SLOT_READY;
            pthread_cond_signal(&p->cv_work);
        }
        if (p->ended) {
            p->framing_done = 1;
            pthread_cond_broadcast(&p->cv_work);
            pthread_cond_broadcast(&p->cv_done);
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

typedef struct worker_arg {
    wb_marc_pipeline *p;
    wb_marc_record *rec;
} worker_arg;

static void *worker_main(void *arg)
{
    wb_marc_pipeline *p = ((worker_arg *)arg)->p;
    wb_marc_record *rec = ((worker_arg *)arg)->rec;
    free(arg);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->work_seq == p->frame_seq && !p->framing_done)
            pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->stop || p->work_seq == p->frame_seq)
            break; /* stopped, or framing is done and nothing is left */
        wb_marc_batch *b = &p->slots[p->work_seq++ % p->nslots];
        b->state = SLOT_WORKING;
        pthread_mutex_unlock(&p->mu);
        work_batch(p, b, rec);
        pthread_mutex_lock(&p->mu);
        b->state = SLOT_DONE;
        pthread_cond_broadcast(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void set_why(char *why, const char *msg)
{
    if (why) {
        strncpy(why, msg, 119);
        why[119] = 0;
    }
}

wb_marc_pipeline *wb_marc_pipeline_new(wb_stream *s, const wb_marc_pipeline_opts *opts, char *why)
{
    if (!s || !opts) {
        set_why(why, "no stream or options");
        return NULL;
    }
    if (opts->threads > WB_PIPELINE_MAX_THREADS) {
        set_why(why, "too many threads (at most 64)");
        return NULL;
    }
    if (opts->batch_records > WB_PIPELINE_MAX_BATCH) {
        set_why(why, "batch size must be 1..200 records");
        return NULL;
    }
    wb_marc_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        set_why(why, "out of memory");
        return NULL;
    }
    p->s = s;
    p->o = *opts;
    if (!p->o.batch_records)
        p->o.batch_records = 100;
    if (!p->o.batch_bytes)
        p->o.batch_bytes = 300 * 1000;
    unsigned nw = p->o.threads ? p->o.threads : 1;
    p->nslots = p->o.threads ? 2 * (size_t)p->o.threads + 2 : 1;
    p->slots = calloc(p->nslots, sizeof *p->slots);
    p->scratch = calloc(nw, sizeof *p->scratch);
    p->workers = calloc(nw, sizeof *p->workers);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_space, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    if (!p->slots || !p->scratch || !p->workers)
        goto oom;
    for (size_t i = 0; i < p->nslots; i++) {
        p->slots[i].cap = p->o.batch_records;
        if (!(p->slots[i].items = calloc(p->o.batch_records, sizeof(wb_marc_item))))
            goto oom;
    }
    if (!p->o.threads)
        return p;
    if (pthread_create(&p->framer, NULL, framer_main, p) != 0) {
        set_why(why, "cannot start the framer thread");
        wb_marc_pipeline_free(p);
        return NULL;
    }
    p->framer_started = 1;
    for (unsigned i = 0; i < p->o.threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->p = p;
            wa->rec = &p->scratch[i];
        }
        if (!wa || pthread_create(&p->workers[i], NULL, worker_main, wa) != 0) {
            free(wa);
            set_why(why, "cannot start a worker thread");
            wb_marc_pipeline_free(p);
            return NULL;
        }
        p->started++;
    }
    return p;
oom:
    set_why(why, "out of memory");
    wb_marc_pipeline_free(p);
    return NULL;
}

static enum wb_marc_status end_status(wb_marc_pipeline *p, wb_marc_error *err)
{
    if (p->fatal && !p->fatal_told) {
        p->fatal_told = 1;
        if (err)
            *err = p->fatal_err;
        return WB_MARC_FATAL;
    }
    return WB_MARC_EOF;
}

enum wb_marc_status wb_marc_pipeline_next(wb_marc_pipeline *p, wb_marc_batch **batch, wb_marc_error *err)
{
    *batch = NULL;
    if (!p->o.threads) {
        wb_marc_batch *b = &p->slots[0];
        if (p->ended || frame_batch(p, b) == 0)
            return end_status(p, err);
        work_batch(p, b, &p->scratch[0]);
        b->seq = p->cons_seq++;
        b->state = SLOT_OUT;
        *batch = b;
        return WB_MARC_OK;
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->cons_seq < p->frame_seq) {
            wb_marc_batch *b = &p->slots[p->cons_seq % p->nslots];
            if (b->state == SLOT_DONE) {
                b->state = SLOT_OUT;
                p->cons_seq++;
                pthread_mutex_unlock(&p->mu);
                *batch = b;
                return WB_MARC_OK;
            }
        } else if (p->framing_done) {
            enum wb_marc_status st = end_status(p, err);
            pthread_mutex_unlock(&p->mu);
            return st;
        }
        pthread_cond_wait(&p->cv_done, &p->mu);
    }
}

void wb_marc_pipeline_release(wb_marc_pipeline *p, wb_marc_batch *b)
{
    if (!p || !b)
        return;
    if (!p->o.threads) {
        b->state = SLOT_FREE;
        return;
    }
    pthread_mutex_lock(&p->mu);
    b->state = SLOT_FREE;
    pthread_cond_signal(&p->cv_space);
    pthread_mutex_unlock(&p->mu);
}

void wb_marc_pipeline_free(wb_marc_pipeline *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_space);
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_done);
    pthread_mutex_unlock(&p->mu);
    if (p->framer_started)
        pthread_join(p->framer, NULL);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->workers[i], NULL);
    unsigned nw = p->o.threads ? p->o.threads : 1;
    if (p->scratch)
        for (unsigned i = 0; i < nw; i++)
            wb_marc_record_free(&p->scratch[i]);
    if (p->slots)
        for (size_t i = 0; i < p->nslots; i++) {
            free(p->slots[i].items);
            wb_buf_free(&p->slots[i].out);
            wb_buf_free(&p->slots[i].raw);
        }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_space);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    free(p->slots);
    free(p->scratch);
    free(p->workers);
    free(p);
}
