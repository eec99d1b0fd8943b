/**
 * Length limits count characters (Unicode code points), not UTF-16 code
 * units, so "200 characters" means what a person counts for most scripts.
 */
export function codePointLength(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

/**
 * Orders strings by Unicode code point, which is how MongoDB orders them
 * (by their UTF-8 bytes) and so the order of its indexes and keyset pages;
 * JS `<` compares UTF-16 code units and differs where a character outside
 * the Basic Multilingual Plane meets one in U+E000–U+FFFF.
 */
export function compareByCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codeUnitRank(x) - codeUnitRank(y);
  }
  return a.length - b.length;
}

/** Surrogates (the units of characters above U+FFFF) rank after every other unit, as their code points do. */
function codeUnitRank(unit: number): number {
  return unit >= 0xd800 && unit <= 0xdfff ? unit + 0x10000 : unit;
}
