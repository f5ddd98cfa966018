// Stands in for the `whatwg-url` package in the bundles (scripts/bundle/build.mjs). The MongoDB driver's
// connection-string parser only uses its URL and URLSearchParams classes, which Node has built in to the same
// WHATWG standard; the package's own copy brings Unicode tables that cost each process several MB at start-up.
module.exports = { URL, URLSearchParams }
