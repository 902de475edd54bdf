/**
 * The data key file of encryption at rest (docs/at-rest.md): read, created at first start, given a
 * new generation by `rekey`. The keys are held by a KeyWrapper: `file` keeps them in the key file
 * itself (mode 0600, in the data directory); a KMS or a 密码机 plugs in as an ES module named by
 * the config key `atRest.keyWrapper` whose default export builds a KeyWrapper: the file then holds
 * only what the wrapper returned (keys wrapped under a key that never leaves the device).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fsyncDir, writeFileAtomic, writeNewFile } from '../certs/safe-files.js';
import { isKeyId, keyringOf, newAtRestKey, type AtRestKey, type AtRestKeyring } from '../protocol/at-rest.js';
import { serviceError } from '../protocol/service-errors.js';

export const KEY_FILE_FORMAT = 'credit-federation/at-rest-keys/1';
export const DEFAULT_KEY_FILE = 'data.key';

/** The hook for a KMS or a 密码机: wraps and unwraps one key; `label` is `<kid>/<enc|mac|index>`. */
export interface KeyWrapper {
  readonly name: string;
  wrap(key: Buffer, label: string): Promise<string>;
  unwrap(wrapped: string, label: string): Promise<Buffer>;
}

/** The file-backed wrapper: the key in base64, protected by the file's mode (0600) and the data directory's (0700). */
export const fileKeyWrapper: KeyWrapper = {
  name: 'file',
  wrap: async (key) => key.toString('base64'),
  unwrap: async (wrapped) => Buffer.from(wrapped, 'base64'),
};

/** `file`, or the absolute path of an ES module whose default export is `() => KeyWrapper | Promise<KeyWrapper>`. */
export async function loadKeyWrapper(spec: string | undefined): Promise<KeyWrapper> {
  if (spec === undefined || spec === 'file') return fileKeyWrapper;
  if (!isAbsolute(spec)) throw serviceError('ERR_CONFIG_INVALID', 'config key atRest.keyWrapper: "file" or the absolute path of a module', { key: 'atRest.keyWrapper' });
  const mod = (await import(pathToFileURL(spec).href)) as { default?: () => KeyWrapper | Promise<KeyWrapper> };
  if (typeof mod.default !== 'function') throw serviceError('ERR_CONFIG_INVALID', `config key atRest.keyWrapper: ${spec} has no default export`, { key: 'atRest.keyWrapper' });
  const w = (await mod.default()) as Partial<KeyWrapper> | undefined;
  // the name goes into the key file and must match at every start; wrap and unwrap are called
  if (!w || typeof w.name !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(w.name) || typeof w.wrap !== 'function' || typeof w.unwrap !== 'function') {
    throw serviceError('ERR_CONFIG_INVALID', `config key atRest.keyWrapper: ${spec}'s default export must build { name (1–64 printable ASCII characters), wrap(), unwrap() }`, { key: 'atRest.keyWrapper' });
  }
  return w as KeyWrapper;
}

interface KeyFileEntry { id: string; created: string; enc: string; mac: string; index: string }
interface KeyFile { format: string; wrapper: string; current: string; keys: KeyFileEntry[] }

const FIX = 'restore the key file from its backup (docs/at-rest.md § Key backup)';

function readKeyFile(file: string): KeyFile {
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) throw serviceError('ERR_DATA_KEY_FILE_INVALID', `${file} is readable by others (mode ${mode.toString(8)}): chmod 600 ${file}`, { file });
  let doc: KeyFile;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as KeyFile;
  } catch {
    throw serviceError('ERR_DATA_KEY_FILE_INVALID', `${file} is not JSON: ${FIX}`, { file });
  }
  const ok = doc && doc.format === KEY_FILE_FORMAT && typeof doc.wrapper === 'string' && typeof doc.current === 'string' && Array.isArray(doc.keys)
    && doc.keys.every((k) => k && isKeyId(String(k.id)) && typeof k.enc === 'string' && typeof k.mac === 'string' && typeof k.index === 'string');
  if (!ok) throw serviceError('ERR_DATA_KEY_FILE_INVALID', `${file} is not a ${KEY_FILE_FORMAT} key file: ${FIX}`, { file });
  return doc;
}

async function unwrapAll(doc: KeyFile, file: string, wrapper: KeyWrapper): Promise<AtRestKey[]> {
  if (doc.wrapper !== wrapper.name) throw serviceError('ERR_DATA_KEY_FILE_INVALID', `${file} was written by key wrapper "${doc.wrapper}", the config names "${wrapper.name}"`, { file });
  const keys: AtRestKey[] = [];
  for (const k of doc.keys) {
    // One at a time, each copied as soon as it is returned: the keys must not change once a keyring
    // is made of them (protocol/at-rest.ts), and a wrapper may reuse its output buffer for the next call.
    const enc = await unwrapped(wrapper, k.enc, `${k.id}/enc`);
    const mac = await unwrapped(wrapper, k.mac, `${k.id}/mac`);
    const index = await unwrapped(wrapper, k.index, `${k.id}/index`);
    if (enc.length !== 16 || mac.length !== 32 || index.length !== 32) throw serviceError('ERR_DATA_KEY_FILE_INVALID', `${file}: key ${k.id} has the wrong lengths (16, 32, 32 bytes)`, { file });
    keys.push({ id: k.id, enc, mac, index });
  }
  return keys;
}

/** What the wrapper unwraps, copied; anything but bytes is ERR_DATA_KEY_WRAPPER_INVALID (the message never shows the value). */
async function unwrapped(wrapper: KeyWrapper, wrapped: string, label: string): Promise<Buffer> {
  const b: unknown = await wrapper.unwrap(wrapped, label);
  if (!(b instanceof Uint8Array)) throw serviceError('ERR_DATA_KEY_WRAPPER_INVALID', `key wrapper "${wrapper.name}" unwrapped ${label} to a ${typeof b}, not bytes: fix the module named by atRest.keyWrapper`, { label });
  return Buffer.from(b);
}

/** The keyring in `file`; ERR_DATA_KEY_MISSING when absent, ERR_DATA_KEY_FILE_INVALID when unreadable. */
export async function readKeyring(file: string, wrapper: KeyWrapper): Promise<AtRestKeyring> {
  if (!existsSync(file)) throw serviceError('ERR_DATA_KEY_MISSING', `data key file ${file} is missing: ${FIX}`, { file });
  const doc = readKeyFile(file);
  return keyringOf(await unwrapAll(doc, file, wrapper), doc.current);
}

const notGivenBack = (wrapper: KeyWrapper, label: string, how: string) =>
  serviceError('ERR_DATA_KEY_WRAPPER_INVALID', `key wrapper "${wrapper.name}" did not give back key ${label} ${how}; the key file was not changed. Fix the module named by atRest.keyWrapper: unwrap(wrap(k)) must be k`, { label });

/**
 * One key's entry in the key file, wrapped. The wrapper is given copies (a wrapper that changes or
 * keeps what it is given cannot touch the keys in use), and each wrapped key is unwrapped again and
 * compared before anything is written: a wrapper that does not give back what it wrapped would
 * otherwise leave a key file that cannot open what the store seals (ERR_DATA_KEY_WRAPPER_INVALID).
 */
async function entryOf(k: AtRestKey, wrapper: KeyWrapper, at: Date): Promise<KeyFileEntry> {
  const wrapOne = async (part: 'enc' | 'mac' | 'index'): Promise<string> => {
    const label = `${k.id}/${part}`;
    const wrapped: unknown = await wrapper.wrap(Buffer.from(k[part]), label);
    if (typeof wrapped !== 'string') throw notGivenBack(wrapper, label, `(wrap returned a ${typeof wrapped}, not a string)`);
    if (!k[part].equals(await unwrapped(wrapper, wrapped, label))) throw notGivenBack(wrapper, label, 'when asked to unwrap what it had wrapped');
    return wrapped;
  };
  return { id: k.id, created: at.toISOString(), enc: await wrapOne('enc'), mac: await wrapOne('mac'), index: await wrapOne('index') };
}

/**
 * The key file as written, read back as a start reads it, must give exactly `keys`: what the
 * wrapper or the file system did to it after the check in entryOf shows here, before anything is
 * registered or sealed under the new key.
 */
async function readBack(file: string, wrapper: KeyWrapper, keys: readonly AtRestKey[]): Promise<void> {
  let read: AtRestKey[];
  try {
    read = await unwrapAll(readKeyFile(file), file, wrapper);
  } catch (e) {
    // whatever the reason (unreadable, wrong lengths, the wrapper failing), the key just written does not come back
    throw notGivenBack(wrapper, keys.at(-1)?.id ?? '?', `from the key file as written and read back (${(e as { code?: string }).code ?? 'error'})`);
  }
  const back = new Map(read.map((k) => [k.id, k] as const));
  for (const k of keys) {
    const b = back.get(k.id);
    for (const part of ['enc', 'mac', 'index'] as const) {
      if (!b || !b[part].equals(k[part])) throw notGivenBack(wrapper, `${k.id}/${part}`, 'from the key file as written and read back');
    }
  }
}

/** Creates the key file (0600, exclusive) with one key `k1`; on any failure no key file is left. */
export async function createKeyFile(file: string, wrapper: KeyWrapper, at = new Date()): Promise<AtRestKeyring> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const key = newAtRestKey('k1');
  const doc: KeyFile = { format: KEY_FILE_FORMAT, wrapper: wrapper.name, current: key.id, keys: [await entryOf(key, wrapper, at)] };
  writeNewFile(file, `${JSON.stringify(doc, null, 2)}\n`, 0o600);
  try {
    await readBack(file, wrapper, [key]);
  } catch (e) {
    rmSync(file, { force: true });
    throw e;
  }
  fsyncDir(dirname(file));
  return keyringOf([key], key.id);
}

/** Adds a generation (k<n+1>) and makes it current; the old keys stay (rows and backups sealed under them). */
export async function addKeyGeneration(file: string, wrapper: KeyWrapper, at = new Date()): Promise<AtRestKeyring> {
  const doc = readKeyFile(file);
  const keys = await unwrapAll(doc, file, wrapper);
  const n = Math.max(0, ...doc.keys.map((k) => Number(/^k(\d+)$/.exec(k.id)?.[1] ?? 0))) + 1;
  const key = newAtRestKey(`k${n}`);
  const next: KeyFile = { ...doc, current: key.id, keys: [...doc.keys, await entryOf(key, wrapper, at)] };
  const before = readFileSync(file, 'utf8');
  writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`, 0o600);
  try {
    await readBack(file, wrapper, [...keys, key]);
  } catch (e) {
    try {
      writeFileAtomic(file, before, 0o600); // the key file as it was: nothing has been sealed under the new key yet
    } catch (restore) {
      throw serviceError('ERR_DATA_KEY_WRAPPER_INVALID', `${(e as Error).message}; and putting the key file back failed too (${(restore as { code?: string }).code ?? 'error'}): ${file} now names the unverified key ${key.id} as current — nothing was sealed under it; restore the key file from its backup before the next start`, { label: key.id, file, restoreFailed: true });
    }
    throw e;
  }
  return keyringOf([...keys, key], key.id);
}
