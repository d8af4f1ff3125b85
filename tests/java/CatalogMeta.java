// pgjdbc DatabaseMetaData against `wirebuf serve` (tests/test_catalog.py
// compiles and runs it, against PostgreSQL too where it runs): prints
// getTables, getColumns, getPrimaryKeys and getIndexInfo rows, one a line.
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
            for (String t : new String[] {"authors", "books", "gadgets", "gadget_parts"}) {
                dump("pk", m.getPrimaryKeys(null, "public", t), "TABLE_NAME", "COLUMN_NAME", "KEY_SEQ", "PK_NAME");
                dump("index", m.getIndexInfo(null, "public", t, false, false), "TABLE_NAME", "NON_UNIQUE",
                     "INDEX_NAME", "TYPE", "ORDINAL_POSITION", "COLUMN_NAME", "ASC_OR_DESC", "FILTER_CONDITION");
                dump("unique", m.getIndexInfo(null, "public", t, true, false), "TABLE_NAME", "INDEX_NAME", "COLUMN_NAME");
            }
        }
    }
}
