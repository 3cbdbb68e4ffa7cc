#!/usr/bin/env node
'use strict';
// npx socket-knobs [--json] [--] [host:port]
//
// For the people who run the servers: what this machine offers, and what a path really does.
// Without an address it prints the support table (defined in the headers the addon was built with,
// and accepted by the running kernel) and the kernel defaults the knobs override, from /proc/sys.
// With host:port it connects, applies nothing, and prints that connection's TCP_INFO and current
// options, then closes it. --json prints the same as one JSON object.
const fs = require('node:fs');
// node:net (4 ms to load) only where a connection is made: --pid and --port never load it.
const knobs = require('../dist/index.js');

const USAGE = [
  'usage: socket-knobs [--json] [--] [host:port]   (an IPv6 address in brackets: [::1]:443)',
  '       socket-knobs [--json] --pid PID [--expect TUNING] [--state S] [--sport P] [--dport P] [--peer ADDR] [--all] [--watch INTERVAL]',
  '       socket-knobs [--json] --port PORT [--listen] [--netns PID]',
].join('\n');
/** --help: the usage, and what each form does. */
const HELP = [
  USAGE,
  '',
  '  (none)            the support table (headers and kernel) and the kernel defaults the knobs override',
  "  host:port         connect, apply nothing, print the connection's options and TCP_INFO",
  '  --pid PID         every TCP socket of a running process (root or CAP_SYS_PTRACE)',
  '  --expect TUNING   with --pid: a tuning as JSON or a JSON file; exit 3 when a socket differs',
  '  --state, --sport, --dport, --peer   with --pid: only the sockets in that state, on that local or',
  '                    remote port, with that peer address; --all: every row (else the first 50, and a summary)',
  '  --watch INTERVAL  with --pid: read again every INTERVAL (2s, 500ms) and print what changed, until interrupted',
  "  --allow-relabel   with --pid: borrow fds even where that moves the sockets into this process's net_cls/net_prio cgroup",
  '  --port PORT       the processes holding TCP sockets on a local port (--listen: listeners only;',
  "                    --netns PID: in that process's network namespace)",
  '  --json            one JSON object on stdout, errors included',
  'exit: 0 done, 1 failed, 2 usage, 3 a socket differs from --expect (docs/cli.md)',
].join('\n');

/** The exit code of --expect when a socket's kernel values differ from the tuning (1 is a failure, 2 usage). */
const EXIT_DIFFERS = 3;

const SYSCTLS = [
  ['net.ipv4.tcp_keepalive_time', 'seconds idle before the first keepalive probe (TCP_KEEPIDLE)'],
  ['net.ipv4.tcp_keepalive_intvl', 'seconds between keepalive probes (TCP_KEEPINTVL)'],
  ['net.ipv4.tcp_keepalive_probes', 'unanswered probes before the connection is dropped (TCP_KEEPCNT)'],
  ['net.ipv4.tcp_retries2', 'retransmissions of unacknowledged data before giving up (TCP_USER_TIMEOUT overrides)'],
  ['net.ipv4.tcp_syn_retries', 'SYN retransmissions of connect() (TCP_SYNCNT)'],
  ['net.ipv4.tcp_fin_timeout', 'seconds an orphaned FIN-WAIT-2 socket lives (TCP_LINGER2)'],
  ['net.core.somaxconn', 'the cap on a listen() backlog and on TCP_FASTOPEN queues'],
  ['net.ipv4.tcp_fastopen', 'TCP Fast Open: bit 1 client, bit 2 server'],
  ['net.ipv4.tcp_congestion_control', 'default congestion control (TCP_CONGESTION)'],
  ['net.ipv4.tcp_available_congestion_control', 'algorithms loaded'],
  ['net.ipv4.tcp_allowed_congestion_control', 'algorithms a process without CAP_NET_ADMIN may choose'],
  ['net.ipv4.tcp_notsent_lowat', 'default TCP_NOTSENT_LOWAT (4294967295: none)'],
];

function sysctls() {
  const out = {};
  for (const [name, meaning] of SYSCTLS) {
    let value = null;
    try {
      value = fs.readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
    } catch {
      // not on this platform or not readable: reported as null
    }
    out[name] = { value, meaning };
  }
  return out;
}

function supportTable() {
  let probed = {};
  let probeError = null;
  try {
    probed = knobs.probe();
  } catch (err) {
    probeError = `${err.code}: ${err.message}`;
  }
  return {
    options: knobs.OPTIONS.map((row) => ({
      name: row.name,
      level: row.level,
      defined: knobs.isSupported(row.name),
      accepted: probed[row.name] ? probed[row.name].accepted : null,
      ...(probed[row.name] && probed[row.name].code ? { refused: probed[row.name].code } : {}),
    })),
    probeError,
  };
}

/** The longest argument echoed back in an error: a 100 KB argument gives a short message. */
const SHOWN = 64;
const shown = (text) => JSON.stringify(text.length > SHOWN ? `${text.slice(0, SHOWN - 3)}...` : text);

/**
 * `host:port` or `[v6]:port`; null when it is not one. The host is a name or an address: letters,
 * digits and . - _ : % only (no space, newline or other control character), at most 253.
 */
function parseAddress(text) {
  const m = /^\[([0-9A-Fa-f:.%a-zA-Z0-9]{1,253})\]:(\d{1,5})$/.exec(text) || /^([A-Za-z0-9._-]{1,253}):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return null;
  return { host: m[1], port: Number(m[2]) };
}

/** Whole-command limit for host mode: the name lookup, the connection and the read. */
const LIMIT_MS = 10000;

function connect({ host, port }) {
  return new Promise((resolve, reject) => {
    const socket = require('node:net').connect({ host, port });
    socket.once('connect', () => {
      try {
        const result = {
          local: `${socket.localAddress}:${socket.localPort}`,
          remote: `${socket.remoteAddress}:${socket.remotePort}`,
          tuning: knobs.getTuning(socket),
          tcpInfo: knobs.getTcpInfo(socket),
        };
        resolve(result);
      } catch (err) {
        reject(err);
      } finally {
        socket.destroy();
      }
    });
    socket.once('error', reject);
  });
}

/** Rows as aligned lines of text. */
function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) =>
    r
      .map((cell, i) => String(cell).padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
}

function show(value) {
  if (value && typeof value === 'object')
    return Object.entries(value)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
      .join(' ');
  return String(value);
}

/** A CLI failure: the exit code, a code and a message (printed as JSON under --json). */
class Failure extends Error {
  constructor(exit, code, message) {
    super(message);
    this.exit = exit;
    this.code = code;
  }
}

/** The flags that take a value (`--pid 42` or `--pid=42`). */
const VALUED = ['--pid', '--expect', '--port', '--netns', '--state', '--sport', '--dport', '--peer', '--watch'];

/**
 * Splits argv into flags, flag values and positional arguments; `--` ends the flags. A valued flag
 * given twice, or followed by another flag instead of its value, is a usage error (never a silent
 * choice, never `--json` taken as a pid).
 */
function parseArgs(argv) {
  const flags = new Set();
  const values = {};
  const rest = [];
  let flagsDone = false;
  let usage = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const valued = flagsDone ? undefined : VALUED.find((f) => arg === f || arg.startsWith(`${f}=`));
    if (!flagsDone && arg === '--') flagsDone = true;
    else if (valued) {
      if (flags.has(valued)) usage ??= `${valued} given twice`;
      flags.add(valued);
      let value = arg.includes('=') ? arg.slice(valued.length + 1) : argv[i + 1];
      if (!arg.includes('=')) {
        if (value === undefined || (value.startsWith('-') && value !== '-')) value = undefined;
        else i++;
      }
      if (value === undefined) usage ??= `${valued} needs a value`;
      values[valued.slice(2)] = value;
    } else if (!flagsDone && arg.startsWith('-') && arg !== '-') flags.add(arg);
    else rest.push(arg);
  }
  return { flags, values, rest, usage };
}

/** Every flag: the valued ones, and the switches. */
const KNOWN_FLAGS = new Set([...VALUED, '--json', '--help', '-h', '--listen', '--all', '--allow-relabel']);
/** The flags that only --pid takes. */
const PID_ONLY = ['--expect', '--state', '--sport', '--dport', '--peer', '--all', '--watch', '--allow-relabel'];
/** Rows the text table shows without --all (a summary line says how many more). */
const ROWS_SHOWN = 50;

/** Writes `text` to stdout and resolves once it is written; rejects when it cannot be (a closed pipe, /dev/full). */
function out(text) {
  return new Promise((resolve, reject) => {
    process.stdout.once('error', reject);
    process.stdout.write(`${text}\n`, (err) => (err ? reject(err) : resolve()));
  });
}

async function run(argv, json) {
  const { flags, values, rest, usage } = parseArgs(argv);
  const unknown = [...flags].filter((f) => !KNOWN_FLAGS.has(f));
  if (unknown.length) throw new Failure(2, 'ERR_USAGE', `unknown option ${shown(unknown[0])}\n${USAGE}`);
  if (flags.has('--help') || flags.has('-h')) return out(json ? JSON.stringify({ usage: HELP }) : HELP);
  if (usage) throw new Failure(2, 'ERR_USAGE', `${usage}\n${USAGE}`);
  const pidOnly = PID_ONLY.find((f) => flags.has(f));
  if (pidOnly && !flags.has('--pid')) throw new Failure(2, 'ERR_USAGE', `${pidOnly} needs --pid\n${USAGE}`);
  if ((flags.has('--listen') || flags.has('--netns')) && !flags.has('--port')) throw new Failure(2, 'ERR_USAGE', `--listen and --netns need --port\n${USAGE}`);
  if (flags.has('--port') && flags.has('--pid')) throw new Failure(2, 'ERR_USAGE', `--port and --pid are two questions: one at a time\n${USAGE}`);
  if (flags.has('--port')) return findPort(values.port, flags.has('--listen'), values.netns, rest, json);
  const relabel = flags.has('--allow-relabel');
  if (flags.has('--pid') && flags.has('--watch')) return watch(values.pid, values.watch, values.expect, filterOf(values), rest, json, relabel);
  if (flags.has('--pid')) return inspect(values.pid, values.expect, filterOf(values), flags.has('--all'), rest, json, relabel);
  if (rest.length > 1) throw new Failure(2, 'ERR_USAGE', `one address at most\n${USAGE}`);
  if (rest.length === 1) {
    const address = parseAddress(rest[0]);
    if (!address) throw new Failure(2, 'ERR_USAGE', `not a host:port: ${shown(rest[0])}\n${USAGE}`);
    // Nothing to read without the addon: say so before connecting anywhere.
    if (knobs.loadError() !== null) throw new Failure(1, 'ERR_SOCKET_KNOBS_NO_ADDON', `no native addon here: ${knobs.loadError()}`);
    const result = await connectInChild(address);
    if (json) return out(JSON.stringify({ connection: result }, (k, v) => (v === 'Infinity' ? 'unlimited' : v), 2));
    const lines = [`connection ${result.local} -> ${result.remote} (nothing applied: what the kernel chose)`, '', 'options'];
    lines.push(...table(Object.entries(result.tuning).map(([k, v]) => [`  ${k}`, show(v)])));
    lines.push('', 'TCP_INFO (times: rto, ato, rtt, rttvar, minRtt in µs; lastData*/lastAck* in ms)');
    lines.push(...table(Object.entries(result.tcpInfo).map(([k, v]) => [`  ${k}`, show(v === 'Infinity' ? 'unlimited' : v)])));
    return out(lines.join('\n'));
  }
  const support = supportTable();
  const defaults = sysctls();
  if (json) {
    return out(
      JSON.stringify(
        { platform: process.platform, node: process.version, addon: knobs.addonPath(), loadError: knobs.loadError(), ...support, sysctls: defaults },
        null,
        2,
      ),
    );
  }
  const lines = [`socket-knobs on ${process.platform} (Node ${process.version}), addon ${knobs.addonPath() ?? `none: ${knobs.loadError()}`}`, ''];
  lines.push('options (defined: in the headers the addon was built with; accepted: by the running kernel)');
  lines.push(
    ...table([
      ['  option', 'level', 'defined', 'accepted'],
      ...support.options.map((o) => [
        `  ${o.name}`,
        o.level,
        o.defined ? 'yes' : 'no',
        o.accepted === null ? '?' : o.accepted ? 'yes' : `no${o.refused ? ` (${o.refused})` : ''}`,
      ]),
    ]),
  );
  if (support.probeError) lines.push(`  (the kernel could not be asked: ${support.probeError})`);
  lines.push('', 'kernel defaults the knobs override (/proc/sys)');
  lines.push(...table(Object.entries(defaults).map(([name, { value, meaning }]) => [`  ${name}`, value === null ? '-' : value, meaning])));
  return out(lines.join('\n'));
}

/**
 * The connection, made in a child process that is killed at the limit. getaddrinfo() runs on
 * libuv's thread pool and cannot be cancelled: a name lookup that never answers would keep this
 * process alive past any timer (even process.exit() waits for the pool's threads to finish).
 */
function connectInChild(address) {
  return new Promise((resolve, reject) => {
    const { execFile } = require('node:child_process');
    const child = execFile(process.execPath, [__filename, CHILD_FLAG, address.host, String(address.port)], { encoding: 'utf8' }, (err, stdout) => {
      clearTimeout(limit);
      let message;
      try {
        message = JSON.parse(stdout);
      } catch {
        reject(new Failure(1, 'ERR_CONNECT', err ? err.message : 'the connection helper printed nothing'));
        return;
      }
      if (message.error) reject(new Failure(1, message.error.code || 'ERR_CONNECT', message.error.message));
      else resolve(message.connection);
    });
    const limit = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Failure(1, 'ETIMEDOUT', `no connection within ${LIMIT_MS / 1000} s (name lookup included)`));
    }, LIMIT_MS);
  });
}

/** The child's side: connect, read, print one JSON line, exit. */
const CHILD_FLAG = '--connect-child';
async function child([host, port]) {
  try {
    const connection = await connect({ host, port: Number(port) });
    process.stdout.write(JSON.stringify({ connection }, (k, v) => (v === Infinity ? 'Infinity' : v)));
  } catch (err) {
    process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message } }));
  }
}

/**
 * --pid's filter from --state, --sport, --dport and --peer, as inspectProcess() takes it: the ports
 * parsed here (text to a number), the state normalised (`listen`, `close-wait`); inspectProcess()
 * validates them, its list of states the only one, and inspected() names the flag it refused.
 */
function filterOf(values) {
  const port = (flag) => {
    const text = values[flag.slice(2)];
    if (text === undefined) return undefined;
    if (!/^\d{1,5}$/.test(text)) throw new Failure(2, 'ERR_USAGE', `${flag} needs a port (1 to 65535): ${shown(text)}\n${USAGE}`);
    return Number(text);
  };
  const state = values.state === undefined ? undefined : values.state.toUpperCase().replace(/-/g, '_');
  const filter = { state, localPort: port('--sport'), remotePort: port('--dport'), peer: values.peer };
  return Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined));
}

// inspectProcess()'s option names as the CLI's flags, for its refusals.
const FLAG_OF = { 'options.state': '--state', 'options.localPort': '--sport', 'options.remotePort': '--dport', 'options.peer': '--peer' };

/** inspectProcess(), its refusals as the CLI's failures: a bad flag is usage (2), a process that cannot be read 1. */
function inspected(pidText, options) {
  try {
    return knobs.inspectProcess(Number(pidText), options);
  } catch (err) {
    const input = err instanceof knobs.InvalidArgumentError || err instanceof knobs.UnsupportedOptionError;
    if (!input) throw new Failure(1, err.code || 'ERR_INSPECT', `${err.syscall ? `${err.syscall}: ` : ''}${err.message}`);
    const flag = FLAG_OF[err.argument];
    throw new Failure(2, err.code, flag ? `${flag}: ${err.message}\n${USAGE}` : `--expect: ${err.message}`);
  }
}

/** The summary lines: sockets per state, and per tuning (keepalive idle/interval/count, user timeout). */
function summaryLines(summary) {
  const states = summary.byState.map((s) => `${s.sockets} ${s.state}`);
  // Groups that print alike (keepalive off, whatever its timings) are one.
  const tunings = new Map();
  for (const t of summary.byTuning) {
    const k = t.keepAlive;
    const text =
      { unreadable: '(unreadable)', unavailable: '(not borrowed)', listener: 'listening' }[t.kind] ??
      `keepalive ${k.enable ? `${k.idle}/${k.interval}/${k.count}` : 'off'}, user timeout ${t.userTimeout ?? '-'}`;
    tunings.set(text, (tunings.get(text) ?? 0) + t.sockets);
  }
  const byTuning = [...tunings].sort((a, b) => b[1] - a[1]).map(([text, n]) => `${n} ${text}`);
  return [`  by state: ${states.join(', ')}`, `  by tuning: ${byTuning.join('; ')}`];
}

/** --expect's tuning: JSON text, or the path of a JSON file. */
function readExpect(text) {
  let source = text;
  if (!text.trimStart().startsWith('{')) {
    try {
      source = fs.readFileSync(text, 'utf8');
    } catch (err) {
      throw new Failure(2, 'ERR_USAGE', `--expect: neither a JSON tuning nor a readable file: ${shown(text)} (${err.code})`);
    }
  }
  try {
    return JSON.parse(source);
  } catch (err) {
    throw new Failure(2, 'ERR_USAGE', `--expect: not JSON: ${err.message}`);
  }
}

/** A socket's keepalive column: idle/interval/count, or a listener's accept queue and its limit. */
function keepaliveCell(c) {
  if (c.state === 'LISTEN') return `queue ${c.receiveQueue}/${c.sendQueue ?? '?'}`;
  const k = c.tuning.keepAlive;
  return k.enable ? `${k.idle}/${k.interval}/${k.count}` : 'off';
}

/** --pid PID [--expect TUNING]: every TCP socket of a running process, with its tuning and TCP_INFO. */
async function inspect(pidText, expectText, filter, all, rest, json, allowRelabel) {
  if (rest.length > 0) throw new Failure(2, 'ERR_USAGE', `--pid takes no address\n${USAGE}`);
  // The kernel's pid_max (as inspectProcess() checks it): a number above it is not a process id.
  let max = 4194304;
  try {
    max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'latin1').trim()) || max;
  } catch {
    // not Linux: --pid fails below, with the reason
  }
  if (typeof pidText !== 'string' || !/^[1-9]\d{0,9}$/.test(pidText) || Number(pidText) > max)
    throw new Failure(2, 'ERR_USAGE', `--pid needs a process id (1 to ${max}, the kernel's pid_max): ${shown(String(pidText ?? ''))}\n${USAGE}`);
  const expect = expectText === undefined ? undefined : readExpect(expectText);
  if (knobs.loadError() !== null) throw new Failure(1, 'ERR_SOCKET_KNOBS_NO_ADDON', `no native addon here: ${knobs.loadError()}`);
  // The text shows ROWS_SHOWN rows and the summary of all: the others are counted, not decoded.
  const limit = json || all ? {} : { limit: ROWS_SHOWN };
  const result = inspected(pidText, { ...(expect === undefined ? {} : { expect }), allowRelabel, ...filter, ...limit });
  const { summary } = result;
  const done = async (text) => {
    await out(text);
    // A health check that could not look is a failure, never a pass by default.
    const unchecked = summary.byTuning.some((t) => t.kind === 'unavailable');
    if (expect !== undefined && unchecked) throw Object.assign(new Failure(1, 'ERR_NOT_CHECKED', ''), { silent: true });
    if (summary.differing > 0) throw Object.assign(new Failure(EXIT_DIFFERS, 'ERR_TUNING_DIFFERS', ''), { silent: true });
  };
  if (json) {
    const body = expect === undefined ? result : { ...result, expect: { tuning: expect, differing: summary.differing } };
    // A rate the kernel leaves unlimited reads as Infinity, which JSON cannot hold: 'unlimited'. Put
    // in place before (a replacer would be called for each of the ~100 values of every row).
    for (const c of result.connections)
      for (const info of [c.tcpInfo, c.mptcpInfo]) if (info) for (const k in info) if (info[k] === Infinity) info[k] = 'unlimited';
    return done(JSON.stringify(body, null, 2));
  }
  const shownCount = summary.matched === summary.sockets ? `${summary.sockets}` : `${summary.matched} of ${summary.sockets}`;
  const source = result.connections.some((c) => c.source === 'proc')
    ? `/proc/${pidText}/net/tcp: no socket diagnostics here`
    : "the kernel's socket diagnostics";
  const lines = [`process ${pidText}: ${shownCount} TCP sockets (${source}; tuning through borrowed copies of fds; nothing set)`];
  if (summary.matched > 0) lines.push(...summaryLines(summary));
  lines.push('');
  const header = ['  fd', 'state', 'local', 'remote', 'keepalive (idle/intvl/cnt)', 'user timeout', 'nodelay', 'cc', 'rtt µs', 'retrans'];
  const rows = [expect === undefined ? header : [...header, 'differs from --expect']];
  for (const c of result.connections) {
    const listener = c.state === 'LISTEN';
    // What the diagnostics give is in every row; the tuning only where a copy was borrowed.
    const measured = [c.congestion ?? '-', listener ? '-' : String(c.tcpInfo?.rtt ?? '-'), listener ? '-' : String(c.tcpInfo?.totalRetrans ?? '-')];
    // A Multipath TCP socket says so (its RTT and retransmissions are its subflows', not shown).
    const state = c.protocol === 'mptcp' ? `${c.state} (mptcp)` : c.state;
    if (c.error || c.unavailable) {
      const why = c.error ? `(${c.error})` : '(not borrowed: see below)';
      rows.push([`  ${c.fd}`, state, c.local, c.remote, listener ? keepaliveCell(c) : why, '-', '-', ...measured]);
      continue;
    }
    rows.push([
      `  ${c.fd}`,
      state,
      c.local,
      c.remote,
      keepaliveCell(c),
      c.tuning.userTimeout === undefined ? '-' : String(c.tuning.userTimeout),
      c.tuning.noDelay === undefined ? '-' : c.tuning.noDelay ? 'on' : 'off',
      ...measured,
      ...(expect === undefined ? [] : [c.drift === undefined ? '(listener)' : c.drift.length ? c.drift.join(', ') : '-']),
    ]);
  }
  lines.push(...table(rows));
  if (result.connections.length < summary.matched)
    lines.push(`  ... ${summary.matched - result.connections.length} more (--all shows every row; --state, --sport, --dport, --peer narrow them)`);
  if (expect !== undefined)
    lines.push('', `${summary.differing} of ${summary.checked} sockets differ from --expect${summary.differing ? ` (exit ${EXIT_DIFFERS})` : ''}`);
  // The class ids are read before and after borrowing: a change is said, never assumed away.
  if (summary.relabelled > 0) {
    const shown = result.connections.filter((c) => c.relabelled).map((c) => `${c.fd}: ${c.relabelled.from} -> ${c.relabelled.to}`);
    const more = summary.relabelled > shown.length ? `, and ${summary.relabelled - shown.length} not listed` : '';
    lines.push('', `warning: borrowing changed the net_cls class id of ${summary.relabelled} sockets (fd ${shown.join(', ')}${more})`);
  }
  return done(lines.join('\n'));
}

/** A connection's identity across reads: its fd and both addresses (an fd number reused by another connection is another row). */
const rowKey = (c) => `${c.fd} ${c.local} ${c.remote}`;

/** The fields of a row a watch compares: state, tuning, and the drift from --expect. */
function watched(c) {
  const flat = { state: c.state };
  for (const [k, v] of Object.entries(c.tuning ?? {})) {
    if (v && typeof v === 'object') for (const [kk, vv] of Object.entries(v)) flat[`${k}.${kk}`] = vv;
    else flat[k] = v;
  }
  if (c.drift) flat.drift = c.drift.join(',') || '-';
  return flat;
}

/**
 * --watch INTERVAL: reads the process again every INTERVAL and prints what changed since the last
 * read (sockets added and removed, fields changed), each change one line (one JSON object per
 * line under --json), until interrupted (SIGINT or SIGTERM: exit 0) or the process is gone (exit 1).
 */
async function watch(pidText, intervalText, expectText, filter, rest, json, allowRelabel) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(intervalText);
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60000 }[m[2] ?? 's'] : NaN;
  if (!(ms >= 100 && ms <= 3600000))
    throw new Failure(2, 'ERR_USAGE', `--watch needs an interval from 100ms to 1h (2s, 500ms): ${shown(intervalText)}\n${USAGE}`);
  if (rest.length > 0) throw new Failure(2, 'ERR_USAGE', `--pid takes no address\n${USAGE}`);
  const expect = expectText === undefined ? undefined : readExpect(expectText);
  const read = () => inspected(pidText, { ...(expect === undefined ? {} : { expect }), allowRelabel, ...filter }).connections;
  let stop = false;
  let wake = () => {};
  const onSignal = () => {
    stop = true;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let previous = new Map(read().map((c) => [rowKey(c), c]));
  const emit = (change) => out(json ? JSON.stringify(change) : change.text);
  await emit({
    at: new Date().toISOString(),
    event: 'start',
    sockets: previous.size,
    text: `watching process ${pidText}: ${previous.size} TCP sockets, every ${intervalText} (Ctrl-C ends)`,
  });
  while (!stop) {
    await new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    if (stop) break;
    const now = new Map(read().map((c) => [rowKey(c), c]));
    const at = new Date().toISOString();
    for (const [key, c] of now) {
      if (!previous.has(key))
        await emit({
          at,
          event: 'added',
          fd: c.fd,
          local: c.local,
          remote: c.remote,
          state: c.state,
          text: `${at} + fd ${c.fd} ${c.state} ${c.local} ${c.remote}`,
        });
      else {
        const before = watched(previous.get(key));
        const after = watched(c);
        for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
          if (before[field] === after[field]) continue;
          await emit({
            at,
            event: 'changed',
            fd: c.fd,
            local: c.local,
            remote: c.remote,
            field,
            from: before[field] ?? null,
            to: after[field] ?? null,
            text: `${at} ~ fd ${c.fd} ${c.local} ${c.remote}: ${field} ${before[field]} -> ${after[field]}`,
          });
        }
      }
    }
    for (const [key, c] of previous) {
      if (!now.has(key))
        await emit({ at, event: 'removed', fd: c.fd, local: c.local, remote: c.remote, text: `${at} - fd ${c.fd} ${c.state} ${c.local} ${c.remote}` });
    }
    previous = now;
  }
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}

/** --port PORT [--listen] [--netns PID]: the processes holding TCP sockets on a local port. */
async function findPort(portText, listen, netnsText, rest, json) {
  if (rest.length > 0) throw new Failure(2, 'ERR_USAGE', `--port takes no address\n${USAGE}`);
  if (!/^[1-9]\d{0,4}$/.test(portText) || Number(portText) > 65535)
    throw new Failure(2, 'ERR_USAGE', `--port needs a port (1 to 65535): ${shown(portText)}\n${USAGE}`);
  if (netnsText !== undefined && !/^[1-9]\d{0,9}$/.test(netnsText))
    throw new Failure(2, 'ERR_USAGE', `--netns needs a process id: ${shown(netnsText)}\n${USAGE}`);
  let result;
  try {
    result = knobs.findSockets(Number(portText), { listen, ...(netnsText === undefined ? {} : { netns: Number(netnsText) }) });
  } catch (err) {
    const input = err instanceof knobs.InvalidArgumentError;
    throw new Failure(input ? 2 : 1, err.code || 'ERR_FIND', err.message);
  }
  if (json) return out(JSON.stringify(result, null, 2));
  const unread = result.sockets.filter((s) => s.pid === null).length;
  const lines = [`port ${portText}${listen ? ' (listeners)' : ''}: ${result.sockets.length} TCP sockets`];
  if (result.sockets.length > 0) {
    lines.push('');
    lines.push(
      ...table([
        ['  pid', 'command', 'fd', 'state', 'local', 'remote'],
        ...result.sockets.map((s) => [`  ${s.pid ?? '?'}`, s.command ?? '?', s.fd ?? '?', s.state, s.local, s.remote]),
      ]),
    );
  }
  if (unread > 0) lines.push('', `${unread} held by processes this user cannot read (root sees them): pid ?`);
  return out(lines.join('\n'));
}

async function main(argv) {
  const json = parseArgs(argv).flags.has('--json');
  try {
    await run(argv, json);
    return 0;
  } catch (err) {
    return report(json, err);
  }
}

/** Prints a failure (JSON on stdout under --json, text on stderr) and returns its exit code. */
function report(json, err) {
  const exit = err instanceof Failure ? err.exit : 1;
  if (err.silent) return exit; // the output said it already (--expect's differences)
  const code = err.code || 'ERR_OUTPUT';
  if (json && code !== 'ERR_OUTPUT' && !['EPIPE', 'ENOSPC', 'EBADF'].includes(code)) {
    try {
      process.stdout.write(`${JSON.stringify({ error: { code, message: err.message } })}\n`);
    } catch {
      // stdout is gone: the exit code says it
    }
  } else {
    process.stderr.write(`socket-knobs: ${code}: ${err.message}\n`);
  }
  return exit;
}

if (process.argv[2] === CHILD_FLAG) {
  child(process.argv.slice(3));
} else {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
