/**
 * A console asks its server's own API (inject: no socket, no second port) with the user's session
 * token and address, so every answer — masking, withholding, refusals, audit entries with src= and
 * sid= — is the one /v1 gives that user. An error answer is raised again as the same CreditError,
 * for the console to show in Chinese with its code.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { CreditError } from '../../protocol/errors.js';

export interface ApiAnswer<T> {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: T;
  raw: Buffer;
}

export async function callApi<T = unknown>(
  api: FastifyInstance,
  request: FastifyRequest,
  method: 'GET' | 'POST',
  url: string,
  o: { payload?: string | Buffer | Readable | object; headers?: Record<string, string> } = {},
): Promise<ApiAnswer<T>> {
  const res = await api.inject({
    method,
    url,
    remoteAddress: request.ip,
    headers: { authorization: String(request.headers.authorization ?? ''), ...o.headers },
    ...(o.payload !== undefined ? { payload: o.payload as string } : {}),
  });
  const json = String(res.headers['content-type'] ?? '').startsWith('application/json');
  const body = (json ? res.json() : undefined) as T;
  if (res.statusCode >= 400) {
    const e = (body ?? {}) as { code?: string; message?: string; details?: unknown };
    throw new CreditError(e.code ?? 'ERR_INTERNAL', e.message ?? `API answered ${res.statusCode}`, e.details);
  }
  return { status: res.statusCode, headers: res.headers, body, raw: res.rawPayload };
}
