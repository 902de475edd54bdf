/** Information classes (信息等级), lowest to highest, and the rules that compare them. */

export const CLASSIFICATIONS = ['public', 'shared', 'restricted', 'internal'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export const CLASSIFICATION_LABELS: Record<Classification, string> = {
  public: '社会公开',
  shared: '部门共享',
  restricted: '授权查询',
  internal: '不予共享',
};

export function isClassification(x: unknown): x is Classification {
  return typeof x === 'string' && (CLASSIFICATIONS as readonly string[]).includes(x);
}

/** Rank: public 0 < shared 1 < restricted 2 < internal 3. */
export function classRank(c: Classification): number {
  return CLASSIFICATIONS.indexOf(c);
}

/** True when clearance `have` covers data of class `need`. */
export function clears(have: Classification, need: Classification): boolean {
  return classRank(have) >= classRank(need);
}

/** Minimum registered protection grade (等保 level) of a node that may receive a class over the hub. */
export const MIN_GRADE_TO_RECEIVE: Record<Classification, number | null> = {
  public: 1,
  shared: 2,
  restricted: null, // to the hub only; released per query
  internal: null, // never leaves the owning node
};

/**
 * Minimum registered grade of a node that may publish a class to the hub (and receive it back in
 * a province-wide query answer): restricted data leaves a node only towards grade ≥ 3 systems.
 * `internal` never leaves its node: the hub refuses a batch carrying it (ERR_CLASSIFICATION_DENIED).
 */
export const MIN_GRADE_TO_SEND: Record<Classification, number | null> = {
  public: 1,
  shared: 2,
  restricted: 3,
  internal: null,
};
