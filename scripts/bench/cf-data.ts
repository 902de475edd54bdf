/**
 * The benchmarks' data: 行政处罚 (CF) records as a city's departments send them, as CSV lines with
 * the Chinese 双公示 header, 1% of them bad in one of four ways. The import bench uploads them; the
 * raw-insert bench stores the very same records (same natural keys, same index pattern) straight
 * through the store, so the two rates compare like for like.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { validateRecord } from '../../protocol/catalog.js';
import { todayInChina } from '../../protocol/catalog-calendar.js';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';
import { csvSource } from '../../node/import-sources.js';
import { toStoredRecord } from '../../node/record-model.js';
import type { StoredRecord } from '../../node/records-store.js';

/** Catalog 2027.1 national CF columns that a department fills for a fine (plus the local 失信程度). */
export const CF_HEADER = '行政相对人名称,行政相对人类别,统一社会信用代码,行政处罚决定书文号,违法行为类型,违法事实,处罚依据,处罚类别,处罚内容,罚款金额（万元）,处罚决定日期,处罚有效期,失信程度,处罚机关,处罚机关统一社会信用代码,数据来源单位,数据来源单位统一社会信用代码';
const BAD_KINDS = ['bad-uscc', 'bad-date', 'missing-number', 'bad-severity'] as const;

/**
 * Data rows 1..lines (CRLF-terminated, no header); every `badEvery`-th is invalid. Deterministic
 * for a seed: 1,000 subjects, one authority, one source.
 */
export function* cfCsvRows(lines: number, badEvery = 100, seed = 1): Generator<string> {
  const rng = seededRng(seed);
  const subjects = Array.from({ length: 1000 }, () => randomUscc(rng));
  const authority = randomUscc(rng, { authority: '1', category: '1' });
  const source = randomUscc(rng, { authority: '1', category: '2' });
  let bad = 0;
  for (let i = 1; i <= lines; i++) {
    let uscc = subjects[i % subjects.length]!;
    let date = '2026-10-15';
    let no = `长市监罚〔2026〕${i}号`;
    let severity = '严重';
    if (i % badEvery === 0) {
      const kind = BAD_KINDS[bad % BAD_KINDS.length];
      bad++;
      if (kind === 'bad-uscc') uscc = uscc.slice(0, 17) + (uscc[17] === '0' ? '1' : '0');
      else if (kind === 'bad-date') date = '2026-02-30';
      else if (kind === 'missing-number') no = '';
      else severity = '很严重';
    }
    yield `示例企业${i % 1000}有限公司,法人及非法人组织,${uscc},${no},未按规定公示许可证,"未在经营场所公示许可证，经责令改正拒不改正",《食品安全法》第一百二十六条,罚款,"未按规定公示许可证，罚款人民币伍仟元",0.5,${date},2026-11-15,${severity},长沙市市场监督管理局,${authority},长沙市公共信用信息中心,${source}\r\n`;
  }
}

/**
 * Writes `lines` CF data rows (plus a BOM and the header) to `file`; every `badEvery`-th row is
 * invalid. Returns the number of bad rows. Streams with backpressure: any size fits.
 */
export async function writeCfCsv(file: string, lines: number, badEvery = 100, seed = 1): Promise<{ bad: number }> {
  const out = createWriteStream(file);
  let buf = '\uFEFF' + CF_HEADER + '\r\n';
  for (const row of cfCsvRows(lines, badEvery, seed)) {
    buf += row;
    if (buf.length > 65536) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  return { bad: Math.floor(lines / badEvery) };
}

/**
 * The valid records of cfCsvRows as the node would store them, `size` lines at a time, made by
 * the node's own CSV reader, validator and record model (none of that is timed by the caller).
 */
export async function* cfStoredBatches(lines: number, size: number, badEvery = 100, seed = 1): AsyncGenerator<StoredRecord[]> {
  const rows = cfCsvRows(lines, badEvery, seed);
  const ctx = { nodeId: '430100', actor: 'user:bench', now: new Date().toISOString() };
  const opts = { today: todayInChina() };
  for (let done = 0; done < lines; done += size) {
    let text = CF_HEADER + '\n';
    for (let k = 0; k < size && done + k < lines; k++) text += rows.next().value as string;
    const out: StoredRecord[] = [];
    for await (const items of csvSource(Readable.from([Buffer.from(text)]), Infinity, 'CF')) {
      for (const item of items) {
        if (!('input' in item)) continue;
        const v = validateRecord(item.input, opts);
        if (v.ok) out.push(toStoredRecord(v.record, ctx));
      }
    }
    yield out;
  }
}
