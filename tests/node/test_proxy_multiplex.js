// node-postgres and postgres.js through a transaction-pooling proxy
// (scripts/with_proxy.sh): more client sessions than the pool's server
// connections, each preparing named statements (node-postgres {name}, the
// same names in every session with different texts; postgres.js prepares
// every query), interleaved, in autocommit and in transactions. Every answer
// must be the session's own; the server backends seen are at most
// WB_PROXY_POOL_SIZE through a proxy. PgBouncer 1.18 in transaction mode
// fails the prepared-statement checks. Also runs against with_pg.sh.
'use strict'
const { check, eq, env, main, need } = require('./harness')
const pg = need('pg')
const postgres = need('postgres')

const E = env()
const SESSIONS = parseInt(process.env.WB_MULTIPLEX_SESSIONS || '12', 10)
const ROUNDS = parseInt(process.env.WB_MULTIPLEX_ROUNDS || '30', 10)
const POOL = process.env.WB_PG_TARGET === 'proxy' ? parseInt(process.env.WB_PROXY_POOL_SIZE || '0', 10) : 0

function bound (pids, what) {
  if (pids.size === 0) throw new Error(`${what}: no backend seen`)
  if (POOL && pids.size > POOL) throw new Error(`${what}: ${SESSIONS} sessions ran on ${pids.size} server backends, pool size ${POOL}`)
}

check('node_pg_named_statements', async () => {
  const setup = new pg.Client({ host: E.host, port: E.port, database: E.db, user: E.user, password: E.password })
  await setup.connect()
  await setup.query('DROP TABLE IF EXISTS nm_kv')
  await setup.query("CREATE TABLE nm_kv (id int4 primary key, v text)")
  await setup.query("INSERT INTO nm_kv SELECT g, 'v' || g FROM generate_series(1, 500) g")
  await setup.end()
  const pids = new Set()
  async function session (i) {
    const c = new pg.Client({ host: E.host, port: E.port, database: E.db, user: E.user, password: E.password })
    await c.connect()
    try {
      for (let r = 0; r < ROUNDS; r++) {
        const k = (i * 29 + r) % 500 + 1
        const a = await c.query({ name: 'shared', text: 'SELECT v FROM nm_kv WHERE id = $1', values: [k] })
        eq(a.rows, [{ v: `v${k}` }], `shared statement, round ${r}`)
        const b = await c.query({ name: 'own', text: `SELECT $1::int4 + ${i * 1000} AS n, 's${i}' AS s`, values: [r] })
        eq(b.rows, [{ n: i * 1000 + r, s: `s${i}` }], `own statement, round ${r}`)
        const p = await c.query({ name: 'pid', text: 'SELECT pg_backend_pid() AS p' })
        pids.add(p.rows[0].p)
        if (r % 4 === 0) {
          await c.query('BEGIN')
          const t = await c.query({ name: 'own', text: `SELECT $1::int4 + ${i * 1000} AS n, 's${i}' AS s`, values: [-r] })
          eq(t.rows[0].n, i * 1000 - r, 'own statement in a transaction')
          await c.query('COMMIT')
        }
      }
    } finally {
      await c.end().catch(() => {})
    }
  }
  await Promise.all(Array.from({ length: SESSIONS }, (_, i) => session(i)))
  bound(pids, 'node-postgres')
})

check('postgresjs_prepared', async () => {
  const pids = new Set()
  async function session (i) {
    // one connection per session (max: 1): postgres.js names its statements
    // per connection and prepares every query
    const sql = postgres({ host: E.host, port: E.port, database: E.db, username: E.user, password: E.password,
      connect_timeout: 10, onnotice: () => {}, max: 1 })
    try {
      for (let r = 0; r < ROUNDS; r++) {
        const k = (i * 17 + r) % 500 + 1
        const a = await sql`SELECT v FROM nm_kv WHERE id = ${k}`
        eq(a[0].v, `v${k}`, `shared text, round ${r}`)
        const b = await sql.unsafe(`SELECT $1::int4 * ${i + 2} AS n`, [r], { prepare: true })
        eq(b[0].n, r * (i + 2), `own text, round ${r}`)
        const p = await sql`SELECT pg_backend_pid() AS p`
        pids.add(p[0].p)
        if (r % 5 === 0) {
          const t = await sql.begin(async (tx) => {
            const x = await tx.unsafe(`SELECT $1::int4 * ${i + 2} AS n`, [-r], { prepare: true })
            const y = await tx`SELECT v FROM nm_kv WHERE id = ${k}`
            return [x[0].n, y[0].v]
          })
          eq(t, [0 - r * (i + 2), `v${k}`], 'in a transaction')
        }
      }
    } finally {
      await sql.end({ timeout: 5 })
    }
  }
  await Promise.all(Array.from({ length: SESSIONS }, (_, i) => session(i)))
  bound(pids, 'postgres.js')
})

main()
