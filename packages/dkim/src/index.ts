// DKIM for outbound mail: the signing table, signing (mailauth), key generation and the record to publish.
// Trusts the operator's keys; From headers and DNS answers are untrusted input.
export { signIfConfigured, keysFor, matchesFrom, fromAddress, fromDomain, type DkimKey } from './sign.ts';
export { generateDkimKey, describePrivateKey, dkimRecord, parseDkimRecord, publicKeyValue, type DkimKeyType, type DkimRecord, type GeneratedKey } from './keys.ts';
export { checkDkimRecord, type DkimCheck, type TxtResolver } from './check.ts';
