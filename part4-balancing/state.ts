/**
 * The running state of the balancer, in one place: everything that changes
 * while it runs. proxy.ts makes the one there is, and hands it to the code
 * that needs it (serve.ts's listen()); no module reads it from a global.
 //> 4.3
 * A reload swaps `config`, `pools` and `listeners`; a client takes its
 * listener's pool when it is accepted and keeps it to the end, so a reload
 * never moves an open connection.
 //< 4.3
 *
 * What it leaves out: anything that must survive a restart. Counters start at
 * zero with the process, as nginx's do.
 */
import type net from 'node:net';
import type { Config, ListenerConfig } from './config.ts';
import type { FleetRoutes } from './fleet/fleet.ts'; //> 4.7
import { EventCounts } from './log.ts';
import type { Pool } from './pools/pool.ts';
import type { Routing } from './route.ts';

/** One listening socket and what its clients get. */
export interface Listener {
  config: ListenerConfig;
  /**
   * Its routing of the moment (route.ts).
   //> 4.3
   * A reload replaces them; clients accepted keep theirs.
   //< 4.3
   */
  routing: Routing;
  server: net.Server;
  /** The real port (the kernel's pick when the configuration says 0). */
  port: number;
  /** Its clients open right now (for its maxConnections). */
  open: number; //> 4.3
  /** Its clients since start, refused ones included (chapter 6's /metrics). */
  accepted: number; //> 4.6
}

export class RunningState {
  /** The configuration in force (the file's, with the command line's overrides). */
  config!: Config;
  pools = new Map<string, Pool>();
  listeners: Listener[] = [];
  /** Fleet mode: the routes from Redis and their pools. */
  fleet: FleetRoutes | undefined; //> 4.7
  /** Every client socket from accept until both it and its backend socket are closed. */
  clientSockets = new Set<net.Socket>(); //> 4.3
  /** Clients open right now per client address (for maxConnectionsPerClient). */
  openPerAddress = new Map<string, number>(); //> 4.3
  /** Per-connection events, counted and summed up in the log (log.ts). */
  readonly events = new EventCounts({
    reset: 'connections ended by a reset or another error',
    idle: 'idle connections closed',
    //> 4.3
    processLimit: 'clients refused over the process maxConnections',
    listenerLimit: "clients refused over a listener's maxConnections",
    clientLimit: 'clients refused over maxConnectionsPerClient',
    //< 4.3
    noBackend: 'clients refused because no backend accepted',
    noAnswer: 'clients answered 504 or closed: their backend sent no first byte in time', //> 4.2
    shortage: "connects failed for want of the proxy's own descriptors or buffers",
    //> 4.4
    badHead: 'HTTP clients answered 400, 408, 414 or 431',
    badHello: 'TLS clients closed: not TLS, malformed, too long or too slow',
    //< 4.4
    noRoute: 'clients whose name no route serves (404 or a close)',
    badProxy: 'connections closed: no valid PROXY header from a trusted address', //> 4.4
    //> 4.8
    routerError: 'clients answered 500 or closed: their router failed or decided amiss',
    routerTimeout: 'clients answered 500 or closed: their router did not decide in time',
    routerReject: 'clients their router rejected',
    routerRestart: 'router threads stopped and started again (stuck, or they died)',
    //< 4.8
  });
  //> 4.3
  /** Set by SIGTERM: no new clients, and the process exits when the last one is done. */
  stopping = false;
  reloadedAt: Date | undefined;
  //< 4.3
  readonly startedAt = new Date();
}
