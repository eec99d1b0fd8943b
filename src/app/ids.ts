/**
 * Opaque identifiers: group ids and etags. Random rather than sequential so
 * that ids reveal nothing about how many groups exist or when they were made.
 */
import { randomBytes, randomUUID } from "node:crypto";

const base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

/** 16 lowercase base32 characters (80 random bits), valid as a principal id. */
export function newGroupId(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let id = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      id += base32Alphabet[(value >>> (bits - 5)) & 31] ?? "";
      bits -= 5;
    }
  }
  return id;
}

/** A fresh etag (72 random bits): every change of a group gets a new one. */
export function newEtag(): string {
  return randomBytes(9).toString("base64url");
}

/** A group token's `jti`: a random UUID. */
export function newTokenId(): string {
  return randomUUID();
}
