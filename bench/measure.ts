import { readdirSync, readFileSync } from 'node:fs'

/** Peak resident set (VmHWM) of a live process, in MB. */
export const peakRssMb = (pid: number) => statusKb(pid, 'VmHWM') / 1024
/** Current resident set (VmRSS) of a live process, in MB. */
export const rssMb = (pid: number) => statusKb(pid, 'VmRSS') / 1024
/** Proportional set size (/proc/PID/smaps_rollup): shared pages (the node binary, libraries) split among the
 * processes that map them, so the sum over processes is the memory they take together. */
export const pssMb = (pid: number) =>
  Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1]) / 1024
const statusKb = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])
/** User + system CPU seconds a process has used so far (/proc/PID/stat fields 14 and 15, in clock ticks of 10 ms). */
export const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}
/** A process and all its descendants, as /proc lists them now (a process that has exited is not counted). */
export function treePids(pid: number): number[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  )
  return [pid, ...children.flatMap((child) => alive(child, treePids))]
}
const alive = <T>(pid: number, read: (pid: number) => T[]): T[] => {
  try {
    return read(pid)
  } catch {
    return [] // it exited between the listing and the read
  }
}
/** CPU seconds of a process tree: an outsider's view of what a service costs, whatever it runs in children. */
export const treeCpuSeconds = (pid: number) =>
  treePids(pid).reduce((sum, p) => sum + (alive(p, (q) => [cpuSeconds(q)])[0] ?? 0), 0)
/** Resident set of a process tree now, in MB. */
export const treeRssMb = (pid: number) =>
  treePids(pid).reduce((sum, p) => sum + (alive(p, (q) => [rssMb(q)])[0] ?? 0), 0)

/**
 * The peak of RSS summed over process trees, sampled every `everyMs` (200 ms): the memory the service holds at
 * once, which per-process high-water marks, reached at different moments, would overstate.
 */
export function sampleTreeRss(roots: Record<string, number>, everyMs = 200) {
  const peaks: Record<string, number> = Object.fromEntries(Object.keys(roots).map((k) => [k, 0]))
  let together = 0
  const take = () => {
    let sum = 0
    for (const [name, pid] of Object.entries(roots)) {
      const mb = alive(pid, (p) => [treeRssMb(p)])[0] ?? 0
      peaks[name] = Math.max(peaks[name]!, mb)
      sum += mb
    }
    together = Math.max(together, sum)
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    stop: () => {
      clearInterval(timer)
      take()
      return { peaks, together }
    }
  }
}

/** Machine-wide CPU ticks from /proc/stat: busy (everything but idle and iowait) and total, to compare runs by utilisation. */
export const machineTicks = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  return { busy: total - f[3]! - f[4]!, total }
}
export const busyPct = (from: ReturnType<typeof machineTicks>) => {
  const to = machineTicks()
  return (100 * (to.busy - from.busy)) / (to.total - from.total)
}
/** CPU seconds this process used since `from` (process.cpuUsage()). */
export const ownCpuSeconds = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from)
  return (u.user + u.system) / 1e6
}
export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}
export const mb = (b: number) => b / 1024 / 1024
/**
 * About `n` items picked by a seeded shuffle: the catalogues are periodic in the index (source photo, format),
 * so every k-th item would alias onto a few sources and formats instead of keeping the catalogue's mix.
 */
export const sample = <T>(xs: T[], n: number): T[] => {
  let seed = 12345
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return seed / 2 ** 32
  }
  const order = xs.map((_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  return order
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => xs[i]!)
}
