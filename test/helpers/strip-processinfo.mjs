// Loaded into every test process (.taprc node-arg). tap hands its process-info loader hook to the
// processes a test starts through NODE_OPTIONS; it only serves coverage, so with coverage off
// (`npm test`) the hubs, nodes and CLI runs a test spawns start without it.
if (process.env._TAPJS_PROCESSINFO_COVERAGE_ === '0' && process.env.NODE_OPTIONS) {
  process.env.NODE_OPTIONS = process.env.NODE_OPTIONS.split(/\s+/).filter((o) => o && !o.includes('@tapjs/processinfo')).join(' ');
}
