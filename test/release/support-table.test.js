'use strict';
// The exported constants must be exactly what this platform's headers define: checked against a C
// program compiled here from the same names, and against Python's socket module. No number is
// copied into this file.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const knobs = require('../..');
const { testIf } = require('../helpers');

const names = [...knobs.LEVELS, ...knobs.SOCKET_CONSTANTS, ...knobs.OPTIONS.map((row) => row.name)];

function findCompiler() {
  // $CC first: under the arm64 run (npm run test:arm64) it is the cross compiler, and the program
  // then runs under qemu like the node that runs this test.
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean)) {
    if (spawnSync(cc, ['--version']).status === 0) return cc;
  }
  return null;
}

describe('the hasattr-style support table', () => {
  const cc = findCompiler();
  testIf(
    cc ? null : 'no C compiler on PATH to read the platform headers with',
    'every name matches what the platform C headers define, and nothing else is exported',
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-headers-'));
      try {
        const source = [
          '#include <stdio.h>',
          '#include <sys/socket.h>',
          '#include <netinet/in.h>',
          '#include <netinet/tcp.h>',
          // The addon's completions of stale headers (src-native/socket_knobs.cc), compiled here too.
          /\/\/ completions:begin\n([\s\S]*?)\/\/ completions:end/.exec(
            fs.readFileSync(path.join(__dirname, '..', '..', 'src-native', 'socket_knobs.cc'), 'utf8'),
          )[1],
          'int main(void) {',
          ...names.map((n) => `#ifdef ${n}\n  printf("${n} %d\\n", (int)(${n}));\n#endif`),
          '  return 0;',
          '}',
        ].join('\n');
        fs.writeFileSync(path.join(dir, 'h.c'), source);
        execFileSync(cc, ['-o', path.join(dir, 'h'), path.join(dir, 'h.c')]);
        const fromHeaders = Object.fromEntries(
          execFileSync(path.join(dir, 'h'), { encoding: 'utf8' })
            .trim()
            .split('\n')
            .map((line) => [line.split(' ')[0], Number(line.split(' ')[1])]),
        );
        expect(Object.keys(fromHeaders).length).toBeGreaterThan(10);
        expect({ ...knobs.constants }).toEqual(fromHeaders);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  const py = spawnSync(
    'python3',
    ['-c', `import socket, json; print(json.dumps({n: getattr(socket, n) for n in ${JSON.stringify(names)} if hasattr(socket, n)}))`],
    { encoding: 'utf8' },
  );
  const noPython = py.status === 0 ? null : `python3 is not usable here (${py.error ? py.error.message : py.stderr.trim()})`;
  testIf(noPython, "agrees with Python's socket module wherever Python has the name", () => {
    const fromPython = JSON.parse(py.stdout);
    expect(Object.keys(fromPython).length).toBeGreaterThan(10);
    for (const [name, value] of Object.entries(fromPython)) {
      expect([name, knobs.constants[name]]).toEqual([name, value]);
    }
  });

  test('isSupported answers the hasattr question, and TCP_KEEPALIVE is macOS-only', () => {
    expect(knobs.isSupported('SO_REUSEADDR')).toBe(true);
    expect(knobs.isSupported('NO_SUCH_OPTION')).toBe(false);
    expect(knobs.isSupported('toString')).toBe(false);
    expect(knobs.isSupported('__proto__')).toBe(false);
    if (process.platform === 'linux') {
      expect(knobs.isSupported('TCP_KEEPIDLE')).toBe(true);
      expect(knobs.isSupported('TCP_USER_TIMEOUT')).toBe(true);
      expect('TCP_KEEPALIVE' in knobs.constants).toBe(false);
      expect(knobs.isSupported('TCP_KEEPALIVE')).toBe(false);
    }
    if (process.platform === 'darwin') expect(knobs.isSupported('TCP_KEEPALIVE')).toBe(true);
  });

  test('the loaded addon carries its defined names, equal to its constants and to docs/evidence/support.json', () => {
    const { definedNames, supportDrift } = require('../../scripts/support');
    const names = definedNames(knobs.addonPath());
    expect(names.sort()).toEqual(Object.keys(knobs.constants).sort());
    const libc = process.platform === 'linux' ? (fs.existsSync('/etc/alpine-release') ? '-musl' : '-glibc') : '';
    expect(supportDrift(`${process.platform}-${process.arch}${libc}`, names)).toBe('');
  });

  test('constants cannot be changed by a caller', () => {
    expect(Object.isFrozen(knobs.constants)).toBe(true);
    expect(() => {
      'use strict';
      knobs.constants.TCP_KEEPIDLE = 99;
    }).toThrow(TypeError);
  });

  test('the generated native header and the README table match lib/core/table.ts', () => {
    const run = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'gen.js'), '--check'], {
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
