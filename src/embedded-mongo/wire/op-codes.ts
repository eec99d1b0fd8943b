/** Wire opcodes this server reads or writes (MongoDB wire protocol). */
export const opCodes = {
  reply: 1,
  query: 2004,
  compressed: 2012,
  msg: 2013,
} as const;

/** OP_MSG flag bits. Bits 0–15 are "required": unknown ones must be rejected. */
export const opMsgFlags = {
  checksumPresent: 1 << 0,
  moreToCome: 1 << 1,
  exhaustAllowed: 1 << 16,
} as const;

export const knownRequiredFlags = opMsgFlags.checksumPresent | opMsgFlags.moreToCome;
