/**
 * 概览: nodes expected / seen / silent (the register of expected nodes against the nodes seen in
 * the last 24 h), certificates that expire within 30 days (the nodes' and the hub's own), the CRL,
 * the exchange rate over the last 24 h (a uPlot chart fed by GET /overview/exchange.json) and the
 * quality headline of the month. Stands for GET /v1/operator/nodes.
 */
import type { FastifyInstance } from 'fastify';
import { certFacts } from '../../audit/crypto.js';
import { callApi } from '../../server/console/api.js';
import type { QualityReport } from '../../protocol/quality-report.js';
import { envelopesStore } from '../envelopes-store.js';
import type { HubNode } from '../nodes-store.js';
import { SEEN_WITHIN_MS } from '../quality-service.js';
import { CRL_CACHE_MS } from '../routes/public.js';

const DAY = 86_400_000;
export const EXPIRY_WARN_DAYS = 30;
const NODES_API = 'GET /v1/operator/nodes';

/** A state as a word and a colour (STYLE 12): what the operator reads first. */
export function nodeState(n: HubNode, now: Date): { word: string; colour: 'green' | 'amber' | 'red' | 'grey'; key: 'active' | 'silent' | 'pending' | 'revoked' } {
  if (n.status === 'revoked') return { word: '已吊销', colour: 'red', key: 'revoked' };
  if (n.status === 'pending') return { word: '待注册', colour: 'grey', key: 'pending' };
  const seen = n.lastSeenAt !== null && now.getTime() - Date.parse(n.lastSeenAt) <= SEEN_WITHIN_MS;
  return seen ? { word: '在线', colour: 'green', key: 'active' } : { word: '24 小时无联络', colour: 'amber', key: 'silent' };
}

export const daysLeft = (notAfter: string | null, now: Date): number | null => (notAfter === null ? null : Math.floor((Date.parse(notAfter) - now.getTime()) / DAY));

export const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`);

export async function overviewPages(app: FastifyInstance, opts: { api: FastifyInstance }): Promise<void> {
  const ctx = opts.api.hubCtx;

  app.get('/overview', { config: { hubApi: NODES_API } }, async (request, reply) => {
    const now = ctx.clock();
    const nodes = (await callApi<HubNode[]>(opts.api, request, 'GET', '/v1/operator/nodes')).body;
    const quality = (await callApi<QualityReport>(opts.api, request, 'GET', `/v1/operator/quality?month=${now.toISOString().slice(0, 7)}`)).body;
    const states = nodes.map((n) => ({ ...n, state: nodeState(n, now), daysLeft: daysLeft(n.certNotAfter, now) }));
    const expiring = states.filter((n) => n.status === 'active' && n.daysLeft !== null && n.daysLeft < EXPIRY_WARN_DAYS).sort((a, b) => a.daysLeft! - b.daysLeft!);
    const hubCert = certFacts(ctx.identity.certPem);
    const hubDays = daysLeft(hubCert.notAfter.toISOString(), now)!;
    const revoked = (await ctx.ca.certs.listIssued()).filter((c) => c.status === 'revoked' && c.revokedAt !== undefined && Date.parse(c.revokedAt) <= now.getTime());
    const lastRevocation = revoked.map((c) => c.revokedAt!).sort().at(-1) ?? null;
    const inter = quality.interconnection ?? { expected: 0, seen: 0, rate: null, missing: [] };
    const counts = { active: 0, silent: 0, pending: 0, revoked: 0 };
    for (const n of states) counts[n.state.key] += 1;
    return reply.page('/hub/console/views/overview', {
      pageTitle: '概览', chart: true, now: now.toISOString(), inter, counts, expiring, hub: { serial: hubCert.serial, notAfter: hubCert.notAfter.toISOString(), daysLeft: hubDays },
      crl: { entries: revoked.length, lastRevocation, maxAgeSeconds: CRL_CACHE_MS / 1000 },
      quality: { month: quality.month, indicators: quality.totals.indicators, submitted: quality.totals.counters.submitted, top: (quality.ranking ?? []).slice(0, 3) }, pct, warnDays: EXPIRY_WARN_DAYS,
    });
  });

  // the chart's data: envelopes received per hour over the last 24 h, by outcome
  app.get('/overview/exchange.json', { config: { hubApi: NODES_API } }, async (_request, reply) => {
    const now = ctx.clock();
    const start = Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 23 * 3_600_000;
    const rows = await envelopesStore.perHour(ctx.reader, new Date(start).toISOString());
    const hours = Array.from({ length: 24 }, (_, i) => start + i * 3_600_000);
    const of = (outcome: string) => hours.map((h) => rows.filter((r) => r.outcome === outcome && r.hour === new Date(h).toISOString().slice(0, 13)).reduce((s, r) => s + r.n, 0));
    return reply.type('application/json').send({
      x: hours.map((h) => h / 1000),
      series: [{ label: '已接收批次', y: of('accepted'), colour: '#1b7f3b' }, { label: '被拒绝', y: of('refused'), colour: '#b3261e' }, { label: '查询、通知与见证', y: of('answered'), colour: '#1f5fa8' }],
    });
  });
}
