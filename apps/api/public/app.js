// The page talks to the same public API as every other client: POST /upload, then GET /status until done; GET
// /requests lists the requests of the API key typed, with cancel and retry.
const $ = (id) => document.getElementById(id)
const form = $('upload')
const drop = $('drop')
const fileInput = $('file')
const keyInput = $('api-key')
keyInput.value = sessionStorage.getItem('imgproc-api-key') ?? ''

const authHeaders = () => (keyInput.value ? { authorization: `Bearer ${keyInput.value}` } : {})
const kb = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${(n / 1024).toFixed(0)} KB`)
const el = (tag, attrs = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), attrs)
  node.append(...children.filter((c) => c !== null && c !== undefined))
  return node
}

fileInput.addEventListener('change', () => {
  $('drop-text').textContent = fileInput.files[0]?.name ?? 'Drop a CSV here, or press to choose one'
})
for (const type of ['dragenter', 'dragover'])
  drop.addEventListener(type, (e) => {
    e.preventDefault()
    drop.classList.add('over')
  })
for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('over'))
drop.addEventListener('drop', (e) => {
  e.preventDefault()
  fileInput.files = e.dataTransfer.files
  fileInput.dispatchEvent(new Event('change'))
})

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  sessionStorage.setItem('imgproc-api-key', keyInput.value)
  $('problems').hidden = true
  $('gallery').replaceChildren()
  if (!fileInput.files[0]) return showProblems('Choose a CSV file first.', [])
  const body = new FormData()
  for (const [name, value] of new FormData(form))
    if (value !== '' && !(value instanceof File && name !== 'file')) body.append(name, value)
  const response = await fetch('/upload', { method: 'POST', body, headers: authHeaders() })
  const result = await response.json()
  if (response.status !== 202) return showProblems(result.message, result.errors ?? [])
  loadRequests()
  track(result.request_id)
})

function showProblems(message, errors) {
  $('problem-summary').textContent = message
  $('problem-rows').replaceChildren(
    ...errors.map((e) =>
      el(
        'tr',
        {},
        el('td', { textContent: e.row }),
        el('td', { textContent: e.column ?? '' }),
        el('td', { textContent: e.message })
      )
    )
  )
  $('problems').hidden = false
  $('problems').focus?.()
}

// One request is followed at a time: following another stops the loop of the one before.
let following = 0
const FINAL = ['Completed', 'Failed', 'Cancelled']

async function track(id) {
  const mine = ++following
  $('request-id').textContent = id
  $('progress-panel').hidden = false
  $('done').hidden = true
  $('gallery').replaceChildren()
  for (;;) {
    const response = await fetch(`/status/${id}?limit=1000`, { headers: authHeaders() })
    if (mine !== following) return
    const status = await response.json()
    if (!response.ok) return showProblems(status.message, [])
    const { counts } = status
    $('progress').value = status.progress_pct
    $('progress-text').textContent =
      `${status.status}: ${counts.succeeded} compressed, ${counts.failed} failed, ${counts.pending} to go (${status.progress_pct}%)`
    if (FINAL.includes(status.status)) {
      loadRequests()
      return finish(status)
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
}

function finish(status) {
  if (status.output_csv_url) {
    $('download').href = status.output_csv_url
    $('totals').textContent =
      `${kb(status.totals.bytes_in)} → ${kb(status.totals.bytes_out)} (saved ${status.totals.savings_pct ?? 0}%)`
    $('done').hidden = false
  }
  if (status.error) showProblems(status.error, [])
  $('gallery').replaceChildren(
    el('h2', { textContent: 'Results' }),
    ...status.products.items.map((product) =>
      el(
        'article',
        { className: 'product' },
        el('h3', { textContent: `${product.serial}. ${product.name}` }),
        el('div', { className: 'images' }, ...product.images.map(imageCard))
      )
    )
  )
}

function imageCard(image) {
  if (image.status !== 'succeeded') {
    return el(
      'div',
      { className: 'image failed', role: 'group', ariaLabel: 'failed image' },
      el('a', { href: image.input_url, textContent: image.input_url }),
      el('p', { className: 'reason', textContent: image.error ?? image.status })
    )
  }
  return el(
    'div',
    { className: 'image', role: 'group' },
    el(
      'figure',
      {},
      el('img', { src: image.input_url, alt: 'before', loading: 'lazy' }),
      el('figcaption', {
        textContent: `Before: ${kb(image.bytes_in)}, ${image.width_in}×${image.height_in} ${image.format_in}`
      })
    ),
    el(
      'figure',
      {},
      el('img', { src: image.output_url, alt: 'after', loading: 'lazy' }),
      el('figcaption', {
        textContent: `After: ${kb(image.bytes_out)}, ${image.width_out}×${image.height_out} ${image.format_out}`
      })
    ),
    el(
      'p',
      { className: 'stats' },
      el('span', { className: 'savings', textContent: `Saved ${image.savings_pct}%` }),
      typeof image.score === 'number'
        ? el('span', {
            className: 'score',
            title: 'SSIMULACRA2 of the output against the input: 90 visually lossless, 70 high, 50 medium',
            textContent: ` · SSIMULACRA2 ${image.score.toFixed(1)}`
          })
        : null,
      typeof image.quality === 'number' ? ` (q${image.quality})` : '',
      ` · download ${image.download_ms} ms · compress ${image.compress_ms} ms`,
      image.kept_original ? ' · original kept (already optimal)' : ''
    ),
    el('button', {
      type: 'button',
      className: 'compare',
      textContent: 'Compare before / after',
      onclick: () => compare(image)
    }),
    image.outputs ? outputList(image.outputs) : null
  )
}

// An output set: every output with its size, and each marketplace verdict with its changes and problems in words.
function outputList(outputs) {
  return el(
    'ul',
    { className: 'outputs', ariaLabel: 'outputs' },
    ...outputs.map((o) =>
      el(
        'li',
        {},
        el('a', { href: o.url, textContent: o.name }),
        ` ${o.format} ${o.width}×${o.height}, ${kb(o.bytes)}`,
        o.compliance ? verdict(o.compliance) : null
      )
    )
  )
}

function verdict(c) {
  const words = { pass: 'meets the rules', fixed: 'fixed', fail: 'fails' }
  const notes = [...c.changes, ...c.problems, ...c.warnings.map((w) => `note: ${w}`)]
  return el(
    'span',
    { className: `verdict ${c.verdict}` },
    ` · ${c.profile}: ${words[c.verdict] ?? c.verdict}`,
    notes.length > 0 ? el('small', { textContent: ` (${notes.join('; ')})` }) : null
  )
}

// Before/after: the output sizes the view, the input is laid over it and cut at the slider; "1:1" shows the
// output's actual pixels (scroll to pan), which is where compression artefacts are judged.
const dialog = $('compare')
const frame = $('compare-frame')
$('compare-split').addEventListener('input', (e) => frame.style.setProperty('--split', `${e.target.value}%`))
$('compare-zoom').addEventListener('change', (e) => frame.classList.toggle('actual', e.target.checked))
$('compare-close').addEventListener('click', () => dialog.close())

function compare(image) {
  $('compare-before').src = image.input_url
  $('compare-after').src = image.output_url
  const score = typeof image.score === 'number' ? `, SSIMULACRA2 ${image.score.toFixed(1)}` : ''
  $('compare-caption').textContent =
    `Before: ${kb(image.bytes_in)} ${image.format_in}, ${image.width_in}×${image.height_in}. After: ${kb(image.bytes_out)} ${image.format_out}, ${image.width_out}×${image.height_out}${score}. Saved ${image.savings_pct}%.`
  $('compare-split').value = 50
  frame.style.setProperty('--split', '50%')
  dialog.showModal()
}

// Past requests of the API key typed (or of everyone, on a server without keys), newest first, a page at a time.
let nextCursor = null
$('requests-refresh').addEventListener('click', () => loadRequests())
$('requests-more').addEventListener('click', () => loadRequests(true))
keyInput.addEventListener('change', () => {
  sessionStorage.setItem('imgproc-api-key', keyInput.value)
  loadRequests()
})

async function loadRequests(more = false) {
  const query = new URLSearchParams({ limit: '20' })
  if (more && nextCursor) query.set('cursor', nextCursor)
  const response = await fetch(`/requests?${query}`, { headers: authHeaders() })
  const body = await response.json()
  if (!response.ok) {
    $('requests-message').textContent = body.message
    return
  }
  const rows = body.items.map(requestRow)
  if (more) $('request-rows').append(...rows)
  else $('request-rows').replaceChildren(...rows)
  nextCursor = body.next_cursor
  $('requests-more').hidden = !nextCursor
  $('requests-empty').hidden = $('request-rows').children.length > 0
}

function requestRow(r) {
  const { succeeded, failed, pending, total } = r.counts
  const running = !FINAL.includes(r.status)
  // What a retry would do again: failed images, and those a cancel left undone.
  const retryable = !running && (failed > 0 || (r.status === 'Cancelled' && pending > 0))
  const row = el(
    'tr',
    {},
    el(
      'td',
      {},
      el('a', {
        href: `#${r.request_id}`,
        textContent: r.request_id.slice(0, 8),
        title: r.request_id,
        onclick: (e) => {
          e.preventDefault()
          track(r.request_id)
        }
      })
    ),
    el('td', { className: 'status', textContent: r.status }),
    el('td', { textContent: new Date(r.created_at).toLocaleString() }),
    el('td', { textContent: `${succeeded + failed}/${total} done, ${failed} failed` }),
    el(
      'td',
      {},
      running ? actionButton(r.request_id, 'cancel', 'Cancel') : null,
      retryable ? actionButton(r.request_id, 'retry', failed > 0 ? 'Retry failed' : 'Retry the rest') : null
    )
  )
  row.dataset.request = r.request_id
  return row
}

function actionButton(id, action, label) {
  return el('button', { type: 'button', className: action, textContent: label, onclick: () => act(id, action) })
}

async function act(id, action) {
  const response = await fetch(`/requests/${id}/${action}`, { method: 'POST', headers: authHeaders() })
  const body = await response.json()
  $('requests-message').textContent = response.ok ? `${body.request_id}: ${body.status}` : body.message
  await loadRequests()
  if (response.ok) track(id)
}

loadRequests()
