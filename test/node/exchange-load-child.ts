/**
 * Child process for test/node/exchange-install-set.test.ts: loads the exchange directory in a
 * tight loop (as a CLI command would while the daemon renews) until its stdin closes, then prints
 * one JSON line: how many loads, and each distinct generation seen — TLS certificate, SM2
 * certificate, enrolment serial, hub certificate (hashes) — or the error a load threw.
 * Usage: node exchange-load-child.(ts|js) DATADIR NODE_ID
 */
import { createHash } from 'node:crypto';
import { loadExchangeMaterial } from '../../node/exchange/files.js';

const [dataDir, nodeId] = process.argv.slice(2) as [string, string];
const h = (s: string | undefined) => (s === undefined ? '-' : createHash('sha256').update(s).digest('hex').slice(0, 16));
const seen = new Set<string>();
let loads = 0;
let stop = false;
process.stdin.on('data', () => {});
process.stdin.on('end', () => void (stop = true));

function loop(): void {
  for (let k = 0; k < 20; k++) {
    try {
      const m = loadExchangeMaterial(dataDir, nodeId);
      seen.add([h(m.certPem), h(m.sm2?.certPem), m.enrolment.serial, h(m.hubCertPem)].join(' '));
    } catch (e) {
      seen.add(`ERR ${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
    }
    loads++;
  }
  if (loads === 20) process.stdout.write('ready\n');
  if (stop) {
    process.stdout.write(JSON.stringify({ loads, seen: [...seen] }) + '\n');
    return;
  }
  setImmediate(loop);
}
loop();
