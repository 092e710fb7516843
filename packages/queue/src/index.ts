export type { EnqueueInput, QueuedMessage, QueueHold, QueueWriter, RecipientInfo } from './types.ts';
export {
  DEFAULT_RETENTION_MS,
  openQuarantine,
  type ActionOptions as QuarantineActionOptions,
  type ActionResult as QuarantineActionResult,
  type HeldEntry,
  type HeldMessage,
  type Learner,
  type Quarantine,
  type QuarantineOptions,
} from './quarantine.ts';
export { escapeControls, htmlToText, messagePreview, type MessagePreview } from './preview.ts';
export { deliveryAddress, queueRecipients } from './final-recipient.ts';
export { DKIM_META_KEY, DKIM_SIGN, maySign } from './signable.ts';
export { openQueueReader, assertSpool, type QueueReader } from './reader.ts';
export { DEFAULT_QUEUE_DIR, queueList, queueFlush, queueHold, queueRelease, queueDelete, type QueueAdminOptions } from './admin.ts';
export { openDraft, isSpooled, spooledLength, type Draft, type SpooledMessage } from './draft.ts';
export { HOST_TAG, pidAlive, sweepTmp, tmpName, writerOf } from './tmp-files.ts';
export { openQueue, STATES, type Queue, type QueueEntry, type QueueOptions, type QueueState, type Claimed } from './spool.ts';
export { startDelivery, type DeliveryOptions, type DeliveryRunner } from './runner.ts';
export { type Clock, systemClock } from './clock.ts';
export { QueueError, QueueErrorCodes, type QueueErrorCode } from './errors.ts';
export { buildDsn, type DsnInput } from './dsn.ts';
export { decode as decodeQueueFile, type Envelope, type HoldRecord, type RecipientRecord } from './record.ts';
export { createTransport, type TransportConfig } from './transports/index.ts';
export { maildirTransport, type MaildirOptions } from './transports/maildir.ts';
export { nextHopTransport, parseNextHop, type NextHopOptions } from './transports/smtp.ts';
export { nextHopOf } from './transports/next-hop.ts';
export { createRouter, type NextHopRouter, type RouterOptions } from './transports/router.ts';
export { errorTransport } from './transports/error.ts';
export { retryTransport } from './transports/retry.ts';
export { discardTransport } from './transports/discard.ts';
export { relayTransport, dnsMxResolver, type MxResolver, type MxRecord, type RelayOptions } from './transports/relay.ts';
export { closeCachedSessions, smtpSend, type SmtpSendOptions, type SmtpSendResult } from './transports/smtp-client.ts';
export type { DomainTlsPolicy, NextHopTlsPolicy, OutboundTlsPolicy, TlsOutcomeFailure, TlsRequirement } from './transports/tls-requirement.ts';
export type { Transport, DeliveryRequest, RecipientResult, DeliveryStatus } from './transports/types.ts';
export { startDeliveryThread, type DeliveryThread, type DeliveryWorkerData, type DkimKeyRef } from './delivery-thread.ts';
