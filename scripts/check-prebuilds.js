#!/usr/bin/env node
'use strict';
// The seven prebuilds the package promises (scripts/targets.js), checked in prebuilds/:
//   prepublishOnly (no argument): refuse to publish a tarball without every one of them: users
//     install with no compiler, and a later npm may not run our install script unasked.
//   prepack (--report): say which are missing and how to build them, and let `npm pack` go on (a
//     tarball for a local test needs none; one to publish is stopped by prepublishOnly).
const fs = require('node:fs');
const path = require('node:path');
const { TARGETS, relativePath } = require('./targets');

const report = process.argv.includes('--report');
const present = TARGETS.filter((t) => fs.existsSync(path.join(__dirname, '..', 'prebuilds', relativePath(t))));
const missing = TARGETS.filter((t) => !present.includes(t));
const how = (t) => (t.script ? `npm run ${t.script}` : `node scripts/prebuild-cross.js ${t.name}`);
if (missing.length === 0) {
  console.error(`prebuilds: all ${TARGETS.length} present (${TARGETS.map((t) => t.name).join(', ')})`);
} else {
  const lines = missing.map((t) => `  ${t.name.padEnd(18)} prebuilds/${relativePath(t)}   build it: ${how(t)}`);
  const head = report
    ? `prebuilds: ${missing.length} of ${TARGETS.length} missing, so this tarball needs a compiler (and Python, make) to install ${present.length ? `anywhere but ${present.map((t) => t.name).join(', ')}` : 'anywhere'}:`
    : `not publishing: ${missing.length} of ${TARGETS.length} prebuilds missing:`;
  console.error([head, ...lines, '  all of them at once: npm run prebuilds:all (then npm run support if a binary changed)'].join('\n'));
  if (!report) process.exit(1);
}
