'use strict';
// Issue 24 §2.1 (security): what a request asks for is never dropped by a dialer. Property, checked
// differentially over every combination of the connection options Node passes to createConnection:
// the same request through a plain http.Agent and through dialAgent() calls the request's `lookup`
// with the same arguments, ends the same way (the guard's own error object, or a connection), and
// connects from the same local port and family. Where a dialer cannot honour an option, a typed error.
const http = require('node:http');
const net = require('node:net');
const knobs = require('../..');
const { closeAll, track, noIPv6, testIf } = require('../helpers');

afterEach(closeAll);

/** A dual-stack server answering each request with the peer's family and port. */
async function peerServer() {
  const server = track(
    http.createServer((req, res) =>
      res.end(JSON.stringify({ family: req.socket.remoteFamily, port: req.socket.remotePort, address: req.socket.remoteAddress })),
    ),
  );
  await new Promise((resolve) => server.listen(0, '::', resolve));
  return server;
}

let nextLocalPort = 0;
/** A local port free right now (each request its own: TIME_WAIT keeps a used one). */
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      nextLocalPort = s.address().port;
      s.close(() => resolve(nextLocalPort));
    });
  });
}

const GUARD_ERROR = () => Object.assign(new Error('blocked by the SSRF guard'), { code: 'E_GUARD' });

/** Resolvers a request may carry, each recording how it was called. */
const RESOLVERS = {
  guard: (calls, error) => (host, options, cb) => {
    calls.push({ host, options: { ...options } });
    setImmediate(() => cb(error));
  },
  pin: (calls) => (host, options, cb) => {
    calls.push({ host, options: { ...options } });
    const v6 = options.family === 6;
    const address = v6 ? '::1' : '127.0.0.1';
    setImmediate(() => (options.all ? cb(null, [{ address, family: v6 ? 6 : 4 }]) : cb(null, address, v6 ? 6 : 4)));
  },
};

/** One request through `agent`; resolves with what happened. */
function request(agent, port, extra) {
  return new Promise((resolve) => {
    const req = http.get({ host: 'app.test', port, agent, ...extra }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ ok: JSON.parse(body) }));
    });
    req.on('error', (error) => resolve({ error }));
  });
}

const CASES = [];
for (const resolver of ['guard', 'pin'])
  for (const family of [undefined, 4, 6])
    for (const hints of [undefined, 0x400 /* dns.ALL */])
      for (const withLocalPort of [false, true])
        for (const autoSelectFamily of [undefined, false]) CASES.push({ resolver, family, hints, withLocalPort, autoSelectFamily });

testIf(
  noIPv6(),
  `plain agent and dialAgent agree on ${CASES.length} combinations of lookup, family, hints, localPort, autoSelectFamily`,
  async () => {
    const server = await peerServer();
    const port = server.address().port;
    const mismatches = [];
    for (const c of CASES) {
      const outcomes = [];
      for (const dialed of [false, true]) {
        const calls = [];
        const error = GUARD_ERROR();
        const agent = new http.Agent({ keepAlive: false });
        if (dialed) knobs.dialAgent(agent, { synRetries: 2 });
        const extra = { lookup: RESOLVERS[c.resolver](calls, error) };
        if (c.family !== undefined) extra.family = c.family;
        if (c.hints !== undefined) extra.hints = c.hints;
        if (c.autoSelectFamily !== undefined) extra.autoSelectFamily = c.autoSelectFamily;
        let localPort;
        if (c.withLocalPort) extra.localPort = localPort = await freePort();
        const result = await request(agent, port, extra);
        agent.destroy();
        outcomes.push({
          calls,
          // The guard's own error object is the request's error (identity, not a copy).
          error: result.error ? (result.error === error ? 'the guard’s own error' : `${result.error.code}: ${result.error.message}`) : null,
          family: result.ok?.family,
          localPortHeld: c.withLocalPort && result.ok ? result.ok.port === localPort : null,
        });
      }
      const [plain, dialed] = outcomes;
      if (JSON.stringify(plain) !== JSON.stringify(dialed)) mismatches.push({ case: c, plain, dialed });
      // The property is about honouring the request: the guard always blocks, the pin always connects.
      expect({ c, error: dialed.error }).toEqual({ c, error: c.resolver === 'guard' ? 'the guard’s own error' : null });
    }
    expect(mismatches).toEqual([]);
  },
  60000,
);

describe('connection options a dialer cannot honour: typed errors, never a silent change of destination', () => {
  test('socketPath (a Unix socket) through dialAgent', async () => {
    const agent = knobs.dialAgent(new http.Agent(), {});
    const result = await request(agent, 1, { socketPath: '/tmp/none.sock' });
    expect(result.error).toBeInstanceOf(knobs.InvalidArgumentError);
    expect(result.error.message).toMatch(/request\.socketPath.*Unix-domain/);
  });

  test("the dialer's and the request's values differ (lookup, family, localAddress): refused, naming both", async () => {
    const server = await peerServer();
    const pin = RESOLVERS.pin([]);
    const agent = knobs.dialAgent(new http.Agent(), { lookup: pin, family: 4, localAddress: '127.0.0.1' });
    for (const [extra, pattern] of [
      [{ lookup: RESOLVERS.pin([]) }, /request\.lookup.*differs from the dialer's options\.lookup/],
      [{ family: 6 }, /request\.family.*differs from the dialer's options\.family/],
      [{ localAddress: '127.0.0.2' }, /request\.localAddress.*differs from the dialer's options\.localAddress/],
    ]) {
      const result = await request(agent, server.address().port, extra);
      expect(result.error).toBeInstanceOf(knobs.InvalidArgumentError);
      expect(result.error.message).toMatch(pattern);
    }
    // The same values in both places are no conflict.
    expect(await request(agent, server.address().port, { lookup: pin, family: 4 })).toMatchObject({ ok: { family: 'IPv6', address: '::ffff:127.0.0.1' } });
    agent.destroy();
  });

  test('dialConnector(): undici’s localAddress is honoured; a proxy tunnel (httpSocket) is refused typed', async () => {
    const undici = require('undici');
    const server = await peerServer();
    const dispatcher = new undici.Agent({ connect: knobs.dialConnector({ synRetries: 2 }), localAddress: '127.0.0.2' });
    const res = await undici.request(`http://127.0.0.1:${server.address().port}/`, { dispatcher });
    expect(JSON.parse(await res.body.text())).toMatchObject({ address: '::ffff:127.0.0.2' });
    await dispatcher.close();
    const connector = knobs.dialConnector({});
    const err = await new Promise((resolve) =>
      connector({ hostname: '127.0.0.1', host: '127.0.0.1', protocol: 'https:', port: server.address().port, httpSocket: new net.Socket() }, (e) => resolve(e)),
    );
    expect(err).toBeInstanceOf(knobs.InvalidArgumentError);
    expect(err.message).toMatch(/httpSocket.*proxy tunnel/);
  });
});
