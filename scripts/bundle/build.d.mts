import type { BuildResult } from 'esbuild'

/** See build.mjs. */
export function bundle(
  app: string,
  options?: { outdir?: string; metafile?: boolean }
): Promise<BuildResult<{ metafile: true }>>
