// node-postgres (npm pg, pg-cursor, pg-copy-streams) against the target of
// scripts/with_serve.sh or scripts/with_pg.sh: text-format type parsing,
// parameterised and named (prepared) queries, transactions, errors with
// SQLSTATE, pg-cursor (Execute with a row limit), COPY both ways, a pool,
// LISTEN/NOTIFY.
'use strict'
const { check, eq, env, main, need } = require('./harness')
const pg = need('pg')
const Cursor = need('pg-cursor')
const copy = need('pg-copy-streams')
const { pipeline } = require('stream/promises')
const { Readable, Writable } = require('stream')

const E = env()
const cfg = (tcp) => ({ host: tcp ? E.addr : E.host, port: E.port, database: E.db, user: E.user,
  password: E.password, connectionTimeoutMillis: 10000, application_name: 'wb_node_pg' })

async function withClient (fn, tcp) {
  const c = new pg.Client(cfg(tcp))
  await c.connect()
  try { return await fn(c) } finally { await c.end().catch(() => {}) }
}

check('connect_and_types', () => withClient(async (c) => {
  eq(c.connectionParameters.application_name, 'wb_node_pg', 'application_name')
  await c.query('DROP TABLE IF EXISTS nd_types')
  await c.query(`CREATE TABLE nd_types (id int4 primary key, a int2, b int8, c float8, d numeric(10,3),
    e text, f bool, g bytea, h date, i timestamptz, j jsonb, k int4[], l text[], m uuid)`)
  const r = await c.query(`INSERT INTO nd_types VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [1, 2, '9007199254740993', 0.125, '12.5', 'ünï', true, Buffer.from([0, 1, 255]), '2024-02-29',
      new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), { a: [1, null] }, [1, 2, null], ['x', 'y z'],
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'])
  eq(r.command, 'INSERT', 'command')
  eq(r.rowCount, 1, 'rowCount')
  const s = await c.query('SELECT * FROM nd_types')
  const row = s.rows[0]
  eq(row.a, 2, 'int2')
  eq(row.b, '9007199254740993', 'int8 as text')
  eq(row.c, 0.125, 'float8')
  eq(row.d, '12.500', 'numeric(10,3)')
  eq(row.e, 'ünï', 'text')
  eq(row.f, true, 'bool')
  eq(row.g, Buffer.from([0, 1, 255]), 'bytea')
  // date: pg's parser gives a Date at local midnight
  eq(row.h instanceof Date && [row.h.getFullYear(), row.h.getMonth(), row.h.getDate()].join('-'), '2024-1-29', 'date parsed')
  eq(row.i.toISOString(), '2024-01-02T03:04:05.678Z', 'timestamptz')
  eq(row.j, { a: [1, null] }, 'jsonb')
  eq(row.k, [1, 2, null], 'int4[]')
  eq(row.l, ['x', 'y z'], 'text[]')
  eq(row.m, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'uuid')
  eq(s.fields.map(f => f.dataTypeID), [23, 21, 20, 701, 1700, 25, 16, 17, 1082, 1184, 3802, 1007, 1009, 2950], 'type OIDs')
  // several statements in one simple Query: one result per statement
  const multi = await c.query('SELECT 1 AS x; SELECT 2 AS y, 3 AS z')
  eq(multi.map(m => m.rows), [[{ x: 1 }], [{ y: 2, z: 3 }]], 'multi-statement results')
}))

check('tcp_and_named_statements', () => withClient(async (c) => {
  await c.query('DROP TABLE IF EXISTS nd_named')
  await c.query('CREATE TABLE nd_named (id serial primary key, v text)')
  for (let i = 0; i < 50; i++) {
    await c.query({ name: 'nd_ins', text: 'INSERT INTO nd_named (v) VALUES ($1) RETURNING id', values: ['v' + i] })
  }
  const r = await c.query({ name: 'nd_sel', text: 'SELECT count(*)::int AS n, max(id) AS m FROM nd_named WHERE v LIKE $1', values: ['v%'] })
  eq(r.rows[0], { n: 50, m: 50 }, 'count/max')
  const arr = await c.query({ text: 'SELECT v FROM nd_named WHERE id = ANY($1) ORDER BY id', values: [[2, 4, 99]], rowMode: 'array' })
  eq(arr.rows, [['v1'], ['v3']], '= ANY($1)')
}, true))

check('transactions_and_errors', () => withClient(async (c) => {
  await c.query('DROP TABLE IF EXISTS nd_tx')
  await c.query('CREATE TABLE nd_tx (id int4 primary key, v text not null)')
  await c.query('BEGIN')
  await c.query('INSERT INTO nd_tx VALUES (1, $1)', ['a'])
  await c.query('COMMIT')
  await c.query('BEGIN')
  await c.query('INSERT INTO nd_tx VALUES (2, $1)', ['b'])
  let err = await c.query('INSERT INTO nd_tx VALUES (1, $1)', ['dup']).catch(e => e)
  eq(err.code, '23505', 'duplicate key')
  err = await c.query('SELECT 1').catch(e => e)
  eq(err.code, '25P02', 'in failed transaction')
  await c.query('ROLLBACK')
  eq((await c.query('SELECT count(*)::int AS n FROM nd_tx')).rows[0].n, 1, 'rows after rollback')
  for (const [sql, code] of [['SELECT * FROM nd_nosuch', '42P01'], ['SELECT nosuch FROM nd_tx', '42703'],
    ['SELEC 1', '42601'], ['SELECT 1/0', '22012'], ['INSERT INTO nd_tx VALUES (3, NULL)', '23502']]) {
    err = await c.query(sql).catch(e => e)
    eq(err.code, code, sql)
    eq(err.severity, 'ERROR', 'severity')
  }
  err = await c.query('SELECT $1::int4', ['nope']).catch(e => e)
  eq(err.code, '22P02', 'bad parameter')
  eq((await c.query('SELECT 5 AS five')).rows[0].five, 5, 'after the errors')
}))

check('cursor', () => withClient(async (c) => {
  const cur = c.query(new Cursor('SELECT g, md5(g::text) AS h FROM generate_series(1, 2500) g ORDER BY g'))
  let n = 0; let sum = 0
  for (;;) {
    const rows = await cur.read(300)
    if (!rows.length) break
    for (const r of rows) { n++; sum += r.g }
  }
  await cur.close()
  eq([n, sum], [2500, 2500 * 2501 / 2], 'rows through the cursor')
  eq((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'after the cursor')
}))

check('copy_both_ways', () => withClient(async (c) => {
  await c.query('DROP TABLE IF EXISTS nd_copy')
  await c.query('CREATE TABLE nd_copy (id int8, t text, f float8)')
  const lines = []
  for (let i = 0; i < 10000; i++) lines.push(`${i}\tt${i}\t${i / 4}\n`)
  await pipeline(Readable.from(lines), c.query(copy.from('COPY nd_copy FROM STDIN')))
  eq((await c.query('SELECT count(*)::int AS n, sum(id)::text AS s FROM nd_copy')).rows[0], { n: 10000, s: String(10000 * 9999 / 2) }, 'after COPY FROM')
  const chunks = []
  await pipeline(c.query(copy.to('COPY (SELECT * FROM nd_copy ORDER BY id) TO STDOUT')),
    new Writable({ write (chunk, enc, cb) { chunks.push(chunk); cb() } }))
  eq(Buffer.concat(chunks).toString() === lines.join(''), true, 'COPY TO equals what went in')
}))

check('pool_and_notify', async () => {
  const pool = new pg.Pool({ ...cfg(false), max: 6 })
  try {
    const got = await Promise.all(Array.from({ length: 100 }, (_, i) => pool.query('SELECT $1::int4 * 3 AS v', [i])))
    eq(got.map(r => r.rows[0].v), Array.from({ length: 100 }, (_, i) => i * 3), 'pool results')
    const listener = await pool.connect()
    try {
      const heard = new Promise((resolve) => listener.on('notification', resolve))
      await listener.query('LISTEN nd_chan')
      await pool.query("NOTIFY nd_chan, 'payload 1'")
      const n = await Promise.race([heard, new Promise((resolve, reject) => setTimeout(() => reject(new Error('no notification in 5 s')), 5000))])
      eq([n.channel, n.payload], ['nd_chan', 'payload 1'], 'notification')
    } finally {
      listener.release()
    }
  } finally {
    await pool.end()
  }
})

main()
