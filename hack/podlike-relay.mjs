// Relays TCP connections between a pod-like network namespace (hack/podlike.sh)
// and the host, through unix sockets (which cross network namespaces):
//   in:IP:PORT=SOCKET    listen on IP:PORT here, connect each client to SOCKET
//   out:SOCKET=IP:PORT   listen on SOCKET, connect each client to IP:PORT here
// Prints "ready" once every listener is up.
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const specs = process.argv.slice(2);

function pipe(client, target) {
  client.pipe(target).pipe(client);
  const end = () => { client.destroy(); target.destroy(); };
  client.on('error', end);
  target.on('error', end);
  client.on('close', end);
  target.on('close', end);
}

function listen(spec) {
  const m = /^(in|out):(.+)=(.+)$/.exec(spec);
  if (!m) throw new Error(`podlike-relay: "${spec}" is not in:IP:PORT=SOCKET or out:SOCKET=IP:PORT`);
  const [, dir, from, to] = m;
  const hostPort = (s) => {
    const i = s.lastIndexOf(':');
    return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
  };
  const server = createServer((c) => pipe(c, dir === 'in' ? connect(to) : connect(hostPort(to))));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (dir === 'in') server.listen(hostPort(from), resolve);
    else {
      rmSync(from, { force: true });
      server.listen(from, resolve);
    }
  });
}

await Promise.all(specs.map(listen));
process.stdout.write('ready\n');
// Nothing more is written: the reader closed its end after that line.
