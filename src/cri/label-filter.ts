/** CRI label_selector: every key/value in the selector must be present on the object. */
export function matchesLabels(labels: Record<string, string> | undefined, selector: Record<string, string> | null | undefined): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** CRI ID filters match a full ID or a prefix of it, as crictl and critest use them. */
export function matchesId(id: string, filter: string | null | undefined): boolean {
  return !filter || id.startsWith(filter);
}
