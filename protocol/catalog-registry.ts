/**
 * Where record types come from at run time: the built-in national catalog (catalog-types.ts) and
 * the province supplementary catalog (地方补充目录) this process holds. A server holds one
 * province catalog at a time — the node the last one it fetched and verified, the hub the last
 * one its operator published — and installs it here; getRecordType() and validateRecord() then
 * know its types. No I/O: the servers fetch, verify (catalog-signature.ts) and store.
 */
import type { RecordType } from './catalog-fields.js';
import type { CatalogBody } from './catalog-document.js';
import { recordTypeOf } from './catalog-document.js';

export interface InstalledProvinceCatalog {
  province: string;
  serial: number;
  publishedAt: string;
  title: string;
  digest: string;
  types: ReadonlyMap<string, RecordType>;
}

/** Where a type was defined, as `credit catalog list` shows it. */
export type TypeOrigin =
  | { source: 'national'; version: string }
  | { source: 'province'; province: string; serial: number; publishedAt: string; title: string };

let installed: InstalledProvinceCatalog | null = null;

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/**
 * Makes a verified body (openCatalog) the province catalog of this process; null removes it.
 * The body was checked against the national codes, so no national type is shadowed.
 */
export function installProvinceCatalog(body: CatalogBody | null, digest = ''): InstalledProvinceCatalog | null {
  if (body === null) return (installed = null);
  const types = new Map(body.types.map((d) => [d.code, deepFreeze(recordTypeOf(d))]));
  installed = Object.freeze({ province: body.province, serial: body.serial, publishedAt: body.publishedAt, title: body.title, digest, types });
  return installed;
}

/** The province catalog this process holds, or null. */
export function provinceCatalog(): InstalledProvinceCatalog | null {
  return installed;
}

/** A province type by code (undefined when none is installed or it has no such type). */
export function provinceRecordType(code: string): RecordType | undefined {
  return installed?.types.get(code);
}

/** The serial of the province catalog held, 0 when none. */
export function provinceSerial(): number {
  return installed?.serial ?? 0;
}

/**
 * What a WireRecord of `type` carries about the catalog: `{ provinceCatalog: serial }` for a type
 * of the province catalog held, nothing for a national (or unknown) type.
 */
export function catalogMarker(type: string): { provinceCatalog?: number } {
  // a province type never takes a national code (assertCatalogDraft), so has() says it all
  return installed?.types.has(type) ? { provinceCatalog: installed.serial } : {};
}
