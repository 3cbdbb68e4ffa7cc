#!/usr/bin/env node
'use strict';
// prepublishOnly: refuse to publish a tarball without every prebuild the package promises
// (scripts/targets.js): users install with no compiler, and a later npm may not run our install
// script unasked. Build them with `npm run prebuilds:all`.
const fs = require('node:fs');
const path = require('node:path');
const { TARGETS, relativePath } = require('./targets');

const promised = TARGETS.map(relativePath);
const missing = promised.filter((file) => !fs.existsSync(path.join(__dirname, '..', 'prebuilds', file)));
if (missing.length) {
  console.error(`not publishing: missing prebuilds ${missing.join(', ')}; run npm run prebuilds:all`);
  process.exit(1);
}
console.log(`prebuilds present: ${promised.join(', ')}`);
