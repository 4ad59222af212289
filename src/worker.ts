/** The standalone worker: the gateway's modules without HTTP, running jobs. `npm run worker`. */
import { runMain } from './app/bootstrap';

runMain('worker');
