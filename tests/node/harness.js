// A small harness for the node client tests, the same shape as
// tests/clients/clienttest.py: checks run in order, each prints "ok" or
// "FAIL name: error"; exit 1 if any failed, 77 (ctest skip) when the npm
// packages are not installed (scripts/node_deps.sh) or no server is described
// (WB_PG_* from scripts/with_serve.sh or scripts/with_pg.sh). A check that
// takes longer than WB_CHECK_TIMEOUT seconds (default 60) fails.
// WB_TEST_ONLY=a,b runs only those checks, WB_TEST_SKIP=a,b leaves them out.
'use strict'
const assert = require('assert')

function skip (msg) {
  console.log('SKIP: ' + msg)
  process.exit(77)
}

function need (name) {
  try {
    return require(name)
  } catch (e) {
    skip(`npm package ${name} not installed (${e.code}); run scripts/node_deps.sh`)
  }
}

function env () {
  if (!process.env.WB_PG_PORT) skip('no server: run under scripts/with_serve.sh or scripts/with_pg.sh')
  return {
    host: process.env.WB_PG_HOST,
    addr: process.env.WB_PG_ADDR || '127.0.0.1',
    port: parseInt(process.env.WB_PG_PORT, 10),
    db: process.env.WB_PG_DB || 'postgres',
    user: process.env.WB_PG_SUPER || 'postgres',
    password: process.env.WB_PG_PASSWORD || ''
  }
}

function short (v) {
  let s
  try { s = JSON.stringify(v) } catch (e) { s = String(v) }
  if (s === undefined) s = String(v)
  return s.length > 300 ? s.slice(0, 300) + `... (${s.length} chars)` : s
}

function eq (got, want, what) {
  try {
    assert.deepStrictEqual(got, want)
  } catch (e) {
    throw new Error(`${what || 'value'}: got ${short(got)}, want ${short(want)}`)
  }
}

const checks = []
function check (name, fn) { checks.push([name, fn]) }

async function main () {
  env()
  const only = (process.env.WB_TEST_ONLY || '').split(',').filter(Boolean)
  const skipped = (process.env.WB_TEST_SKIP || '').split(',').filter(Boolean)
  const limit = parseFloat(process.env.WB_CHECK_TIMEOUT || '60') * 1000
  const failed = []
  let ran = 0
  for (const [name, fn] of checks) {
    if (only.length && !only.includes(name)) continue
    if (skipped.includes(name)) { console.log(`skip ${name} (WB_TEST_SKIP)`); continue }
    ran++
    const t0 = Date.now()
    let timer
    try {
      await Promise.race([fn(), new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${limit / 1000} s`)), limit)
      })])
      console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(2)} s)`)
    } catch (e) {
      failed.push(name)
      const first = String((e && e.message) || e).split('\n')[0]
      console.log(`FAIL ${name}: ${(e && e.code) ? e.code + ' ' : ''}${first}`)
      if (process.env.WB_VERBOSE) console.log(e && e.stack)
    } finally {
      clearTimeout(timer)
    }
  }
  const file = require('path').basename(process.argv[1])
  console.log(`${file}: ${ran} checks, ${failed.length} failed${failed.length ? ': ' + failed.join(', ') : ''}`)
  // connections a failed check left open must not keep the process alive
  process.exit(failed.length ? 1 : 0)
}

module.exports = { check, eq, env, main, need, skip }
