/**
 * `credit hub catalog publish|show`: the province supplementary catalog (地方补充目录) the hub
 * operator publishes. publish checks the draft file ({ title, types }), gives it the next serial,
 * signs it with the hub key (DATADIR/hub.key, certificate hub.pem) and stores it in the hub's
 * database; the running hub serves it at GET /v1/catalog and checks batches against it from the
 * next batch on, and nodes adopt it within their catalog interval (or at once, when a record needs it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, basename } from 'node:path';
import { HUB_FILES } from '../../hub/identity.js';
import { loadHubConfig } from '../../hub/config.js';
import { openExistingHubStore } from '../../hub/admin-store.js';
import { catalogStore } from '../../hub/catalog-store.js';
import { publishCatalog } from '../../hub/catalog-service.js';
import { auditOperatorAction } from '../../audit/operator.js';
import { protocolError } from '../../protocol/errors.js';
import { jsonTextProblems, scanJsonText } from '../../protocol/strict-json.js';
import { CATALOG_LIMITS } from '../../protocol/catalog-document.js';
import { cliError } from '../errors.js';
import { command, group, requireString } from './framework.js';

const CONFIG_HELP = '  --config FILE   hub config (JSON), as for `credit hub start`; the hub must have been started once (its store and hub.key exist)';

/** The draft file as JSON: not larger than a document may be, no member name twice. */
function readDraft(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw cliError('ERR_USAGE', `cannot read ${file}: ${(e as Error).message}`);
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > CATALOG_LIMITS.maxDocumentBytes) throw protocolError('ERR_CATALOG_TOO_LARGE', `${file} is ${bytes} bytes; a province catalog is at most ${CATALOG_LIMITS.maxDocumentBytes}`, { bytes });
  let draft: unknown;
  try {
    draft = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw protocolError('ERR_CATALOG_INVALID', `${file} is not JSON: ${(e as Error).message}`);
  }
  const dup = jsonTextProblems(scanJsonText(text.replace(/^\uFEFF/, '')));
  if (dup.length > 0) throw protocolError('ERR_CATALOG_INVALID', `${file}: ${dup.map((p) => `${p.field} ${p.message}`).join('; ')}`, dup);
  return draft;
}

const publish = command({
  name: 'publish',
  summary: 'check, sign and publish a province supplementary catalog (the next serial)',
  usage: '--config FILE --file CATALOG.json',
  help: [
    CONFIG_HELP,
    '  --file FILE     the draft: {"title":"…","types":[{code,name,classification,negative,naturalKey,fields:[FieldSpec…]}]}',
    '                  (docs/catalog.md, "Province supplementary catalog"; example: docs/examples/province-catalog.json)',
    '  Prints the serial and the type codes. A draft that redefines a national type (ERR_CATALOG_TYPE_REDEFINED) or',
    '  that the catalog cannot hold (ERR_CATALOG_INVALID, every problem listed) is refused and nothing is stored.',
  ].join('\n'),
  options: { config: { type: 'string' }, file: { type: 'string' } },
  run: async ({ values, io }) => {
    const config = loadHubConfig(requireString(values, 'config'));
    const file = requireString(values, 'file');
    const keyPath = join(config.dataDir, HUB_FILES.key);
    const certPath = join(config.dataDir, HUB_FILES.cert);
    if (!existsSync(keyPath) || !existsSync(certPath)) throw cliError('ERR_USAGE', `no hub key and certificate in ${config.dataDir} (${HUB_FILES.key}, ${HUB_FILES.cert}): start the hub once with \`credit hub start --config FILE\``);
    const hub = { keyPem: readFileSync(keyPath, 'utf8'), certPem: readFileSync(certPath, 'utf8') };
    const db = await openExistingHubStore(config);
    try {
      // the publication and every refused draft are operator actions in the hub's audit log (issue 16 item 6)
      let r: Awaited<ReturnType<typeof publishCatalog>>;
      try {
        r = await publishCatalog(db, readDraft(file), hub, new Date());
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        await auditOperatorAction(db, { action: 'catalog.publish', actorNode: '430000', object: `file:${basename(file)}`, outcome: 'failure', reason: typeof code === 'string' ? code : 'ERR_INTERNAL' });
        throw e;
      }
      await auditOperatorAction(db, { action: 'catalog.publish', actorNode: '430000', object: `catalog:${r.serial}`, outcome: 'success', reason: `types=${r.types.join(',')} sha256=${r.digest}` });
      io.stdout(`published province catalog serial ${r.serial} (${r.publishedAt}): ${r.types.length} type(s) ${r.types.join(', ')}\nsha256 ${r.digest}\n`);
    } finally {
      await db.destroy();
    }
    return 0;
  },
});

const show = command({
  name: 'show',
  summary: 'print the signed province catalog the hub serves (GET /v1/catalog)',
  usage: '--config FILE',
  help: CONFIG_HELP,
  options: { config: { type: 'string' } },
  run: async ({ values, io }) => {
    const config = loadHubConfig(requireString(values, 'config'));
    const db = await openExistingHubStore(config);
    try {
      const c = await catalogStore.latest(db);
      if (c === null) {
        io.stderr('no province catalog published yet: credit hub catalog publish --config FILE --file CATALOG.json\n');
        return 1;
      }
      io.stdout(`${c.document}\n`);
    } finally {
      await db.destroy();
    }
    return 0;
  },
});

export const hubCatalogGroup = group('catalog', 'the province supplementary catalog (地方补充目录): publish, show', [publish, show]);
