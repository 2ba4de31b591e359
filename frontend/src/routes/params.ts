/** A positive whole number from the URL, or null. */
export function parseId(value: string | undefined | null): number | null {
  if (value === undefined || value === null || !/^\d+$/.test(value)) return null;
  const id = Number(value);
  return id > 0 ? id : null;
}
