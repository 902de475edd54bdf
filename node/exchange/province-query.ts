/**
 * Province-wide subject queries (GET /v1/subjects/:code?scope=province): the node seals a
 * QueryPayload (the caller's actor, clearance and purpose) to the hub and shows the answer under
 * the same local rules as its own records (decideRead: masking by clearance, restricted only with
 * a purpose and audited per release). The hub withholds what the caller or this node may not
 * receive and says so; both lists are returned. No hub → 503 ERR_HUB_UNAVAILABLE, audited; a
 * connection lost under the query (a hub process killed behind the balancer) is retried once
 * (connectionLost below).
 */
import { todayInChina } from '../../protocol/catalog-calendar.js';
import type { Classification } from '../../protocol/classification.js';
import type { QueryAnswerPayload, QueryPayload } from '../../protocol/exchange.js';
import { protocolError } from '../../protocol/errors.js';
import { checkIdentifier, normalizeIdentifier } from '../../protocol/identifiers.js';
import { decideRead, type Caller } from '../access.js';
import { nodeError } from '../errors.js';
import { viewOf, type RecordView } from '../record-model.js';
import type { AuditWriter, RecordsService } from '../records-service.js';
import { subjectHandle } from '../secrets.js';
import type { AuditEvent } from '../../audit/types.js';
import { HubError, type HubClient } from './hub-client.js';
import { openFromHub, sealToHub } from './hub-envelopes.js';
import type { Db } from '../../audit/knex-connect.js';
import { evidenceFrom, evidenceOf } from '../../audit/evidence-record.js';
import { keepEvidence } from './evidence-log.js';
import type { ExchangeIdentity } from './identity.js';
import { fromWire } from './wire.js';

export interface ProvinceResult {
  subject: string;
  scope: 'province';
  records: RecordView[];
  withheld: { classification: Classification; code: string; count: number }[];
  answeredAt: string;
}

export interface ProvinceQueryDeps {
  identity: ExchangeIdentity;
  client: () => HubClient;
  audit: AuditWriter;
  records: Pick<RecordsService, 'authorize'>;
  clock: () => Date;
  /** Key of subject handles in audit objects (config.subjectKey). */
  subjectKey: Uint8Array;
  /** The node store: the query and its answer are kept as exchange evidence (evidence-log.ts). */
  db?: Db;
}

/** Why a request got no answer because its connection died under it (a hub process killed, a balancer's reset, a refused connect). */
const CONNECTION_LOST = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE']);

/**
 * A query that got no answer because its connection was lost is asked once more at once, as a new
 * envelope on another connection: behind a balancer the next connection reaches a live hub
 * process, so a user does not see a hub process die (issue 22: the sim's 503s at the kill). Not
 * retried: an answer (any HTTP status: the hub spoke), a timeout (a slow hub asked twice is slower
 * still) or a refused certificate. A query is a read: asking twice changes nothing but the two
 * hubs' audit logs, and the node's entry names both envelopes (`query=… retried=…`).
 */
export function connectionLost(e: unknown): boolean {
  if (!(e instanceof HubError) || e.status !== 0 || e.code !== 'ERR_HUB_UNAVAILABLE') return false;
  const cause = (e.details as { cause?: unknown } | undefined)?.cause;
  return typeof cause === 'string' && CONNECTION_LOST.has(cause);
}

function isAnswer(p: unknown): p is QueryAnswerPayload {
  const a = p as QueryAnswerPayload;
  return typeof a === 'object' && a !== null && typeof a.subject === 'string' && typeof a.queryId === 'string' && Array.isArray(a.records) && Array.isArray(a.withheld);
}

export function provinceQuery(deps: ProvinceQueryDeps) {
  const { identity, audit, clock } = deps;
  const nodeId = identity.nodeId;
  let seq = 0;

  return async function query(caller: Caller, code: string, purpose?: string): Promise<ProvinceResult> {
    const subject = normalizeIdentifier(code);
    const handle = subjectHandle(deps.subjectKey, subject);
    await deps.records.authorize(caller, 'record.read', handle);
    const check = checkIdentifier(subject, todayInChina(clock()));
    if (!check.valid) throw protocolError(check.code!, `not a valid subject code (${check.kind})`);

    const payload: QueryPayload = { subject, actor: caller.actor, clearance: caller.clearance, ...(purpose ? { purpose } : {}) };
    const base = { actor: caller.actor, actorNode: nodeId, action: 'query.province', object: handle } as const;
    let answer: QueryAnswerPayload;
    let queryId = '';
    let retried = '';
    try {
      let raw: unknown;
      for (let attempt = 1; ; attempt++) {
        // each attempt is its own envelope (new id, ts, seq): the hub may have taken the first one
        const envelope = await sealToHub(identity, { type: 'query', seq: ++seq, ts: clock(), payload });
        if (queryId) retried = ` retried=${queryId}`;
        queryId = envelope.id;
        if (deps.db) await keepEvidence(deps.db, evidenceOf(envelope, 'sent', clock().toISOString()));
        try {
          raw = await deps.client().postQuery(envelope);
          break;
        } catch (e) {
          if (attempt > 1 || !connectionLost(e)) throw e;
        }
      }
      const opened = await openFromHub<unknown>(raw, 'query-answer', identity, { now: clock(), fresh: true });
      if (deps.db) await keepEvidence(deps.db, evidenceFrom(opened.header, opened.digest, opened.sig, 'received', clock().toISOString()));
      if (!isAnswer(opened.payload) || opened.payload.queryId !== queryId || opened.payload.subject !== subject) {
        throw nodeError('ERR_HUB_ANSWER_INVALID', 'the query answer is not for this query');
      }
      answer = opened.payload;
    } catch (e) {
      const hubCode = (e as { code?: string }).code ?? 'Error';
      // no answer at all: what the transport said (a timeout, a reset …), so the operator can tell them apart
      const raw = e instanceof HubError && e.status === 0 ? (e.details as { cause?: unknown } | undefined)?.cause : undefined;
      const cause = typeof raw === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(raw) ? raw : undefined;
      await audit.record({ ...base, outcome: 'failure', reason: `ERR_HUB_UNAVAILABLE ${hubCode}${cause ? ` cause=${cause}` : ''}${queryId ? ` query=${queryId}${retried}` : ''}` });
      if (e instanceof HubError || (e as { code?: string }).code === 'ERR_HUB_ANSWER_INVALID') {
        throw nodeError('ERR_HUB_UNAVAILABLE', `the province-wide query could not be answered: ${hubCode}`, { hubCode, ...(e instanceof HubError && e.status ? { status: e.status } : {}), ...(cause ? { cause } : {}) });
      }
      throw e;
    }

    const today = todayInChina(clock());
    const records: RecordView[] = [];
    const withheld = new Map<string, { classification: Classification; code: string; count: number }>();
    const hold = (classification: Classification, code: string, count: number) => {
      const k = `${classification}/${code}`;
      const w = withheld.get(k) ?? { classification, code, count: 0 };
      w.count += count;
      withheld.set(k, w);
    };
    const events: AuditEvent[] = [];
    for (const w of answer.withheld) hold(w.classification, w.code, w.count);
    for (const r of answer.records) {
      if (r.status !== 'active') continue;
      const s = fromWire(r, r.sourceNode, today);
      if (!s.ok) {
        hold(r.classification, s.code, 1);
        continue;
      }
      if (s.record.status !== 'active') continue; // past its disclosure window here, whatever the hub said
      const d = decideRead(caller.clearance, s.record.classification, purpose);
      if (!d.allowed) {
        events.push({ actor: caller.actor, actorNode: nodeId, action: 'access.denied', object: s.record.id, class: s.record.classification, outcome: 'failure', reason: d.code });
        hold(s.record.classification, d.code, 1);
        continue;
      }
      if (d.audited) events.push({ actor: caller.actor, actorNode: nodeId, action: 'record.read', object: s.record.id, class: s.record.classification, outcome: 'success', reason: purpose ?? 'no purpose stated' });
      records.push(viewOf(r.disputed === true ? { ...s.record, disputed: true } : s.record, d.view)); // 异议中 (protocol 1.1)
    }
    const held = [...withheld.values()];
    events.push({ ...base, outcome: 'success', reason: `${purpose ? `purpose=${purpose} ` : ''}records=${records.length} withheld=${held.reduce((n, w) => n + w.count, 0)} query=${queryId}${retried}` });
    await Promise.all(events.map((e) => audit.record(e))); // one flush for all of them
    return { subject, scope: 'province', records, withheld: held, answeredAt: answer.answeredAt };
  };
}

export type ProvinceQuery = ReturnType<typeof provinceQuery>;
