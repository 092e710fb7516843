// @moat/files: the one way moat replaces a file it keeps (users file, ACME state, MTA-STS policies), and the edit lock.
// Trusts the paths its callers name and the kernel's fsync.
export { withFileLock, writeFileAtomic } from './atomic-write.ts';
