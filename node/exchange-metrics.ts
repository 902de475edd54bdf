/**
 * The exchange's figures on the node's /metrics, read at scrape time: outbox depth, age of the
 * oldest record not yet acknowledged by the hub, last hub contact, batches by receipt status,
 * certificate days left, how long each CRL held from the hub stays current.
 */
import type { Knex } from 'knex';
import { Gauge, type Registry } from 'prom-client';
import { certInfo } from '../certs/pki-crypto.js';
import { heldCrls } from './held-crls.js';
import type { Exchange } from './exchange/exchange.js';
import { outboxStore } from './exchange/outbox-store.js';

async function oldestUnsent(db: Knex): Promise<string | null> {
  const a = (await db('node_outbox').whereNull('batch_id').min({ m: 'created_at' }).first()) as { m?: string | null } | undefined;
  const b = (await db('node_batches').whereIn('status', ['open', 'sent']).min({ m: 'created_at' }).first()) as { m?: string | null } | undefined;
  const all = [a?.m, b?.m].filter((x): x is string => typeof x === 'string');
  return all.length === 0 ? null : all.sort()[0]!;
}

export function registerExchangeMetrics(registry: Registry, db: Knex, exchange: Exchange, clock: () => Date): void {
  new Gauge({
    name: 'credit_node_outbox_depth',
    help: 'records waiting for the hub: unbatched outbox rows, and batches sent but not yet acknowledged',
    labelNames: ['stage'],
    registers: [registry],
    async collect() {
      const b = await outboxStore.backlog(db);
      this.set({ stage: 'unbatched' }, b.unbatched);
      this.set({ stage: 'unacknowledged_batches' }, b.unacknowledged);
    },
  });
  new Gauge({
    name: 'credit_node_outbox_oldest_unsent_seconds',
    help: 'age of the oldest record change the hub has not acknowledged (0 when none)',
    registers: [registry],
    async collect() {
      const oldest = await oldestUnsent(db);
      this.set(oldest === null ? 0 : Math.max(0, (clock().getTime() - Date.parse(oldest)) / 1000));
    },
  });
  new Gauge({
    name: 'credit_node_hub_last_contact_seconds',
    help: 'seconds since the exchange last talked to the hub successfully (-1: not since start)',
    registers: [registry],
    collect() {
      const { lastAt } = exchange.contact();
      this.set(lastAt === null ? -1 : (clock().getTime() - lastAt.getTime()) / 1000);
    },
  });
  new Gauge({
    name: 'credit_node_batches',
    help: 'batches by status: accepted and refused have a receipt from the hub',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const rows = (await db('node_batches').select('status').count({ n: '*' }).groupBy('status')) as { status: string; n: number | string }[];
      this.reset();
      for (const s of ['open', 'sent', 'accepted', 'refused']) this.set({ status: s }, 0);
      for (const r of rows) this.set({ status: r.status }, Number(r.n));
    },
  });
  new Gauge({
    name: 'credit_node_crl_valid_seconds',
    help: "seconds until the CRL held from the hub passes its nextUpdate (negative: stale), crl=rsa (GET /v1/crl) and, enrolled with an SM2 key, crl=sm2 (GET /v1/crl/sm2); absent: none held",
    labelNames: ['crl'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const c of await heldCrls(exchange.identity.current())) this.set({ crl: c.crl }, c.nextUpdate === undefined ? -1 : (c.nextUpdate.getTime() - clock().getTime()) / 1000);
    },
  });
  new Gauge({
    name: 'credit_node_certificate_days_left',
    help: "days until the node's exchange certificate expires",
    registers: [registry],
    collect() {
      this.set((certInfo(exchange.identity.current().certPem).notAfter.getTime() - clock().getTime()) / 86_400_000);
    },
  });
}
