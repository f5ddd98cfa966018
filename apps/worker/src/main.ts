import { exitOnStartupError, loadConfigOrExit } from '@imgproc/core'
import { startWorker } from './start.ts'

const config = loadConfigOrExit()
const worker = await startWorker(config).catch(exitOnStartupError)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    worker.log.info({ signal, deadline_ms: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down: no new claims')
    setTimeout(() => {
      worker.log.warn('shutdown deadline passed; exiting with work abandoned (its lease will expire)')
      process.exit(1) // not a clean stop: supervisors should know
    }, config.SHUTDOWN_TIMEOUT_MS).unref()
    worker.stop().finally(() => {
      worker.log.info('worker stopped')
      process.exit(0)
    })
  })
}
