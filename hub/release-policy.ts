/** What leaves the hub towards a node: distribution by grade, query answers by grade, clearance and purpose. Pure. */
import { clears, MIN_GRADE_TO_RECEIVE, type Classification } from '../protocol/classification.js';
import { isDisclosed } from '../protocol/disclosure.js';
import type { WireRecord } from '../protocol/exchange.js';

const DISTRIBUTED: readonly Classification[] = ['public', 'shared', 'restricted', 'internal'];

/** Classes a node of `grade` receives in the distribution feed (public ≥ 1, shared ≥ 2; never restricted or internal). */
export function receivableClasses(grade: number): Classification[] {
  return DISTRIBUTED.filter((c) => mayReceive(c, grade));
}

/** True when a node of `grade` may hold records of class `c` received through the feed. */
export function mayReceive(c: Classification, grade: number): boolean {
  const min = MIN_GRADE_TO_RECEIVE[c];
  return min !== null && grade >= min;
}

/** True when records of this class go into the distribution feed at all. */
export function isDistributed(c: Classification): boolean {
  return MIN_GRADE_TO_RECEIVE[c] !== null;
}

/**
 * Whether a record the hub holds may still be shared on `today` (China date): positive records
 * always, negative ones within their disclosure window (Order No. 36 of 2025). A record whose
 * window cannot be computed is treated as not disclosed (fail closed).
 */
export function stillDisclosed(r: Pick<WireRecord, 'type' | 'classification' | 'fields'>, today: string): boolean {
  try {
    return isDisclosed({ type: r.type, classification: r.classification, fields: r.fields }, today);
  } catch {
    return false;
  }
}

/**
 * How a feed item goes to a node of `grade`, decided on the record's class and status NOW: its
 * content when it is active, still disclosed and the grade covers its current class, else a
 * tombstone — 'withdrawn' when its source node withdrew it, 'withheld' with the reason otherwise.
 */
export function feedDecision(
  current: { classification: Classification; status: 'active' | 'withdrawn'; disclosed: boolean },
  grade: number,
): { serve: 'content' } | { serve: 'withdrawn' } | { serve: 'withheld'; reason: 'reclassified' | 'expired' } {
  if (current.status !== 'active') return { serve: 'withdrawn' };
  if (!mayReceive(current.classification, grade)) return { serve: 'withheld', reason: 'reclassified' };
  return current.disclosed ? { serve: 'content' } : { serve: 'withheld', reason: 'expired' };
}

export type Release = { release: true } | { release: false; code: 'ERR_CLASSIFICATION_DENIED' | 'ERR_PURPOSE_REQUIRED' };

/**
 * A province-wide query: public always; shared when the asking node's grade ≥ 2 and the user's
 * clearance ≥ shared; restricted when grade ≥ 3, clearance ≥ restricted and a purpose is stated
 * (else ERR_PURPOSE_REQUIRED); internal never (the hub holds none).
 */
export function releaseFor(c: Classification, o: { grade: number; clearance: Classification; purpose?: string | undefined }): Release {
  switch (c) {
    case 'public':
      return { release: true };
    case 'shared':
      return o.grade >= 2 && clears(o.clearance, 'shared') ? { release: true } : { release: false, code: 'ERR_CLASSIFICATION_DENIED' };
    case 'restricted':
      if (o.grade < 3 || !clears(o.clearance, 'restricted')) return { release: false, code: 'ERR_CLASSIFICATION_DENIED' };
      return o.purpose !== undefined && o.purpose.trim() !== '' ? { release: true } : { release: false, code: 'ERR_PURPOSE_REQUIRED' };
    default:
      return { release: false, code: 'ERR_CLASSIFICATION_DENIED' };
  }
}
