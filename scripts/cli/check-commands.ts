/** The `check` command of `credit node` and `credit hub`: which checks each runs (scripts/cli/check.ts holds them). */
import { accessSync, constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { parseCrl } from '../../certs/crl.js';
import { tlsClientOptions } from '../../certs/tls.js';
import { isCreditError } from '../../protocol/errors.js';
import { loadConfig } from '../../node/config.js';
import { NODE_SCHEMA } from '../../node/migrations.js';
import { exchangePaths } from '../../node/exchange/files.js';
import { loadHubConfig } from '../../hub/config.js';
import { HUB_SCHEMA } from '../../hub/migrations.js';
import { HUB_FILES } from '../../hub/identity.js';
import { JOURNAL_FILE, openToOthers, registerJournal } from '../../hub/register-journal.js';
import { checkCertificate, checkDataDir, checkStore, report, type CheckLine } from './check.js';
import { command, requireString, type Command } from './framework.js';

/** Skew beyond this fails: envelopes carry a timestamp the hub accepts only within its window (default 5 min). */
const SKEW_FAIL_MS = 60_000;
const SKEW_WARN_MS = 10_000;

function configLine(f: () => string): { line: CheckLine; ok: boolean } {
  try {
    return { line: { verdict: 'ok', what: 'config', detail: f() }, ok: true };
  } catch (e) {
    return { line: { verdict: 'FAIL', what: 'config', detail: isCreditError(e) ? `${e.code}: ${e.message}` : (e as Error).message }, ok: false };
  }
}

/** GET /healthz on the hub with the node's certificate; compares the hub's Date header with this clock. */
async function checkHubContact(url: string, tls: { caCertPem: string; certPem: string; keyPem: string }, timeoutMs: number): Promise<CheckLine[]> {
  const agent = new Agent({ connect: { ...tlsClientOptions({ ...tls, expectNodeId: '430000' }), timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  try {
    const sent = Date.now();
    const res = await request(`${url}/healthz`, { dispatcher: agent });
    await res.body.text();
    const at = (sent + Date.now()) / 2;
    const date = Date.parse(String(res.headers['date'] ?? ''));
    const lines: CheckLine[] = [{ verdict: res.statusCode === 200 ? 'ok' : 'FAIL', what: 'hub', detail: `${url} answers HTTP ${res.statusCode}` }];
    if (Number.isNaN(date)) lines.push({ verdict: 'warn', what: 'clock skew', detail: 'the hub sent no Date header' });
    else {
      const skew = at - date; // Date has whole seconds: ±1 s is noise
      const verdict = Math.abs(skew) > SKEW_FAIL_MS ? 'FAIL' : Math.abs(skew) > SKEW_WARN_MS ? 'warn' : 'ok';
      lines.push({ verdict, what: 'clock skew', detail: `this clock is ${(skew / 1000).toFixed(0)} s ${skew >= 0 ? 'ahead of' : 'behind'} the hub's${verdict === 'ok' ? '' : '; synchronise it (chrony/NTP)'}` });
    }
    return lines;
  } catch (e) {
    return [{ verdict: 'FAIL', what: 'hub', detail: `${url} cannot be reached: ${(e as { code?: string }).code ?? (e as Error).message}` }];
  } finally {
    await agent.close();
  }
}

export const nodeCheckCommand: Command = command({
  name: 'check',
  summary: 'check this node: config, data directory, store and schema, certificate, CRL, hub contact and clock, disk space (exit 1 on any FAIL)',
  usage: '--config FILE [--offline]',
  help: ['  --config FILE  the node config', '  --offline      do not contact the hub (no reachability or clock-skew check)'].join('\n'),
  options: { config: { type: 'string' }, offline: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const file = requireString(values, 'config');
    let config: ReturnType<typeof loadConfig> | undefined;
    const c = configLine(() => {
      config = loadConfig(file);
      return `${file}: node ${config.nodeId}, listens on ${config.listen.host}:${config.listen.port}${config.hub ? `, hub ${config.hub.url}` : ', no hub (standalone)'}`;
    });
    const lines: CheckLine[] = [c.line];
    if (config) {
      lines.push(...checkDataDir(config.dataDir));
      lines.push(...(await checkStore(config.databaseTarget, NODE_SCHEMA, 'node')));
      const paths = exchangePaths(config.dataDir);
      if (config.hub?.unsignedSeqRefusals) {
        lines.push({ verdict: 'warn', what: 'seq refusals', detail: "hub.unsignedSeqRefusals is set: the node acts on the hub's unsigned ERR_SEQUENCE_GAP / ERR_OUT_OF_ORDER answers, which anything between node and hub can make up (docs/protocol.md, \"Signed seq refusals\"); remove the key once the hub runs protocol 1.2" });
      }
      if (config.hub) {
        if (!existsSync(paths.cert)) lines.push({ verdict: 'FAIL', what: 'certificate', detail: `${paths.cert} is missing: enrol with \`credit node init --config FILE --hub URL --token T --ca ca.pem\`` });
        else {
          const caCertPem = readFileSync(paths.ca, 'utf8');
          const crlPem = existsSync(paths.crl) ? readFileSync(paths.crl, 'utf8') : undefined;
          lines.push(...(await checkCertificate('certificate', paths.cert, { now: new Date(), caCertPem, ...(crlPem === undefined ? {} : { crlPem }), renewal: 'the node renews it while the hub is reachable; if it lapsed, re-enrol with a new token' })));
          if (crlPem === undefined) lines.push({ verdict: 'warn', what: 'CRL', detail: `${paths.crl} not fetched yet (the node fetches it from the hub)` });
          if (existsSync(paths.sm2Cert)) lines.push(await sm2CrlLine(paths, new Date()));
          if (values['offline'] !== true) lines.push(...(await checkHubContact(config.hub.url, { caCertPem, certPem: readFileSync(paths.cert, 'utf8'), keyPem: readFileSync(paths.key, 'utf8') }, Math.min(config.hub.timeoutMs, 10_000))));
        }
      }
    }
    return report(lines, io);
  },
});

/** A node enrolled with an SM2 key keeps the SM2 root's CRL (GET /v1/crl/sm2) for the evidence of its SM log: fetched, the SM2 root's, current. */
async function sm2CrlLine(paths: ReturnType<typeof exchangePaths>, now: Date): Promise<CheckLine> {
  if (!existsSync(paths.sm2Crl)) return { verdict: 'warn', what: 'SM2 CRL', detail: `${paths.sm2Crl} not fetched yet (a node enrolled with an SM2 key fetches it from the hub, GET /v1/crl/sm2)` };
  try {
    const crl = await parseCrl(readFileSync(paths.sm2Crl, 'utf8'), { caCertPem: readFileSync(paths.sm2Ca, 'utf8') });
    if (crl.nextUpdate === undefined || crl.nextUpdate < now) return { verdict: 'warn', what: 'SM2 CRL', detail: `the stored SM2 CRL's nextUpdate ${crl.nextUpdate?.toISOString() ?? '(none)'} has passed: evidence halves of the SM log would carry it stale (ERR_CRL_STALE); the node fetches a new one from the hub` };
    return { verdict: 'ok', what: 'SM2 CRL', detail: `the SM2 root's, fresh until ${crl.nextUpdate.toISOString()}` };
  } catch (e) {
    return { verdict: 'FAIL', what: 'SM2 CRL', detail: isCreditError(e) ? `${e.code}: ${e.message}` : String(e) };
  }
}

export const hubCheckCommand: Command = command({
  name: 'check',
  summary: 'check this hub: config, data directory, store and schema, CA, hub certificate, register journal, disk space (exit 1 on any FAIL)',
  usage: '--config FILE',
  help: '  --config FILE  the hub config',
  options: { config: { type: 'string' } },
  run: async ({ values, io }) => {
    const file = requireString(values, 'config');
    let config: ReturnType<typeof loadHubConfig> | undefined;
    const c = configLine(() => {
      config = loadHubConfig(file);
      return `${file}: listens on ${config.listen.host}:${config.listen.port}, hosts ${config.hosts.join(', ')}`;
    });
    const lines: CheckLine[] = [c.line];
    if (config) {
      lines.push(...checkDataDir(config.dataDir));
      lines.push(...(await checkStore(config.databaseTarget, HUB_SCHEMA, 'hub')));
      const now = new Date();
      lines.push(...(await checkCertificate('CA', join(config.caDir, 'ca.pem'), { now, renewal: 'a new provincial CA must be set up and handed to every node' })));
      const hubCert = join(config.dataDir, HUB_FILES.cert);
      if (existsSync(hubCert)) lines.push(...(await checkCertificate('certificate', hubCert, { now, renewal: 'the hub re-issues it at start when under a third of its life is left: restart it' })));
      else lines.push({ verdict: 'warn', what: 'certificate', detail: `${hubCert} does not exist yet; \`credit hub start\` issues it` });
      lines.push(checkRegisterJournal(config.caDir));
    }
    return report(lines, io);
  },
});

/**
 * The register journal (hub/register-journal.ts): the hub must be able to append to it (else it
 * does not start, and revocations fail with ERR_REGISTER_JOURNAL); malformed or foreign lines are
 * reported. Read-only: a missing journal is not created here.
 */
export function checkRegisterJournal(caDir: string): CheckLine {
  const file = join(caDir, JOURNAL_FILE);
  try {
    accessSync(existsSync(file) ? file : caDir, fsConstants.R_OK | fsConstants.W_OK);
  } catch (e) {
    return { verdict: 'FAIL', what: 'journal', detail: `ERR_REGISTER_JOURNAL: ${existsSync(file) ? file : caDir} is not readable and writable by this user (${(e as NodeJS.ErrnoException).code}); the hub's user must append to the register journal (docs/scale.md "The register journal")` };
  }
  if (!existsSync(file)) return { verdict: 'ok', what: 'journal', detail: `${file} does not exist yet; \`credit hub start\` creates it` };
  const open = openToOthers(file);
  if (open) return { verdict: 'FAIL', what: 'journal', detail: `ERR_REGISTER_JOURNAL: ${open} (the hub does not start with it)` };
  try {
    const r = registerJournal(caDir, readFileSync(join(caDir, 'ca.pem'), 'utf8')).read();
    const facts = `${r.entries.length} fact(s) of this CA`;
    if (r.skipped > 0 || r.foreign > 0) return { verdict: 'warn', what: 'journal', detail: `${file}: ${facts}; ${r.skipped} malformed line(s), ${r.foreign} of another CA — a torn line after a crash is harmless; otherwise the file was edited or copied in (docs/scale.md "The register journal")` };
    return { verdict: 'ok', what: 'journal', detail: `${file}: ${facts}, appendable` };
  } catch (e) {
    return { verdict: 'FAIL', what: 'journal', detail: isCreditError(e) ? `${e.code}: ${e.message}` : String(e) };
  }
}
