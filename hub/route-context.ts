/**
 * What the hub's routes get (hub/routes/*): the composition root's dependencies (context.ts) and
 * the services it builds, as `app.hubCtx`. In its own file so that the routes need not import
 * app.ts, which imports them.
 */
import type { RefusalAudit } from '../audit/refusals.js';
import type { RetentionJob } from '../audit/retention-job.js';
import type { AuditEvent } from '../audit/types.js';
import type { HubDeps } from './context.js';
import type { hubLoginService, hubUsersService, operatorAuth } from './accounts.js';
import type { DistributionService } from './distribution-service.js';
import type { EnrolmentService } from './enrolment-service.js';
import type { IntakeService } from './intake-service.js';
import type { NoticeService } from './objections-service.js';
import type { QueryService } from './query-service.js';
import type { WitnessService } from './witness-service.js';

export interface HubContext extends HubDeps {
  intake: IntakeService;
  distributions: DistributionService;
  queries: QueryService;
  /** Objection notices between nodes (protocol 1.1). */
  notices: NoticeService;
  enrolment: EnrolmentService;
  witness: WitnessService;
  /** Refusals go to the audit log aggregated per source and minute (audit/refusals.ts). */
  refusals: RefusalAudit;
  /** Prunes settled hub_envelopes rows past `retention.exchangeDays` (hub/exchange-retention.ts). */
  retention: RetentionJob;
  state: { closing: boolean };
  /** Operator accounts (issue 18, hub/accounts.ts); `audit` tags each entry with src= and sid=. */
  operators: {
    login: ReturnType<typeof hubLoginService>;
    users: ReturnType<typeof hubUsersService>;
    auth: ReturnType<typeof operatorAuth>;
    audit: { record(e: AuditEvent): Promise<number> };
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    hubCtx: HubContext;
  }
}
