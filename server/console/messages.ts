/**
 * Clerk-facing Chinese text of the codes a console shows (the stable code always beside it). A
 * code not listed here is shown with the server's own message. Messages that already carry their
 * code (the services write many in Chinese: `… [ERR_LOGIN_FAILED]`) are shown as they are.
 */
const ZH: Readonly<Record<string, string>> = {
  ERR_AUTH_MISSING: '请先登录',
  ERR_AUTH_INVALID: '登录状态无效，请重新登录',
  ERR_AUTH_EXPIRED: '登录已过期，请重新登录',
  ERR_SESSION_ENDED: '会话已结束（已注销、超时未操作或账户被停用），请重新登录',
  ERR_LOGIN_FAILED: '登录失败：用户名、口令或动态口令不正确',
  ERR_ACCOUNT_LOCKED: '账户已锁定（连续登录失败），请期满后重试或联系系统管理员',
  ERR_PASSWORD_EXPIRED: '口令已过期或为初始口令，请先修改口令（credit node users 或 POST /v1/password）',
  ERR_ROLE_DENIED: '当前角色无权使用此功能',
  ERR_CLASSIFICATION_DENIED: '信息等级超出当前用户的授权范围',
  ERR_PURPOSE_REQUIRED: '查询授权查询类信息须填写查询事由',
  ERR_CSRF_INVALID: '页面已失效（防跨站伪造令牌不匹配），请刷新页面后重试',
  ERR_RATE_LIMITED: '操作过于频繁，请稍后再试',
  ERR_REQUEST_INVALID: '请求内容不正确',
  ERR_BODY_TOO_LARGE: '文件过大',
  ERR_UNSUPPORTED_MEDIA_TYPE: '文件格式不支持：请上传 CSV 或 XLSX 文件',
  ERR_IMPORT_TYPE_REQUIRED: '请选择信息类别',
  ERR_IMPORT_HEADER_INVALID: '表头与所选信息类别不符',
  ERR_IMPORT_FORMAT: '文件无法读取（既不是 CSV 也不是 XLSX）',
  ERR_INVALID_USCC: '统一社会信用代码校验不通过',
  ERR_HUB_UNAVAILABLE: '本节点未连接省级枢纽',
  ERR_REPORT_NO_SIGNER: '本节点尚无签发信用报告的证书',
  ERR_AUDIT_NO_CHECKPOINT: '审计日志尚无签名检查点',
  ERR_AUDIT_RANGE: '序号范围不在审计日志内',
  ERR_AUDIT_PRUNED: '该范围的审计记录已按保存期限清理',
  ERR_ROUTE_NOT_FOUND: '页面不存在',
  ERR_NOT_READY: '服务正在启动或关闭，请稍后再试',
  ERR_INTERNAL: '内部错误，请查看服务日志',
};

/** `中文说明 [CODE]`, or the server's message when it already names the code. */
export function clerkMessage(body: { code: string; message: string }): string {
  if (body.message.includes(`[${body.code}]`)) return body.message;
  const zh = ZH[body.code];
  return zh ? `${zh} [${body.code}]` : `${body.message} [${body.code}]`;
}

/** Role names as the consoles show them. */
export const ROLE_NAMES: Readonly<Record<string, string>> = {
  submitter: '报送员', query: '查询员', officer: '信用业务员', auditor: '审计员', sysadmin: '系统管理员', secadmin: '安全管理员', operator: '省级运维员',
};

export const CLASS_NAMES: Readonly<Record<string, string>> = { public: '社会公开', shared: '部门共享', restricted: '授权查询', internal: '不予共享' };
