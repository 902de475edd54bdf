/**
 * The exchange directory's files change as one install set (node/exchange/install-set.ts).
 * Review M2: a renewal of a node on the national suite installed the SM2 pair, then the TLS pair,
 * then enrolment.json and the hub certificate, each on its own — a crash in between left a mix of
 * generations. Review M1: a process loading the directory while the daemon renewed dropped .new
 * files being written, and the renewal failed. Here every crash point of a real renewal's set loads
 * as all old or all new, a loader racing the writer in another process sees only whole
 * generations and never makes the writer fail, and an interrupted enrolment leaves nothing a later
 * one picks up (review L8).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { sm2GenerateKeyPem } from '../../protocol/sm-crypto.js';
import { exchangePaths, isEnrolled, loadExchangeMaterial, renewalFiles, writeEnrolment, writeRenewal, writeSm2, type ExchangeMaterial, type Renewed } from '../../node/exchange/files.js';
import { commitInstall, GENERATION_FILE, INSTALL_MARKER, installSet, readConsistent, stageFiles } from '../../node/exchange/install-set.js';
import { issue, type TestCa } from '../helpers/pki.js';
import { enrolDir } from './exchange-fixture.js';
import { sm2Setup } from './sm2-fixture.js';

const h = (s: string | undefined) => (s === undefined ? '-' : createHash('sha256').update(s).digest('hex').slice(0, 16));
/** What identifies a generation of the directory, as the child process reports it. */
const generation = (m: Pick<ExchangeMaterial, 'certPem' | 'enrolment' | 'hubCertPem'> & { sm2?: { certPem: string } }) => [h(m.certPem), h(m.sm2?.certPem), m.enrolment.serial, h(m.hubCertPem)].join(' ');

/** An enrolled node with an SM2 identity, and a factory of renewals (new TLS pair, SM2 pair, serial and hub certificate each time). */
function sm2Node(t: Parameters<typeof sm2Setup>[0], prefix: string) {
  const { dir, ca, sm2CaPem, sm2Cert } = sm2Setup(t, prefix);
  const dataDir = join(dir, 'data');
  const hubKey = sm2GenerateKeyPem().privateKeyPem;
  enrolDir(dataDir, { ca, nodeId: '430100' });
  const sm2Key = sm2GenerateKeyPem().privateKeyPem;
  writeSm2(dataDir, { keyPem: sm2Key, certPem: sm2Cert('430100', sm2Key), caCertPem: sm2CaPem, hubCertPem: sm2Cert('430000', hubKey) });
  const renewed = (from: ExchangeMaterial | Renewed, c: TestCa): Renewed => {
    const tls = issue(c, '430100');
    const k = sm2GenerateKeyPem().privateKeyPem;
    return {
      keyPem: tls.keyPem, certPem: tls.certPem, previousKeyPem: from.keyPem, hubCertPem: issue(c, '430000').certPem,
      enrolment: { ...from.enrolment, serial: tls.serial, renewedAt: new Date().toISOString() },
      sm2: { keyPem: k, certPem: sm2Cert('430100', k), caCertPem: sm2CaPem, hubCertPem: sm2Cert('430000', hubKey), previousKeyPem: from.sm2!.keyPem },
    };
  };
  return { dataDir, ca, renewed };
}

t.test('a renewal (TLS + SM2 + enrolment + hub certificate) cut at every step loads as all old or all new', (t) => {
  const { dataDir, ca, renewed } = sm2Node(t, 'install-crash-');
  const old = loadExchangeMaterial(dataDir, '430100');
  const next = renewed(old, ca);
  const files = renewalFiles(dataDir, next);
  t.same(files.map((f) => f.name).sort(), ['enrolment.json', 'hub-sm2.pem', 'hub.pem', 'node-sm2.key', 'node-sm2.key.prev', 'node-sm2.pem', 'node.key', 'node.key.prev', 'node.pem', 'sm2-ca.pem'], 'one set holds every file the renewal changes');
  const copy = (label: string) => {
    const d = join(dataDir, '..', `cut-${label}`);
    cpSync(dataDir, d, { recursive: true });
    return { d, x: exchangePaths(d).dir };
  };

  // cut while staging: i files written as .new, no install.json → the old generation
  for (let i = 0; i <= files.length; i++) {
    const { d, x } = copy(`stage-${i}`);
    stageFiles(x, files.slice(0, i));
    const m = loadExchangeMaterial(d, '430100');
    t.equal(generation(m), generation(old), `staged ${i} of ${files.length}: old`);
    t.equal(m.previousKeyPem, old.previousKeyPem, `staged ${i}: node.key.prev unchanged`);
  }
  // cut after the commit, j renames made → the new generation, rolled forward at load
  for (let j = 0; j <= files.length; j++) {
    const { d, x } = copy(`apply-${j}`);
    const id = stageFiles(x, files);
    commitInstall(x, id, files.map((f) => f.name));
    for (const f of files.slice(0, j)) renameSync(join(x, `${f.name}.${id}.new`), join(x, f.name));
    const m = loadExchangeMaterial(d, '430100');
    t.equal(generation(m), generation(next as ExchangeMaterial), `committed, ${j} of ${files.length} renamed: new`);
    t.same([m.keyPem, m.previousKeyPem, m.sm2?.keyPem, m.sm2?.previousKeyPem], [next.keyPem, old.keyPem, next.sm2!.keyPem, old.sm2!.keyPem], `committed, ${j} renamed: keys and previous keys`);
    t.same(readdirSync(x).filter((f) => f.endsWith('.new') || f === INSTALL_MARKER), [], `committed, ${j} renamed: finished, nothing left`);
  }
  t.end();
});

t.test('a loader in another process racing the renewals sees only whole generations and never fails a renewal', async (t) => {
  const { dataDir, ca, renewed } = sm2Node(t, 'install-race-');
  let current: ExchangeMaterial | Renewed = loadExchangeMaterial(dataDir, '430100');
  const known = new Set([generation(current as ExchangeMaterial)]);
  const gens: Renewed[] = [];
  for (let k = 0; k < 12; k++) gens.push((current = renewed(current, ca))); // keys made before the race, so that the writes follow each other closely
  const here = fileURLToPath(import.meta.url);
  const childFile = join(here, '..', `exchange-load-child${here.endsWith('.ts') ? '.ts' : '.js'}`);
  const child = spawn(process.execPath, [...process.execArgv, childFile, dataDir, '430100'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const ready = new Promise<void>((resolve) => child.stdout.on('data', (s: string) => ((out += s), out.includes('ready\n') && resolve())));
  await ready;
  for (const g of gens) {
    writeRenewal(dataDir, g); // throws on the old code when the loader dropped a .new file being written
    known.add(generation(g as ExchangeMaterial));
    await new Promise((r) => setTimeout(r, 5)); // let the loader run between renewals as well as during them
  }
  child.stdin.end();
  await once(child, 'exit');
  const report = JSON.parse(out.trim().split('\n').pop()!) as { loads: number; seen: string[] };
  t.ok(report.loads > 20, `the loader loaded ${report.loads} times`);
  t.same(report.seen.filter((s) => !known.has(s)), [], 'every load saw one whole generation (no error, no mix)');
  t.equal(generation(loadExchangeMaterial(dataDir, '430100')), generation(gens.at(-1) as ExchangeMaterial), 'the last renewal is in place');
});

t.test('an enrolment cut before its commit leaves the node unenrolled, and the next enrolment carries nothing of it (review L8)', (t) => {
  const { dataDir, ca, renewed } = sm2Node(t, 'install-enrol-');
  const withSm2 = loadExchangeMaterial(dataDir, '430100');
  // a fresh directory: an SM2 enrolment staged, then cut before install.json
  const fresh = join(dataDir, '..', 'fresh');
  const x = exchangePaths(fresh).dir;
  const first = renewed(withSm2, ca);
  cpSync(dataDir, fresh, { recursive: true });
  for (const f of readdirSync(x)) if (f !== GENERATION_FILE) renameSync(join(x, f), join(x, `${f}.0123456789abcdef.new`)); // every file staged, none committed
  t.notOk(isEnrolled(fresh), 'staged but not committed: not enrolled');
  t.throws(() => loadExchangeMaterial(fresh, '430100'), { code: 'ERR_CONFIG_INVALID', details: { key: 'hub' } });
  // the next enrolment (TLS only this time) clears the staged set
  const tls = issue(ca, '430100');
  writeEnrolment(fresh, { nodeId: '430100', keyPem: tls.keyPem, certPem: tls.certPem, caCertPem: ca.certPem, hubCertPem: first.hubCertPem!, enrolment: { ...first.enrolment, serial: tls.serial } });
  const m = loadExchangeMaterial(fresh, '430100');
  t.equal(m.sm2, undefined, 'no SM2 identity from the interrupted enrolment');
  t.equal(m.previousKeyPem, undefined, 'no previous key either');
  t.same(readdirSync(x).sort(), ['ca.pem', 'enrolment.json', GENERATION_FILE, 'hub.pem', 'node.key', 'node.pem'], 'only the new enrolment\'s files');

  // stray SM2 files installed by an earlier version's interrupted enrolment are removed with the commit
  const older = join(dataDir, '..', 'older');
  cpSync(dataDir, older, { recursive: true });
  const ox = exchangePaths(older);
  for (const f of [ox.key, ox.cert, ox.enrolment]) renameSync(f, `${f}.gone`);
  writeFileSync(`${ox.crl}`, 'stale');
  writeEnrolment(older, { nodeId: '430100', keyPem: tls.keyPem, certPem: tls.certPem, caCertPem: ca.certPem, hubCertPem: first.hubCertPem!, enrolment: { ...first.enrolment, serial: tls.serial } });
  t.equal(loadExchangeMaterial(older, '430100').sm2, undefined, 'the stray SM2 pair is not loaded');
  t.notOk(existsSync(ox.sm2Key) || existsSync(ox.sm2Cert) || existsSync(ox.crl), 'and removed, with the stale CRL');
  t.end();
});

t.test('a tampered or foreign install.json is refused with ERR_CONFIG_INVALID, never followed', (t) => {
  const { dataDir } = sm2Node(t, 'install-bad-');
  const x = exchangePaths(dataDir).dir;
  const before = loadExchangeMaterial(dataDir, '430100');
  for (const [label, text] of [
    ['not JSON', '{'],
    ['a path outside the directory', JSON.stringify({ id: '0123456789abcdef', install: ['../../etc/passwd'], remove: [] })],
    ['a name not of the exchange directory', JSON.stringify({ id: '0123456789abcdef', install: [], remove: ['node.json'] })],
    ['not a list', JSON.stringify({ id: '0123456789abcdef', install: 'node.key' })],
    ['no set id', JSON.stringify({ install: [], remove: [] })],
    ['a set id that is a path', JSON.stringify({ id: '../../x', install: ['node.key'], remove: [] })],
    ['null', 'null'],
  ] as const) {
    writeFileSync(join(x, INSTALL_MARKER), text);
    t.throws(() => loadExchangeMaterial(dataDir, '430100'), { code: 'ERR_CONFIG_INVALID', details: { key: 'hub' }, message: /install\.json .*restore the exchange directory from a backup or enrol again/ }, label);
  }
  writeFileSync(join(x, INSTALL_MARKER), JSON.stringify({ id: '0123456789abcdef', install: [], remove: [] }));
  t.equal(generation(loadExchangeMaterial(dataDir, '430100')), generation(before), 'an empty set finishes as a no-op');
  t.notOk(existsSync(join(x, INSTALL_MARKER)));
  t.end();
});

t.test('readConsistent: a read that a set overlapped is made again; a directory changing at every read is refused', (t) => {
  const { dataDir } = sm2Node(t, 'install-reads-');
  const x = exchangePaths(dataDir).dir;
  let reads = 0;
  // a set applied while the first read ran (another process bumped the generation): read again
  t.equal(readConsistent(x, () => (++reads === 1 && writeFileSync(join(x, GENERATION_FILE), 'other\n'), reads)), 2, 'the second read is returned');
  // a torn read throws, but the generation moved: retried, not passed on
  reads = 0;
  t.equal(readConsistent(x, () => {
    if (++reads === 1) {
      writeFileSync(join(x, GENERATION_FILE), 'again\n');
      throw new Error('torn');
    }
    return 'whole';
  }), 'whole');
  // an error of a directory that did not change is passed on as it is
  t.throws(() => readConsistent(x, () => {
    throw new Error('broken');
  }), { message: 'broken' });
  // a writer installing in a loop: refused after 100 reads
  let n = 0;
  t.throws(() => readConsistent(x, () => writeFileSync(join(x, GENERATION_FILE), `${n++}\n`)), { code: 'ERR_CONFIG_INVALID', details: { key: 'hub' }, message: /changed at each of 100 reads.*stop the other process writing it/ });
  t.equal(n, 100);
  t.end();
});

t.test('hostile review of the install set: a stale marker, leftovers of a crash while staging, errors after the commit, modes', (t) => {
  const { dataDir, ca, renewed } = sm2Node(t, 'install-stale-');
  const x = exchangePaths(dataDir).dir;
  const m0 = loadExchangeMaterial(dataDir, '430100');
  const g1 = renewed(m0, ca);
  // set 1 committed; its marker as a paused loader read it
  const f1 = renewalFiles(dataDir, g1);
  const id1 = stageFiles(x, f1);
  commitInstall(x, id1, f1.map((f) => f.name));
  const staleMarker = readFileSync(join(x, INSTALL_MARKER), 'utf8');
  t.equal(generation(loadExchangeMaterial(dataDir, '430100')), generation(g1 as ExchangeMaterial), 'set 1 in place');
  // set 2 staged (a crash before its commit), then the paused loader applies set 1's marker
  const g2 = renewed(g1, ca);
  stageFiles(x, renewalFiles(dataDir, g2));
  writeFileSync(join(x, INSTALL_MARKER), staleMarker);
  const m = loadExchangeMaterial(dataDir, '430100');
  t.equal(generation(m), generation(g1 as ExchangeMaterial), 'the stale marker installs nothing of set 2 (before: set 1 TLS beside set 2 SM2)');
  t.equal(m.previousKeyPem, m0.keyPem, 'node.key.prev is still the key before set 1');
  t.notOk(existsSync(join(x, INSTALL_MARKER)), 'the stale marker is gone');

  // a crash inside writeFileAtomic while staging leaves a temporary file holding a private key: the next writer removes it
  const tmpKey = join(x, `.node.key.${'a'.repeat(16)}.new.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmpKey, g2.keyPem, { mode: 0o600 });
  writeRenewal(dataDir, g2);
  t.notOk(existsSync(tmpKey), 'the temporary key file is removed');
  t.same(readdirSync(x).filter((f) => f.includes('.new')), [], 'no staged file of an earlier set is left');
  t.equal(generation(loadExchangeMaterial(dataDir, '430100')), generation(g2 as ExchangeMaterial), 'set 2 in place');
  t.equal(statSync(join(x, GENERATION_FILE)).mode & 0o777, 0o644, 'generation is readable by the daemon whoever finished the set');
  t.equal(statSync(exchangePaths(dataDir).key).mode & 0o777, 0o600, 'the key stays 0600 through the rename');

  // an error after the commit says so (the renewal then switches to the committed files), and the next load finishes the set
  const g3 = renewed(g2, ca);
  rmSync(join(x, GENERATION_FILE));
  mkdirSync(join(x, GENERATION_FILE)); // writing generation now fails: after the renames, before the marker goes
  t.throws(() => writeRenewal(dataDir, g3), { committed: true } as unknown as Error);
  rmdirSync(join(x, GENERATION_FILE));
  t.equal(generation(loadExchangeMaterial(dataDir, '430100')), generation(g3 as ExchangeMaterial), 'the committed set is in place after the next load');
  t.notOk(existsSync(join(x, INSTALL_MARKER)));
  t.end();
});

t.test('directories of earlier versions: a complete two-phase pair is installed, a half one dropped', (t) => {
  const { dataDir, ca } = sm2Node(t, 'install-legacy-');
  const p = exchangePaths(dataDir);
  const next = issue(ca, '430100');
  writeFileSync(`${p.key}.new`, next.keyPem, { mode: 0o600 }); // nothing renamed yet when the old writer crashed
  writeFileSync(`${p.cert}.new`, next.certPem);
  t.equal(loadExchangeMaterial(dataDir, '430100').certPem, next.certPem, 'the complete pair is installed (as those versions did)');
  t.notOk(existsSync(`${p.key}.new`) || existsSync(`${p.cert}.new`));
  writeFileSync(`${p.key}.new`, issue(ca, '430100').keyPem, { mode: 0o600 }); // crashed while writing the pair
  t.equal(loadExchangeMaterial(dataDir, '430100').certPem, next.certPem, 'half a pair: the installed one stays');
  t.notOk(existsSync(`${p.key}.new`), 'and the half is dropped');
  t.end();
});
