/**
 * Length limits count characters (Unicode code points), not UTF-16 code
 * units, so "200 characters" means what a person counts for most scripts.
 */
export function codePointLength(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}
