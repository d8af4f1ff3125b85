/* wirebuf serve - a PostgreSQL v3 wire server on an embedded SQLite engine.
 * Flags are named as `postgres` names them (-D -h -p -k). Exit status: 0
 * after a clean shutdown (SIGTERM/SIGINT), 2 for a usage error, 1 when the
 * server cannot start (busy port, unwritable DATADIR, bad certificate...). */
#include "../src/server/server.h"
#include "../src/server/session.h"
#include "../src/proxy/proxy.h"
#include "../src/proxy/relay.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const usage_serve =
    "usage: wirebuf serve [-D DATADIR] [-h ADDRESSES] [-p PORT] [-k SOCKET_DIR]\n"
    "                     [--auth trust|password|md5|scram-sha-256] [--passwords FILE]\n"
    "                     [--ssl-cert FILE --ssl-key FILE] [--max-connections N]\n"
    "                     [--threads N] [--authentication-timeout SECS]\n"
    "       wirebuf serve --upstream CONNINFO [--pool-mode transaction|session|statement]\n"
    "                     [--pool-size N] [--min-pool-size N] [--server-idle-timeout S]\n"
    "                     [--query-wait-timeout S] [--metrics ADDRESS:PORT] [server flags]\n"
    "Serve the PostgreSQL v3 protocol (psql, pgbench, libpq, JDBC... connect\n"
    "unchanged) from SQLite databases in DATADIR, one file per database.\n"
    "  -D DATADIR        data directory (default: $PGDATA); created when missing\n"
    "  -h ADDRESSES      comma-separated TCP addresses to listen on, '*' for all,\n"
    "                    '' for none (default: localhost)\n"
    "  -p PORT           TCP port and Unix socket suffix (default: $PGPORT, else 5432)\n"
    "  -k SOCKET_DIR     directory of the Unix socket .s.PGSQL.PORT (default: /tmp;\n"
    "                    '' for none)\n"
    "  --auth METHOD     trust, password (cleartext), md5 or scram-sha-256 for every\n"
    "                    connection (default: trust on the Unix socket and loopback,\n"
    "                    scram-sha-256 from other addresses); trust is refused on a\n"
    "                    non-loopback address\n"
    "  --passwords FILE  role:password lines, kept in memory as SCRAM-SHA-256\n"
    "                    verifiers and md5 hashes\n"
    "  --ssl-cert FILE, --ssl-key FILE\n"
    "                    PEM certificate and key: enables TLS (SSLRequest) and\n"
    "                    SCRAM-SHA-256-PLUS channel binding\n"
    "  --max-connections N  sessions at once; more get FATAL 53300 (default 100)\n"
    "  --threads N       I/O threads (default 2; 1 with --upstream); statements run\n"
    "                    on a worker pool\n"
    "  --authentication-timeout SECS  close a connection that has not finished\n"
    "                    startup and authentication in time (default 60)\n"
    "Pooling proxy (--upstream; no -D): clients authenticate here as above, then\n"
    "share server connections to the upstream PostgreSQL, one pool per (database,\n"
    "user); the database \"wirebuf\" is the admin console (SHOW POOLS, PAUSE...).\n"
    "  --upstream CONNINFO  libpq string or URI of the upstream (host, port, sslmode,\n"
    "                    password/passfile; PG* environment honoured); dbname and\n"
    "                    user are each client's own\n"
    "  --pool-mode MODE  transaction (default), session or statement\n"
    "  --pool-size N     server connections per (database, user) (default 20)\n"
    "  --min-pool-size N server connections kept open per pool (default 0)\n"
    "  --server-idle-timeout S  close server connections idle this long (default 600)\n"
    "  --query-wait-timeout S   a client waiting longer for a server connection gets\n"
    "                    an error and is closed (default 120; 0 = forever)\n"
    "  --metrics ADDRESS:PORT   Prometheus text at http://ADDRESS:PORT/metrics\n"
    "Stop with SIGTERM or SIGINT: in-flight statements finish, open transactions\n"
    "roll back, every session gets FATAL 57P01.\n";

static int parse_int(const char *flag, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "wirebuf serve: invalid value \"%s\" for %s (an integer from %ld to %ld)\n", s, flag, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int wb_cli_serve(int argc, char **argv)
{
    wb_server_config cfg = {0};
    cfg.auth = -1;
    const char *env;
    if ((env = getenv("PGDATA")) && *env)
        cfg.datadir = env;
    if ((env = getenv("PGPORT")) && *env && parse_int("PGPORT", env, 1, 65535, &cfg.port) != 0)
        return 2;
    enum { O_AUTH = 256, O_PW, O_CERT, O_KEY, O_MAXC, O_THREADS, O_ATO, O_HELP, O_UP, O_PMODE, O_PSIZE, O_PMIN,
           O_SIDLE, O_QWAIT, O_METRICS };
    wb_proxy_config pc = {0};
    pc.pool_mode = WB_POOL_TRANSACTION;
    pc.pool_size = 20;
    pc.server_idle_timeout_s = 600;
    pc.query_wait_timeout_s = 120;
    static const struct option lo[] = {{"auth", required_argument, 0, O_AUTH},
                                       {"passwords", required_argument, 0, O_PW},
                                       {"ssl-cert", required_argument, 0, O_CERT},
                                       {"ssl-key", required_argument, 0, O_KEY},
                                       {"max-connections", required_argument, 0, O_MAXC},
                                       {"threads", required_argument, 0, O_THREADS},
                                       {"authentication-timeout", required_argument, 0, O_ATO},
                                       {"help", no_argument, 0, O_HELP},
                                       {"upstream", required_argument, 0, O_UP},
                                       {"pool-mode", required_argument, 0, O_PMODE},
                                       {"pool-size", required_argument, 0, O_PSIZE},
                                       {"min-pool-size", required_argument, 0, O_PMIN},
                                       {"server-idle-timeout", required_argument, 0, O_SIDLE},
                                       {"query-wait-timeout", required_argument, 0, O_QWAIT},
                                       {"metrics", required_argument, 0, O_METRICS},
                                       {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":D:h:p:k:", lo, NULL)) != -1) {
        switch (ch) {
        case 'D': cfg.datadir = optarg; break;
        case 'h': cfg.addresses = optarg; break;
        case 'p':
            if (parse_int("-p", optarg, 1, 65535, &cfg.port) != 0)
                return 2;
            break;
        case 'k': cfg.socket_dir = optarg; break;
        case O_AUTH:
            if (strcmp(optarg, "trust") == 0)
                cfg.auth = WB_SRV_AUTH_TRUST;
            else if (strcmp(optarg, "password") == 0)
                cfg.auth = WB_SRV_AUTH_PASSWORD;
            else if (strcmp(optarg, "md5") == 0)
                cfg.auth = WB_SRV_AUTH_MD5;
            else if (strcmp(optarg, "scram-sha-256") == 0)
                cfg.auth = WB_SRV_AUTH_SCRAM;
            else {
                fprintf(stderr, "wirebuf serve: invalid --auth \"%s\" (trust, password, md5 or scram-sha-256)\n",
                        optarg);
                return 2;
            }
            break;
        case O_PW: cfg.passwords = optarg; break;
        case O_CERT: cfg.ssl_cert = optarg; break;
        case O_KEY: cfg.ssl_key = optarg; break;
        case O_MAXC:
            if (parse_int("--max-connections", optarg, 1, 1000000, &cfg.max_connections) != 0)
                return 2;
            break;
        case O_THREADS:
            if (parse_int("--threads", optarg, 1, 256, &cfg.threads) != 0)
                return 2;
            break;
        case O_ATO:
            if (parse_int("--authentication-timeout", optarg, 1, 600, &cfg.auth_timeout_s) != 0)
                return 2;
            break;
        case O_HELP: fputs(usage_serve, stdout); return 0;
        case O_UP: pc.upstream = optarg; break;
        case O_PMODE:
            if (strcmp(optarg, "transaction") == 0)
                pc.pool_mode = WB_POOL_TRANSACTION;
            else if (strcmp(optarg, "session") == 0)
                pc.pool_mode = WB_POOL_SESSION;
            else if (strcmp(optarg, "statement") == 0)
                pc.pool_mode = WB_POOL_STATEMENT;
            else {
                fprintf(stderr, "wirebuf serve: invalid --pool-mode \"%s\" (transaction, session or statement)\n",
                        optarg);
                return 2;
            }
            break;
        case O_PSIZE:
            if (parse_int("--pool-size", optarg, 1, 100000, &pc.pool_size) != 0)
                return 2;
            break;
        case O_PMIN:
            if (parse_int("--min-pool-size", optarg, 0, 100000, &pc.min_pool_size) != 0)
                return 2;
            break;
        case O_SIDLE:
            if (parse_int("--server-idle-timeout", optarg, 0, 86400 * 365, &pc.server_idle_timeout_s) != 0)
                return 2;
            break;
        case O_QWAIT:
            if (parse_int("--query-wait-timeout", optarg, 0, 86400 * 365, &pc.query_wait_timeout_s) != 0)
                return 2;
            break;
        case O_METRICS: pc.metrics = optarg; break;
        case ':':
            fprintf(stderr, "wirebuf serve: option %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "wirebuf serve: unknown option \"%s\"\n%s", argv[optind - 1], usage_serve);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "wirebuf serve: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (pc.upstream && getenv("PGDATA") && cfg.datadir == getenv("PGDATA"))
        cfg.datadir = NULL; /* $PGDATA means nothing to the proxy */
    if (pc.upstream && cfg.datadir) {
        fprintf(stderr, "wirebuf serve: --upstream and -D exclude each other (the proxy opens no engine)\n");
        return 2;
    }
    if (!pc.upstream && (pc.metrics || pc.min_pool_size)) {
        fprintf(stderr, "wirebuf serve: pool flags need --upstream CONNINFO\n");
        return 2;
    }
    if (pc.min_pool_size > pc.pool_size) {
        fprintf(stderr, "wirebuf serve: --min-pool-size %d is above --pool-size %d\n", pc.min_pool_size, pc.pool_size);
        return 2;
    }
    char err[512];
    wb_proxy *proxy = NULL;
    if (pc.upstream) {
        proxy = wb_proxy_new(&pc, err, sizeof err);
        if (!proxy) {
            fprintf(stderr, "wirebuf serve: %s\n", err);
            return 1;
        }
        cfg.proxy = proxy;
    }
    if (!cfg.datadir && !proxy) {
        fprintf(stderr, "wirebuf serve: no data directory: give -D DATADIR or set PGDATA\n");
        return 2;
    }
    wb_server *srv = wb_server_new(&cfg, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "wirebuf serve: %s\n", err);
        wb_proxy_free(proxy);
        return 1;
    }
    int rc = wb_server_run(srv);
    wb_server_free(srv);
    wb_proxy_free(proxy);
    return rc;
}
