// Issue 14 ("safe to expose"): each test attacks the real API and worker processes from loopback.
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { freePort, mongoUri, ROOT } from './helpers.ts'

const run = promisify(execFile)

/** Starts an app with `env` and resolves with its exit code and output once it exits (or null after 20 s). */
function runApp(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=imgproc-source', '--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c))
    child.stderr.on('data', (c: Buffer) => (output += c))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('exit', (code) => (clearTimeout(timer), resolve({ code, output })))
  })
}

t.test('1: the built-in webhook secret is refused outside development; npm start makes and keeps its own', async (t) => {
  const env = { WEBHOOK_SECRET: '', PORT: String(await freePort()), MONGODB_URI: mongoUri(), LOG_LEVEL: 'warn' }
  for (const app of ['apps/api/src/main.ts', 'apps/worker/src/main.ts']) {
    const production = await runApp(app, { ...env, NODE_ENV: 'production' })
    t.equal(production.code, 1, `${app} exits with NODE_ENV=production`)
    t.match(production.output, /WEBHOOK_SECRET: the built-in development secret is refused with NODE_ENV=production/)
    t.notMatch(production.output, /\n\s+at /, 'no stack trace')
  }
  const exposed = await runApp('apps/api/src/main.ts', { ...env, HOST: '0.0.0.0' })
  t.equal(exposed.code, 1, 'refused when listening beyond loopback')

  const data = await mkdtemp(path.join(tmpdir(), 'imgproc-data-'))
  const secret = async () => (await run('bash', ['-c', `source scripts/lib.sh && ensure_webhook_secret "$1" && echo "$WEBHOOK_SECRET"`, 'x', data], { cwd: ROOT, env: { ...process.env, WEBHOOK_SECRET: '' } })).stdout.trim()
  const first = await secret()
  t.match(first, /^[0-9a-f]{64}$/, '256 random bits')
  t.equal(await secret(), first, 'kept under ./data and reused on the next start')
  t.equal((await stat(path.join(data, 'webhook-secret'))).mode & 0o777, 0o600, 'readable by the owner only')
  t.not(first, (await run('bash', ['-c', `source scripts/lib.sh && ensure_webhook_secret "$1" && echo "$WEBHOOK_SECRET"`, 'x', await mkdtemp(path.join(tmpdir(), 'imgproc-data-'))], { cwd: ROOT, env: { ...process.env, WEBHOOK_SECRET: '' } })).stdout.trim(), 'each installation gets its own')
})
