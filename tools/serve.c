/* wirebuf serve - a PostgreSQL v3 wire server on an embedded SQLite engine.
 * Flags are named as `postgres` names them (-D -h -p -k). Exit status: 0
 * after a clean shutdown (SIGTERM/SIGINT), 2 for a usage error, 1 when the
 * server cannot start (busy port, unwritable DATADIR, bad certificate...). */
#include "../src/server/server.h"
#include "../src/server/session.h"

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
    "  --threads N       I/O threads (default 2); statements run on a worker pool\n"
    "  --authentication-timeout SECS  close a connection that has not finished\n"
    "                    startup and authentication in time (default 60)\n"
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
    enum { O_AUTH = 256, O_PW, O_CERT, O_KEY, O_MAXC, O_THREADS, O_ATO, O_HELP };
    static const struct option lo[] = {{"auth", required_argument, 0, O_AUTH},
                                       {"passwords", required_argument, 0, O_PW},
                                       {"ssl-cert", required_argument, 0, O_CERT},
                                       {"ssl-key", required_argument, 0, O_KEY},
                                       {"max-connections", required_argument, 0, O_MAXC},
                                       {"threads", required_argument, 0, O_THREADS},
                                       {"authentication-timeout", required_argument, 0, O_ATO},
                                       {"help", no_argument, 0, O_HELP},
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
    if (!cfg.datadir) {
        fprintf(stderr, "wirebuf serve: no data directory: give -D DATADIR or set PGDATA\n");
        return 2;
    }
    char err[512];
    wb_server *srv = wb_server_new(&cfg, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "wirebuf serve: %s\n", err);
        return 1;
    }
    int rc = wb_server_run(srv);
    wb_server_free(srv);
    return rc;
}
