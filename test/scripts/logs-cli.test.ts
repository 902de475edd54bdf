/** `credit logs FILE` (issue 17 item 8): JSON log lines as readable text; other lines unchanged. */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../scripts/cli.js';

t.test('credit logs FILE prints time, level, message and the other fields', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'logs-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hub.log');
  writeFileSync(file, [
    JSON.stringify({ level: 30, time: Date.parse('2026-12-03T14:00:00Z'), pid: 1, hostname: 'h', service: 'credit-hub', msg: 'provincial hub listening', url: 'https://127.0.0.1:8443' }),
    JSON.stringify({ level: 50, time: Date.parse('2026-12-03T14:00:01Z'), msg: 'batch refused', code: 'ERR_OUT_OF_ORDER', req: { method: 'POST' } }),
    'not json at all',
    '',
  ].join('\n'));
  const out: string[] = [];
  t.equal(await main(['logs', file], { stdout: (s) => void out.push(s), stderr: () => undefined }), 0);
  t.equal(out.join(''), [
    '2026-12-03T14:00:00.000Z INFO  provincial hub listening  url=https://127.0.0.1:8443',
    '2026-12-03T14:00:01.000Z ERROR batch refused  code=ERR_OUT_OF_ORDER req={"method":"POST"}',
    'not json at all',
    '',
  ].join('\n'));
});
