/** The gateway: HTTP and WebSocket on PORT (and job workers with WORKER=1). `npm start`. */
import { runMain } from './app/bootstrap';

runMain('gateway');
