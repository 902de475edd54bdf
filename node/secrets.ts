/**
 * The one module of node/ that touches node:crypto: the JWT secret file, subject-code hashing
 * for audit objects.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Reads the HS256 secret, creating a random 32-byte one (mode 0600) when the file is absent. */
export function loadOrCreateSecret(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8');
}

/** A stable, non-reversible handle for a subject code, for audit objects: `subject:<sha256 prefix>`. */
export function subjectHandle(code: string): string {
  return `subject:${createHash('sha256').update(code, 'utf8').digest('hex').slice(0, 32)}`;
}

