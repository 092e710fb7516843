// @moat/auth: one password format for every component, the SMTP users file (parsed, watched, edited) and the AUTH check.
// Trusts the files its callers name; passwords and hashes are never logged.
export { dummyHash, hashPassword, LIMITS, type ParsedHash, parseHash, SCRYPT_DEFAULTS, verifyPassword } from './password.ts';
export { generatePassword, PASSWORD_ALPHABET, passwordEntropyBits } from './generate.ts';
export { hasUser, listUsers, type ParsedUsersFile, parseUsersFile, removeUser, setUser, type UsersFileError, validUserName } from './users-file.ts';
export { openUsersFile, type ReloadResult, staticUsers, type UsersFile, type UsersFileOptions, type UsersSource } from './users-store.ts';
export { type Authenticator, type AuthOutcome, createAuthenticator, type FailureCounter, FailureLimiter } from './authenticator.ts';
// the users file is edited the one way moat replaces a file it keeps (`moat user` locks, then replaces)
export { withFileLock, writeFileAtomic } from '@moat/files';
