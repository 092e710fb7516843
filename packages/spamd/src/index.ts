// SpamAssassin's spamd over SPAMC/1.5: CHECK, SYMBOLS, REPORT, HEADERS, TELL (learn) with timeouts and a connection limit.
// Talks only to the spamd address it is given; the message bytes it sends are untrusted and never parsed here.
export {
  createSpamdClient,
  type CallOptions,
  type LearnOutcome,
  type SpamdClient,
  type SpamdClientOptions,
  type SpamdHeadersResult,
  type SpamdLearnResult,
  type SpamdMessage,
  type SpamdReportResult,
  type SpamdResult,
  type SpamdSymbolsResult,
} from './client.ts';
export { SpamdError, isSpamdError, spamdErrorCodes, type SpamdErrorCode } from './errors.ts';
export { spamdLearner, type Learner } from './learner.ts';
export { checkMessage, type MessageCheck, type NotAMessageReason } from './message-check.ts';
export { didLearn, parseReply, parseSpamHeader, parseSymbols, parseHeaderBlock, type LearnClass, type SpamdCommand, type SpamdReply } from './protocol.ts';
