/** `credit node install-service` and `credit hub install-service`: write the systemd unit of this machine's server. */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../../certs/safe-files.js';
import { command, optionalString, requireString, type Command } from './framework.js';
import { enableSteps, renderUnit, type UnitInput } from './service-unit.js';

/** bin/credit.js of this package: from scripts/cli/ in a checkout, from dist/scripts/cli/ when installed. */
export function creditBinPath(): string {
  for (const rel of ['../../bin/credit.js', '../../../bin/credit.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return fileURLToPath(new URL('../../bin/credit.js', import.meta.url));
}

interface ServerFacts {
  nodeId: string;
  dataDir: string;
  writableDirs: string[];
  shutdownTimeoutMs: number;
}

export function installServiceCommand(role: 'node' | 'hub', facts: (configFile: string) => Promise<ServerFacts>): Command {
  return command({
    name: 'install-service',
    summary: `write a systemd unit that runs this ${role} as a dedicated user (hardened; restarts on failure) and print how to enable it`,
    usage: '--config FILE [--out FILE] [--user NAME] [--env-file FILE]',
    help: [
      `  --config FILE    the ${role} config; the unit runs \`credit ${role} start --config FILE\` with this Node.js and package`,
      `  --out FILE       where to write the unit (default /etc/systemd/system/credit-${role}.service)`,
      '  --user NAME      the dedicated system user it runs as (default credit)',
      '  --env-file FILE  EnvironmentFile= for the unit, e.g. a 0600 file with DATABASE_URL=postgres://…',
      '  The unit: ProtectSystem=strict with ReadWritePaths= the data directory only, NoNewPrivileges,',
      '  Restart=on-failure; ExecStart is the absolute node binary and bin/credit.js (no npx), so',
      '  `systemctl stop` sends SIGTERM to the server itself and it shuts down gracefully.',
    ].join('\n'),
    options: { config: { type: 'string' }, out: { type: 'string' }, user: { type: 'string' }, 'env-file': { type: 'string' } },
    run: async ({ values, io }) => {
      const configFile = resolve(requireString(values, 'config'));
      const f = await facts(configFile);
      const envFile = optionalString(values, 'env-file');
      const input: UnitInput = {
        role,
        nodeId: f.nodeId,
        nodeBin: process.execPath,
        creditBin: creditBinPath(),
        configFile,
        dataDir: f.dataDir,
        writableDirs: f.writableDirs,
        user: optionalString(values, 'user') ?? 'credit',
        stopTimeoutSec: Math.ceil(f.shutdownTimeoutMs / 1000) + 5,
        ...(envFile === undefined ? {} : { envFile: resolve(envFile) }),
      };
      const text = renderUnit(input);
      const out = resolve(optionalString(values, 'out') ?? `/etc/systemd/system/credit-${role}.service`);
      mkdirSync(dirname(out), { recursive: true });
      writeFileAtomic(out, text, 0o644);
      io.stdout(enableSteps(input, out));
      return 0;
    },
  });
}
