/** "Your conversation goes back" / "Your 3 conversations go back": what a leader hands back. */
export function goesBack(held: number): string {
  return held === 1 ? "Your conversation goes back" : `Your ${held} conversations go back`;
}
