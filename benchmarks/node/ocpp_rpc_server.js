// ocpp-rpc's central system for python -m benchmarks: strict mode (requests and responses
// validated against its schemas), answering what the benchmarks and the simulator send in 1.6.
//
//   node ocpp_rpc_server.js [--tls CERT KEY] [--password-prefix P]
//
// Listens on 127.0.0.1, a free port, and prints {"port": N} once listening. With --tls it serves
// wss:// on Node's https server; with --password-prefix it asks for Basic auth (security
// profile 2) and accepts identity X with password P+X, the benchmarks' own convention.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { RPCServer } = require('ocpp-rpc');

function option(name, count) {
    const at = process.argv.indexOf(name);
    return at < 0 ? null : process.argv.slice(at + 1, at + 1 + count);
}

const tls = option('--tls', 2);
const prefix = option('--password-prefix', 1);

// The responses are made once, as the Python servers' handlers return prepared objects.
const started = new Date().toISOString();
const ANSWERS = {
    BootNotification: { status: 'Accepted', currentTime: started, interval: 300 },
    Heartbeat: { currentTime: started },
    StatusNotification: {},
};

const server = new RPCServer({
    protocols: ['ocpp1.6'],
    strictMode: true,
});

if (prefix) {
    const wanted = prefix[0];
    server.auth((accept, reject, handshake) => {
        const password = handshake.password && handshake.password.toString();
        if (password === wanted + handshake.identity) {
            accept();
        } else {
            reject(401, 'Unauthorized');
        }
    });
}

server.on('client', (client) => {
    for (const [action, answer] of Object.entries(ANSWERS)) {
        client.handle(action, () => answer);
    }
});

const web = tls
    ? https.createServer({ cert: fs.readFileSync(tls[0]), key: fs.readFileSync(tls[1]) })
    : http.createServer();
web.on('request', (request, response) => {
    response.statusCode = 404;
    response.end();
});
web.on('upgrade', server.handleUpgrade);
// As many pending connections as the kernel allows: a storm comes at once.
web.listen({ port: 0, host: '127.0.0.1', backlog: 65535 }, () => {
    process.stdout.write(JSON.stringify({ port: web.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
