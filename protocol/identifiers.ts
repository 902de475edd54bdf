/**
 * Identifier checks: the Unified Social Credit Code (USCC, GB 32100-2015) with the organization
 * code it embeds (GB 11714-1997), the resident identity number (GB 11643-1999), and node ids
 * (6-digit administrative division codes, GB/T 2260). Pure.
 *
 * Case: inputs are checked exactly as given. Lower-case letters (`91350100m000100y43`, a trailing
 * `x` on a resident ID) are refused: both standards define upper case only, and a stored identifier
 * must have one spelling or natural keys and subject look-ups split. Callers that take sloppy input
 * (CSV import, forms) call `normalizeIdentifier()` first, explicitly.
 */
import { protocolError } from './errors.js';
import { formatIsoDate, isCalendarDay, todayInChina } from './catalog-calendar.js';

/** The 31 characters of a USCC; a character's value is its index (no I, O, S, V, Z). */
export const USCC_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
/** Registration authority codes (登记管理部门代码), position 1. */
export const USCC_AUTHORITIES = '123456789ANY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** Province-level division codes (first two digits of GB/T 2260 codes). */
export const PROVINCE_CODES: readonly string[] = [
  '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42',
  '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65', '71', '81', '82',
];

export type IdentifierKind = 'uscc' | 'resident-id' | 'unknown';
export type IdentifierErrorCode = 'ERR_INVALID_USCC' | 'ERR_INVALID_RESIDENT_ID' | 'ERR_UNKNOWN_IDENTIFIER';
export interface IdentifierCheck {
  input: string;
  valid: boolean;
  kind: IdentifierKind;
  code?: IdentifierErrorCode;
  /** Data-quality remarks on a valid identifier (an implausible age); absent when there are none. */
  warnings?: string[];
}

/** Older than this many years on `today` is implausible for a living subject: a warning, not a failure. */
export const PLAUSIBLE_AGE_YEARS = 120;

/** Trims and upper-cases: the one explicit way to accept `91350100m000100y43` or a trailing `x`. */
export function normalizeIdentifier(s: string): string {
  return s.trim().toUpperCase();
}

function usccValue(c: string): number {
  return USCC_CHARSET.indexOf(c);
}

/** The check character of 17 USCC characters (all from USCC_CHARSET). */
export function usccCheckChar(body17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += usccValue(body17[i]!) * USCC_WEIGHTS[i]!;
  return USCC_CHARSET[(31 - (sum % 31)) % 31]!;
}

/** GB 11714 character value: digits 0–9, letters A=10 … Z=35; -1 for anything else. */
function orgValue(c: string): number {
  if (c >= '0' && c <= '9') return c.charCodeAt(0) - 48;
  if (c >= 'A' && c <= 'Z') return c.charCodeAt(0) - 55;
  return -1;
}

/** The check character of an 8-character organization code body (GB 11714): 0–9 or X. */
export function orgCodeCheckChar(body8: string): string {
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += orgValue(body8[i]!) * ORG_WEIGHTS[i]!;
  const c = 11 - (sum % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/** Why a 9-character organization code is invalid, or null when it is valid. */
export function orgCodeProblem(code: string): string | null {
  if (!/^[0-9A-Z]{8}[0-9X]$/.test(code)) return 'organization code must be 8 digits or upper-case letters and a check character 0-9 or X';
  return code[8] === orgCodeCheckChar(code) ? null : 'organization code (characters 9-17) fails its GB 11714 check';
}

/** Why `s` is not a valid USCC, or null when it is. */
export function usccProblem(s: unknown): string | null {
  if (typeof s !== 'string') return 'not a string';
  if (s.length !== 18) return `must be 18 characters, got ${s.length}`;
  if (/[a-z]/.test(s)) return 'letters must be upper case';
  for (let i = 0; i < 18; i++) {
    if (usccValue(s[i]!) < 0) return `character ${i + 1} is not allowed (0-9 and A-Y without I, O, S, V, Z)`;
  }
  if (!USCC_AUTHORITIES.includes(s[0]!)) return `registration authority code ${s[0]} is not defined (1-9, A, N, Y)`;
  if (!/[1-9]/.test(s[1]!)) return 'category code (character 2) must be a digit 1-9';
  if (!/^\d{6}$/.test(s.slice(2, 8))) return 'characters 3-8 must be a 6-digit administrative division code';
  if (s[17] !== usccCheckChar(s)) return 'check character (18) does not match (mod 31)';
  return orgCodeProblem(s.slice(8, 17));
}

export function isValidUscc(s: unknown): boolean {
  return usccProblem(s) === null;
}

/** The check character of 17 resident-ID digits (ISO 7064 MOD 11-2). */
export function residentIdCheckChar(body17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (body17.charCodeAt(i) - 48) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}

/**
 * Why `s` is not a valid resident ID on `today` (YYYY-MM-DD, default: today in China), or null.
 * Valid means: 17 digits + check character (MOD 11-2), characters 7–14 a real calendar date not
 * after `today`. An old date is NOT a failure — the standard's own example 440524188001010014 was
 * born in 1880 — see residentIdWarnings() for the data-quality warning.
 */
export function residentIdProblem(s: unknown, today: string = todayInChina()): string | null {
  if (typeof s !== 'string') return 'not a string';
  if (s.length !== 18) return `must be 18 characters, got ${s.length}`;
  if (/^\d{17}x$/.test(s)) return 'check character must be an upper-case X';
  if (!/^\d{17}[\dX]$/.test(s)) return 'must be 17 digits and a check character 0-9 or X';
  const y = Number(s.slice(6, 10));
  const m = Number(s.slice(10, 12));
  const d = Number(s.slice(12, 14));
  if (!isCalendarDay(y, m, d)) return 'characters 7-14 are not a calendar date (YYYYMMDD)';
  if (formatIsoDate(y, m, d) > today) return 'date of birth is in the future';
  return s[17] === residentIdCheckChar(s) ? null : 'check character (18) does not match (MOD 11-2)';
}

export function isValidResidentId(s: unknown, today?: string): boolean {
  return residentIdProblem(s, today) === null;
}

/**
 * Data-quality warnings on a VALID resident ID (empty when none, or when `s` is not valid): a date
 * of birth more than PLAUSIBLE_AGE_YEARS years before `today`. Text in Chinese with the English
 * gloss, for import reports and `credit id check`.
 */
export function residentIdWarnings(s: unknown, today: string = todayInChina()): string[] {
  if (residentIdProblem(s, today) !== null) return [];
  const id = s as string;
  const birth = formatIsoDate(Number(id.slice(6, 10)), Number(id.slice(10, 12)), Number(id.slice(12, 14)));
  const [ty, tm, td] = today.split('-').map(Number) as [number, number, number];
  const limit = formatIsoDate(ty - PLAUSIBLE_AGE_YEARS, tm, Math.min(td, tm === 2 && td === 29 ? 28 : td));
  if (birth >= limit) return [];
  return [`出生日期 ${birth} 距今已超过 ${PLAUSIBLE_AGE_YEARS} 年，请核对证件号码 (date of birth ${birth} is more than ${PLAUSIBLE_AGE_YEARS} years ago)`];
}

/**
 * Classifies and checks one identifier. Kind is decided by shape:
 * - 17 digits + digit/X/x: a valid resident ID → `resident-id`; else a valid USCC (a USCC can be
 *   all digits) → `uscc`; else, invalid, `resident-id` when characters 7–14 read as a calendar date
 *   (a year 1800–2099: what a mistyped resident ID looks like) and `uscc` otherwise;
 * - any other 18 letters/digits → `uscc`;
 * - anything else → `unknown` (ERR_UNKNOWN_IDENTIFIER), e.g. 15-digit first-generation IDs.
 */
export function checkIdentifier(input: string, today?: string): IdentifierCheck {
  const ok = (kind: IdentifierKind): IdentifierCheck => ({ input, valid: true, kind });
  const bad = (kind: IdentifierKind, code: IdentifierErrorCode): IdentifierCheck => ({ input, valid: false, kind, code });
  if (typeof input === 'string' && /^\d{17}[\dXx]$/.test(input)) {
    if (isValidResidentId(input, today)) {
      const warnings = residentIdWarnings(input, today);
      return warnings.length > 0 ? { ...ok('resident-id'), warnings } : ok('resident-id');
    }
    if (isValidUscc(input)) return ok('uscc');
    const year = Number(input.slice(6, 10));
    const looksLikeBirthDate = year >= 1800 && year <= 2099 && isCalendarDay(year, Number(input.slice(10, 12)), Number(input.slice(12, 14)));
    return looksLikeBirthDate ? bad('resident-id', 'ERR_INVALID_RESIDENT_ID') : bad('uscc', 'ERR_INVALID_USCC');
  }
  if (typeof input === 'string' && /^[0-9A-Za-z]{18}$/.test(input)) return isValidUscc(input) ? ok('uscc') : bad('uscc', 'ERR_INVALID_USCC');
  return bad('unknown', 'ERR_UNKNOWN_IDENTIFIER');
}

/** Throws ERR_INVALID_USCC (message says why) unless `s` is a valid USCC. */
export function assertUscc(s: unknown): string {
  const problem = usccProblem(s);
  if (problem !== null) throw protocolError('ERR_INVALID_USCC', `not a valid USCC: ${problem}`);
  return s as string;
}

/** Throws ERR_INVALID_RESIDENT_ID (message says why) unless `s` is a valid resident ID. */
export function assertResidentId(s: unknown, today?: string): string {
  const problem = residentIdProblem(s, today);
  if (problem !== null) throw protocolError('ERR_INVALID_RESIDENT_ID', `not a valid resident ID: ${problem}`);
  return s as string;
}

/** A node id: 6 digits whose first two are a province code (430100 长沙市, 430000 the hub). */
export function isNodeId(id: unknown): id is string {
  return typeof id === 'string' && /^\d{6}$/.test(id) && PROVINCE_CODES.includes(id.slice(0, 2));
}

export function assertNodeId(id: unknown): string {
  if (!isNodeId(id)) throw protocolError('ERR_INVALID_NODE_ID', `node id must be a 6-digit administrative division code (GB/T 2260) with a province prefix, got ${JSON.stringify(id)}`);
  return id;
}

// ---- generators (tests, demo, benchmarks) ----

/**
 * A valid USCC from its first 17 characters (computes character 18), or from its first 16 (also
 * computes the organization code's check character, 17). Throws ERR_INVALID_USCC when the given
 * characters cannot start a valid code (bad authority, category, division or organization code).
 */
export function makeUscc(body: string): string {
  const body17 = body.length === 16 ? body + orgCodeCheckChar(body.slice(8, 16)) : body;
  if (body17.length !== 17 || [...body17].some((c) => usccValue(c) < 0)) {
    throw protocolError('ERR_INVALID_USCC', 'makeUscc needs 16 or 17 characters of the USCC character set');
  }
  return assertUscc(body17 + usccCheckChar(body17));
}

/** A deterministic pseudo-random source in [0, 1) from a 32-bit seed (mulberry32). */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(rng: () => number, chars: string): string {
  return chars[Math.floor(rng() * chars.length)]!;
}

export interface UsccOptions {
  authority?: string; // default '9' (market regulation)
  category?: string; // default '1' (enterprise)
  division?: string; // default '430100' (长沙市)
}

/** A random valid USCC; pass `seededRng(n)` for a reproducible sequence. */
export function randomUscc(rng: () => number = Math.random, opts: UsccOptions = {}): string {
  let org = '';
  for (let i = 0; i < 8; i++) org += pick(rng, USCC_CHARSET);
  return makeUscc((opts.authority ?? '9') + (opts.category ?? '1') + (opts.division ?? '430100') + org);
}

export interface ResidentIdOptions {
  division?: string; // address code, default '430102' (长沙市芙蓉区)
  birth?: string; // YYYY-MM-DD, default '1990-01-01'
  seq?: number; // order code 0–999 (odd: male, even: female), default 1
  today?: string;
}

/** A valid resident ID from its parts; throws ERR_INVALID_RESIDENT_ID for impossible parts. */
export function makeResidentId(opts: ResidentIdOptions = {}): string {
  const division = opts.division ?? '430102';
  const seq = opts.seq ?? 1;
  const birth = (opts.birth ?? '1990-01-01').replaceAll('-', '');
  if (!/^\d{6}$/.test(division) || !/^\d{8}$/.test(birth) || !Number.isInteger(seq) || seq < 0 || seq > 999) {
    throw protocolError('ERR_INVALID_RESIDENT_ID', 'makeResidentId needs a 6-digit division, a YYYY-MM-DD birth date and seq 0-999');
  }
  const body = division + birth + String(seq).padStart(3, '0');
  return assertResidentId(body + residentIdCheckChar(body), opts.today);
}

/** A random valid resident ID born 1950–2005; pass `seededRng(n)` for a reproducible sequence. */
export function randomResidentId(rng: () => number = Math.random, division = '430102'): string {
  const y = 1950 + Math.floor(rng() * 56);
  const m = 1 + Math.floor(rng() * 12);
  const d = 1 + Math.floor(rng() * 28);
  return makeResidentId({ division, birth: formatIsoDate(y, m, d), seq: Math.floor(rng() * 1000) });
}
