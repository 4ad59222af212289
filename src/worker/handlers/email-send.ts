/** email.send {to, subject, body}: one message through the configured transport, once per job. */
import { badInput, fieldSummary } from '../../errors';
import type { JobHandler } from '../handler';

export interface EmailSendData {
  to: string;
  subject: string;
  body: string;
}

// One mailbox, no display name, no header-breaking characters.
const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

function field(data: Record<string, unknown>, name: keyof EmailSendData, max: number, problems: Record<string, string[]>): string {
  const v = data[name];
  if (typeof v !== 'string') problems[`data.${name}`] = ['must be a string'];
  else if (v.length > max) problems[`data.${name}`] = [`must be at most ${max} characters`];
  return typeof v === 'string' ? v : '';
}

export const emailSend: JobHandler<EmailSendData> = {
  type: 'email.send',
  validate(raw) {
    const data = raw as Record<string, unknown>;
    const problems: Record<string, string[]> = {};
    const to = field(data, 'to', 254, problems).trim();
    const subject = field(data, 'subject', 200, problems);
    const body = field(data, 'body', 100_000, problems);
    if (!problems['data.to'] && !ADDRESS.test(to)) problems['data.to'] = ['must be a valid email address'];
    if (!problems['data.subject'] && /[\r\n]/.test(subject)) problems['data.subject'] = ['must be one line'];
    if (Object.keys(problems).length) throw badInput(`Invalid email.send data: ${fieldSummary(problems)}`, problems);
    return { to, subject, body };
  },
  async run(job, services) {
    const delivery = await services.mail.send(job.id, job.data);
    await job.updateProgress(100);
    return { ...delivery };
  },
};
