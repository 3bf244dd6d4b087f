// The end-to-end load generator on Node's `ws`: the same runs and JSON lines as
// benchmarks/loadgen.py's closed loop (N clients, each sending a CALL and waiting for its
// answer, one after the other), used when it costs less CPU per call than that one.
//
//   node loadgen.js --port N --clients 1,50 --seconds S --warmup S --action A --payload JSON
//                   [--server-pid PID]
'use strict';

const fs = require('fs');
const WebSocket = require('ws');

function option(name, fallback) {
    const at = process.argv.indexOf(name);
    return at < 0 ? fallback : process.argv[at + 1];
}

const port = Number(option('--port'));
const seconds = Number(option('--seconds', '5'));
const warmup = Number(option('--warmup', '1'));
const action = option('--action', 'BootNotification');
const payload = JSON.parse(option('--payload', '{}'));
const serverPid = option('--server-pid', null);
const TICKS = 100; // USER_HZ: /proc's clock ticks per second on Linux

function serverCpu() {
    // utime + stime, fields 14 and 15 of /proc/PID/stat (after the command's parenthesis).
    const fields = fs.readFileSync(`/proc/${serverPid}/stat`, 'utf8').split(')').pop().trim().split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function ownCpu() {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1e6;
}

function open(identity) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/${identity}`, 'ocpp1.6', {
            perMessageDeflate: false,
        });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
    });
}

function quantile(sorted, q) {
    // As Python's statistics.quantiles (exclusive method), which loadgen.py reports.
    const at = q * (sorted.length + 1) - 1;
    const low = Math.min(Math.max(Math.floor(at), 0), sorted.length - 1);
    const high = Math.min(low + 1, sorted.length - 1);
    return sorted[low] + (sorted[high] - sorted[low]) * Math.max(0, at - low);
}

async function closedLoop(clients) {
    const sockets = [];
    for (let i = 0; i < clients; i += 100) {
        const batch = [];
        for (let j = i; j < Math.min(clients, i + 100); j++) {
            batch.push(open(`LOAD${String(j).padStart(5, '0')}`));
        }
        sockets.push(...(await Promise.all(batch)));
    }
    const latencies = [];
    let measuring = false;
    let stop = false;
    const loops = sockets.map((ws, index) => new Promise((done) => {
        let sequence = 0;
        let sent = 0n;
        const next = () => {
            if (stop) {
                done();
                return;
            }
            sequence += 1;
            sent = process.hrtime.bigint();
            ws.send(JSON.stringify([2, `${index}-${sequence}`, action, payload]));
        };
        ws.on('message', () => {
            if (measuring) {
                latencies.push(Number(process.hrtime.bigint() - sent) / 1e9);
            }
            next();
        });
        ws.on('close', () => done());
        next();
    }));
    await new Promise((r) => setTimeout(r, warmup * 1000));
    measuring = true;
    const cpu = ownCpu();
    const server = serverPid ? serverCpu() : 0;
    const start = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    measuring = false;
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const result = {
        event: 'result',
        clients,
        calls_per_s: latencies.length / elapsed,
        p50_ms: 0,
        p99_ms: 0,
        loadgen_cpu: (ownCpu() - cpu) / elapsed,
    };
    if (serverPid) {
        result.server_cpu = (serverCpu() - server) / elapsed;
    }
    if (latencies.length >= 2) {
        latencies.sort((a, b) => a - b);
        result.p50_ms = quantile(latencies, 0.5) * 1e3;
        result.p99_ms = quantile(latencies, 0.99) * 1e3;
    }
    stop = true;
    await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 5000))]);
    for (const ws of sockets) {
        ws.terminate();
    }
    return result;
}

(async () => {
    for (const clients of option('--clients', '50').split(',').map(Number)) {
        process.stdout.write(JSON.stringify(await closedLoop(clients)) + '\n');
    }
})().catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exit(1);
});
