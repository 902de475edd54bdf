/** A pino destination that keeps each JSON log line, parsed, for tests that read what a server logged. */
import { Writable } from 'node:stream';

export function logLines(): { lines: Record<string, unknown>[]; logStream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logStream };
}
