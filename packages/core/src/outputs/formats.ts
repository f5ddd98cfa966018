/** The formats we write, and what their stored outputs are called and served as. */
export type EncodeFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif'

export const EXTENSIONS: Record<EncodeFormat, string> = {
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  avif: 'avif'
}
/** Names of stored output images, `<image index>[-<output name>].<extension>`: the only names the file route serves. */
export const OUTPUT_FILE_PATTERN = `^[0-9]{1,6}(-[a-z0-9-]{1,40})?\\.(${Object.values(EXTENSIONS).join('|')})$`
export const CONTENT_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  csv: 'text/csv; charset=utf-8'
}
