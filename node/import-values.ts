/**
 * Values as clerks write them, normalised before validation: surrounding spaces (also 全角 and
 * no-break spaces) trimmed; full-width digits and letters folded (NFKC) in dates, numbers and
 * identifiers; identifiers upper-cased (`91350100m000100y43`); dates written `2026/03/01`,
 * `2026-3-1`, `2026.3.1`, `20260301`, `2026年3月1日`, with a time after them, or as an Excel serial
 * day number (46082 = 2026-03-01; 44620 in a workbook of the 1904 date system) become `2026-03-01`; amounts lose thousands separators
 * (`1,000.50`) and a unit: in a column whose label says 万元, `5000元` becomes `0.5`, `0.5万元` `0.5`.
 * A value that does not fit is passed on as written (trimmed): the validator reports it.
 *
 * `normaliseCell` returns the value and whether it changed; the import counts the changes per
 * field for the audit entry (the stored record keeps only the normalised value).
 */
import type { FieldSpec } from '../protocol/catalog.js';
import { formatIsoDate } from '../protocol/catalog-calendar.js';

const ISO = /^\d{4}-\d{2}-\d{2}$/;
const NUMERIC = /^-?\d+(\.\d+)?$/;
const USCC_SHAPE = /^[0-9A-Z]{15,18}$/;
const DATE_PARTS = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?)?$/;
const COMPACT = /^(\d{4})(\d{2})(\d{2})$/;
const SERIAL = /^\d{5}(\.\d+)?$/;
/** Identifier fields by name (idNumber is a plain string field holding a document number). */
const IDENTIFIER_NAMES = new Set(['idNumber', 'legalRepIdNumber']);

/** Trims ASCII and 全角 / no-break spaces. */
function trimAll(s: string): string {
  const c0 = s.charCodeAt(0);
  const cn = s.charCodeAt(s.length - 1);
  if (c0 > 32 && cn > 32 && c0 !== 0x3000 && cn !== 0x3000 && c0 !== 0xa0 && cn !== 0xa0 && c0 !== 0xfeff) return s;
  return s.replace(/^[\s\u3000\u00a0\ufeff]+|[\s\u3000\u00a0\ufeff]+$/g, '');
}

/** Excel's day number (1900 date system, with its 1900-02-29) to YYYY-MM-DD. */
export function excelSerialToIso(serial: number): string | undefined {
  const days = Math.floor(serial);
  if (days < 1 || days > 2958465) return undefined;
  const d = new Date(Date.UTC(1899, 11, 30) + days * 86_400_000);
  return formatIsoDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
}

/** Days from Excel's 1900 day 0 to its 1904 day 0 (1904-01-01 is day 1462 in the 1900 system). */
const DAYS_1900_TO_1904 = 1462;

function normaliseDate(s: string, date1904: boolean): string {
  if (ISO.test(s)) return s;
  const t = s.normalize('NFKC').trim();
  const m = DATE_PARTS.exec(t) ?? COMPACT.exec(t);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    // out-of-range parts (2026-02-30) stay in ISO shape: the validator says what is wrong
    return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  }
  if (SERIAL.test(t)) return excelSerialToIso(Number(t) + (date1904 ? DAYS_1900_TO_1904 : 0)) ?? t;
  return t;
}

function normaliseNumber(s: string, label: string): string {
  if (NUMERIC.test(s)) return s;
  let t = s.normalize('NFKC').replace(/[\s,]/g, '');
  const inTenThousands = label.includes('万元');
  let factor = 1;
  if (t.endsWith('万元')) {
    t = t.slice(0, -2);
    factor = inTenThousands ? 1 : 10_000;
  } else if (t.endsWith('元')) {
    t = t.slice(0, -1);
    factor = inTenThousands ? 1 / 10_000 : 1;
  }
  if (t.startsWith('+')) t = t.slice(1);
  if (!NUMERIC.test(t)) return s;
  if (factor === 1) return t;
  const n = Number(t) * factor;
  // round away binary noise: amounts have at most 6 decimals in 万元 (a cent is 0.000001 万元)
  return String(Math.round(n * 1e6) / 1e6);
}

function normaliseIdentifier(s: string): string {
  if (USCC_SHAPE.test(s)) return s;
  return s.normalize('NFKC').replace(/\s+/g, '').toUpperCase();
}

/** The value of one cell for field `f`, normalised; `changed` when it differs from what was written. */
export function normaliseCell(f: FieldSpec, raw: string, date1904 = false): { value: string; changed: boolean } {
  const v = trimAll(raw);
  let out = v;
  switch (f.type) {
    case 'date':
      out = normaliseDate(v, date1904);
      break;
    case 'number':
    case 'integer':
      out = normaliseNumber(v, f.label);
      break;
    case 'uscc':
    case 'resident-id':
    case 'subject-id':
      out = normaliseIdentifier(v);
      break;
    default:
      if (IDENTIFIER_NAMES.has(f.name)) out = normaliseIdentifier(v);
  }
  return { value: out, changed: out !== raw };
}
