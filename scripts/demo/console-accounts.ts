/**
 * Demo accounts for the consoles: per node a clerk (信用业务员, officer) and an auditor, added with
 * `credit node user add`, and for the hub an operator (省级运维员) and an auditor, added with
 * `credit hub user add`, as an administrator would; their initial password changed once through
 * POST /v1/password as the user must, so they can log in to the console with the printed password and
 * the TOTP secret (entered into an authenticator app, or computed with any TOTP tool).
 */
import { readFileSync } from 'node:fs';
import { generate } from 'otplib';
import { Agent, request, type Dispatcher } from 'undici';
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

const HUB_ACCOUNTS = [
  { user: 'operator', role: 'operator' },
  { user: 'auditor', role: 'auditor' },
] as const;

/** `add` printed the initial password and otpauth URI; the password is changed through POST /v1/password at `apiUrl`. */
async function enrolled(printed: string, who: string, apiUrl: string, password: string, dispatcher?: Dispatcher): Promise<{ password: string; totpSecret: string }> {
  const initial = /^password:\s+(\S+)/m.exec(printed)?.[1];
  const uri = /^otpauth URI:\s+(\S+)/m.exec(printed)?.[1];
  if (!initial || !uri) throw new Error(`user add printed no password or URI for ${who}`);
  const totpSecret = new URL(uri).searchParams.get('secret')!;
  const res = await request(`${apiUrl}/v1/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: who.split('@')[0], password: initial, otp: await generate({ secret: totpSecret }), newPassword: password }),
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await res.body.text();
  if (res.statusCode !== 204) throw new Error(`changing the demo password of ${who} failed: ${res.statusCode} ${text}`);
  return { password, totpSecret };
}

export async function addDemoAccounts(node: { id: string; configFile: string; apiUrl: string }, env: NodeJS.ProcessEnv): Promise<DemoAccount[]> {
  const out: DemoAccount[] = [];
  for (const [i, a] of ACCOUNTS.entries()) {
    const printed = await creditOk(['node', 'user', 'add', '--config', node.configFile, '--user', a.user, '--role', a.role, '--clearance', a.clearance], { env });
    // policy: 3 character classes, not containing the user name
    out.push({ user: a.user, role: a.role, ...(await enrolled(printed, `${a.user}@${node.id}`, node.apiUrl, `Demo-${node.id}-${i + 1}!`)) });
  }
  return out;
}

/** The hub console's demo accounts: an operator and an auditor (the hub's API is HTTPS with a certificate from the demo CA). */
export async function addHubDemoAccounts(hub: { configFile: string; apiUrl: string; caCertFile: string }, env: NodeJS.ProcessEnv): Promise<DemoAccount[]> {
  const agent = new Agent({ connect: { ca: readFileSync(hub.caCertFile, 'utf8') } });
  try {
    const out: DemoAccount[] = [];
    for (const [i, a] of HUB_ACCOUNTS.entries()) {
      const printed = await creditOk(['hub', 'user', 'add', '--config', hub.configFile, '--user', a.user, '--role', a.role], { env });
      out.push({ user: a.user, role: a.role, ...(await enrolled(printed, `${a.user}@430000`, hub.apiUrl, `Demo-430000-${i + 1}!`, agent)) });
    }
    return out;
  } finally {
    await agent.close();
  }
}
