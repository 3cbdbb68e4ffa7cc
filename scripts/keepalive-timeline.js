#!/usr/bin/env node
'use strict';
// `npm run timeline` (root, Linux): runs the dead-peer experiment of the namespace tests with
// tcpdump on the client's side, and draws docs/keepalive-timeline.svg from the captured timestamps:
// the last data, each keepalive probe, and the moment the kernel gave up. Below it, to scale, the
// same connection with the kernel's default keepalive settings (computed from the sysctls: two
// hours are not captured). The capture itself is written beside it as JSON.
const fs = require('node:fs');
const path = require('node:path');
const { unavailableReason } = require('../test/fixtures/netns/hosts');
const { runDeadPeer } = require('../test/fixtures/netns/dead-peer');

const OUT = path.join(__dirname, '..', 'docs');
const TUNED = { idle: 1, interval: 1, count: 2 };

function sysctl(name) {
  return Number(fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim());
}

function esc(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** One lane: a time axis from 0 to `span` seconds and events placed on it. */
function lane({ y, title, subtitle, span, unit, ticks, events }) {
  const x0 = 40;
  const width = 680;
  const x = (t) => x0 + (t / span) * width;
  const parts = [
    `<text x="${x0}" y="${y - 38}" class="title">${esc(title)}</text>`,
    `<text x="${x0}" y="${y - 22}" class="sub">${esc(subtitle)}</text>`,
    `<line x1="${x0}" y1="${y}" x2="${x0 + width}" y2="${y}" class="axis"/>`,
  ];
  for (const t of ticks) {
    parts.push(`<line x1="${x(t)}" y1="${y}" x2="${x(t)}" y2="${y + 5}" class="axis"/>`);
    parts.push(`<text x="${x(t)}" y="${y + 18}" class="tick">${esc(`${t} ${unit}`)}</text>`);
  }
  events.forEach((event, i) => {
    const cx = x(event.t);
    const shape =
      event.kind === 'end'
        ? `<path d="M${cx - 6},${y - 6} L${cx + 6},${y + 6} M${cx - 6},${y + 6} L${cx + 6},${y - 6}" class="end"/>`
        : `<circle cx="${cx}" cy="${y}" r="${event.kind === 'data' ? 5 : 4}" class="${event.kind}"/>`;
    parts.push(shape);
    if (event.label) {
      const ly = y + 34 + (i % 2) * 14;
      // Keep labels near either end inside the picture.
      const anchor = cx < x0 + 80 ? 'start' : cx > x0 + width - 80 ? 'end' : 'middle';
      const lx = anchor === 'start' ? cx - 6 : anchor === 'end' ? cx + 6 : cx;
      parts.push(`<text x="${lx}" y="${ly}" text-anchor="${anchor}" class="label ${event.kind}-text">${esc(event.label)}</text>`);
    }
  });
  return parts.join('\n  ');
}

async function main() {
  const reason = unavailableReason();
  if (reason) throw new Error(`cannot run the experiment here: ${reason}`);
  const run = await runDeadPeer({ scenarios: ['keepalive'], watchMs: 4500, capture: true });
  const conn = run.results[0];
  if (conn.error !== 'ETIMEDOUT') throw new Error(`expected ETIMEDOUT, the connection reported ${conn.error}`);
  const t0 = conn.lastDataAt;
  const sent = run.packets.filter((p) => p.fromPort === conn.localPort && p.at > run.silencedAt);
  const probes = sent.filter((p) => p.flags === '.' && p.length <= 1).map((p) => (p.at - t0) / 1000);
  const reset = sent.filter((p) => p.flags.includes('R')).map((p) => (p.at - t0) / 1000)[0];
  const diedAt = (conn.diedAt - t0) / 1000;

  const defaults = { idle: sysctl('tcp_keepalive_time'), interval: sysctl('tcp_keepalive_intvl'), count: sysctl('tcp_keepalive_probes') };
  const defaultEnd = defaults.idle + defaults.interval * defaults.count;

  const tunedEvents = [
    { t: 0, kind: 'data', label: 'last data (then silence)' },
    ...probes.map((t, i) => ({ t, kind: 'probe', label: `probe ${i + 1}: ${t.toFixed(2)} s` })),
    { t: diedAt, kind: 'end', label: `ETIMEDOUT: ${diedAt.toFixed(2)} s${reset ? ' (RST sent)' : ''}` },
  ];
  const defaultEvents = [
    { t: 0, kind: 'data', label: '' },
    { t: 3, kind: 'end', label: 'the tuned connection was already gone here' },
    ...Array.from({ length: defaults.count }, (_, i) => ({
      t: defaults.idle + i * defaults.interval,
      kind: 'probe',
      label: i === 0 ? `first probe: ${defaults.idle} s` : '',
    })),
    { t: defaultEnd, kind: 'end', label: `ETIMEDOUT: ${defaultEnd} s` },
  ];

  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="760" height="300" viewBox="0 0 760 300" font-family="sans-serif">
  <style>
    .title { font-size: 14px; font-weight: bold; fill: #222 }
    .sub { font-size: 11px; fill: #555 }
    .axis { stroke: #888; stroke-width: 1 }
    .tick { font-size: 10px; fill: #666; text-anchor: middle }
    .label { font-size: 10px; fill: #333 }
    .data { fill: #2a7 } .probe { fill: #36c } .end { stroke: #c33; stroke-width: 2.5 }
    .end-text { fill: #c33 }
  </style>
  <rect width="760" height="300" fill="#fff"/>
  ${lane({
    y: 80,
    title: `socket-knobs: setKeepAlive(socket, { idle: ${TUNED.idle}, interval: ${TUNED.interval}, count: ${TUNED.count} })`,
    subtitle: `captured with tcpdump on the client; the peer went silent (nftables drop) right after the last data`,
    span: 4,
    unit: 's',
    ticks: [0, 1, 2, 3, 4],
    events: tunedEvents,
  })}
  ${lane({
    y: 220,
    title: `kernel defaults: idle ${defaults.idle} s, interval ${defaults.interval} s, ${defaults.count} probes (to scale)`,
    subtitle: `computed from net.ipv4.tcp_keepalive_*; the connection is declared dead after ${(defaultEnd / 3600).toFixed(2)} hours, if keepalive is on at all`,
    span: Math.ceil(defaultEnd / 1000) * 1000,
    unit: 's',
    ticks: Array.from({ length: Math.ceil(defaultEnd / 1000) + 1 }, (_, i) => i * 1000),
    events: defaultEvents,
  })}
</svg>
`;
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'keepalive-timeline.svg'), svg);
  const capture = {
    command: 'npm run timeline',
    kernel: require('node:os').release(),
    node: process.version,
    tuned: TUNED,
    secondsAfterLastData: { probes, reset, etimedout: diedAt },
    defaults,
  };
  fs.writeFileSync(path.join(OUT, 'keepalive-timeline.json'), `${JSON.stringify(capture, null, 2)}\n`);
  console.log(
    `wrote docs/keepalive-timeline.svg and .json: probes at ${probes.map((t) => `${t.toFixed(3)} s`).join(', ')}; ETIMEDOUT at ${diedAt.toFixed(3)} s`,
  );
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
