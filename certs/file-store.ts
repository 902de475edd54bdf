/**
 * CertRegistry and TokenStore over a CA directory's `state.json`, safe across processes: every
 * change takes the directory lock, re-reads the file, applies itself and writes the file back
 * atomically; reads need no lock because the file is only ever replaced by rename.
 */
import { readFileSync } from 'node:fs';
import type { RevocationReason } from './crl.js';
import { certError } from './errors.js';
import { withFileLock, writeFileAtomic, type LockOptions } from './safe-files.js';
import { parseState, serializeState, StateStore, type CaState } from './state-store.js';
import type { CertRegistry, IssuedCert, TokenRecord, TokenStore } from './types.js';

export function readStateFile(path: string): CaState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw certError('ERR_CA_NOT_FOUND', `no CA state file at ${path}`);
    throw e;
  }
  return parseState(text, path);
}

export function writeStateFile(path: string, s: CaState): void {
  writeFileAtomic(path, serializeState(s), 0o600);
}

/** A StateStore over the file as it is now, persisting each change (caller holds the lock). */
export function lockedStateStore(statePath: string): StateStore {
  return new StateStore(readStateFile(statePath), (s) => writeStateFile(statePath, s));
}

export class FileCaStore implements CertRegistry, TokenStore {
  constructor(
    readonly statePath: string,
    readonly lockPath: string,
    private readonly lock: LockOptions = {},
  ) {}

  private change<T>(fn: (s: StateStore) => Promise<T>): Promise<T> {
    return withFileLock(this.lockPath, () => fn(lockedStateStore(this.statePath)), this.lock);
  }

  private view(): StateStore {
    return new StateStore(readStateFile(this.statePath));
  }

  addIssued(rec: IssuedCert): Promise<void> {
    return this.change((s) => s.addIssued(rec));
  }

  listIssued(): Promise<IssuedCert[]> {
    return this.view().listIssued();
  }

  markRevoked(serial: string, at: Date, reason: RevocationReason): Promise<boolean> {
    return this.change((s) => s.markRevoked(serial, at, reason));
  }

  putToken(rec: TokenRecord): Promise<void> {
    return this.change((s) => s.putToken(rec));
  }

  findToken(hash: string): Promise<TokenRecord | undefined> {
    return this.view().findToken(hash);
  }

  markTokenUsed(hash: string, at: Date): Promise<boolean> {
    return this.change((s) => s.markTokenUsed(hash, at));
  }
}
