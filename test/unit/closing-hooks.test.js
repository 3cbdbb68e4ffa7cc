'use strict';
// The attachment layer's closing hooks (lib/node/socket-hooks.ts: onSocketClosing, offSocketClosing)
// against a model, over 150 seeded random sequences on real net.Sockets: when a socket is destroyed,
// exactly the registrations still held run, each once, in the order registered (the first one is
// kept in the hooks' record, the others in an array: a removal moves the next one up); a removal
// of what is not registered changes nothing; once none is left, the socket's own `_destroy` is back
// (nothing of ours retained on it); and Node's destroy still completes ('close' is emitted).
const net = require('node:net');
const { onSocketClosing, offSocketClosing } = require('../../dist/modules/node/socket-hooks.js');
const random = require('../helpers/random').mulberry32;

const destroyed = (socket) => new Promise((resolve) => socket.once('close', resolve).destroy());

test('150 seeded sequences of registrations and removals: the ones held run once each, in order; none left, _destroy restored', async () => {
  for (let seed = 1; seed <= 150; seed++) {
    const rand = random(seed);
    const socket = new net.Socket();
    const ownDestroy = socket._destroy;
    const calls = [];
    // Two callbacks shared by many registrations (as observers share one), each with its data.
    const fns = [(s, data) => calls.push(['a', data, s === socket]), (s, data) => calls.push(['b', data, s === socket])];
    const model = [];
    const ops = 1 + Math.floor(rand() * 12);
    for (let op = 0; op < ops; op++) {
      const fn = Math.floor(rand() * 2);
      const data = Math.floor(rand() * 4);
      if (rand() < 0.6) {
        onSocketClosing(socket, fns[fn], data);
        model.push([fn, data]);
      } else {
        offSocketClosing(socket, fns[fn], data);
        const at = model.findIndex(([f, d]) => f === fn && d === data);
        if (at >= 0) model.splice(at, 1);
      }
      if (model.length === 0)
        expect({ seed, op, restored: socket._destroy === ownDestroy, own: Object.hasOwn(socket, '_destroy') }).toEqual({
          seed,
          op,
          restored: true,
          own: false,
        });
      else expect({ seed, op, wrapped: socket._destroy !== ownDestroy }).toEqual({ seed, op, wrapped: true });
    }
    await destroyed(socket);
    const expected = model.map(([fn, data]) => [['a', 'b'][fn], data, true]);
    expect({ seed, calls }).toEqual({ seed, calls: expected });
  }
});

test('a callback that removes itself and the next one, from inside _destroy: every registration held at the close still runs once', async () => {
  const socket = new net.Socket();
  const calls = [];
  const second = (s, data) => calls.push(`second ${data}`);
  const first = (s, data) => {
    calls.push(`first ${data}`);
    offSocketClosing(s, first, data);
    offSocketClosing(s, second, 2);
  };
  onSocketClosing(socket, first, 1);
  onSocketClosing(socket, second, 2);
  onSocketClosing(socket, second, 3);
  await destroyed(socket);
  expect(calls).toEqual(['first 1', 'second 2', 'second 3']);
});
