import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/**
 * `countRequests` is read at scrape time: the requests still in the system (Pending, Processing), which indexed
 * counts answer in time proportional to the backlog, never to the history. Finished requests are a counter
 * (`requests_finished_total`) that the finishers increment: a scrape never scans the collection.
 */
export function createMetrics(
  app: 'api' | 'worker',
  countRequests?: () => Promise<Array<{ _id: string; n: number }>>,
  storageFailing?: () => boolean
) {
  const registry = new Registry()
  registry.setDefaultLabels({ app })
  collectDefaultMetrics({ register: registry })
  const seconds = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
  return {
    registry,
    requestsByStatus: new Gauge({
      name: 'imgproc_requests',
      help: 'Requests not yet finished, by status (Pending: waiting for a first worker)',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        if (!countRequests) return
        for (const { _id, n } of await countRequests().catch(() => [])) this.set({ status: _id }, n)
      }
    }),
    requestsFinished: new Counter({
      name: 'imgproc_requests_finished_total',
      help: 'Requests that reached Completed, Failed or Cancelled, by status (counted by the worker that finished them)',
      labelNames: ['status'],
      registers: [registry]
    }),
    images: new Counter({
      name: 'imgproc_images_total',
      help: 'Images processed, by outcome and failure reason',
      labelNames: ['outcome', 'reason'],
      registers: [registry]
    }),
    outputs: new Counter({
      name: 'imgproc_outputs_total',
      help: 'Outputs of output sets made, by preset (custom for a spec) and marketplace verdict (none without a profile)',
      labelNames: ['preset', 'verdict'],
      registers: [registry]
    }),
    bytesIn: new Counter({
      name: 'imgproc_image_bytes_in_total',
      help: 'Bytes downloaded for images that were compressed',
      registers: [registry]
    }),
    bytesOut: new Counter({
      name: 'imgproc_image_bytes_out_total',
      help: 'Bytes written for compressed images',
      registers: [registry]
    }),
    downloadSeconds: new Histogram({
      name: 'imgproc_download_seconds',
      help: 'Image download time',
      buckets: seconds,
      registers: [registry]
    }),
    compressSeconds: new Histogram({
      name: 'imgproc_compress_seconds',
      help: 'Image compression time',
      buckets: seconds,
      registers: [registry]
    }),
    claimQueries: new Counter({
      name: 'imgproc_claim_queries_total',
      help: 'Claim queries sent to the work queue (idle workers send none until woken)',
      registers: [registry]
    }),
    claims: new Counter({
      name: 'imgproc_claims_total',
      help: 'Jobs claimed from the work queue, by kind (images, finish, webhook, retention)',
      labelNames: ['kind'],
      registers: [registry]
    }),
    leaseTakeovers: new Counter({
      name: 'imgproc_lease_takeovers_total',
      help: 'Jobs claimed again after their previous holder stopped without handing them back',
      labelNames: ['kind'],
      registers: [registry]
    }),
    uploadsBusy: new Counter({
      name: 'imgproc_uploads_busy_total',
      help: 'Uploads refused with 503 because MAX_CONCURRENT_UPLOADS were being read for UPLOAD_QUEUE_MS',
      registers: [registry]
    }),
    uploadsRefused: new Counter({
      name: 'imgproc_uploads_refused_total',
      help: 'Uploads refused before or while their body was read: tenant_busy (429, MAX_UPLOADS_PER_TENANT), too_slow (408, UPLOAD_MIN_BYTES_PER_S)',
      labelNames: ['reason'],
      registers: [registry]
    }),
    creationsSettled: new Counter({
      name: 'imgproc_creations_settled_total',
      help: 'Request creations an API died in, settled by the sweep: discarded (staged, never seen), released (committed, units held), orphaned (units without a request)',
      labelNames: ['outcome'],
      registers: [registry]
    }),
    quotaRejections: new Counter({
      name: 'imgproc_quota_rejections_total',
      help: 'Uploads refused by a per-tenant quota (429, or 413 for more images than a whole day), most before their body is read',
      labelNames: ['quota'],
      registers: [registry]
    }),
    storageOutages: new Counter({
      name: 'imgproc_storage_outages_total',
      help: 'Storage outages begun (storage working, then a call failing), by kind (full, not-writable, unreachable, …)',
      labelNames: ['kind'],
      registers: [registry]
    }),
    storageFailures: new Counter({
      name: 'imgproc_storage_failures_total',
      help: 'Storage calls that failed with an outage, by kind; the work they were part of was handed back, not failed',
      labelNames: ['kind'],
      registers: [registry]
    }),
    storageFailing: new Gauge({
      name: 'imgproc_storage_failing',
      help: '1 from a storage call failing with an outage until one succeeds again, else 0',
      registers: [registry],
      collect() {
        this.set(storageFailing?.() ? 1 : 0)
      }
    }),
    imageRedownloads: new Counter({
      name: 'imgproc_image_redownloads_total',
      help: 'Downloads of an image that an earlier run of its work unit had downloaded but could not store',
      registers: [registry]
    }),
    outputsFound: new Counter({
      name: 'imgproc_image_outputs_found_total',
      help: 'Images a later run of their work unit found already stored, and recorded without downloading again',
      registers: [registry]
    }),
    imagesReused: new Counter({
      name: 'imgproc_images_reused_total',
      help: 'Images whose stored outputs were reused (docs/reuse.md): not_modified (a 304) or same_content',
      labelNames: ['how'],
      registers: [registry]
    }),
    reuseBytesNotDownloaded: new Counter({
      name: 'imgproc_reuse_bytes_not_downloaded_total',
      help: 'Source bytes not downloaded because the image host answered 304 Not Modified',
      registers: [registry]
    }),
    reuseCpuSecondsSaved: new Counter({
      name: 'imgproc_reuse_cpu_seconds_saved_total',
      help: 'Compression CPU not spent because outputs were reused (as recorded when they were made)',
      registers: [registry]
    }),
    webhookDeliveries: new Counter({
      name: 'imgproc_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome',
      labelNames: ['outcome'],
      registers: [registry]
    })
  }
}
export type Metrics = ReturnType<typeof createMetrics>
