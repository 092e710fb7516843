export { createCertManager, type CertManager, type CertManagerOptions, type RenewResult } from './manager.ts';
export { startHttp01, type Http01Responder } from './http01.ts';
export { certFiles, describeCert, type CertFiles } from './store.ts';
