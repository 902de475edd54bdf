/** An enrolled node (signing key in DATADIR/exchange/) with records for the credit report tests, and pdftotext. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeResidentId } from '../../protocol/identifiers.js';
import { makeCa, type TestCa } from '../helpers/pki.js';
import { enrolDir } from './exchange-fixture.js';
import { nodeFixture, record, type Fixture } from './app-fixture.js';

export const COMPANY = '9143010200000A1B4J';
export const PERSON_ID = makeResidentId({ division: '430102', birth: '1985-06-01', seq: 123 });

export interface ReportSetup {
  f: Fixture;
  ca: TestCa;
  dir: string;
}

/** A node whose store holds, about COMPANY: two visible CF, one restricted, one internal, one past its disclosure window, an XK and an SXJL; about PERSON_ID one CF. */
export async function reportFixture(t: { teardown(fn: () => unknown): void }, o: { enrol?: boolean } = {}): Promise<ReportSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'report-node-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = makeCa();
  if (o.enrol !== false) enrolDir(dir, { ca });
  // the node's clock is the real time: the test CA and the node certificate are valid from now
  const f = await nodeFixture(t, { config: { dataDir: dir }, now: new Date().toISOString() });
  const admin = await f.auth('officer', 'internal');
  const payload = [
    record('CF', { decisionNo: '长市监处罚〔2026〕101号', content: '可见处罚甲：罚款人民币伍仟元', decisionDate: '2026-05-10', penaltyValidTo: '2027-05-10' }),
    record('CF', { decisionNo: '长市监处罚〔2026〕102号', content: '可见处罚乙：警告', category: ['警告'], fineAmount: undefined, decisionDate: '2026-06-01', penaltyValidTo: '2026-12-01' }),
    record('CF', { decisionNo: '长市监处罚〔2026〕103号', content: '授权查询处罚丙' }, 'restricted'),
    record('CF', { decisionNo: '长市监处罚〔2026〕104号', content: '内部处罚丁' }, 'internal'),
    record('CF', { decisionNo: '长市监处罚〔2024〕105号', content: '过期处罚戊', severity: 'minor', decisionDate: '2024-03-01', penaltyValidTo: '2024-06-01' }),
    record('XK', { decisionNo: '长市监许〔2026〕7号' }),
    record('SXJL', { decisionNo: '长信激〔2026〕3号' }),
    record('CF', { decisionNo: '长市监处罚〔2026〕201号', content: '个人处罚己', subjectCategory: '自然人', subjectName: '张三丰', uscc: undefined, legalRep: undefined, idType: '身份证', idNumber: PERSON_ID }),
  ];
  const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers: admin, payload });
  if (res.statusCode !== 201) throw new Error(`report fixture records: ${res.statusCode} ${res.body}`);
  return { f, ca, dir };
}

/** The text of a PDF (poppler's pdftotext); under CI a missing pdftotext is a failure, elsewhere undefined. */
export function pdfText(pdf: Buffer): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'report-pdf-'));
  try {
    const file = join(dir, 'r.pdf');
    writeFileSync(file, pdf);
    return execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (process.env.CI === 'true') throw new Error('pdftotext is not installed (Debian package poppler-utils): .ci/run installs it');
      return undefined;
    }
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
