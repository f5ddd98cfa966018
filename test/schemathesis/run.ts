// CI: an API with no worker on a fresh database, then scripts/schemathesis.sh against it; exits with its code.
// Run: bash scripts/with-mongo.sh node --conditions=imgproc-source --import tsx test/schemathesis/run.ts
import { spawn } from 'node:child_process'
import { ROOT } from '../support/paths.ts'
import { startService } from '../support/service.ts'

// No worker: uploads stay Pending, so none of the generated URLs (images, webhooks) is ever contacted.
const service = await startService({ workers: 0, env: { LOG_LEVEL: 'error' } })
const code = await new Promise<number>((resolve) => {
  spawn('bash', ['scripts/schemathesis.sh', service.apiUrl], { cwd: ROOT, stdio: 'inherit' }).on('exit', (c) =>
    resolve(c ?? 1)
  )
})
if (service.api.child.exitCode !== null) console.error(`the API exited during the run:\n${service.api.output()}`)
// The API logs every 5xx with its error at level 50: the cause of a failure schemathesis reports.
else if (code !== 0)
  console.error(
    service.api
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":50'))
      .join('\n')
  )
await service.stop()
process.exit(code)
