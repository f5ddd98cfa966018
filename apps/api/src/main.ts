import { exitOnStartupError, loadConfigOrExit } from '@imgproc/core'
import { startApi } from './start.ts'

const api = await startApi(loadConfigOrExit()).catch(exitOnStartupError)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    api.app.log.info({ signal }, 'shutting down: draining in-flight requests')
    await api.stop()
    process.exit(0)
  })
}
