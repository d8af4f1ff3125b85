/* src/proxy/relay.c - the pooling proxy's protocol bookkeeping (relay.h).
 *
 * One idea per part:
 *  - the outstanding queue (struct pend): one entry per message sent to the
 *    server connection that the server will answer, plus entries for answers
 *    the proxy synthesises, in stream order; a backend message is matched
 *    against the head entry, synthesised answers are emitted when they reach
 *    the head, and after an ErrorResponse in the extended protocol the
 *    entries up to the next Sync are dropped, as the server skips them;
 *  - prepared statements: a client's map name -> struct cstmt (its text, its
 *    server-side name "wb_" + 16 hex digits of a 64-bit FNV-1a hash of the
 *    statement's key) and a server connection's set of statements present
 *    (struct sstmt, keyed by that hash, holding the text so that a hash
 *    collision is seen and never runs the wrong statement) with an LRU list;
 *  - session parameters: the values a client wants (StartupMessage, options
 *    -c, ParameterStatus reported during its statements, SET / RESET of
 *    unreported ones as records decided by their ReadyForQuery) and the
 *    values a server connection has and started with; attach replays the
 *    differences (set_config, SET, RESET) in one swallowed Query.
 *
 * No malloc on the hot path: an ordinary Query, Bind/Execute/Sync of a
 * statement the server has, and every backend message touch only the
 * growable queue, the caller's buffers and the two hash tables.
 */
#include "proxy/relay.h"
#include "proxy/sql.h"
#include "wirebuf/pgproto.h"
#include <assert.h>
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* statement keys                                                      */

/* What identifies a server-side statement: how it is created (KEY_PARSE: a
 * protocol Parse of query with `types` = ntypes big-endian OIDs, also a SQL
 * PREPARE without a type list; KEY_PREPARE: SQL PREPARE with `types` = the
 * parenthesised type list as written) and its text. */
enum { KEY_PARSE = 'P', KEY_PREPARE = 'Q' };

typedef struct skey {
    uint64_t hash;
    uint8_t kind;
    uint32_t qlen, tlen; /* query bytes (NUL follows), type bytes */
    char data[];         /* query, NUL, types */
} skey;

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t key_hash(uint8_t kind, const char *q, size_t qlen, const void *types, size_t tlen)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv1a(h, &kind, 1);
    h = fnv1a(h, q, qlen);
    uint8_t z = 0;
    h = fnv1a(h, &z, 1);
    return fnv1a(h, types, tlen);
}

static skey *key_new(uint8_t kind, const char *q, size_t qlen, const void *types, size_t tlen)
{
    if (qlen > UINT32_MAX - 1 || tlen > UINT32_MAX)
        return NULL;
    skey *k = malloc(sizeof *k + qlen + 1 + tlen);
    if (!k)
        return NULL;
    k->hash = key_hash(kind, q, qlen, types, tlen);
    k->kind = kind;
    k->qlen = (uint32_t)qlen;
    k->tlen = (uint32_t)tlen;
    memcpy(k->data, q, qlen);
    k->data[qlen] = 0;
    if (tlen)
        memcpy(k->data + qlen + 1, types, tlen);
    return k;
}

static skey *key_dup(const skey *k)
{
    size_t n = sizeof *k + k->qlen + 1 + k->tlen;
    skey *d = malloc(n);
    if (d)
        memcpy(d, k, n);
    return d;
}

static int key_eq(const skey *a, const skey *b)
{
    return a->hash == b->hash && a->kind == b->kind && a->qlen == b->qlen && a->tlen == b->tlen &&
           memcmp(a->data, b->data, a->qlen + 1 + a->tlen) == 0;
}

#define SRVNAME_LEN 19 /* "wb_" + 16 hex digits */
static void srvname(char out[SRVNAME_LEN + 1], uint64_t h)
{
    static const char hex[] = "0123456789abcdef";
    out[0] = 'w';
    out[1] = 'b';
    out[2] = '_';
    for (int i = 0; i < 16; i++)
        out[3 + i] = hex[(h >> (60 - 4 * i)) & 15];
    out[SRVNAME_LEN] = 0;
}

/* ------------------------------------------------------------------ */
/* parameters: a small list of name = value (case-insensitive names)   */

/* Reported parameters that are properties of the server or the login,
 * not settable with set_config(): never replayed. */
static int replayable(const char *name)
{
    static const char *const fixed[] = {"server_version", "server_encoding", "integer_datetimes", "is_superuser",
                                        "session_authorization", "in_hot_standby", "scram_iterations"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcasecmp(name, fixed[i]) == 0)
            return 0;
    return 1;
}

typedef struct param {
    char *name, *value;
    uint64_t h; /* of the name, case-folded: most comparisons stop here */
    int fixed;  /* not settable (replayable() says 0) */
} param;

typedef struct params {
    param *v;
    int n, cap;
    uint32_t gen; /* changes whenever the contents do */
} params;

static uint64_t ci_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        uint8_t ch = (uint8_t)*s;
        h ^= ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static param *params_find_h(const params *p, const char *name, uint64_t h)
{
    for (int i = 0; i < p->n; i++)
        if (p->v[i].h == h && strcasecmp(p->v[i].name, name) == 0)
            return &p->v[i];
    return NULL;
}

static param *params_find(const params *p, const char *name) { return params_find_h(p, name, ci_hash(name)); }

/* One allocation for a parameter: name, NUL, value, NUL (idle clients
 * keep a few of them). */
static char *pv_block(const char *name, const char *value, char **vout)
{
    size_t nl = strlen(name), vl = strlen(value);
    char *b = malloc(nl + vl + 2);
    if (!b)
        return NULL;
    memcpy(b, name, nl + 1);
    memcpy(b + nl + 1, value, vl + 1);
    *vout = b + nl + 1;
    return b;
}

static int params_set(params *p, const char *name, const char *value)
{
    param *e = params_find(p, name);
    if (e) {
        if (strcmp(e->value, value) == 0)
            return 0;
        char *v, *b = pv_block(e->name, value, &v); /* name and value may point into e */
        if (!b)
            return -1;
        free(e->name);
        e->name = b;
        e->value = v;
        p->gen++;
        return 0;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 2; /* idle clients: a few KB at most */
        param *nv = realloc(p->v, (size_t)cap * sizeof *nv);
        if (!nv)
            return -1;
        p->v = nv;
        p->cap = cap;
    }
    char *v, *n = pv_block(name, value, &v);
    if (!n)
        return -1;
    p->v[p->n].name = n;
    p->v[p->n].value = v;
    p->v[p->n].h = ci_hash(n);
    p->v[p->n].fixed = !replayable(n);
    p->n++;
    p->gen++;
    return 0;
}

static void params_del(params *p, const char *name)
{
    param *e = params_find(p, name);
    if (!e)
        return;
    free(e->name); /* the value's block too */
    *e = p->v[--p->n];
    p->gen++;
}

static void params_clear(params *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->v[i].name); /* the value's block too */
    p->n = 0;
    p->gen++;
}

static void params_free(params *p)
{
    params_clear(p);
    free(p->v);
    p->v = NULL;
    p->cap = 0;
}

/* A fingerprint of the contents, independent of their order. */
static uint64_t params_fp(const params *p)
{
    uint64_t fp = (uint64_t)p->n;
    for (int i = 0; i < p->n; i++) {
        uint64_t x = fnv1a(p->v[i].h, p->v[i].value, strlen(p->v[i].value));
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        fp += x;
    }
    return fp;
}

static int params_copy(params *dst, const params *src)
{
    params_clear(dst);
    for (int i = 0; i < src->n; i++)
        if (params_set(dst, src->v[i].name, src->v[i].value) != 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* server connections                                                  */

/* A statement present on a server connection. */
typedef struct sstmt {
    skey *key;
    struct sstmt *prev, *next; /* LRU: head most recent */
} sstmt;

struct wb_relay_server {
    size_t max_prepared;
    sstmt **tab; /* open addressing on key->hash, linear probing */
    size_t tabcap, count;
    sstmt *lru_head, *lru_tail;
    params values;     /* session parameter values the server has now */
    params defaults;   /* the values it reported at start-up (its RESET ALL) */
    /* after a replay: the values are those of wanted parameters with
     * fingerprint synced_fp, as long as values.gen is still synced_gen */
    int synced;
    uint32_t synced_gen;
    uint64_t synced_fp;
    char status;       /* last ReadyForQuery: I/T/E */
    int batch_open;    /* extended-protocol messages sent since the last Sync */
    int dirty;         /* detached with responses outstanding */
    int reset_pending; /* ReadyForQuery of the reset still to come */
    wb_relay_client *holder;
};

wb_relay_server *wb_relay_server_new(size_t max_prepared)
{
    wb_relay_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->max_prepared = max_prepared ? max_prepared : 1000;
    s->status = 'I';
    return s;
}

static void lru_unlink(wb_relay_server *s, sstmt *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_front(wb_relay_server *s, sstmt *e)
{
    e->prev = NULL;
    e->next = s->lru_head;
    if (s->lru_head)
        s->lru_head->prev = e;
    s->lru_head = e;
    if (!s->lru_tail)
        s->lru_tail = e;
}

static void lru_touch(wb_relay_server *s, sstmt *e)
{
    if (s->lru_head != e) {
        lru_unlink(s, e);
        lru_front(s, e);
    }
}

static size_t sset_slot(const wb_relay_server *s, uint64_t h)
{
    size_t mask = s->tabcap - 1, i = (size_t)h & mask;
    while (s->tab[i] && s->tab[i]->key->hash != h)
        i = (i + 1) & mask;
    return i;
}

static sstmt *sset_get(const wb_relay_server *s, uint64_t h)
{
    if (!s->tabcap)
        return NULL;
    return s->tab[sset_slot(s, h)];
}

static int sset_grow(wb_relay_server *s)
{
    size_t ncap = s->tabcap ? s->tabcap * 2 : 16;
    sstmt **nt = calloc(ncap, sizeof *nt);
    if (!nt)
        return -1;
    sstmt **old = s->tab;
    size_t ocap = s->tabcap;
    s->tab = nt;
    s->tabcap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i])
            s->tab[sset_slot(s, old[i]->key->hash)] = old[i];
    free(old);
    return 0;
}

/* Remove by hash (backward-shift deletion keeps probe chains whole). */
static void sset_del(wb_relay_server *s, uint64_t h)
{
    if (!s->tabcap)
        return;
    size_t mask = s->tabcap - 1, i = sset_slot(s, h);
    sstmt *e = s->tab[i];
    if (!e)
        return;
    lru_unlink(s, e);
    free(e->key);
    free(e);
    s->count--;
    s->tab[i] = NULL;
    for (size_t j = (i + 1) & mask; s->tab[j]; j = (j + 1) & mask) {
        size_t home = (size_t)s->tab[j]->key->hash & mask;
        /* move tab[j] into the hole at i if its home is not in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            s->tab[i] = s->tab[j];
            s->tab[j] = NULL;
            i = j;
        }
    }
}

static void sset_clear(wb_relay_server *s)
{
    for (sstmt *e = s->lru_head, *n; e; e = n) {
        n = e->next;
        free(e->key);
        free(e);
    }
    s->lru_head = s->lru_tail = NULL;
    if (s->tab)
        memset(s->tab, 0, s->tabcap * sizeof *s->tab);
    s->count = 0;
}

/* Add k (copied); the hash must not be present. 0 or -1. */
static int sset_add(wb_relay_server *s, const skey *k)
{
    if ((s->count + 1) * 4 > s->tabcap * 3 && sset_grow(s) != 0)
        return -1;
    sstmt *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    e->key = key_dup(k);
    if (!e->key) {
        free(e);
        return -1;
    }
    s->tab[sset_slot(s, k->hash)] = e;
    s->count++;
    lru_front(s, e);
    return 0;
}

void wb_relay_server_free(wb_relay_server *s)
{
    if (!s)
        return;
    sset_clear(s);
    free(s->tab);
    params_free(&s->values);
    params_free(&s->defaults);
    free(s);
}

int wb_relay_server_param(wb_relay_server *s, const char *name, const char *value)
{
    return params_set(&s->values, name, value) != 0 || params_set(&s->defaults, name, value) != 0 ? -1 : 0;
}

int wb_relay_server_clean(const wb_relay_server *s)
{
    return s->status == 'I' && !s->batch_open && !s->dirty && !s->reset_pending;
}

int wb_relay_server_reset(wb_relay_server *s, wb_buf *to_server)
{
    if (wb_pg_put_query(to_server, "DISCARD ALL") != 0)
        return -1;
    s->reset_pending++;
    sset_clear(s);
    return params_copy(&s->values, &s->defaults);
}

static int is_fatal(const uint8_t *body, uint32_t len)
{
    wb_pg_msg m = {'E', len, body};
    wb_pg_fields f;
    if (wb_pg_parse_fields(&m, &f, NULL, 0) != 0)
        return 1;
    const char *sev = f.severity_nonlocal ? f.severity_nonlocal : f.severity;
    return sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0);
}

static int server_track_param(wb_relay_server *s, const uint8_t *body, uint32_t len, const char **name,
                              const char **value)
{
    wb_pg_msg m = {'S', len, body};
    if (wb_pg_parse_parameter_status(&m, name, value, NULL, 0) != 0)
        return 1;
    return params_set(&s->values, *name, *value) != 0 ? -1 : 0;
}

int wb_relay_server_idle_msg(wb_relay_server *s, uint8_t type, const uint8_t *body, uint32_t len)
{
    const char *n, *v;
    switch (type) {
    case 'S': {
        int r = server_track_param(s, body, len, &n, &v);
        return r < 0 ? WB_RELAY_S_NOMEM : r > 0 ? WB_RELAY_S_BROKEN : WB_RELAY_S_OK;
    }
    case 'N':
    case 'A':
        return WB_RELAY_S_OK;
    case 'E':
        if (is_fatal(body, len) || !s->reset_pending)
            return WB_RELAY_S_BROKEN;
        return WB_RELAY_S_OK; /* the reset failed: its ReadyForQuery follows */
    case 'C':
        return s->reset_pending ? WB_RELAY_S_OK : WB_RELAY_S_BROKEN;
    case 'Z': {
        wb_pg_msg m = {'Z', len, body};
        char st;
        if (!s->reset_pending || wb_pg_parse_ready_for_query(&m, &st, NULL, 0) != 0)
            return WB_RELAY_S_BROKEN;
        s->status = st;
        if (--s->reset_pending)
            return WB_RELAY_S_OK;
        return st == 'I' ? WB_RELAY_S_RELEASE : WB_RELAY_S_BROKEN;
    }
    default:
        return WB_RELAY_S_BROKEN;
    }
}

/* ------------------------------------------------------------------ */
/* clients                                                             */

/* A client's named prepared statement. Referenced by the client's map and
 * by queue entries (refs). */
/* A SET (val: RAW + the value's SQL text), RESET name (val NULL) or RESET
 * ALL (name NULL) the client ran; owner: the serial of the Query or Sync
 * whose ReadyForQuery decides it. */
typedef struct setrec {
    char *name, *val;
    uint32_t owner;
} setrec;

/* A statement's or portal's SET, if it is one (has). */
typedef struct setslot {
    int has;
    setrec r;
} setslot;

typedef struct cstmt {
    int refs;
    int mapped; /* in the client's map */
    skey *key;
    setslot set; /* a Parse of SET / RESET: what executing it does */
    char srv[SRVNAME_LEN + 1];
    char name[]; /* the client's name */
} cstmt;

enum { U_NORMAL = 0, U_DEALLOC, U_DEALLOC_ALL, U_DISCARD };

enum pend_kind {
    P_QUERY,       /* client Query: forward until ReadyForQuery */
    P_FUNC,        /* FunctionCall: forward until ReadyForQuery */
    P_SYNC,        /* Sync: ReadyForQuery */
    P_PARSE,       /* client Parse: ParseComplete */
    P_BIND,        /* BindComplete */
    P_DESC_S,      /* ParameterDescription, then RowDescription | NoData */
    P_DESC_P,      /* RowDescription | NoData */
    P_EXEC,        /* rows, then CommandComplete | EmptyQuery | PortalSuspended */
    P_CLOSE,       /* client Close passed through: CloseComplete */
    P_INJ_PARSE,   /* our Parse: ParseComplete swallowed */
    P_INJ_CLOSE,   /* our Close (LRU eviction / collision): swallowed */
    P_INJ_QUERY,   /* our Query: everything swallowed up to ReadyForQuery */
    P_INJ_SYNC,    /* our Sync: ReadyForQuery swallowed */
    P_SYN,         /* synthesised answer: bytes of c->syn */
    P_COPY_END     /* the client's CopyDone/CopyFail sent before the server
                      began COPY FROM STDIN: where the ignored Syncs end */
};

enum {
    F_FWD_ERR = 1,   /* P_INJ_*: an ErrorResponse goes to the client */
    F_REPLAY = 2,    /* P_INJ_QUERY: the parameter replay */
    F_RFQ = 4,       /* P_SYN: followed by ReadyForQuery (current status) */
    F_DUP = 8,       /* P_PARSE: a duplicate name, the server's 42P05 renamed */
    F_ADDED = 16,    /* the entry added `hash` to the server set: undo on error */
    F_PREPARE = 32,  /* P_QUERY: SQL PREPARE of st */
    F_DISCARD = 64,  /* P_QUERY: DISCARD ALL */
    F_PREFIX = 128,  /* P_QUERY: `n` CommandCompletes of our PREPARE first */
    F_SET = 256,     /* P_QUERY: `nset` records of c->setq (SET / RESET) */
    F_ERRSEEN = 512, /* P_QUERY: an ErrorResponse came */
    F_FWD_PS = 1024, /* P_INJ_QUERY: its ParameterStatus go to the client */
    F_MUTE = 2048    /* the proxy answered an error before it: the server's
                        answers are swallowed, as PostgreSQL skips to Sync */
};

typedef struct pend {
    uint8_t kind;
    uint8_t stage; /* P_DESC_S: ParameterDescription seen */
    uint16_t flags;
    uint16_t n;
    uint32_t owner; /* P_QUERY (F_SET) / P_SYNC: the serial its setrecs carry */
    uint32_t off, len;
    cstmt *st;
    uint64_t hash;
} pend;

struct wb_relay_client {
    wb_relay_server *server;
    /* the queue: ring of qcap entries from qhead, qlen used; allocated at
     * the first request, given back by wb_relay_client_trim */
    pend *q;
    uint32_t qcap, qhead, qlen;
    uint32_t wanted_fp_gen; /* params_fp(wanted) is wanted_fp when wanted->gen
                               was this (+1: 0 = never) */
    wb_buf syn;    /* synthesised answers' bytes */
    /* named statements: open addressing on name hash */
    cstmt **tab;
    size_t tabcap, count;
    wb_relay_startup *startup; /* the StartupMessage's values (shared) */
    params *wanted; /* the values the session has now: &startup->p (shared,
                       read only) until the session changes one, then its own */
    uint64_t wanted_fp;
    wb_buf tmp;     /* scratch for rewritten SQL */
    /* SET / RESET of the client's Queries: setq waits for the Query's
     * ReadyForQuery, tentative for the end of the transaction block */
    setrec *setq, *tentative;
    int nsetq, capsetq, ntent, captent;
    uint32_t serial;    /* last owner serial given */
    uint32_t open_sync; /* owner of Executes' setrecs until the next Sync (0: none yet) */
    setslot unnamed;    /* the unnamed statement's SET */
    setslot portal;     /* the unnamed portal's SET */
    char *uname, *pname; /* U_DEALLOC's statement name (allocated) */
    /* a Query answered WB_RELAY_NEED_SERVER comes again (relay.h): its
     * wb_psql_maybe_special result is kept for that call (body, length and
     * first and last bytes must match) */
    const uint8_t *memo_body;
    uint32_t memo_len;
    uint64_t memo_ends;
    /* small fields together (an idle client keeps this struct) */
    uint8_t mode;
    char txn;       /* last ReadyForQuery sent to the client */
    uint8_t skipping;  /* after an extended-protocol error, no Sync queued: drop until Sync */
    uint8_t copy_in;   /* the server is in COPY FROM STDIN */
    uint8_t skip_err;  /* skipping after an error: the coming Sync's batch failed */
    /* the unnamed statement / portal when it is DEALLOCATE (answered here:
     * U_DEALLOC, U_DEALLOC_ALL) or DISCARD ALL (U_DISCARD), as psycopg 3
     * sends them with the extended protocol */
    uint8_t ukind, pkind;
    uint8_t replay_pending; /* DISCARD ALL done: replay at the next ReadyForQuery */
    uint8_t commit_seen; /* a CommandComplete "COMMIT" since the last ReadyForQuery */
};

static void setrecs_free(setrec *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].val);
    }
}

static uint64_t name_hash(const char *s) { return fnv1a(0xcbf29ce484222325ULL, s, strlen(s)); }

static void slot_clear(setslot *x)
{
    if (x->has) {
        free(x->r.name);
        free(x->r.val);
    }
    memset(x, 0, sizeof *x);
}

static int slot_copy(setslot *dst, const setslot *src)
{
    slot_clear(dst);
    if (!src->has)
        return 0;
    dst->r.name = src->r.name ? strdup(src->r.name) : NULL;
    dst->r.val = src->r.val ? strdup(src->r.val) : NULL;
    if ((src->r.name && !dst->r.name) || (src->r.val && !dst->r.val)) {
        free(dst->r.name);
        free(dst->r.val);
        memset(dst, 0, sizeof *dst);
        return -1;
    }
    dst->has = 1;
    return 0;
}

static void cstmt_unref(cstmt *s)
{
    if (s && --s->refs == 0) {
        slot_clear(&s->set);
        free(s->key);
        free(s);
    }
}

static size_t cmap_slot(const wb_relay_client *c, const char *name, uint64_t h)
{
    size_t mask = c->tabcap - 1, i = (size_t)h & mask;
    while (c->tab[i] && strcmp(c->tab[i]->name, name) != 0)
        i = (i + 1) & mask;
    return i;
}

static cstmt *cmap_get(const wb_relay_client *c, const char *name)
{
    if (!c->count)
        return NULL;
    return c->tab[cmap_slot(c, name, name_hash(name))];
}

static int cmap_grow(wb_relay_client *c)
{
    size_t ncap = c->tabcap ? c->tabcap * 2 : 16;
    cstmt **nt = calloc(ncap, sizeof *nt);
    if (!nt)
        return -1;
    cstmt **old = c->tab;
    size_t ocap = c->tabcap;
    c->tab = nt;
    c->tabcap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i])
            c->tab[cmap_slot(c, old[i]->name, name_hash(old[i]->name))] = old[i];
    free(old);
    return 0;
}

static int cmap_put(wb_relay_client *c, cstmt *s)
{
    if ((c->count + 1) * 4 > c->tabcap * 3 && cmap_grow(c) != 0)
        return -1;
    size_t i = cmap_slot(c, s->name, name_hash(s->name));
    assert(!c->tab[i]);
    c->tab[i] = s;
    c->count++;
    s->mapped = 1;
    s->refs++;
    return 0;
}

static void cmap_del(wb_relay_client *c, cstmt *s)
{
    if (!s->mapped)
        return;
    size_t mask = c->tabcap - 1, i = cmap_slot(c, s->name, name_hash(s->name));
    assert(c->tab[i] == s);
    c->tab[i] = NULL;
    c->count--;
    s->mapped = 0;
    for (size_t j = (i + 1) & mask; c->tab[j]; j = (j + 1) & mask) {
        size_t home = (size_t)name_hash(c->tab[j]->name) & mask;
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            c->tab[i] = c->tab[j];
            c->tab[j] = NULL;
            i = j;
        }
    }
    cstmt_unref(s);
}

static void cmap_clear(wb_relay_client *c)
{
    for (size_t i = 0; i < c->tabcap; i++)
        if (c->tab[i]) {
            c->tab[i]->mapped = 0;
            cstmt_unref(c->tab[i]);
            c->tab[i] = NULL;
        }
    c->count = 0;
}

/* A new statement (refs 0, not mapped). */
static cstmt *cstmt_new(const char *name, skey *key)
{
    size_t n = strlen(name);
    cstmt *s = calloc(1, sizeof *s + n + 1);
    if (!s)
        return NULL;
    memcpy(s->name, name, n + 1);
    s->key = key;
    srvname(s->srv, key->hash);
    return s;
}

/* "-c name=value" / "--name=value" in the options startup parameter
 * (PostgreSQL 15 docs §20.1.4; backslash escapes a space). */
static int parse_options(params *p, const char *opt)
{
    char tok[1024];
    int want_c = 0;
    const char *s = opt;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        if (!*s)
            break;
        size_t n = 0;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
            if (*s == '\\' && s[1])
                s++;
            if (n + 1 < sizeof tok)
                tok[n++] = *s;
            s++;
        }
        tok[n] = 0;
        const char *kv = NULL;
        if (want_c) {
            kv = tok;
            want_c = 0;
        } else if (strcmp(tok, "-c") == 0) {
            want_c = 1;
            continue;
        } else if (strncmp(tok, "-c", 2) == 0) {
            kv = tok + 2;
        } else if (strncmp(tok, "--", 2) == 0) {
            kv = tok + 2;
        }
        if (!kv)
            continue;
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv)
            continue;
        *eq = 0;
        for (char *d = (char *)kv; *d; d++)
            if (*d == '-')
                *d = '_';
        if (params_set(p, kv, eq + 1) != 0)
            return -1;
    }
    return 0;
}

/* ---- start-up parameter sets (shared, immutable, refcounted) ---- */

struct wb_relay_startup {
    atomic_int refs;
    params p;
};

wb_relay_startup *wb_relay_startup_new(const char *const *names, const char *const *values, int n)
{
    wb_relay_startup *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    atomic_init(&s->refs, 1);
    for (int i = 0; i < n; i++) {
        if (!names[i] || !values[i] || strcmp(names[i], "user") == 0 || strcmp(names[i], "database") == 0 ||
            strcmp(names[i], "replication") == 0 || strncmp(names[i], "_pq_.", 5) == 0)
            continue;
        int r = strcmp(names[i], "options") == 0 ? parse_options(&s->p, values[i])
                                                 : params_set(&s->p, names[i], values[i]);
        if (r != 0) {
            wb_relay_startup_unref(s);
            return NULL;
        }
    }
    if (s->p.cap > s->p.n && s->p.n) { /* shared by many: no spare slots */
        param *v = realloc(s->p.v, (size_t)s->p.n * sizeof *v);
        if (v) {
            s->p.v = v;
            s->p.cap = s->p.n;
        }
    }
    return s;
}

wb_relay_startup *wb_relay_startup_ref(wb_relay_startup *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void wb_relay_startup_unref(wb_relay_startup *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        params_free(&s->p);
        free(s);
    }
}

/* same contents in any order */
static int params_same(const params *a, const params *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++) {
        const param *e = params_find_h(b, a->v[i].name, a->v[i].h);
        if (!e || strcmp(e->value, a->v[i].value) != 0)
            return 0;
    }
    return 1;
}

int wb_relay_startup_same(const wb_relay_startup *a, const wb_relay_startup *b)
{
    return a == b || params_same(&a->p, &b->p);
}

const char *wb_relay_startup_get(const wb_relay_startup *s, const char *name)
{
    const param *e = params_find(&s->p, name);
    return e ? e->value : NULL;
}

/* ---- the client's wanted values: copy on write ---- */

static int wanted_shared(const wb_relay_client *c) { return c->wanted == &c->startup->p; }

/* the session's own copy, made on its first change */
static params *wanted_own(wb_relay_client *c)
{
    if (!wanted_shared(c))
        return c->wanted;
    params *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    if (params_copy(w, &c->startup->p) != 0) {
        params_free(w);
        free(w);
        return NULL;
    }
    c->wanted = w;
    c->wanted_fp_gen = 0; /* another object: its gen says nothing */
    return w;
}

static int wanted_set(wb_relay_client *c, const char *name, const char *value)
{
    if (wanted_shared(c)) {
        const param *e = params_find(c->wanted, name);
        if (e && strcmp(e->value, value) == 0)
            return 0;
    }
    params *w = wanted_own(c);
    return w ? params_set(w, name, value) : -1;
}

static int wanted_del(wb_relay_client *c, const char *name)
{
    if (wanted_shared(c) && !params_find(c->wanted, name))
        return 0;
    params *w = wanted_own(c);
    if (!w)
        return -1;
    params_del(w, name);
    return 0;
}

/* back to the start-up values (shared again) */
static void wanted_reset(wb_relay_client *c)
{
    if (!wanted_shared(c)) {
        params_free(c->wanted);
        free(c->wanted);
        c->wanted = &c->startup->p;
        c->wanted_fp_gen = 0;
    }
}

wb_relay_client *wb_relay_client_new_shared(int mode, wb_relay_startup *startup)
{
    wb_relay_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->mode = (uint8_t)mode;
    c->txn = 'I';
    c->startup = wb_relay_startup_ref(startup);
    c->wanted = &startup->p;
    return c;
}

wb_relay_client *wb_relay_client_new(int mode, const char *const *names, const char *const *values, int n)
{
    wb_relay_startup *s = wb_relay_startup_new(names, values, n);
    if (!s)
        return NULL;
    wb_relay_client *c = wb_relay_client_new_shared(mode, s);
    wb_relay_startup_unref(s);
    return c;
}

static void q_clear(wb_relay_client *c)
{
    for (uint32_t i = 0; i < c->qlen; i++)
        cstmt_unref(c->q[(c->qhead + i) % c->qcap].st);
    c->qlen = 0;
    c->qhead = 0;
    wb_buf_clear(&c->syn);
    /* what the lost requests would have done is unknown: not recorded */
    setrecs_free(c->setq, c->nsetq);
    c->nsetq = 0;
    c->open_sync = 0;
    c->skip_err = 0;
}

void wb_relay_client_free(wb_relay_client *c)
{
    if (!c)
        return;
    if (c->server)
        c->server->holder = NULL;
    q_clear(c);
    free(c->q);
    cmap_clear(c);
    free(c->tab);
    wb_buf_free(&c->syn);
    wb_buf_free(&c->tmp);
    wanted_reset(c);
    wb_relay_startup_unref(c->startup);
    setrecs_free(c->setq, c->nsetq);
    setrecs_free(c->tentative, c->ntent);
    slot_clear(&c->unnamed);
    slot_clear(&c->portal);
    free(c->setq);
    free(c->tentative);
    free(c->uname);
    free(c->pname);
    free(c);
}

/* ---- the queue ---- */

static pend *q_push(wb_relay_client *c, uint8_t kind)
{
    if (c->qlen == c->qcap) {
        uint32_t ncap = c->qcap ? c->qcap * 2 : 4;
        pend *nq = malloc((size_t)ncap * sizeof *nq);
        if (!nq)
            return NULL;
        for (uint32_t i = 0; i < c->qlen; i++)
            nq[i] = c->q[(c->qhead + i) % c->qcap];
        free(c->q);
        c->q = nq;
        c->qcap = ncap;
        c->qhead = 0;
    }
    pend *p = &c->q[(c->qhead + c->qlen) % c->qcap];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    c->qlen++;
    return p;
}

void wb_relay_client_trim(wb_relay_client *c)
{
    if (c->server || c->qlen)
        return;
    free(c->q);
    c->q = NULL;
    c->qcap = c->qhead = 0;
    wb_buf_free(&c->syn);
    wb_buf_free(&c->tmp);
    if (!c->count) {
        free(c->tab);
        c->tab = NULL;
        c->tabcap = 0;
    }
    if (!c->nsetq) {
        free(c->setq);
        c->setq = NULL;
        c->capsetq = 0;
    }
    if (!c->ntent) {
        free(c->tentative);
        c->tentative = NULL;
        c->captent = 0;
    }
}

static pend *q_head(wb_relay_client *c) { return c->qlen ? &c->q[c->qhead] : NULL; }

static void q_pop(wb_relay_client *c)
{
    assert(c->qlen);
    cstmt_unref(c->q[c->qhead].st);
    c->qhead = (c->qhead + 1) % c->qcap;
    if (--c->qlen == 0) { /* idle: the scratch buffers go back (rarely used) */
        c->qhead = 0;
        wb_buf_free(&c->syn);
        wb_buf_free(&c->tmp);
    }
}

static int put_error(wb_buf *b, const char *severity, const char *sqlstate, const char *message)
{
    wb_pg_fields f;
    memset(&f, 0, sizeof f);
    f.severity = severity;
    f.severity_nonlocal = severity;
    f.sqlstate = sqlstate;
    f.message = message;
    return wb_pg_put_fields(b, 'E', &f);
}

/* Emit one synthesised entry. */
static int emit_syn(wb_relay_client *c, const pend *p, wb_buf *to_client)
{
    if (wb_buf_append(to_client, c->syn.p + p->off, p->len) != 0)
        return -1;
    if ((p->flags & F_RFQ) && wb_pg_put_ready_for_query(to_client, c->txn) != 0)
        return -1;
    return 0;
}

/* Emit the synthesised answers that have reached the head. */
static void undo(wb_relay_client *c, pend *p);

/* 1 if PostgreSQL accepts the statement text in a failed transaction
 * (IsTransactionExitStmt: COMMIT / END, ROLLBACK / ABORT [TO SAVEPOINT],
 * PREPARE TRANSACTION); every other Parse there is 25P02. */
static int txn_exit(const char *q)
{
    size_t n = strlen(q);
    wb_psql_stmt st[2];
    char err[128];
    if (!wb_psql_maybe_special(q, n) || wb_psql_analyse(q, n, st, 2, err, sizeof err) != 1)
        return 0;
    if (st[0].kind == WB_PSQL_TXN_END)
        return 1;
    const char *t = q + st[0].off;
    size_t l = st[0].len;
    if ((l >= 8 && strncasecmp(t, "rollback", 8) == 0 && (l == 8 || !isalnum((unsigned char)t[8]))) ||
        (l >= 5 && strncasecmp(t, "abort", 5) == 0 && (l == 5 || !isalnum((unsigned char)t[5]))))
        return 1;
    return st[0].kind == WB_PSQL_OTHER && l >= 7 && strncasecmp(t, "prepare", 7) == 0;
}

static int drain_syn(wb_relay_client *c, wb_buf *to_client)
{
    pend *h;
    while ((h = q_head(c)) && (h->kind == P_SYN || h->kind == P_COPY_END)) {
        if (h->kind == P_SYN && (h->flags & F_MUTE)) {
            undo(c, h);
        } else if (h->kind == P_SYN && h->st && c->server && c->server->status == 'E' &&
                   !txn_exit(h->st->key->data)) {
            /* a ParseComplete for a text the server has, but the batch
             * before left the transaction failed: PostgreSQL refuses the
             * Parse and skips to Sync; the server, which never saw it,
             * answers the rest of the batch, unheard */
            if (put_error(to_client, "ERROR", "25P02",
                          "current transaction is aborted, commands ignored until end of transaction block") != 0)
                return -1;
            undo(c, h);
            uint32_t i;
            for (i = 1; i < c->qlen; i++) {
                pend *e = &c->q[(c->qhead + i) % c->qcap];
                if (e->kind == P_SYNC || e->kind == P_INJ_SYNC) {
                    e->flags |= F_ERRSEEN;
                    break;
                }
                e->flags |= F_MUTE;
            }
            if (i == c->qlen) /* its Sync is still to come */
                c->skipping = c->skip_err = 1;
        } else if (h->kind == P_SYN && emit_syn(c, h, to_client) != 0) {
            return -1;
        }
        q_pop(c);
    }
    return 0;
}

/* A synthesised answer: bytes (appended by the caller to c->syn from
 * offset `off`) emitted now if nothing is outstanding, else queued. */
static int syn_done(wb_relay_client *c, size_t off, int flags, wb_buf *to_client)
{
    if (c->qlen == 0) {
        pend p = {.kind = P_SYN, .flags = (uint16_t)flags, .off = (uint32_t)off, .len = (uint32_t)(c->syn.len - off)};
        int r = emit_syn(c, &p, to_client);
        c->syn.len = off;
        return r;
    }
    pend *p = q_push(c, P_SYN);
    if (!p)
        return -1;
    p->flags = (uint16_t)flags;
    p->off = (uint32_t)off;
    p->len = (uint32_t)(c->syn.len - off);
    return 0;
}

static int syn_empty(wb_relay_client *c, uint8_t type, wb_buf *to_client)
{
    size_t off = c->syn.len;
    if (wb_pg_put_empty(&c->syn, type) != 0)
        return -1;
    return syn_done(c, off, 0, to_client);
}

/* A simple Query answered here: CommandComplete tag (or an error), then
 * ReadyForQuery. */
static int syn_sql(wb_relay_client *c, const char *tag, const char *sqlstate, const char *msg, wb_buf *to_client)
{
    size_t off = c->syn.len;
    int r = sqlstate ? put_error(&c->syn, "ERROR", sqlstate, msg) : wb_pg_put_command_complete(&c->syn, tag);
    if (r != 0)
        return -1;
    return syn_done(c, off, F_RFQ, to_client);
}

/* ---- parameters ---- */



static int put_sql_literal(wb_buf *b, const char *s)
{
    if (wb_buf_puts(b, "E'") != 0)
        return -1;
    for (; *s; s++) {
        if ((*s == '\'' || *s == '\\') && wb_buf_putc(b, (uint8_t)*s) != 0)
            return -1;
        if (wb_buf_putc(b, (uint8_t)*s) != 0)
            return -1;
    }
    return wb_buf_putc(b, '\'');
}

/* Parameter values: a plain value is set with set_config(name, value);
 * RAW then SQL text is a value the client gave with SET (replayed with
 * SET); UNKNOWN is a value a failed replay left unknown. */
#define RAW '\x01'
static const char UNKNOWN[] = "\x03";

static int put_ident(wb_buf *b, const char *s)
{
    if (wb_buf_putc(b, '"') != 0)
        return -1;
    for (; *s; s++)
        if ((*s == '"' && wb_buf_putc(b, '"') != 0) || wb_buf_putc(b, (uint8_t)*s) != 0)
            return -1;
    return wb_buf_putc(b, '"');
}

/* Append the replay Query that makes s's values those c wants: set_config
 * for the values c wants that differ, SET for values c gave as SQL, and
 * back to the server's own defaults (or RESET) what an earlier client left
 * that c does not want. flags: added to the entry's (F_FWD_PS). */
static uint64_t wanted_fp(wb_relay_client *c)
{
    if (c->wanted_fp_gen != c->wanted->gen + 1) {
        c->wanted_fp = params_fp(c->wanted);
        c->wanted_fp_gen = c->wanted->gen + 1;
    }
    return c->wanted_fp;
}

static int replay_compute(wb_relay_client *c, wb_relay_server *s, wb_buf *to_server, int flags);

/* The fast path: a server connection last made to fit a client wanting the
 * same values fits this one (every pgbench client wants the same). */
static int replay(wb_relay_client *c, wb_relay_server *s, wb_buf *to_server, int flags)
{
    uint64_t fp = wanted_fp(c);
    if (s->synced && s->synced_gen == s->values.gen && s->synced_fp == fp)
        return 0;
    if (replay_compute(c, s, to_server, flags) != 0)
        return -1;
    s->synced = 1;
    s->synced_gen = s->values.gen;
    s->synced_fp = fp;
    return 0;
}

static int replay_compute(wb_relay_client *c, wb_relay_server *s, wb_buf *to_server, int flags)
{
    wb_buf *t = &c->tmp;
    wb_buf_clear(t);
    int k = 0, m = 0;
    /* SET SESSION AUTHORIZATION never follows a client to another server
     * connection, and never stays for the next client: back to the login
     * role first (the server reports it; so it is tracked) */
    const param *sa = params_find(&s->values, "session_authorization");
    const param *sad = params_find(&s->defaults, "session_authorization");
    int sa_reset = sa && sad && strcmp(sa->value, sad->value) != 0;
    if (sa_reset && wb_buf_puts(t, "RESET SESSION AUTHORIZATION; ") != 0)
        return -1;
    for (int i = 0; i < c->wanted->n; i++) {
        const param *w = &c->wanted->v[i];
        const param *h = params_find_h(&s->values, w->name, w->h);
        if ((h && strcmp(h->value, w->value) == 0) || w->value[0] == RAW || w->fixed)
            continue;
        if (wb_buf_puts(t, k++ ? ", " : "SELECT ") != 0 || wb_buf_puts(t, "pg_catalog.set_config(") != 0 ||
            put_sql_literal(t, w->name) != 0 || wb_buf_puts(t, ", ") != 0 || put_sql_literal(t, w->value) != 0 ||
            wb_buf_puts(t, ", false)") != 0)
            return -1;
    }
    for (int i = 0; i < s->values.n; i++) {
        const param *v = &s->values.v[i];
        const param *d = params_find_h(&s->defaults, v->name, v->h);
        if (!d || v->fixed || params_find_h(c->wanted, v->name, v->h) || strcmp(d->value, v->value) == 0)
            continue;
        if (wb_buf_puts(t, k++ ? ", " : "SELECT ") != 0 || wb_buf_puts(t, "pg_catalog.set_config(") != 0 ||
            put_sql_literal(t, v->name) != 0 || wb_buf_puts(t, ", ") != 0 || put_sql_literal(t, d->value) != 0 ||
            wb_buf_puts(t, ", false)") != 0)
            return -1;
    }
    m = k > 0;
    for (int i = 0; i < c->wanted->n; i++) {
        const param *w = &c->wanted->v[i];
        const param *h = params_find_h(&s->values, w->name, w->h);
        if (w->value[0] != RAW || (h && strcmp(h->value, w->value) == 0))
            continue;
        if (wb_buf_puts(t, m++ ? "; SET " : "SET ") != 0 || put_ident(t, w->name) != 0 ||
            wb_buf_puts(t, " TO ") != 0 || wb_buf_puts(t, w->value + 1) != 0)
            return -1;
    }
    for (int i = 0; i < s->values.n; i++) {
        const param *v = &s->values.v[i];
        if (params_find_h(&s->defaults, v->name, v->h) || params_find_h(c->wanted, v->name, v->h))
            continue;
        if (wb_buf_puts(t, m++ ? "; RESET " : "RESET ") != 0 || put_ident(t, v->name) != 0)
            return -1;
    }
    if (!m && !sa_reset)
        return 0;
    if (wb_buf_putc(t, 0) != 0)
        return -1;
    pend *p = q_push(c, P_INJ_QUERY);
    if (!p)
        return -1;
    p->flags = (uint16_t)(F_REPLAY | flags);
    if (wb_pg_put_query(to_server, (const char *)t->p) != 0) {
        c->qlen--;
        return -1;
    }
    /* the server has them now (ParameterStatus replies confirm the
     * reported ones; after an error they are UNKNOWN, see be_error) */
    for (int i = s->values.n - 1; i >= 0; i--) {
        const param *v = &s->values.v[i];
        if (params_find_h(c->wanted, v->name, v->h) || v->fixed)
            continue;
        const param *d = params_find_h(&s->defaults, v->name, v->h);
        if (!d)
            params_del(&s->values, v->name);
        else if (strcmp(d->value, v->value) != 0 && params_set(&s->values, d->name, d->value) != 0)
            return -1;
    }
    for (int i = 0; i < c->wanted->n; i++)
        if (!c->wanted->v[i].fixed &&
            params_set(&s->values, c->wanted->v[i].name, c->wanted->v[i].value) != 0)
            return -1;
    return 0;
}

/* The replay failed somewhere: every value it touched is unknown now. */
static int replay_failed(wb_relay_client *c)
{
    wb_relay_server *s = c->server;
    for (int i = 0; i < c->wanted->n; i++)
        if (params_set(&s->values, c->wanted->v[i].name, UNKNOWN) != 0)
            return -1;
    for (int i = 0; i < s->values.n; i++)
        if (replayable(s->values.v[i].name) && params_set(&s->values, s->values.v[i].name, UNKNOWN) != 0)
            return -1;
    return 0;
}

int wb_relay_attach(wb_relay_client *c, wb_relay_server *s, wb_buf *to_server)
{
    assert(!c->server);
    c->server = s;
    s->holder = c;
    s->dirty = 0;
    return replay(c, s, to_server, 0);
}

wb_relay_server *wb_relay_detach(wb_relay_client *c)
{
    wb_relay_server *s = c->server;
    if (!s)
        return NULL;
    for (uint32_t i = 0; i < c->qlen; i++)
        if (c->q[(c->qhead + i) % c->qcap].kind != P_SYN)
            s->dirty = 1;
    if (c->skipping || c->copy_in)
        s->dirty = 1;
    q_clear(c);
    c->skipping = 0;
    c->copy_in = 0;
    s->holder = NULL;
    c->server = NULL;
    return s;
}

int wb_relay_client_waiting_for_server(const wb_relay_client *c)
{
    return c->qlen > 0 || (c->server && c->server->batch_open);
}
char wb_relay_client_txn_status(const wb_relay_client *c) { return c->txn; }
size_t wb_relay_client_prepared(const wb_relay_client *c) { return c->count; }

int wb_relay_server_lost(wb_relay_client *c, const char *sqlstate, const char *message, wb_buf *to_client)
{
    q_clear(c);
    c->skipping = 0;
    c->copy_in = 0;
    return put_error(to_client, "FATAL", sqlstate ? sqlstate : "08006",
                     message ? message : "server connection lost");
}

/* ------------------------------------------------------------------ */
/* frontend messages                                                   */

static int violation(wb_buf *to_client, const char *fmt, uint8_t type)
{
    char msg[200];
    snprintf(msg, sizeof msg, fmt, wb_pg_msg_name(type, 0), type);
    put_error(to_client, "FATAL", "08P01", msg);
    return WB_RELAY_CLOSE;
}

/* Append a message whose body is prefix, name, NUL, rest. */
static int put_renamed(wb_buf *b, uint8_t type, const uint8_t *prefix, size_t plen, const char *name,
                       const uint8_t *rest, size_t rlen)
{
    size_t nlen = strlen(name);
    size_t total = 4 + plen + nlen + 1 + rlen;
    if (total > 0x7fffffff || wb_buf_reserve(b, 1 + total) != 0)
        return -1;
    uint8_t *p = b->p + b->len;
    *p++ = type;
    *p++ = (uint8_t)(total >> 24);
    *p++ = (uint8_t)(total >> 16);
    *p++ = (uint8_t)(total >> 8);
    *p++ = (uint8_t)total;
    if (plen)
        memcpy(p, prefix, plen);
    p += plen;
    memcpy(p, name, nlen + 1);
    p += nlen + 1;
    if (rlen)
        memcpy(p, rest, rlen);
    b->len += 1 + total;
    return 0;
}

/* Append a message unchanged. */
static int put_msg(wb_buf *b, uint8_t type, const uint8_t *body, uint32_t len)
{
    if (len > 0x7fffffffu - 4 || wb_buf_reserve(b, 5 + (size_t)len) != 0)
        return -1;
    uint8_t *p = b->p + b->len;
    uint32_t total = len + 4;
    p[0] = type;
    p[1] = (uint8_t)(total >> 24);
    p[2] = (uint8_t)(total >> 16);
    p[3] = (uint8_t)(total >> 8);
    p[4] = (uint8_t)total;
    if (len)
        memcpy(p + 5, body, len);
    b->len += 5 + (size_t)len;
    return 0;
}

/* Append Query sql[0..n) with the bytes [off, off+nlen) replaced by name. */
static int put_query_renamed(wb_buf *b, const char *sql, size_t n, size_t off, size_t nlen, const char *name)
{
    size_t ml = strlen(name), total = 4 + off + ml + (n - off - nlen) + 1;
    if (total > 0x7fffffff || wb_buf_reserve(b, 1 + total) != 0)
        return -1;
    uint8_t *p = b->p + b->len;
    *p++ = 'Q';
    *p++ = (uint8_t)(total >> 24);
    *p++ = (uint8_t)(total >> 16);
    *p++ = (uint8_t)(total >> 8);
    *p++ = (uint8_t)total;
    memcpy(p, sql, off);
    p += off;
    memcpy(p, name, ml);
    p += ml;
    memcpy(p, sql + off + nlen, n - off - nlen);
    p += n - off - nlen;
    *p = 0;
    b->len += 1 + total;
    return 0;
}

/* Evict the least recently used statement of s if it is full. */
static int evict(wb_relay_client *c, wb_relay_server *s, wb_buf *to_server)
{
    while (s->count >= s->max_prepared && s->lru_tail) {
        char nm[SRVNAME_LEN + 1];
        uint64_t h = s->lru_tail->key->hash;
        srvname(nm, h);
        pend *p = q_push(c, P_INJ_CLOSE);
        if (!p || wb_pg_put_close(to_server, 'S', nm) != 0)
            return -1;
        sset_del(s, h);
    }
    return 0;
}

/* Append a Parse of key k under its server name. */
static int put_parse_key(wb_buf *b, const skey *k, const char *name)
{
    uint16_t nt = (uint16_t)(k->tlen / 4);
    uint8_t rest_hdr[2] = {(uint8_t)(nt >> 8), (uint8_t)nt};
    size_t nlen = strlen(name);
    size_t total = 4 + nlen + 1 + k->qlen + 1 + 2 + k->tlen;
    if (total > 0x7fffffff || wb_buf_reserve(b, 1 + total) != 0)
        return -1;
    uint8_t *p = b->p + b->len;
    *p++ = 'P';
    *p++ = (uint8_t)(total >> 24);
    *p++ = (uint8_t)(total >> 16);
    *p++ = (uint8_t)(total >> 8);
    *p++ = (uint8_t)total;
    memcpy(p, name, nlen + 1);
    p += nlen + 1;
    memcpy(p, k->data, k->qlen + 1);
    p += k->qlen + 1;
    memcpy(p, rest_hdr, 2);
    p += 2;
    if (k->tlen)
        memcpy(p, k->data + k->qlen + 1, k->tlen);
    b->len += 1 + total;
    return 0;
}

/* SQL text that creates key k as server statement `name`. */
static int put_prepare_sql(wb_buf *t, const skey *k, const char *name)
{
    if (wb_buf_puts(t, "PREPARE ") != 0 || wb_buf_puts(t, name) != 0)
        return -1;
    if (k->kind == KEY_PREPARE && (wb_buf_putc(t, ' ') != 0 || wb_buf_append(t, k->data + k->qlen + 1, k->tlen) != 0))
        return -1;
    return wb_buf_puts(t, " AS ") != 0 || wb_buf_append(t, k->data, k->qlen) != 0 ? -1 : 0;
}

/* Where st stands on the server: 1 present (touched), 0 absent (a
 * colliding statement of the same hash is closed first), -1 no memory. */
static int server_has(wb_relay_client *c, wb_relay_server *s, const cstmt *st, wb_buf *to_server)
{
    sstmt *e = sset_get(s, st->key->hash);
    if (!e)
        return 0;
    if (key_eq(e->key, st->key)) {
        lru_touch(s, e);
        return 1;
    }
    /* a hash collision: the name means another text on this server */
    pend *p = q_push(c, P_INJ_CLOSE);
    if (!p || wb_pg_put_close(to_server, 'S', st->srv) != 0)
        return -1;
    sset_del(s, st->key->hash);
    return 0;
}

/* Make st present on the attached server before a Bind / Describe (the
 * extended protocol): a Parse, or for a typed SQL PREPARE a Query. */
static int ensure_ext(wb_relay_client *c, cstmt *st, wb_buf *to_server)
{
    wb_relay_server *s = c->server;
    int r = server_has(c, s, st, to_server);
    if (r != 0)
        return r < 0 ? -1 : 0;
    if (evict(c, s, to_server) != 0)
        return -1;
    pend *p;
    if (st->key->kind == KEY_PARSE) {
        p = q_push(c, P_INJ_PARSE);
        if (!p || put_parse_key(to_server, st->key, st->srv) != 0)
            return -1;
        p->flags = F_FWD_ERR | F_ADDED;
    } else {
        /* PREPARE name (types) AS ...: the types are SQL names, so SQL */
        wb_buf *t = &c->tmp;
        wb_buf_clear(t);
        p = q_push(c, P_INJ_QUERY);
        if (!p || put_prepare_sql(t, st->key, st->srv) != 0 || wb_buf_putc(t, 0) != 0 ||
            wb_pg_put_query(to_server, (const char *)t->p) != 0)
            return -1;
        p->flags = F_ADDED;
    }
    p->hash = st->key->hash;
    return sset_add(s, st->key);
}

static int cstr_at(const uint8_t *body, uint32_t len, uint32_t from, uint32_t *end)
{
    const uint8_t *z = from < len ? memchr(body + from, 0, len - from) : NULL;
    if (!z)
        return -1;
    *end = (uint32_t)(z - body);
    return 0;
}

static int parse_setslot(wb_relay_client *c, const char *query, setslot *slot);

static int fe_parse(wb_relay_client *c, const uint8_t *body, uint32_t len, wb_buf *to_server, wb_buf *to_client)
{
    wb_pg_msg m = {'P', len, body};
    const char *name, *query;
    uint16_t nt;
    const uint8_t *types;
    char err[200];
    if (wb_pg_parse_parse(&m, &name, &query, &nt, &types, err, sizeof err) != 0) {
        put_error(to_client, "FATAL", "08P01", err);
        return WB_RELAY_CLOSE;
    }
    int ukind = U_NORMAL;
    char uname[64] = "";
    if (!*name) {
        size_t qn = strlen(query);
        wb_psql_stmt one[2];
        char e2[128];
        if (wb_psql_maybe_special(query, qn) && wb_psql_analyse(query, qn, one, 2, e2, sizeof e2) == 1) {
            if (one[0].kind == WB_PSQL_DEALLOCATE && cmap_get(c, one[0].name)) {
                ukind = U_DEALLOC;
                snprintf(uname, sizeof uname, "%s", one[0].name);
            } else if (one[0].kind == WB_PSQL_DEALLOCATE_ALL) {
                ukind = U_DEALLOC_ALL;
            } else if (one[0].kind == WB_PSQL_DISCARD_ALL) {
                ukind = U_DISCARD;
            }
        }
        if (ukind == U_DEALLOC || ukind == U_DEALLOC_ALL) {
            /* DEALLOCATE of the client's statements: all answered here (the
             * shared server-side statements stay), no server needed */
            if (c->server && c->qlen == 0 && c->server->status == 'E') {
                c->skipping = c->skip_err = 1;
                return put_error(to_client, "ERROR", "25P02",
                                 "current transaction is aborted, commands ignored until end of transaction block") != 0
                           ? WB_RELAY_NOMEM
                           : WB_RELAY_OK;
            }
            c->ukind = ukind;
            free(c->uname);
            c->uname = strdup(uname);
            if (!c->uname)
                return WB_RELAY_NOMEM;
            slot_clear(&c->unnamed);
            return syn_empty(c, '1', to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
        }
    }
    if (!c->server)
        return WB_RELAY_NEED_SERVER;
    c->server->batch_open = 1;
    size_t nlen = strlen(name);
    if (!*name) { /* the unnamed statement passes through */
        c->ukind = ukind;
        pend *p = q_push(c, P_PARSE);
        if (!p || put_renamed(to_server, 'P', NULL, 0, "", body + 1, len - 1) != 0 ||
            parse_setslot(c, query, &c->unnamed) != 0)
            return WB_RELAY_NOMEM;
        return WB_RELAY_OK;
    }
    const uint8_t *rest = body + nlen + 1;
    size_t rlen = len - nlen - 1;
    cstmt *old = cmap_get(c, name);
    if (old) {
        /* PostgreSQL parses the text first, then finds the name taken: send
         * the text under the old statement's server name (present) so that
         * the server answers as it would, 42P05 renamed back */
        if (ensure_ext(c, old, to_server) != 0)
            return WB_RELAY_NOMEM;
        pend *p = q_push(c, P_PARSE);
        if (!p)
            return WB_RELAY_NOMEM;
        p->flags = F_DUP;
        p->st = old;
        old->refs++;
        if (put_renamed(to_server, 'P', NULL, 0, old->srv, rest, rlen) != 0)
            return WB_RELAY_NOMEM;
        return WB_RELAY_OK;
    }
    skey *k = key_new(KEY_PARSE, query, strlen(query), types, (size_t)nt * 4);
    cstmt *st = k ? cstmt_new(name, k) : NULL;
    if (!st) {
        free(k);
        return WB_RELAY_NOMEM;
    }
    if (cmap_put(c, st) != 0) {
        cstmt_unref(st);
        free(k);
        return WB_RELAY_NOMEM;
    }
    if (parse_setslot(c, query, &st->set) != 0)
        return WB_RELAY_NOMEM;
    int has = server_has(c, c->server, st, to_server);
    if (has < 0)
        return WB_RELAY_NOMEM;
    if (has && c->qlen == 0 && c->server->status == 'E' && !txn_exit(query)) {
        /* in a failed transaction PostgreSQL refuses the Parse (25P02)
         * and skips to Sync; nothing of this batch reached the server */
        cmap_del(c, st);
        c->skipping = c->skip_err = 1;
        return put_error(to_client, "ERROR", "25P02",
                         "current transaction is aborted, commands ignored until end of transaction block") != 0
                   ? WB_RELAY_NOMEM
                   : WB_RELAY_OK;
    }
    if (has) {
        /* present: ParseComplete from here, in its place */
        size_t off = c->syn.len;
        uint32_t before = c->qlen;
        if (wb_pg_put_empty(&c->syn, '1') != 0 || syn_done(c, off, 0, to_client) != 0)
            return WB_RELAY_NOMEM;
        if (before) { /* queued: skipped with the rest after an error */
            pend *p = &c->q[(c->qhead + c->qlen - 1) % c->qcap];
            p->st = st;
            st->refs++;
        }
        return WB_RELAY_OK;
    }
    if (evict(c, c->server, to_server) != 0)
        return WB_RELAY_NOMEM;
    pend *p = q_push(c, P_PARSE);
    if (!p)
        return WB_RELAY_NOMEM;
    p->st = st;
    st->refs++;
    p->hash = k->hash;
    p->flags = F_ADDED;
    if (put_renamed(to_server, 'P', NULL, 0, st->srv, rest, rlen) != 0 || sset_add(c->server, k) != 0)
        return WB_RELAY_NOMEM;
    return WB_RELAY_OK;
}

static int fe_bind(wb_relay_client *c, const uint8_t *body, uint32_t len, wb_buf *to_server, wb_buf *to_client)
{
    uint32_t pe, se;
    if (cstr_at(body, len, 0, &pe) != 0 || cstr_at(body, len, pe + 1, &se) != 0)
        return violation(to_client, "malformed %s message (type '%c')", 'B');
    const char *name = (const char *)body + pe + 1;
    if (!*name && (c->ukind == U_DEALLOC || c->ukind == U_DEALLOC_ALL)) {
        if (!body[0]) {
            c->pkind = c->ukind;
            free(c->pname);
            c->pname = c->uname ? strdup(c->uname) : NULL;
            if (c->uname && !c->pname)
                return WB_RELAY_NOMEM;
            slot_clear(&c->portal);
        }
        return syn_empty(c, '2', to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    }
    if (!c->server)
        return WB_RELAY_NEED_SERVER;
    c->server->batch_open = 1;
    if (!body[0])
        c->pkind = !*name ? c->ukind : U_NORMAL;
    cstmt *st = *name ? cmap_get(c, name) : NULL;
    if (st && ensure_ext(c, st, to_server) != 0)
        return WB_RELAY_NOMEM;
    if (!body[0]) { /* the unnamed portal: does executing it SET? */
        const setslot *src = !*name ? &c->unnamed : st ? &st->set : NULL;
        if (src ? slot_copy(&c->portal, src) != 0 : (slot_clear(&c->portal), 0))
            return WB_RELAY_NOMEM;
    }
    pend *p = q_push(c, P_BIND);
    if (!p)
        return WB_RELAY_NOMEM;
    if (st) { /* the server's errors name it: renamed back */
        p->st = st;
        st->refs++;
    }
    int r = st ? put_renamed(to_server, 'B', body, pe + 1, st->srv, body + se + 1, len - se - 1)
               : put_renamed(to_server, 'B', NULL, 0, (const char *)body, body + pe + 1, len - pe - 1);
    return r != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
}

static int fe_describe(wb_relay_client *c, const uint8_t *body, uint32_t len, wb_buf *to_server, wb_buf *to_client)
{
    uint32_t ne;
    if (len < 1 || (body[0] != 'S' && body[0] != 'P') || cstr_at(body, len, 1, &ne) != 0)
        return violation(to_client, "malformed %s message (type '%c')", 'D');
    const char *name = (const char *)body + 1;
    int virt = body[0] == 'S' ? c->ukind : c->pkind;
    if (!*name && (virt == U_DEALLOC || virt == U_DEALLOC_ALL)) { /* a utility statement: no rows */
        size_t off = c->syn.len;
        if ((body[0] == 'S' && wb_pg_put_parameter_description(&c->syn, 0, NULL) != 0) ||
            wb_pg_put_empty(&c->syn, 'n') != 0 || syn_done(c, off, 0, to_client) != 0)
            return WB_RELAY_NOMEM;
        return WB_RELAY_OK;
    }
    if (!c->server)
        return WB_RELAY_NEED_SERVER;
    c->server->batch_open = 1;
    cstmt *st = body[0] == 'S' && *name ? cmap_get(c, name) : NULL;
    if (st && ensure_ext(c, st, to_server) != 0)
        return WB_RELAY_NOMEM;
    pend *p = q_push(c, body[0] == 'S' ? P_DESC_S : P_DESC_P);
    if (!p)
        return WB_RELAY_NOMEM;
    if (st) {
        p->st = st;
        st->refs++;
    }
    int r = st ? put_renamed(to_server, 'D', body, 1, st->srv, NULL, 0)
               : put_renamed(to_server, 'D', body, 1, name, body + ne + 1, len - ne - 1);
    return r != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
}

static int fe_close(wb_relay_client *c, const uint8_t *body, uint32_t len, wb_buf *to_server, wb_buf *to_client)
{
    uint32_t ne;
    if (len < 1 || (body[0] != 'S' && body[0] != 'P') || cstr_at(body, len, 1, &ne) != 0)
        return violation(to_client, "malformed %s message (type '%c')", 'C');
    const char *name = (const char *)body + 1;
    if (!*name && body[0] == 'S') {
        c->ukind = U_NORMAL;
        slot_clear(&c->unnamed);
    } else if (!*name) {
        c->pkind = U_NORMAL;
        slot_clear(&c->portal);
    }
    if (body[0] == 'S' && *name) {
        /* the client's own statement: forgotten here, the shared server
         * statement stays; closing an unknown name is no error (§55.7) */
        cstmt *st = cmap_get(c, name);
        if (st)
            cmap_del(c, st);
        return syn_empty(c, '3', to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    }
    if (!c->server) /* nothing of it survives without a server connection */
        return syn_empty(c, '3', to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    c->server->batch_open = 1;
    if (!q_push(c, P_CLOSE) || put_renamed(to_server, 'C', body, 1, name, NULL, 0) != 0)
        return WB_RELAY_NOMEM;
    return WB_RELAY_OK;
}

static int fe_sync(wb_relay_client *c, wb_buf *to_server, wb_buf *to_client)
{
    c->skipping = 0;
    if (!c->server) {
        c->skip_err = 0;
        return wb_pg_put_ready_for_query(to_client, c->txn) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    }
    if (c->copy_in) /* ignored by the server during COPY FROM STDIN */
        return wb_pg_put_sync(to_server) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    c->server->batch_open = 0;
    pend *p = q_push(c, P_SYNC);
    if (!p || wb_pg_put_sync(to_server) != 0)
        return WB_RELAY_NOMEM;
    p->owner = c->open_sync;
    if (c->skip_err)
        p->flags |= F_ERRSEEN;
    c->open_sync = 0;
    c->skip_err = 0;
    return WB_RELAY_OK;
}

/* ---- simple Query ---- */

/* Forward the Query unchanged. */
static int fwd_query(wb_relay_client *c, const uint8_t *body, uint32_t len, wb_buf *to_server, pend **out)
{
    pend *p = q_push(c, P_QUERY);
    if (!p || put_msg(to_server, 'Q', body, len) != 0)
        return -1;
    if (out)
        *out = p;
    return 0;
}

/* The parenthesised type list of PREPARE at sql[from..to): "(...)" up to
 * its matching parenthesis (quoted identifiers skipped). */
static size_t paren_span(const char *sql, size_t from, size_t to)
{
    int depth = 0;
    for (size_t i = from; i < to; i++) {
        char ch = sql[i];
        if (ch == '"') {
            for (i++; i < to && sql[i] != '"'; i++)
                ;
        } else if (ch == '(') {
            depth++;
        } else if (ch == ')' && --depth == 0) {
            return i + 1 - from;
        }
    }
    return 0;
}

static const char MIXED_MSG[] = "wirebuf proxy: PREPARE, EXECUTE, DEALLOCATE and DISCARD ALL must be the only "
                                "statement of a simple Query in a pooled session (send them separately)";

static int query_analysed(wb_relay_client *c, const uint8_t *body, uint32_t len, const wb_psql_stmt *st, int k,
                          wb_buf *to_server, wb_buf *to_client);

static int fe_query(wb_relay_client *c, const uint8_t *body, uint32_t len, wb_buf *to_server, wb_buf *to_client)
{
    if (len < 1 || body[len - 1] != 0)
        return violation(to_client, "malformed %s message (type '%c'): no terminating NUL", 'Q');
    const char *sql = (const char *)body;
    size_t n = strlen(sql);
    uint64_t ends = (uint64_t)body[0] << 16 | (uint64_t)body[len / 2] << 8 | body[len >= 2 ? len - 2 : 0];
    int memo = c->memo_body == body && c->memo_len == len && c->memo_ends == ends;
    c->memo_body = NULL;
    if (memo || !wb_psql_maybe_special(sql, n)) {
        if (!c->server) { /* the same message comes again once a server is attached */
            c->memo_body = body;
            c->memo_len = len;
            c->memo_ends = ends;
            return WB_RELAY_NEED_SERVER;
        }
        return fwd_query(c, body, len, to_server, NULL) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    }
    wb_psql_stmt stack[8], *st = stack;
    char err[256];
    int k = wb_psql_analyse(sql, n, st, 8, err, sizeof err);
    if (k > 8) { /* many statements (rare): all of them */
        st = malloc((size_t)k * sizeof *st);
        if (!st)
            return WB_RELAY_NOMEM;
        if (wb_psql_analyse(sql, n, st, k, err, sizeof err) != k)
            k = -1;
    }
    int r;
    if (k < 0) { /* the server reports the syntax error */
        r = !c->server ? WB_RELAY_NEED_SERVER
            : fwd_query(c, body, len, to_server, NULL) != 0 ? WB_RELAY_NOMEM
                                                             : WB_RELAY_OK;
    } else {
        r = query_analysed(c, body, len, st, k, to_server, to_client);
    }
    if (st != stack)
        free(st);
    return r;
}

/* What a SET / RESET / RESET ALL statement does to the bookkeeping, as a
 * record (1), or nothing to record (0: a parameter the server reports,
 * which its ParameterStatus tells), or -1 (no memory). */
static int make_setrec(wb_relay_client *c, const char *sql, const wb_psql_stmt *st, setrec *out)
{
    setrec r = {NULL, NULL, 0};
    if (st->kind != WB_PSQL_RESET_ALL) {
        if (!st->name[0] || strchr(st->name, ' '))
            return 0;
        if (st->kind == WB_PSQL_SET) {
            if (params_find(&c->server->defaults, st->name))
                return 0;
            size_t p = st->name_off + st->name_len, end = st->off + st->len;
            while (p < end && strchr(" \t\r\n\f", sql[p]))
                p++;
            if (p < end && sql[p] == '=')
                p++;
            else if (p + 2 <= end && strncasecmp(sql + p, "to", 2) == 0 &&
                     (p + 2 == end || strchr(" \t\r\n\f'\"", sql[p + 2])))
                p += 2;
            while (p < end && strchr(" \t\r\n\f", sql[p]))
                p++;
            while (end > p && strchr(" \t\r\n\f", sql[end - 1]))
                end--;
            if (p == end)
                return 0;
            if (!(end - p == 7 && strncasecmp(sql + p, "default", 7) == 0)) {
                r.val = malloc(end - p + 2);
                if (!r.val)
                    return -1;
                r.val[0] = RAW;
                memcpy(r.val + 1, sql + p, end - p);
                r.val[end - p + 1] = 0;
            }
        }
        r.name = strdup(st->name);
        if (!r.name) {
            free(r.val);
            return -1;
        }
    }
    *out = r;
    return 1;
}

/* Queue a record (taken over) until its owner's ReadyForQuery. */
static int push_setrec(wb_relay_client *c, setrec r)
{
    if (c->nsetq == c->capsetq) {
        int cap = c->capsetq ? c->capsetq * 2 : 4;
        setrec *nv = realloc(c->setq, (size_t)cap * sizeof *nv);
        if (!nv) {
            free(r.name);
            free(r.val);
            return -1;
        }
        c->setq = nv;
        c->capsetq = cap;
    }
    c->setq[c->nsetq++] = r;
    return 0;
}

/* The SET of a Parse's text (a single SET / RESET statement), into *slot. */
static int parse_setslot(wb_relay_client *c, const char *query, setslot *slot)
{
    slot_clear(slot);
    size_t n = strlen(query);
    if (!wb_psql_maybe_special(query, n))
        return 0;
    wb_psql_stmt st[2];
    char err[128];
    if (wb_psql_analyse(query, n, st, 2, err, sizeof err) != 1 ||
        (st[0].kind != WB_PSQL_SET && st[0].kind != WB_PSQL_RESET && st[0].kind != WB_PSQL_RESET_ALL))
        return 0;
    int r = make_setrec(c, query, &st[0], &slot->r);
    if (r < 0)
        return -1;
    slot->has = r;
    return 0;
}

static int query_analysed(wb_relay_client *c, const uint8_t *body, uint32_t len, const wb_psql_stmt *st, int k,
                          wb_buf *to_server, wb_buf *to_client)
{
    const char *sql = (const char *)body;
    size_t n = strlen(sql);
    int filled = k, special = 0, listen = 0, sets = 0;
    for (int i = 0; i < filled; i++) {
        switch (st[i].kind) {
        case WB_PSQL_PREPARE:
        case WB_PSQL_EXECUTE:
        case WB_PSQL_DEALLOCATE:
        case WB_PSQL_DEALLOCATE_ALL:
        case WB_PSQL_DISCARD_ALL:
            special = 1;
            break;
        case WB_PSQL_LISTEN:
            listen = 1;
            break;
        case WB_PSQL_SET:
        case WB_PSQL_RESET:
        case WB_PSQL_RESET_ALL:
            sets = 1;
            break;
        default:
            break;
        }
    }
    if (listen && c->mode != WB_POOL_SESSION)
        return syn_sql(c, NULL, "0A000",
                       c->mode == WB_POOL_TRANSACTION
                           ? "wirebuf proxy: LISTEN is not supported in transaction pooling mode (use session mode)"
                           : "wirebuf proxy: LISTEN is not supported in statement pooling mode (use session mode)",
                       to_client) != 0
                   ? WB_RELAY_NOMEM
                   : WB_RELAY_OK;
    if (special && k > 1)
        return syn_sql(c, NULL, "0A000", MIXED_MSG, to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    if (!special) {
        if (!c->server)
            return WB_RELAY_NEED_SERVER;
        pend *p;
        if (fwd_query(c, body, len, to_server, &p) != 0)
            return WB_RELAY_NOMEM;
        if (sets) {
            uint32_t owner = ++c->serial;
            for (int i = 0; i < k; i++) {
                if (st[i].kind != WB_PSQL_SET && st[i].kind != WB_PSQL_RESET && st[i].kind != WB_PSQL_RESET_ALL)
                    continue;
                setrec r;
                int m = make_setrec(c, sql, &st[i], &r);
                if (m < 0)
                    return WB_RELAY_NOMEM;
                if (m) {
                    r.owner = owner;
                    if (push_setrec(c, r) != 0)
                        return WB_RELAY_NOMEM;
                    p->flags |= F_SET;
                    p->owner = owner;
                }
            }
        }
        return WB_RELAY_OK;
    }
    const wb_psql_stmt *s = &st[0];
    char msg[200];
    if (c->txn == 'E' && c->qlen == 0 && s->kind != WB_PSQL_DISCARD_ALL)
        return syn_sql(c, NULL, "25P02",
                       "current transaction is aborted, commands ignored until end of transaction block",
                       to_client) != 0
                   ? WB_RELAY_NOMEM
                   : WB_RELAY_OK;
    switch (s->kind) {
    case WB_PSQL_DEALLOCATE: {
        cstmt *cs = cmap_get(c, s->name);
        if (!cs) {
            snprintf(msg, sizeof msg, "prepared statement \"%s\" does not exist", s->name);
            return syn_sql(c, NULL, "26000", msg, to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
        }
        cmap_del(c, cs);
        return syn_sql(c, "DEALLOCATE", NULL, NULL, to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    }
    case WB_PSQL_DEALLOCATE_ALL:
        cmap_clear(c);
        return syn_sql(c, "DEALLOCATE ALL", NULL, NULL, to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    case WB_PSQL_DISCARD_ALL: {
        if (!c->server)
            return WB_RELAY_NEED_SERVER;
        pend *p;
        if (fwd_query(c, body, len, to_server, &p) != 0)
            return WB_RELAY_NOMEM;
        p->flags = F_DISCARD;
        return WB_RELAY_OK;
    }
    case WB_PSQL_PREPARE: {
        if (cmap_get(c, s->name)) {
            snprintf(msg, sizeof msg, "prepared statement \"%s\" already exists", s->name);
            return syn_sql(c, NULL, "42P05", msg, to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
        }
        if (!c->server)
            return WB_RELAY_NEED_SERVER;
        size_t end = s->off + s->len;
        if (s->body_off <= s->off || s->body_off > end || s->name_off + s->name_len > n)
            return fwd_query(c, body, len, to_server, NULL) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
        size_t tl = s->args_off ? paren_span(sql, s->args_off, s->body_off) : 0;
        skey *key = tl ? key_new(KEY_PREPARE, sql + s->body_off, end - s->body_off, sql + s->args_off, tl)
                       : key_new(KEY_PARSE, sql + s->body_off, end - s->body_off, NULL, 0);
        cstmt *cs = key ? cstmt_new(s->name, key) : NULL;
        if (!cs) {
            free(key);
            return WB_RELAY_NOMEM;
        }
        if (cmap_put(c, cs) != 0) {
            free(cs);
            free(key);
            return WB_RELAY_NOMEM;
        }
        int has = server_has(c, c->server, cs, to_server);
        if (has < 0)
            return WB_RELAY_NOMEM;
        if (has)
            return syn_sql(c, "PREPARE", NULL, NULL, to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
        if (evict(c, c->server, to_server) != 0)
            return WB_RELAY_NOMEM;
        pend *p = q_push(c, P_QUERY);
        if (!p)
            return WB_RELAY_NOMEM;
        p->flags = F_PREPARE | F_ADDED;
        p->st = cs;
        cs->refs++;
        p->hash = key->hash;
        if (put_query_renamed(to_server, sql, n, s->name_off, s->name_len, cs->srv) != 0)
            return WB_RELAY_NOMEM;
        return sset_add(c->server, key) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    }
    case WB_PSQL_EXECUTE: {
        cstmt *cs = cmap_get(c, s->name);
        if (!c->server)
            return WB_RELAY_NEED_SERVER;
        if (!cs || s->name_off + s->name_len > n) /* the server says it does not exist */
            return fwd_query(c, body, len, to_server, NULL) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
        int has = server_has(c, c->server, cs, to_server);
        if (has < 0)
            return WB_RELAY_NOMEM;
        wb_buf *t = &c->tmp;
        wb_buf_clear(t);
        int prefix = 0;
        if (!has) {
            if (evict(c, c->server, to_server) != 0)
                return WB_RELAY_NOMEM;
            if (cs->key->kind == KEY_PARSE && cs->key->tlen) {
                /* typed by OIDs: a Parse and Sync ahead of the Query */
                pend *p = q_push(c, P_INJ_PARSE);
                if (!p || put_parse_key(to_server, cs->key, cs->srv) != 0)
                    return WB_RELAY_NOMEM;
                p->flags = F_ADDED;
                p->hash = cs->key->hash;
                if (!q_push(c, P_INJ_SYNC) || wb_pg_put_sync(to_server) != 0)
                    return WB_RELAY_NOMEM;
            } else {
                if (put_prepare_sql(t, cs->key, cs->srv) != 0 || wb_buf_puts(t, "; ") != 0)
                    return WB_RELAY_NOMEM;
                prefix = 1;
            }
            if (sset_add(c->server, cs->key) != 0)
                return WB_RELAY_NOMEM;
        }
        if (wb_buf_append(t, sql, s->name_off) != 0 || wb_buf_append(t, cs->srv, SRVNAME_LEN) != 0 ||
            wb_buf_append(t, sql + s->name_off + s->name_len, n - s->name_off - s->name_len + 1) != 0)
            return WB_RELAY_NOMEM;
        pend *p = q_push(c, P_QUERY);
        if (!p || wb_pg_put_query(to_server, (const char *)t->p) != 0)
            return WB_RELAY_NOMEM;
        p->st = cs; /* the server's errors name it: renamed back */
        cs->refs++;
        if (prefix) {
            p->flags = F_PREFIX | F_ADDED;
            p->n = 1;
            p->hash = cs->key->hash;
        }
        return WB_RELAY_OK;
    }
    default:
        break;
    }
    if (!c->server)
        return WB_RELAY_NEED_SERVER;
    return fwd_query(c, body, len, to_server, NULL) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
}

/* Execute of the unnamed portal bound from a DEALLOCATE: done here. */
static int exec_dealloc(wb_relay_client *c, wb_buf *to_client)
{
    size_t off = c->syn.len;
    int r;
    if (c->pkind == U_DEALLOC_ALL) {
        cmap_clear(c);
        r = wb_pg_put_command_complete(&c->syn, "DEALLOCATE ALL");
    } else {
        const char *pn = c->pname ? c->pname : "";
        cstmt *cs = cmap_get(c, pn);
        if (cs) {
            cmap_del(c, cs);
            r = wb_pg_put_command_complete(&c->syn, "DEALLOCATE");
        } else { /* closed since its Parse: PostgreSQL's error, then skip to Sync */
            char msg[128];
            snprintf(msg, sizeof msg, "prepared statement \"%s\" does not exist", pn);
            r = put_error(&c->syn, "ERROR", "26000", msg);
            c->skipping = c->skip_err = 1;
        }
    }
    return r != 0 || syn_done(c, off, 0, to_client) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
}

int wb_relay_from_client(wb_relay_client *c, uint8_t type, const uint8_t *body, uint32_t len, wb_buf *to_server,
                         wb_buf *to_client)
{
    if (type != 'Q')
        c->memo_body = NULL; /* only the Query answered NEED_SERVER comes next */
    if (type == 'X')
        return WB_RELAY_CLOSE;
    if (c->copy_in && (type == 'd' || type == 'c' || type == 'f')) {
        if (type != 'd')
            c->copy_in = 0;
        return put_msg(to_server, type, body, len) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
    }
    if (c->skipping && type != 'S')
        return WB_RELAY_OK; /* the server would ignore it until Sync */
    switch (type) {
    case 'Q':
        return fe_query(c, body, len, to_server, to_client);
    case 'P':
        return fe_parse(c, body, len, to_server, to_client);
    case 'B':
        return fe_bind(c, body, len, to_server, to_client);
    case 'D':
        return fe_describe(c, body, len, to_server, to_client);
    case 'C':
        return fe_close(c, body, len, to_server, to_client);
    case 'S':
        return fe_sync(c, to_server, to_client);
    case 'E':
    case 'H':
    case 'F':
    case 'd':
    case 'c':
    case 'f':
        break;
    default:
        return violation(to_client, "invalid frontend message type %2$d (%1$s) for a pooled session", type);
    }
    if (type == 'E' && len >= 1 && body[0] == 0 && (c->pkind == U_DEALLOC || c->pkind == U_DEALLOC_ALL))
        return exec_dealloc(c, to_client);
    if (!c->server) {
        if (type == 'H' || type == 'd' || type == 'c' || type == 'f')
            return WB_RELAY_OK; /* Flush: nothing pending; copy messages outside COPY are ignored */
        return WB_RELAY_NEED_SERVER;
    }
    if (type == 'E')
        c->server->batch_open = 1;
    if (type == 'E' && !q_push(c, P_EXEC))
        return WB_RELAY_NOMEM;
    if (type == 'E' && len >= 1 && body[0] == 0 && c->pkind == U_DISCARD)
        c->q[(c->qhead + c->qlen - 1) % c->qcap].flags |= F_DISCARD;
    if (type == 'E' && len >= 1 && body[0] == 0 && c->portal.has) {
        /* SET through the extended protocol: decided at the Sync */
        setslot one = {0};
        if (slot_copy(&one, &c->portal) != 0)
            return WB_RELAY_NOMEM;
        if (!c->open_sync)
            c->open_sync = ++c->serial;
        one.r.owner = c->open_sync;
        if (push_setrec(c, one.r) != 0)
            return WB_RELAY_NOMEM;
    }
    if ((type == 'c' || type == 'f') && c->qlen && !q_push(c, P_COPY_END))
        return WB_RELAY_NOMEM;
    if (type == 'F' && !q_push(c, P_FUNC))
        return WB_RELAY_NOMEM;
    return put_msg(to_server, type, body, len) != 0 ? WB_RELAY_NOMEM : WB_RELAY_OK;
}

/* ------------------------------------------------------------------ */
/* backend messages                                                    */

/* What an entry the server did not carry out leaves behind. */
static void undo(wb_relay_client *c, pend *p)
{
    if ((p->flags & F_ADDED) && c->server)
        sset_del(c->server, p->hash);
    p->flags &= (uint16_t)~F_ADDED;
    if (p->st && !(p->flags & F_DUP) &&
        (p->kind == P_PARSE || p->kind == P_SYN || (p->kind == P_QUERY && (p->flags & F_PREPARE))))
        cmap_del(c, p->st);
}

static int out_of_sequence(wb_relay_client *c, uint8_t type, wb_buf *to_client)
{
    char msg[200];
    const pend *h = q_head(c);
    snprintf(msg, sizeof msg, "wirebuf proxy: the server sent %s ('%c') out of sequence (expected the answer to %s)",
             wb_pg_msg_name(type, 1), type >= 32 && type < 127 ? type : '?',
             !h                             ? "nothing"
             : h->kind == P_QUERY           ? "a Query"
             : h->kind == P_SYNC            ? "a Sync"
             : h->kind == P_PARSE           ? "a Parse"
             : h->kind == P_BIND            ? "a Bind"
             : h->kind == P_EXEC            ? "an Execute"
             : h->kind == P_DESC_S || h->kind == P_DESC_P ? "a Describe"
                                            : "a message of the proxy");
    put_error(to_client, "FATAL", "08P01", msg);
    return WB_RELAY_S_BROKEN;
}

/* After an ErrorResponse to an extended-protocol message the server skips
 * to the next Sync: so do the entries (what they would have done undone,
 * synthesised answers never sent). */
static void skip_to_sync(wb_relay_client *c)
{
    pend *h;
    while ((h = q_head(c)) && h->kind != P_SYNC && h->kind != P_INJ_SYNC) {
        undo(c, h);
        q_pop(c);
    }
    if (!h)
        c->skipping = c->skip_err = 1;
    else /* the implicit transaction of the batch is rolled back */
        h->flags |= F_ERRSEEN;
    c->copy_in = 0;
}

/* Replace every quoted server-side name "wb_..." of st in s by the
 * client's name (at most a few times), into out. 1 if replaced. */
static int rename_back(const char *s, const cstmt *st, char *out, size_t cap)
{
    char q[SRVNAME_LEN + 3];
    snprintf(q, sizeof q, "\"%s\"", st->srv);
    const char *hit = strstr(s, q);
    if (!hit)
        return 0;
    size_t n = 0;
    while (hit) {
        int w = snprintf(out + n, cap - n, "%.*s\"%s\"", (int)(hit - s), s, st->name);
        if (w < 0 || (size_t)w >= cap - n)
            return 0;
        n += (size_t)w;
        s = hit + strlen(q);
        hit = strstr(s, q);
    }
    int w = snprintf(out + n, cap - n, "%s", s);
    return w >= 0 && (size_t)w < cap - n;
}

/* Forward an ErrorResponse; where it names st's server-side name (Bind,
 * Describe, EXECUTE of it), the client reads its own name instead, as
 * PostgreSQL would have said it. */
static int put_error_renamed(wb_buf *to_client, const uint8_t *body, uint32_t len, const cstmt *st)
{
    wb_pg_msg m = {'E', len, body};
    wb_pg_fields f;
    char msg[1024], det[1024];
    if (!st || wb_pg_parse_fields(&m, &f, NULL, 0) != 0)
        return put_msg(to_client, 'E', body, len);
    int a = f.message && rename_back(f.message, st, msg, sizeof msg);
    int b = f.detail && rename_back(f.detail, st, det, sizeof det);
    if (!a && !b)
        return put_msg(to_client, 'E', body, len);
    if (a)
        f.message = msg;
    if (b)
        f.detail = det;
    return wb_pg_put_fields(to_client, 'E', &f);
}

static int be_error(wb_relay_client *c, const uint8_t *body, uint32_t len, wb_buf *to_client)
{
    pend *h = q_head(c);
    if (is_fatal(body, len) || !h) {
        if (put_msg(to_client, 'E', body, len) != 0)
            return WB_RELAY_S_NOMEM;
        return WB_RELAY_S_BROKEN;
    }
    c->copy_in = 0;
    switch (h->kind) {
    case P_QUERY:
    case P_FUNC:
        if ((h->flags & F_PREFIX) && h->n) /* our PREPARE failed: the server lacks it */
            h->n = 0;
        else if (!(h->flags & F_PREPARE)) /* the statement is there; something else failed */
            h->flags &= (uint16_t)~F_ADDED;
        undo(c, h);
        h->flags = (uint16_t)((h->flags & (F_SET | F_MUTE)) | F_ERRSEEN);
        if (h->flags & F_MUTE)
            return WB_RELAY_S_OK;
        return put_error_renamed(to_client, body, len, h->st) != 0 ? WB_RELAY_S_NOMEM : WB_RELAY_S_OK;
    case P_SYNC:
        return put_msg(to_client, 'E', body, len) != 0 ? WB_RELAY_S_NOMEM : WB_RELAY_S_OK;
    case P_INJ_SYNC:
        return WB_RELAY_S_OK;
    case P_INJ_QUERY:
        if ((h->flags & F_REPLAY) && replay_failed(c) != 0)
            return WB_RELAY_S_NOMEM;
        undo(c, h);
        h->flags = 0;
        return WB_RELAY_S_OK;
    default:
        break;
    }
    /* an extended-protocol message failed */
    int r = 0;
    if (h->flags & F_MUTE) {
        r = 0;
    } else if (h->kind == P_PARSE && (h->flags & F_DUP)) {
        wb_pg_msg m = {'E', len, body};
        wb_pg_fields f;
        if (wb_pg_parse_fields(&m, &f, NULL, 0) == 0 && f.sqlstate && strcmp(f.sqlstate, "42P05") == 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "prepared statement \"%s\" already exists", h->st->name);
            f.message = msg;
            r = wb_pg_put_fields(to_client, 'E', &f);
        } else {
            r = put_msg(to_client, 'E', body, len);
        }
    } else if ((h->kind != P_INJ_PARSE && h->kind != P_INJ_CLOSE) || (h->flags & F_FWD_ERR)) {
        r = put_error_renamed(to_client, body, len, h->kind == P_BIND || h->kind == P_DESC_S ? h->st : NULL);
    }
    undo(c, h);
    q_pop(c);
    skip_to_sync(c);
    return r != 0 ? WB_RELAY_S_NOMEM : WB_RELAY_S_OK;
}

/* COPY FROM STDIN began under an Execute: the Syncs the client sent after
 * it, up to its CopyDone/CopyFail, are ignored by the server (PostgreSQL 15
 * docs §55.2.6). When the client sent none yet, it is in COPY now. */
static void copy_in_begins(wb_relay_client *c)
{
    uint32_t w = 1, i;
    int dropped = 0, ended = 0;
    for (i = 1; i < c->qlen; i++) {
        pend *e = &c->q[(c->qhead + i) % c->qcap];
        if (!ended && e->kind == P_SYNC) {
            dropped = 1;
            continue;
        }
        if (e->kind == P_COPY_END)
            ended = 1;
        c->q[(c->qhead + w++) % c->qcap] = *e;
    }
    c->qlen = w;
    if (!ended) {
        c->copy_in = 1;
        if (dropped)
            c->server->batch_open = 1;
    }
}

/* Carry out SET / RESET records of the client on its bookkeeping and the
 * server's. *need_replay: set when the server's values now differ from the
 * client's (a RESET goes back to the server's default, the client's is its
 * start-up value). */
static int apply_sets(wb_relay_client *c, const setrec *v, int n, int *need_replay)
{
    wb_relay_server *s = c->server;
    for (int i = 0; i < n; i++) {
        const setrec *r = &v[i];
        if (!r->name) { /* RESET ALL */
            if ((wanted_reset(c), params_copy(&s->values, &s->defaults)) != 0)
                return -1;
            *need_replay = 1;
            continue;
        }
        if (!r->val) { /* RESET name */
            const param *sv = params_find(&c->startup->p, r->name), *d = params_find(&s->defaults, r->name);
            if (sv) {
                if (wanted_set(c, r->name, sv->value) != 0)
                    return -1;
                *need_replay = 1;
            } else {
                if (wanted_del(c, r->name) != 0)
                    return -1;
            }
            if (d ? params_set(&s->values, r->name, d->value) != 0 : (params_del(&s->values, r->name), 0))
                return -1;
            continue;
        }
        if (wanted_set(c, r->name, r->val) != 0 || params_set(&s->values, r->name, r->val) != 0)
            return -1;
    }
    return 0;
}

/* The records of setq with this owner belong to a Query or Sync that ended
 * with status st ('E' also when it failed): done ('I'), tentative until the
 * block ends ('T'), or void. */
static int take_sets(wb_relay_client *c, uint32_t owner, char st, int *need_replay)
{
    int w = 0, r = 0;
    for (int i = 0; i < c->nsetq; i++) {
        setrec *e = &c->setq[i];
        if (e->owner != owner) {
            c->setq[w++] = *e;
            continue;
        }
        if (st == 'I' && r == 0) {
            r = apply_sets(c, e, 1, need_replay);
        } else if (st == 'T' && r == 0) {
            if (c->ntent == c->captent) {
                int cap = c->captent ? c->captent * 2 : 4;
                setrec *nv = realloc(c->tentative, (size_t)cap * sizeof *nv);
                if (!nv) {
                    r = -1;
                    setrecs_free(e, 1);
                    continue;
                }
                c->tentative = nv;
                c->captent = cap;
            }
            c->tentative[c->ntent++] = *e;
            continue;
        }
        setrecs_free(e, 1);
    }
    c->nsetq = w;
    return r;
}

static int be_ready(wb_relay_client *c, const uint8_t *body, uint32_t len, wb_buf *to_client, wb_buf *to_server)
{
    pend *h = q_head(c);
    wb_pg_msg m = {'Z', len, body};
    char st;
    if (!h || wb_pg_parse_ready_for_query(&m, &st, NULL, 0) != 0 ||
        (h->kind != P_QUERY && h->kind != P_FUNC && h->kind != P_SYNC && h->kind != P_INJ_QUERY &&
         h->kind != P_INJ_SYNC))
        return out_of_sequence(c, 'Z', to_client);
    wb_relay_server *s = c->server;
    s->status = st;
    int fwd = (h->kind == P_QUERY || h->kind == P_FUNC || h->kind == P_SYNC) && !(h->flags & F_MUTE);
    /* DISCARD ALL / RESET reset the parameters: replay what the client has */
    int need_replay = fwd && c->replay_pending;
    if (need_replay)
        c->replay_pending = 0;
    if (fwd && st == 'I' && c->ntent) { /* the end of a transaction block with SETs */
        int r = c->commit_seen ? apply_sets(c, c->tentative, c->ntent, &need_replay) : 0;
        setrecs_free(c->tentative, c->ntent);
        c->ntent = 0;
        if (r != 0)
            return WB_RELAY_S_NOMEM;
    }
    if ((h->kind == P_QUERY || h->kind == P_SYNC) && h->owner &&
        take_sets(c, h->owner, (h->flags & F_ERRSEEN) ? 'E' : st, &need_replay) != 0)
        return WB_RELAY_S_NOMEM;
    q_pop(c);
    c->copy_in = 0;
    if (fwd) {
        if (c->mode == WB_POOL_STATEMENT && st != 'I') {
            put_error(to_client, "FATAL", "0A000", "wirebuf proxy: transaction blocks are not allowed in statement "
                                                   "pooling mode");
            return WB_RELAY_S_BROKEN;
        }
        c->txn = st;
        c->commit_seen = 0;
        if (wb_pg_put_ready_for_query(to_client, st) != 0)
            return WB_RELAY_S_NOMEM;
    }
    if (need_replay && replay(c, s, to_server, F_FWD_PS) != 0)
        return WB_RELAY_S_NOMEM;
    if (drain_syn(c, to_client) != 0)
        return WB_RELAY_S_NOMEM;
    if (c->qlen || s->batch_open || c->skipping || c->mode == WB_POOL_SESSION || st != 'I')
        return WB_RELAY_S_OK;
    return WB_RELAY_S_RELEASE;
}

int wb_relay_from_server(wb_relay_client *c, uint8_t type, const uint8_t *body, uint32_t len, wb_buf *to_client,
                         wb_buf *to_server)
{
    wb_relay_server *s = c->server;
    if (!s)
        return WB_RELAY_S_BROKEN;
    if (drain_syn(c, to_client) != 0)
        return WB_RELAY_S_NOMEM;
    pend *h = q_head(c);
    int inj = h && (h->kind == P_INJ_QUERY || h->kind == P_INJ_PARSE || h->kind == P_INJ_CLOSE ||
                    h->kind == P_INJ_SYNC);
    switch (type) {
    case 'S': {
        const char *n, *v;
        int r = server_track_param(s, body, len, &n, &v);
        if (r)
            return r < 0 ? WB_RELAY_S_NOMEM : out_of_sequence(c, type, to_client);
        /* the value the session has now; not when the replay put back the
         * server's own start-up value of a parameter the client never
         * chose (the client goes on sharing its start-up set) */
        const param *d;
        int putback = inj && (h->flags & F_REPLAY) && !params_find(c->wanted, n) &&
                      (d = params_find(&s->defaults, n)) != NULL && strcmp(d->value, v) == 0;
        if (replayable(n) && !putback && wanted_set(c, n, v) != 0)
            return WB_RELAY_S_NOMEM;
        if (inj && !(h->flags & F_FWD_PS))
            return WB_RELAY_S_OK;
        return put_msg(to_client, type, body, len) != 0 ? WB_RELAY_S_NOMEM : WB_RELAY_S_OK;
    }
    case 'N':
        if (inj)
            return WB_RELAY_S_OK;
        /* fall through */
    case 'A':
        return put_msg(to_client, type, body, len) != 0 ? WB_RELAY_S_NOMEM : WB_RELAY_S_OK;
    case 'E':
        return be_error(c, body, len, to_client);
    case 'Z':
        return be_ready(c, body, len, to_client, to_server);
    default:
        break;
    }
    if (!h)
        return out_of_sequence(c, type, to_client);
    int done = 0, ok = 0, swallow = 0;
    switch (h->kind) {
    case P_QUERY:
    case P_FUNC:
        ok = type != '1' && type != '2' && type != '3' && type != 's' && type != 'n' && type != 't' &&
             type != 'K' && type != 'R' && type != 'v';
        if (type == 'G')
            copy_in_begins(c);
        if (type == 'C' && (h->flags & F_PREFIX) && h->n) {
            h->n--;
            swallow = 1;
        } else if (type == 'C' && (h->flags & F_DISCARD) && len >= 11 && memcmp(body, "DISCARD ALL", 11) == 0) {
            sset_clear(s);
            cmap_clear(c);
            if ((wanted_reset(c), params_copy(&s->values, &s->defaults)) != 0)
                return WB_RELAY_S_NOMEM;
            c->replay_pending = 1; /* replay at its ReadyForQuery */
        }
        if (type == 'C' && len == 7 && memcmp(body, "COMMIT", 7) == 0)
            c->commit_seen = 1;
        break;
    case P_PARSE:
        ok = done = type == '1';
        if (ok && (h->flags & F_DUP))
            return out_of_sequence(c, type, to_client);
        break;
    case P_BIND:
        ok = done = type == '2';
        break;
    case P_DESC_S:
        if (type == 't' && !h->stage) {
            ok = 1;
            h->stage = 1;
        } else {
            ok = done = type == 'T' || type == 'n';
        }
        break;
    case P_DESC_P:
        ok = done = type == 'T' || type == 'n';
        break;
    case P_EXEC:
        done = type == 'C' || type == 'I' || type == 's';
        ok = done || type == 'D' || type == 'd' || type == 'c' || type == 'G' || type == 'H' || type == 'W';
        if (type == 'G')
            copy_in_begins(c);
        if (type == 'C' && len == 7 && memcmp(body, "COMMIT", 7) == 0)
            c->commit_seen = 1;
        if (type == 'C' && (h->flags & F_DISCARD) && len >= 11 && memcmp(body, "DISCARD ALL", 11) == 0) {
            /* DISCARD ALL with the extended protocol: the same as above */
            sset_clear(s);
            cmap_clear(c);
            if ((wanted_reset(c), params_copy(&s->values, &s->defaults)) != 0)
                return WB_RELAY_S_NOMEM;
            c->replay_pending = 1;
        }
        break;
    case P_CLOSE:
        ok = done = type == '3';
        break;
    case P_INJ_PARSE:
        ok = done = swallow = type == '1';
        break;
    case P_INJ_CLOSE:
        ok = done = swallow = type == '3';
        break;
    case P_INJ_QUERY:
        ok = swallow = 1;
        break;
    default:
        break;
    }
    if (!ok)
        return out_of_sequence(c, type, to_client);
    if (!swallow && !(h->flags & F_MUTE) && put_msg(to_client, type, body, len) != 0)
        return WB_RELAY_S_NOMEM;
    if (done) {
        q_pop(c);
        if (drain_syn(c, to_client) != 0)
            return WB_RELAY_S_NOMEM;
    }
    return WB_RELAY_S_OK;
}
