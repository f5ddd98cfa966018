import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { ROOT } from './support/paths.ts'

/** Where page tests leave their screenshots. */
export const OUTPUT_DIR = path.join(ROOT, 'test-output')

/**
 * Debian's Chromium, headless, driven by playwright-core (its own browser downloads cannot reach their hosts
 * here). The flags keep it from reaching for Google's services, which this machine's network refuses.
 */
export async function launchBrowser(): Promise<Browser> {
  await mkdir(OUTPUT_DIR, { recursive: true })
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync'
    ]
  })
}
