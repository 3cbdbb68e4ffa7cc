'use strict';
// socket-knobs --pid never joins a cgroup v1 hierarchy co-mounted with a controller that accounts
// for the thread (joining it to borrow without re-labelling would move this process's accounting
// too): where the target's tagging cgroup is in such a hierarchy, nothing is borrowed, each row
// says why (`unavailable`), and --expect exits 1 (it could not check), never 0.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { firstReason, noCommand, notRoot, testIf, waitFor } = require('../helpers');

const BIN = path.join(__dirname, '..', '..', 'bin', 'socket-knobs.js');
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'busy-process.js');

/**
 * A cgroup v1 controller that tags sockets and one that does not, which can be mounted together: both
 * attached to no hierarchy, or both to the same one holding just them (an earlier run's, kept by
 * the kernel after its unmount: mounting the same pair finds it again). Or null.
 */
function freeControllers() {
  const rows = fs
    .readFileSync('/proc/cgroups', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'))
    .filter((f) => f.length >= 4 && f[3] === '1');
  const hierarchy = new Map(rows.map((f) => [f[0], f[1]]));
  const members = (id) => rows.filter((f) => f[1] === id).map((f) => f[0]);
  for (const tagging of ['net_prio', 'net_cls'])
    for (const other of ['perf_event', 'hugetlb', 'freezer']) {
      const [a, b] = [hierarchy.get(tagging), hierarchy.get(other)];
      if (a === undefined || b === undefined || a !== b) continue;
      if (a === '0' || members(a).length === 2) return [tagging, other];
    }
  return null;
}

testIf(
  firstReason(
    process.platform === 'linux' ? null : 'cgroup v1 is Linux-only',
    notRoot('mounting a cgroup v1 hierarchy needs root'),
    noCommand('unshare', ['--version']),
    process.platform === 'linux' && !freeControllers() ? 'no free cgroup v1 tagging and non-tagging controllers to co-mount here' : null,
  ),
  'a target in a cgroup of a hierarchy co-mounted with another controller (net_prio,perf_event): nothing borrowed, every row unavailable with the reason, --expect exits 1',
  async () => {
    const [tagging, other] = freeControllers();
    const child = spawn(process.execPath, [FIXTURE], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await waitFor(() => out.includes('ready'), { what: 'the busy process' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-comount-'));
    try {
      const cli = (...args) => `"${process.execPath}" "${BIN}" --json --pid ${child.pid} ${args.join(' ')}`;
      const script = [
        'set -e',
        `mkdir -p ${dir}/cg && mount -t cgroup -o ${tagging},${other} none ${dir}/cg`,
        `mkdir ${dir}/cg/target && echo ${child.pid} > ${dir}/cg/target/cgroup.procs`,
        'set +e',
        `${cli()} > ${dir}/rows`,
        `${cli("--expect '{}'")} > ${dir}/expect; echo $? > ${dir}/expect.status`,
        `echo ${child.pid} > ${dir}/cg/cgroup.procs; rmdir ${dir}/cg/target; umount ${dir}/cg`,
      ].join('\n');
      const run = spawnSync('unshare', ['-m', 'sh', '-c', script], { encoding: 'utf8', timeout: 60000 });
      expect(run.stderr).toBe('');
      const rows = JSON.parse(fs.readFileSync(`${dir}/rows`, 'utf8')).connections;
      expect(rows.map((c) => c.state).sort()).toEqual(['ESTABLISHED', 'ESTABLISHED', 'LISTEN']);
      for (const c of rows) {
        expect(c.tuning).toBeUndefined();
        expect(c.unavailable).toMatch(
          new RegExp(
            `(${tagging},${other}|${other},${tagging}) cgroup differs from this process's, and joining it would move this process's ${other} accounting too`,
          ),
        );
      }
      expect(fs.readFileSync(`${dir}/expect.status`, 'utf8').trim()).toBe('1');
    } finally {
      child.stdin.end();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  60000,
);
