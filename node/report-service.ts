/**
 * The credit report (信用报告, docs/credit-report.md): the subject query the caller may make
 * (records.bySubject: role, clearance, purpose, read-time disclosure and masking, audited as a
 * query), laid out in the standard's sections, signed with the node key; and, on request, the
 * PDF (report-pdf.ts) sealed with the same key (protocol/report-pdf-seal.ts).
 */
import { randomBytes } from 'node:crypto';
import { findRecordType } from '../protocol/catalog.js';
import { LEGACY_SUBJECT_CODES, type RecordType } from '../protocol/catalog-fields.js';
import { REPORT_FORMAT, REPORT_SECTIONS, sectionOf, signReport, type ReportBody, type ReportEntry } from '../protocol/credit-report.js';
import { sealReportPdf } from '../protocol/report-pdf-seal.js';
import { maskNumbersIn } from '../protocol/mask-text.js';
import type { Db } from '../audit/knex-connect.js';
import type { Caller } from './access.js';
import { repairsStore } from './repairs-store.js';
import { nodeError } from './errors.js';
import { isEnrolled, loadExchangeMaterial } from './exchange/files.js';
import type { RecordView } from './record-model.js';
import type { AuditWriter, RecordsService, SubjectResult } from './records-service.js';
import { subjectHandle } from './secrets.js';

export interface ReportSigner {
  keyPem: string;
  certPem: string;
}

export interface ReportDeps {
  records: RecordsService;
  audit: AuditWriter;
  nodeId: string;
  clock: () => Date;
  subjectKey: Uint8Array;
  /** The store, for the 信用承诺 made in repair applications (node_repairs.commitment); without it the section stays empty. */
  db?: Db;
  /** The node key and certificate (DATADIR/exchange/, from enrolment); undefined on a node never enrolled. */
  signer: () => ReportSigner | undefined;
}

/** Subject identity fields: shown once, in 基本信息, not in every entry. */
const SUBJECT_FIELDS = new Set(['subjectName', 'subjectCategory', 'uscc', ...LEGACY_SUBJECT_CODES.map(([n]) => n)]);

function typeOf(code: string): RecordType | undefined {
  return findRecordType(code);
}

/**
 * The key reports are signed with: the exchange's current one (follows renewals), else the
 * enrolment in DATADIR/exchange/ of a node running without a hub; undefined when never enrolled.
 */
export function nodeReportSigner(dataDir: string, nodeId: string, current?: () => ReportSigner): () => ReportSigner | undefined {
  return () => {
    if (current) return current();
    return isEnrolled(dataDir) ? loadExchangeMaterial(dataDir, nodeId) : undefined;
  };
}

function text(v: unknown): string {
  if (Array.isArray(v)) return v.map(text).join('、');
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

function entryOf(r: RecordView): ReportEntry {
  const t = typeOf(r.type);
  const fields = t ? t.fields.map((f) => ({ name: f.name, label: f.label })) : Object.keys(r.fields).sort().map((n) => ({ name: n, label: n }));
  const rows = fields.filter((f) => !SUBJECT_FIELDS.has(f.name) && r.fields[f.name] !== undefined && r.fields[f.name] !== null && r.fields[f.name] !== '').map((f) => ({ label: f.label, value: text(r.fields[f.name]) }));
  const marks: string[] = [];
  if (r.disputedLabel) marks.push(r.disputedLabel);
  if (r.repairFrom) marks.push(`可申请信用修复（自 ${r.repairFrom} 起）`);
  const e: ReportEntry = { id: r.id, type: r.type, typeName: t?.name ?? r.type, classification: r.classification, rows, marks };
  if (r.disclosureEnd) e.disclosureEnd = r.disclosureEnd;
  return e;
}

/** A 信用承诺 the subject made, as the store holds it: the commitment of a repair application. */
export interface CommitmentFact {
  id: string;
  recordId: string;
  commitment: string;
  appliedAt: string;
  status: 'pending' | 'accepted' | 'refused';
}

const COMMITMENT_STATUS = { pending: '信用修复申请办理中', accepted: '信用修复申请已通过', refused: '信用修复申请未通过' } as const;

/**
 * The 信用承诺 entries: commitments made in repair applications about records the report shows
 * (a commitment about a record the requester may not see, or one no longer shown, is left out: it
 * would reveal that record). Personal numbers in the text are masked (protocol/mask-text.ts).
 */
function commitmentEntries(facts: readonly CommitmentFact[], shown: readonly RecordView[], nodeId: string): ReportEntry[] {
  const byId = new Map(shown.map((r) => [r.id, r]));
  return [...facts].filter((c) => byId.has(c.recordId)).sort((a, b) => b.appliedAt.localeCompare(a.appliedAt) || a.id.localeCompare(b.id)).map((c) => {
    const r = byId.get(c.recordId)!;
    const t = typeOf(r.type);
    const docNo = typeof r.fields.decisionNo === 'string' ? ` ${r.fields.decisionNo}` : '';
    return {
      id: c.id, type: 'XYCN', typeName: '信用修复承诺', classification: r.classification,
      rows: [
        { label: '承诺类型', value: '信用修复承诺' },
        { label: '承诺内容', value: maskNumbersIn(c.commitment) },
        { label: '承诺日期', value: new Date(Date.parse(c.appliedAt) + 8 * 3600_000).toISOString().slice(0, 10) },
        { label: '承诺受理单位', value: `节点 ${nodeId}` },
        { label: '关联信息', value: `${t?.name ?? r.type}${docNo}` },
      ],
      marks: [COMMITMENT_STATUS[c.status]],
    };
  });
}

/** The commitments of the repair applications about `records` (node_repairs). */
export async function commitmentsOf(db: Db, records: readonly RecordView[]): Promise<CommitmentFact[]> {
  const out: CommitmentFact[] = [];
  for (const r of records) {
    for (const p of await repairsStore.list(db, { recordId: r.id })) {
      if (p.commitment && p.commitment.trim() !== '') out.push({ id: p.id, recordId: p.recordId, commitment: p.commitment, appliedAt: p.appliedAt, status: p.status });
    }
  }
  return out;
}

/** Lays a subject answer out in the standard's sections (pure). */
export function reportBodyOf(result: SubjectResult, o: { reportNo: string; issuedAt: string; nodeId: string; caller: Caller; purpose?: string; commitments?: readonly CommitmentFact[] }): ReportBody {
  const first = result.records[0];
  const name = first && typeof first.fields.subjectName === 'string' ? first.fields.subjectName : null;
  const category = first && typeof first.fields.subjectCategory === 'string' ? first.fields.subjectCategory : null;
  const sorted = [...result.records].sort((a, b) => (b.decisionDate ?? '').localeCompare(a.decisionDate ?? '') || a.id.localeCompare(b.id));
  const sections = REPORT_SECTIONS.map((s) => ({
    key: s.key, title: s.title,
    entries: s.key === 'commitments' ? commitmentEntries(o.commitments ?? [], result.records, o.nodeId) : sorted.filter((r) => sectionOf(r.type) === s.key).map(entryOf),
  }));
  const counts = new Map<string, number>();
  for (const w of result.withheld) counts.set(w.classification, (counts.get(w.classification) ?? 0) + 1);
  return {
    format: REPORT_FORMAT,
    reportNo: o.reportNo,
    issuedAt: o.issuedAt,
    issuer: { nodeId: o.nodeId },
    requester: { role: o.caller.role, clearance: o.caller.clearance, ...(o.purpose ? { purpose: o.purpose } : {}) },
    subject: { code: first ? first.subject : result.subject, name, category },
    sections,
    withheld: [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([classification, count]) => ({ classification, count })),
  };
}

/** XY + node id + date (China) + 8 random hex digits: XY43010020261128A1B2C3D4. */
function reportNumber(nodeId: string, at: Date): string {
  const day = new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 10).replaceAll('-', '');
  return `XY${nodeId}${day}${randomBytes(4).toString('hex').toUpperCase()}`;
}

export function reportService(deps: ReportDeps) {
  async function issue(caller: Caller, code: string, purpose?: string): Promise<{ text: string; body: ReportBody; signer: ReportSigner }> {
    const signer = deps.signer();
    if (!signer) throw nodeError('ERR_REPORT_NO_SIGNER', 'this node holds no signing key and certificate (DATADIR/exchange/): enrol it first with `credit node init`');
    const result = await deps.records.bySubject(caller, code, purpose ? { purpose } : {});
    const at = deps.clock();
    const commitments = deps.db ? await commitmentsOf(deps.db, result.records) : [];
    const body = reportBodyOf(result, { reportNo: reportNumber(deps.nodeId, at), issuedAt: at.toISOString(), nodeId: deps.nodeId, caller, commitments, ...(purpose ? { purpose } : {}) });
    const text = await signReport(body, signer);
    await deps.audit.record({ actor: caller.actor, actorNode: deps.nodeId, action: 'report.issue', object: subjectHandle(deps.subjectKey, result.subject), outcome: 'success', reason: body.reportNo });
    return { text, body, signer };
  }

  return {
    /** The signed report document (canonical JSON text). */
    async json(caller: Caller, code: string, purpose?: string): Promise<string> {
      return (await issue(caller, code, purpose)).text;
    },
    /** The report as a sealed PDF. */
    async pdf(caller: Caller, code: string, purpose?: string): Promise<Buffer> {
      const { text, body, signer } = await issue(caller, code, purpose);
      const { renderReportPdf } = await import('./report-pdf.js');
      return sealReportPdf(await renderReportPdf(body), text, signer);
    },
  };
}

export type ReportService = ReturnType<typeof reportService>;
