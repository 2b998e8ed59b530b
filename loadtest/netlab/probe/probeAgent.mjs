// Probe agent of the network lab, run inside a lab host (plain node, no dependencies). Modes:
//   echo PORT                         UDP echo: answers each probe with its own receive time; on
//                                     SIGTERM prints {"received":N} and exits
//   ping HOST PORT COUNT INTERVAL_MS  sends COUNT timestamped probes, prints one JSON line with
//                                     per-probe one-way delays (up, down) and round trips
//   sink PORT                         UDP sink; on SIGTERM prints {"packets","bytes","firstMs","lastMs"}
//   blast HOST PORT KBPS MS SIZE      paced UDP stream of SIZE-byte datagrams at KBPS (IP bytes) for MS
//   tcp-source PORT                   TCP server that writes as fast as it can to each client
//   tcp-sink HOST PORT MS             reads from the TCP source for MS, prints {"bytes","ms"}
// Every host of a lab runs on one machine, so both ends read the same clock and one-way delays are exact.
import dgram from 'node:dgram';
import net from 'node:net';

const now = () => performance.timeOrigin + performance.now();
const [mode, ...args] = process.argv.slice(2);
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');

if (mode === 'echo') {
  const sock = dgram.createSocket('udp4');
  let received = 0;
  sock.on('message', (msg, rinfo) => {
    received++;
    const reply = Buffer.alloc(msg.length);
    msg.copy(reply);
    reply.writeDoubleBE(now(), 12);
    sock.send(reply, rinfo.port, rinfo.address);
  });
  sock.bind(Number(args[0]), () => print({ listening: sock.address().port }));
  process.on('SIGTERM', () => {
    print({ received });
    process.exit(0);
  });
} else if (mode === 'ping') {
  const [host, port, count, interval] = [args[0], Number(args[1]), Number(args[2]), Number(args[3])];
  const sock = dgram.createSocket('udp4');
  const probes = Array.from({ length: count }, () => ({ sent: 0, echoed: 0, back: 0 }));
  let lastSeq = -1;
  let reordered = 0;
  sock.on('message', (msg) => {
    const seq = msg.readUInt32BE(0);
    const p = probes[seq];
    if (!p || p.back) return;
    p.back = now();
    p.echoed = msg.readDoubleBE(12);
    if (seq < lastSeq) reordered++;
    lastSeq = Math.max(lastSeq, seq);
  });
  sock.bind(0, () => {
    let seq = 0;
    const start = now();
    const tick = () => {
      while (seq < count && now() >= start + seq * interval) {
        const b = Buffer.alloc(64);
        b.writeUInt32BE(seq, 0);
        probes[seq].sent = now();
        sock.send(b, port, host);
        seq++;
      }
      if (seq < count) setTimeout(tick, Math.max(0, start + seq * interval - now()));
      else setTimeout(finish, 3000);
    };
    tick();
  });
  const finish = () => {
    const back = probes.filter((p) => p.back);
    print({
      sent: count,
      received: back.length,
      reordered,
      upMs: back.map((p) => +(p.echoed - p.sent).toFixed(3)),
      downMs: back.map((p) => +(p.back - p.echoed).toFixed(3)),
      rttMs: back.map((p) => +(p.back - p.sent).toFixed(3)),
    });
    process.exit(0);
  };
} else if (mode === 'sink') {
  const sock = dgram.createSocket('udp4');
  let packets = 0,
    bytes = 0,
    firstMs = 0,
    lastMs = 0;
  sock.on('message', (msg) => {
    const t = now();
    if (!packets) firstMs = t;
    lastMs = t;
    packets++;
    bytes += msg.length + 28; // IP + UDP headers: rates are IP rates like the link's
  });
  sock.bind(Number(args[0]), () => print({ listening: sock.address().port }));
  process.on('SIGTERM', () => {
    print({ packets, bytes, firstMs, lastMs });
    process.exit(0);
  });
} else if (mode === 'blast') {
  const [host, port, kbps, ms, size] = [args[0], Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4])];
  const sock = dgram.createSocket('udp4');
  const payload = Buffer.alloc(size - 28);
  const perMs = (kbps * 1000) / 8 / size / 1000; // datagrams per ms
  const start = now();
  let sent = 0;
  const tick = () => {
    const elapsed = now() - start;
    const due = Math.min(Math.floor(elapsed * perMs), Math.floor(ms * perMs));
    while (sent < due) {
      sock.send(payload, port, host);
      sent++;
    }
    if (elapsed < ms) setTimeout(tick, 2);
    else
      setTimeout(() => {
        print({ sent, bytes: sent * size });
        process.exit(0);
      }, 200);
  };
  tick();
} else if (mode === 'tcp-source') {
  const chunk = Buffer.alloc(64 * 1024);
  const server = net.createServer((c) => {
    c.on('error', () => undefined);
    const pump = () => {
      while (c.write(chunk));
    };
    c.on('drain', pump);
    pump();
  });
  server.listen(Number(args[0]), () => print({ listening: server.address().port }));
} else if (mode === 'tcp-sink') {
  const [host, port, ms] = [args[0], Number(args[1]), Number(args[2])];
  let bytes = 0;
  let start = 0;
  const c = net.connect(port, host, () => {
    start = now();
    setTimeout(() => {
      print({ bytes, ms: now() - start });
      process.exit(0);
    }, ms);
  });
  c.on('data', (d) => {
    bytes += d.length;
  });
  c.on('error', (err) => {
    print({ error: err.message });
    process.exit(1);
  });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
