// postgres.js (npm postgres) against the target of scripts/with_serve.sh or
// scripts/with_pg.sh: it prepares every query as a named statement and
// relies on ParameterDescription for the parameter types; bulk inserts,
// transactions with savepoints, cursors, COPY streams, unsafe (simple
// protocol) multi-statement queries.
'use strict'
const { check, eq, env, main, need } = require('./harness')
const postgres = need('postgres')
const { pipeline } = require('stream/promises')
const { Readable } = require('stream')

const E = env()
const connect = (opts) => postgres({ host: E.host, port: E.port, database: E.db, username: E.user,
  password: E.password, connect_timeout: 10, onnotice: () => {}, max: 4, ...opts })

check('types_and_parameters', async () => {
  const sql = connect()
  try {
    await sql`DROP TABLE IF EXISTS pj_t`
    await sql`CREATE TABLE pj_t (id int4 primary key, n numeric(12,2), b int8, f float8, t text, ok bool,
      d date, ts timestamp, j jsonb, arr int4[], bin bytea)`
    const rows = [1, 2, 3].map(i => ({ id: i, n: `${i}.50`, b: `${2 ** 53 + i}`, f: i / 8, t: `t${i}`, ok: i % 2 === 1,
      d: new Date(Date.UTC(2024, 0, i)), ts: new Date(Date.UTC(2024, 5, i, 12)), j: { i }, arr: [i, i + 1], bin: Buffer.from([i]) }))
    const ins = await sql`INSERT INTO pj_t ${sql(rows)}`
    eq(ins.count, 3, 'insert count')
    const got = await sql`SELECT * FROM pj_t WHERE id = ${2}`
    eq(got.count, 1, 'count')
    const r = got[0]
    eq([r.id, r.n, r.b, r.f, r.t, r.ok], [2, '2.50', String(2 ** 53 + 2), 0.25, 't2', false], 'scalars')
    eq(r.j, { i: 2 }, 'jsonb')
    eq(r.arr, [2, 3], 'int4[]')
    eq(Buffer.from(r.bin), Buffer.from([2]), 'bytea')
    eq(r.d.toISOString().slice(0, 10), '2024-01-02', 'date')
    eq(got.columns.map(c => c.type), [23, 1700, 20, 701, 25, 16, 1082, 1114, 3802, 1007, 17], 'type OIDs')
    const p = await sql`SELECT ${5}::int8 + ${6} AS s, ${'x'} || 'y' AS c, ${[1, 2, 3]}::int4[] AS a`
    eq([p[0].s, p[0].c, p[0].a], ['11', 'xy', [1, 2, 3]], 'inferred parameters')
    const any = await sql`SELECT count(*)::int AS n FROM pj_t WHERE id = ANY(${[1, 3, 9]}::int4[])`
    eq(any[0].n, 2, '= ANY(array)')
    for (let i = 0; i < 20; i++) {
      const v = await sql`SELECT t FROM pj_t WHERE id = ${1 + (i % 3)}`
      eq(v[0].t, `t${1 + (i % 3)}`, 'prepared re-run')
    }
  } finally {
    await sql.end({ timeout: 5 })
  }
})

check('transactions', async () => {
  const sql = connect()
  try {
    await sql`DROP TABLE IF EXISTS pj_tx`
    await sql`CREATE TABLE pj_tx (id serial primary key, v text unique)`
    await sql.begin(async sql => {
      await sql`INSERT INTO pj_tx (v) VALUES ('a')`
      await sql.savepoint(async sql => { await sql`INSERT INTO pj_tx (v) VALUES ('b')` })
      const e = await sql.savepoint(async sql => { await sql`INSERT INTO pj_tx (v) VALUES ('a')` }).catch(e => e)
      eq(e.code, '23505', 'duplicate in a savepoint')
      await sql`INSERT INTO pj_tx (v) VALUES ('c')`
    })
    const e = await sql.begin(async sql => {
      await sql`INSERT INTO pj_tx (v) VALUES ('gone')`
      await sql`SELECT 1/0`
    }).catch(e => e)
    eq(e.code, '22012', 'division by zero')
    const rows = await sql`SELECT v FROM pj_tx ORDER BY v`
    eq(rows.map(r => r.v), ['a', 'b', 'c'], 'committed rows')
  } finally {
    await sql.end({ timeout: 5 })
  }
})

check('cursor_copy_unsafe', async () => {
  const sql = connect()
  try {
    let n = 0; let s = 0
    await sql`SELECT g FROM generate_series(1, 3000) g`.cursor(250, rows => { for (const r of rows) { n++; s += r.g } })
    eq([n, s], [3000, 3000 * 3001 / 2], 'cursor rows')
    await sql`DROP TABLE IF EXISTS pj_copy`
    await sql`CREATE TABLE pj_copy (id int4, v text)`
    const lines = Array.from({ length: 5000 }, (_, i) => `${i}\tv${i}\n`)
    await pipeline(Readable.from(lines), await sql`COPY pj_copy FROM STDIN`.writable())
    const out = []
    for await (const chunk of await sql`COPY (SELECT * FROM pj_copy ORDER BY id) TO STDOUT`.readable()) out.push(chunk)
    eq(Buffer.concat(out).toString() === lines.join(''), true, 'COPY TO equals what went in')
    const multi = await sql.unsafe('SELECT 1 AS a; SELECT 2 AS b')
    eq(multi.map(r => r[0]), [{ a: 1 }, { b: 2 }], 'multi-statement simple query')
    const pr = await sql.unsafe('SELECT $1::text AS t', ['param'])
    eq(pr[0].t, 'param', 'unsafe with parameters')
  } finally {
    await sql.end({ timeout: 5 })
  }
})

check('no_prepare_and_concurrency', async () => {
  const sql = connect({ prepare: false, max: 8 })
  try {
    const got = await Promise.all(Array.from({ length: 200 }, (_, i) => sql`SELECT ${i}::int4 * 2 AS v`))
    eq(got.map(r => r[0].v), Array.from({ length: 200 }, (_, i) => i * 2), 'results')
  } finally {
    await sql.end({ timeout: 5 })
  }
})

main()
