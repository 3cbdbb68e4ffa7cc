'use strict';
// `npx socket-knobs --pid PID`: every TCP socket of another running process, read through
// borrowed copies of its fds (pidfd_getfd: root or CAP_SYS_PTRACE), the process undisturbed.
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const knobs = require('../..');
const { EMULATED, emulated, firstReason, noCommand, notRoot, testIf, unreachableByNobody, waitFor } = require('../helpers');

const BIN = path.join(__dirname, '..', '..', 'bin', 'socket-knobs.js');
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'busy-process.js');
const reason = firstReason(process.platform === 'linux' ? null : 'pidfd_getfd is Linux-only', notRoot('pidfd_getfd on another process needs CAP_SYS_PTRACE'));

/** Starts the busy process; resolves with it once its connection carries traffic. */
async function busyProcess() {
  const child = spawn(process.execPath, [FIXTURE], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) =>
    lines.push(
      ...d
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ),
  );
  await waitFor(() => lines.find((l) => l.ready), { what: 'the busy process' });
  const exchanges = async () => {
    const before = lines.length;
    child.stdin.write('count\n');
    await waitFor(() => lines.length > before);
    return lines[lines.length - 1].exchanges;
  };
  return { child, port: lines.find((l) => l.ready).ready, exchanges };
}

testIf(
  reason,
  'every TCP socket of a running process: addresses, state, tuning and TCP_INFO; its traffic goes on',
  async () => {
    const busy = await busyProcess();
    try {
      const before = await busy.exchanges();
      const run = spawnSync(process.execPath, [BIN, '--json', '--pid', String(busy.child.pid)], { encoding: 'utf8', timeout: 30000 });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const { connections } = JSON.parse(run.stdout);
      expect(connections.map((c) => c.state).sort()).toEqual(['ESTABLISHED', 'ESTABLISHED', 'LISTEN']);
      const client = connections.find((c) => c.remote === `127.0.0.1:${busy.port}`);
      expect(client.tuning.keepAlive).toEqual({ enable: true, idle: 77, interval: 7, count: 3 });
      expect(client.tuning.userTimeout).toBe(45000);
      expect(client.tcpInfo.state).toBe('ESTABLISHED');
      expect(connections.find((c) => c.state === 'LISTEN').local).toBe(`127.0.0.1:${busy.port}`);
      // The text form, and the process still exchanging messages afterwards.
      const text = spawnSync(process.execPath, [BIN, '--pid', String(busy.child.pid)], { encoding: 'utf8', timeout: 30000 });
      expect(text.stdout).toMatch(/ESTABLISHED\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:\d+\s+77\/7\/3\s+45000/);
      const after = await busy.exchanges();
      await waitFor(async () => (await busy.exchanges()) > after + 5, { what: 'more traffic after the inspection' });
      expect(after).toBeGreaterThan(before);
    } finally {
      busy.child.stdin.end();
    }
  },
  60000,
);

testIf(
  firstReason(reason, emulated('TCP_INFO')),
  "the connections' TCP_INFO in full: the kernel's byte counts, and an unlimited rate as 'unlimited' (JSON has no Infinity)",
  async () => {
    const busy = await busyProcess();
    try {
      const run = spawnSync(process.execPath, [BIN, '--json', '--pid', String(busy.child.pid)], { encoding: 'utf8', timeout: 30000 });
      expect(run.status).toBe(0);
      const client = JSON.parse(run.stdout).connections.find((c) => c.remote === `127.0.0.1:${busy.port}`);
      expect(client.tcpInfo.bytesAcked).toBeGreaterThan(0);
      // SO_MAX_PACING_RATE is unset: ~0, unlimited (the API's Infinity).
      expect(knobs.inspectProcess(busy.child.pid).connections.find((c) => c.fd === client.fd).tcpInfo.maxPacingRate).toBe(Infinity);
      expect(client.tcpInfo.maxPacingRate).toBe('unlimited');
    } finally {
      busy.child.stdin.end();
    }
  },
);

testIf(reason, 'in process: inspectProcess() closes every borrowed copy', async () => {
  const busy = await busyProcess();
  try {
    const fds = () => require('node:fs').readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 50; i++) expect(knobs.inspectProcess(busy.child.pid).connections).toHaveLength(3);
    expect(fds()).toBe(before);
  } finally {
    busy.child.stdin.end();
  }
});

testIf(
  firstReason(reason, noCommand('setpriv', ['--version']), unreachableByNobody()),
  'without the privilege: exit 1 with what is needed; a bad pid is a usage error',
  async () => {
    const busy = await busyProcess();
    try {
      const run = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, BIN, '--json', '--pid', String(busy.child.pid)],
        {
          encoding: 'utf8',
          timeout: 30000,
        },
      );
      expect(run.status).toBe(1);
      expect(JSON.parse(run.stdout).error.message).toMatch(/root or CAP_SYS_PTRACE/);
    } finally {
      busy.child.stdin.end();
    }
    for (const bad of [['--pid'], ['--pid', 'x'], ['--pid', '0'], ['--pid', '12', 'host:1']]) {
      const r = spawnSync(process.execPath, [BIN, ...bad], { encoding: 'utf8' });
      expect({ bad, status: r.status }).toEqual({ bad, status: 2 });
    }
    // A process id within pid_max with no process: the process cannot be read (1), not usage.
    const fs = require('node:fs');
    const max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    let free = max;
    while (fs.existsSync(`/proc/${free}`)) free--;
    const gone = spawnSync(process.execPath, [BIN, '--json', '--pid', String(free)], { encoding: 'utf8' });
    expect(gone.status).toBe(1);
    expect(JSON.parse(gone.stdout).error.code).toBe('ESRCH');
  },
);

testIf(reason, '--expect TUNING: each socket but the listener compared with it; exit 3 when one differs, 0 when all hold', async () => {
  const busy = await busyProcess();
  const fs = require('node:fs');
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-expect-'));
  try {
    // The busy process tuned its client connection only; the socket its server accepted is untuned.
    const tuning = { keepAlive: { idle: 77, interval: 7, count: 3 }, userTimeout: 45000 };
    const run = spawnSync(process.execPath, [BIN, '--json', '--pid', String(busy.child.pid), '--expect', JSON.stringify(tuning)], {
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(3);
    const result = JSON.parse(run.stdout);
    expect(result.expect).toEqual({ tuning, differing: 1 });
    const client = result.connections.find((c) => c.remote === `127.0.0.1:${busy.port}`);
    expect(client.drift).toEqual([]);
    const accepted = result.connections.find((c) => c.state === 'ESTABLISHED' && c !== client);
    expect(accepted.drift).toEqual(expect.arrayContaining(['keepAlive.enable', 'keepAlive.idle', 'userTimeout']));
    expect(result.connections.find((c) => c.state === 'LISTEN').drift).toBeUndefined();
    // The same from a file, as text: a column and a summary line.
    fs.writeFileSync(path.join(dir, 'tuning.json'), JSON.stringify(tuning));
    const text = spawnSync(process.execPath, [BIN, '--pid', String(busy.child.pid), '--expect', path.join(dir, 'tuning.json')], {
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(text.status).toBe(3);
    expect(text.stdout).toMatch(/1 of 2 sockets differ from --expect \(exit 3\)/);
    // A listener's accept queue and its limit, from the diagnostics; under qemu-user (npm run
    // test:arm64: no diagnostics, and 4 bytes of TCP_INFO) the queue from /proc, the limit unknown.
    expect(text.stdout).toMatch(
      emulated('TCP_INFO') ? /LISTEN\s+127\.0\.0\.1:\d+\s+0\.0\.0\.0:0\s+queue 0\/\?/ : /LISTEN\s+127\.0\.0\.1:\d+\s+0\.0\.0\.0:0\s+queue 0\/\d+/,
    );
    // deadPeerTimeout is expanded as tune() expands it (30 s: idle 14, interval 4, count 3, user
    // timeout 24000): the client's 77/7/3 and 45000 differ but for the count.
    const deadline = spawnSync(process.execPath, [BIN, '--json', '--pid', String(busy.child.pid), '--expect', '{"deadPeerTimeout":"30s"}'], {
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(deadline.status).toBe(3);
    expect(JSON.parse(deadline.stdout).connections.find((c) => c.remote === `127.0.0.1:${busy.port}`).drift).toEqual([
      'keepAlive.idle',
      'keepAlive.interval',
      'userTimeout',
    ]);
    // Only what holds: exit 0 (the untuned accepted socket holds an empty tuning).
    const empty = spawnSync(process.execPath, [BIN, '--pid', String(busy.child.pid), '--expect', '{}'], { encoding: 'utf8', timeout: 30000 });
    expect(empty.status).toBe(0);
    expect(empty.stdout).toMatch(/0 of 2 sockets differ from --expect\n/);
  } finally {
    busy.child.stdin.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

testIf(reason, 'filters and a summary: --state, --sport, --dport, --peer; 50 rows unless --all, and a line saying how many more', async () => {
  // 30 connections to its own server: 61 sockets (a listener, 30 accepted, 30 client ends).
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `const net = require('net'); const all = [];
       const server = net.createServer((s) => all.push(s)).listen(0, '127.0.0.1', () => {
         let n = 0;
         for (let i = 0; i < 30; i++) all.push(net.connect(server.address().port, '127.0.0.1', () => { if (++n === 30) setTimeout(() => console.log(server.address().port), 50); }));
       });
       process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    const port = Number(await new Promise((resolve) => holder.stdout.once('data', resolve)));
    const cli = (...args) => spawnSync(process.execPath, [BIN, '--pid', String(holder.pid), ...args], { encoding: 'utf8', timeout: 30000 });
    const text = cli();
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^process \d+: 61 TCP sockets/);
    expect(text.stdout).toMatch(/by state: 60 ESTABLISHED, 1 LISTEN/);
    expect(text.stdout).toMatch(/by tuning: 60 keepalive off, user timeout 0; 1 listening/);
    expect(text.stdout).toMatch(/\.\.\. 11 more \(--all shows every row/);
    expect(text.stdout.split('\n').filter((l) => /^\s+\d+\s+(ESTABLISHED|LISTEN)/.test(l)).length).toBe(50);
    expect(
      cli('--all')
        .stdout.split('\n')
        .filter((l) => /^\s+\d+\s+(ESTABLISHED|LISTEN)/.test(l)).length,
    ).toBe(61);
    const count = (...args) => JSON.parse(cli('--json', ...args).stdout).connections.length;
    expect(count()).toBe(61); // JSON: every row
    expect(count('--state', 'listen')).toBe(1);
    expect(count('--sport', String(port))).toBe(31);
    expect(count('--dport', String(port))).toBe(30);
    expect(count('--peer', '127.0.0.1')).toBe(60);
    expect(count('--state', 'ESTABLISHED', '--dport', String(port))).toBe(30);
    expect(cli('--state', 'listen').stdout).toMatch(/^process \d+: 1 of 61 TCP sockets/);
    // --json has the summary too: the same counts as the text's, of every socket.
    expect(JSON.parse(cli('--json', '--dport', String(port)).stdout).summary).toEqual(
      expect.objectContaining({ sockets: 61, matched: 30, byState: [{ state: 'ESTABLISHED', sockets: 30 }] }),
    );
    for (const bad of [
      ['--state', 'bogus'],
      ['--sport', '0'],
      ['--dport', 'x'],
      ['--peer', 'localhost'],
    ]) {
      // Usage (2), the flag named: inspectProcess() validates, the CLI names its flag for the option.
      const run = cli(...bad);
      expect({ bad, status: run.status, named: run.stderr.split('\n')[0].includes(bad[0]) }).toEqual({ bad, status: 2, named: true });
    }
    expect(spawnSync(process.execPath, [BIN, '--state', 'listen'], { encoding: 'utf8' }).status).toBe(2); // without --pid
  } finally {
    holder.stdin.end();
  }
});

testIf(reason, '--watch INTERVAL: what changed since the last read, one line each (JSON lines with --json), until interrupted', async () => {
  const busy = await busyProcess();
  const watcher = spawn(process.execPath, [BIN, '--json', '--pid', String(busy.child.pid), '--watch', '200ms'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events = [];
  let buffered = '';
  watcher.stdout.on('data', (d) => {
    buffered += d;
    const lines = buffered.split('\n');
    buffered = lines.pop();
    events.push(...lines.filter(Boolean).map((l) => JSON.parse(l)));
  });
  let stderr = '';
  watcher.stderr.on('data', (d) => (stderr += d));
  try {
    await waitFor(() => events.some((e) => e.event === 'start'), { what: 'the first read' });
    expect(events[0]).toMatchObject({ event: 'start', sockets: 3 });
    // A new connection to the busy process's server: two sockets added (both ends are its own).
    const extra = require('node:net').connect(busy.port, '127.0.0.1');
    await waitFor(() => events.filter((e) => e.event === 'added').length === 1, { what: 'the added socket' });
    extra.destroy();
    await waitFor(() => events.some((e) => e.event === 'removed'), { what: 'the removed socket' });
    const added = events.find((e) => e.event === 'added');
    expect(added).toMatchObject({ state: 'ESTABLISHED', local: `127.0.0.1:${busy.port}` });
    expect(events.find((e) => e.event === 'removed')).toMatchObject({ fd: added.fd, local: added.local, remote: added.remote });
    // Nothing else changed in between: no full re-dump.
    expect(events.filter((e) => e.event === 'changed')).toEqual([]);
  } finally {
    watcher.kill('SIGINT');
    const code = await new Promise((resolve) => watcher.once('exit', resolve));
    busy.child.stdin.end();
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }
});

testIf(
  firstReason(
    reason,
    noCommand('unshare', ['--version']),
    noCommand('nft', ['--version'], 'apt-get install nftables'),
    EMULATED ? 'qemu-user has no NETLINK_SOCK_DIAG, whose class ids this test compares: the x64 tiers run it' : null,
    /^net_cls\s+\d+\s+\d+\s+1$/m.test(require('node:fs').readFileSync('/proc/cgroups', 'utf8')) ? null : 'no cgroup v1 net_cls controller in this kernel',
  ),
  'a target in another net_cls cgroup (cgroup v1): read by a thread that joins its cgroup first, so an nft counter on its class keeps counting and its class id holds; --allow-relabel borrows plainly and the counter stops',
  async () => {
    const fs = require('node:fs');
    const os = require('node:os');
    const busy = await busyProcess();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-netcls-'));
    const out = path.join(dir, 'out');
    const table = `sknetcls${process.pid}`;
    try {
      // In a private mount namespace: a net_cls hierarchy, the target moved into a class of its own,
      // the inspector left in the root one; an nft counter (host namespace, counting only) on that
      // class's packets, read around each run of the tool; then everything put back and removed.
      const cli = (...args) => `"${process.execPath}" "${BIN}" --json --pid ${busy.child.pid} ${args.join(' ')}`;
      const count = (name) => `sleep 0.5; nft list chain inet ${table} out | grep -o 'packets [0-9]*' | cut -d' ' -f2 > ${out}.${name}`;
      const script = [
        'set -e',
        `mkdir -p ${dir}/cg && mount -t cgroup -o net_cls none ${dir}/cg`,
        `mkdir ${dir}/cg/target && echo 0x100001 > ${dir}/cg/target/net_cls.classid && echo ${busy.child.pid} > ${dir}/cg/target/cgroup.procs`,
        `nft add table inet ${table} && nft add chain inet ${table} out '{ type filter hook output priority 0; }'`,
        `nft add rule inet ${table} out meta cgroup 0x100001 counter`,
        'set +e',
        count('c0'),
        `${cli()} > ${out}.joined`,
        count('c1'),
        `${cli("--expect '{}'")} > ${out}.expect; echo $? > ${out}.expect.status`,
        count('c2'),
        `${cli('--allow-relabel')} > ${out}.allowed`,
        count('c3'),
        count('c4'),
        `${cli()} > ${out}.after`,
        `nft delete table inet ${table}`,
        `echo ${busy.child.pid} > ${dir}/cg/cgroup.procs; rmdir ${dir}/cg/target; umount ${dir}/cg`,
      ].join('\n');
      const run = spawnSync('unshare', ['-m', 'sh', '-c', script], { encoding: 'utf8', timeout: 60000 });
      expect(run.stderr).toBe('');
      const read = (name) => JSON.parse(fs.readFileSync(`${out}.${name}`, 'utf8')).connections;
      const counter = (name) => Number(fs.readFileSync(`${out}.${name}`, 'utf8'));
      // Joined: every socket read, its class id the target's before and after (no `relabelled`).
      const joined = read('joined');
      expect(joined.map((c) => c.state).sort()).toEqual(['ESTABLISHED', 'ESTABLISHED', 'LISTEN']);
      for (const c of joined) expect(c).toMatchObject({ classId: 0x100001, tuning: expect.any(Object) });
      for (const c of joined) expect(c.relabelled).toBeUndefined();
      expect(joined.find((c) => c.remote === `127.0.0.1:${busy.port}`).tuning.keepAlive).toMatchObject({ idle: 77, interval: 7, count: 3 });
      expect(fs.readFileSync(`${out}.expect.status`, 'utf8').trim()).toBe('0');
      // The counter on the target's class kept counting (a message and its echo every 10 ms: about 100
      // packets in each half second) across both runs.
      expect(counter('c1') - counter('c0')).toBeGreaterThan(40);
      expect(counter('c2') - counter('c1')).toBeGreaterThan(40);
      // --allow-relabel: borrowed plainly, the sockets take the inspector's class (0): the counter stops.
      const allowed = read('allowed');
      expect(allowed.find((c) => c.remote === `127.0.0.1:${busy.port}`).tuning.keepAlive).toMatchObject({ idle: 77, interval: 7, count: 3 });
      // ... and each row says so: its class before borrowing, and after (this process's, 0).
      for (const c of allowed) expect(c).toMatchObject({ classId: 0x100001, relabelled: { from: 0x100001, to: 0 } });
      expect(counter('c4') - counter('c3')).toBe(0);
      for (const c of read('after')) expect(c.classId).toBe(0);
    } finally {
      spawnSync('nft', ['delete', 'table', 'inet', table]);
      busy.child.stdin.end();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  60000,
);

const DEMO = path.join(__dirname, '..', '..', 'demo', 'cluster-session.js');
const staged = require('node:fs').existsSync(DEMO) ? null : 'a staged copy of the package (no bench/, demo/, .ci/): the checkout runs it';

testIf(
  firstReason(reason, staged),
  "docs/cli.md's session on a clustered server is what demo/cluster-session.js prints: the primary's listener, the workers' connections, exit 3 on the reset one",
  () => {
    const run = spawnSync(process.execPath, [DEMO], { encoding: 'utf8', timeout: 30000 });
    expect(run.status).toBe(0);
    const text = run.stdout;
    expect(text).toMatch(/^\s+\d+\s+node\s+\d+\s+LISTEN\s+127\.0\.0\.1:\d+/m);
    expect(text.match(/ESTABLISHED/g).length).toBeGreaterThanOrEqual(4);
    expect(text).toMatch(/1\/1\/10\s+30000 .*keepAlive\.idle, keepAlive\.interval, keepAlive\.count/);
    expect(text).toMatch(/sockets differ from --expect \(exit 3\)\n\(exit 3\)/);
    // The page shows a run of it: the same three commands, with the script named.
    const page = require('node:fs').readFileSync(path.join(__dirname, '..', '..', 'docs', 'cli.md'), 'utf8');
    const commands = (t) =>
      t
        .split('\n')
        .filter((l) => l.startsWith('$ '))
        .map((l) => l.replace(/\d+/g, 'N'));
    expect(commands(page.slice(page.indexOf('## A session on a clustered server')))).toEqual(commands(text));
    expect(page).toContain('`node demo/cluster-session.js`');
  },
);
