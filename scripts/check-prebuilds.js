#!/usr/bin/env node
'use strict';
// prepublishOnly: refuse to publish a tarball without every prebuild the README promises
// (users install with no compiler, and npm 11 will not run our install script unasked).
// Build them with `npm run prebuild:all`.
const fs = require('node:fs');
const path = require('node:path');

const promised = [
  'linux-x64/socket-knobs.glibc.node',
  'linux-x64/socket-knobs.musl.node',
  'linux-arm64/socket-knobs.glibc.node',
  'linux-arm64/socket-knobs.musl.node',
  'darwin-x64/socket-knobs.node',
  'darwin-arm64/socket-knobs.node',
  'win32-x64/socket-knobs.node',
];
const missing = promised.filter((file) => !fs.existsSync(path.join(__dirname, '..', 'prebuilds', file)));
if (missing.length) {
  console.error(`not publishing: missing prebuilds ${missing.join(', ')}; run npm run prebuild:all`);
  process.exit(1);
}
console.log(`prebuilds present: ${promised.join(', ')}`);
