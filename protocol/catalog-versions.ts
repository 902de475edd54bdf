/**
 * Catalog versions during a migration. A record carries the catalog version it was written
 * against (`catalogVersion`); every version in SUPPORTED_CATALOG_VERSIONS stays valid and is
 * checked against its own field sets. Input without a stamp is read as CATALOG_VERSION (records
 * from clerks and departments are new records); a WireRecord without a stamp was sent by software
 * older than the stamp and is read as WIRE_DEFAULT_CATALOG_VERSION. docs/protocol.md § Catalog versions.
 */
import type { RecordType } from './catalog-fields.js';
import { CATALOG_VERSION, findRecordType } from './catalog-types.js';
import { CATALOG_VERSION_2026, RECORD_TYPES_2026_CHANGED } from './catalog-v2026.js';

/** Every catalog version this implementation reads, oldest first; it writes CATALOG_VERSION. */
export const SUPPORTED_CATALOG_VERSIONS: readonly string[] = Object.freeze([CATALOG_VERSION_2026, CATALOG_VERSION]);

/** The version of a WireRecord that carries no `catalogVersion` (sent before versions were stamped). */
export const WIRE_DEFAULT_CATALOG_VERSION = CATALOG_VERSION_2026;

export function isSupportedCatalogVersion(v: unknown): v is string {
  return typeof v === 'string' && SUPPORTED_CATALOG_VERSIONS.includes(v);
}

/**
 * The record type `code` as catalog `version` defines it; undefined for an unknown code or an
 * unsupported version. Types unchanged since 2026.1 are the current ones.
 */
export function recordTypeIn(version: string, code: string): RecordType | undefined {
  if (version === CATALOG_VERSION) return findRecordType(code);
  if (version === CATALOG_VERSION_2026) return RECORD_TYPES_2026_CHANGED.get(code) ?? findRecordType(code);
  return undefined;
}
