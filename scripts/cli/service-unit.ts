/**
 * The systemd unit of a hub or a node (`credit node|hub install-service`): pure text from absolute
 * paths. The unit runs `node bin/credit.js … start` directly (no npx, no shell), so the process
 * systemd signals is the server itself: SIGTERM shuts it down gracefully.
 */
import { isAbsolute } from 'node:path';
import { cliError } from '../errors.js';

export interface UnitInput {
  role: 'node' | 'hub';
  /** The node id (430000 for the hub), shown in the description. */
  nodeId: string;
  /** Absolute path of the Node.js binary (process.execPath). */
  nodeBin: string;
  /** Absolute path of bin/credit.js. */
  creditBin: string;
  /** Absolute path of the config file. */
  configFile: string;
  /** Absolute data directory: the service may write only here (and in writableDirs). */
  dataDir: string;
  /** Further directories it writes (the hub: its caDir, where it marks the CA as the hub's). */
  writableDirs?: string[];
  user: string;
  /** Seconds systemd waits after SIGTERM before SIGKILL (a little over the graceful shutdown budget). */
  stopTimeoutSec: number;
  /** An optional EnvironmentFile= (e.g. DATABASE_URL=postgres://…), absolute. */
  envFile?: string;
}

/** A path systemd can take unquoted: absolute, no whitespace, quotes, backslashes or control characters. */
function checkPath(what: string, p: string): string {
  if (!isAbsolute(p) || /[\s"'\\\u0000-\u001f\u007f]/.test(p)) throw cliError('ERR_USAGE', `${what} ${JSON.stringify(p)} must be an absolute path without spaces, quotes or backslashes to go into a systemd unit`);
  return p.replace(/%/g, '%%'); // systemd specifiers start with %
}

export function renderUnit(u: UnitInput): string {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(u.user)) throw cliError('ERR_USAGE', `--user ${JSON.stringify(u.user)} is not a valid system user name`);
  const what = u.role === 'hub' ? 'provincial hub 430000' : `city node ${u.nodeId}`;
  const exec = [checkPath('node', u.nodeBin), checkPath('bin/credit.js', u.creditBin), u.role, 'start', '--config', checkPath('--config', u.configFile)].join(' ');
  return [
    '# Written by `credit ' + u.role + ' install-service`; re-run it after moving the package or the config.',
    '[Unit]',
    `Description=credit-federation ${what}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${u.user}`,
    `Group=${u.user}`,
    `ExecStart=${exec}`,
    ...(u.envFile === undefined ? [] : [`EnvironmentFile=${checkPath('--env-file', u.envFile)}`]),
    'Environment=NODE_ENV=production',
    'Restart=on-failure',
    'RestartSec=5s',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${u.stopTimeoutSec}`,
    'UMask=0077',
    '# hardening: the whole file system is read-only except the data directory',
    'ProtectSystem=strict',
    `ReadWritePaths=${[u.dataDir, ...(u.writableDirs ?? [])].map((d) => checkPath('directory', d)).join(' ')}`,
    'ProtectHome=read-only',
    'PrivateTmp=true',
    'PrivateDevices=true',
    'NoNewPrivileges=true',
    'ProtectKernelTunables=true',
    'ProtectKernelModules=true',
    'ProtectControlGroups=true',
    'RestrictSUIDSGID=true',
    'LockPersonality=true',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** What to run next, printed after the unit is written. */
export function enableSteps(u: UnitInput, unitPath: string): string {
  const name = unitPath.split('/').pop()!.replace(/\.service$/, '');
  return [
    `systemd unit written: ${unitPath}`,
    'To run it (as root):',
    `  id ${u.user} >/dev/null 2>&1 || useradd --system --home-dir ${u.dataDir} --shell /usr/sbin/nologin ${u.user}`,
    ...[u.dataDir, ...(u.writableDirs ?? [])].map((d) => `  chown -R ${u.user}:${u.user} ${d} && chmod 0700 ${d}`),
    `  chgrp ${u.user} ${u.configFile} && chmod 0640 ${u.configFile}   # the service must read its config`,
    `  systemd-analyze verify ${unitPath}`,
    '  systemctl daemon-reload',
    `  systemctl enable --now ${name}`,
    `  journalctl -u ${name} -f            # its JSON log lines`,
    `  systemctl stop ${name}              # SIGTERM: graceful shutdown`,
    '',
  ].join('\n');
}
