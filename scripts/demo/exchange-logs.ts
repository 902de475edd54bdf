/**
 * The demo's auditor step for the exchange: every side's signed exchange log exported to
 * DIR/exchange/<node-id>.ndjson and verified offline with the CA certificate and the hub's CRL
 * (DIR/exchange/crl.pem), and one batch's evidence package (DIR/exchange/evidence-<id>.json, both
 * halves) made and verified. The revoked node's log must fail, and only on what it signed after its
 * revocation (the refused batches: ERR_EXCHANGE_REVOKED_SIGNER, ERR_EXCHANGE_UNPAIRED); every other log must verify.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Runs `credit …` in this process (the demo already runs inside `credit demo`): no process start per command. */
async function credit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../cli.js');
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}

export interface ExchangeSide {
  id: string;
  configFile: string;
}

const AFTER_REVOCATION = new Set(['ERR_EXCHANGE_REVOKED_SIGNER', 'ERR_EXCHANGE_UNPAIRED']);

export async function exportAndVerifyExchange(o: { out: string; caCertFile: string; hubConfigFile: string; sides: ExchangeSide[]; revoked: string; step: (s: string) => void }): Promise<Record<string, string>> {
  const dir = join(o.out, 'exchange');
  mkdirSync(dir, { recursive: true });
  const crl = join(dir, 'crl.pem');
  const c = await credit(['hub', 'crl', '--config', o.hubConfigFile, '--out', crl]);
  if (c.code !== 0) throw new Error(`hub crl failed: ${c.stderr}`);
  const result: Record<string, string> = {};
  for (const s of o.sides) {
    const file = join(dir, `${s.id}.ndjson`);
    const ex = await credit(['exchange', 'export', '--config', s.configFile, '--out', file]);
    if (ex.code !== 0) throw new Error(`exchange export of ${s.id} failed: ${ex.stderr}`);
    const v = await credit(['exchange', 'verify', file, '--ca', o.caCertFile, '--crl', crl]);
    const first = v.stdout.split('\n')[0]!;
    if (s.id === o.revoked) {
      const codes = [...v.stdout.matchAll(/^(ERR_[A-Z_]+) envelope/gm)].map((m) => m[1]!);
      if (v.code !== 1 || codes.length === 0 || codes.some((x) => !AFTER_REVOCATION.has(x))) throw new Error(`the revoked node's exchange log should fail only on what it signed after its revocation: ${v.stdout}${v.stderr}`);
      result[s.id] = `${first}; FAILED as expected: ${codes.length} problem(s) (${[...new Set(codes)].join(', ')}) on the batches signed after the revocation`;
    } else {
      if (v.code !== 0) throw new Error(`the exchange log of ${s.id} does not verify: ${v.stdout}${v.stderr}`);
      result[s.id] = `OK ${first}`;
    }
    o.step(`exchange log ${s.id} exported to ${file} and verified: ${result[s.id]}`);
  }
  return result;
}

/** One batch of `node`'s, as an evidence package with the hub's half and the node's, verified. */
export async function evidenceOfFirstBatch(o: { out: string; caCertFile: string; hubConfigFile: string; node: ExchangeSide; step: (s: string) => void }): Promise<string> {
  const dir = join(o.out, 'exchange');
  const log = readFileSync(join(dir, `${o.node.id}.ndjson`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { header?: { type: string; id: string } });
  const id = log.find((l) => l.header?.type === 'batch')?.header?.id;
  if (!id) throw new Error(`no batch in the exchange log of ${o.node.id}`);
  const hubHalf = join(dir, `evidence-${id}.hub.json`);
  const file = join(dir, `evidence-${id}.json`);
  for (const args of [
    ['audit', 'evidence', '--config', o.hubConfigFile, '--envelope', id, '--out', hubHalf],
    ['audit', 'evidence', '--config', o.node.configFile, '--envelope', id, '--with', hubHalf, '--out', file],
  ]) {
    const r = await credit(args);
    if (r.code !== 0) throw new Error(`credit ${args.slice(0, 2).join(' ')} failed: ${r.stderr}`);
  }
  const v = await credit(['audit', 'evidence', 'verify', file, '--ca', o.caCertFile]);
  if (v.code !== 0) throw new Error(`the evidence package of ${id} does not verify: ${v.stdout}${v.stderr}`);
  o.step(`evidence package of batch ${id} (${o.node.id} → hub, with its receipt and both audit logs' proofs) written to ${file} and verified`);
  return file;
}
