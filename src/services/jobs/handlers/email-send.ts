/**
 * email.send {to, subject, body}: one message through the configured transport, once per job.
 * A customer may only mail their own address (else the gateway is a spam relay); admins may mail
 * anyone; the service's own jobs are not held to it.
 */
import { AppError, ErrorCode, badInput, fieldSummary } from '../../../util/errors';
import { normalizeEmail } from '../../sessions/user.service';
import type { Services } from '../../container';
import type { JobHandler, JobRequester } from '../job-handler';
import { mailSecretRef, type MailSecretRef } from '../mail-secret';

export interface EmailSendData {
  to: string;
  subject: string;
  body: string;
  /** Internal senders only (a password reset): a sealed secret put into the body at delivery; see mail-secret.ts. */
  secret?: MailSecretRef;
}

// One mailbox, no display name, no header-breaking characters.
const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

function field(data: Record<string, unknown>, name: 'to' | 'subject' | 'body', max: number, problems: Record<string, string[]>): string {
  const v = data[name];
  if (typeof v !== 'string') problems[`data.${name}`] = ['must be a string'];
  else if (v.length > max) problems[`data.${name}`] = [`must be at most ${max} characters`];
  return typeof v === 'string' ? v : '';
}

/** FORBIDDEN unless the requester may mail `to`: compared as account addresses are stored (NFKC, lower case). */
function checkRecipient(to: string, requester: JobRequester): void {
  if (requester.kind === 'internal' || requester.admin || normalizeEmail(to) === normalizeEmail(requester.email)) return;
  throw new AppError(ErrorCode.FORBIDDEN, 'email.send may only go to your own address', { fields: { 'data.to': ['must be your own address'] } });
}

export const emailSend: JobHandler<EmailSendData, Services> = {
  type: 'email.send',
  validate(raw, _services, requester) {
    const data = raw as Record<string, unknown>;
    const problems: Record<string, string[]> = {};
    // NFKC first, as account addresses are stored: a compatibility form (e.g. fullwidth) of an address is that address.
    const to = field(data, 'to', 254, problems).normalize('NFKC').trim();
    const subject = field(data, 'subject', 200, problems);
    const body = field(data, 'body', 100_000, problems);
    if (!problems['data.to'] && !ADDRESS.test(to)) problems['data.to'] = ['must be a valid email address'];
    if (!problems['data.subject'] && /[\r\n]/.test(subject)) problems['data.subject'] = ['must be one line'];
    if (Object.keys(problems).length) throw badInput(`Invalid email.send data: ${fieldSummary(problems)}`, problems);
    checkRecipient(to, requester);
    // A client's `secret` is dropped: only the service seals secrets, and only it may have one put in.
    if (requester.kind === 'internal' && data.secret !== undefined) {
      const secret = mailSecretRef(data.secret);
      if (!secret) throw badInput('Invalid email.send data: data.secret is not a sealed secret', { 'data.secret': ['is not a sealed secret'] });
      return { to, subject, body, secret };
    }
    return { to, subject, body };
  },
  async run(job, services) {
    const delivery = await services.mail.send(job.id, job.data);
    await job.updateProgress(100);
    return { ...delivery };
  },
};
