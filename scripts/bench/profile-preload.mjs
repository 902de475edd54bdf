// CPU profiles of every process a bench run starts (the bench, `credit hub start`, `credit node start`, …):
//   PROF_DIR=/tmp/prof NODE_OPTIONS=--import=./scripts/bench/profile-preload.mjs npm run bench -- --quick --only e2e --no-write
// (`node --cpu-prof` is not allowed in NODE_OPTIONS; an --import preload is.) Each process writes
// PROF_DIR/<command>-<pid>.cpuprofile when it exits; read them with scripts/bench/profile-top.mjs
// or in Chrome DevTools. The sampling itself costs a few per cent: compare profiles, not times.
import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';

const dir = process.env.PROF_DIR ?? 'cpu-profiles';
mkdirSync(dir, { recursive: true });
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 500 });
session.post('Profiler.start');
const role = process.argv.slice(2, 4).join('-').replace(/[^\w-]/g, '') || 'node';
process.on('exit', () => {
  // an in-thread inspector session answers synchronously, so this runs to the end inside 'exit'
  session.post('Profiler.stop', (err, res) => {
    if (!err) writeFileSync(`${dir}/${role}-${process.pid}.cpuprofile`, JSON.stringify(res.profile));
  });
});
