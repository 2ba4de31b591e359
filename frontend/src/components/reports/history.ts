/** The History page listing exactly the conversations a report row counts. */
export function historyLink(historyQuery: string): string {
  return `/history?${historyQuery}`;
}
