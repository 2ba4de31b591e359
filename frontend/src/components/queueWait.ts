// How long a waiting request is expected to wait, in words.

/** "less than a minute", "about 4 min", "about 2 h". */
export function waitText(seconds: number): string {
  if (seconds < 60) return "less than a minute";
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `about ${minutes} min`;
  return `about ${Math.round(minutes / 60)} h`;
}
