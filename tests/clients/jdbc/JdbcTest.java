// pgjdbc (Debian libpostgresql-jdbc-java) against the target of
// scripts/with_serve.sh or scripts/with_pg.sh: batches (also rewritten
// multi-row inserts), server-prepared statements (prepareThreshold), fetch
// size with autocommit off (a portal read with Execute row limits),
// transactions, savepoints and SQLSTATEs, the types pgjdbc maps.
// Compiled and run by tests/clients/test_jdbc.sh.
import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

public class JdbcTest {
    interface Check { void run() throws Exception; }
    static final List<String> failed = new ArrayList<>();
    static int ran = 0;
    static String url;
    static Properties props = new Properties();

    static void eq(Object got, Object want, String what) {
        if (!Objects.equals(got, want))
            throw new AssertionError(what + ": got " + got + ", want " + want);
    }

    static Connection connect(String extra) throws SQLException {
        return DriverManager.getConnection(url + extra, props);
    }

    static void check(String name, Check c) {
        String only = System.getenv("WB_TEST_ONLY");
        if (only != null && !only.isEmpty() && !Arrays.asList(only.split(",")).contains(name)) return;
        String skip = System.getenv("WB_TEST_SKIP");
        if (skip != null && Arrays.asList(skip.split(",")).contains(name)) {
            System.out.println("skip " + name + " (WB_TEST_SKIP)");
            return;
        }
        ran++;
        long t0 = System.nanoTime();
        try {
            c.run();
            System.out.printf("ok   %s (%.2f s)%n", name, (System.nanoTime() - t0) / 1e9);
        } catch (Throwable e) {
            failed.add(name);
            String state = e instanceof SQLException ? ((SQLException) e).getSQLState() + " " : "";
            String msg = String.valueOf(e.getMessage()).split("\n")[0];
            System.out.println("FAIL " + name + ": " + e.getClass().getSimpleName() + ": " + state + msg);
            if (System.getenv("WB_VERBOSE") != null) e.printStackTrace(System.out);
        }
        System.out.flush();
    }

    static String sqlstate(Check c) throws Exception {
        try {
            c.run();
        } catch (SQLException e) {
            return e.getSQLState();
        }
        return "no error";
    }

    public static void main(String[] args) throws Exception {
        String addr = System.getenv().getOrDefault("WB_PG_ADDR", "127.0.0.1");
        url = "jdbc:postgresql://" + addr + ":" + System.getenv("WB_PG_PORT") + "/"
            + System.getenv().getOrDefault("WB_PG_DB", "postgres") + "?connectTimeout=10&socketTimeout=60";
        props.setProperty("user", System.getenv().getOrDefault("WB_PG_SUPER", "postgres"));
        props.setProperty("password", System.getenv().getOrDefault("WB_PG_PASSWORD", ""));
        props.setProperty("sslmode", "disable");

        check("metadata_and_types", () -> {
            try (Connection c = connect(""); Statement st = c.createStatement()) {
                DatabaseMetaData md = c.getMetaData();
                eq(md.getDatabaseMajorVersion(), 15, "server major version");
                st.execute("DROP TABLE IF EXISTS jd_types");
                st.execute("CREATE TABLE jd_types (id int4 primary key, a int2, b int8, c float4, d float8, "
                    + "e numeric(12,4), f text, g varchar(8), h bool, i bytea, j date, k timestamp, l timestamptz, m uuid)");
                try (PreparedStatement ps = c.prepareStatement(
                        "INSERT INTO jd_types VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                    ps.setInt(1, 1); ps.setShort(2, (short) -7); ps.setLong(3, Long.MIN_VALUE);
                    ps.setFloat(4, 1.5f); ps.setDouble(5, -0.0625); ps.setBigDecimal(6, new BigDecimal("-12345678.1234"));
                    ps.setString(7, "tëxt\ttab"); ps.setString(8, "vc"); ps.setBoolean(9, true);
                    ps.setBytes(10, new byte[] {0, 1, (byte) 255}); ps.setDate(11, java.sql.Date.valueOf("2024-02-29"));
                    ps.setTimestamp(12, Timestamp.valueOf("2001-02-03 04:05:06.789"));
                    ps.setObject(13, java.time.OffsetDateTime.parse("2024-05-06T07:08:09Z"));
                    ps.setObject(14, UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
                    eq(ps.executeUpdate(), 1, "update count");
                }
                try (ResultSet rs = st.executeQuery("SELECT * FROM jd_types")) {
                    eq(rs.next(), true, "a row");
                    ResultSetMetaData m = rs.getMetaData();
                    eq(m.getColumnTypeName(2) + "," + m.getColumnTypeName(6) + "," + m.getColumnTypeName(8),
                        "int2,numeric,varchar", "column type names");
                    eq(m.getPrecision(6) + "/" + m.getScale(6), "12/4", "numeric(12,4) typmod");
                    eq(m.getColumnDisplaySize(8), 8, "varchar(8) typmod");
                    eq(rs.getShort(2), (short) -7, "int2");
                    eq(rs.getLong(3), Long.MIN_VALUE, "int8");
                    eq(rs.getFloat(4), 1.5f, "float4");
                    eq(rs.getDouble(5), -0.0625, "float8");
                    eq(rs.getBigDecimal(6), new BigDecimal("-12345678.1234"), "numeric");
                    eq(rs.getString(7), "tëxt\ttab", "text");
                    eq(rs.getBoolean(9), true, "bool");
                    eq(Arrays.toString(rs.getBytes(10)), "[0, 1, -1]", "bytea");
                    eq(rs.getDate(11).toString(), "2024-02-29", "date");
                    eq(rs.getTimestamp(12).toString(), "2001-02-03 04:05:06.789", "timestamp");
                    eq(rs.getObject(13, java.time.OffsetDateTime.class).toInstant().toString(), "2024-05-06T07:08:09Z", "timestamptz");
                    eq(rs.getObject(14), UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "uuid");
                }
            }
        });

        check("batches", () -> {
            for (String extra : new String[] {"", "&reWriteBatchedInserts=true"}) {
                try (Connection c = connect(extra); Statement st = c.createStatement()) {
                    st.execute("DROP TABLE IF EXISTS jd_batch");
                    st.execute("CREATE TABLE jd_batch (id int8 primary key, name text, score float8)");
                    c.setAutoCommit(false);
                    try (PreparedStatement ps = c.prepareStatement("INSERT INTO jd_batch VALUES (?, ?, ?)")) {
                        for (int i = 0; i < 3000; i++) {
                            ps.setLong(1, i); ps.setString(2, "n" + i);
                            if (i % 10 == 0) ps.setNull(3, Types.DOUBLE); else ps.setDouble(3, i * 0.5);
                            ps.addBatch();
                        }
                        int[] counts = ps.executeBatch();
                        int sum = 0;
                        for (int n : counts) sum += n == Statement.SUCCESS_NO_INFO ? 0 : n;
                        if (extra.isEmpty()) eq(sum, 3000, "batch update counts");
                    }
                    c.commit();
                    try (ResultSet rs = st.executeQuery("SELECT count(*), sum(id), count(score) FROM jd_batch")) {
                        rs.next();
                        eq(rs.getLong(1) + "," + rs.getLong(2) + "," + rs.getLong(3), "3000,4498500,2700", "rows " + extra);
                    }
                    // a failing batch: BatchUpdateException with the SQLSTATE, nothing committed
                    try (PreparedStatement ps = c.prepareStatement("INSERT INTO jd_batch VALUES (?, 'x', 0)")) {
                        ps.setLong(1, 5000); ps.addBatch();
                        ps.setLong(1, 1); ps.addBatch();
                        ps.setLong(1, 5001); ps.addBatch();
                        String state = sqlstate(ps::executeBatch);
                        eq(state, "23505", "failing batch");
                    }
                    c.rollback();
                    try (ResultSet rs = st.executeQuery("SELECT count(*) FROM jd_batch WHERE id >= 5000")) {
                        rs.next();
                        eq(rs.getLong(1), 0L, "rows of the failed batch");
                    }
                    c.commit();
                    // a Statement batch of plain SQL
                    st.addBatch("UPDATE jd_batch SET score = -1 WHERE id < 10");
                    st.addBatch("DELETE FROM jd_batch WHERE id >= 2990");
                    int[] r = st.executeBatch();
                    eq(r[0] + "," + r[1], "10,10", "statement batch counts");
                    c.commit();
                }
            }
        });

        check("server_prepared_statements", () -> {
            try (Connection c = connect("&prepareThreshold=2"); Statement st = c.createStatement()) {
                st.execute("DROP TABLE IF EXISTS jd_prep");
                st.execute("CREATE TABLE jd_prep (id int4 primary key, v text)");
                st.execute("INSERT INTO jd_prep SELECT g, 'v' || g FROM generate_series(1, 100) g");
                try (PreparedStatement ps = c.prepareStatement("SELECT v FROM jd_prep WHERE id = ?")) {
                    org.postgresql.PGStatement pgs = ps.unwrap(org.postgresql.PGStatement.class);
                    for (int i = 1; i <= 10; i++) {
                        ps.setInt(1, i * 7);
                        try (ResultSet rs = ps.executeQuery()) {
                            eq(rs.next(), true, "row " + i * 7);
                            eq(rs.getString(1), "v" + i * 7, "value");
                        }
                    }
                    eq(pgs.isUseServerPrepare(), true, "server-prepared after the threshold");
                }
            }
            // prepareThreshold=-1: prepared and binary from the first execution
            try (Connection c = connect("&prepareThreshold=-1");
                 PreparedStatement ps = c.prepareStatement("SELECT id, v, id * 1.5 FROM jd_prep WHERE id BETWEEN ? AND ? ORDER BY id")) {
                ps.setInt(1, 10); ps.setInt(2, 12);
                StringBuilder sb = new StringBuilder();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) sb.append(rs.getInt(1)).append(rs.getString(2)).append(rs.getBigDecimal(3)).append(';');
                }
                eq(sb.toString(), "10v1015.0;11v1116.5;12v1218.0;", "rows");
                ps.setObject(1, "x", Types.OTHER); // sent as unknown (OID 0): the server parses it as int4
                eq(sqlstate(ps::executeQuery), "22P02", "bad parameter");
            }
        });

        check("fetch_size_autocommit_off", () -> {
            try (Connection c = connect("")) {
                c.setAutoCommit(false);
                try (Statement st = c.createStatement()) {
                    st.setFetchSize(250);
                    long n = 0, sum = 0;
                    try (ResultSet rs = st.executeQuery("SELECT g, 'r' || g FROM generate_series(1, 20000) g")) {
                        while (rs.next()) {
                            n++;
                            sum += rs.getLong(1);
                            if (!rs.getString(2).equals("r" + rs.getLong(1))) throw new AssertionError("row " + n);
                        }
                    }
                    eq(n + "/" + sum, "20000/" + (20000L * 20001 / 2), "rows fetched 250 at a time");
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT g FROM generate_series(0, 2999) g WHERE g < ? ORDER BY g")) {
                    ps.setFetchSize(100);
                    ps.setLong(1, 1000);
                    long n = 0;
                    try (ResultSet rs = ps.executeQuery()) { while (rs.next()) eq(rs.getLong(1), n++, "id"); }
                    eq(n, 1000L, "rows");
                }
                c.commit();
            }
        });

        check("transactions_and_errors", () -> {
            try (Connection c = connect(""); Statement st = c.createStatement()) {
                st.execute("DROP TABLE IF EXISTS jd_tx");
                st.execute("CREATE TABLE jd_tx (id int4 primary key, v text not null)");
                c.setAutoCommit(false);
                st.execute("INSERT INTO jd_tx VALUES (1, 'a')");
                Savepoint sp = c.setSavepoint();
                st.execute("INSERT INTO jd_tx VALUES (2, 'b')");
                eq(sqlstate(() -> st.execute("INSERT INTO jd_tx VALUES (1, 'dup')")), "23505", "duplicate");
                eq(sqlstate(() -> st.execute("SELECT 1")), "25P02", "aborted transaction");
                c.rollback(sp);
                st.execute("INSERT INTO jd_tx VALUES (3, 'c')");
                c.commit();
                try (ResultSet rs = st.executeQuery("SELECT string_agg(v, ',' ORDER BY id) FROM jd_tx")) {
                    rs.next();
                    eq(rs.getString(1), "a,c", "committed rows");
                }
                c.commit();
                c.setAutoCommit(true);
                eq(sqlstate(() -> st.execute("INSERT INTO jd_tx VALUES (4, NULL)")), "23502", "not null");
                eq(sqlstate(() -> st.execute("SELECT * FROM jd_nosuch")), "42P01", "undefined table");
                eq(sqlstate(() -> st.execute("SELECT 1/0")), "22012", "division by zero");
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO jd_tx VALUES (?, ?) RETURNING id * 10", Statement.NO_GENERATED_KEYS)) {
                    ps.setInt(1, 5); ps.setString(2, "e");
                    try (ResultSet rs = ps.executeQuery()) { rs.next(); eq(rs.getInt(1), 50, "RETURNING"); }
                }
            }
        });

        System.out.println("JdbcTest: " + ran + " checks, " + failed.size() + " failed"
            + (failed.isEmpty() ? "" : ": " + String.join(", ", failed)));
        System.exit(failed.isEmpty() ? 0 : 1);
    }
}
