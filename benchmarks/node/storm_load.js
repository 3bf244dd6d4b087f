// One process's share of a storm on Node's `ws`, the same as benchmarks/storm_load.py does with
// the simulator's charge points: 1.6 charge points connect with at most --max-handshakes opening
// handshakes in flight (the fleet's; this share's part of it), send BootNotification as soon as
// they are open, then StatusNotification, then a Heartbeat every --heartbeat-interval seconds.
// It prints "ready", reads the start (Unix seconds) from its standard input, runs --duration
// seconds from then and writes the same JSON as storm_load.py. A connection that fails is
// counted, not tried again.
//
//   node storm_load.js --url ws://127.0.0.1:9000 --charge-points N --shard i/N
//        --max-handshakes M --heartbeat-interval S --duration S --json FILE
//        [--cafile FILE --password-prefix P]
'use strict';

const fs = require('fs');
const readline = require('readline');
const WebSocket = require('ws');

function option(name, fallback) {
    const at = process.argv.indexOf(name);
    return at < 0 ? fallback : process.argv[at + 1];
}

const url = option('--url');
const total = Number(option('--charge-points', '100'));
const [shard, shards] = option('--shard', '0/1').split('/').map(Number);
const gateSize = Math.max(1, Math.floor(Number(option('--max-handshakes', '500')) / shards));
const interval = Number(option('--heartbeat-interval', '10')) * 1000;
const duration = Number(option('--duration', '60')) * 1000;
const cafile = option('--cafile', null);
const prefix = option('--password-prefix', null);
const ca = cafile ? fs.readFileSync(cafile) : undefined;

const cpu = () => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1e6;
};
const out = {
    boots: [], heartbeats: [], all_connected_after: null, all_booted_after: null,
    failed_connects: 0, unexpected: 0, closes: {}, lost: 0,
    cpu_at_start: 0, cpu_at_last_boot: null, cpu: 0,
};
const identities = [];
for (let n = shard + 1; n <= total; n += shards) {
    identities.push(`SIM-${String(n).padStart(5, '0')}`);
}
let origin = 0; // the agreed start, in ms since the epoch
const since = () => (Date.now() - origin) / 1000;
let connected = 0;
let booted = 0;
let inFlight = 0;
let next = 0;
let ended = false;
const sockets = new Set();

function admit() {
    while (!ended && inFlight < gateSize && next < identities.length) {
        inFlight += 1;
        connect(identities[next++]);
    }
}

function connect(identity) {
    // A handshake not done in 30 s fails (and gives its place back), as the simulator's would.
    const options = { perMessageDeflate: false, ca, handshakeTimeout: 30000 };
    if (prefix !== null) {
        const credentials = Buffer.from(`${identity}:${prefix}${identity}`).toString('base64');
        options.headers = { Authorization: `Basic ${credentials}` };
    }
    const ws = new WebSocket(`${url}/${identity}`, 'ocpp1.6', options);
    sockets.add(ws);
    let opened = false;
    let sequence = 0;
    let pending = null; // [unique id, action, sent at (s since the start)]
    const call = (action, payload) => {
        sequence += 1;
        pending = [String(sequence), action, since()];
        ws.send(JSON.stringify([2, pending[0], action, payload]));
    };
    ws.on('open', () => {
        opened = true;
        inFlight -= 1;
        connected += 1;
        if (connected === identities.length) out.all_connected_after = since();
        admit();
        call('BootNotification', { chargePointVendor: 'Simulated', chargePointModel: 'Storm' });
    });
    ws.on('message', (data) => {
        const [type, id] = JSON.parse(data);
        if (pending === null || id !== pending[0]) return;
        const [, action, sent] = pending;
        pending = null;
        const latency = since() - sent;
        if (type !== 3) {
            out.unexpected += 1;
        } else if (action === 'BootNotification') {
            out.boots.push(latency);
            booted += 1;
            if (booted === identities.length) {
                out.all_booted_after = since();
                out.cpu_at_last_boot = cpu();
            }
            call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
        } else if (action === 'StatusNotification') {
            // Then a Heartbeat every interval, as the simulator's charge points do.
            const beat = () => {
                if (ended) return;
                if (pending === null) call('Heartbeat', {});
                setTimeout(beat, interval);
            };
            setTimeout(beat, interval);
        } else if (action === 'Heartbeat') {
            out.heartbeats.push([sent, latency]);
        }
    });
    ws.on('error', () => {
        if (!opened) {
            out.failed_connects += 1;
            inFlight -= 1;
            admit();
        }
    });
    ws.on('close', (code) => {
        sockets.delete(ws);
        if (opened && !ended) out.closes[code] = (out.closes[code] || 0) + 1;
    });
}

process.stdout.write('ready\n');
readline.createInterface({ input: process.stdin }).once('line', (line) => {
    origin = Number(line) * 1000;
    setTimeout(() => {
        out.cpu_at_start = cpu();
        admit();
    }, Math.max(0, origin - Date.now()));
    setTimeout(() => {
        ended = true;
        out.cpu = cpu();
        for (const ws of sockets) ws.terminate();
        fs.writeFileSync(option('--json'), JSON.stringify(out));
        process.exit(0);
    }, Math.max(0, origin + duration - Date.now()));
});
