// pgjdbc through a transaction-pooling proxy (scripts/with_proxy.sh): many
// connections at once, more than the pool's server connections, each running
// its statements more than prepareThreshold times (default 5: from the 5th
// execution pgjdbc parses a named server-side statement S_n and then only
// binds it), the same names S_1, S_2... in every session with different
// texts, in autocommit and in explicit transactions. Every answer must be the
// session's own; the server backends seen are at most WB_PROXY_POOL_SIZE
// (through a proxy). PgBouncer 1.18 in transaction mode fails it (42P05
// "prepared statement S_1 already exists" / 26000): that is what the wirebuf
// proxy fixes. Also runs against with_pg.sh (no pool bound then).
// Compiled and run by tests/clients/test_jdbc.sh JdbcMultiplexTest.
import java.sql.*;
import java.util.*;
import java.util.concurrent.*;

public class JdbcMultiplexTest {
    static String url;
    static Properties props = new Properties();
    static final int SESSIONS = Integer.parseInt(System.getenv().getOrDefault("WB_MULTIPLEX_SESSIONS", "10"));
    static final int ROUNDS = Integer.parseInt(System.getenv().getOrDefault("WB_MULTIPLEX_ROUNDS", "30"));
    static final Set<Integer> pids = ConcurrentHashMap.newKeySet();

    static void eq(Object got, Object want, String what) {
        if (!Objects.equals(got, want))
            throw new AssertionError(what + ": got " + got + ", want " + want);
    }

    static void session(int i) throws Exception {
        try (Connection c = DriverManager.getConnection(url, props);
             PreparedStatement shared = c.prepareStatement("SELECT v FROM jm_kv WHERE id = ?");
             PreparedStatement own = c.prepareStatement("SELECT ?::int4 + " + (i * 1000) + ", 's" + i + "'");
             PreparedStatement pid = c.prepareStatement("SELECT pg_backend_pid()");
             PreparedStatement ins = c.prepareStatement("INSERT INTO jm_log VALUES (?, ?)")) {
            for (int r = 0; r < ROUNDS; r++) {
                int k = (i * 31 + r) % 500 + 1;
                shared.setInt(1, k);
                try (ResultSet rs = shared.executeQuery()) {
                    eq(rs.next(), true, "row " + k);
                    eq(rs.getString(1), "v" + k, "shared text, round " + r);
                }
                own.setInt(1, r);
                try (ResultSet rs = own.executeQuery()) {
                    rs.next();
                    eq(rs.getInt(1) + "/" + rs.getString(2), (i * 1000 + r) + "/s" + i, "own text, round " + r);
                }
                try (ResultSet rs = pid.executeQuery()) { rs.next(); pids.add(rs.getInt(1)); }
                if (r % 3 == 0) {
                    // an explicit transaction: two inserts, the second round's rolled back
                    c.setAutoCommit(false);
                    ins.setInt(1, i); ins.setInt(2, r); ins.executeUpdate();
                    own.setInt(1, -r);
                    try (ResultSet rs = own.executeQuery()) {
                        rs.next();
                        eq(rs.getInt(1), i * 1000 - r, "own text in a transaction");
                    }
                    ins.setInt(1, i); ins.setInt(2, r + 1000); ins.executeUpdate();
                    if (r % 2 == 0) c.commit(); else c.rollback();
                    c.setAutoCommit(true);
                }
            }
            eq(shared.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare(), true,
                "server-prepared after prepareThreshold executions");
        }
    }

    public static void main(String[] args) throws Exception {
        String addr = System.getenv().getOrDefault("WB_PG_ADDR", "127.0.0.1");
        url = "jdbc:postgresql://" + addr + ":" + System.getenv("WB_PG_PORT") + "/"
            + System.getenv().getOrDefault("WB_PG_DB", "postgres") + "?connectTimeout=10&socketTimeout=60";
        props.setProperty("user", System.getenv().getOrDefault("WB_PG_SUPER", "postgres"));
        props.setProperty("password", System.getenv().getOrDefault("WB_PG_PASSWORD", ""));
        props.setProperty("sslmode", "disable");
        int pool = "proxy".equals(System.getenv("WB_PG_TARGET"))
            ? Integer.parseInt(System.getenv().getOrDefault("WB_PROXY_POOL_SIZE", "0")) : 0;
        try (Connection c = DriverManager.getConnection(url, props); Statement st = c.createStatement()) {
            st.execute("DROP TABLE IF EXISTS jm_kv, jm_log");
            st.execute("CREATE TABLE jm_kv (id int4 primary key, v text)");
            st.execute("INSERT INTO jm_kv SELECT g, 'v' || g FROM generate_series(1, 500) g");
            st.execute("CREATE TABLE jm_log (session int4, r int4)");
        }
        ExecutorService ex = Executors.newFixedThreadPool(SESSIONS);
        List<Future<?>> fs = new ArrayList<>();
        for (int i = 0; i < SESSIONS; i++) {
            final int n = i;
            fs.add(ex.submit(() -> { session(n); return null; }));
        }
        List<String> failed = new ArrayList<>();
        for (int i = 0; i < SESSIONS; i++) {
            try {
                fs.get(i).get(120, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                Throwable t = e.getCause();
                String state = t instanceof SQLException ? ((SQLException) t).getSQLState() + " " : "";
                failed.add("session " + i + ": " + t.getClass().getSimpleName() + ": " + state
                    + String.valueOf(t.getMessage()).split("\n")[0]);
            }
        }
        ex.shutdownNow();
        if (failed.isEmpty()) {
            // committed: the rounds r % 3 == 0 with r even (r % 6 == 0), two rows each
            int per = 0;
            for (int r = 0; r < ROUNDS; r++) if (r % 6 == 0) per += 2;
            try (Connection c = DriverManager.getConnection(url, props); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*), count(*) FILTER (WHERE r % 6 <> 0 AND r < 1000) FROM jm_log")) {
                rs.next();
                if (rs.getInt(1) != SESSIONS * per || rs.getInt(2) != 0)
                    failed.add("jm_log: " + rs.getInt(1) + " rows (want " + SESSIONS * per + "), "
                        + rs.getInt(2) + " from rolled-back transactions (want 0)");
            }
            if (pool > 0 && pids.size() > pool)
                failed.add(SESSIONS + " sessions ran on " + pids.size() + " server backends, pool size " + pool);
        }
        for (String f : failed) System.out.println("FAIL " + f);
        System.out.println("JdbcMultiplexTest: " + SESSIONS + " sessions x " + ROUNDS + " rounds on "
            + pids.size() + " server backends, " + failed.size() + " failed");
        System.exit(failed.isEmpty() ? 0 : 1);
    }
}
