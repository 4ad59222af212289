/** An order's status (its own file: the domain events describe orders too, and order.service writes them). */
export type OrderStatus = 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
