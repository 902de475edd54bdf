/**
 * Demo accounts for the node consoles: per node a clerk (信用业务员, officer) and an auditor, added
 * with `credit node user add` as an administrator would, their initial password changed once through
 * POST /v1/password as the user must, so they can log in to the console with the printed password and
 * the TOTP secret (entered into an authenticator app, or computed with any TOTP tool).
 */
import { generate } from 'otplib';
import { request } from 'undici';
import { creditOk } from './processes.js';

export interface DemoAccount {
  user: string;
  role: string;
  password: string;
  /** The TOTP secret (base32), as in the otpauth URI. */
  totpSecret: string;
}

const ACCOUNTS = [
  { user: 'clerk', role: 'officer', clearance: 'internal' },
  { user: 'auditor', role: 'auditor', clearance: 'internal' },
] as const;

export async function addDemoAccounts(node: { id: string; configFile: string; apiUrl: string }, env: NodeJS.ProcessEnv): Promise<DemoAccount[]> {
  const out: DemoAccount[] = [];
  for (const [i, a] of ACCOUNTS.entries()) {
    const printed = await creditOk(['node', 'user', 'add', '--config', node.configFile, '--user', a.user, '--role', a.role, '--clearance', a.clearance], { env });
    const initial = /^password:\s+(\S+)/m.exec(printed)?.[1];
    const uri = /^otpauth URI:\s+(\S+)/m.exec(printed)?.[1];
    if (!initial || !uri) throw new Error(`credit node user add printed no password or URI for ${a.user}@${node.id}`);
    const totpSecret = new URL(uri).searchParams.get('secret')!;
    const password = `Demo-${node.id}-${i + 1}!`; // policy: 3 character classes, not containing the user name
    const res = await request(`${node.apiUrl}/v1/password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: a.user, password: initial, otp: await generate({ secret: totpSecret }), newPassword: password }),
    });
    const text = await res.body.text();
    if (res.statusCode !== 204) throw new Error(`changing the demo password of ${a.user}@${node.id} failed: ${res.statusCode} ${text}`);
    out.push({ user: a.user, role: a.role, password, totpSecret });
  }
  return out;
}
