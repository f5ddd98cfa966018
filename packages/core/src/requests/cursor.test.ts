import t from 'tap'
import { decodeCursor, encodeCursor } from './cursor.ts'

const ID = '3f1c2a4e-8b7d-4c6e-9a0f-1d2e3f4a5b6c'

t.test('cursors round-trip; anything else is not a cursor', async (t) => {
  const at = { created_at: new Date('2026-12-02T13:00:00.123Z'), request_id: ID }
  t.same(decodeCursor(encodeCursor(at)), at)
  for (const bad of [
    '',
    'nonsense',
    Buffer.from(`1:${ID}x`).toString('base64url'),
    Buffer.from('x:y').toString('base64url')
  ])
    t.equal(decodeCursor(bad), null, JSON.stringify(bad))
})
