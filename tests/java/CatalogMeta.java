// pgjdbc DatabaseMetaData against `wirebuf serve` (tests/test_catalog.py
// compiles and runs it): prints getTables and getColumns rows, one a line.
// Usage: java -cp postgresql.jar:DIR CatalogMeta JDBC_URL USER
import java.sql.*;

public class CatalogMeta {
    static void dump(String what, ResultSet rs, String... cols) throws SQLException {
        while (rs.next()) {
            StringBuilder b = new StringBuilder(what);
            for (String c : cols) b.append(' ').append(c).append('=').append(rs.getString(c));
            System.out.println(b);
        }
    }

    public static void main(String[] a) throws SQLException {
        try (Connection c = DriverManager.getConnection(a[0], a[1], "")) {
            DatabaseMetaData m = c.getMetaData();
            dump("table", m.getTables(null, "public", "%", new String[] {"TABLE", "VIEW"}), "TABLE_NAME", "TABLE_TYPE");
            dump("column", m.getColumns(null, "public", "books", "%"), "COLUMN_NAME", "TYPE_NAME", "COLUMN_SIZE",
                 "DECIMAL_DIGITS", "IS_NULLABLE", "IS_AUTOINCREMENT");
        }
    }
}
