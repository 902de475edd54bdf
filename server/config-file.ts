/**
 * Reading a server's JSON config file, for both servers (node/config.ts, hub/config.ts validate
 * what it holds against their own schema): a file that cannot be read or is not JSON is
 * ERR_CONFIG_INVALID with key `(file)`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { serviceError } from '../protocol/service-errors.js';

/** The parsed file, and the directory relative paths in it are resolved against. */
export function readConfigJson(file: string): { raw: unknown; baseDir: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { key: '(file)' });
  }
  try {
    return { raw: JSON.parse(text), baseDir: dirname(resolve(file)) };
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `config file ${file} is not JSON: ${(e as Error).message}`, { key: '(file)' });
  }
}
