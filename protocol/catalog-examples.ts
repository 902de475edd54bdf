/**
 * One valid example record per type (`credit catalog example TYPE`, docs, tests). Every name is
 * fictitious (示例) and every USCC is synthetic, built with makeUscc, so no real subject appears.
 */
import type { CreditRecordInput } from './catalog-fields.js';
import { makeUscc } from './identifiers.js';

const COMPANY = makeUscc('9143010200000A1B'); // 长沙示例餐饮有限公司 (synthetic)
const MARKET_REGULATOR = makeUscc('1143010000000M01'); // 长沙市市场监督管理局 (synthetic)
const DEVELOPMENT_COMMISSION = makeUscc('1143000000000F01'); // 湖南省发展和改革委员会 (synthetic)
const COURT = makeUscc('1143010200000C01'); // 长沙市芙蓉区人民法院 (synthetic)
const TAX_BUREAU = makeUscc('1143010000000T01'); // 国家税务总局长沙市税务局 (synthetic)
const CREDIT_CENTRE = makeUscc('1243010000000X01'); // 长沙市公共信用信息中心 (synthetic)

const subject = { subjectName: '长沙示例餐饮有限公司', subjectCategory: '法人及非法人组织', uscc: COMPANY, legalRep: '王示例' };
const source = { sourceName: '长沙市公共信用信息中心', sourceUscc: CREDIT_CENTRE };

const EXAMPLES: Record<string, CreditRecordInput> = {
  XK: {
    type: 'XK',
    fields: {
      ...subject, documentName: '食品经营许可决定书', decisionNo: '长市监食许〔2026〕101号', category: '普通',
      certificateName: '食品经营许可证', licenceNo: 'JY24301020000001', content: '食品经营许可（餐饮服务）',
      decisionDate: '2026-04-10', validFrom: '2026-04-10', validTo: '2031-04-09',
      authority: '长沙市市场监督管理局', authorityUscc: MARKET_REGULATOR, status: '有效', ...source,
    },
  },
  CF: {
    type: 'CF',
    fields: {
      ...subject, decisionNo: '长市监处罚〔2026〕12号', violationType: '未按规定公示食品经营许可证',
      violationFacts: '当事人未在经营场所显著位置公示食品经营许可证（示例）', basis: '《中华人民共和国食品安全法》第一百二十六条第一款',
      category: ['罚款'], content: '未按规定公示食品经营许可证，罚款人民币伍仟元',
      fineAmount: 0.5, decisionDate: '2026-04-15', penaltyValidTo: '2027-04-15', severity: 'ordinary',
      authority: '长沙市市场监督管理局', authorityUscc: MARKET_REGULATOR, ...source,
    },
  },
  YZSX: {
    type: 'YZSX',
    fields: {
      ...subject, decisionNo: '湘发改认定〔2026〕3号', reason: '拒不履行行政处罚决定，情节严重', basis: '相关领域严重失信主体名单认定管理办法（示例）',
      decisionDate: '2026-04-20', severity: 'serious',
      authority: '湖南省发展和改革委员会', authorityUscc: DEVELOPMENT_COMMISSION, ...source,
    },
  },
  SXBZX: {
    type: 'SXBZX',
    fields: {
      ...subject, decisionNo: '（2026）湘0102执123号', basisNo: '（2025）湘0102民初456号', content: '有履行能力而拒不履行生效法律文书确定义务',
      performance: '全部未履行', decisionDate: '2026-05-06', severity: 'serious',
      authority: '长沙市芙蓉区人民法院', authorityUscc: COURT, ...source,
    },
  },
  SXJL: {
    type: 'SXJL',
    fields: {
      ...subject, decisionNo: '长信用激励〔2026〕7号', reason: '连续三年纳税信用A级且无失信记录', decisionDate: '2026-04-28', validTo: '2029-04-27',
      authority: '长沙市发展和改革委员会', authorityUscc: DEVELOPMENT_COMMISSION, ...source,
    },
  },
  NSXY_A: {
    type: 'NSXY_A',
    fields: {
      subjectName: subject.subjectName, subjectCategory: subject.subjectCategory, uscc: COMPANY, legalRep: subject.legalRep,
      evaluationYear: 2025, decisionDate: '2026-04-20',
      authority: '国家税务总局长沙市税务局', authorityUscc: TAX_BUREAU, ...source,
    },
  },
};

/** A fresh copy of the example for `code`, or undefined (arrays copied too: no caller can change the table). */
export function exampleFor(code: string): CreditRecordInput | undefined {
  const e = EXAMPLES[code];
  return e ? { type: e.type, fields: Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v])) } : undefined;
}
