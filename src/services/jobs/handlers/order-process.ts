/**
 * `order.process` (internal: enqueued by checkout, never by clients): moves the
 * order PENDING -> PROCESSING -> COMPLETED, or FAILED with its stock released.
 * Running it again for the same order changes nothing twice.
 */
import { badInput } from '../../../util/errors';
import { ORDER_PROCESS_JOB } from '../../commerce/order.service';
import type { Services } from '../../container';
import type { JobHandler } from '../job-handler';

export interface OrderProcessData {
  orderId: string;
}

export const orderProcessHandler: JobHandler<OrderProcessData, Services> = {
  type: ORDER_PROCESS_JOB,
  internal: true,
  validate(data) {
    const orderId = (data as Partial<OrderProcessData> | null)?.orderId;
    if (typeof orderId !== 'string' || !/^[0-9a-f]{32}$/.test(orderId)) throw badInput('order.process needs an order id', { orderId: ['must be an order id'] });
    return { orderId };
  },
  async run(job, services) {
    const order = await services.orders.process(job.data.orderId, (p) => job.updateProgress(p));
    return { orderId: order.id, status: order.status };
  },
  async recover(services) {
    // An order PENDING for a minute has no job: its checkout's hand-off to the queue was lost.
    await services.orders.requeueStale(services.config.jobs.orderRequeueAfterMs);
  },
  async onExhausted(job, error, services) {
    // Every attempt failed on passing errors: the order must not stay PROCESSING holding stock.
    await services.orders.fail(job.data.orderId, `processing failed: ${error.message}`);
  },
};

export default orderProcessHandler;
