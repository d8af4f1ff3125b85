-- expressions for tests/clients/test_psql.sh: numeric arithmetic and
-- comparison, casts, common functions, text output of each type; the output
-- is compared with expressions.expected (made by PostgreSQL 15).
\set VERBOSITY sqlstate
SET client_min_messages = warning;
DROP TABLE IF EXISTS ps_num;
CREATE TABLE ps_num (name text, price numeric(8,2), qty int4);
INSERT INTO ps_num VALUES ('apple', 1.5, 10), ('date', 10, 1), ('fig', 0.25, 7), ('kiwi', 0, 3), ('lime', NULL, 4);
SELECT name, price FROM ps_num ORDER BY price, name;
WITH cheap AS (SELECT name, price FROM ps_num WHERE price < 2)
  SELECT upper(name), price * 2 AS doubled FROM cheap ORDER BY name;
SELECT sum(price), avg(price), max(price), sum(qty), avg(qty) FROM ps_num;
SELECT name, price * qty AS total, round(price / 3, 3) AS third FROM ps_num ORDER BY name;
SELECT 'Apple' ILIKE 'a%' AS ilike, 'abc' ~ 'b' AS regex, length('héllo') AS len,
       7 / 2 AS intdiv, 7.0 / 2 AS numdiv, 1.5::float8 * 2 AS f8, 10::numeric(6,3) AS num,
       '2024-01-31'::date + 1 AS nextday, '2024-01-02 03:04:05'::timestamp AS ts,
       true AS t, NULL::int IS NULL AS isnull, '\x01ff'::bytea AS bin;
SELECT md5('abc'), lpad('7', 3, '0'), split_part('a,b,c', ',', 2), initcap('hello world'),
       to_hex(255), reverse('abc'), regexp_replace('a-b-c', '-', '+', 'g');
SELECT '2024-01-31 10:00'::timestamp - '2024-01-30 09:30'::timestamp AS diff,
       '2024-01-31'::date - '2024-01-01'::date AS days, interval '1 day 2 hours' * 2 AS twice;
SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '{"b": 1, "a": [1, 2]}'::jsonb, ARRAY[1, 2, NULL]::int4[];
SELECT count(DISTINCT (name, qty)) FROM ps_num;
DROP TABLE ps_num;
