/**
 * Reads the scalar PHP `serialize()` formats Laravel's cache stores write for a timestamp:
 * `i:1764640000;`, `d:1764640000.5;`, `s:10:"1764640000";`, `b:1;`, `N;`. Anything else
 * (arrays, objects) is returned as its raw text: for change detection the text is enough.
 */
export function unserializeScalar(text: string): string | number | boolean | null {
  const match = /^(?:i:(-?\d+)|d:([^;]+)|b:([01])|s:\d+:"([\s\S]*)");$/.exec(text);
  if (text === "N;") return null;
  if (!match) return text;
  const [, int, double, bool, str] = match;
  if (int !== undefined) return Number(int);
  if (double !== undefined) return Number(double);
  if (bool !== undefined) return bool === "1";
  return str!;
}
