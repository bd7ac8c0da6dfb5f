// Node's `ws` (the WebSocket library of Node.js, from Debian's node-ws) as
// a peer of uwebsocket, with permessage-deflate on, as Node applications
// run it. One line per event on stdout, for the test to check.
//
//   node peer.js client URL   connect, print "extensions E" (the answer's
//                             Sec-WebSocket-Extensions), send messages(),
//                             expect each echoed, then close with 1000 "done":
//                             "echo N ok" per message, "closed CODE REASON"
//   node peer.js server       listen on 127.0.0.1, port 0: "node ws VERSION",
//                             then "listening HOST PORT";
//                             per connection "offer O" (the request's
//                             Sec-WebSocket-Extensions) and "extensions E"
//                             (its answer's), echo every message, "closed CODE REASON"
'use strict';
const WebSocket = require('ws');

// Small and large, compressible and not, text and binary.
function messages() {
  const telemetry = JSON.stringify({ type: 'reading', temperature: 21.43, humidity: 40.5, uptime: 12345 });
  let noise = Buffer.alloc(5000);
  let x = 1;
  for (let i = 0; i < noise.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    noise[i] = x >> 16;
  }
  const pattern = Buffer.alloc(70000);
  for (let i = 0; i < pattern.length; i++) pattern[i] = i & 0xff;
  return [telemetry, '', 'x', '\u00e9'.repeat(3000), noise, pattern, telemetry.repeat(50)];
}

function same(a, b, binary) {
  return binary ? Buffer.isBuffer(a) && a.equals(b) : a.toString() === b;
}

function client(url) {
  const ws = new WebSocket(url, { perMessageDeflate: true });
  const todo = messages();
  let n = 0;
  const next = () => {
    if (n === todo.length) {
      ws.close(1000, 'done');
      return;
    }
    ws.send(todo[n], { binary: Buffer.isBuffer(todo[n]) });
  };
  ws.on('upgrade', (response) => {
    console.log('extensions ' + (response.headers['sec-websocket-extensions'] || 'none'));
  });
  ws.on('open', next);
  ws.on('message', (data, isBinary) => {
    const want = todo[n];
    console.log('echo ' + n + (same(data, want, isBinary) && isBinary === Buffer.isBuffer(want) ? ' ok' : ' wrong'));
    n += 1;
    next();
  });
  ws.on('close', (code, reason) => {
    console.log('closed ' + code + ' ' + reason.toString());
    process.exit(0);
  });
  ws.on('error', (e) => {
    console.log('error ' + e.message);
    process.exit(1);
  });
}

function server() {
  console.log('node ws ' + require('ws/package.json').version);
  const wss = new WebSocket.Server({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } }, () => {
    console.log('listening 127.0.0.1 ' + wss.address().port);
  });
  wss.on('headers', (headers, request) => {
    console.log('offer ' + (request.headers['sec-websocket-extensions'] || 'none'));
    const agreed = headers.find((line) => line.toLowerCase().startsWith('sec-websocket-extensions:'));
    console.log('extensions ' + (agreed ? agreed.slice(agreed.indexOf(':') + 1).trim() : 'none'));
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code, reason) => console.log('closed ' + code + ' ' + reason.toString()));
  });
}

if (process.argv[2] === 'client') {
  client(process.argv[3]);
} else {
  server();
}
