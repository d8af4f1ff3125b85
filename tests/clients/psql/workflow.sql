-- psql workflow for tests/clients/test_psql.sh: DDL, DML, errors (shown by
-- SQLSTATE only, so that the output does not depend on message wording),
-- COPY inline and \copy both ways; the output is compared with
-- workflow.expected (made by PostgreSQL 15).
\set VERBOSITY sqlstate
SET client_min_messages = warning;
DROP TABLE IF EXISTS ps_items;
CREATE TABLE ps_items (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  price numeric(8,2) DEFAULT 0,
  qty int4,
  added date,
  flag bool,
  note varchar(20)
);
INSERT INTO ps_items (name, price, qty, added, flag, note) VALUES
  ('apple', 1.5, 10, '2024-01-01', true, 'red'),
  ('pear', 2, 0, '2024-02-29', false, NULL),
  ('plum', NULL, 5, NULL, NULL, 'tab	inside');
SELECT * FROM ps_items ORDER BY id;
UPDATE ps_items SET qty = qty + 1 WHERE qty > 0;
DELETE FROM ps_items WHERE name = 'pear' RETURNING id, name;
INSERT INTO ps_items (name) VALUES ('apple');
INSERT INTO ps_items (qty) VALUES (1);
SELECT nosuch FROM ps_items;
SELECT * FROM ps_nosuch;
SELECT 1/0;
SELEC 1;
BEGIN;
INSERT INTO ps_items (name) VALUES ('in tx');
SELECT oops;
SELECT 1;
ROLLBACK;
SELECT count(*) AS after_rollback FROM ps_items;
BEGIN;
INSERT INTO ps_items (name, qty) VALUES ('kiwi', 3);
SAVEPOINT s;
INSERT INTO ps_items (name) VALUES ('kiwi');
ROLLBACK TO SAVEPOINT s;
COMMIT;
COPY ps_items (name, price, qty, note) FROM STDIN;
fig	0.25	7	\N
date	10.00	1	dried
\.
\copy ps_items (name, price, qty, added) FROM 'in.csv' WITH (FORMAT csv, HEADER)
\copy (SELECT name, price, qty, added, note FROM ps_items ORDER BY id) TO 'out.txt'
\copy ps_items (name, qty) TO 'out.csv' WITH (FORMAT csv, HEADER)
SELECT name, price, qty, added, flag, note FROM ps_items ORDER BY id;
SELECT count(*), sum(qty), sum(price), min(added), max(name) FROM ps_items;
SELECT name, qty, sum(qty) OVER (ORDER BY id) AS running FROM ps_items WHERE qty IS NOT NULL ORDER BY id;
SELECT g, g * g AS sq FROM generate_series(1, 4) g;
UPDATE ps_items SET price = price + 1 WHERE price IS NOT NULL;
SELECT name, price FROM ps_items WHERE name IN ('apple', 'fig') ORDER BY name;
TRUNCATE ps_items;
SELECT count(*) AS after_truncate FROM ps_items;
\copy ps_items (name, price, qty, added) FROM 'in.csv' WITH (FORMAT csv, HEADER)
SELECT name, price, qty, added FROM ps_items ORDER BY name;
DROP TABLE ps_items;
SELECT * FROM ps_items;
