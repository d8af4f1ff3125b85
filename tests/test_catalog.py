"""pg_catalog of `wirebuf serve` (issue 11 §1): psql's meta-commands,
SQLAlchemy's postgresql dialect and a differential run of the same catalog
queries against a throwaway PostgreSQL 15.

    scripts/with_pg.sh /usr/bin/python3 tests/test_catalog.py build/wirebuf

Starts its own `wirebuf serve` on a temp DATADIR and a free port. Without
PostgreSQL (WB_PG_HOST unset) the differential part is skipped; the rest
still runs."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from serve_once import free_port  # tests/ is the script's directory

WIREBUF = os.path.abspath(sys.argv[1])
FAILS = []
JDBC_OUT = {}  # jdbc_part's rows and command, for the differential run

SCHEMA = [
    "CREATE TABLE authors (id serial PRIMARY KEY, name varchar(200) NOT NULL, "
    "email text UNIQUE, created timestamptz DEFAULT now())",
    "CREATE TABLE books (id bigserial PRIMARY KEY, author_id integer REFERENCES authors(id), "
    "title varchar(200) NOT NULL, price numeric(10,2), flags smallint NOT NULL DEFAULT 0)",
    "CREATE INDEX books_title_idx ON books (title)",
    "CREATE VIEW cheap_books AS SELECT id, title FROM books WHERE price < 10",
]

# CHECK / NOT NULL / named UNIQUE constraints (created after the \\d family
# checks above, on both servers in the differential run)
CK_SCHEMA = [
    "CREATE TABLE gadgets (id int PRIMARY KEY, price numeric(10,2) CHECK (price > 0), "
    "qty int NOT NULL CONSTRAINT qty_pos CHECK (qty >= 0), code text, sku text, "
    "maker int CONSTRAINT gadgets_maker_fk REFERENCES authors(id), "
    "CONSTRAINT gadgets_code_uq UNIQUE (code), UNIQUE (sku), CHECK (qty < 1000 AND price < 1000000), "
    "CONSTRAINT gadgets_code_fk FOREIGN KEY (code) REFERENCES authors(email))",
    # a two-column primary key in the other order, a DESC index column
    "CREATE TABLE gadget_parts (gadget int, part int, qty int, PRIMARY KEY (part, gadget))",
    "CREATE INDEX gadget_parts_qty_idx ON gadget_parts (qty DESC, part)",
]


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


def psql(host, port, user, *cmds, db="postgres"):
    args = ["psql", "-X", "-q", "-h", host, "-p", str(port), "-U", user, "-d", db,
            "-v", "ON_ERROR_STOP=1"]
    for c in cmds:
        args += ["-c", c]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)  # a sanitizer runtime is for the server only
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        FAILS.append("psql %r: %s" % (cmds, r.stderr.strip()))
        print("FAIL: psql", cmds, r.stderr.strip())
    return r.stdout


def psql_errors(host, port, user, *cmds):
    """psql without ON_ERROR_STOP: stdout and stderr together (errors expected)"""
    args = ["psql", "-X", "-q", "-h", host, "-p", str(port), "-U", user, "-d", "postgres"]
    for c in cmds:
        args += ["-c", c]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    return r.stdout + r.stderr


def main():
    tmp = tempfile.mkdtemp(prefix="wb_catalog_")
    port = free_port()
    user = os.environ.get("WB_PG_SUPER") or os.environ.get("USER") or "postgres"
    srv = subprocess.Popen([WIREBUF, "serve", "-D", os.path.join(tmp, "data"), "-p", str(port),
                            "-k", tmp, "-h", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if os.path.exists(os.path.join(tmp, ".s.PGSQL.%d" % port)):
                break
            time.sleep(0.05)
        run(tmp, port, user)
    finally:
        srv.terminate()
        try:
            _, err = srv.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            srv.kill()
            _, err = srv.communicate()
        shutil.rmtree(tmp, ignore_errors=True)
        if srv.returncode not in (0, -15):
            FAILS.append("server exit %s: %s" % (srv.returncode, err.decode(errors="replace")[-2000:]))
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        sys.exit(1)
    print("ok")

# CREATE DOMAIN (created after the parts above, on both servers in the
# differential run)
DOMAIN_SCHEMA = [
    "CREATE DOMAIN posint AS integer DEFAULT 3 NOT NULL CONSTRAINT posint_pos CHECK (VALUE > 0)",
    "CREATE DOMAIN code5 AS varchar(20) CHECK (length(VALUE) <= 5)",
]
# a table of domain columns (created after DOMAIN_SCHEMA)
DOMAIN_TABLE = ["CREATE TABLE dom_t (id int PRIMARY KEY, n posint, c code5, m posint DEFAULT 7)"]
DOMAIN_DROP = ["DROP TABLE IF EXISTS dom_t", "DROP DOMAIN IF EXISTS posint", "DROP DOMAIN IF EXISTS code5"]
# statements whose outcome (rows, or SQLSTATE and message) must be
# PostgreSQL's, run in this order on dom_t
DOMAIN_DML = [
    "INSERT INTO dom_t (id, c) VALUES (1, 'abc') RETURNING id, n, c, m",
    "INSERT INTO dom_t (id, n, c) VALUES (2, 5, 'x') RETURNING *",
    "INSERT INTO dom_t (id, n) VALUES (3, -1)",
    "INSERT INTO dom_t (id, n) VALUES (3, NULL)",
    "INSERT INTO dom_t (id, c) VALUES (3, 'toolong')",
    "UPDATE dom_t SET n = 0 WHERE id = 1",
    "UPDATE dom_t SET n = n + 10 WHERE id = 1 RETURNING n",
    "SELECT 5::posint AS a, CAST('ab' AS code5) AS b",
    "SELECT '-3'::posint",
    "SELECT NULL::posint",
    "SELECT 'abcdef'::code5",
    "SELECT NULL::code5 IS NULL AS is_null",
    "DROP DOMAIN posint",
    "SELECT id, n, c, m FROM dom_t ORDER BY id",
]


def run(tmp, port, user):
    psql(tmp, port, user, *SCHEMA)
    d_books = psql(tmp, port, user, "\\d books")
    for want in ["character varying(200)", "numeric(10,2)", "bigint", "smallint", "not null",
                 "nextval('books_id_seq'", '"books_pkey" PRIMARY KEY, btree (id)',
                 '"books_title_idx" btree (title)',
                 '"books_author_id_fkey" FOREIGN KEY (author_id) REFERENCES authors(id)']:
        check(want in d_books, "\\d books shows %r:\n%s" % (want, d_books))
    d_auth = psql(tmp, port, user, "\\d authors")
    for want in ["timestamp with time zone", "now()", '"authors_pkey" PRIMARY KEY, btree (id)',
                 '"authors_email_key" UNIQUE CONSTRAINT, btree (email)',
                 'TABLE "books" CONSTRAINT "books_author_id_fkey"']:
        check(want in d_auth, "\\d authors shows %r:\n%s" % (want, d_auth))
    dt = psql(tmp, port, user, "\\dt")
    check("authors | table" in dt and "books   | table" in dt and "(2 rows)" in dt, "\\dt:\n" + dt)
    di = psql(tmp, port, user, "\\di")
    for n in ["authors_pkey", "authors_email_key", "books_pkey", "books_title_idx"]:
        check(n in di, "\\di lists %s:\n%s" % (n, di))
    dv = psql(tmp, port, user, "\\dv")
    check("cheap_books | view" in dv, "\\dv:\n" + dv)
    # view_definition / pg_get_viewdef: the query as libpg_query deparses it
    vd = psql(tmp, port, user, "SELECT view_definition, pg_get_viewdef('cheap_books'::regclass, true) = view_definition "
              "FROM information_schema.views WHERE table_name = 'cheap_books'")
    check("SELECT id, title FROM books WHERE price < 10; | t" in vd, "view_definition:\n" + vd)
    vd = psql(tmp, port, user, "\\d+ cheap_books")
    check("View definition:\nSELECT id, title FROM books WHERE price < 10;" in vd, "\\d+ cheap_books:\n" + vd)
    dn = psql(tmp, port, user, "\\dn")
    check("public" in dn, "\\dn:\n" + dn)
    x = psql(tmp, port, user, "\\x on", "SELECT relname, relkind FROM pg_class WHERE relname = 'books'")
    check("relname | books" in x and "relkind | r" in x, "\\x:\n" + x)
    # pgvector's type, for clients that look it up by name
    v = psql(tmp, port, user, "SELECT oid, typname, typarray, typinput, typoutput FROM pg_type "
             "WHERE typname IN ('vector', '_vector') ORDER BY oid")
    check("2000000001 | vector  | 2000000002 | vector_in | vector_out" in v, "pg_type vector:\n" + v)
    ds = psql(tmp, port, user, "\\ds")
    check("authors_id_seq | sequence" in ds and "books_id_seq   | sequence" in ds, "\\ds:\n" + ds)
    dtp = psql(tmp, port, user, "\\dt+")
    check("Size" in dtp and " bytes" in dtp and "(2 rows)" in dtp, "\\dt+:\n" + dtp)
    dx = psql(tmp, port, user, "\\dx")
    check("List of installed extensions" in dx and "plpgsql | 1.0     | pg_catalog" in dx and "(1 row)" in dx
          and "vector" not in dx, "\\dx before CREATE EXTENSION:\n" + dx)
    psql(tmp, port, user, "CREATE EXTENSION vector", "CREATE EXTENSION IF NOT EXISTS vector")
    # a second CREATE EXTENSION without IF NOT EXISTS fails as in PostgreSQL
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    r = subprocess.run(["psql", "-X", "-h", tmp, "-p", str(port), "-U", user, "-d", "postgres", "-v", "VERBOSITY=verbose",
                        "-c", "CREATE EXTENSION vector"], capture_output=True, text=True, env=env)
    check(r.returncode != 0 and '42710: extension "vector" already exists' in r.stderr,
          "repeated CREATE EXTENSION vector: " + r.stderr)
    dx = psql(tmp, port, user, "\\dx")
    check("plpgsql | 1.0     | pg_catalog" in dx and "vector  | 0.8.0   | public" in dx and "(2 rows)" in dx,
          "\\dx after CREATE EXTENSION vector:\n" + dx)
    dt = psql(tmp, port, user, "\\dt")
    check("wb_extensions" not in dt, "\\dt hides wb_extensions:\n" + dt)
    # pg_settings: the session's values (SHOW's) in the setting's unit, read-only
    st = psql(tmp, port, user, "SET work_mem = '8MB'",
              "SELECT name, setting, unit, vartype, source, boot_val, reset_val FROM pg_settings "
              "WHERE name IN ('work_mem', 'DateStyle', 'application_name', 'effective_cache_size') ORDER BY 1")
    for want in ["DateStyle            | ISO, MDY | ", "application_name     | psql     |      | string  | client",
                 "effective_cache_size | 524288   | 8kB  | integer | default | 524288   | 524288",
                 "work_mem             | 8192     | kB   | integer | session | 4096     | 4096"]:
        check(want in st, "pg_settings row %r in:\n%s" % (want, st))
    st = psql(tmp, port, user, "SELECT enumvals FROM pg_settings WHERE name = 'client_min_messages'")
    check("{debug5,debug4,debug3,debug2,debug1,log,notice,warning,error}" in st, "pg_settings enumvals:\n" + st)
    args = ["psql", "-X", "-h", tmp, "-p", str(port), "-U", user, "-d", "postgres", "-c",
            "UPDATE pg_settings SET setting = '1' WHERE name = 'work_mem'"]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    check(r.returncode != 0 and "cannot modify pg_settings" in r.stderr, "UPDATE pg_settings fails: " + r.stderr)
    df = psql(tmp, port, user, "\\df")
    check("List of functions" in df and "(0 rows)" in df, "\\df:\n" + df)
    nv = psql(tmp, port, user, "SELECT nextval('books_id_seq'::regclass), currval('public.books_id_seq')")
    check(" 1 |       1" in nv, "nextval(regclass):\n" + nv)
    # pg_class (relations and sequences) joined with pg_attribute and
    # pg_index under an ORDER BY: SQLite 3.40 flattened the UNION ALL view
    # into the join and returned no rows (README); with select-list SRFs too
    jo = psql(tmp, port, user, "SELECT c.relname, a.attname, i.indexrelid::regclass FROM pg_class c "
              "JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_index i ON i.indrelid = c.oid "
              "AND a.attnum = ANY(i.indkey) WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1, 2, 3")
    check("authors | email   | authors_email_key" in jo and "books   | title   | books_title_idx" in jo
          and "(4 rows)" in jo, "pg_class JOIN pg_attribute JOIN pg_index ORDER BY:\n" + jo)
    srf = psql(tmp, port, user, "SELECT r.* FROM (SELECT a.attname, unnest(i.indkey) k, a.attnum an FROM pg_class ct "
               "JOIN pg_attribute a ON a.attrelid = ct.oid JOIN pg_index i ON i.indrelid = ct.oid "
               "WHERE ct.relname = 'books') r WHERE r.an = r.k ORDER BY 1")
    check(" id      | 1 |  1" in srf and " title   | 3 |  3" in srf and "(2 rows)" in srf,
          "select-list unnest joined with pg_class, ORDER BY:\n" + srf)
    constraints_part(tmp, port, user)
    domains_part(tmp, port, user)
    psycopg3_part(tmp, port, user)
    asyncpg_part(tmp, port, user)
    pgbench_part(tmp, port, user)
    jdbc_part(tmp, port, user)
    sqlalchemy_part(tmp, port, user)
    if os.environ.get("WB_PG_HOST"):
        differential(tmp, port, user)
    else:
        print("skip: differential part (no PostgreSQL: run under scripts/with_pg.sh)")


def constraints_part(tmp, port, user):
    psql(tmp, port, user, *CK_SCHEMA)
    d = psql(tmp, port, user, "\\d gadgets")
    for want in ['"gadgets_code_uq" UNIQUE CONSTRAINT, btree (code)',
                 '"gadgets_maker_fk" FOREIGN KEY (maker) REFERENCES authors(id)',
                 '"gadgets_code_fk" FOREIGN KEY (code) REFERENCES authors(email)', '"gadgets_sku_key" UNIQUE CONSTRAINT, btree (sku)',
                 "Check constraints:", '"gadgets_check" CHECK (', '"gadgets_price_check" CHECK (', '"qty_pos" CHECK (']:
        check(want in d, "\\d gadgets shows %r:\n%s" % (want, d))
    k = psql(tmp, port, user, "SELECT conname, contype, conkey FROM pg_constraint WHERE conrelid = 'gadgets'::regclass ORDER BY 1")
    for want in ["gadgets_check       | c       | {3,2}",  # the order the expression names them "gadgets_code_uq     | u       | {4}",
                 "gadgets_pkey        | p       | {1}", "gadgets_price_check | c       | {2}",
                 "gadgets_sku_key     | u       | {5}", "qty_pos             | c       | {3}",
                 "gadgets_code_fk     | f       | {4}", "gadgets_maker_fk    | f       | {6}", "(8 rows)"]:
        check(want in k, "pg_constraint gadgets %r:\n%s" % (want, k))
    tc = psql(tmp, port, user, "SELECT constraint_type, count(*) FROM information_schema.table_constraints "
              "WHERE table_name = 'gadgets' GROUP BY 1 ORDER BY 1")
    check("CHECK           |     5" in tc and "PRIMARY KEY     |     1" in tc and "UNIQUE          |     2" in tc,
          "table_constraints gadgets:\n" + tc)
    cc = psql(tmp, port, user, "SELECT check_clause FROM information_schema.check_constraints "
              "WHERE constraint_name LIKE '2200\\_' || 'gadgets'::regclass::oid || '\\_%' ORDER BY 1")
    check(" id IS NOT NULL" in cc and " qty IS NOT NULL" in cc and "(2 rows)" in cc, "check_constraints NOT NULL:\n" + cc)
    cc = psql(tmp, port, user, "SELECT c.constraint_name, c.check_clause FROM information_schema.check_constraints c "
              "WHERE c.constraint_name = 'qty_pos'")
    check("qty_pos" in cc and "qty" in cc and ">= 0" in cc and "(1 row)" in cc, "check_constraints qty_pos:\n" + cc)


# wirebuf's outcome of DOMAIN_DML through psycopg2 (the differential run
# compares PostgreSQL's): ("rows", rows, column type OIDs) or ("error",
# SQLSTATE, message)
DOMAIN_OUT = []
ASYNCPG_DOMAIN = []  # asyncpg_domain_probe against wirebuf


def run_domain_dml(cur):
    """DOMAIN_DML on a psycopg2 cursor (autocommit): each statement's
    ("rows", rows, column type OIDs) or ("error", SQLSTATE, message)"""
    import psycopg2
    out = []
    for q in DOMAIN_DML:
        try:
            cur.execute(q)
            out.append(("rows", [tuple(r) for r in cur.fetchall()], [d[1] for d in cur.description]))
        except psycopg2.Error as e:
            out.append(("error", e.pgcode, e.diag.message_primary))
    return out


def domain_dml_psycopg2(tmp, port, user):
    import psycopg2
    c = psycopg2.connect(host=tmp, port=port, user=user, dbname="postgres")
    c.autocommit = True
    DOMAIN_OUT.extend(run_domain_dml(c.cursor()))
    c.close()
    # RowDescription shows the base type (int4, varchar), as printtup does
    check(DOMAIN_OUT[-1][0] == "rows" and DOMAIN_OUT[-1][2] == [23, 23, 1043, 23], "domain columns' types %r" % (DOMAIN_OUT[-1],))


def domains_part(tmp, port, user):
    def flat(text):
        return " ".join(text.split())
    psql(tmp, port, user, *DOMAIN_SCHEMA)
    t = flat(psql(tmp, port, user, "SELECT typname, typtype, typnamespace::regnamespace, format_type(typbasetype, typtypmod), "
                  "typnotnull, typdefault, typarray, typinput, typoutput, format_type(oid, NULL) = typname "
                  "FROM pg_type WHERE typtype = 'd' ORDER BY 1"))
    for want in ["code5 | d | public | character varying(20) | f | | 0 | domain_in | varcharout | t",
                 "posint | d | public | integer | t | 3 | 0 | domain_in | int4out | t", "(2 rows)"]:
        check(want in t, "pg_type domains %r:\n%s" % (want, t))
    k = flat(psql(tmp, port, user, "SELECT conname, contype, contypid::regtype, conrelid::regclass, pg_get_constraintdef(oid) "
                  "FROM pg_constraint WHERE contypid <> 0 ORDER BY 1"))
    for want in ["code5_check | c | code5 | - | CHECK ((length(VALUE) <= 5))",
                 "posint_pos | c | posint | - | CHECK ((VALUE > 0))", "(2 rows)"]:
        check(want in k, "pg_constraint domain checks %r:\n%s" % (want, k))
    dd = flat(psql(tmp, port, user, "\\dD"))
    for want in ["List of domains", "public | code5 | character varying(20) | | | | CHECK ((length(VALUE) <= 5))",
                 "public | posint | integer | | not null | 3 | CHECK ((VALUE > 0))"]:
        check(want in dd, "\\dD shows %r:\n%s" % (want, dd))
    # errors as PostgreSQL's: duplicate 42710, unknown 42704, IF EXISTS
    e = flat(psql_errors(tmp, port, user, "CREATE DOMAIN posint AS text", "DROP DOMAIN nosuch",
                         "CREATE DOMAIN d2 AS nosuchtype", "CREATE DOMAIN tmpd AS int8",
                         "DROP DOMAIN IF EXISTS nosuch, tmpd CASCADE",
                         "SELECT count(*) AS left_over FROM pg_type WHERE typname IN ('tmpd', 'd2')"))
    for want in ['type "posint" already exists', 'type "nosuch" does not exist', 'type "nosuchtype" does not exist',
                 "left_over ----------- 0 (1 row)"]:
        check(want in e, "domain errors %r:\n%s" % (want, e))
    # a domain as a column's type: its DEFAULT, NOT NULL and CHECK on every
    # value stored, casts checked, the domain kept in pg_attribute
    psql(tmp, port, user, *DOMAIN_TABLE)
    e = flat(psql_errors(tmp, port, user, "\\set VERBOSITY verbose", *DOMAIN_DML))
    for want in ["id | n | c | m ----+---+-----+--- 1 | 3 | abc | 7 (1 row)",
                 '23514: value for domain posint violates check constraint "posint_pos"',
                 "23502: domain posint does not allow null values",
                 '23514: value for domain code5 violates check constraint "code5_check"',
                 "n ---- 13 (1 row)", "a | b ---+---- 5 | ab (1 row)", "is_null --------- t (1 row)",
                 "2BP01: cannot drop type posint because other objects depend on it",
                 "1 | 13 | abc | 7 2 | 5 | x | 7 (2 rows)"]:
        check(want in e, "domain columns %r:\n%s" % (want, e))
    check(e.count("violates check constraint") == 5, "domain CHECK violations:\n" + e)
    a = flat(psql(tmp, port, user, "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef "
                  "FROM pg_attribute a WHERE a.attrelid = 'dom_t'::regclass AND a.attnum > 0 ORDER BY a.attnum"))
    for want in ["id | integer | t | f", "n | posint | f | f", "c | code5 | f | f", "m | posint | f | t", "(4 rows)"]:
        check(want in a, "pg_attribute of domain columns %r:\n%s" % (want, a))
    k = flat(psql(tmp, port, user, "SELECT conname FROM pg_constraint WHERE conrelid = 'dom_t'::regclass"))
    check("dom_t_pkey (1 row)" in k, "a domain's CHECK is not the table's:\n" + k)
    # once more through psycopg2 on a fresh table (compared with PostgreSQL's in the differential run)
    psql(tmp, port, user, "DROP TABLE dom_t", *DOMAIN_TABLE)
    domain_dml_psycopg2(tmp, port, user)
    e = flat(psql_errors(tmp, port, user, "\\set VERBOSITY verbose", "SELECT 1::nosuchtype", "SELECT 1::posint(3)",
                         "CREATE DOMAIN dd AS posint"))
    check('42704: type "nosuchtype" does not exist' in e and
          '42601: type modifier is not allowed for type "posint"' in e and
          "0A000: a domain over a domain is not supported" in e, "domain errors:\n" + e)
    # the OID by regtype is pg_type's
    o = flat(psql(tmp, port, user, "SELECT 'posint'::regtype::oid = (SELECT oid FROM pg_type WHERE typname = 'posint') AS same"))
    check("same ------ t" in o, "domain OID by regtype:\n" + o)


def sqlalchemy_part(tmp, port, user):
    try:
        import sqlalchemy as sa
    except ImportError:
        print("skip: SQLAlchemy part (python3-sqlalchemy missing)")
        return
    eng = sa.create_engine("postgresql+psycopg2://%s@/postgres?host=%s&port=%d" % (user, tmp, port))
    insp = sa.inspect(eng)
    cols = insp.get_columns("books")
    check([c["name"] for c in cols] == ["id", "author_id", "title", "price", "flags"], "get_columns names %r" % cols)
    types = {c["name"]: str(c["type"]) for c in cols}
    check(types.get("title") == "VARCHAR(200)" and types.get("price") == "NUMERIC(10, 2)"
          and types.get("id") == "BIGINT", "get_columns types %r" % types)
    nn = {c["name"]: c["nullable"] for c in cols}
    check(nn.get("title") is False and nn.get("price") is True, "get_columns nullable %r" % nn)
    # get_pk_constraint sends unnest()/generate_subscripts() in the select
    # list, get_indexes `attnum = ANY(indkey)` (an int2vector)
    pk = insp.get_pk_constraint("books")
    check(pk == {"constrained_columns": ["id"], "name": "books_pkey"}, "get_pk_constraint %r" % pk)
    ix = sorted((i["name"], i["unique"], i["column_names"]) for i in insp.get_indexes("books"))
    check(ix == [("books_title_idx", False, ["title"])], "get_indexes books %r" % ix)
    ix = sorted((i["name"], i["unique"], i["column_names"]) for i in insp.get_indexes("authors"))
    check(ix == [("authors_email_key", True, ["email"])], "get_indexes authors %r" % ix)
    uq = insp.get_unique_constraints("authors")
    check(uq == [{"name": "authors_email_key", "column_names": ["email"]}], "get_unique_constraints %r" % uq)
    fks = insp.get_foreign_keys("books")
    check(len(fks) == 1 and fks[0]["name"] == "books_author_id_fkey" and fks[0]["referred_table"] == "authors"
          and fks[0]["constrained_columns"] == ["author_id"] and fks[0]["referred_columns"] == ["id"],
          "get_foreign_keys %r" % fks)
    check(insp.has_table("books") and not insp.has_table("nope"), "has_table")
    md = sa.MetaData()
    sa.Table("sa_items", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(50), nullable=False, unique=True))
    sa.Table("sa_pair", md, sa.Column("a", sa.Integer, primary_key=True), sa.Column("b", sa.Integer, primary_key=True),
             sa.Column("c", sa.Integer), sa.Column("d", sa.Integer), sa.UniqueConstraint("d", "c"),
             sa.Index("sa_pair_c_idx", "c", "a"))
    md.create_all(eng)
    insp = sa.inspect(eng)
    pk = insp.get_pk_constraint("sa_pair")
    check(pk == {"constrained_columns": ["a", "b"], "name": "sa_pair_pkey"}, "get_pk_constraint two columns %r" % pk)
    ix = sorted((i["name"], i["unique"], i["column_names"]) for i in insp.get_indexes("sa_pair"))
    check(ix == [("sa_pair_c_idx", False, ["c", "a"]), ("sa_pair_d_c_key", True, ["d", "c"])], "get_indexes sa_pair %r" % ix)
    uq = insp.get_unique_constraints("sa_pair")
    check(uq == [{"name": "sa_pair_d_c_key", "column_names": ["d", "c"]}], "get_unique_constraints sa_pair %r" % uq)
    check(insp.has_table("sa_items"), "create_all made sa_items")
    cols = insp.get_columns("sa_items")
    check([(c["name"], str(c["type"]), c["nullable"]) for c in cols] == [("id", "INTEGER", False), ("name", "VARCHAR(50)", False)]
          and "nextval('sa_items_id_seq'" in (cols[0]["default"] or ""), "create_all columns %r" % cols)
    md.drop_all(eng)
    check(not sa.inspect(eng).has_table("sa_items"), "drop_all dropped sa_items")
    eng.dispose()


def pgbench_part(tmp, port, user):
    """pgbench's startup probes pg_partitioned_table/pg_inherits for
    pgbench_accounts: one row (unpartitioned) or it refuses to run"""
    pgbench = os.path.join(os.environ.get("WB_PG_BIN", "/usr/lib/postgresql/15/bin"), "pgbench")
    if not os.path.exists(pgbench):
        print("skip: pgbench part (pgbench missing)")
        return
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    base = [pgbench, "-h", tmp, "-p", str(port), "-U", user]
    r = subprocess.run(base + ["-i", "-s", "1", "-q", "postgres"], capture_output=True, text=True, env=env, timeout=240)
    check(r.returncode == 0, "pgbench -i: " + r.stderr[-2000:])
    r = subprocess.run(base + ["-S", "-t", "5", "postgres"], capture_output=True, text=True, env=env, timeout=120)
    check(r.returncode == 0 and "number of transactions actually processed: 5/5" in r.stdout,
          "pgbench -S: " + r.stdout[-2000:] + r.stderr[-2000:])
    psql(tmp, port, user, "DROP TABLE pgbench_accounts", "DROP TABLE pgbench_branches", "DROP TABLE pgbench_tellers",
         "DROP TABLE pgbench_history")


def asyncpg_part(tmp, port, user):
    """asyncpg's recursive type introspection (the query it sends for a
    result column of an unknown OID): _vector -> vector, _int4 -> int4"""
    try:
        import asyncio
        import asyncpg
    except ImportError:
        print("skip: asyncpg part (python3-asyncpg missing)")
        return

    async def go():
        c = await asyncpg.connect(host=tmp, port=port, user=user, database="postgres")
        try:
            r = await c._introspect_types([2000000002, 1007], 10)
            return sorted((x["oid"], x["ns"], x["name"], x["kind"], x["elemtype"], x["elemtype_name"]) for x in r[0])
        finally:
            await c.close()
    try:
        ASYNCPG_DOMAIN.append(asyncpg_domain_probe(tmp, port, user))
        d = ASYNCPG_DOMAIN[0]
        # the parameters are of the domains' OIDs, which asyncpg resolves
        # to their base types (as against PostgreSQL: the differential run)
        check(d[0] == [("int4", "scalar", "pg_catalog", None), ("int4", "scalar", "pg_catalog", "posint"),
                       ("varchar", "scalar", "pg_catalog", "code5")], "asyncpg domain parameters %r" % (d[0],))
        check(d[1:4] == [("CheckViolationError", "23514", 'value for domain posint violates check constraint "posint_pos"'),
                         ("NotNullViolationError", "23502", "domain posint does not allow null values"),
                         ("CheckViolationError", "23514", 'value for domain code5 violates check constraint "code5_check"')]
              and d[4] == [(100, 4, "abcd"), (101, 1, None), (102, 2, "z")] and d[5] == 42, "asyncpg domains %r" % (d,))
    except Exception as e:  # noqa: BLE001 - reported as a failure
        check(False, "asyncpg with domains: %r" % (e,))
    got = sorted(set(asyncio.run(go())))
    want = [(23, "pg_catalog", "int4", b"b", 0, "-"), (1007, "pg_catalog", "_int4", b"b", 23, "integer"),
            (2000000001, "public", "vector", b"b", 0, "-"),
            (2000000002, "public", "_vector", b"b", 2000000001, "vector")]
    check(got == want, "asyncpg introspection %r" % got)


def asyncpg_domain_probe(host, port, user, db="postgres"):
    """asyncpg with domain columns: ParameterDescription names the domain,
    asyncpg introspects it (pg_type typtype 'd', typbasetype) and encodes
    the base type; a CHECK violation is its CheckViolationError"""
    import asyncio
    import asyncpg

    async def go():
        c = await asyncpg.connect(host=host, port=port, user=user, database=db)
        try:
            out = []
            await c.execute("DELETE FROM dom_t WHERE id >= 100")
            st = await c.prepare("INSERT INTO dom_t (id, n, c) VALUES ($1, $2, $3)")
            dom = {r["typname"]: r["oid"] for r in await c.fetch(
                "SELECT typname, oid FROM pg_type WHERE typname IN ('posint', 'code5')")}
            out.append([(p.name, p.kind, p.schema, {v: k for k, v in dom.items()}.get(p.oid)) for p in st.get_parameters()])
            await st.fetch(100, 4, "abcd")
            await c.executemany("INSERT INTO dom_t (id, n, c) VALUES ($1, $2, $3)", [(101, 1, None), (102, 2, "z")])
            for args in [(103, -4, "a"), (103, None, "a"), (103, 4, "abcdef")]:
                try:
                    await st.fetch(*args)
                    out.append("no error")
                except asyncpg.PostgresError as e:
                    out.append((type(e).__name__, e.sqlstate, str(e)))
            out.append([tuple(r) for r in await c.fetch("SELECT id, n, c FROM dom_t WHERE id >= 100 ORDER BY id")])
            out.append(await c.fetchval("SELECT $1::posint + 1", 41))
            await c.execute("DELETE FROM dom_t WHERE id >= 100")
            return out
        finally:
            await c.close()
    return asyncio.run(go())


def psycopg3_part(tmp, port, user):
    try:
        import psycopg
        from psycopg.types import TypeInfo
    except ImportError:
        print("skip: psycopg 3 part (python3-psycopg missing)")
        return
    with psycopg.connect(host=tmp, port=port, user=user, dbname="postgres") as c:
        got = {}
        for n in ["int4", "character varying", "_text", "vector", "no_such_type"]:
            t = TypeInfo.fetch(c, n)
            got[n] = t and (t.name, t.oid, t.array_oid, t.regtype, t.delimiter)
    want = {"int4": ("int4", 23, 1007, "integer", ","),
            "character varying": ("varchar", 1043, 1015, "character varying", ","),
            "_text": ("_text", 1009, 0, "text[]", ","),
            "vector": ("vector", 2000000001, 2000000002, "vector", ","), "no_such_type": None}
    check(got == want, "psycopg 3 TypeInfo.fetch %r" % got)


def jdbc_part(tmp, port, user):
    jar = "/usr/share/java/postgresql.jar"
    if not (shutil.which("javac") and shutil.which("java") and os.path.exists(jar)):
        print("skip: pgjdbc part (javac or libpostgresql-jdbc-java missing)")
        return
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "java", "CatalogMeta.java")
    out = os.path.join(tmp, "java")
    os.makedirs(out)
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    r = subprocess.run(["javac", "-d", out, "-cp", jar, src], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        check(False, "javac: " + r.stderr)
        return
    r = subprocess.run(["java", "-cp", jar + ":" + out, "CatalogMeta",
                        "jdbc:postgresql://127.0.0.1:%d/postgres" % port, user],
                       capture_output=True, text=True, env=env, timeout=120)
    check(r.returncode == 0, "pgjdbc: " + r.stderr[-2000:])
    lines = r.stdout.splitlines()
    for want in ["table TABLE_NAME=authors TABLE_TYPE=TABLE", "table TABLE_NAME=books TABLE_TYPE=TABLE",
                 "table TABLE_NAME=cheap_books TABLE_TYPE=VIEW",
                 "column COLUMN_NAME=id TYPE_NAME=bigserial COLUMN_SIZE=19 DECIMAL_DIGITS=0 IS_NULLABLE=NO IS_AUTOINCREMENT=YES",
                 "column COLUMN_NAME=author_id TYPE_NAME=int4 COLUMN_SIZE=10 DECIMAL_DIGITS=0 IS_NULLABLE=YES IS_AUTOINCREMENT=NO",
                 "column COLUMN_NAME=title TYPE_NAME=varchar COLUMN_SIZE=200 DECIMAL_DIGITS=0 IS_NULLABLE=NO IS_AUTOINCREMENT=NO",
                 "column COLUMN_NAME=price TYPE_NAME=numeric COLUMN_SIZE=10 DECIMAL_DIGITS=2 IS_NULLABLE=YES IS_AUTOINCREMENT=NO",
                 "column COLUMN_NAME=flags TYPE_NAME=int2 COLUMN_SIZE=5 DECIMAL_DIGITS=0 IS_NULLABLE=NO IS_AUTOINCREMENT=NO"]:
        check(want in lines, "pgjdbc row %r in:\n%s" % (want, r.stdout))
    # getPrimaryKeys / getIndexInfo select (_pg_expandarray(indkey)).n,
    # (keys).x, pg_get_indexdef(oid, column, pretty) and indoption[n]
    for want in ["pk TABLE_NAME=authors COLUMN_NAME=id KEY_SEQ=1 PK_NAME=authors_pkey",
                 "pk TABLE_NAME=books COLUMN_NAME=id KEY_SEQ=1 PK_NAME=books_pkey",
                 "index TABLE_NAME=authors NON_UNIQUE=f INDEX_NAME=authors_email_key TYPE=3 ORDINAL_POSITION=1 "
                 "COLUMN_NAME=email ASC_OR_DESC=A FILTER_CONDITION=null",
                 "index TABLE_NAME=books NON_UNIQUE=t INDEX_NAME=books_title_idx TYPE=3 ORDINAL_POSITION=1 "
                 "COLUMN_NAME=title ASC_OR_DESC=A FILTER_CONDITION=null",
                 "unique TABLE_NAME=books INDEX_NAME=books_pkey COLUMN_NAME=id"]:
        check(want in lines, "pgjdbc row %r in:\n%s" % (want, r.stdout))
    check(not any(x.startswith("unique") and "books_title_idx" in x for x in lines), "getIndexInfo unique only:\n" + r.stdout)
    for want in ["pk TABLE_NAME=gadget_parts COLUMN_NAME=part KEY_SEQ=1 PK_NAME=gadget_parts_pkey",
                 "pk TABLE_NAME=gadget_parts COLUMN_NAME=gadget KEY_SEQ=2 PK_NAME=gadget_parts_pkey",
                 "index TABLE_NAME=gadget_parts NON_UNIQUE=t INDEX_NAME=gadget_parts_qty_idx TYPE=3 ORDINAL_POSITION=1 "
                 "COLUMN_NAME=qty ASC_OR_DESC=D FILTER_CONDITION=null",
                 "index TABLE_NAME=gadget_parts NON_UNIQUE=t INDEX_NAME=gadget_parts_qty_idx TYPE=3 ORDINAL_POSITION=2 "
                 "COLUMN_NAME=part ASC_OR_DESC=A FILTER_CONDITION=null",
                 "index TABLE_NAME=gadget_parts NON_UNIQUE=f INDEX_NAME=gadget_parts_pkey TYPE=3 ORDINAL_POSITION=2 "
                 "COLUMN_NAME=gadget ASC_OR_DESC=A FILTER_CONDITION=null",
                 "unique TABLE_NAME=gadgets INDEX_NAME=gadgets_code_uq COLUMN_NAME=code"]:
        check(want in lines, "pgjdbc row %r in:\n%s" % (want, r.stdout))
    JDBC_OUT["wirebuf"] = lines
    JDBC_OUT["cmd"] = ["java", "-cp", jar + ":" + out, "CatalogMeta"]


# the same catalog queries on both servers, rows compared
DIFF_QUERIES = [
    # columns of domains: pg_attribute keeps the domain, information_schema
    # describes the base type and names the domain
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.atttypmod, a.attnotnull, a.atthasdef, t.typtype "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = 'dom_t'::regclass AND a.attnum > 0 "
    "ORDER BY a.attnum",
    "SELECT column_name, column_default, is_nullable, data_type, character_maximum_length, numeric_precision, udt_name, "
    "domain_schema, domain_name FROM information_schema.columns WHERE table_name = 'dom_t' ORDER BY ordinal_position",
    "SELECT conname, contype FROM pg_constraint WHERE conrelid = 'dom_t'::regclass ORDER BY 1",
    # domains (pg_type typtype 'd', their CHECKs in pg_constraint)
    "SELECT typname, typtype, typnamespace::regnamespace::text, format_type(typbasetype, typtypmod), typnotnull, "
    "typdefault, typlen, typbyval, typcategory, typinput::text, typoutput::text, typreceive::text, typsend::text, "
    "format_type(oid, NULL) FROM pg_type WHERE typtype = 'd' AND typnamespace = 'public'::regnamespace ORDER BY 1",
    "SELECT conname, contype, format_type(contypid, NULL), conrelid FROM pg_constraint WHERE contypid <> 0 "
    "AND connamespace = 'public'::regnamespace ORDER BY 1",
    "SELECT c.relname, c.relkind, c.relnatts FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'i') ORDER BY 1",
    "SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "WHERE c.relname IN ('authors', 'books', 'cheap_books') AND a.attnum > 0 ORDER BY 1, 2",
    "SELECT t.typname, a.attname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "WHERE a.attrelid = 'books'::regclass AND a.attnum > 0 ORDER BY a.attnum",
    "SELECT conname, contype, conrelid::regclass::text, conkey, confkey, confupdtype, confdeltype "
    "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1",
    "SELECT c.relname, i.indisunique, i.indisprimary, i.indkey::text FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid IN ('books'::regclass, 'authors'::regclass) ORDER BY 1",
    "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'books'::regclass ORDER BY 1",
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'books'::regclass ORDER BY 1",
    "SELECT conname, pg_get_constraintdef(oid), pg_get_constraintdef(oid, true) FROM pg_constraint "
    "WHERE conrelid = 'gadgets'::regclass ORDER BY 1",
    "SELECT constraint_name, check_clause FROM information_schema.check_constraints WHERE constraint_name NOT LIKE '%not_null' "
    "AND (constraint_name LIKE 'gadgets%' OR constraint_name = 'qty_pos') ORDER BY 1",
    "SELECT oid, typname, typlen, typtype, typcategory, typelem, typarray, typinput::text, typoutput::text, typdelim "
    "FROM pg_type WHERE typname IN ('int4', '_int4', 'varchar', 'text', 'numeric', 'timestamptz', 'bool', "
    "'int8', 'float8', 'bytea', 'uuid', 'jsonb', '_text') ORDER BY oid",
    "SELECT nspname FROM pg_namespace WHERE nspname IN ('public', 'pg_catalog', 'information_schema') ORDER BY 1",
    "SELECT relname, relkind FROM pg_class WHERE relkind = 'S' ORDER BY 1",
    "SELECT c.relname, s.seqtypid, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcycle "
    "FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid ORDER BY 1",
    "SELECT pg_get_serial_sequence('books', 'id'), pg_get_serial_sequence('authors', 'id')",
    "SELECT schema_name, schema_owner FROM information_schema.schemata WHERE schema_name = 'public'",
    # is_insertable_into: PostgreSQL's simple views are updatable, SQLite's are not
    "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    "SELECT table_name, column_name, ordinal_position, column_default, is_nullable, data_type, character_maximum_length, "
    "numeric_precision, numeric_precision_radix, numeric_scale, datetime_precision, udt_name, is_identity "
    "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 3",
    # PostgreSQL also lists NOT NULL as CHECK constraints named by OIDs
    "SELECT constraint_name, table_name, constraint_type, is_deferrable, initially_deferred "
    "FROM information_schema.table_constraints WHERE table_schema = 'public' AND constraint_type <> 'CHECK' ORDER BY 1",
    "SELECT constraint_name, table_name, column_name, ordinal_position, position_in_unique_constraint "
    "FROM information_schema.key_column_usage WHERE table_schema = 'public' ORDER BY 1, 4",
    "SELECT pg_relation_size('cheap_books')",
    "SELECT constraint_name, unique_constraint_name, match_option, update_rule, delete_rule "
    "FROM information_schema.referential_constraints WHERE constraint_schema = 'public' ORDER BY 1",
    "SELECT table_name, column_name, constraint_name FROM information_schema.constraint_column_usage "
    "WHERE constraint_schema = 'public' ORDER BY 3, 2",
    "SELECT table_name, check_option FROM information_schema.views WHERE table_schema = 'public'",
    "SELECT sequence_name, data_type, numeric_precision, start_value, minimum_value, maximum_value, increment, "
    "cycle_option FROM information_schema.sequences WHERE sequence_schema = 'public' ORDER BY 1",
    "SELECT e.extname, e.extversion, e.extrelocatable, n.nspname FROM pg_extension e "
    "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'plpgsql'",
    "SELECT name, unit, category, short_desc, context, vartype, min_val, max_val, enumvals FROM pg_settings "
    "WHERE name IN ('work_mem', 'DateStyle', 'statement_timeout', 'client_min_messages', 'TimeZone', "
    "'extra_float_digits', 'search_path', 'max_identifier_length', 'bytea_output') ORDER BY 1",
    # pg_class joined under ORDER BY (no rows before the pg_class fix)
    "SELECT c.relname, a.attname, i.indexrelid::regclass::text FROM pg_class c "
    "JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_index i ON i.indrelid = c.oid "
    "AND a.attnum = ANY(i.indkey) WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1, 2, 3",
    "SELECT r.* FROM (SELECT a.attname, unnest(i.indkey) k, a.attnum an FROM pg_class ct "
    "JOIN pg_attribute a ON a.attrelid = ct.oid JOIN pg_index i ON i.indrelid = ct.oid "
    "WHERE ct.relname = 'books') r WHERE r.an = r.k ORDER BY 1",
    "SELECT c.relname, k.conname, a.attname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(k.conkey) "
    "WHERE c.relnamespace = 'public'::regnamespace ORDER BY 2, 3",
    "SELECT kcu.column_name, tc.constraint_type, c.relkind FROM information_schema.key_column_usage kcu "
    "JOIN information_schema.table_constraints tc ON tc.constraint_name = kcu.constraint_name "
    "JOIN pg_class c ON c.relname = kcu.table_name WHERE kcu.table_schema = 'public' ORDER BY 1, 2",
    # CHECK / NOT NULL constraints and named UNIQUE (expressions' text differs: README)
    "SELECT conname, contype, conkey, convalidated, connoinherit FROM pg_constraint "
    "WHERE conrelid = 'gadgets'::regclass ORDER BY 1",
    "SELECT relchecks FROM pg_class WHERE relname IN ('gadgets', 'books') ORDER BY 1",
    "SELECT constraint_name, constraint_type, is_deferrable, initially_deferred, enforced FROM information_schema.table_constraints "
    "WHERE table_name = 'gadgets' AND constraint_name NOT LIKE '%not_null' ORDER BY 1",
    "SELECT count(*), min(constraint_type), max(constraint_type) FROM information_schema.table_constraints "
    "WHERE table_name = 'gadgets' AND constraint_name LIKE '2200\\_' || 'gadgets'::regclass::oid || '\\_%\\_not\\_null'",
    "SELECT check_clause FROM information_schema.check_constraints "
    "WHERE constraint_name LIKE '2200\\_' || 'gadgets'::regclass::oid || '\\_%' ORDER BY 1",
    "SELECT constraint_name FROM information_schema.check_constraints WHERE constraint_name NOT LIKE '%not_null' "
    "AND constraint_schema = 'public' ORDER BY 1",
    "SELECT count(*) FROM pg_user WHERE usename = current_user",
    "SELECT rolname = current_user, rolsuper FROM pg_authid WHERE rolname = current_user",
]


# ALTER TABLE ... ADD PRIMARY KEY makes the key columns NOT NULL, and
# existing NULLs fail it, as in PostgreSQL: run on both servers, each
# step's outcome (its SQLSTATE and message when it fails) compared
ALTER_PK_STEPS = [
    "CREATE TABLE pk_later (a int, b text, c varchar(10), d int)",
    "INSERT INTO pk_later VALUES (1, 'x', NULL, 1), (NULL, 'y', 'q', 2)",
    "ALTER TABLE pk_later ADD PRIMARY KEY (a)",  # 23502: a holds a NULL
    "ALTER TABLE pk_later ADD CONSTRAINT pk_later_bc PRIMARY KEY (b, c)",  # 23502: c in the first row
    "DELETE FROM pk_later WHERE a IS NULL",
    "ALTER TABLE pk_later ADD PRIMARY KEY (a)",
    "INSERT INTO pk_later VALUES (NULL, 'z', 'r', 3)",  # 23502: null value in column "a"
    "INSERT INTO pk_later VALUES (2, 'z', NULL, 4)",
    "UPDATE pk_later SET a = NULL WHERE a = 2",
    "CREATE TABLE pk_named (x int, y int NOT NULL, z text, mixed int)",
    "ALTER TABLE pk_named ADD PRIMARY KEY (zz)",  # 42703
    "ALTER TABLE pk_named ADD CONSTRAINT pk_named_xy PRIMARY KEY (mixed, y, x)",
    "INSERT INTO pk_named (x, y, mixed) VALUES (NULL, 1, 1)",
    "INSERT INTO pk_named (x, y, mixed) VALUES (1, 1, NULL)",
    "INSERT INTO pk_named (x, y, mixed) VALUES (1, 1, 1)",
    # repeated keys: the index build fails first, NULLs never conflict
    "CREATE TABLE pk_dup (a int, b int)",
    "INSERT INTO pk_dup VALUES (1, 1), (1, 2), (NULL, 3), (NULL, 3)",
    "ALTER TABLE pk_dup ADD PRIMARY KEY (a)",  # 23505 could not create unique index "pk_dup_pkey"
    "ALTER TABLE pk_dup ADD CONSTRAINT pk_dup_u UNIQUE (a)",  # 23505 ... "pk_dup_u"
    "ALTER TABLE pk_dup ADD UNIQUE (a, b)",
    "ALTER TABLE pk_dup ADD UNIQUE (b)",  # 23505 ... "pk_dup_b_key"
    "DELETE FROM pk_dup WHERE b = 2",
    "ALTER TABLE pk_dup ADD PRIMARY KEY (a)",  # 23502: a holds NULLs
    "DELETE FROM pk_dup WHERE a IS NULL",
    "ALTER TABLE pk_dup ADD PRIMARY KEY (a)",
]
ALTER_PK_QUERIES = [
    "SELECT c.relname, a.attnum, a.attname, a.attnotnull FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "WHERE c.relname IN ('pk_later', 'pk_named', 'pk_dup') AND a.attnum > 0 ORDER BY 1, 2",
    "SELECT conname, contype, conkey, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid IN ('pk_later'::regclass, 'pk_named'::regclass, 'pk_dup'::regclass) ORDER BY 1",
    "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
    "WHERE table_name IN ('pk_later', 'pk_named') ORDER BY 1, ordinal_position",
    "SELECT * FROM pk_later ORDER BY a",
    "SELECT * FROM pk_named ORDER BY x",
]


# CHECK / DEFAULT / FK / UNIQUE / index texts (pg_get_constraintdef,
# pg_get_expr, pg_get_indexdef, both plain and pretty, and what psql \\d and
# information_schema show of them): the forms whose text wirebuf gives as
# PostgreSQL does (README lists those it does not)
EXPR_STEPS = [
    "CREATE TABLE x_parent (id int PRIMARY KEY, code text UNIQUE, \"Odd Name\" int UNIQUE)",
    "CREATE TABLE x_child (id serial PRIMARY KEY, n int DEFAULT 0 CHECK (n >= 0), big bigint DEFAULT 10, "
    "neg int DEFAULT -1, price numeric(10,2) DEFAULT 0 CHECK (price > 0), ratio numeric DEFAULT 1.5, "
    "nd numeric DEFAULT -2.5, f8 float8 DEFAULT 2.5 CHECK (f8 > 0), name text DEFAULT 'it''s' CHECK (length(name) <= 5), "
    "vc varchar(10) DEFAULT 'abc', bp char(3) DEFAULT 'abc' CHECK (bp <> 'zzz'), d date DEFAULT CURRENT_DATE CHECK (d > '2000-01-01'), "
    "flag boolean DEFAULT true, created timestamptz DEFAULT now(), ts timestamp DEFAULT CURRENT_TIMESTAMP, "
    "who text DEFAULT CURRENT_USER, sum int DEFAULT 1 + 2, "
    "parent int REFERENCES x_parent(id) ON DELETE CASCADE, "
    "pcode text REFERENCES x_parent(code) ON UPDATE SET NULL ON DELETE RESTRICT, "
    "\"Mixed Col\" int DEFAULT 1 REFERENCES x_parent(\"Odd Name\"), lo int, hi int, "
    "CONSTRAINT lohi CHECK (lo < hi AND hi < 100), CHECK (lo IS NOT NULL OR hi IS NULL), "
    "CONSTRAINT x_uq UNIQUE (lo, \"Mixed Col\"), CHECK (n BETWEEN 0 AND 10), CHECK (n NOT BETWEEN 20 AND 30), "
    "CHECK (name <> '' AND name NOT LIKE 'z%'), CHECK (NOT (lo > 5)), CHECK (\"Mixed Col\" IS NULL OR price > 1.5))",
    "ALTER TABLE x_child ADD CONSTRAINT x_added CHECK (hi > 0 AND name <> 'q')",
    "CREATE INDEX x_child_name_idx ON x_child (name)",
    "CREATE INDEX x_child_lower_idx ON x_child (lower(name))",
    "CREATE INDEX x_child_expr_idx ON x_child ((lo + 1), hi DESC)",
    "CREATE UNIQUE INDEX x_child_multi_idx ON x_child (lo DESC, hi)",
    "CREATE INDEX x_child_part_idx ON x_child (n) WHERE n > 5 AND name IS NOT NULL",
    "CREATE INDEX x_child_part2_idx ON x_child (name) WHERE name <> 'a'",
    "CREATE INDEX \"X Mixed Idx\" ON x_child (\"Mixed Col\")",
    # a renamed column: the kept PostgreSQL text names the old one, the
    # texts come from SQLite's (which RENAME COLUMN rewrote) read as PostgreSQL's
    "ALTER TABLE x_child RENAME COLUMN hi TO high",
]
EXPR_QUERIES = [
    "SELECT conname, pg_get_constraintdef(oid), pg_get_constraintdef(oid, true) FROM pg_constraint "
    "WHERE conrelid IN ('x_child'::regclass, 'x_parent'::regclass) ORDER BY 1",
    "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid), pg_get_expr(d.adbin, d.adrelid, true) FROM pg_attrdef d "
    "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = 'x_child'::regclass ORDER BY d.adnum",
    "SELECT pg_get_indexdef(indexrelid), pg_get_indexdef(indexrelid, 0, true), pg_get_indexdef(indexrelid, 1, true), "
    "pg_get_indexdef(indexrelid, 2, false) FROM pg_index WHERE indrelid IN ('x_child'::regclass, 'x_parent'::regclass) ORDER BY 1",
    "SELECT constraint_name, check_clause FROM information_schema.check_constraints WHERE constraint_name NOT LIKE '%not_null' "
    "AND constraint_name IN (SELECT conname FROM pg_constraint WHERE conrelid = 'x_child'::regclass) ORDER BY 1",
    "SELECT column_name, column_default FROM information_schema.columns WHERE table_name = 'x_child' ORDER BY ordinal_position",
]


def expr_differential(tmp, port, user):
    differential_steps(tmp, port, user, "DROP TABLE IF EXISTS x_child, x_parent", EXPR_STEPS, EXPR_QUERIES,
                       ["\\d x_child", "\\d x_parent"])


def outcome(conn, q):
    """what a statement did: ('ok', rowcount) or (SQLSTATE, message)"""
    import psycopg2
    try:
        cur = conn.cursor()
        cur.execute(q)
        return ("ok", cur.rowcount)
    except psycopg2.Error as e:
        return (e.pgcode, e.diag.message_primary)


def rows(conn, q):
    cur = conn.cursor()
    cur.execute(q)
    return [tuple(r) for r in cur.fetchall()]


def differential(tmp, port, user):
    import psycopg2
    pg = psycopg2.connect(host=os.environ["WB_PG_HOST"], port=os.environ["WB_PG_PORT"], user=user,
                          dbname=os.environ.get("WB_PG_DB", "postgres"))
    pg.autocommit = True
    cur = pg.cursor()
    for s in ["DROP TABLE IF EXISTS pk_later, pk_named, pk_dup, x_child, x_parent", "DROP TABLE IF EXISTS gadget_parts", "DROP TABLE IF EXISTS gadgets", "DROP VIEW IF EXISTS cheap_books", "DROP TABLE IF EXISTS books",
              "DROP TABLE IF EXISTS authors"] + DOMAIN_DROP + SCHEMA + CK_SCHEMA + DOMAIN_SCHEMA + DOMAIN_TABLE:
        cur.execute(s)
    # the same statements on domain columns: PostgreSQL's outcome, row by
    # row and error by error (wirebuf ran them in domains_part)
    pg_out = run_domain_dml(cur)
    check(pg_out == DOMAIN_OUT, "differential domain statements\n  postgres: %r\n  wirebuf:  %r" % (pg_out, DOMAIN_OUT))
    # SQLAlchemy's reflection of the domain columns (it reads the domains
    # through pg_type / pg_constraint): the same as PostgreSQL's
    try:
        import sqlalchemy as sa

        def reflect(url):
            eng = sa.create_engine(url)
            try:
                return [(c["name"], str(c["type"]), c["nullable"], c["default"]) for c in sa.inspect(eng).get_columns("dom_t")]
            finally:
                eng.dispose()
        a = reflect("postgresql+psycopg2://%s@/%s?host=%s&port=%s" % (user, os.environ.get("WB_PG_DB", "postgres"),
                                                                       os.environ["WB_PG_HOST"], os.environ["WB_PG_PORT"]))
        b = reflect("postgresql+psycopg2://%s@/postgres?host=%s&port=%d" % (user, tmp, port))
        check(a == b and ("n", "INTEGER", False, "3") in b, "differential SQLAlchemy domain columns\n  postgres: %r\n  wirebuf:  %r" % (a, b))
    except ImportError:
        print("skip: SQLAlchemy domain columns (python3-sqlalchemy missing)")
    if ASYNCPG_DOMAIN:
        a = asyncpg_domain_probe(os.environ["WB_PG_HOST"], os.environ["WB_PG_PORT"], user, os.environ.get("WB_PG_DB", "postgres"))
        check(a == ASYNCPG_DOMAIN[0], "differential asyncpg with domains\n  postgres: %r\n  wirebuf:  %r" % (a, ASYNCPG_DOMAIN[0]))
    wb = psycopg2.connect(host=tmp, port=port, user=user, dbname="postgres")
    wb.autocommit = True
    for q in DIFF_QUERIES:
        try:
            a = rows(pg, q)
            b = rows(wb, q)
        except Exception as e:  # noqa: BLE001 - reported as a failure
            check(False, "differential %s: %s" % (q, e))
            continue
        check(a == b, "differential %s\n  postgres: %r\n  wirebuf:  %r" % (q, a, b))
    # every built-in pg_type row wirebuf has, compared with PostgreSQL's row of that OID
    cols = ("oid, typname, typlen, typbyval, typtype, typalign, typstorage, typcategory, typdelim, typelem, typarray, "
            "typinput::text, typoutput::text, typreceive::text, typsend::text, typmodin::text, typmodout::text, "
            "typanalyze::text, typsubscript::text, typispreferred, typcollation, typbasetype, typnotnull, typndims, "
            "typtypmod, typnamespace::regnamespace::text")
    b = rows(wb, "SELECT %s FROM pg_type WHERE typnamespace = 'pg_catalog'::regnamespace ORDER BY oid" % cols)
    pgc = pg.cursor()
    pgc.execute("SELECT %s FROM pg_type WHERE oid = ANY(%%s) ORDER BY oid" % cols, ([r[0] for r in b],))
    a = [tuple(r) for r in pgc.fetchall()]
    check(len(b) >= 60 and a == b, "differential pg_type built-in rows\n  postgres: %r\n  wirebuf:  %r" % (
        [r for r in a if r not in b], [r for r in b if r not in a]))
    # psql's \\d family, output compared (defaults too: nextval('t_id_seq'::regclass), now())
    for m in ["\\d books", "\\d authors", "\\d gadgets", "\\d dom_t", "\\dt", "\\di", "\\dv", "\\ds", "\\dn", "\\df"]:
        a = psql(os.environ["WB_PG_HOST"], os.environ["WB_PG_PORT"], user, m, db=os.environ.get("WB_PG_DB", "postgres"))
        b = psql(tmp, port, user, m)
        check(a == b, "differential psql %s\n--- postgres\n%s\n--- wirebuf\n%s" % (m, a, b))
    wb.close()
    pg.close()
    # pgjdbc DatabaseMetaData rows, the same program against PostgreSQL
    if JDBC_OUT.get("cmd"):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        r = subprocess.run(JDBC_OUT["cmd"] + ["jdbc:postgresql://127.0.0.1:%s/%s" % (
            os.environ["WB_PG_PORT"], os.environ.get("WB_PG_DB", "postgres")), user],
            capture_output=True, text=True, env=env, timeout=120)
        check(r.returncode == 0 and r.stdout.splitlines() == JDBC_OUT["wirebuf"],
              "differential pgjdbc\n--- postgres\n%s%s\n--- wirebuf\n%s" % (
                  r.stdout, r.stderr[-1000:], "\n".join(JDBC_OUT["wirebuf"])))
    alter_pk_differential(tmp, port, user)
    expr_differential(tmp, port, user)


def differential_steps(tmp, port, user, drop, steps, queries, metas):
    """steps on both servers (each outcome compared), then queries (rows
    compared) and psql meta-commands (output compared)"""
    import psycopg2
    pgdb = os.environ.get("WB_PG_DB", "postgres")
    pg = psycopg2.connect(host=os.environ["WB_PG_HOST"], port=os.environ["WB_PG_PORT"], user=user, dbname=pgdb)
    wb = psycopg2.connect(host=tmp, port=port, user=user, dbname="postgres")
    pg.autocommit = wb.autocommit = True
    pg.cursor().execute(drop)
    for q in steps:
        a, b = outcome(pg, q), outcome(wb, q)
        check(a == b, "differential %s\n  postgres: %r\n  wirebuf:  %r" % (q, a, b))
    for q in queries:
        try:
            a, b = rows(pg, q), rows(wb, q)
        except Exception as e:  # noqa: BLE001 - reported as a failure
            check(False, "differential %s: %s" % (q, e))
            continue
        check(a == b, "differential %s\n  postgres: %r\n  wirebuf:  %r" % (q, a, b))
    for m in metas:
        a = psql(os.environ["WB_PG_HOST"], os.environ["WB_PG_PORT"], user, m, db=pgdb)
        b = psql(tmp, port, user, m)
        check(a == b, "differential psql %s\n--- postgres\n%s\n--- wirebuf\n%s" % (m, a, b))
    wb.close()
    pg.close()


# ALTER TABLE ADD CONSTRAINT rebuilds the table on SQLite: the tables that
# reference it keep every row (the old table's DROP once ran their ON DELETE
# CASCADE, emptying them), and foreign keys work on afterwards
FK_REBUILD_STEPS = [
    "CREATE TABLE fk_p (id int PRIMARY KEY, name text)",
    "CREATE TABLE fk_c (id int PRIMARY KEY, pid int REFERENCES fk_p(id) ON DELETE CASCADE)",
    "CREATE TABLE fk_r (id int PRIMARY KEY, pid int REFERENCES fk_p(id))",
    "INSERT INTO fk_p VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    "INSERT INTO fk_c VALUES (10, 1), (20, 2)",
    "INSERT INTO fk_r VALUES (100, 3)",
    "ALTER TABLE fk_p ADD CONSTRAINT fk_p_name CHECK (name <> '')",
    "ALTER TABLE fk_p ADD UNIQUE (name)",
    "ALTER TABLE fk_c ADD CONSTRAINT fk_c_id CHECK (id > 0)",
    "DELETE FROM fk_p WHERE id = 1",
    "ALTER TABLE fk_r ADD CONSTRAINT fk_r_uq UNIQUE (pid)",
]
FK_REBUILD_QUERIES = [
    "SELECT 'c', id, pid FROM fk_c UNION ALL SELECT 'r', id, pid FROM fk_r ORDER BY 1, 2",
    "SELECT id, name FROM fk_p ORDER BY id",
    "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid IN ('fk_p'::regclass, 'fk_c'::regclass, 'fk_r'::regclass) ORDER BY 1, 2",
]


def alter_pk_differential(tmp, port, user):
    differential_steps(tmp, port, user, "DROP TABLE IF EXISTS pk_later, pk_named, pk_dup", ALTER_PK_STEPS,
                       ALTER_PK_QUERIES, ["\\d pk_later", "\\d pk_named", "\\d pk_dup"])
    differential_steps(tmp, port, user, "DROP TABLE IF EXISTS fk_c, fk_r, fk_p", FK_REBUILD_STEPS,
                       FK_REBUILD_QUERIES, ["\\d fk_p", "\\d fk_c"])
    # wirebuf alone: inside a transaction block foreign keys cannot be
    # turned off, so a rebuild of a referenced table is refused (nothing
    # changed); foreign keys are enforced again after every rebuild; an
    # added foreign key is checked against the rows
    e = " ".join(psql_errors(tmp, port, user, "\\set VERBOSITY verbose", "BEGIN",
                             "ALTER TABLE fk_p ADD CONSTRAINT fk_p_n2 CHECK (name <> 'zz')", "ROLLBACK",
                             "INSERT INTO fk_c VALUES (30, 99)",
                             "CREATE TABLE fk_q (id int, pid int)", "INSERT INTO fk_q VALUES (1, 2), (2, 77)",
                             "ALTER TABLE fk_q ADD CONSTRAINT fk_q_fk FOREIGN KEY (pid) REFERENCES fk_p(id)",
                             "SELECT conname AS q_constraints FROM pg_constraint WHERE conrelid = 'fk_q'::regclass",
                             "DROP TABLE fk_q",
                             "SELECT count(*) AS kept FROM fk_c").split())
    check('0A000: ALTER TABLE "fk_p" rebuilds the table, which table "fk_c" references: run it outside a '
          'transaction block' in e or '0A000: ALTER TABLE "fk_p" rebuilds the table, which table "fk_r" references' in e,
          "rebuild refused in a transaction block:\n" + e)
    check(e.count("23503:") == 2 and 'insert or update on table "fk_q" violates foreign key constraint' in e
          and "(0 rows)" in e and "kept ------ 1 (1 row)" in e, "foreign keys after rebuilds:\n" + e)


if __name__ == "__main__":
    main()
