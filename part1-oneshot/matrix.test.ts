import { behaviourMatrix } from '../shared/test/matrix.ts';

behaviourMatrix({ part: 'part1-oneshot' });
