/**
 * A node busy with as many XLSX imports as it may hold answers 503 ERR_IMPORT_BUSY with
 * Retry-After, logged as a refusal (info), not as a server failure with its stack (error): it is
 * the client's cue to try again, not something for the operator to chase.
 */
import t from 'tap';
import Fastify from 'fastify';
import { Writable } from 'node:stream';
import { installErrorHandling, RETRY_AFTER } from '../../node/http-errors.js';
import { nodeError } from '../../node/errors.js';

t.test('503 ERR_IMPORT_BUSY: Retry-After 60, logged as a refusal; any other 5xx still logged as a failure', async (t) => {
  const lines: { level: number; msg: string; code?: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const app = Fastify({ logger: { level: 'info', stream } });
  installErrorHandling(app);
  app.get('/busy', async () => {
    throw nodeError('ERR_IMPORT_BUSY', 'busy', { maxConcurrent: 2 });
  });
  app.get('/down', async () => {
    throw nodeError('ERR_HUB_UNAVAILABLE', 'hub down');
  });
  t.teardown(() => app.close());
  const busy = await app.inject({ method: 'GET', url: '/busy' });
  t.equal(busy.statusCode, 503);
  t.equal(busy.headers['retry-after'], String(RETRY_AFTER.ERR_IMPORT_BUSY));
  t.equal(busy.json().code, 'ERR_IMPORT_BUSY');
  const down = await app.inject({ method: 'GET', url: '/down' });
  t.equal(down.statusCode, 503);
  t.equal(down.headers['retry-after'], undefined, 'only the codes listed');
  const refused = lines.find((l) => l.msg === 'request refused' && l.code === 'ERR_IMPORT_BUSY');
  t.ok(refused, 'busy: a refusal');
  t.equal(refused?.level, 30, 'at info');
  t.notOk(lines.some((l) => l.msg === 'request failed' && JSON.stringify(l).includes('ERR_IMPORT_BUSY')), 'not a failure');
  t.ok(lines.some((l) => l.msg === 'request failed' && l.level === 50), 'another 5xx is still a failure, at error');
});
