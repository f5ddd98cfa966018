import t from 'tap'
import { type Picture, pictureKey } from './pictures.ts'

const whole = { left: 0, top: 0, width: 1600, height: 1200 }
const web = (width: number): Picture => ({
  whiten: false,
  region: whole,
  background: '#ffffff',
  fit: 'inside',
  canvas: { width, height: Math.round((width * 3) / 4) }
})

t.test("web's widths of one image are one picture: their searches carry each other's", async (t) => {
  t.equal(pictureKey(web(480)), pictureKey(web(960)))
  t.equal(pictureKey(web(960)), pictureKey(web(1600)))
  const odd = (width: number, height: number): Picture => ({ ...web(width), canvas: { width, height } })
  t.equal(pictureKey(odd(301, 200)), pictureKey(odd(602, 401)), 'whatever rounding made of their sides (1.505, 1.501)')
})

t.test('a whitened, trimmed, cropped, padded or other-background output is another picture', async (t) => {
  const base = pictureKey(web(960))
  t.not(pictureKey({ ...web(960), whiten: true }), base, 'background made white')
  t.not(pictureKey({ ...web(960), region: { left: 400, top: 300, width: 800, height: 600 } }), base, 'trimmed')
  t.not(pictureKey({ ...web(960), fit: 'cover', canvas: { width: 960, height: 960 } }), base, 'cropped square')
  t.not(pictureKey({ ...web(960), fit: 'pad', canvas: { width: 960, height: 960 } }), base, 'padded square')
  t.not(pictureKey({ ...web(960), background: '#000000' }), base, 'another background')
})
