/** Milliseconds, on whichever Clock is in use (wall or virtual). */
export type Millis = number;
/** A replica's identity as the Balancer and the policies know it (the VM name, e.g. `web-1`). */
export type BackendId = string;
