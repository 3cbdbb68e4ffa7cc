'use strict';
// Two test hosts on one machine: network namespaces joined by a veth pair, each with its own
// address from a /30 that exists only between them. Every name is unique to this process, so test
// files and CI runs never collide, and `destroy()` (also run on failure) deletes both namespaces,
// which removes the veth pair with them. Traffic never leaves these namespaces.
const { spawn, spawnSync } = require('node:child_process');

let counter = 0;

function run(cmd, args, input) {
  const out = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 10000 });
  if (out.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${out.status}): ${out.stderr || out.error}`);
  }
  return out.stdout;
}

/** Why namespace tests cannot run here, or null when they can. */
function unavailableReason() {
  if (process.platform !== 'linux') return 'network namespaces are Linux-only';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root (ip netns add needs CAP_SYS_ADMIN)';
  for (const [cmd, pkg] of [['ip', 'iproute2'], ['nft', 'nftables']]) {
    if (spawnSync(cmd, ['--version']).error) return `no ${cmd} command (Debian package ${pkg})`;
  }
  const name = `skprobe${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.status !== 0) return `ip netns add failed: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', name]);
  return null;
}

class HostPair {
  constructor() {
    const id = `${process.pid % 100000}x${counter++}`;
    // Interface names are limited to 15 characters.
    this.server = { ns: `sks${id}`, dev: `vs${id}`, ip: '' };
    this.client = { ns: `skc${id}`, dev: `vc${id}`, ip: '' };
    // One /30 per pair, from a range used only inside these namespaces.
    const net = counter % 250;
    this.server.ip = `10.231.${net}.1`;
    this.client.ip = `10.231.${net}.2`;
    this.children = new Set();
    this.created = [];
  }

  create() {
    for (const host of [this.server, this.client]) {
      run('ip', ['netns', 'add', host.ns]);
      this.created.push(host.ns);
      run('ip', ['-n', host.ns, 'link', 'set', 'lo', 'up']);
    }
    run('ip', ['link', 'add', this.server.dev, 'netns', this.server.ns, 'type', 'veth', 'peer', 'name', this.client.dev, 'netns', this.client.ns]);
    for (const host of [this.server, this.client]) {
      run('ip', ['-n', host.ns, 'addr', 'add', `${host.ip}/30`, 'dev', host.dev]);
      run('ip', ['-n', host.ns, 'link', 'set', host.dev, 'up']);
    }
    return this;
  }

  /** Makes `host` silent: every packet in or out of it is dropped, with no reset and no ICMP. */
  silence(host) {
    run('ip', ['netns', 'exec', host.ns, 'nft', '-f', '-'], [
      'table inet socket_knobs_silence {',
      '  chain input { type filter hook input priority 0; policy drop; }',
      '  chain output { type filter hook output priority 0; policy drop; }',
      '}',
    ].join('\n'));
  }

  /** Starts `node script args` inside `host`'s namespace, with a stdin pipe for commands. */
  node(host, script, args = []) {
    return this.exec(host, process.execPath, [script, ...args], 'pipe');
  }

  /** Starts any command inside `host`'s namespace; the process is killed by destroy(). */
  exec(host, cmd, args, stdin = 'ignore') {
    const child = spawn('ip', ['netns', 'exec', host.ns, cmd, ...args], { stdio: [stdin, 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  destroy() {
    for (const child of this.children) child.kill('SIGKILL');
    for (const ns of this.created.splice(0)) spawnSync('ip', ['netns', 'del', ns]);
  }
}

/**
 * The JSON lines a child prints, read in order: `next(match, ms)` resolves with the first unread
 * message that satisfies `match`, or rejects after `ms` (every wait is bounded) or when the
 * process exits first.
 */
function messages(child) {
  const queue = [];
  const waiters = [];
  let buffered = '';
  let stderr = '';
  let exited = null;
  const deliver = () => {
    for (const waiter of [...waiters]) {
      const index = queue.findIndex(waiter.match);
      if (index >= 0) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.done(null, queue.splice(index, 1)[0]);
      } else if (exited !== null) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.done(new Error(`process exited (${exited}) before the message; stderr: ${stderr.slice(-2000)}`));
      }
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        queue.push(JSON.parse(line));
      } catch {
        // not one of ours
      }
    }
    deliver();
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.once('exit', (code, signal) => {
    exited = code === null ? signal : code;
    setImmediate(deliver);
  });
  return {
    next(match = () => true, ms = 15000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no message within ${ms} ms; stderr: ${stderr.slice(-2000)}`));
        }, ms);
        const waiter = {
          match,
          done: (err, message) => {
            clearTimeout(timer);
            if (err) reject(err);
            else resolve(message);
          },
        };
        waiters.push(waiter);
        deliver();
      });
    },
    stderr: () => stderr,
  };
}

module.exports = { HostPair, unavailableReason, messages, run };
