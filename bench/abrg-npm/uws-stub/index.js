// Stand-in for uWebSockets.js (a dependency of hyper-express, which only `abrg serve` uses).
// The real package is published on GitHub only, not on the npm registry, and this machine reaches
// only the registry. `abrg` loads hyper-express at start-up but calls uWebSockets.js only when
// serving over HTTP, so any use of it fails loudly here instead of at install time.
'use strict';

module.exports = new Proxy(
  {},
  {
    get(_target, key) {
      if (key === '__esModule' || typeof key === 'symbol') {
        return undefined;
      }
      return function unavailable() {
        throw new Error('uWebSockets.js is a stub in this install: `abrg serve` is unavailable');
      };
    },
  },
);
