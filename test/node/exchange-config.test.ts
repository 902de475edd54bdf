/** The node config's optional `hub` section: defaults, the URL normalised, bad keys named. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildConfig } from '../../node/config.js';

const dir = mkdtempSync(join(tmpdir(), 'node-hub-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const base = { nodeId: '430100', dataDir: join(dir, 'd') };

function keyOf(raw: unknown): string | undefined {
  try {
    buildConfig(raw, {});
  } catch (e) {
    return (e as { code?: string; details?: { key?: string } }).code === 'ERR_CONFIG_INVALID' ? (e as { details: { key: string } }).details.key : 'other';
  }
  return undefined;
}

t.test('no hub: standalone; a hub: every default filled in', async (t) => {
  t.equal(buildConfig(base, {}).hub, undefined);
  const c = buildConfig({ ...base, hub: { url: 'https://hub.example:8443/' } }, {});
  t.same(c.hub, { url: 'https://hub.example:8443', pollIntervalMs: 2000, batchMaxRecords: 5000, batchMaxBytes: 8388608, batchMaxAgeMs: 1000, checkpointIntervalMs: 120000, renewAt: 0.34, timeoutMs: 30000, unsignedSeqRefusals: false });
  t.ok(Object.isFrozen(c.hub));
  t.equal(buildConfig({ ...base, hub: { url: 'https://h', renewAt: 0.5 } }, {}).hub?.renewAt, 0.5, 'a fraction');
});

t.test('bad hub keys are named', async (t) => {
  const cases: [unknown, string][] = [
    [{ ...base, hub: {} }, 'hub.url'],
    [{ ...base, hub: { url: 'http://hub.example' } }, 'hub.url'],
    [{ ...base, hub: { url: 'https://hub.example/v1/batches' } }, 'hub.url'],
    [{ ...base, hub: { url: 'https://h', renewAt: 1.5 } }, 'hub.renewAt'],
    [{ ...base, hub: { url: 'https://h', renewAt: 0.6 } }, 'hub.renewAt'], // the hub renews only inside the last half
    [{ ...base, hub: { url: 'https://h', renewAt: '0.3' } }, 'hub.renewAt'],
    [{ ...base, hub: { url: 'https://h', batchMaxRecords: 6000 } }, 'hub.batchMaxRecords'],
    [{ ...base, hub: { url: 'https://h', batchMaxRecords: 1.5 } }, 'hub.batchMaxRecords'],
    [{ ...base, hub: { url: 'https://h', batchMaxBytes: 1000 } }, 'hub.batchMaxBytes'],
    [{ ...base, hub: { url: 'https://h', batchMaxBytes: 256 * 1024 * 1024 } }, 'hub.batchMaxBytes'],
    [{ ...base, hub: { url: 'https://h', pollIntervalMs: 0 } }, 'hub.pollIntervalMs'],
    [{ ...base, hub: { url: 'https://h', colour: 'red' } }, 'hub.colour'],
    [{ ...base, hub: 'https://h' }, 'hub'],
  ];
  for (const [raw, key] of cases) t.equal(keyOf(raw), key, JSON.stringify(raw).slice(60));
});
