/**
 * The one module of node/ that touches node:crypto: the secret files (JWT, subject key) and the
 * subject handle for audit objects.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { NewFile } from '../audit/store-files.js';
import { assertPrivateFile } from '../server/credentials.js';
import { subjectHmac } from '../protocol/crypto.js';

/**
 * Reads a secret (JWT HS256, subject key); when the file is absent, a random 32-byte one and the
 * file to write (mode 0600) once the start has passed its checks. Writes nothing. An existing file
 * its group or others may read is refused (an Error naming it and `chmod 600`).
 */
export function readOrNewSecret(file: string): { secret: Buffer; create?: NewFile } {
  if (existsSync(file)) {
    assertPrivateFile(file);
    return { secret: Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8') };
  }
  const value = randomBytes(32).toString('base64url');
  return { secret: Buffer.from(value, 'utf8'), create: { path: file, content: `${value}\n` } };
}

/**
 * The handle of a subject code in audit objects: `hmac-sha256:<hex>` keyed with this node's
 * subject key (DATADIR/subject.key), as the hub does with its own key. Stable for one node, not
 * reversible without the key. (Entries written before this key existed say `subject:<sha256 prefix>`.)
 */
export function subjectHandle(key: Uint8Array, code: string): string {
  return subjectHmac(key, code);
}

