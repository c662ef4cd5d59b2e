import { behaviourMatrix } from '../shared/test/matrix.ts';

behaviourMatrix({ part: 'part2-epoll-style' });
