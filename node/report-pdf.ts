/**
 * Renders a credit report body as an A4 PDF in Chinese: Noto Sans SC (npm
 * @expo-google-fonts/noto-sans-sc, OFL-1.1) embedded as a subset by pdfkit, read only when a PDF
 * is made. Every page carries the report number and the 验证码 in its footer. The PDF's dates and
 * file id come from the body (issuedAt), so one body renders to the same bytes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { reportDigest, verificationCodeOf, type ReportBody } from '../protocol/credit-report.js';

const FONT_FILE = '@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf';
let font: Buffer | undefined;

function cjkFont(): Buffer {
  font ??= readFileSync(createRequire(import.meta.url).resolve(FONT_FILE));
  return font;
}

const CLASS_LABELS: Record<string, string> = { public: '社会公开', shared: '部门共享', restricted: '授权查询', internal: '不予共享' };
const NUMERALS = ['一', '二', '三', '四', '五', '六', '七', '八', '九', '十'];

/** issuedAt in Beijing time: 2026-11-28 16:00:00 (UTC+8). */
function beijing(iso: string): string {
  return new Date(Date.parse(iso) + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ') + '（北京时间）';
}

export async function renderReportPdf(body: ReportBody): Promise<Buffer> {
  const PDFDocument = (await import('pdfkit')).default;
  const code = verificationCodeOf(reportDigest(body));
  const created = new Date(body.issuedAt);
  const doc = new PDFDocument({
    size: 'A4', margins: { top: 56, bottom: 64, left: 56, right: 56 }, bufferPages: true, compress: true,
    info: { Title: `公共信用信息报告 ${body.reportNo}`, Author: `节点 ${body.issuer.nodeId}`, Producer: 'credit-federation', Creator: 'credit-federation', CreationDate: created, ModDate: created },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.registerFont('cjk', cjkFont());
  doc.font('cjk');

  const line = (s: string, size = 10, indent = 0) => doc.fontSize(size).text(s, doc.page.margins.left + indent, undefined, { width: doc.page.width - doc.page.margins.left - doc.page.margins.right - indent });
  doc.fontSize(20).text('公共信用信息报告', { align: 'center' });
  doc.moveDown(0.3);
  doc.fontSize(9).text('（依《公共信用信息报告标准（2021年版）》编排）', { align: 'center' });
  doc.moveDown(0.8);
  line(`报告编号：${body.reportNo}`);
  line(`生成时间：${beijing(body.issuedAt)}`);
  line(`出具机构：公共信用信息平台节点 ${body.issuer.nodeId}`);
  line(`查询方：角色 ${body.requester.role}，权限 ${CLASS_LABELS[body.requester.clearance] ?? body.requester.clearance}${body.requester.purpose ? `，查询事由 ${body.requester.purpose}` : ''}`);
  line(`验证码：${code}`);
  doc.moveDown(0.8);

  let n = 0;
  const heading = (title: string) => {
    doc.moveDown(0.4);
    line(`${NUMERALS[n++] ?? String(n)}、${title}`, 13);
    doc.moveDown(0.2);
  };
  heading('基本信息');
  line(`主体名称：${body.subject.name ?? '（无可显示的记录）'}`);
  line(`统一社会信用代码／身份证件号码：${body.subject.code}`);
  if (body.subject.category) line(`主体类别：${body.subject.category}`);

  for (const s of body.sections) {
    heading(s.title);
    if (s.entries.length === 0) {
      line(s.key === 'commitments' ? '无（本节点仅有信用修复申请中的信用承诺）' : '无');
      continue;
    }
    s.entries.forEach((e, i) => {
      line(`${i + 1}. ${e.typeName}（${CLASS_LABELS[e.classification] ?? e.classification}）${e.marks.length > 0 ? `【${e.marks.join('；')}】` : ''}`, 10.5);
      for (const r of e.rows) line(`${r.label}：${r.value}`, 9, 14);
      if (e.disclosureEnd) line(`公示截止日期：${e.disclosureEnd}`, 9, 14);
      line(`记录编号：${e.id}`, 8, 14);
      doc.moveDown(0.3);
    });
  }

  heading('异议及信用修复标注');
  const marked = body.sections.flatMap((s) => s.entries.filter((e) => e.marks.length > 0));
  if (marked.length === 0) line('无');
  for (const e of marked) line(`${e.typeName} ${e.id}：${e.marks.join('；')}`, 9);

  heading('说明');
  const withheld = body.withheld.reduce((a, w) => a + w.count, 0);
  if (withheld > 0) line(`另有 ${withheld} 条信息超出查询方权限，未予显示（${body.withheld.map((w) => `${CLASS_LABELS[w.classification] ?? w.classification} ${w.count} 条`).join('，')}）。`, 9);
  line('本报告仅包含查询方权限与公示期限允许披露的信息；已超过公示期限或已撤回的信息不予显示。', 9);
  line(`本报告由节点 ${body.issuer.nodeId} 以其证书签名，签名附于本文件末尾。验证：credit node report verify 本文件 --ca ca.pem（验证码 ${code}）。`, 9);

  const range = doc.bufferedPageRange();
  for (let p = range.start; p < range.start + range.count; p++) {
    doc.switchToPage(p);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc.fontSize(8).text(`报告编号 ${body.reportNo}    验证码 ${code}    第 ${p + 1} 页／共 ${range.count} 页`, doc.page.margins.left, doc.page.height - 40, { width: doc.page.width - doc.page.margins.left - doc.page.margins.right, align: 'center', lineBreak: false });
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  return done;
}
