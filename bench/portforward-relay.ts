// Port-forward relay choice: one forwarded connection's setup + one request/response through
//   native   native/build/crius-relay tcp NETNS PORT   (setns + connect in C)
//   node     nsenter --net=NETNS node -e '<connect and pipe>'
// against a server inside a test network namespace, with a plain loopback TCP connection to a server in
// our own namespace as the floor. Run as root: node dist/bench/portforward-relay.js [--runs N]
import { spawn } from 'node:child_process';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { RELAY_HELPER, makeTestNetns, startPodServer } from '../test/helpers/stream-container.js';

const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const RUNS = Number(opt.runs);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Spawns a relay, sends "ping", half-closes, waits for the whole reply; resolves with ms. */
function viaChild(file: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit', 'pipe'] }) as import('node:child_process').ChildProcessWithoutNullStreams;
    let got = '';
    c.stdout.on('data', (b: Buffer) => { got += b.toString(); });
    c.on('close', () => (got === 'pong:ping' ? resolve(performance.now() - t0) : reject(new Error(`relay answered ${JSON.stringify(got)}`))));
    c.stdin.end('ping');
  });
}

function direct(port: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end('ping'));
    let got = '';
    s.on('data', (b: Buffer) => { got += b.toString(); });
    s.on('end', () => (got === 'pong:ping' ? resolve(performance.now() - t0) : reject(new Error(got))));
    s.on('error', reject);
  });
}

const ns = await makeTestNetns();
const pod = await startPodServer(ns.path, 8080);
const local = net.createServer((s) => { let b = ''; s.on('data', (d) => { b += String(d); }); s.on('end', () => s.end(`pong:${b}`)); });
await new Promise<void>((r) => local.listen(0, '127.0.0.1', () => r()));
const localPort = (local.address() as net.AddressInfo).port;
const nodeScript = "const s=require('net').connect(8080,'127.0.0.1');s.on('connect',()=>{process.stdin.pipe(s);s.pipe(process.stdout)});s.on('error',e=>{console.error(e.message);process.exit(1)})";
try {
  const r = { native: [] as number[], node: [] as number[], floor: [] as number[] };
  await viaChild(RELAY_HELPER, ['tcp', ns.path, '8080']);
  await viaChild('nsenter', [`--net=${ns.path}`, process.execPath, '-e', nodeScript]);
  for (let i = 0; i < RUNS; i++) {
    r.native.push(await viaChild(RELAY_HELPER, ['tcp', ns.path, '8080']));
    r.node.push(await viaChild('nsenter', [`--net=${ns.path}`, process.execPath, '-e', nodeScript]));
    r.floor.push(await direct(localPort));
  }
  const out = {
    bench: 'portforward-relay', runs: RUNS,
    medianMs: { nativeRelay: +median(r.native).toFixed(2), nsenterNode: +median(r.node).toFixed(2), floorLoopbackTcp: +median(r.floor).toFixed(2) },
  };
  console.log(JSON.stringify(out));
  console.log('');
  console.log(`${'connection setup + 1 round trip'.padEnd(34)}${'median ms'.padStart(10)}`);
  console.log(`${'crius-relay (native setns)'.padEnd(34)}${out.medianMs.nativeRelay.toString().padStart(10)}`);
  console.log(`${'nsenter + node -e'.padEnd(34)}${out.medianMs.nsenterNode.toString().padStart(10)}`);
  console.log(`${'floor: loopback TCP, no netns'.padEnd(34)}${out.medianMs.floorLoopbackTcp.toString().padStart(10)}`);
} finally {
  local.close();
  pod.kill();
  await ns.cleanup();
}
