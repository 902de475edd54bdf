/**
 * The CA's register of issued certificates and enrolment tokens as one JSON document
 * (`state.json` of a CA directory): a StateStore works on it in memory and calls `persist` after
 * every change. Token hashes are compared in constant time, with no early exit.
 */
import type { RevocationReason } from './crl.js';
import { certError } from './errors.js';
import { sameDigest } from './pki-crypto.js';
import type { CertRegistry, IssuedCert, TokenRecord, TokenStore } from './types.js';

export interface CaState {
  version: 1;
  issued: IssuedCert[];
  tokens: TokenRecord[];
}

export function emptyState(): CaState {
  return { version: 1, issued: [], tokens: [] };
}

export function serializeState(s: CaState): string {
  return `${JSON.stringify(s, null, 2)}\n`;
}

/** Parses state.json text; ERR_CA_STATE_INVALID when it is not a version 1 state. */
export function parseState(text: string, path = 'state.json'): CaState {
  let s: Partial<CaState> | null;
  try {
    s = JSON.parse(text) as Partial<CaState> | null;
  } catch (e) {
    throw certError('ERR_CA_STATE_INVALID', `CA state file ${path} is not JSON: ${(e as Error).message}`);
  }
  if (s === null || typeof s !== 'object' || s.version !== 1 || !Array.isArray(s.issued) || !Array.isArray(s.tokens)) {
    throw certError('ERR_CA_STATE_INVALID', `CA state file ${path} is not { "version": 1, "issued": [], "tokens": [] }`);
  }
  return s as CaState;
}

export class StateStore implements CertRegistry, TokenStore {
  constructor(
    private readonly state: CaState,
    private readonly persist: (s: CaState) => void | Promise<void> = () => {},
  ) {}

  snapshot(): CaState {
    return structuredClone(this.state);
  }

  async addIssued(rec: IssuedCert): Promise<void> {
    if (this.state.issued.some((r) => r.serial === rec.serial)) throw new Error(`serial ${rec.serial} was already issued`);
    this.state.issued.push({ ...rec });
    await this.persist(this.state);
  }

  async listIssued(): Promise<IssuedCert[]> {
    return this.state.issued.map((r) => ({ ...r }));
  }

  async markRevoked(serial: string, at: Date, reason: RevocationReason): Promise<boolean> {
    const rec = this.state.issued.find((r) => r.serial === serial);
    if (!rec) return false;
    // a revocation stands; only one scheduled for later (a superseded certificate's overlap) is brought forward
    if (rec.status !== 'revoked' || (rec.revokedAt !== undefined && Date.parse(rec.revokedAt) > at.getTime())) {
      Object.assign(rec, { status: 'revoked', revokedAt: at.toISOString(), reason });
      await this.persist(this.state);
    }
    return true;
  }

  async putToken(rec: TokenRecord): Promise<void> {
    this.state.tokens.push({ ...rec });
    await this.persist(this.state);
  }

  private token(hash: string): TokenRecord | undefined {
    let found: TokenRecord | undefined;
    for (const t of this.state.tokens) if (sameDigest(t.hash, hash)) found = t; // no early exit
    return found;
  }

  async findToken(hash: string): Promise<TokenRecord | undefined> {
    const t = this.token(hash);
    return t && { ...t };
  }

  async markTokenUsed(hash: string, at: Date): Promise<boolean> {
    const t = this.token(hash);
    if (!t || t.usedAt !== undefined || t.cancelledAt !== undefined) return false;
    t.usedAt = at.toISOString();
    await this.persist(this.state);
    return true;
  }
}

/** In-memory stores (tests, tools, or a hub that keeps its own persistence). */
export function memoryStores(): StateStore {
  return new StateStore(emptyState());
}
