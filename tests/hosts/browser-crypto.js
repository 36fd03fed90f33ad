// The ISF renderer's vendored math.js asks for node's `crypto` when it sees CommonJS (as it does
// inside an esbuild bundle) and for the page's `crypto` otherwise: give it the page's, as its
// own browser branch would (esbuild --alias:crypto=./browser-crypto.js).
module.exports = globalThis.crypto;
