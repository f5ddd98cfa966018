/**
 * Pauses that crash and race tests use to stop a worker at an exact moment. Set only through IMGPROC_TEST_*
 * variables; with none set (production) every hook returns at once.
 */
const env = process.env

/** IMGPROC_TEST_PAUSE_BEFORE_FINISH_MS: the finisher waits this long after its claim, before the output CSV. */
export async function pauseBeforeFinish(heartbeat: () => Promise<unknown>): Promise<void> {
  const ms = Number(env.IMGPROC_TEST_PAUSE_BEFORE_FINISH_MS ?? 0)
  const end = Date.now() + ms
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(200, end - Date.now())))
    await heartbeat().catch(() => undefined)
  }
}

/** IMGPROC_TEST_UNITS_DONE_AT (ms since the epoch): units whose images are all recorded wait until then to finish, so several finish at once. */
export async function pauseBeforeUnitDone(): Promise<void> {
  const at = Number(env.IMGPROC_TEST_UNITS_DONE_AT ?? 0)
  if (at > Date.now()) await new Promise((r) => setTimeout(r, at - Date.now()))
}
