/**
 * 异议与修复 (the objection and repair queues with their deadlines), 交换状态 (outbox, receipts,
 * certificate days left, last error) and 我的账户 (who am I, what may I do). Through the node's API.
 */
import type { FastifyInstance } from 'fastify';
import { CLASS_NAMES, ROLE_NAMES } from '../../server/console/messages.js';
import { ROLE_ACTIONS, type Role } from '../access.js';
import { isCreditError } from '../../protocol/errors.js';
import { callApi } from './api.js';

const OBJECTION_STATUS: Readonly<Record<string, string>> = { open: '待处理', upheld: '已采纳', rejected: '已驳回', closed: '已关闭' };
const REPAIR_STATUS: Readonly<Record<string, string>> = { pending: '待决定', accepted: '已同意', refused: '已拒绝', closed: '已关闭' };

const ACTION_NAMES: Readonly<Record<string, string>> = {
  'record.create': '录入信用信息', 'record.import': '批量上报（CSV/XLSX）', 'record.read': '查询主体信息', 'record.read-withdrawn': '查看已撤销信息',
  'record.object': '登记与查看异议', 'record.withdraw': '撤销信息', 'objection.resolve': '处理异议', 'audit.read': '浏览审计日志与交换状态',
  'audit.export': '导出审计日志', 'user.manage': '管理账户（credit node users）', 'user.authorize': '授予角色与信息等级（credit node users authorize）',
};

export interface ExchangeStatusView {
  nodeId: string;
  hubUrl: string;
  grade: number;
  certificate: { serial: string; notAfter: string; renewFrom: string };
  outbox: { pending: number };
  batches: { pending: number; accepted: number; refused: number; lastSeq: number };
  inbox: { cursor: number; applied: number };
  witness: { treeSize: number; cosignedAt: string } | null;
  lastError: { loop: string; code: string; message: string; at: string } | null;
}

export async function statusPages(app: FastifyInstance, opts: { api: FastifyInstance }): Promise<void> {
  const { api } = opts;
  const clock = () => new Date();

  app.get<{ Querystring: { overdue?: boolean } }>('/queues', { schema: { querystring: { type: 'object', properties: { overdue: { type: 'boolean' } } } } }, async (request, reply) => {
    const overdue = request.query.overdue === true ? '&overdue=true' : '';
    const objections = await callApi<Record<string, unknown>[]>(api, request, 'GET', `/v1/objections?status=open${overdue}`);
    const repairs = await callApi<Record<string, unknown>[]>(api, request, 'GET', `/v1/repairs?status=pending${overdue}`);
    return reply.page('/node/console/views/queues', { pageTitle: '异议与修复', objections: objections.body, repairs: repairs.body, overdue: request.query.overdue === true, objectionStatus: OBJECTION_STATUS, repairStatus: REPAIR_STATUS });
  });

  app.get('/exchange', async (request, reply) => {
    let status: ExchangeStatusView | undefined;
    let standalone = false;
    try {
      status = (await callApi<ExchangeStatusView>(api, request, 'GET', '/v1/exchange/status')).body;
    } catch (e) {
      if (!isCreditError(e) || e.code !== 'ERR_HUB_UNAVAILABLE') throw e;
      standalone = true;
    }
    const daysLeft = status ? Math.floor((Date.parse(status.certificate.notAfter) - clock().getTime()) / 86_400_000) : null;
    const certState = daysLeft === null ? 'grey' : daysLeft < 7 ? 'red' : daysLeft < 30 ? 'amber' : 'green';
    const exchangeState = !status ? 'grey' : status.lastError ? 'red' : status.batches.pending > 0 || status.outbox.pending > 0 ? 'amber' : 'green';
    return reply.page('/node/console/views/exchange', { pageTitle: '交换状态', status, standalone, daysLeft, certState, exchangeState, checkedAt: clock().toISOString() });
  });

  app.get('/account', async (request, reply) => {
    const role = request.caller.role as Role;
    return reply.page('/node/console/views/account', {
      pageTitle: '我的账户', role, roleNames: ROLE_NAMES, clearanceName: CLASS_NAMES[request.caller.clearance] ?? request.caller.clearance,
      actions: ROLE_ACTIONS[role].map((a) => ACTION_NAMES[a] ?? a),
    });
  });
}
