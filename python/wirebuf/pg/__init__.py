"""wirebuf.pg — a PEP 249 (DB-API 2.0) PostgreSQL driver over wirebuf's C
client (include/wirebuf/pg.h), in psycopg2's shape.

    import wirebuf.pg
    with wirebuf.pg.connect("dbname=app user=me") as conn:
        with conn.cursor() as cur:
            cur.execute("select id, name from users where id < %s", (1000,))
            for row in cur:          # rows stream: nothing is materialised
                ...

Parameters use ``paramstyle = "pyformat"`` (``%s`` and ``%(name)s``); they
are sent as server-side parameters ($1, $2, ...) and never interpolated into
the SQL text. Python -> PostgreSQL: None, bool, int, float, Decimal, str,
bytes/bytearray/memoryview (bytea), date, time, datetime (timestamptz when
aware), timedelta (interval), UUID, dict (json), list/tuple (arrays).
PostgreSQL -> Python: the same types back (json/jsonb as dict/list, arrays as
lists, timestamptz as aware UTC datetimes, intervals as timedelta with a
month counted as 30 days, as psycopg2 does).

Connections: ``threadsafety = 2`` — threads may share the module and
connections (one call at a time per connection; cursors are not shared).
The GIL is released while waiting on the network and while reading batches
of rows off the socket.
"""
import datetime as _dt
import decimal as _decimal
import json as _json
import re as _re
import threading as _threading
import uuid as _uuid

from wirebuf import _pg

apilevel = "2.0"
threadsafety = 2
paramstyle = "pyformat"


# ---- exceptions (PEP 249) -------------------------------------------------

class Warning(Exception):  # noqa: A001 - the PEP 249 name
    """Important warnings (PEP 249)."""


class Error(Exception):
    """Base of every wirebuf.pg error. Server errors carry .sqlstate (alias
    .pgcode), .pgerror (the message), .diag (detail, hint, position, ...)."""

    def __init__(self, message="", sqlstate=None, severity=None, fields=None, statement=None):
        super().__init__(message)
        self.pgerror = message
        self.sqlstate = self.pgcode = sqlstate or None
        self.severity = severity or None
        self.diag = _Diag(fields or {})
        self.statement = statement  # index of the failing row in executemany, else None
        self.detail = self.diag.detail
        self.hint = self.diag.hint


class _Diag:
    def __init__(self, fields):
        for k in ("severity", "detail", "hint", "where", "position", "schema", "table", "column", "datatype",
                  "constraint", "sqlstate"):
            setattr(self, k if k != "table" else "table_name", fields.get(k) or None)
        self.schema_name = self.schema
        self.column_name = self.column
        self.datatype_name = self.datatype
        self.constraint_name = self.constraint
        self.message_detail = self.detail
        self.message_hint = self.hint


class InterfaceError(Error):
    """Errors of the driver itself (closed connection, misuse)."""


class DatabaseError(Error):
    """Errors reported by or about the database."""


class DataError(DatabaseError):
    """Bad data: division by zero, out of range, invalid input (SQLSTATE 22)."""


class OperationalError(DatabaseError):
    """Connection, authentication, cancel, timeout, resources (08, 28, 53, 57, 58)."""


class IntegrityError(DatabaseError):
    """Constraint violations (SQLSTATE 23)."""


class InternalError(DatabaseError):
    """Internal errors, failed transaction state (XX, 24, 25, 2D, 40)."""


class ProgrammingError(DatabaseError):
    """Syntax errors, missing tables, wrong parameters (42, 26, 34, 3D, 3F, 44)."""


class NotSupportedError(DatabaseError):
    """Features the server does not support (SQLSTATE 0A)."""


_CLASS_BY_SQLSTATE = {
    "22": DataError, "23": IntegrityError, "08": OperationalError, "28": OperationalError,
    "53": OperationalError, "54": OperationalError, "55": OperationalError, "57": OperationalError,
    "58": OperationalError, "XX": InternalError, "24": InternalError, "25": InternalError,
    "2D": InternalError, "40": InternalError, "42": ProgrammingError, "26": ProgrammingError,
    "34": ProgrammingError, "3D": ProgrammingError, "3F": ProgrammingError, "44": ProgrammingError,
    "0A": NotSupportedError, "21": ProgrammingError, "2B": InternalError, "P0": InternalError,
}

# kinds from wirebuf/pg.h (enum wb_pg_err_kind)
_ERR_CONNINFO, _ERR_CONNECT, _ERR_TLS, _ERR_AUTH, _ERR_SERVER, _ERR_FATAL, _ERR_PROTOCOL, _ERR_IO, \
    _ERR_TIMEOUT, _ERR_USAGE, _ERR_NOMEM = range(1, 12)


def _make_error(kind, sqlstate, message, severity, fields, statement):
    if sqlstate and kind in (_ERR_SERVER, _ERR_FATAL, _ERR_AUTH, _ERR_TIMEOUT):
        cls = _CLASS_BY_SQLSTATE.get(sqlstate[:2], DatabaseError)
        if kind == _ERR_TIMEOUT:
            cls = OperationalError
    elif kind in (_ERR_USAGE, _ERR_CONNINFO):
        cls = InterfaceError if kind == _ERR_USAGE else ProgrammingError
    elif kind == _ERR_PROTOCOL:
        cls = InterfaceError
    else:
        cls = OperationalError
    return cls(message, sqlstate, severity, fields, statement if statement is not None and statement >= 0 else None)



# PEP 249 type objects and constructors
Date = _dt.date
Time = _dt.time
Timestamp = _dt.datetime
Binary = bytes


def DateFromTicks(t):
    return _dt.date.fromtimestamp(t)


def TimeFromTicks(t):
    return _dt.datetime.fromtimestamp(t).time()


def TimestampFromTicks(t):
    return _dt.datetime.fromtimestamp(t)


class _TypeSet(frozenset):
    def __eq__(self, other):
        return other in self if isinstance(other, int) else frozenset.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = frozenset.__hash__


STRING = _TypeSet({25, 1043, 1042, 19, 18, 705})
BINARY = _TypeSet({17})
NUMBER = _TypeSet({20, 21, 23, 26, 700, 701, 1700})
DATETIME = _TypeSet({1082, 1083, 1114, 1184, 1186, 1266})
ROWID = _TypeSet({26})


class Json:
    """Wrap a value (list, dict, str, number) to send it as JSON text, e.g.
    a list for a json/jsonb column (plain lists are sent as arrays, as in
    psycopg2). dicts are JSON without the wrapper."""

    __slots__ = ("adapted", "dumps")

    def __init__(self, adapted, dumps=None):
        self.adapted = adapted
        self.dumps = dumps or _json.dumps

    def getquoted(self):
        return self.dumps(self.adapted)


_pg.setup(_make_error, _decimal.Decimal, _uuid.UUID, _json.loads,
          lambda o: _json.dumps(o, separators=(",", ":")), _dt.timezone.utc, _dt.timezone, Json)


# ---- pyformat -> $n -------------------------------------------------------

_PLACEHOLDER = _re.compile(r"%(?:\((?P<name>[^)]*)\))?(?P<conv>.)", _re.S)
_CONVERTED = {}


def _convert(query, params):
    """Return (sql with $n, parameter tuple). %% is a literal %. Values are
    never put into the text."""
    if params is None:
        return query, None
    named = isinstance(params, dict)
    key = (query, named)
    conv = _CONVERTED.get(key)
    if conv is None:
        order = []  # positional: count; named: names in $n order
        names = {}
        pos = [0]

        def repl(m):
            c = m.group("conv")
            name = m.group("name")
            if c == "%" and name is None:
                return "%"
            if c != "s":
                raise ProgrammingError("unsupported format character %r in query (use %%s or %%(name)s; "
                                       "a literal percent sign is %%%%)" % c)
            if name is None:
                if named:
                    raise ProgrammingError("query uses %s but the parameters are a mapping")
                pos[0] += 1
                order.append(pos[0] - 1)
                return "$%d" % pos[0]
            if not named:
                raise ProgrammingError("query uses %%(%s)s but the parameters are a sequence" % name)
            if name not in names:
                names[name] = len(names) + 1
                order.append(name)
            return "$%d" % names[name]

        sql = _PLACEHOLDER.sub(repl, query)
        conv = (sql, tuple(order))
        if len(_CONVERTED) > 1000:
            _CONVERTED.clear()
        _CONVERTED[key] = conv
    sql, order = conv
    if named:
        try:
            return sql, tuple(params[n] for n in order)
        except KeyError as e:
            raise ProgrammingError("missing query parameter %s" % e) from None
    params = tuple(params)
    if len(params) != len(order):
        raise ProgrammingError("the query has %d placeholders but %d parameters were given"
                               % (len(order), len(params)))
    return sql, params


def _stale_statement(e):
    return (e.sqlstate == "0A000" and "cached plan must not change result type" in (e.pgerror or "")) \
        or e.sqlstate == "26000"


def _quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


# ---- connection -----------------------------------------------------------

def _dsn(dsn, kwargs):
    parts = [dsn] if dsn else []
    for k, v in kwargs.items():
        if v is None:
            continue
        if k == "database":
            k = "dbname"
        v = str(v).replace("\\", "\\\\").replace("'", "\\'")
        parts.append("%s='%s'" % (k, v))
    return " ".join(parts)


def connect(dsn=None, **kwargs):
    """connect(dsn=None, **kwargs) -> Connection. dsn is a libpq conninfo
    string or postgresql:// URI; keyword arguments (host, port, user,
    password, dbname/database, sslmode, ...) are added to it. The PG*
    environment variables and ~/.pgpass apply as in libpq."""
    return Connection(_dsn(dsn, kwargs))


class Connection:
    """A PostgreSQL connection (PEP 249). Not autocommit by default: the first
    statement opens a transaction; commit()/rollback() end it. As a context
    manager: commit on success, rollback on exception (the connection stays
    open, as in psycopg2)."""

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(self, dsn="", read_buffer=0):
        self._c = _pg.Conn(dsn, read_buffer)
        self.dsn = dsn
        self.autocommit = False
        self._owner = None  # the cursor whose result the connection is streaming
        # one cursor operation at a time (threadsafety 2: threads share the
        # connection); held across execute -> fetch hand-over
        self._lock = _threading.RLock()

    def _claim(self, cursor):
        """Make `cursor` the one whose result the connection streams. A
        previous cursor with rows still on the wire gets them read into its
        own buffer first, so no cursor's rows are lost."""
        prev = self._owner
        if prev is not None and prev is not cursor and self._c.active:
            prev._rows = prev._rows[prev._pos:] + self._c.fetch(-1)
            prev._pos = 0
        self._owner = cursor

    # transaction handling
    def _begin_if_needed(self):
        """BEGIN unless autocommit or already in a transaction; True when it
        began one (the next statement is the first of its transaction)."""
        if not self.autocommit and self._c.transaction_status == "I":
            self._c.execute("BEGIN")
            return True
        return False

    def commit(self):
        self._check()
        with self._lock:
            self._claim(None)  # an open cursor's unread rows move into it first
            if self._c.transaction_status != "I":
                self._c.execute("COMMIT")

    def rollback(self):
        self._check()
        with self._lock:
            self._claim(None)
            if self._c.transaction_status != "I":
                self._c.execute("ROLLBACK")

    def close(self):
        self._c.close()

    def cancel(self):
        """Cancel the query running on this connection (from another thread)."""
        self._c.cancel()

    def cursor(self, name=None, scrollable=None, withhold=False):
        """A new cursor; with a name, a server-side cursor (DECLARE ... CURSOR)
        that fetches `itersize` rows per round trip."""
        self._check()
        return Cursor(self, name, withhold)

    def _check(self):
        if self._c.closed:
            raise InterfaceError("connection already closed")

    @property
    def closed(self):
        return self._c.closed

    @property
    def server_version(self):
        return self._c.server_version

    @property
    def notices(self):
        return self._c.notices

    @property
    def info(self):
        return self

    @property
    def backend_pid(self):
        return self._c.backend_pid

    def get_parameter_status(self, name):
        return self._c.parameter(name)

    @property
    def transaction_status(self):
        return self._c.transaction_status

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._c.closed:
            return
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


# ---- cursor ---------------------------------------------------------------

class Cursor:
    """A DB-API cursor. Iteration and fetch*() stream rows from the socket in
    batches (the whole result is never held unless fetchall() asks for it)."""

    def __init__(self, conn, name=None, withhold=False):
        self.connection = conn
        self.name = name
        self.withhold = withhold
        self.arraysize = 1
        self.itersize = 2000
        self._rows = []
        self._pos = 0
        self.description = None
        self.rowcount = -1
        self.statusmessage = None
        self.query = None
        self.closed = False
        self._named_open = False
        self.lastrowid = None

    def _check(self):
        if self.closed:
            raise InterfaceError("cursor already closed")
        self.connection._check()

    def _take_result(self):
        c = self.connection._c
        self.description = c.description if c.description is not None else None
        self.rowcount = c.rowcount
        self.statusmessage = c.statusmessage
        self._rows = []
        self._pos = 0
        self.connection._owner = self  # this cursor now streams the connection's result

    def execute(self, query, params=None):
        self._check()
        with self.connection._lock:
            self.connection._claim(self)
            if self.name is not None:
                return self._execute_named(query, params)
            sql, args = _convert(query, params)
            self.query = query
            conn = self.connection
            began = conn._begin_if_needed()
            try:
                conn._c.execute(sql, args)
            except TypeError as e:  # a parameter that cannot be adapted
                raise ProgrammingError(str(e)) from e
            except Error as e:
                # a cached statement went stale (DDL since it was prepared):
                # the C layer re-prepared it already outside a transaction;
                # here it was the first statement of the transaction, so
                # nothing is lost by starting the transaction again
                if not (began and _stale_statement(e)):
                    raise
                conn._c.execute("ROLLBACK")
                conn._c.execute("BEGIN")
                conn._c.execute(sql, args)
            self._take_result()
        if self.description is not None and self.rowcount < 0:
            self.rowcount = -1

    def executemany(self, query, seq_of_params):
        """Pipelined: one Parse, one Bind/Execute per row, one Sync. A bad row
        raises with .statement = its index (the batch is one transaction)."""
        self._check()
        seq = seq_of_params if isinstance(seq_of_params, (list, tuple)) else list(seq_of_params)
        if not seq:
            self.rowcount = 0
            return
        if isinstance(seq[0], dict):
            sql = _convert(query, seq[0])[0]
            rows = [_convert(query, p)[1] for p in seq]
        else:
            # positional: the rows go to C as they are (it checks every row's length)
            sql, first = _convert(query, seq[0])
            rows = seq
        with self.connection._lock:
            self.connection._claim(None)
            self.connection._begin_if_needed()
            try:
                self.rowcount = self.connection._c.executemany(sql, rows)
            except (ValueError, TypeError) as e:
                raise ProgrammingError(str(e)) from e
        self.description = None

    def callproc(self, procname, params=()):
        params = tuple(params)
        self.execute("SELECT * FROM %s(%s)" % (procname, ",".join(["%s"] * len(params))), params)
        return params

    # named (server-side) cursors
    def _execute_named(self, query, params):
        conn = self.connection
        if not conn.autocommit:
            conn._begin_if_needed()
        sql, args = _convert(query, params)
        conn._c.execute("DECLARE %s %sCURSOR %s FOR %s" % (_quote_ident(self.name), "NO SCROLL ",
                                                          "WITH HOLD" if self.withhold else "WITHOUT HOLD", sql),
                        args)
        self._named_open = True
        self._named_done = False
        self.query = query
        self._rows = []
        self._pos = 0
        self.rowcount = -1
        self.description = None
        # describe by fetching nothing
        conn._c.execute("FETCH FORWARD 0 FROM %s" % _quote_ident(self.name))
        self.description = conn._c.description
        conn._c.fetch()

    def _named_fill(self, n):
        c = self.connection._c
        c.execute("FETCH FORWARD %d FROM %s" % (max(n, 1), _quote_ident(self.name)))
        self.description = c.description
        rows = c.fetch()
        if len(rows) < max(n, 1):
            self._named_done = True
        return rows

    # fetching
    def _more_locked(self, n):
        """Up to n (-1: all) rows from the stream (connection lock held)."""
        if self.name is not None:
            self.connection._claim(None)
            if not self._named_open or self._named_done:
                return []
            if n < 0:
                out = []
                while not self._named_done:
                    out.extend(self._named_fill(self.itersize))
                return out
            return self._named_fill(n)
        c = self.connection._c
        if self.connection._owner is not self or not c.active:
            return []
        rows = c.fetch(n)
        if not c.active:
            self.rowcount = c.rowcount if c.rowcount >= 0 else self.rowcount
            self.statusmessage = c.statusmessage
        return rows

    def _need_result(self):
        if self.description is None and not self._rows:
            raise ProgrammingError("no results to fetch")

    def fetchone(self):
        self._check()
        with self.connection._lock:
            self._need_result()
            if self._pos >= len(self._rows):
                self._rows = self._more_locked(self.itersize)
                self._pos = 0
                if not self._rows:
                    return None
            row = self._rows[self._pos]
            self._pos += 1
            return row

    def fetchmany(self, size=None):
        self._check()
        with self.connection._lock:
            self._need_result()
            size = self.arraysize if size is None else size
            out = self._rows[self._pos:self._pos + size]
            self._pos += len(out)
            if len(out) < size:
                out.extend(self._more_locked(size - len(out)))
            return out

    def fetchall(self):
        self._check()
        with self.connection._lock:
            self._need_result()
            out = self._rows[self._pos:]
            self._rows = []
            self._pos = 0
            out.extend(self._more_locked(-1))
            return out

    def __iter__(self):
        self._check()
        self._need_result()
        while True:
            with self.connection._lock:
                if self._pos >= len(self._rows):
                    self._rows = self._more_locked(self.itersize)
                    self._pos = 0
                    if not self._rows:
                        return
                rows, start = self._rows, self._pos
                self._pos = len(rows)
            yield from rows[start:]

    def setinputsizes(self, sizes):
        pass  # PEP 249: implementations are free to do nothing

    def setoutputsize(self, size, column=None):
        pass  # PEP 249: implementations are free to do nothing

    def close(self):
        if self.closed:
            return
        if self.name is not None and self._named_open and not self.connection.closed:
            with self.connection._lock:
                self.connection._claim(None)  # another cursor's unread rows stay its own
                try:
                    self.connection._c.execute("CLOSE %s" % _quote_ident(self.name))
                except Error:
                    pass
        if self.connection._owner is self:
            self.connection._owner = None
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # COPY (psycopg2's API)
    def copy_from(self, file, table, sep="\t", null="\\N", size=8192, columns=None):
        """COPY table FROM STDIN (text format) reading file.read(size)."""
        cols = " (%s)" % ",".join(_quote_ident(c) for c in columns) if columns else ""
        sql = "COPY %s%s FROM STDIN WITH (FORMAT text, DELIMITER %s, NULL %s)" % (
            _table(table), cols, _literal(sep), _literal(null))
        with self.connection._lock:
            self.connection._claim(None)
            self.connection._begin_if_needed()
            self.rowcount = self.connection._c.copy_in(sql, _chunks(file, max(size, 65536)))

    def copy_to(self, file, table, sep="\t", null="\\N", columns=None):
        """COPY table TO STDOUT (text format) into file.write()."""
        cols = " (%s)" % ",".join(_quote_ident(c) for c in columns) if columns else ""
        sql = "COPY %s%s TO STDOUT WITH (FORMAT text, DELIMITER %s, NULL %s)" % (
            _table(table), cols, _literal(sep), _literal(null))
        with self.connection._lock:
            self.connection._claim(None)
            self.connection._begin_if_needed()
            self.rowcount = self.connection._c.copy_out(sql, _writer(file))

    def copy_expert(self, sql, file, size=8192):
        """Run any COPY ... FROM STDIN (reading file) or TO STDOUT (writing it)."""
        with self.connection._lock:
            self.connection._claim(None)
            self.connection._begin_if_needed()
            if _re.search(r"\bfrom\s+stdin\b", sql, _re.I):
                self.rowcount = self.connection._c.copy_in(sql, _chunks(file, max(size, 65536)))
            else:
                self.rowcount = self.connection._c.copy_out(sql, _writer(file))

    def copy_records(self, table, records, columns=None):
        """Binary COPY of Python tuples (like asyncpg's copy_records_to_table).
        Values are encoded in C by the column types of `table`."""
        c = self.connection._c
        cols = list(columns) if columns else None
        collist = ",".join(_quote_ident(x) for x in cols) if cols else "*"
        with self.connection._lock:
            self.connection._claim(None)
            self.connection._begin_if_needed()
            c.execute("SELECT %s FROM %s LIMIT 0" % (collist, _table(table)))
            oids = tuple(d[1] for d in c.description)
            names = [d[0] for d in c.description]
            c.fetch()
            sql = "COPY %s (%s) FROM STDIN WITH (FORMAT binary)" % (
                _table(table), ",".join(_quote_ident(n) for n in names))
            self.rowcount = c.copy_records(sql, oids, records)
        return self.rowcount


def _table(name):
    return ".".join(_quote_ident(p) for p in name.split(".")) if '"' not in name else name


def _literal(s):
    return "E'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


def _chunks(file, size):
    while True:
        data = file.read(size)
        if not data:
            return
        yield data


def _writer(file):
    def write(b):
        try:
            file.write(b)
        except TypeError:
            file.write(b.decode())
    return write
