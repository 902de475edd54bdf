/**
 * Installs several files of the exchange directory as one unit (enrolment, renewal): a crash at
 * any point leaves either every old file or every new one, never a mix (a new SM2 pair beside the
 * old TLS pair, a new key beside the old enrolment.json or hub certificate).
 *
 * Each set has a random id (16 hex digits).
 * 1. stage: each file is written as NAME.ID.new (created with its mode, fsynced, renamed in place);
 *    what earlier sets that were never committed left (NAME.*.new and their temporary files) is
 *    removed first;
 * 2. commit: `install.json` = {"id": ID, "install": [NAME…], "remove": [NAME…]} is written
 *    atomically — the commit point;
 * 3. apply: each NAME.ID.new is renamed over NAME, each name in "remove" deleted, a new random value
 *    written to `generation`, then install.json is removed if it still names ID.
 *
 * A process loading the directory applies a committed set first (renames that another process
 * already made are skipped; a marker read before the set was finished can only rename that set's
 * own files, which are gone by then, so a stale loader never installs a later set); without
 * install.json it does not touch the set files: they are a set being staged, or one a crash left
 * before its commit, and the next writer clears them. A load reads the files between two looks at
 * `generation` and install.json (`readConsistent`): when a set was committed or applied meanwhile,
 * it reads again, so it never returns files of two generations.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../certs/safe-files.js';
import { serviceError } from '../../protocol/service-errors.js';

export const INSTALL_MARKER = 'install.json';
/** Changes (a random value) each time a set is applied; readers compare it before and after reading. */
export const GENERATION_FILE = 'generation';

/** The only names an install set may touch (the exchange directory's files, see files.ts). */
const INSTALLABLE = new Set([
  'node.key', 'node.pem', 'node.key.prev', 'ca.pem', 'hub.pem', 'enrolment.json', 'crl.pem',
  'node-sm2.key', 'node-sm2.pem', 'node-sm2.key.prev', 'sm2-ca.pem', 'hub-sm2.pem', 'sm2-crl.pem',
]);

export interface StagedFile {
  /** A name in the exchange directory (one of INSTALLABLE). */
  name: string;
  data: string;
  mode: number;
}

interface Marker {
  id: string;
  install: string[];
  remove: string[];
}

const SET_ID = /^[0-9a-f]{16}$/;
/** A staged file of some set (NAME.ID.new), or the temporary file writeFileAtomic made while staging one. */
const STAGED = /^(?:\.)?(.+)\.([0-9a-f]{16})\.new(?:\.\d+\.\d+\.tmp)?$/;
const staged = (name: string, id: string) => `${name}.${id}.new`;

function invalid(dir: string, message: string): never {
  throw serviceError('ERR_CONFIG_INVALID', `config key hub: ${join(dir, INSTALL_MARKER)} ${message}; a half-installed renewal or enrolment cannot be finished — restore the exchange directory from a backup or enrol again`, { key: 'hub' });
}

function checkNames(dir: string, names: unknown): string[] {
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && INSTALLABLE.has(n))) invalid(dir, 'names a file outside the exchange directory\'s own');
  return names as string[];
}

function readMarker(dir: string): Marker | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, INSTALL_MARKER), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let m: { id?: unknown; install?: unknown; remove?: unknown };
  try {
    m = JSON.parse(text) as { id?: unknown; install?: unknown; remove?: unknown };
  } catch {
    return invalid(dir, 'is not JSON');
  }
  if (m === null || typeof m !== 'object') invalid(dir, 'is not an object');
  if (typeof m.id !== 'string' || !SET_ID.test(m.id)) invalid(dir, 'carries no set id of 16 hex digits');
  return { id: m.id as string, install: checkNames(dir, m.install), remove: checkNames(dir, m.remove ?? []) };
}

/** Renames NAME.ID.new over NAME (already done by another process: skipped) and deletes the removed names. */
function applyMarker(dir: string, m: Marker): void {
  for (const name of m.install) {
    try {
      renameSync(join(dir, staged(name, m.id)), join(dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  for (const name of m.remove) rmSync(join(dir, name), { force: true });
  // before the marker goes: a reader overlapping the set sees one or the other change; not secret (0644), so a load run as another user leaves it readable
  writeFileAtomic(join(dir, GENERATION_FILE), `${randomBytes(8).toString('hex')}\n`, 0o644);
  let now: Marker | undefined;
  try {
    now = readMarker(dir);
  } catch {
    now = undefined; // malformed now: not ours to remove
  }
  if (now?.id === m.id) rmSync(join(dir, INSTALL_MARKER), { force: true }); // a later set's marker stays
}

function readGeneration(dir: string): string {
  try {
    return readFileSync(join(dir, GENERATION_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

const READ_ATTEMPTS = 100;

/**
 * Runs `read` (which reads the directory's files) on one generation: a committed set is finished
 * first, and when a set was committed or applied while `read` ran, it runs again. An error `read`
 * throws is passed on only when nothing changed meanwhile (else it was a torn read, and retried).
 */
export function readConsistent<T>(dir: string, read: () => T): T {
  for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
    finishInstall(dir);
    const before = readGeneration(dir);
    if (installPending(dir)) continue;
    let value: T;
    try {
      value = read();
    } catch (e) {
      if (installPending(dir) || readGeneration(dir) !== before) continue;
      throw e;
    }
    if (!installPending(dir) && readGeneration(dir) === before) return value;
  }
  throw serviceError('ERR_CONFIG_INVALID', `config key hub: ${dir} changed at each of ${READ_ATTEMPTS} reads (a renewal in a loop?); stop the other process writing it and try again`, { key: 'hub' });
}

/** Finishes a committed install set, if there is one (the readers' side). True when there was. */
export function finishInstall(dir: string): boolean {
  const m = readMarker(dir);
  if (m === undefined) return false;
  applyMarker(dir, m);
  return true;
}

/** True when a committed install set is waiting (an enrolment is complete once committed). */
export function installPending(dir: string): boolean {
  return existsSync(join(dir, INSTALL_MARKER));
}

/** Steps 1 and 2, exported so that tests can stop between them as a crash would. Returns the set's id. */
export function stageFiles(dir: string, files: readonly StagedFile[]): string {
  checkNames(dir, files.map((f) => f.name));
  // what sets staged earlier and never committed (a crash before step 2) left is dropped first, temporary files (private keys among them) included
  for (const f of readdirSync(dir)) {
    const m = STAGED.exec(f);
    if (m && INSTALLABLE.has(m[1]!)) rmSync(join(dir, f), { force: true });
  }
  const id = randomBytes(8).toString('hex');
  for (const f of files) writeFileAtomic(join(dir, staged(f.name, id)), f.data, f.mode);
  return id;
}

export function commitInstall(dir: string, id: string, install: readonly string[], remove: readonly string[] = []): void {
  writeFileAtomic(join(dir, INSTALL_MARKER), JSON.stringify({ id, install: checkNames(dir, [...install]), remove: checkNames(dir, [...remove]) }) + '\n', 0o600);
}

/**
 * Step 3 on the writer's side: the renames and removals of the set just committed (a loader may
 * have made them already), then a check that each file holds what was staged — ERR_CONFIG_INVALID
 * otherwise (the caller's renewal is then retried).
 */
export function applyInstall(dir: string, id: string, files: readonly StagedFile[], remove: readonly string[] = []): void {
  applyMarker(dir, { id, install: files.map((f) => f.name), remove: [...remove] });
  for (const f of files) {
    let now: string | undefined;
    try {
      now = readFileSync(join(dir, f.name), 'utf8');
    } catch {
      now = undefined;
    }
    if (now !== f.data) throw serviceError('ERR_CONFIG_INVALID', `config key hub: ${join(dir, f.name)} does not hold what was just installed (another process writing the exchange directory?); the renewal is retried`, { key: 'hub' });
  }
}

/**
 * Installs `files` (and deletes `remove`) as one unit: the three steps above. An error after the
 * commit carries `committed: true`: the set goes in all the same (the next load finishes it), so
 * the caller treats the change as made.
 */
export function installSet(dir: string, files: readonly StagedFile[], remove: readonly string[] = []): void {
  finishInstall(dir); // a set a crash left committed goes in before this one is staged
  const id = stageFiles(dir, files);
  commitInstall(dir, id, files.map((f) => f.name), remove);
  try {
    applyInstall(dir, id, files, remove);
  } catch (e) {
    throw Object.assign(e as Error, { committed: true });
  }
}
