/** The workload's actors: fixed pools of products, shoppers, guests, buyers and visitors, and the pool they are taken from. */

export const PASSWORD = 'soak-password-42';

// Fixed pools: sessions, carts, journeys and uniques stay bounded, so what grows is what the design retains.
export const PRODUCTS = 40;
export const CART_USERS = 100;
export const GUESTS = 100;
export const BUYERS = 150;
export const LOGIN_USERS = 20;
export const VISITORS = 500;
export const PAGES = 30;
export const STOCK = 1_000_000_000;
export const price = (i: number): number => 100 + i * 37;
export const productId = (i: number): string => `soak-${String(i).padStart(2, '0')}`;

export interface Cart {
  token: string;
  id: string;
  /** What the cart holds, as this client believes; null after an error, until a cart read resynchronises it. */
  model: Map<number, number> | null;
  busy: boolean;
}

/** Round-robin over actors of which each runs one operation at a time, so a cart's model stays exact. */
export class Pool<T extends { busy: boolean }> {
  private next = 0;
  constructor(readonly items: T[]) {}
  take(): T | undefined {
    for (let i = 0; i < this.items.length; i++) {
      const it = this.items[(this.next + i) % this.items.length];
      if (!it.busy) {
        this.next = (this.next + i + 1) % this.items.length;
        it.busy = true;
        return it;
      }
    }
    return undefined;
  }
  release(it: T): void {
    it.busy = false;
  }
  /** Still taken: nothing says when a request the client gave up on will run, so this actor's state is unknowable. */
  retire(): void {
    this.retired++;
  }
  retired = 0;
}
