'use strict';
// `npx socket-knobs host:port` with a resolver that never answers (issue 16 item 3): the command
// exits at its 10 s limit, though getaddrinfo() would keep going (30 s here). Root: a private
// network and mount namespace, whose /etc/resolv.conf points at a UDP socket that swallows queries.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { firstReason, noCommand, notRoot, testIf } = require('../helpers');

const BIN = path.join(__dirname, '..', '..', 'bin', 'socket-knobs.js');
const reason = firstReason(
  process.platform === 'linux' ? null : 'Linux namespaces',
  notRoot('it makes network and mount namespaces'),
  noCommand('unshare'),
  noCommand('ip', ['-V'], 'iproute2'),
);

testIf(
  reason,
  'a silent resolver: the command exits at 10 s with its message, not when getaddrinfo gives up',
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-resolver-'));
    try {
      fs.writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:30 attempts:1\n');
      fs.writeFileSync(
        path.join(dir, 'silent-dns.js'),
        "const s = require('node:dgram').createSocket('udp4'); s.on('message', () => {}); s.bind(53, '127.0.0.1', () => process.stdout.write('ready\\n')); setTimeout(() => process.exit(0), 60000).unref();",
      );
      const script = [
        'set -e',
        'ip link set lo up',
        `mount --bind ${dir}/resolv.conf /etc/resolv.conf`,
        // The log exists before the server starts: the backgrounded shell opens its redirect at
        // its own pace, and a grep of a file not yet made printed to stderr (a CI failure).
        `: > ${dir}/dns.log`,
        `node ${dir}/silent-dns.js > ${dir}/dns.log & dns=$!`,
        `while ! grep -q ready ${dir}/dns.log; do sleep 0.05; done`,
        'start=$(date +%s%N)',
        `set +e; node ${BIN} --json no-such-host.socket-knobs.test:80 > ${dir}/out.json; code=$?`,
        'end=$(date +%s%N)',
        'echo "$code $(( (end - start) / 1000000 ))"',
        'kill $dns',
      ].join('\n');
      const run = spawnSync('unshare', ['-m', '-n', 'sh', '-c', script], {
        encoding: 'utf8',
        timeout: 60000,
        env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` },
      });
      expect(run.stderr).toBe('');
      const [code, ms] = run.stdout.trim().split(/\s+/).map(Number);
      console.log(`silent resolver: exit ${code} after ${ms} ms`);
      expect(code).toBe(1);
      expect(ms).toBeGreaterThanOrEqual(9500);
      expect(ms).toBeLessThan(12000);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'out.json'), 'utf8')).error).toMatchObject({
        code: 'ETIMEDOUT',
        message: expect.stringMatching(/within 10 s/),
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  60000,
);
