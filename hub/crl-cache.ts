/**
 * The CRLs the hub serves (GET /v1/crl, GET /v1/crl/sm2) are signed from the register and kept for
 * `maxAgeMs`. After that, one rebuild: requests that arrive while it runs await the same build
 * (single-flight), so a burst of nodes polling at expiry signs one CRL, not one each. A failed
 * build fails the requests waiting on it and the next request tries again. A clock that went back
 * behind the cached CRL's time rebuilds too.
 */
export interface CrlCache {
  get(): Promise<string>;
}

export function crlCache(build: (now: Date) => Promise<string>, clock: () => Date, maxAgeMs: number, onBuild: () => void = () => undefined): CrlCache {
  let held: { pem: string; at: number } | null = null;
  let building: Promise<string> | null = null;
  return {
    async get() {
      const now = clock();
      const t = now.getTime();
      if (held !== null && t - held.at < maxAgeMs && t >= held.at) return held.pem;
      building ??= (async () => {
        try {
          onBuild();
          const pem = await build(now);
          held = { pem, at: t };
          return pem;
        } finally {
          building = null;
        }
      })();
      return building;
    },
  };
}
