/** The apps as real child processes, run from their TypeScript source or (IMGPROC_RUN_FROM=dist) their bundles. */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { ROOT } from './paths.ts'

export interface Proc {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
  /** A worker's WORKER_ID: the owner its leases carry. */
  id?: string
}

// Children must not outlive a test process that is interrupted (tap's timeout, Ctrl-C): they would keep polling
// the database and skew every later measurement.
const children = new Set<ChildProcess>()
const killChildren = () => {
  for (const c of children) c.kill('SIGKILL')
}
process.once('exit', killChildren)
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killChildren()
    process.exit(1)
  })
}

/** A child that is SIGKILLed when the test process ends, whatever the reason. */
export function adopt(child: ChildProcess): ChildProcess {
  children.add(child)
  child.on('exit', () => children.delete(child))
  return child
}

/**
 * Runs a script (relative to the project root) from its TypeScript source, or, with IMGPROC_RUN_FROM=dist, an
 * app's `src/main.ts` from its production bundle (scripts/bundle/build.mjs) as production does. Keeps the last
 * 200 kB of its output.
 */
export function startProcess(script: string, env: Record<string, string>): Proc {
  const args =
    process.env.IMGPROC_RUN_FROM === 'dist' && /\/src\/main\.ts$/.test(script)
      ? [script.replace(/\/src\/main\.ts$/, '/dist/bundle/main.js')]
      : ['--conditions=imgproc-source', '--import', 'tsx', script]
  const child = adopt(
    spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
  )
  let log = ''
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-200_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => log, exited }
}

/** Runs the CLI from source against `apiUrl`, as a user would; resolves with its exit code and output. */
export function runCli(apiUrl: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=imgproc-source', '--import', 'tsx', 'apps/cli/src/main.ts', ...args],
      { cwd: ROOT, env: { ...process.env, IMGPROC_API_URL: apiUrl } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (err as NodeJS.ErrnoException & { code: number }).code : 0, stdout, stderr })
    )
  })
}
