// SpamAssassin's spamd over SPAMC/1.5: CHECK, SYMBOLS, REPORT, HEADERS with timeouts and a connection limit.
// Talks only to the spamd address it is given; the message bytes it sends are untrusted and never parsed here.
export {
  createSpamdClient,
  type CallOptions,
  type SpamdClient,
  type SpamdClientOptions,
  type SpamdHeadersResult,
  type SpamdMessage,
  type SpamdReportResult,
  type SpamdResult,
  type SpamdSymbolsResult,
} from './client.ts';
export { SpamdError, isSpamdError, spamdErrorCodes, type SpamdErrorCode } from './errors.ts';
export { parseReply, parseSpamHeader, parseSymbols, parseHeaderBlock, type SpamdCommand, type SpamdReply } from './protocol.ts';
