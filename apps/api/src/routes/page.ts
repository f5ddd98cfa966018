import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

// The page is plain HTML/CSS/JS shipped with the API: nothing for a user to build, nothing fetched from a CDN.
const publicDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public')

const pageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(fastifyStatic, {
    root: publicDir,
    prefix: '/',
    wildcard: false,
    decorateReply: false,
    index: ['index.html'],
    schemaHide: true
  })
}

export default pageRoutes
