#!/usr/bin/env node
'use strict';
// The seven prebuilds the package promises (scripts/targets.js), checked in prebuilds/ (or --dir DIR)
// the way `npm run support` and the loaders read them:
//   prepublishOnly (no argument): refuse to publish unless every one is there and is right: the
//     binary format and architecture of its target (ELF, Mach-O or PE; x86-64 or arm64), its libc
//     (a glibc build references GLIBC_ symbol versions, a musl build none), the N-API entry point
//     node loads it by (napi_register_module_v1), built from the current native sources (the hash
//     src-native/source.gen.h puts in the binary), and defining what docs/evidence/support.json says.
//     Users install with no compiler, and a later npm may not run our install script unasked.
//   prepack (--report): say which are missing or wrong and how to build them, and let `npm pack` go
//     on (a tarball for a local test needs none; one to publish is stopped by prepublishOnly).
const fs = require('node:fs');
const path = require('node:path');
const { TARGETS, relativePath } = require('./targets');
const { builtFrom, definedNames, sourceHash, supportDrift } = require('./support');

/** What the target's name and folder say it must be. */
function expectation(t) {
  const [platform, arch] = t.dir.split('-');
  const libc = platform !== 'linux' ? null : t.file.includes('.musl.') ? 'musl' : 'glibc';
  return { platform, arch, libc };
}

const ELF_MACHINE = { 62: 'x64', 183: 'arm64' };
const MACHO_CPU = { 0x01000007: 'x64', 0x0100000c: 'arm64' };
const PE_MACHINE = { 0x8664: 'x64', 0xaa64: 'arm64' };

/** The platform family and architecture a binary's header says, or what it is not. */
function headerOf(bytes) {
  if (bytes.length >= 20 && bytes.readUInt32BE(0) === 0x7f454c46)
    return { platform: 'linux', arch: ELF_MACHINE[bytes.readUInt16LE(18)] ?? `ELF machine ${bytes.readUInt16LE(18)}` };
  if (bytes.length >= 8 && bytes.readUInt32LE(0) === 0xfeedfacf)
    return { platform: 'darwin', arch: MACHO_CPU[bytes.readUInt32LE(4)] ?? `Mach-O cputype ${bytes.readUInt32LE(4)}` };
  if (bytes.length >= 64 && bytes.toString('latin1', 0, 2) === 'MZ') {
    const pe = bytes.readUInt32LE(0x3c);
    if (pe + 6 <= bytes.length && bytes.toString('latin1', pe, pe + 4) === 'PE\0\0') {
      return { platform: 'win32', arch: PE_MACHINE[bytes.readUInt16LE(pe + 4)] ?? `PE machine ${bytes.readUInt16LE(pe + 4)}` };
    }
  }
  return { platform: 'not a shared library (no ELF, Mach-O 64 or PE header)', arch: '?' };
}

/** The problems of the prebuild `file` for target `t` ([] when it is right); `hash` is the current sources'. */
function checkPrebuild(file, t, hash = sourceHash()) {
  const want = expectation(t);
  const bytes = fs.readFileSync(file);
  const text = bytes.toString('latin1');
  const problems = [];
  const header = headerOf(bytes);
  if (header.platform !== want.platform) problems.push(`is ${header.platform}, not ${want.platform}`);
  else if (header.arch !== want.arch) problems.push(`is built for ${header.arch}, not ${want.arch}`);
  if (want.libc) {
    const libc = text.includes('GLIBC_2.') ? 'glibc' : 'musl';
    if (libc !== want.libc) problems.push(`links ${libc}, not ${want.libc}`);
  }
  if (!text.includes('napi_register_module_v1')) problems.push('has no N-API entry point (napi_register_module_v1): not an N-API addon');
  const built = builtFrom(file);
  if (built === null) problems.push('carries no source hash (built before check-prebuilds.js read one)');
  else if (built !== hash) problems.push(`was built from other native sources (${built}; these are ${hash}): rebuild it`);
  try {
    const drift = supportDrift(t.name, definedNames(file));
    if (drift) problems.push(drift);
  } catch (err) {
    problems.push(err.message);
  }
  return problems;
}

module.exports = { checkPrebuild, expectation };

if (require.main === module) {
  const args = process.argv.slice(2);
  const report = args.includes('--report');
  const dir = args.includes('--dir') ? path.resolve(args[args.indexOf('--dir') + 1]) : path.join(__dirname, '..', 'prebuilds');
  const hash = sourceHash();
  const how = (t) => (t.script ? `npm run ${t.script}` : `node scripts/prebuild-cross.js ${t.name}`);
  const bad = [];
  for (const t of TARGETS) {
    const file = path.join(dir, relativePath(t));
    const problems = fs.existsSync(file) ? checkPrebuild(file, t, hash) : ['is missing'];
    if (problems.length > 0) bad.push({ t, problems });
  }
  if (bad.length === 0) {
    console.error(`prebuilds: all ${TARGETS.length} present and right, built from sources ${hash} (${TARGETS.map((t) => t.name).join(', ')})`);
  } else {
    const lines = bad.map(({ t, problems }) => `  ${t.name.padEnd(18)} prebuilds/${relativePath(t)} ${problems.join('; ')}   build it: ${how(t)}`);
    const head = report
      ? `prebuilds: ${bad.length} of ${TARGETS.length} missing or wrong, so this tarball needs a compiler (and Python, make) to install on those:`
      : `not publishing: ${bad.length} of ${TARGETS.length} prebuilds missing or wrong:`;
    console.error([head, ...lines, '  all of them at once: npm run prebuilds:all (then npm run support if a binary changed)'].join('\n'));
    if (!report) process.exit(1);
  }
}
