/**
 * The one module of node/ that touches node:crypto: the secret files (JWT, subject key) and the
 * subject handle for audit objects.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { subjectHmac } from '../protocol/crypto.js';

/** Reads a secret (JWT HS256, subject key), creating a random 32-byte one (mode 0600) when the file is absent. */
export function loadOrCreateSecret(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8');
}

/**
 * The handle of a subject code in audit objects: `hmac-sha256:<hex>` keyed with this node's
 * subject key (DATADIR/subject.key), as the hub does with its own key. Stable for one node, not
 * reversible without the key. (Entries written before this key existed say `subject:<sha256 prefix>`.)
 */
export function subjectHandle(key: Uint8Array, code: string): string {
  return subjectHmac(key, code);
}

