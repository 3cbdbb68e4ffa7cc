'use strict';
// The peer (runs in the server namespace): a plain Node server, no socket-knobs, that echoes what
// it receives so the client knows its data was acknowledged before the path goes silent.
const net = require('node:net');

const [host] = process.argv.slice(2);
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.pipe(socket);
});
server.listen(0, host, () => console.log(JSON.stringify({ ready: server.address().port })));
setTimeout(() => process.exit(0), 60000).unref(); // bounded even if the harness forgets it
