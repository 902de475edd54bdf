/** The `code` a synchronous call throws, or 'ok' when it returns: lets one assert name the exact error code. */
export function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return String((e as { code?: string }).code);
  }
}
