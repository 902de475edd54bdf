/** SQL for hub_settings: small values every hub process must share (e.g. the subject HMAC key). */
import type { Db } from '../audit/knex-connect.js';
import { randomKeyBase64 } from './crypto.js';

export const settingsStore = {
  /** The value of `name`, created once (by whichever process gets there first) from `make()`. */
  async getOrCreate(db: Db, name: string, make: () => string): Promise<string> {
    await db('hub_settings').insert({ name, value: make() }).onConflict('name').ignore();
    const row = (await db('hub_settings').where({ name }).first('value')) as { value: string } | undefined;
    return String(row?.value);
  },
  /** Removes `name` (a value no longer kept in the store); true when there was one. */
  async remove(db: Db, name: string): Promise<boolean> {
    return (await db('hub_settings').where({ name }).delete()) > 0;
  },
};

/** The 256-bit key subject codes are HMAC'd with before they reach the audit log. */
export async function subjectHmacKey(db: Db): Promise<Buffer> {
  return Buffer.from(await settingsStore.getOrCreate(db, 'subject_hmac_key', () => randomKeyBase64(32)), 'base64');
}
