/**
 * The options both witness reset arms share (`credit hub witness reset-arm`, `credit node witness
 * reset-arm`): a reason, a time to live, and a past UTC time (the node's backup, the hub's restore point).
 */
import { parseTtl } from '../../certs/tokens.js';
import { cliError } from '../errors.js';
import { optionalString, requireString, type CommandContext } from './framework.js';

type Values = CommandContext['values'];

const MAX_TTL = 7 * 86_400_000;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** --reason: why, 3 to 500 characters (trimmed). */
export function armReason(values: Values): string {
  const reason = requireString(values, 'reason').trim();
  if (reason.length < 3 || reason.length > 500) throw cliError('ERR_USAGE', '--reason must say why, in 3 to 500 characters');
  return reason;
}

/** --ttl: how long the arm waits, in ms (default 24h, at most 7d). */
export function armTtl(values: Values): number {
  const text = optionalString(values, 'ttl') ?? '24h';
  const ttl = parseTtl(text);
  if (ttl === undefined || ttl > MAX_TTL) throw cliError('ERR_USAGE', `--ttl ${text}: give a duration such as 30m, 24h or 7d (at most 7d)`);
  return ttl;
}

/** --NAME: a UTC ISO time with milliseconds, not after `now`. */
export function pastTime(values: Values, name: string, what: string, now: Date): string {
  const v = requireString(values, name);
  if (!ISO.test(v) || Number.isNaN(Date.parse(v))) throw cliError('ERR_USAGE', `--${name} ${v}: give ${what} as a UTC time with milliseconds, e.g. 2026-12-03T19:56:50.123Z`);
  if (Date.parse(v) > now.getTime()) throw cliError('ERR_USAGE', `--${name} ${v} is in the future`);
  return v;
}

/** How `resets` lists an arm: used (with its epoch), cancelled, expired or armed. */
export function armState(a: { consumedAt: string | null; epoch: number | null; cancelledAt: string | null; expiresAt: string }, now: number): string {
  if (a.consumedAt) return `used ${a.consumedAt} (epoch ${a.epoch})`;
  if (a.cancelledAt) return `cancelled ${a.cancelledAt}`;
  return Date.parse(a.expiresAt) <= now ? `expired ${a.expiresAt}` : `armed until ${a.expiresAt}`;
}
