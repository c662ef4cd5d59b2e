/** The behaviour matrix (shared/test/matrix.ts) against part 4, with its own bad command lines. */
import { behaviourMatrix } from '../../shared/test/matrix.ts';
import { PART } from './support.ts';

behaviourMatrix({
  part: 'part4-balancing',
  // This folder, or a step's copy of it (npm run test:steps).
  folder: PART,
  badArgs: [
    ['70000', '127.0.0.1:8888'],
    ['8000'],
    ['8000', '127.0.0.1', '8888'],
    ['8000', '127.0.0.1:99999'],
    ['--config'],
    ['--bogus', '127.0.0.1:8888'],
  ],
});
